package main

// The harness of the scenario tests: Vakt served over real HTTP by the app
// that `vakt serve` runs, on an embedded NATS server with JetStream on a
// temporary directory, with a clock the tests move and a delivery sink that
// records the codes sent by SMS and e-mail.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pquerna/otp"

	"github.com/vaktmfa/vakt/events"
	vaktapp "github.com/vaktmfa/vakt/internal/app"
	"github.com/vaktmfa/vakt/internal/apptest"
)

// served is one running `vakt serve` (the app behind it).
type served struct {
	t     *testing.T
	app   *vaktapp.App
	url   string
	admin string
	clock *apptest.Clock
	box   *apptest.Outbox
	data  string
	logs  *apptest.SyncBuffer
}

// serveForTest serves Vakt for a test; opts change the app's configuration
// before it opens. The server logs at debug level into s.logs.
func serveForTest(t *testing.T, opts ...func(*vaktapp.Config)) *served {
	t.Helper()
	s := &served{t: t, clock: &apptest.Clock{}, box: &apptest.Outbox{}, data: t.TempDir(), logs: &apptest.SyncBuffer{}}
	cfg := vaktapp.Config{
		DataDir: s.data, NoSync: true, Now: s.clock.Now, Deliverer: s.box,
		Logger: slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if onWASM(t) {
		cfg.Engine = "wasm"
	}
	s.app, s.url = apptest.Serve(t, cfg, opts...)
	if onWASM(t) && s.app.Stack.Service.Decider == nil {
		t.Fatal("the wasm engine is not deciding")
	}
	if !s.app.AdminKeyCreated {
		t.Fatal("a new data directory did not make an admin key")
	}
	s.admin = s.app.AdminKey
	return s
}

// apiReply is a decoded answer.
type apiReply struct {
	status int
	body   []byte
	m      map[string]any
}

func (r apiReply) str(key string) string {
	v, _ := r.m[key].(string)
	return v
}

func (r apiReply) errCode() string {
	e, _ := r.m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r apiReply) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// do calls the API. body is JSON-encoded unless it is a string or []byte
// (sent as is); key is the bearer ("" for none).
func (s *served) do(method, path, key string, body any, headers ...string) apiReply {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := apiReply{status: resp.StatusCode, body: b}
	if len(b) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &r.m); err != nil {
			s.t.Fatalf("%s %s: the answer is not a JSON object: %v: %s", method, path, err, b)
		}
	}
	return r
}

// must calls the API and fails the test unless the status is want.
func (s *served) must(want int, method, path, key string, body any, headers ...string) apiReply {
	s.t.Helper()
	r := s.do(method, path, key, body, headers...)
	if r.status != want {
		s.t.Fatalf("%s %s: got %s, want %d", method, path, r, want)
	}
	return r
}

// refused calls the API and fails the test unless it answers status with
// the error code.
func (s *served) refused(status int, code, method, path, key string, body any, headers ...string) apiReply {
	s.t.Helper()
	r := s.do(method, path, key, body, headers...)
	if r.status != status || r.errCode() != code {
		s.t.Fatalf("%s %s: got %s, want %d %s", method, path, r, status, code)
	}
	return r
}

// key makes an API key of scope for tenant with the admin key.
func (s *served) key(scope, tenant string) string {
	s.t.Helper()
	r := s.must(http.StatusCreated, "POST", "/v1/keys", s.admin, map[string]any{"scope": scope, "tenant": tenant, "label": scope + " for tests"})
	k := r.str("key")
	if k == "" || r.str("id") == "" {
		s.t.Fatalf("no key in %s", r)
	}
	return k
}

// userPath is /v1/tenants/{t}/users/{u} with both escaped.
func userPath(tenant, user string) string {
	return "/v1/tenants/" + url.PathEscape(tenant) + "/users/" + url.PathEscape(user)
}

func challengePath(tenant, id string) string {
	return "/v1/tenants/" + url.PathEscape(tenant) + "/challenges/" + url.PathEscape(id)
}

