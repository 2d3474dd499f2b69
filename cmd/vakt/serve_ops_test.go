package main

// Operations: logs without secrets, the development log sink, metrics,
// graceful shutdown, and `vakt serve` as a process on a data directory that
// survives a restart.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	vaktapp "github.com/vaktmfa/vakt/internal/app"
	"github.com/vaktmfa/vakt/internal/delivery"
)

func TestServeLogsHoldNoSecrets(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	hd := s.key("helpdesk", tenant)
	var secrets []string
	keep := func(what, v string) {
		if v == "" {
			t.Fatalf("no %s to look for", what)
		}
		secrets = append(secrets, v)
	}
	keep("relying party key", rp)
	keep("helpdesk key", hd)
	keep("admin key", s.admin)

	// TOTP: the enrolment secret, a code, a session token, a remember token.
	r := s.must(http.StatusCreated, "POST", userPath(tenant, "logged")+"/authenticators", rp, map[string]any{"method": "totp", "label": "Phone"})
	k := totpKey(t, r.str("otpauth_uri"))
	keep("totp secret", k.Secret())
	s.nextStep()
	code := s.code(k)
	keep("confirmation code", code)
	s.must(http.StatusOK, "POST", userPath(tenant, "logged")+"/authenticators/"+r.str("authenticator_id")+"/confirm", rp, map[string]any{"code": code})
	s.nextStep()
	ch := s.must(http.StatusCreated, "POST", userPath(tenant, "logged")+"/challenges", rp, map[string]any{"app": "web"})
	code = s.code(k)
	keep("sign-in code", code)
	ok := s.must(http.StatusOK, "POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": code, "remember_device": true})
	keep("session token", ok.str("token"))
	keep("remember token", ok.str("remember_token"))
	// A wrong code and a malformed body with a code in it.
	ch = s.must(http.StatusCreated, "POST", userPath(tenant, "logged")+"/challenges", rp, map[string]any{"app": "web"})
	s.do("POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": "271828"})
	keep("wrong code", "271828")
	s.do("POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, `{"code": "314159", "x": 1}`)
	keep("code in a bad body", "314159")
	// SMS: the phone number and the code (delivered; the log sink is not
	// used here, the webhook-like outbox is).
	r = s.must(http.StatusCreated, "POST", userPath(tenant, "logged")+"/authenticators", rp, map[string]any{"method": "sms", "label": "Mobile", "address": "+4799887766"})
	keep("phone number", "99887766")
	m := s.box.Nth(t, 1)
	keep("sms code", m.Code.Reveal())
	s.must(http.StatusOK, "POST", userPath(tenant, "logged")+"/authenticators/"+r.str("authenticator_id")+"/confirm", rp, map[string]any{"code": m.Code.Reveal()})
	// Recovery codes and a temporary pass.
	rc := s.must(http.StatusCreated, "POST", userPath(tenant, "logged")+"/recovery-codes", rp, nil)
	for _, c := range toStrings(rc.m["codes"]) {
		keep("recovery code", c)
	}
	tp := s.must(http.StatusCreated, "POST", userPath(tenant, "logged")+"/temporary-pass", hd, map[string]any{"operator": "anne", "ticket": "RT#9"})
	keep("temporary pass", tp.str("temporary_pass"))
	// A new key through the API.
	nk := s.must(http.StatusCreated, "POST", "/v1/keys", s.admin, map[string]any{"scope": "helpdesk", "tenant": tenant})
	keep("new key", nk.str("key"))

	logs := s.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("the server logged no requests: %.300s", logs)
	}
	for _, v := range secrets {
		if strings.Contains(logs, v) {
			t.Errorf("the log contains a secret (%.6s...)", v)
		}
	}
	// The user id is in no request line either: routes are logged by pattern.
	if strings.Contains(logs, "/users/logged") {
		t.Error("the log contains a raw request path")
	}
}

