package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/apptest"
	"github.com/vaktmfa/vakt/internal/push"
)

// fakeVakt is a test double of the Vakt HTTP API for one push authenticator:
// exactly the three calls `vakt device` makes, with the signatures checked
// by crypto/ed25519 over the engine's message functions. (The lead's
// scenario tests run the device against the real server.)
type fakeVakt struct {
	t   *testing.T
	srv *httptest.Server

	tenant, user, authID, code string

	offset time.Duration // how far the server's clock is ahead

	mu       sync.Mutex
	refuse   *fakeError // the answer to a confirm, if set
	confirms int        // confirm calls accepted
	pub      ed25519.PublicKey
	uv       bool
	failPoll int // answer this many polls with 503
	polls    int
	pushes   []push.Notice  // waiting for an answer
	numbers  map[string]int // the number on the login screen, by challenge
	answers  []fakeAnswer   // answers accepted
	refused  []string       // why requests were refused
}

type fakeError struct {
	status        int
	code, message string
}

type fakeAnswer struct {
	challenge, decision string
	number              int
	uv                  bool
	status              string
}

// Awkward ids, to check that they are escaped in paths and signed verbatim.
const (
	fakeTenant = "uio.no"
	fakeUser   = "ola.nordmann@uio.no"
	fakeAuth   = "auth/1 x"
	fakeCode   = "q9Xv-activation_code"
)

