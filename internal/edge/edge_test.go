package edge_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/edge"
	"github.com/vaktmfa/vakt/internal/edge/edgetest"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
	"github.com/vaktmfa/vakt/internal/tokens"
)

const (
	tenant = "uio.no"
	iss    = "https://mfa.uio.no"
)

var (
	now   = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	key   = edgetest.NewKey(1)
	other = edgetest.NewKey(2) // not in the key set
)

// config is the configuration most tests use.
func config(t testing.TB, jwks []byte, edit func(map[string]any)) []byte {
	t.Helper()
	c := map[string]any{
		"tenant": tenant,
		"issuer": iss,
		"jwks":   json.RawMessage(jwks),
		"routes": []any{
			map[string]any{"prefix": "/static/", "public": true},
			map[string]any{"prefix": "/admin/", "acr": "high", "maxAge": "15m"},
			map[string]any{"prefix": "/pay/", "methods": []string{"POST"}, "acr": "substantial", "maxAge": 300},
			map[string]any{"prefix": "/pay/", "acr": "low"},
		},
		"token":  map[string]any{"cookie": "vakt_session"},
		"stepUp": map[string]any{"url": "https://mfa.uio.no/step-up?lang=nb", "returnOrigin": "https://app.uio.no", "apiPrefixes": []string{"/api/"}},
	}
	if edit != nil {
		edit(c)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func guard(t testing.TB, edit func(map[string]any)) *edge.Guard {
	t.Helper()
	g, err := edge.Compile(config(t, edgetest.JWKS(key), edit))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// claims are those of a good token, signed now, authenticated 5 minutes ago
// at substantial.
func claims() edgetest.Claims {
	return edgetest.Claims{
		"iss": iss, "sub": "ola@uio.no", "tid": tenant, "acr": "substantial", "amr": []string{"otp"},
		"auth_time": now.Add(-5 * time.Minute).Unix(), "iat": now.Add(-5 * time.Minute).Unix(),
		"exp": now.Add(55 * time.Minute).Unix(), "jti": "0190a3e0-0000-7000-8000-000000000001", "app": "web",
	}
}

func with(c edgetest.Claims, kv ...any) edgetest.Claims {
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func bearer(tok string) edge.Request {
	return edge.Request{Method: "GET", URI: "/pay/x", Authorization: "Bearer " + tok, Accept: "application/json"}
}

func TestTokens(t *testing.T) {
	pub := key.Priv.Public().(ed25519.PublicKey)
	good := key.Sign(claims())
	cases := []struct {
		name   string
		tok    string
		reason edge.Reason
	}{
		{"good", good, edge.ReasonOK},
		{"alg none", edgetest.Unsigned(key.Kid, claims()), edge.ReasonBadAlg},
		{"alg none with the real signature", strings.TrimSuffix(edgetest.Unsigned(key.Kid, claims()), ".") + good[strings.LastIndexByte(good, '.'):], edge.ReasonBadAlg},
		{"HS256 keyed with the public key", edgetest.HS256(key.Kid, pub, claims()), edge.ReasonBadAlg},
		{"RS256 header", key.SignHeader(map[string]any{"alg": "RS256", "kid": key.Kid}, claims()), edge.ReasonBadAlg},
		{"EdDSA in another case", key.SignHeader(map[string]any{"alg": "eddsa", "kid": key.Kid}, claims()), edge.ReasonBadAlg},
		{"unknown kid", other.Sign(claims()), edge.ReasonUnknownKey},
		{"no kid", key.SignHeader(map[string]any{"alg": "EdDSA"}, claims()), edge.ReasonUnknownKey},
		{"another key under our kid", other.SignHeader(map[string]any{"alg": "EdDSA", "kid": key.Kid}, claims()), edge.ReasonBadSignature},
		{"forged signature", edgetest.Tamper(good), edge.ReasonBadSignature},
		{"truncated signature", good[:len(good)-4], edge.ReasonBadSignature},
		{"no signature", good[:strings.LastIndexByte(good, '.')+1], edge.ReasonBadSignature},
		{"payload swapped", strings.Replace(good, strings.Split(good, ".")[1], edgetest.Encode(with(claims(), "acr", "high")), 1), edge.ReasonBadSignature},
		{"crit header", key.SignHeader(map[string]any{"alg": "EdDSA", "kid": key.Kid, "crit": []string{"exp"}}, claims()), edge.ReasonMalformed},
		{"padded base64", strings.Replace(good, ".", "=.", 1), edge.ReasonMalformed},
		{"garbage", "not-a-token", edge.ReasonMalformed},
		{"four parts", good + ".x", edge.ReasonMalformed},
		{"huge", strings.Repeat("a", 9000) + ".b.c", edge.ReasonMalformed},
		{"payload not JSON", key.SignHeader(map[string]any{"alg": "EdDSA", "kid": key.Kid}, nil), edge.ReasonMissingClaim},
		{"no sub", key.Sign(with(claims(), "sub", nil)), edge.ReasonMissingClaim},
		{"no tid", key.Sign(with(claims(), "tid", nil)), edge.ReasonMissingClaim},
		{"no exp", key.Sign(with(claims(), "exp", nil)), edge.ReasonMissingClaim},
		{"no iat", key.Sign(with(claims(), "iat", nil)), edge.ReasonMissingClaim},
		{"expired", key.Sign(with(claims(), "exp", now.Add(-31*time.Second).Unix())), edge.ReasonExpired},
		{"expired within leeway", key.Sign(with(claims(), "exp", now.Add(-29*time.Second).Unix())), edge.ReasonOK},
		{"issued in the future", key.Sign(with(claims(), "iat", now.Add(time.Minute).Unix())), edge.ReasonNotYetValid},
		{"not before", key.Sign(with(claims(), "nbf", now.Add(time.Minute).Unix())), edge.ReasonNotYetValid},
		{"wrong issuer", key.Sign(with(claims(), "iss", "https://evil.example")), edge.ReasonWrongIssuer},
		{"wrong tenant", key.Sign(with(claims(), "tid", "ntnu.no")), edge.ReasonWrongTenant},
		{"acr unknown", key.Sign(with(claims(), "acr", "urn:x")), edge.ReasonACRTooLow},
		{"no acr", key.Sign(with(claims(), "acr", nil)), edge.ReasonACRTooLow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := guard(t, nil)
			d := g.Check(bearer(c.tok), now)
			if d.Reason != c.reason || d.Allow != (c.reason == edge.ReasonOK) {
				t.Fatalf("decision %+v, want reason %s", d, c.reason)
			}
			if d.Allow {
				if d.Claims == nil || d.Claims.Subject != "ola@uio.no" || d.Claims.KeyID != key.Kid {
					t.Fatalf("claims %+v", d.Claims)
				}
				return
			}
			if d.Status != 401 || d.Claims != nil || d.Location != "" {
				t.Fatalf("decision %+v, want a 401", d)
			}
			if strings.Contains(d.WWWAuthenticate, c.tok) || strings.Contains(d.WWWAuthenticate, "eyJ") {
				t.Fatalf("the challenge carries the token: %s", d.WWWAuthenticate)
			}
			want := `Bearer realm="vakt", error="invalid_token", error_description="` + string(c.reason) + `"`
			if c.reason == edge.ReasonACRTooLow {
				want = `Bearer realm="vakt", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="low substantial high"`
			}
			if d.WWWAuthenticate != want {
				t.Fatalf("WWW-Authenticate\n got %s\nwant %s", d.WWWAuthenticate, want)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	g := guard(t, nil)
	good := key.Sign(claims())
	old := key.Sign(with(claims(), "auth_time", now.Add(-20*time.Minute).Unix()))
	high := key.Sign(with(claims(), "acr", "high"))
	noAuthTime := key.Sign(with(claims(), "acr", "high", "auth_time", nil))
	cases := []struct {
		name          string
		req           edge.Request
		reason        edge.Reason
		status        int
		location, www string
	}{
		{"public", edge.Request{Method: "GET", URI: "/static/app.js"}, edge.ReasonPublic, 0, "", ""},
		{"public, bad token ignored", edge.Request{Method: "GET", URI: "/static/app.js", Authorization: "Bearer x"}, edge.ReasonPublic, 0, "", ""},
		{"default needs a token", edge.Request{Method: "GET", URI: "/", Accept: "*/*"}, edge.ReasonNoToken, 401, "", `Bearer realm="vakt"`},
		{"default takes any acr", edge.Request{Method: "GET", URI: "/home", Authorization: "Bearer " + key.Sign(with(claims(), "acr", nil))}, edge.ReasonOK, 0, "", ""},
		{"browser without a token", edge.Request{Method: "GET", URI: "/admin/users?q=a b&x=é", Accept: "text/html,application/xhtml+xml;q=0.9"}, edge.ReasonNoToken, 302,
			"https://mfa.uio.no/step-up?lang=nb&max_age=900&required_acr=high&return_to=https%3A%2F%2Fapp.uio.no%2Fadmin%2Fusers%3Fq%3Da+b%26x%3D%C3%A9&tenant=uio.no", ""},
		{"browser POST gets 303", edge.Request{Method: "POST", URI: "/pay/1", Accept: "text/html"}, edge.ReasonNoToken, 303,
			"https://mfa.uio.no/step-up?lang=nb&max_age=300&required_acr=substantial&return_to=https%3A%2F%2Fapp.uio.no%2Fpay%2F1&tenant=uio.no", ""},
		{"API prefix never redirects", edge.Request{Method: "GET", URI: "/api/admin", Accept: "text/html"}, edge.ReasonNoToken, 401, "", `Bearer realm="vakt"`},
		{"acr too low, browser", edge.Request{Method: "GET", URI: "/admin/", Cookie: "a=b; vakt_session=" + good, Accept: "text/html"}, edge.ReasonACRTooLow, 302,
			"https://mfa.uio.no/step-up?lang=nb&max_age=900&required_acr=high&return_to=https%3A%2F%2Fapp.uio.no%2Fadmin%2F&tenant=uio.no", ""},
		{"acr too low, API", edge.Request{Method: "GET", URI: "/admin/x", Authorization: "bearer " + good}, edge.ReasonACRTooLow, 401, "",
			`Bearer realm="vakt", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="high", max_age="900"`},
		{"high passes admin", edge.Request{Method: "GET", URI: "/admin/x", Authorization: "Bearer " + high}, edge.ReasonOK, 0, "", ""},
		{"too old, API", edge.Request{Method: "POST", URI: "/pay/1", Authorization: "Bearer " + old}, edge.ReasonTooOld, 401, "",
			`Bearer realm="vakt", error="insufficient_user_authentication", error_description="More recent authentication is required", acr_values="substantial high", max_age="300"`},
		{"too old is fine for GET", edge.Request{Method: "GET", URI: "/pay/1", Authorization: "Bearer " + old}, edge.ReasonOK, 0, "", ""},
		{"no auth_time with maxAge", edge.Request{Method: "GET", URI: "/admin/", Authorization: "Bearer " + noAuthTime}, edge.ReasonNoAuthTime, 401, "",
			`Bearer realm="vakt", error="insufficient_user_authentication", error_description="More recent authentication is required", acr_values="high", max_age="900"`},
		{"dot segments", edge.Request{Method: "GET", URI: "/static/../admin/x", Authorization: "Bearer " + good}, edge.ReasonACRTooLow, 401, "",
			`Bearer realm="vakt", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="high", max_age="900"`},
		{"encoded", edge.Request{Method: "GET", URI: "/%61dmin/x", Authorization: "Bearer " + good}, edge.ReasonACRTooLow, 401, "",
			`Bearer realm="vakt", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="high", max_age="900"`},
		{"double slash", edge.Request{Method: "GET", URI: "//admin/x", Authorization: "Bearer " + good}, edge.ReasonACRTooLow, 401, "",
			`Bearer realm="vakt", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="high", max_age="900"`},
		{"bad escape", edge.Request{Method: "GET", URI: "/admin/%zz"}, edge.ReasonBadPath, 400, "", ""},
		{"backslash", edge.Request{Method: "GET", URI: "/static/..%5cadmin"}, edge.ReasonBadPath, 400, "", ""},
		{"absolute target cannot steer return_to", edge.Request{Method: "GET", URI: "//evil.example/x", Accept: "text/html"}, edge.ReasonNoToken, 302,
			"https://mfa.uio.no/step-up?lang=nb&return_to=https%3A%2F%2Fapp.uio.no%2F&tenant=uio.no", ""},
		{"bearer before cookie", edge.Request{Method: "GET", URI: "/admin/", Authorization: "Bearer " + high, Cookie: "vakt_session=" + good}, edge.ReasonOK, 0, "", ""},
		{"basic auth is no token", edge.Request{Method: "GET", URI: "/x", Authorization: "Basic b2xhOnB3"}, edge.ReasonNoToken, 401, "", `Bearer realm="vakt"`},
		{"quoted cookie", edge.Request{Method: "GET", URI: "/admin/", Cookie: `vakt_session="` + high + `"`}, edge.ReasonOK, 0, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := g.Check(c.req, now)
			if d.Reason != c.reason || d.Status != c.status || d.Location != c.location || d.WWWAuthenticate != c.www {
				t.Fatalf("decision %+v\nwant reason %s status %d\nlocation %s\nwww %s", d, c.reason, c.status, c.location, c.www)
			}
			if c.location != "" {
				u, err := url.Parse(d.Location)
				if err != nil || u.Query().Get("return_to") == "" {
					t.Fatalf("location %q does not parse back: %v", d.Location, err)
				}
			}
		})
	}
}

func TestCache(t *testing.T) {
	g := guard(t, func(c map[string]any) { c["cacheSize"] = 2 })
	tok := key.Sign(claims())
	if d := g.Check(bearer(tok), now); !d.Allow || d.Cached {
		t.Fatalf("first check %+v", d)
	}
	if d := g.Check(bearer(tok), now); !d.Allow || !d.Cached {
		t.Fatalf("second check %+v, want cached", d)
	}
	// A cached token is still checked against the time and the route.
	if d := g.Check(bearer(tok), now.Add(56*time.Minute)); d.Allow || d.Reason != edge.ReasonExpired {
		t.Fatalf("after expiry %+v", d)
	}
	if d := g.Check(edge.Request{Method: "GET", URI: "/admin/", Authorization: "Bearer " + tok}, now); d.Allow || d.Reason != edge.ReasonACRTooLow {
		t.Fatalf("cached token on a stricter route %+v", d)
	}
	// A forged token never enters the cache, even after its genuine twin.
	if d := g.Check(bearer(edgetest.Tamper(tok)), now); d.Reason != edge.ReasonBadSignature {
		t.Fatalf("forged %+v", d)
	}
	// The cached token's signature under other claims, or another header,
	// finds the entry but not its signed part: verified, and refused.
	parts := strings.Split(tok, ".")
	for _, forged := range []string{
		parts[0] + "." + edgetest.Encode(with(claims(), "acr", "high")) + "." + parts[2],
		edgetest.Encode(map[string]any{"alg": "EdDSA", "kid": key.Kid}) + "." + parts[1] + "." + parts[2],
		parts[0] + "." + parts[1] + "x." + parts[2],
	} {
		if d := g.Check(bearer(forged), now); d.Allow || d.Cached || d.Reason != edge.ReasonBadSignature && d.Reason != edge.ReasonMalformed {
			t.Fatalf("cached signature on another token %+v", d)
		}
	}
	if d := g.Check(bearer(tok), now); !d.Allow || !d.Cached {
		t.Fatalf("the genuine token after the forgeries %+v, want cached", d)
	}
	// Bounded: two more tokens push the first out.
	for i := range 2 {
		if d := g.Check(bearer(key.Sign(with(claims(), "jti", string(rune('a'+i))))), now); !d.Allow {
			t.Fatal(d)
		}
	}
	if d := g.Check(bearer(tok), now); !d.Allow || d.Cached {
		t.Fatalf("evicted token %+v, want verified again", d)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name, want string
		edit       func(map[string]any)
	}{
		{"no tenant", "no tenant", func(c map[string]any) { delete(c, "tenant") }},
		{"tenant with space", "tenant", func(c map[string]any) { c["tenant"] = "a b" }},
		{"no issuer", "no issuer", func(c map[string]any) { delete(c, "issuer") }},
		{"no jwks", "no jwks", func(c map[string]any) { delete(c, "jwks") }},
		{"empty jwks", "no keys", func(c map[string]any) { c["jwks"] = map[string]any{"keys": []any{}} }},
		{"rsa key", "only Ed25519", func(c map[string]any) {
			c["jwks"] = map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "a", "n": "x", "e": "AQAB"}}}
		}},
		{"short x", "x is not", func(c map[string]any) {
			c["jwks"] = map[string]any{"keys": []any{map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "AAAA"}}}
		}},
		{"unknown field", "unknown field", func(c map[string]any) { c["tennant"] = "x" }},
		{"unknown acr", "routes[1].acr", func(c map[string]any) { c["routes"].([]any)[1].(map[string]any)["acr"] = "medium" }},
		{"bad maxAge", "not a duration", func(c map[string]any) { c["routes"].([]any)[1].(map[string]any)["maxAge"] = "soon" }},
		{"public with acr", "public route", func(c map[string]any) { c["routes"].([]any)[0].(map[string]any)["acr"] = "low" }},
		{"relative prefix", "routes[0].prefix", func(c map[string]any) { c["routes"].([]any)[0].(map[string]any)["prefix"] = "static" }},
		{"duplicate route", "another route", func(c map[string]any) { c["routes"] = append(c["routes"].([]any), map[string]any{"prefix": "/admin/"}) }},
		{"bad method", "not an HTTP method", func(c map[string]any) { c["routes"].([]any)[2].(map[string]any)["methods"] = []string{"P OST"} }},
		{"step-up javascript", "stepUp.url", func(c map[string]any) { c["stepUp"].(map[string]any)["url"] = "javascript:alert(1)" }},
		{"step-up scheme-relative", "stepUp.url", func(c map[string]any) { c["stepUp"].(map[string]any)["url"] = "//evil.example/x" }},
		{"return origin with path", "returnOrigin", func(c map[string]any) { c["stepUp"].(map[string]any)["returnOrigin"] = "https://a.example/x" }},
		{"cookie source without name", "token.cookie", func(c map[string]any) { c["token"] = map[string]any{"from": []string{"cookie"}} }},
		{"bad leeway", "leeway", func(c map[string]any) { c["leeway"] = "1h" }},
		{"bad cache size", "cacheSize", func(c map[string]any) { c["cacheSize"] = -1 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := edge.Compile(config(t, edgetest.JWKS(key), c.edit))
			if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want invalid_argument naming %q", err, c.want)
			}
		})
	}
	for _, bad := range []string{"", "   ", "{", "[]", `{"tenant":"a"} {}`} {
		if _, err := edge.Compile([]byte(bad)); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
			t.Errorf("Compile(%q) = %v, want invalid_argument", bad, err)
		}
	}
}