func TestServeDevelopmentLogSinkShowsCodes(t *testing.T) {
	s := serveForTest(t, func(c *vaktapp.Config) { c.Deliverer, c.Dev = nil, true })
	rp := s.key("relying_party", tenant)
	r := s.must(http.StatusCreated, "POST", userPath(tenant, "dev")+"/authenticators", rp, map[string]any{"method": "email", "label": "Mail", "address": "dev@example.org"})
	// In development the code is in the log, so that a developer can sign in
	// without a provider; the address is masked even then.
	re := regexp.MustCompile(`"code":"(\d{6})"`)
	var code string
	s.eventually(func() string {
		if m := re.FindStringSubmatch(s.logs.String()); m != nil {
			code = m[1]
			return ""
		}
		return "no code in the development log"
	})
	if strings.Contains(s.logs.String(), "dev@example.org") {
		t.Error("the log shows the e-mail address")
	}
	s.must(http.StatusOK, "POST", userPath(tenant, "dev")+"/authenticators/"+r.str("authenticator_id")+"/confirm", rp, map[string]any{"code": code})

	// Outside development the same sink logs that a code was due, without it.
	p := serveForTest(t, func(c *vaktapp.Config) { c.Deliverer, c.Dev = nil, false })
	rp = p.key("relying_party", tenant)
	p.must(http.StatusCreated, "POST", userPath(tenant, "prod")+"/authenticators", rp, map[string]any{"method": "sms", "label": "Mobile", "address": "+4791234567"})
	p.eventually(func() string {
		if strings.Contains(p.logs.String(), "code not delivered") {
			return ""
		}
		return "no warning that the code was not delivered"
	})
	if re.MatchString(p.logs.String()) || strings.Contains(p.logs.String(), "91234567") {
		t.Errorf("the production log shows a code or the number: %s", p.logs.String())
	}
}

func TestServeMetrics(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	_, k := s.enrolTOTP(rp, tenant, "metered", "Phone")
	ch := s.must(http.StatusCreated, "POST", userPath(tenant, "metered")+"/challenges", rp, map[string]any{"app": "web"})
	path := challengePath(tenant, ch.str("challenge_id")) + "/verify"
	for range 5 {
		s.do("POST", path, rp, map[string]any{"code": "000000"})
	}
	_ = k
	r := s.must(http.StatusOK, "GET", "/metrics", "", nil)
	text := string(r.body)
	want := map[string]func(float64) bool{
		`vakt_http_requests_total{route="POST /v1/tenants/{t}/users/{u}/challenges",code="201"}`:   func(v float64) bool { return v == 1 },
		`vakt_http_requests_total{route="POST /v1/tenants/{t}/challenges/{id}/verify",code="403"}`: func(v float64) bool { return v == 5 },
		`vakt_challenge_outcomes_total{outcome="attempt_failed"}`:                                  func(v float64) bool { return v == 5 },
		`vakt_lockouts_total`:                                func(v float64) bool { return v == 1 },
		`vakt_events_appended_total{type="user.locked_out"}`: func(v float64) bool { return v == 1 },
		`vakt_append_duration_seconds_count`:                 func(v float64) bool { return v >= 8 },
		`vakt_event_stream_position`:                         func(v float64) bool { return v >= 8 },
	}
	for series, ok := range want {
		v, found := metricValue(text, series)
		if !found || !ok(v) {
			t.Errorf("%s = %v (found %v)", series, v, found)
		}
	}
	// The group committer's counters: every append went through a commit,
	// and a commit holds at least one append.
	appends, _ := metricValue(text, "vakt_store_appends_total")
	commits, _ := metricValue(text, "vakt_store_commits_total")
	batches, found := metricValue(text, "vakt_store_batches_total")
	if !found || appends < 8 || commits < 1 || commits > appends || batches > commits {
		t.Errorf("store: %v appends in %v commits, %v of them batches:\n%s", appends, commits, batches, grepLines(text, "vakt_store"))
	}
	// The read models' lag is there for each of them, and they catch up.
	for _, name := range []string{"security_info", "challenges", "audit_trail", "tenant_stats"} {
		series := `vakt_projection_lag_events{projection="` + name + `"}`
		s.eventually(func() string {
			text := string(s.must(http.StatusOK, "GET", "/metrics", "", nil).body)
			if v, found := metricValue(text, series); !found || v != 0 {
				return fmt.Sprintf("%s did not reach 0:\n%s", series, grepLines(text, "vakt_projection"))
			}
			return ""
		})
	}
}