func newFakeVakt(t *testing.T) *fakeVakt {
	f := &fakeVakt{t: t, tenant: fakeTenant, user: fakeUser, authID: fakeAuth, code: fakeCode, numbers: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/tenants/{t}/users/{u}/authenticators/{a}/confirm", f.confirm)
	mux.HandleFunc("GET /v1/tenants/{t}/users/{u}/authenticators/{a}/pushes", f.poll)
	mux.HandleFunc("POST /v1/tenants/{t}/challenges/{c}/respond", f.respond)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f.fail(w, http.StatusNotFound, "not_found", "no such call: "+r.Method+" "+r.URL.EscapedPath())
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", f.now().UTC().Format(http.TimeFormat))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVakt) now() time.Time { return time.Now().Add(f.offset) }

func (f *fakeVakt) link() string {
	q := url.Values{"s": {f.srv.URL}, "t": {f.tenant}, "u": {f.user}, "a": {f.authID}, "c": {f.code}}
	return "vakt://activate?" + q.Encode()
}

func (f *fakeVakt) fail(w http.ResponseWriter, status int, code, message string) {
	f.mu.Lock()
	f.refused = append(f.refused, code+": "+message)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body strictly: unknown fields are a contract change.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("content type %q", ct)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (f *fakeVakt) ours(r *http.Request) bool {
	return r.PathValue("t") == f.tenant && (r.PathValue("u") == "" || r.PathValue("u") == f.user) && (r.PathValue("a") == "" || r.PathValue("a") == f.authID)
}

func (f *fakeVakt) confirm(w http.ResponseWriter, r *http.Request) {
	if !f.ours(r) {
		f.fail(w, http.StatusNotFound, "not_found", "no such authenticator")
		return
	}
	if r.Header.Get("Authorization") != "" {
		f.fail(w, http.StatusBadRequest, "invalid_argument", "confirm takes no Authorization header")
		return
	}
	var body struct {
		PublicKey        *string `json:"public_key"`
		Signature        *string `json:"signature"`
		UserVerification *bool   `json:"user_verification"`
	}
	if err := decode(r, &body); err != nil || body.PublicKey == nil || body.Signature == nil || body.UserVerification == nil {
		f.fail(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("malformed confirm body (%v)", err))
		return
	}
	pub, err1 := base64.StdEncoding.DecodeString(*body.PublicKey)
	sig, err2 := base64.StdEncoding.DecodeString(*body.Signature)
	if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize {
		f.fail(w, http.StatusBadRequest, "invalid_argument", "public_key and signature must be standard base64 of an Ed25519 key and signature")
		return
	}
	msg := engine.EnrolmentMessage(f.tenant, f.user, f.authID, f.code, pub, *body.UserVerification)
	if !ed25519.Verify(pub, msg, sig) {
		f.fail(w, http.StatusUnauthorized, "unauthorized", "the signature does not verify over the activation code")
		return
	}
	f.mu.Lock()
	refuse := f.refuse
	if refuse == nil {
		f.confirms++
		f.pub, f.uv = pub, *body.UserVerification
	}
	f.mu.Unlock()
	if refuse != nil {
		f.fail(w, refuse.status, refuse.code, refuse.message)
		return
	}
	reply(w, map[string]any{"status": "active", "authenticator_id": f.authID, "method": events.MethodPush})
}

// deviceAuth checks the signed headers of a poll.
func (f *fakeVakt) deviceAuth(r *http.Request) (string, bool) {
	unix, err := strconv.ParseInt(r.Header.Get("X-Vakt-Time"), 10, 64)
	if err != nil {
		return "X-Vakt-Time is not a Unix time", false
	}
	if d := f.now().Sub(time.Unix(unix, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return "X-Vakt-Time is too far from the server's clock", false
	}
	sig64, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Vakt-Device ")
	if !ok {
		return "Authorization must be Vakt-Device <signature>", false
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil {
		return "the signature is not standard base64", false
	}
	f.mu.Lock()
	pub := f.pub
	f.mu.Unlock()
	if pub == nil || !ed25519.Verify(pub, engine.DeviceMessage(f.tenant, f.user, f.authID, unix), sig) {
		return "the signature does not verify with this authenticator's key", false
	}
	return "", true
}

func (f *fakeVakt) poll(w http.ResponseWriter, r *http.Request) {
	if !f.ours(r) {
		f.fail(w, http.StatusNotFound, "not_found", "no such authenticator")
		return
	}
	if d, err := time.ParseDuration(r.URL.Query().Get("wait")); err != nil || d != 30*time.Second {
		f.fail(w, http.StatusBadRequest, "invalid_argument", "wait must be 30s here")
		return
	}
	if why, ok := f.deviceAuth(r); !ok {
		f.fail(w, http.StatusUnauthorized, "unauthorized", why)
		return
	}
	f.mu.Lock()
	f.polls++
	failing := f.failPoll > 0
	if failing {
		f.failPoll--
	}
	pushes := append([]push.Notice{}, f.pushes...)
	f.mu.Unlock()
	if failing {
		f.fail(w, http.StatusServiceUnavailable, "internal", "the event store is not reachable; try again")
		return
	}
	if pushes == nil {
		pushes = []push.Notice{}
	}
	reply(w, map[string]any{"pushes": pushes})
}

func (f *fakeVakt) respond(w http.ResponseWriter, r *http.Request) {
	if !f.ours(r) {
		f.fail(w, http.StatusNotFound, "not_found", "no such tenant")
		return
	}
	if r.Header.Get("Authorization") != "" {
		f.fail(w, http.StatusBadRequest, "invalid_argument", "respond takes no Authorization header")
		return
	}
	// Like vakt serve, the URL names the challenge with the user appended
	// (respond_id); the signature covers the engine's id alone.
	chID, suffix, _ := strings.Cut(r.PathValue("c"), "~")
	if suffix != base64.RawURLEncoding.EncodeToString([]byte(f.user)) {
		f.fail(w, http.StatusBadRequest, "invalid_argument", "the challenge id is not one vakt returned")
		return
	}
	var body struct {
		AuthenticatorID  *string `json:"authenticator_id"`
		Decision         *string `json:"decision"`
		Number           *int    `json:"number"`
		UserVerification *bool   `json:"user_verification"`
		Signature        *string `json:"signature"`
	}
	if err := decode(r, &body); err != nil || body.AuthenticatorID == nil || body.Decision == nil || body.Number == nil || body.UserVerification == nil || body.Signature == nil {
		f.fail(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("malformed respond body (%v)", err))
		return
	}
	if *body.AuthenticatorID != f.authID {
		f.fail(w, http.StatusUnauthorized, "unauthorized", "this challenge was not sent to this authenticator")
		return
	}
	switch {
	case *body.Decision == engine.DecisionApprove && *body.Number >= 10 && *body.Number <= 99:
	case (*body.Decision == engine.DecisionDeny || *body.Decision == engine.DecisionFraud) && *body.Number == 0:
	default:
		f.fail(w, http.StatusBadRequest, "invalid_argument", "bad decision or number")
		return
	}
	sig, err := base64.StdEncoding.DecodeString(*body.Signature)
	f.mu.Lock()
	pub := f.pub
	f.mu.Unlock()
	msg := engine.PushMessage(f.tenant, f.user, chID, f.authID, *body.Decision, *body.Number, *body.UserVerification)
	if err != nil || pub == nil || !ed25519.Verify(pub, msg, sig) {
		f.fail(w, http.StatusUnauthorized, "unauthorized", "the signature does not verify with this authenticator's key")
		return
	}
	f.mu.Lock()
	i := -1
	for j, p := range f.pushes {
		if p.ChallengeID == chID {
			i = j
		}
	}
	var p push.Notice
	if i >= 0 {
		p = f.pushes[i]
	}
	expired := i >= 0 && !f.now().Before(p.ExpiresAt)
	if i >= 0 && !expired {
		f.pushes = append(f.pushes[:i], f.pushes[i+1:]...)
	}
	f.mu.Unlock()
	switch {
	case i < 0:
		f.fail(w, http.StatusNotFound, "not_found", "no pending challenge with this id")
		return
	case expired:
		f.fail(w, http.StatusBadRequest, "expired", "the push expired; start a new sign-in or use a code")
		return
	}
	status := engine.OutcomeDenied
	switch {
	case *body.Decision == engine.DecisionApprove && *body.Number == f.numbers[chID]:
		status = engine.OutcomeSucceeded
	case *body.Decision == engine.DecisionFraud:
		status = engine.OutcomeFraud
	}
	f.mu.Lock()
	f.answers = append(f.answers, fakeAnswer{challenge: chID, decision: *body.Decision, number: *body.Number, uv: *body.UserVerification, status: status})
	f.mu.Unlock()
	reply(w, map[string]any{"status": status, "challenge_id": chID})
}

// push queues a push; the login screen shows number.
func (f *fakeVakt) push(id string, number int, choices []int, expires time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.numbers[id] = number
	f.pushes = append(f.pushes, push.Notice{PushNotice: engine.PushNotice{
		AuthenticatorID: f.authID, ChallengeID: id, App: "web", Choices: choices,
		Context:   events.Context{Application: "Canvas", IP: "192.0.2.7", Location: "Oslo, Norway", UserAgent: "Firefox on Linux"},
		ExpiresAt: expires,
	}, RespondID: id + "~" + base64.RawURLEncoding.EncodeToString([]byte(f.user))})
}

func (f *fakeVakt) state() (answers []fakeAnswer, refused []string, confirms, polls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeAnswer{}, f.answers...), append([]string{}, f.refused...), f.confirms, f.polls
}

// ---- helpers --------------------------------------------------------------------

// deviceTest isolates a test: its own home and config directory, stdin, and
// quick retries.
func deviceTest(t *testing.T, stdin io.Reader) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	saved := []any{deviceStdin, deviceRetry, devicePollFloor}
	t.Cleanup(func() {
		deviceStdin = saved[0].(io.Reader)
		deviceRetry = saved[1].(time.Duration)
		devicePollFloor = saved[2].(time.Duration)
	})
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	deviceStdin = stdin
	deviceRetry = 5 * time.Millisecond
	devicePollFloor = 5 * time.Millisecond
	return home
}

func defaultKeyPath(home string) string {
	return filepath.Join(home, ".config", "vakt", deviceKeyName(fakeAuth))
}

// enrolled enrols against f and returns the key file.
func enrolled(t *testing.T, f *fakeVakt, extra ...string) string {
	t.Helper()
	code, out, errOut := runVakt(t, append([]string{"device", "enrol", f.link()}, extra...)...)
	if code != 0 {
		t.Fatalf("enrol: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	m := regexpKeyPath(out)
	if m == "" {
		t.Fatalf("enrol did not say where the key is:\n%s", out)
	}
	return m
}

func regexpKeyPath(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "Answer sign-ins with: vakt device listen --key "); ok {
			return p
		}
	}
	return ""
}

// listen runs `vakt device listen` and fails the test if it takes too long.
func listen(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := run(append([]string{"device", "listen"}, args...), &out, &errOut)
		done <- result{code, out.String(), errOut.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.err
	case <-time.After(20 * time.Second):
		t.Fatalf("vakt device listen %v did not finish", args)
	}
	return 0, "", ""
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listenCtx runs the listener with a context the test cancels, as Ctrl-C
// does in main.
func listenCtx(ctx context.Context, o *deviceOpts) (out, errOut *apptest.SyncBuffer, done chan error) {
	out, errOut = &apptest.SyncBuffer{}, &apptest.SyncBuffer{}
	done = make(chan error, 1)
	go func() { done <- deviceListen(ctx, &cmdEnv{stdout: out, stderr: errOut}, o) }()
	return out, errOut, done
}

// ---- enrol ----------------------------------------------------------------------

func TestDeviceEnrol(t *testing.T) {
	home := deviceTest(t, nil)
	f := newFakeVakt(t)
	path := enrolled(t, f)
	if path != defaultKeyPath(home) {
		t.Errorf("key file %s, want %s", path, defaultKeyPath(home))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %04o, want 0700", di.Mode().Perm())
	}
	var k map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]any{"server": f.srv.URL, "tenant": fakeTenant, "user": fakeUser, "authenticator_id": fakeAuth, "user_verification": false} {
		if k[field] != want {
			t.Errorf("key file %s = %v, want %v", field, k[field], want)
		}
	}
	priv, err := base64.StdEncoding.DecodeString(k["private_key"].(string))
	if err != nil || len(priv) != ed25519.PrivateKeySize {
		t.Fatalf("private_key %q: %v", k["private_key"], err)
	}
	_, refused, confirms, _ := f.state()
	if confirms != 1 || len(refused) > 0 {
		t.Fatalf("confirms %d, refused %v", confirms, refused)
	}
	if !bytes.Equal(f.pub, ed25519.PrivateKey(priv).Public().(ed25519.PublicKey)) {
		t.Error("the server got another public key than the key file holds")
	}
	if f.uv {
		t.Error("user verification asserted without --uv")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the key directory holds %d files, want only the key", len(entries))
	}

	// Again to the same file: refused before the server is asked.
	code, _, errOut := runVakt(t, "device", "enrol", f.link())
	if code != 1 || !strings.Contains(errOut, "exists; give another --key, or --force") {
		t.Errorf("enrol over a key file: exit %d, stderr %q", code, errOut)
	}
	if _, _, confirms, _ := f.state(); confirms != 1 {
		t.Errorf("the server was asked again: %d confirms", confirms)
	}
	// --force replaces it; --uv is signed and stored; flags may follow the link.
	code, out, errOut := runVakt(t, "device", "enrol", f.link(), "--force", "--uv")
	if code != 0 {
		t.Fatalf("enrol --force: exit %d, %s", code, errOut)
	}
	if !f.uv || !strings.Contains(out, "asserts user verification") {
		t.Errorf("--uv: server uv %v, output:\n%s", f.uv, out)
	}
	data2, _ := os.ReadFile(path)
	if bytes.Equal(data, data2) {
		t.Error("--force kept the old key")
	}
	if !strings.Contains(string(data2), `"user_verification": true`) {
		t.Errorf("key file after --uv:\n%s", data2)
	}

	// The link on standard input (kept out of the process list).
	deviceStdin = strings.NewReader(f.link() + "\n")
	code, _, errOut = runVakt(t, "device", "enrol", "--force", "-")
	if code != 0 {
		t.Fatalf("enrol -: exit %d, %s", code, errOut)
	}

	// An explicit --key in a new directory.
	other := filepath.Join(t.TempDir(), "sub", "my.json")
	code, out, errOut = runVakt(t, "device", "enrol", "--key", other, f.link())
	if code != 0 || regexpKeyPath(out) != other {
		t.Fatalf("enrol --key: exit %d\n%s%s", code, out, errOut)
	}
}

func TestDeviceEnrolRefused(t *testing.T) {
	home := deviceTest(t, nil)
	f := newFakeVakt(t)
	f.refuse = &fakeError{status: http.StatusConflict, code: "expired", message: "the activation code expired; start the enrolment again"}
	code, out, errOut := runVakt(t, "device", "enrol", f.link())
	if code != 1 || errOut != "vakt: device: the activation code expired; start the enrolment again\n" {
		t.Fatalf("exit %d, stderr %q, stdout %q", code, errOut, out)
	}
	if entries, _ := os.ReadDir(filepath.Dir(defaultKeyPath(home))); len(entries) != 0 {
		t.Errorf("files left after a refusal: %v", entries)
	}

	// A signature over another activation code is refused by the server.
	f.refuse = nil
	f.code = "another-code"
	code, _, errOut = runVakt(t, "device", "enrol", strings.Replace(f.link(), "another-code", fakeCode, 1))
	if code != 1 || errOut != "vakt: device: the signature does not verify over the activation code\n" {
		t.Fatalf("wrong code: exit %d, stderr %q", code, errOut)
	}

	// A server that is not there.
	f.srv.Close()
	f.code = fakeCode
	code, _, errOut = runVakt(t, "device", "enrol", f.link())
	if code != 1 || !strings.Contains(errOut, "vakt: device: cannot reach "+f.srv.URL) {
		t.Fatalf("no server: exit %d, stderr %q", code, errOut)
	}
}

func TestDeviceCommandLine(t *testing.T) {
	deviceTest(t, nil)
	good := "vakt://activate?s=https%3A%2F%2Fvakt.example&t=t&u=u&a=a&c=c"
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"device"}, 2, "vakt: device: say enrol or listen"},
		{[]string{"device", "frob"}, 2, `unknown action "frob"`},
		{[]string{"device", "enrol"}, 2, "enrol takes one activation link"},
		{[]string{"device", "enrol", good, good}, 2, "enrol takes one activation link"},
		{[]string{"device", "enrol", good, "--once"}, 2, "--once is for 'vakt device listen'"},
		{[]string{"device", "listen", "--force"}, 2, "--force is for 'vakt device enrol'"},
		{[]string{"device", "listen", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"device", "listen", "--number", "42"}, 2, "--number goes with --auto approve"},
		{[]string{"device", "listen", "--auto", "deny", "--number", "42"}, 2, "--number goes with --auto approve"},
		{[]string{"device", "listen", "--auto", "approve", "--number", "7"}, 2, "two-digit"},
		{[]string{"device", "listen", "--auto", "maybe"}, 2, "use approve, deny or fraud"},
		{[]string{"device", "enrol", "https://vakt.example/activate"}, 1, "must start with vakt://activate?"},
		{[]string{"device", "enrol", "vakt://activate?s=https%3A%2F%2Fvakt.example&t=t&u=u&a=a"}, 1, "c (activation code) is missing"},
		{[]string{"device", "enrol", "vakt://activate?s=ftp%3A%2F%2Fx&t=t&u=u&a=a&c=c"}, 1, "is not an http or https address"},
		{[]string{"device", "listen"}, 1, "no device key in "},
	} {
		code, _, errOut := runVakt(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.err) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.err)
		}
	}
}

