//go:build !wasip1

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/http-wasm/http-wasm-host-go/api"
	"github.com/http-wasm/http-wasm-host-go/handler"
	wasm "github.com/http-wasm/http-wasm-host-go/handler/nethttp"
	"github.com/tetratelabs/wazero"

	"github.com/vaktmfa/vakt/internal/edge/edgetest"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
	"github.com/vaktmfa/vakt/internal/tokens"
)

const (
	tenant = "uio.no"
	iss    = "https://mfa.uio.no"
)

var (
	buildOnce sync.Once
	guestWasm []byte
	buildErr  error
)

// guest builds the module once per test binary, as `just wasm-edge` does.
func guest(t testing.TB) []byte {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vakt-edge")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "vakt-edge.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err: err, out: string(msg)}
			return
		}
		guestWasm, buildErr = os.ReadFile(out)
	})
	if buildErr != nil {
		t.Fatalf("build the guest: %v", buildErr)
	}
	return guestWasm
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// compiled keeps the compiled guest for every middleware of the test
// binary, as Traefik's compilation cache does: compiling takes seconds
// under the race detector.
var compiled = wazero.NewCompilationCache()

func newRuntime(ctx context.Context) (wazero.Runtime, error) {
	return wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(compiled)), nil
}

// moduleConfig is what a host must give a Go reactor: _initialize as the
// start function and the real clock (Traefik does both).
func moduleConfig(stderr io.Writer) wazero.ModuleConfig {
	return wazero.NewModuleConfig().WithStartFunctions("_start", "_initialize").WithSysWalltime().WithSysNanotime().WithStderr(stderr)
}