// metricValue finds a series' value in the text exposition format.
func metricValue(text, series string) (float64, bool) {
	for line := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func grepLines(text, s string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// Shutting down finishes the requests in flight: a long poll that started
// before gets its answer at once, and new connections are refused.
func TestServeGracefulShutdown(t *testing.T) {
	data := t.TempDir()
	os.Unsetenv("VAKT_API_KEY")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	a, err := vaktapp.Open(context.Background(), vaktapp.Config{DataDir: data, PublicURL: url, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()

	s := &served_{url: url}
	rp := s.post(t, "/v1/keys", a.AdminKey, `{"scope":"relying_party","tenant":"uio.no"}`)["key"].(string)
	s.post(t, "/v1/tenants/uio.no/users/kari/authenticators", rp, `{"method":"totp","label":"Phone"}`)
	// Kari has no active authenticator, so issue a challenge for a user who
	// has one: a temporary pass makes one without a phone.
	hd := s.post(t, "/v1/keys", a.AdminKey, `{"scope":"helpdesk","tenant":"uio.no"}`)["key"].(string)
	s.post(t, "/v1/tenants/uio.no/users/per/temporary-pass", hd, `{"operator":"anne","ticket":"RT#1"}`)
	ch := s.post(t, "/v1/tenants/uio.no/users/per/challenges", rp, `{"app":"web"}`)
	id := ch["challenge_id"].(string)

	type result struct {
		status int
		body   string
		err    error
	}
	polled := make(chan result, 1)
	started := time.Now()
	go func() {
		req, _ := http.NewRequest("GET", url+"/v1/tenants/uio.no/challenges/"+id+"?wait=30s", nil)
		req.Header.Set("Authorization", "Bearer "+rp)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			polled <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		polled <- result{status: resp.StatusCode, body: string(b)}
	}()
	time.Sleep(300 * time.Millisecond) // the poll is waiting now
	cancel()
	res := <-polled
	if res.err != nil || res.status != http.StatusOK || !strings.Contains(res.body, `"pending"`) {
		t.Fatalf("the long poll in flight at shutdown: %+v", res)
	}
	// It answered at shutdown with where the challenge stands, rather than
	// making the shutdown wait out its wait.
	if d := time.Since(started); d > 2500*time.Millisecond {
		t.Errorf("shutdown waited for the long poll (%v)", d)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("the server still answers after shutdown")
	}
}

// served_ is a bare client for tests that run their own app.
type served_ struct{ url string }

func (s *served_) post(t *testing.T, path, key, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 || json.Unmarshal(b, &m) != nil {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return m
}

// `vakt serve` as a process: it prints where it serves and the admin key
// once, answers, stops cleanly on SIGTERM, and on restart finds the same
// data and keeps the same admin key.
func TestServeCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "vakt")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(t.TempDir(), "data")
	urlRE := regexp.MustCompile(`serving the API at (http://[0-9.:]+)`)
	// start runs vakt serve and reads what it prints until it is ready:
	// the URL and, on a first start, the admin key.
	start := func() (cmd *exec.Cmd, url, key string) {
		t.Helper()
		cmd = exec.Command(bin, "serve", "--data", data, "--addr", "127.0.0.1:0")
		cmd.Env = withoutEnv(os.Environ(), "VAKT_API_KEY")
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatal("vakt serve exited before it was ready")
				}
				if m := urlRE.FindStringSubmatch(line); m != nil {
					url = m[1]
				}
				if f := strings.Fields(line); len(f) == 1 && strings.HasPrefix(f[0], "vakt_") {
					key = f[0]
				}
				if strings.HasPrefix(line, "Press Ctrl-C") {
					go func() {
						for range lines {
						}
					}()
					return cmd, url, key
				}
			case <-deadline:
				cmd.Process.Kill()
				t.Fatal("vakt serve was not ready in 30s")
			}
		}
	}
	stop := func(cmd *exec.Cmd) {
		t.Helper()
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("vakt serve after SIGTERM: %v", err)
			}
		case <-time.After(40 * time.Second):
			cmd.Process.Kill()
			t.Fatal("vakt serve did not stop on SIGTERM")
		}
	}

	cmd, url, key := start()
	if url == "" || key == "" {
		cmd.Process.Kill()
		t.Fatalf("first start: url %q, admin key printed: %v", url, key != "")
	}
	if b, err := os.ReadFile(filepath.Join(data, "admin.key")); err != nil || strings.TrimSpace(string(b)) != key {
		t.Errorf("admin.key does not hold the printed key: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(data, "admin.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.key mode: %v %v", fi.Mode(), err)
	}
	c := &served_{url: url}
	hd := c.post(t, "/v1/keys", key, `{"scope":"helpdesk","tenant":"uio.no"}`)["key"].(string)
	c.post(t, "/v1/tenants/uio.no/users/kari/temporary-pass", hd, `{"operator":"anne","ticket":"RT#1"}`)
	stop(cmd)

	// Again on the same data: no new admin key, the key made before still
	// works, and Kari's events are there.
	cmd, url, key2 := start()
	defer stop(cmd)
	if key2 != "" {
		t.Error("a restart printed a new admin key")
	}
	req, _ := http.NewRequest("GET", url+"/v1/tenants/uio.no/users/kari/events", nil)
	req.Header.Set("Authorization", "Bearer "+hd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "temporary_pass.issued") {
		t.Fatalf("after a restart: %d %s", resp.StatusCode, b)
	}
}