func TestParseActivation(t *testing.T) {
	a, err := parseActivation("vakt://activate?s=https%3A%2F%2Fvakt.uio.no%2Fmfa%2F&t=uio.no&u=ola%40uio.no&a=A1&c=xyz")
	if err != nil {
		t.Fatal(err)
	}
	want := activation{server: "https://vakt.uio.no/mfa", tenant: "uio.no", user: "ola@uio.no", authID: "A1", code: "xyz"}
	if a != want {
		t.Errorf("got %+v, want %+v", a, want)
	}
	if got := apiURL(a.server, "v1", "tenants", "a b", "users", "x/y"); got != "https://vakt.uio.no/mfa/v1/tenants/a%20b/users/x%2Fy" {
		t.Errorf("apiURL = %s", got)
	}
}

// ---- listen ---------------------------------------------------------------------

func TestDeviceListenAutoApprove(t *testing.T) {
	deviceTest(t, nil)
	f := newFakeVakt(t)
	key := enrolled(t, f, "--uv")
	f.push("ch-1", 42, []int{17, 42, 86}, time.Now().Add(2*time.Minute))
	code, out, errOut := listen(t, "--key", key, "--auto", "approve", "--number", "42", "--once")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "Expires in:  2m00s") && !strings.Contains(out, "Expires in:  1m59s") {
		t.Errorf("time left not shown as about 2m00s:\n%s", out)
	}
	answers, refused, _, _ := f.state()
	if want := []fakeAnswer{{challenge: "ch-1", decision: "approve", number: 42, uv: true, status: "succeeded"}}; fmt.Sprint(answers) != fmt.Sprint(want) || len(refused) > 0 {
		t.Fatalf("answers %+v, refused %v", answers, refused)
	}
	for _, s := range []string{"Application: Canvas (web)", "IP address:  192.0.2.7", "Location:    Oslo, Norway", "Browser:     Firefox on Linux", "Expires in:  ", "Numbers:     17   42   86", "approve with 42", "Approved: the sign-in goes ahead."} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}

	// Without --number: the first choice, with a warning; here it is wrong.
	f.push("ch-2", 86, []int{17, 42, 86}, time.Now().Add(2*time.Minute))
	code, out, errOut = listen(t, "--key", key, "--auto", "approve", "--once")
	if code != 0 || !strings.Contains(errOut, "for tests only") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if answers, _, _, _ := f.state(); answers[1].number != 17 || answers[1].status != "denied" {
		t.Errorf("answer %+v", answers[1])
	}
	if !strings.Contains(out, "Refused: 17 is not the number on the login screen") {
		t.Errorf("output:\n%s", out)
	}

	// --auto deny and fraud send number 0.
	for _, d := range []string{"deny", "fraud"} {
		f.push("ch-"+d, 55, []int{55, 66, 77}, time.Now().Add(time.Minute))
		if code, out, errOut := listen(t, "--key", key, "--auto", d, "--once"); code != 0 {
			t.Fatalf("--auto %s: exit %d\n%s%s", d, code, out, errOut)
		}
	}
	answers, refused, _, _ = f.state()
	if fmt.Sprint(answers[2:]) != fmt.Sprint([]fakeAnswer{{"ch-deny", "deny", 0, true, "denied"}, {"ch-fraud", "fraud", 0, true, "fraud_reported"}}) || len(refused) > 0 {
		t.Errorf("answers %+v, refused %v", answers[2:], refused)
	}
}