// logger records what the guest logs.
type logger struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logger) IsEnabled(api.LogLevel) bool { return true }
func (l *logger) Log(_ context.Context, level api.LogLevel, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.WriteString(msg + "\n")
}
func (l *logger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func edgeConfig(t testing.TB, jwks []byte) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"tenant": tenant,
		"issuer": iss,
		"jwks":   json.RawMessage(jwks),
		"routes": []any{
			map[string]any{"prefix": "/static/", "public": true},
			map[string]any{"prefix": "/admin/", "acr": "high", "maxAge": "15m"},
		},
		"token":  map[string]any{"cookie": "vakt_session"},
		"stepUp": map[string]any{"url": "https://mfa.uio.no/step-up", "returnOrigin": "https://app.uio.no", "apiPrefixes": []string{"/api/"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// backend answers with the X-Vakt-* headers it received.
var backend = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	seen := map[string][]string{}
	for k, v := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-vakt-") {
			seen[k] = v
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(seen)
})

// serve wraps the backend with the guest in http-wasm-host-go.
func serve(t testing.TB, config []byte, log *logger) http.Handler {
	t.Helper()
	return serveNext(t, config, log, backend)
}

func serveNext(t testing.TB, config []byte, log *logger, next http.Handler) http.Handler {
	t.Helper()
	ctx := context.Background()
	var stderr bytes.Buffer
	opts := []handler.Option{handler.GuestConfig(config), handler.ModuleConfig(moduleConfig(&stderr)), handler.Runtime(newRuntime)}
	if log != nil {
		opts = append(opts, handler.Logger(log))
	}
	mw, err := wasm.NewMiddleware(ctx, guest(t), opts...)
	if err != nil {
		t.Fatalf("start the guest: %v\n%s", err, stderr.String())
	}
	t.Cleanup(func() { mw.Close(ctx) })
	return mw.NewHandler(ctx, next)
}

// issuer mints tokens with internal/tokens, as vakt serve does, on a clock
// the test moves.
type issuer struct {
	*tokens.Issuer
	mu  sync.Mutex
	now time.Time
}

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	n := natstest.Start(t)
	is := &issuer{now: time.Now()}
	i, err := tokens.Open(context.Background(), n.JetStream, make([]byte, tokens.MasterKeySize), tokens.Options{Issuer: iss, Now: is.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { i.Close() })
	is.Issuer = i
	return is
}

func (is *issuer) clock() time.Time {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.now
}

// sign issues a token at time at (the real now + shift) for tenant tid.
func (is *issuer) sign(t testing.TB, shift time.Duration, tid, acr string, authAgo time.Duration) string {
	t.Helper()
	is.mu.Lock()
	is.now = time.Now().Add(shift)
	auth := is.now.Add(-authAgo)
	is.mu.Unlock()
	defer func() { is.mu.Lock(); is.now = time.Now(); is.mu.Unlock() }()
	tok, err := is.Sign(tokens.Claims{Subject: "ola@uio.no", Tenant: tid, ACR: acr, AMR: []string{"otp", "hwk"}, AuthTime: auth, App: "web", ChallengeID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type req struct {
	method, path, auth, cookie, accept string
	extra                              map[string]string
}

func do(h http.Handler, r req) *httptest.ResponseRecorder {
	hr := httptest.NewRequest(r.method, r.path, nil)
	if r.auth != "" {
		hr.Header.Set("Authorization", r.auth)
	}
	if r.cookie != "" {
		hr.Header.Set("Cookie", r.cookie)
	}
	if r.accept != "" {
		hr.Header.Set("Accept", r.accept)
	}
	for k, v := range r.extra {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hr)
	return w
}

const browser = "text/html,application/xhtml+xml,*/*;q=0.8"

func TestGuest(t *testing.T) {
	is := newIssuer(t)
	high := is.sign(t, 0, tenant, "high", time.Minute)
	substantial := is.sign(t, 0, tenant, "substantial", time.Minute)
	old := is.sign(t, 0, tenant, "high", 20*time.Minute)
	otherTenant := is.sign(t, 0, "ntnu.no", "high", time.Minute)
	expired := is.sign(t, -2*time.Hour, tenant, "high", time.Minute)
	future := is.sign(t, 10*time.Minute, tenant, "high", time.Minute)
	log := &logger{}
	h := serve(t, edgeConfig(t, is.JWKS()), log)
	stranger := edgetest.NewKey(9)
	claims := edgetest.Claims{"iss": iss, "sub": "eve", "tid": tenant, "acr": "high", "auth_time": time.Now().Unix(), "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	var hdr struct{ Kid string } // the kid of the real key
	if b, err := base64.RawURLEncoding.DecodeString(strings.Split(high, ".")[0]); err != nil || json.Unmarshal(b, &hdr) != nil {
		t.Fatalf("header of a real token: %v", err)
	}
	step := func(acr, maxAge, path string) string {
		q := url.Values{"return_to": {"https://app.uio.no" + path}, "tenant": {tenant}}
		if acr != "" {
			q.Set("required_acr", acr)
		}
		if maxAge != "" {
			q.Set("max_age", maxAge)
		}
		return "https://mfa.uio.no/step-up?" + q.Encode()
	}
	cases := []struct {
		name     string
		r        req
		status   int
		location string
		www      string
		claims   map[string][]string
	}{
		{"no token, browser", req{method: "GET", path: "/admin/users?x=1&y=a%20b", accept: browser}, 302, step("high", "900", "/admin/users?x=1&y=a%20b"), "", nil},
		{"no token, API", req{method: "GET", path: "/admin/users", accept: "application/json"}, 401, "", `Bearer realm="vakt"`, nil},
		{"no token, API prefix", req{method: "GET", path: "/api/x", accept: browser}, 401, "", `Bearer realm="vakt"`, nil},
		{"good token passes with claims", req{method: "GET", path: "/admin/users", auth: "Bearer " + high}, 200, "", "", map[string][]string{
			"X-Vakt-Sub": {"ola@uio.no"}, "X-Vakt-Tenant": {tenant}, "X-Vakt-Acr": {"high"}, "X-Vakt-Amr": {"otp hwk"},
			"X-Vakt-Auth-Time": {""}, // checked below
		}},
		{"good token in a cookie", req{method: "GET", path: "/admin/", cookie: "theme=dark; vakt_session=" + high}, 200, "", "", nil},
		{"spoofed claim headers are stripped", req{method: "GET", path: "/home", auth: "Bearer " + substantial, extra: map[string]string{"X-Vakt-Acr": "high", "X-Vakt-Sub": "root", "x-vakt-admin": "1"}}, 200, "", "", map[string][]string{
			"X-Vakt-Sub": {"ola@uio.no"}, "X-Vakt-Tenant": {tenant}, "X-Vakt-Acr": {"substantial"}, "X-Vakt-Amr": {"otp hwk"}, "X-Vakt-Auth-Time": {""},
		}},
		{"spoofed headers stripped on a public route", req{method: "GET", path: "/static/a.css", extra: map[string]string{"X-Vakt-Sub": "root"}}, 200, "", "", map[string][]string{}},
		{"acr too low, browser", req{method: "GET", path: "/admin/", auth: "Bearer " + substantial, accept: browser}, 302, step("high", "900", "/admin/"), "", nil},
		{"acr too low, API", req{method: "GET", path: "/admin/", auth: "Bearer " + substantial}, 401, "",
			`Bearer realm="vakt", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="high", max_age="900"`, nil},
		{"too old, browser", req{method: "POST", path: "/admin/delete", auth: "Bearer " + old, accept: browser}, 303, step("high", "900", "/admin/delete"), "", nil},
		{"too old, API", req{method: "GET", path: "/admin/", auth: "Bearer " + old}, 401, "",
			`Bearer realm="vakt", error="insufficient_user_authentication", error_description="More recent authentication is required", acr_values="high", max_age="900"`, nil},
		{"wrong tenant", req{method: "GET", path: "/home", auth: "Bearer " + otherTenant}, 401, "", `Bearer realm="vakt", error="invalid_token", error_description="wrong_tenant"`, nil},
		{"expired", req{method: "GET", path: "/home", auth: "Bearer " + expired}, 401, "", `Bearer realm="vakt", error="invalid_token", error_description="expired"`, nil},
		{"issued in the future", req{method: "GET", path: "/home", auth: "Bearer " + future}, 401, "", `Bearer realm="vakt", error="invalid_token", error_description="not_yet_valid"`, nil},
		{"forged signature", req{method: "GET", path: "/home", auth: "Bearer " + edgetest.Tamper(high)}, 401, "", `Bearer realm="vakt", error="invalid_token", error_description="bad_signature"`, nil},
		{"alg none", req{method: "GET", path: "/home", auth: "Bearer " + edgetest.Unsigned(hdr.Kid, claims)}, 401, "", `Bearer realm="vakt", error="invalid_token", error_description="bad_alg"`, nil},
		{"another key under the real kid", req{method: "GET", path: "/home", auth: "Bearer " + stranger.SignHeader(map[string]any{"alg": "EdDSA", "kid": hdr.Kid}, claims)}, 401, "",
			`Bearer realm="vakt", error="invalid_token", error_description="bad_signature"`, nil},
		{"unknown kid", req{method: "GET", path: "/home", auth: "Bearer " + stranger.Sign(claims)}, 401, "", `Bearer realm="vakt", error="invalid_token", error_description="unknown_kid"`, nil},
		{"garbage", req{method: "GET", path: "/home", auth: "Bearer ]]]garbage[[["}, 401, "", `Bearer realm="vakt", error="invalid_token", error_description="malformed"`, nil},
		{"garbage, browser", req{method: "GET", path: "/home", cookie: "vakt_session=%%%", accept: browser}, 302, step("", "", "/home"), "", nil},
		{"public route", req{method: "GET", path: "/static/app.js"}, 200, "", "", map[string][]string{}},
		{"dot segments do not escape a route", req{method: "GET", path: "/static/../admin/", auth: "Bearer " + substantial}, 401, "",
			`Bearer realm="vakt", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="high", max_age="900"`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := do(h, c.r)
			if w.Code != c.status || w.Header().Get("Location") != c.location || w.Header().Get("WWW-Authenticate") != c.www {
				t.Fatalf("status %d location %q www %q body %q\nwant %d %q %q", w.Code, w.Header().Get("Location"), w.Header().Get("WWW-Authenticate"), w.Body.String(), c.status, c.location, c.www)
			}
			if c.status != 200 {
				if w.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("a refusal without Cache-Control: no-store: %v", w.Header())
				}
				if strings.Contains(w.Body.String(), "X-Vakt") || strings.HasPrefix(w.Body.String(), "{") {
					t.Errorf("the backend answered a refused request: %s", w.Body.String())
				}
				return
			}
			if c.claims == nil {
				return
			}
			var got map[string][]string
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("backend answer %q: %v", w.Body.String(), err)
			}
			if at, ok := got["X-Vakt-Auth-Time"]; ok && len(at) == 1 && at[0] != "" {
				got["X-Vakt-Auth-Time"] = []string{""} // a time; its value is checked in TestGuestAuthTime
			}
			if !equal(got, c.claims) {
				t.Fatalf("backend saw %v, want %v", got, c.claims)
			}
		})
	}
	logs := log.String()
	for _, tok := range []string{high, substantial, expired} {
		if strings.Contains(logs, tok) || strings.Contains(logs, strings.Split(tok, ".")[2]) {
			t.Fatal("a token reached the log")
		}
	}
	for _, want := range []string{"vakt-edge: refused reason=acr_too_low", "vakt-edge: allowed reason=ok", "reason=no_token"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestGuestAuthTime(t *testing.T) {
	key := edgetest.NewKey(3)
	now := time.Now()
	h := serve(t, edgeConfig(t, edgetest.JWKS(key)), nil)
	tok := key.Sign(edgetest.Claims{"iss": iss, "sub": "kari", "tid": tenant, "acr": "high", "auth_time": now.Unix() - 42, "iat": now.Unix(), "exp": now.Unix() + 60})
	w := do(h, req{method: "GET", path: "/admin/", auth: "Bearer " + tok})
	var got map[string][]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
		t.Fatalf("%d %s %v", w.Code, w.Body, err)
	}
	if want := []string{strconv.FormatInt(now.Unix()-42, 10)}; !equal(map[string][]string{"a": got["X-Vakt-Auth-Time"]}, map[string][]string{"a": want}) || got["X-Vakt-Sub"][0] != "kari" {
		t.Fatalf("claims %v, want auth time %v", got, want)
	}
}

func TestGuestRefusesBadConfig(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ name, config, want string }{
		{"empty", "", "edge config: empty"},
		{"not JSON", "tenant: uio.no", "not valid JSON"},
		{"no keys", `{"tenant":"uio.no","issuer":"` + iss + `","jwks":{"keys":[]},"routes":[]}`, "jwks has no keys"},
		{"bad acr", string(bytes.Replace(edgeConfig(t, edgetest.JWKS(edgetest.NewKey(1))), []byte(`"high"`), []byte(`"max"`), 1)), `routes[1].acr "max"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			log := &logger{}
			_, err := wasm.NewMiddleware(ctx, guest(t), handler.GuestConfig([]byte(c.config)), handler.ModuleConfig(moduleConfig(&stderr)), handler.Logger(log), handler.Runtime(newRuntime))
			if err == nil {
				t.Fatal("the guest started with a bad config")
			}
			if !strings.Contains(stderr.String(), "vakt-edge: refusing to start: invalid_argument: edge config: ") || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("stderr %q, want %q", stderr.String(), c.want)
			}
			if !strings.Contains(log.String(), c.want) {
				t.Fatalf("host log %q, want %q", log.String(), c.want)
			}
		})
	}
	t.Run("fake clock", func(t *testing.T) {
		var stderr bytes.Buffer
		cfg := wazero.NewModuleConfig().WithStartFunctions("_initialize").WithStderr(&stderr) // no WithSysWalltime
		_, err := wasm.NewMiddleware(ctx, guest(t), handler.GuestConfig(edgeConfig(t, edgetest.JWKS(edgetest.NewKey(1)))), handler.ModuleConfig(cfg), handler.Runtime(newRuntime))
		if err == nil || !strings.Contains(stderr.String(), "WithSysWalltime") {
			t.Fatalf("err %v stderr %q", err, stderr.String())
		}
	})
}

func equal(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || strings.Join(v, "\x00") != strings.Join(w, "\x00") {
			return false
		}
	}
	return true
}

// Headers sent more than once: every Cookie and Accept value counts, the
// first Authorization wins, and every X-Vakt-* header goes, in any case.
func TestGuestHeaderLists(t *testing.T) {
	key := edgetest.NewKey(4)
	now := time.Now()
	h := serve(t, edgeConfig(t, edgetest.JWKS(key)), nil)
	tok := key.Sign(edgetest.Claims{"iss": iss, "sub": "kari", "tid": tenant, "acr": "high", "amr": []string{"otp"}, "auth_time": now.Unix(), "iat": now.Unix(), "exp": now.Unix() + 60})
	send := func(headers [][2]string) *httptest.ResponseRecorder {
		hr := httptest.NewRequest("GET", "/admin/", nil)
		for _, kv := range headers {
			hr.Header.Add(kv[0], kv[1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, hr)
		return w
	}
	if w := send([][2]string{{"Cookie", "theme=dark"}, {"Cookie", "vakt_session=" + tok}}); w.Code != 200 {
		t.Errorf("token in the second Cookie header: %d %s", w.Code, w.Body)
	}
	if w := send([][2]string{{"Accept", "application/json"}, {"Accept", "text/html"}}); w.Code != 302 {
		t.Errorf("text/html in the second Accept header: %d", w.Code)
	}
	if w := send([][2]string{{"Authorization", "Bearer " + tok}, {"Authorization", "Bearer x.y.z"}}); w.Code != 200 {
		t.Errorf("good token in the first Authorization header: %d %s", w.Code, w.Body)
	}
	if w := send([][2]string{{"Authorization", "Bearer x.y.z"}, {"Authorization", "Bearer " + tok}}); w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), "malformed") {
		t.Errorf("bad token in the first Authorization header: %d %v", w.Code, w.Header())
	}
	w := send([][2]string{{"Authorization", "Bearer " + tok}, {"x-VAKT-acr", "root"}, {"X-Vakt-Admin", "1"}, {"X-Vakt-Admin", "2"}, {"X-VAKT-", "3"}, {"X-Vakt-Sub", "eve"}})
	var got map[string][]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
		t.Fatalf("%d %s %v", w.Code, w.Body, err)
	}
	want := map[string][]string{"X-Vakt-Sub": {"kari"}, "X-Vakt-Tenant": {tenant}, "X-Vakt-Acr": {"high"}, "X-Vakt-Amr": {"otp"}, "X-Vakt-Auth-Time": {strconv.FormatInt(now.Unix(), 10)}}
	if !equal(got, want) {
		t.Fatalf("backend saw %v, want %v", got, want)
	}
}