// types returns the event types of a user's stream, in order, read from the
// store itself.
func (s *served) types(tenant, user string) []string {
	s.t.Helper()
	recs, err := s.app.Stack.Store.Load(context.Background(), events.Stream{Tenant: tenant, User: user}, events.Head{})
	if err != nil {
		s.t.Fatal(err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Type
	}
	return out
}

// records returns a user's stored events.
func (s *served) records(tenant, user string) []events.Record {
	s.t.Helper()
	recs, err := s.app.Stack.Store.Load(context.Background(), events.Stream{Tenant: tenant, User: user}, events.Head{})
	if err != nil {
		s.t.Fatal(err)
	}
	return recs
}

// wantTail fails unless the user's stream ends with the event types want.
func (s *served) wantTail(tenant, user string, want ...string) {
	s.t.Helper()
	got := s.types(tenant, user)
	if len(got) < len(want) || !slices.Equal(got[len(got)-len(want):], want) {
		s.t.Fatalf("the stream of %s/%s is %v; want it to end with %v", tenant, user, got, want)
	}
}

// eventually retries f until it returns "" (or 10 s have passed, and then
// fails with f's last complaint): for read models, which follow the stream.
func (s *served) eventually(f func() string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after 10s: %s", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// info reads a user's security info (the read model) as JSON.
func (s *served) info(key, tenant, user string) map[string]any {
	s.t.Helper()
	r := s.do("GET", userPath(tenant, user), key, nil)
	if r.status != http.StatusOK {
		return nil
	}
	return r.m
}

// infoWhere waits until the user's security info satisfies ok.
func (s *served) infoWhere(key, tenant, user, what string, ok func(m map[string]any) bool) map[string]any {
	s.t.Helper()
	var last map[string]any
	s.eventually(func() string {
		last = s.info(key, tenant, user)
		if last != nil && ok(last) {
			return ""
		}
		b, _ := json.Marshal(last)
		return fmt.Sprintf("the security info of %s/%s never showed %s: %s", tenant, user, what, b)
	})
	return last
}

// statsWhere waits until the tenant's statistics (a read model) satisfy ok;
// num reads a number at a dotted path ("challenges_by_outcome.succeeded").
func (s *served) statsWhere(tenant, what string, ok func(num func(path string) float64) bool) {
	s.t.Helper()
	var last apiReply
	s.eventually(func() string {
		last = s.must(http.StatusOK, "GET", "/v1/tenants/"+url.PathEscape(tenant)+"/stats", s.admin, nil)
		num := func(path string) float64 {
			var v any = last.m
			for _, k := range strings.Split(path, ".") {
				m, _ := v.(map[string]any)
				v = m[k]
			}
			f, _ := v.(float64)
			return f
		}
		if ok(num) {
			return ""
		}
		return fmt.Sprintf("the statistics of %s never showed %s: %s", tenant, what, last)
	})
}

// authenticatorsIn returns the security info's authenticators as id -> status.
func authenticatorsIn(m map[string]any) map[string]string {
	out := map[string]string{}
	list, _ := m["authenticators"].([]any)
	for _, a := range list {
		am, _ := a.(map[string]any)
		id, _ := am["id"].(string)
		st, _ := am["status"].(string)
		out[id] = st
	}
	return out
}

// timeline reads a user's audit timeline and returns the entries' types.
func (s *served) timeline(key, tenant, user string) []string {
	s.t.Helper()
	r := s.must(http.StatusOK, "GET", userPath(tenant, user)+"/events", key, nil)
	list, _ := r.m["events"].([]any)
	var out []string
	for _, e := range list {
		em, _ := e.(map[string]any)
		typ, _ := em["type"].(string)
		out = append(out, typ)
	}
	return out
}

// ---- TOTP ------------------------------------------------------------------

// totpKey reads the secret of an otpauth URI.
func totpKey(t *testing.T, uri string) *otp.Key {
	t.Helper()
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatalf("otpauth uri %q: %v", uri, err)
	}
	return k
}

// code is the TOTP code of k at the server's time.
func (s *served) code(k *otp.Key) string {
	s.t.Helper()
	return apptest.TOTP(s.t, k.Secret(), s.clock.Now())
}

// nextStep moves the clock to the start of the next 30-second step, so that
// a new code may be used (a code is accepted once per step).
func (s *served) nextStep() {
	now := s.clock.Now()
	next := now.Truncate(30 * time.Second).Add(30 * time.Second)
	s.clock.Advance(next.Sub(now) + time.Second)
}

// enrolTOTP enrols and confirms a TOTP authenticator and returns its id and key.
func (s *served) enrolTOTP(key, tenant, user, label string) (string, *otp.Key) {
	s.t.Helper()
	r := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/authenticators", key, map[string]any{"method": "totp", "label": label})
	id := r.str("authenticator_id")
	k := totpKey(s.t, r.str("otpauth_uri"))
	s.nextStep()
	c := s.must(http.StatusOK, "POST", userPath(tenant, user)+"/authenticators/"+id+"/confirm", key, map[string]any{"code": s.code(k)})
	if c.str("status") != "active" {
		s.t.Fatalf("confirm: %s", c)
	}
	s.nextStep()
	return id, k
}

// ---- session tokens ------------------------------------------------------------

// checkToken verifies a session token with the keys at /.well-known/jwks.json
// and returns its claims.
func (s *served) checkToken(tok, tenant, user string) jwt.MapClaims {
	s.t.Helper()
	r := s.must(http.StatusOK, "GET", "/.well-known/jwks.json", "", nil)
	var set struct {
		Keys []struct {
			Kty, Crv, X, Kid, Alg string
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil {
		s.t.Fatal(err)
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" {
			s.t.Fatalf("jwks: unexpected key %+v", k)
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil {
			s.t.Fatal(err)
		}
		keys[k.Kid] = x
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer(s.url), jwt.WithTimeFunc(s.clock.Now)).
		ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
			kid, _ := t.Header["kid"].(string)
			k, ok := keys[kid]
			if !ok {
				return nil, fmt.Errorf("kid %q is not in the jwks", kid)
			}
			return k, nil
		})
	if err != nil {
		s.t.Fatalf("session token: %v", err)
	}
	for _, c := range []string{"sub", "tid", "acr", "amr", "auth_time", "iat", "exp", "jti"} {
		if _, ok := claims[c]; !ok && !(c == "acr" && claims["amr"] != nil) {
			s.t.Errorf("the session token has no %q: %v", c, claims)
		}
	}
	if claims["sub"] != user || claims["tid"] != tenant {
		s.t.Errorf("the token is for %v/%v, want %s/%s", claims["tid"], claims["sub"], tenant, user)
	}
	return claims
}

// amr returns a token's amr claim.
func amr(c jwt.MapClaims) []string {
	list, _ := c["amr"].([]any)
	var out []string
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// ---- vakt device ------------------------------------------------------------

// device runs `vakt device` in-process and returns its output.
func runDevice(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"device"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// deviceKeyFile is a fresh key path in a private directory.
func deviceKeyFile(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "device")
	return filepath.Join(dir, "key.json")
}