func TestDeviceListenInteractive(t *testing.T) {
	for _, c := range []struct {
		name, stdin string
		want        fakeAnswer
		says        string
	}{
		{"number", "42\n", fakeAnswer{"ch", "approve", 42, false, "succeeded"}, "Approved"},
		{"wrong number", "86\n", fakeAnswer{"ch", "approve", 86, false, "denied"}, "Refused: 86 is not the number"},
		{"deny", "d\n", fakeAnswer{"ch", "deny", 0, false, "denied"}, "Denied: the sign-in was refused."},
		{"fraud", "f\n", fakeAnswer{"ch", "fraud", 0, false, "fraud_reported"}, "Reported as fraud"},
		{"not a choice, then a choice", "\n99\nmaybe\n 42 \n", fakeAnswer{"ch", "approve", 42, false, "succeeded"}, `"99" is not one of the numbers shown.`},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := deviceTest(t, strings.NewReader(c.stdin))
			f := newFakeVakt(t)
			enrolled(t, f)
			f.push("ch", 42, []int{17, 42, 86}, time.Now().Add(2*time.Minute))
			// No --key: the only key in the default directory.
			code, out, errOut := listen(t, "--once")
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
			}
			answers, refused, _, _ := f.state()
			if len(answers) != 1 || answers[0] != c.want || len(refused) > 0 {
				t.Fatalf("answers %+v, refused %v, want %+v", answers, refused, c.want)
			}
			if !strings.Contains(out, devicePrompt) || !strings.Contains(out, c.says) {
				t.Errorf("output lacks the prompt or %q:\n%s", c.says, out)
			}
			_ = home
		})
	}

	t.Run("stdin closed", func(t *testing.T) {
		deviceTest(t, strings.NewReader(""))
		f := newFakeVakt(t)
		enrolled(t, f)
		f.push("ch", 42, []int{17, 42, 86}, time.Now().Add(2*time.Minute))
		code, _, errOut := listen(t, "--once")
		if code != 1 || !strings.Contains(errOut, "standard input closed before an answer; use --auto") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		if answers, _, _, _ := f.state(); len(answers) != 0 {
			t.Errorf("answered: %+v", answers)
		}
	})
}

