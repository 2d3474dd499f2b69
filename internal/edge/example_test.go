package edge_test

import (
	"fmt"
	"time"

	"github.com/vaktmfa/vakt/internal/edge"
	"github.com/vaktmfa/vakt/internal/edge/edgetest"
)

func Example() {
	key := edgetest.NewKey(7) // stands for the key of a Vakt server
	g, err := edge.Compile([]byte(`{
		"tenant": "uio.no",
		"issuer": "https://mfa.uio.no",
		"jwks": ` + string(edgetest.JWKS(key)) + `,
		"routes": [{"prefix": "/admin/", "acr": "high", "maxAge": "15m"}],
		"stepUp": {"url": "https://mfa.uio.no/step-up", "returnOrigin": "https://app.uio.no"}
	}`))
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tok := key.Sign(edgetest.Claims{
		"iss": "https://mfa.uio.no", "sub": "ola", "tid": "uio.no", "acr": "substantial",
		"auth_time": now.Unix() - 60, "iat": now.Unix() - 60, "exp": now.Unix() + 3600,
	})

	// A browser with a substantial token is sent to step up to high.
	d := g.Check(edge.Request{Method: "GET", URI: "/admin/users", Authorization: "Bearer " + tok, Accept: "text/html"}, now)
	fmt.Println(d.Allow, d.Reason, d.Status)
	fmt.Println(d.Location)

	// An API client gets an RFC 9470 challenge.
	d = g.Check(edge.Request{Method: "GET", URI: "/admin/users", Authorization: "Bearer " + tok}, now)
	fmt.Println(d.Status, d.WWWAuthenticate)

	// Elsewhere the token is good enough.
	d = g.Check(edge.Request{Method: "GET", URI: "/home", Authorization: "Bearer " + tok}, now)
	fmt.Println(d.Allow, d.Reason, d.Claims.Subject, d.Claims.ACR)
	// Output:
	// false acr_too_low 302
	// https://mfa.uio.no/step-up?max_age=900&required_acr=high&return_to=https%3A%2F%2Fapp.uio.no%2Fadmin%2Fusers&tenant=uio.no
	// 401 Bearer realm="vakt", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="high", max_age="900"
	// true ok ola substantial
}