// withoutEnv is env without the variable name.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}

// With --webhook-url, codes go to the provider as signed JSON, retried when
// the provider fails.
func TestServeWebhookDelivery(t *testing.T) {
	secret := []byte("webhook-secret-for-tests")
	type got struct {
		body map[string]any
		ok   bool
	}
	calls := make(chan got, 8)
	failures := 1
	var mu sync.Mutex
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		ok := delivery.VerifySignature(secret, b, r.Header.Get(delivery.SignatureHeader))
		mu.Lock()
		fail := failures > 0
		failures--
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		calls <- got{m, ok}
	}))
	defer provider.Close()
	s := serveForTest(t, func(c *vaktapp.Config) {
		c.Deliverer, c.WebhookURL, c.WebhookSecret = nil, provider.URL, secret
	})
	rp := s.key("relying_party", tenant)
	r := s.must(http.StatusCreated, "POST", userPath(tenant, "hooked")+"/authenticators", rp, map[string]any{"method": "sms", "label": "Mobile", "address": "+4791234567"})
	var c got
	select {
	case c = <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("the provider got no code")
	}
	if !c.ok || c.body["address"] != "+4791234567" || c.body["purpose"] != "enrolment" || c.body["tenant"] != tenant {
		t.Fatalf("webhook call: signature ok %v, body %v", c.ok, c.body)
	}
	code, _ := c.body["code"].(string)
	s.must(http.StatusOK, "POST", userPath(tenant, "hooked")+"/authenticators/"+r.str("authenticator_id")+"/confirm", rp, map[string]any{"code": code})
	if strings.Contains(s.logs.String(), code) {
		t.Error("the delivered code is in the log")
	}
}