func TestDeviceListenSkipsExpiredPushes(t *testing.T) {
	deviceTest(t, nil)
	f := newFakeVakt(t)
	key := enrolled(t, f)
	f.push("old", 42, []int{17, 42, 86}, time.Now().Add(-time.Minute))
	f.push("new", 17, []int{17, 42, 86}, time.Now().Add(time.Minute))
	code, out, errOut := listen(t, "--key", key, "--auto", "approve", "--number", "17", "--once")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	answers, refused, _, _ := f.state()
	if len(answers) != 1 || answers[0].challenge != "new" || len(refused) > 0 {
		t.Fatalf("answers %+v, refused %v", answers, refused)
	}
	if strings.Count(out, "A sign-in request to Canvas (web) expired at") != 1 {
		t.Errorf("the expired push is not reported once:\n%s", out)
	}
}

// The time a push has left is the server's: the device corrects for its
// own clock with the Date of the server's answers, but signs its own time,
// and says so when the server refuses it for that.
func TestDeviceListenClockOff(t *testing.T) {
	deviceTest(t, nil)
	f := newFakeVakt(t)
	key := enrolled(t, f)
	f.offset = 90 * time.Second
	// Expired by the server's clock, not by ours; then one with a minute left.
	f.push("gone", 42, []int{17, 42, 86}, f.now().Add(-10*time.Second))
	f.push("ch", 42, []int{17, 42, 86}, f.now().Add(time.Minute))
	code, out, errOut := listen(t, "--key", key, "--auto", "approve", "--number", "42", "--once")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "A sign-in request to Canvas (web) expired at") {
		t.Errorf("the push expired by the server's clock was shown:\n%s", out)
	}
	if !strings.Contains(out, "Expires in:  1m00s") && !strings.Contains(out, "Expires in:  59s") && !strings.Contains(out, "Expires in:  1m01s") {
		t.Errorf("time left not by the server's clock:\n%s", out)
	}
	if answers, _, _, _ := f.state(); len(answers) != 1 || answers[0].challenge != "ch" {
		t.Errorf("answers %+v", answers)
	}

	f.offset = 10 * time.Minute
	code, _, errOut = listen(t, "--key", key, "--once")
	if code != 1 || errOut != "vakt: device: X-Vakt-Time is too far from the server's clock (this computer's clock is about 10 minutes behind the server's)\n" {
		t.Errorf("clock 10 min off: exit %d, stderr %q", code, errOut)
	}
}

