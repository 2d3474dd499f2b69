package wazerohost_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	wazerohost "github.com/vaktmfa/vakt/hosts/wazero"
	"github.com/vaktmfa/vakt/internal/edge"
	"github.com/vaktmfa/vakt/internal/edge/edgetest"
)

// TestEdgeCheck runs the edge guard through the module and compares each
// decision with the same guard run natively.
func TestEdgeCheck(t *testing.T) {
	h := open(t, wazerohost.Config{Instances: 1})
	key := edgetest.NewKey(1)
	config, _ := json.Marshal(map[string]any{
		"tenant": "uio.no", "issuer": "https://mfa.uio.no", "jwks": json.RawMessage(edgetest.JWKS(key)),
		"routes": []any{map[string]any{"prefix": "/admin/", "acr": "high", "maxAge": "15m"}},
		"stepUp": map[string]any{"url": "https://mfa.uio.no/step-up", "returnOrigin": "https://app.uio.no"},
	})
	native, err := edge.Compile(config)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	good := key.Sign(edgetest.Claims{"iss": "https://mfa.uio.no", "sub": "ola", "tid": "uio.no", "acr": "high",
		"auth_time": now.Add(-time.Minute).Unix(), "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()})
	old := key.Sign(edgetest.Claims{"iss": "https://mfa.uio.no", "sub": "ola", "tid": "uio.no", "acr": "high",
		"auth_time": now.Add(-time.Hour).Unix(), "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()})
	for i, c := range []struct {
		req   edge.Request
		allow bool
	}{
		{edge.Request{Method: "GET", URI: "/admin/users", Authorization: "Bearer " + good}, true},
		{edge.Request{Method: "GET", URI: "/admin/users", Authorization: "Bearer " + good}, true}, // cached now
		{edge.Request{Method: "GET", URI: "/admin/users", Authorization: "Bearer " + old, Accept: "text/html"}, false},
		{edge.Request{Method: "GET", URI: "/admin/users"}, false},
		{edge.Request{Method: "GET", URI: "/admin/users", Authorization: "Bearer " + edgetest.Tamper(good)}, false},
	} {
		req, _ := json.Marshal(map[string]any{"op": "edge_check", "config": json.RawMessage(config), "request": c.req, "time": now})
		answer, err := h.Call(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(native.Check(c.req, now))
		if got := string(answer); got != `{"ok":`+string(want)+`}` {
			t.Fatalf("case %d: module %s, native %s", i, got, want)
		}
		var d edge.Decision
		json.Unmarshal(want, &d)
		if d.Allow != c.allow || i == 1 && !d.Cached {
			t.Fatalf("case %d: %s", i, want)
		}
	}
	answer, err := h.Call(context.Background(), []byte(`{"op":"edge_check","config":{"tenant":""},"request":{"method":"GET","uri":"/"},"time":"2026-11-23T09:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if errorCode(t, answer) != "invalid_argument" {
		t.Fatalf("a bad config: %s", answer)
	}
}