func TestConfigForms(t *testing.T) {
	// Traefik hands label values over as strings, and an operator may paste
	// the JWKS document as a string.
	g := guard(t, func(c map[string]any) {
		c["jwks"] = string(edgetest.JWKS(key))
		c["routes"] = []any{map[string]any{"prefix": "/", "public": "true"}}
		c["leeway"] = "60"
	})
	if d := g.Check(edge.Request{Method: "GET", URI: "/"}, now); d.Reason != edge.ReasonPublic {
		t.Fatal(d)
	}
}

// TestIssuerTokens checks the guard against tokens made by internal/tokens,
// the code vakt serve signs with, and against its JWKS document.
func TestIssuerTokens(t *testing.T) {
	n := natstest.Start(t)
	clk := now
	master := make([]byte, tokens.MasterKeySize)
	is, err := tokens.Open(context.Background(), n.JetStream, master, tokens.Options{Issuer: iss, Now: func() time.Time { return clk }})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	sign := func(acr string, authTime time.Time) string {
		tok, err := is.Sign(tokens.Claims{Subject: "ola", Tenant: tenant, ACR: acr, AMR: []string{"otp"}, AuthTime: authTime, App: "web", ChallengeID: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	g, err := edge.Compile(config(t, is.JWKS(), nil))
	if err != nil {
		t.Fatal(err)
	}
	high := sign("high", now.Add(-time.Minute))
	d := g.Check(edge.Request{Method: "GET", URI: "/admin/", Authorization: "Bearer " + high}, now)
	if !d.Allow || d.Claims.Subject != "ola" || d.Claims.ACR != "high" || d.Claims.AuthTime != now.Add(-time.Minute).Unix() || d.Claims.ExpiresAt != now.Add(tokens.DefaultTTL).Unix() {
		t.Fatalf("decision %+v claims %+v", d, d.Claims)
	}
	if v, err := is.Verify(high); err != nil || v.KeyID != d.Claims.KeyID {
		t.Fatalf("tokens.Verify %+v %v: the guard and the issuer disagree on the key", v, err)
	}
	if d := g.Check(edge.Request{Method: "GET", URI: "/admin/", Authorization: "Bearer " + sign("substantial", now)}, now); d.Reason != edge.ReasonACRTooLow {
		t.Fatal(d)
	}
	if d := g.Check(edge.Request{Method: "GET", URI: "/admin/", Authorization: "Bearer " + high}, now.Add(tokens.DefaultTTL+tokens.Leeway)); d.Reason != edge.ReasonExpired {
		t.Fatal(d)
	}
}

func TestNeverAllowsWithoutKey(t *testing.T) {
	// Every request must have a verified token unless its route is public,
	// whatever the path, method or headers.
	g := guard(t, nil)
	for _, uri := range []string{"/", "/admin", "/admin/", "/pay/x", "/api/", "/static", "/STATIC/x", "/static/%2e%2e/admin"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			d := g.Check(edge.Request{Method: m, URI: uri, Authorization: "Bearer " + other.Sign(claims())}, now)
			if d.Allow && d.Reason != edge.ReasonPublic {
				t.Errorf("%s %s passed: %+v", m, uri, d)
			}
			if d.Allow && uri != "/static" && !strings.HasPrefix(uri, "/static/") { // "/static/" covers /static itself
				t.Errorf("%s %s passed as public: %+v", m, uri, d)
			}
		}
	}
}

func FuzzCheck(f *testing.F) {
	g := guard(f, nil)
	good := key.Sign(claims())
	f.Add("/admin/", good)
	f.Add("/pay/x", edgetest.Tamper(good))
	f.Add("/%zz", "a.b.c")
	f.Fuzz(func(t *testing.T, uri, tok string) {
		d := g.Check(edge.Request{Method: "GET", URI: uri, Authorization: "Bearer " + tok, Accept: "text/html"}, now)
		if d.Allow && d.Reason == edge.ReasonOK && tok != good && strings.TrimSpace(tok) != good {
			// Only good itself verifies: any other string would be a forgery.
			t.Fatalf("token %q passed: %+v", tok, d)
		}
		if len(tok) > 8 && !strings.Contains(uri, tok) && (strings.Contains(d.Location, tok) || strings.Contains(d.WWWAuthenticate, tok)) {
			t.Fatalf("the answer carries the token: %+v", d)
		}
	})
}