// A push that runs out while the person looks at the prompt is not answered,
// and an interrupt at the prompt stops the listener cleanly.
func TestDeviceListenExpiresAtThePromptAndStops(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	deviceTest(t, pr)
	f := newFakeVakt(t)
	key := enrolled(t, f)
	f.push("soon", 42, []int{17, 42, 86}, time.Now().Add(300*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, _, done := listenCtx(ctx, &deviceOpts{key: key})
	eventually(t, "the expiry", func() bool { return strings.Contains(out.String(), "The request expired before you answered") })

	f.push("later", 42, []int{17, 42, 86}, time.Now().Add(time.Minute))
	eventually(t, "the second prompt", func() bool { return strings.Count(out.String(), devicePrompt) == 2 })
	cancel() // Ctrl-C
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("interrupted listener: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the listener did not stop")
	}
	if !strings.HasSuffix(out.String(), "Stopped.\n") {
		t.Errorf("output:\n%s", out.String())
	}
	if answers, _, _, _ := f.state(); len(answers) != 0 {
		t.Errorf("answered: %+v", answers)
	}
}

func TestDeviceListenRetries(t *testing.T) {
	deviceTest(t, nil)
	f := newFakeVakt(t)
	key := enrolled(t, f)
	f.failPoll = 2
	f.push("ch", 42, []int{17, 42, 86}, time.Now().Add(time.Minute))
	code, out, errOut := listen(t, "--key", key, "--auto", "approve", "--number", "42", "--once")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	if strings.Count(errOut, "vakt: device: the event store is not reachable; try again; trying again in") != 2 || !strings.Contains(errOut, "reached "+f.srv.URL+" again") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if answers, _, _, _ := f.state(); len(answers) != 1 || answers[0].status != "succeeded" {
		t.Errorf("answers %+v", answers)
	}
}

// A server that cannot be reached is retried until Ctrl-C, which exits
// cleanly.
func TestDeviceListenUnreachable(t *testing.T) {
	deviceTest(t, nil)
	f := newFakeVakt(t)
	key := enrolled(t, f)
	// Point the key at a port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	data, _ := os.ReadFile(key)
	if err := os.WriteFile(key, bytes.Replace(data, []byte(f.srv.URL), []byte(dead), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut, done := listenCtx(ctx, &deviceOpts{key: key, auto: engine.DecisionDeny})
	eventually(t, "three tries", func() bool { return strings.Count(errOut.String(), "cannot reach "+dead) >= 3 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("interrupted listener: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the listener did not stop")
	}
	if !strings.HasSuffix(out.String(), "Stopped.\n") {
		t.Errorf("output:\n%s", out.String())
	}
}

// The test server is no rubber stamp: a device with another key, and
// signatures over other bytes, are refused; the listener reports the
// server's message and exits 1.
func TestDeviceSignaturesAreChecked(t *testing.T) {
	deviceTest(t, nil)
	f := newFakeVakt(t)
	key := enrolled(t, f)
	k, err := loadDeviceKey(key)
	if err != nil {
		t.Fatal(err)
	}

	// A poll signed for another time than the one it claims.
	unix := time.Now().Unix()
	sig := ed25519.Sign(k.priv, engine.DeviceMessage(fakeTenant, fakeUser, fakeAuth, unix-1))
	req, _ := http.NewRequest(http.MethodGet, apiURL(f.srv.URL, "v1", "tenants", fakeTenant, "users", fakeUser, "authenticators", fakeAuth, "pushes")+"?wait=30s", nil)
	req.Header.Set("Authorization", "Vakt-Device "+b64(sig))
	req.Header.Set("X-Vakt-Time", strconv.FormatInt(unix, 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a poll signed over another time: %d", resp.StatusCode)
	}

	// An answer signed over another number than the one sent.
	f.push("ch", 42, []int{17, 42, 86}, time.Now().Add(time.Minute))
	msg := engine.PushMessage(fakeTenant, fakeUser, "ch", fakeAuth, "approve", 17, false)
	body := fmt.Sprintf(`{"authenticator_id":%q,"decision":"approve","number":42,"user_verification":false,"signature":%q}`, fakeAuth, b64(ed25519.Sign(k.priv, msg)))
	resp, err = http.Post(apiURL(f.srv.URL, "v1", "tenants", fakeTenant, "challenges", "ch~"+base64.RawURLEncoding.EncodeToString([]byte(fakeUser)), "respond"), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an answer signed over another number: %d", resp.StatusCode)
	}

	// A key file holding another key: the first poll is refused.
	_, other, _ := ed25519.GenerateKey(nil)
	data, _ := os.ReadFile(key)
	var m map[string]any
	json.Unmarshal(data, &m)
	m["private_key"], m["public_key"] = b64(other), b64(other.Public().(ed25519.PublicKey))
	data, _ = json.Marshal(m)
	os.WriteFile(key, data, 0o600)
	code, _, errOut := listen(t, "--key", key, "--auto", "approve", "--number", "42", "--once")
	if code != 1 || errOut != "vakt: device: the signature does not verify with this authenticator's key\n" {
		t.Fatalf("another key: exit %d, stderr %q", code, errOut)
	}
	if answers, _, _, _ := f.state(); len(answers) != 0 {
		t.Errorf("answered: %+v", answers)
	}
}

func TestDeviceKeyFiles(t *testing.T) {
	home := deviceTest(t, nil)
	f := newFakeVakt(t)
	key := enrolled(t, f)

	// Readable by others: refused, as ssh does.
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := listen(t, "--key", key, "--once")
	if code != 1 || !strings.Contains(errOut, "can be read by others (mode 0644); run chmod 600") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	os.Chmod(key, 0o600)

	// Damaged.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"server":"https://x","tenant":"t","user":"u","authenticator_id":"a","private_key":"AAAA"}`), 0o600)
	if code, _, errOut := listen(t, "--key", bad); code != 1 || !strings.Contains(errOut, "is damaged: private_key is not an Ed25519 key") {
		t.Errorf("damaged key: exit %d, stderr %q", code, errOut)
	}

	// Two keys in the default directory: listen asks which.
	f2 := newFakeVakt(t)
	f2.authID = "second"
	enrolled(t, f2)
	code, _, errOut = listen(t, "--once")
	want := fmt.Sprintf("2 device keys in %s (%s, device-second.json); choose one with --key", filepath.Join(home, ".config", "vakt"), deviceKeyName(fakeAuth))
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("two keys: exit %d, stderr %q, want %q", code, errOut, want)
	}
	// The authenticator id cannot steer the file out of the directory.
	if got := deviceKeyName("../../etc/x"); strings.ContainsAny(got, "/\\") || strings.Contains(got, "..") {
		t.Errorf("deviceKeyName = %q", got)
	}
}
