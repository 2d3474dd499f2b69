package web_test

// The harness of the browser tests: the app that `vakt serve` runs (API and
// pages) on an embedded NATS server in a temporary directory, a clock the
// tests move, a delivery sink that records SMS and e-mail codes, a relying
// party with an Ed25519 key and a return address, and headless Chromium
// driven through chromedp, with axe-core run on every page.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/vaktmfa/vakt/engine"
	vaktapp "github.com/vaktmfa/vakt/internal/app"
	"github.com/vaktmfa/vakt/internal/apptest"
	"github.com/vaktmfa/vakt/internal/web"
)

const (
	installChromium = "apt-get install -y chromium"
	installAxe      = "cd internal/web/testdata/axe && npm ci"
	axePath         = "testdata/axe/node_modules/axe-core/axe.min.js"
)

// relyingParty is a test relying party: a key the pages trust and a
// server that records what the sign-in step posts back.
type relyingParty struct {
	id    string
	key   ed25519.PrivateKey
	srv   *httptest.Server
	posts apptest.Recorder[url.Values]
}

func (rp *relyingParty) callback() string { return rp.srv.URL + "/callback" }

// received waits for the n-th post back.
func (rp *relyingParty) received(t *testing.T, n int) url.Values {
	t.Helper()
	v, ok := rp.posts.Wait(n, 15*time.Second)
	if !ok {
		t.Fatalf("the relying party received no post number %d in 15s", n)
	}
	return v
}

// env is one running Vakt with a browser.
type env struct {
	t      *testing.T
	app    *vaktapp.App
	url    string
	admin  string
	clock  *apptest.Clock
	box    *apptest.Outbox
	rp     *relyingParty
	ctx    context.Context // the browser tab
	alloc  context.Context
	axe    string
	shots  string
	shotN  int
	checks int
}

// requireTools fails (skips under -short) when Chromium or axe-core is
// missing, naming the command that installs it.
func requireTools(t *testing.T) (chromium, axe string) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		p, err := exec.LookPath("chromium")
		if err != nil {
			t.Fatalf("the browser tests need Debian's Chromium, which is missing: run %q", installChromium)
		}
		chromium = p
	}
	b, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("the browser tests need axe-core (%s), which is missing: run %q", axePath, installAxe)
	}
	return chromium, string(b)
}

// newEnv starts Vakt and a browser; opts change the app's configuration
// before it opens.
func newEnv(t *testing.T, opts ...func(*vaktapp.Config)) *env {
	t.Helper()
	chromium, axe := requireTools(t)
	e := &env{t: t, clock: &apptest.Clock{}, box: &apptest.Outbox{}, axe: axe}

	// The relying party.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	e.rp = &relyingParty{id: "rp-test", key: priv}
	e.rp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.ParseForm()
			e.rp.posts.Add(r.PostForm)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html lang="en"><head><title>Relying party</title></head><body><main><h1>Signed in at the relying party</h1></main></body></html>`)
	}))
	t.Cleanup(e.rp.srv.Close)

	// Vakt.
	cfg := vaktapp.Config{
		DataDir: t.TempDir(), NoSync: true, Now: e.clock.Now, Deliverer: e.box, Dev: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Web: web.Options{RelyingParties: []web.RelyingParty{{
			ID: e.rp.id, Tenant: "uio.no", PublicKey: priv.Public().(ed25519.PublicKey), ReturnURLs: []string{e.rp.callback()},
		}}},
	}
	e.app, e.url = apptest.Serve(t, cfg, opts...)
	e.admin = e.app.AdminKey

	// The browser.
	bopts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("lang", "nb-NO"),
		chromedp.Flag("accept-lang", "nb-NO,nb"),
		chromedp.WindowSize(1100, 900),
		chromedp.UserDataDir(t.TempDir()),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), bopts...)
	e.alloc = alloc
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium (%s): %v; is it installed? %s", chromium, err, installChromium)
	}
	e.ctx = ctx
	e.shots = filepath.Join("..", "..", "testdata", "artifacts", "web", t.Name())
	os.RemoveAll(e.shots)
	if err := os.MkdirAll(e.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

// newTab opens a second tab in the same browser (same cookies).
func (e *env) newTab() context.Context {
	ctx, cancel := chromedp.NewContext(e.ctx)
	e.t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		e.t.Fatal(err)
	}
	return ctx
}

func (e *env) run(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		e.shot(ctx, "failure")
		e.t.Fatalf("browser: %v (page: %s)", err, e.bodyText(ctx))
	}
}

func (e *env) visit(path string) { e.t.Helper(); e.run(e.ctx, chromedp.Navigate(e.url+path)) }

// click clicks and waits for the next page to load.
func (e *env) click(sel string) {
	e.t.Helper()
	e.clickIn(e.ctx, sel)
}

func (e *env) clickIn(ctx context.Context, sel string) {
	e.t.Helper()
	e.run(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible), chromedp.WaitReady(chromedp.CSS("body")))
	time.Sleep(150 * time.Millisecond) // let the navigation start and settle
	e.run(ctx, chromedp.WaitReady(chromedp.CSS("footer, body > main")))
}

// typeInto types into a field, as a person would: key by key.
func (e *env) typeInto(sel, text string) {
	e.t.Helper()
	e.run(e.ctx, chromedp.WaitVisible(chromedp.CSS(sel)), e.js(fmt.Sprintf(`document.querySelector(%q).value = ""`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible))
}

func (e *env) text(sel string) string {
	e.t.Helper()
	return e.textIn(e.ctx, sel)
}

func (e *env) textIn(ctx context.Context, sel string) string {
	e.t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		e.shot(ctx, "failure")
		e.t.Fatalf("read %s: %v (page: %s)", sel, err, e.bodyText(ctx))
	}
	return strings.TrimSpace(s)
}

func (e *env) exists(sel string) bool {
	e.t.Helper()
	n, err := chromedp.Run(e.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, sel)))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) bodyText(ctx context.Context) string {
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(s) > 1500 {
		s = s[:1500] + "…"
	}
	return s
}

// shot saves a screenshot as a test artifact.
func (e *env) shot(ctx context.Context, name string) {
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		e.t.Logf("screenshot %s: %v", name, err)
		return
	}
	e.shotN++
	os.WriteFile(filepath.Join(e.shots, fmt.Sprintf("%02d-%s.png", e.shotN, name)), b, 0o644)
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

var stepName = regexp.MustCompile(`[^a-z0-9]+`)

// check is what every page visited must pass: a lang on <html> (nb or en,
// matching want when given), no missing catalogue key, and zero axe-core
// violations of WCAG 2.1 A and AA. It saves a screenshot.
func (e *env) check(name string) { e.t.Helper(); e.checkIn(e.ctx, name, "") }

func (e *env) checkLang(name, lang string) { e.t.Helper(); e.checkIn(e.ctx, name, lang) }

func (e *env) checkIn(ctx context.Context, name, wantLang string) {
	e.t.Helper()
	e.checks++
	e.shot(ctx, stepName.ReplaceAllString(strings.ToLower(name), "-"))
	lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err != nil {
		e.t.Fatal(err)
	}
	if lang != "nb" && lang != "en" || (wantLang != "" && lang != wantLang) {
		e.t.Errorf("%s: <html lang=%q>, want nb or en (%q)", name, lang, wantLang)
	}
	if body := e.bodyText(ctx); strings.Contains(body, "⟦") {
		e.t.Errorf("%s: a catalogue key is missing: %s", name, body)
	}
	vs := e.axeRun(ctx, name)
	for _, v := range vs {
		e.t.Errorf("%s: axe-core: %s (%s): %s %v", name, v.ID, v.Impact, v.Help, v.Nodes)
	}
}

// ---- the API, as a relying party or the helpdesk calls it -------------------------

type reply struct {
	status int
	m      map[string]any
	body   []byte
}

func (r reply) str(k string) string { s, _ := r.m[k].(string); return s }

func (e *env) api(method, path, key string, body any) reply {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, body: b}
	json.Unmarshal(b, &r.m)
	return r
}

func (e *env) mustAPI(status int, method, path, key string, body any) reply {
	e.t.Helper()
	r := e.api(method, path, key, body)
	if r.status != status {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, status)
	}
	return r
}

func userPath(tenant, user string) string {
	return "/v1/tenants/" + url.PathEscape(tenant) + "/users/" + url.PathEscape(user)
}

// enrolTOTP enrols a TOTP authenticator through the API and returns its
// id and key.
func (e *env) enrolTOTP(tenant, user, label string) (string, string) {
	e.t.Helper()
	r := e.mustAPI(201, "POST", userPath(tenant, user)+"/authenticators", e.admin, map[string]any{"method": "totp", "label": label})
	secret := r.str("secret")
	e.mustAPI(200, "POST", userPath(tenant, user)+"/authenticators/"+r.str("authenticator_id")+"/confirm", e.admin, map[string]any{"code": e.totp(secret)})
	return r.str("authenticator_id"), secret
}

// totp is the code of secret at the server's time.
func (e *env) totp(secret string) string {
	e.t.Helper()
	return apptest.TOTP(e.t, secret, e.clock.Now())
}

func hotpCode(t *testing.T, secret string, counter uint64) string {
	c, err := hotp.GenerateCodeCustom(secret, counter, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// assertion is what the relying party signs to send a user to the pages.
func (e *env) assertion(claims web.AssertionClaims) string {
	e.t.Helper()
	now := e.clock.Now()
	if claims.Issuer == "" {
		claims.Issuer = e.rp.id
	}
	if claims.Audience == nil {
		claims.Audience = jwt.ClaimStrings{e.url + "/ui/"}
	}
	if claims.IssuedAt == nil {
		claims.IssuedAt = jwt.NewNumericDate(now)
		claims.ExpiresAt = jwt.NewNumericDate(now.Add(2 * time.Minute))
	}
	if claims.ID == "" {
		b := make([]byte, 12)
		rand.Read(b)
		claims.ID = base64.RawURLEncoding.EncodeToString(b)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = e.rp.id
	s, err := tok.SignedString(e.rp.key)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// device is a push authenticator, as `vakt device` is.
type device struct {
	id  string
	key ed25519.PrivateKey
}

// activate confirms a push enrolment from the activation link the page
// shows, signing as the device does.
func (e *env) activate(link string) device {
	e.t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "vakt" {
		e.t.Fatalf("activation link %q", link)
	}
	q := u.Query()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sig := ed25519.Sign(priv, engine.EnrolmentMessage(q.Get("t"), q.Get("u"), q.Get("a"), q.Get("c"), pub, false))
	e.mustAPI(200, "POST", userPath(q.Get("t"), q.Get("u"))+"/authenticators/"+q.Get("a")+"/confirm", "", map[string]any{"public_key": pub, "signature": sig})
	return device{id: q.Get("a"), key: priv}
}

// approve answers the pending push of a challenge with number.
func (e *env) approve(d device, tenant, user, apiChallenge string, number int) {
	e.t.Helper()
	id, _, _ := strings.Cut(apiChallenge, "~")
	sig := ed25519.Sign(d.key, engine.PushMessage(tenant, user, id, d.id, engine.DecisionApprove, number, false))
	e.mustAPI(200, "POST", "/v1/tenants/"+tenant+"/challenges/"+apiChallenge+"/respond", "", map[string]any{
		"authenticator_id": d.id, "decision": "approve", "number": number, "signature": sig})
}

// user is the engine's state of a user (to check that nothing changed).
func (e *env) user(tenant, id string) *engine.User {
	e.t.Helper()
	u, err := e.app.Stack.Service.User(context.Background(), tenant, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func activeCount(u *engine.User) int { return len(u.Active()) }

// devLogin signs in through the development login.
func (e *env) devLogin(tenant, user, open string) {
	e.t.Helper()
	e.visit("/ui/dev")
	e.typeInto("#tenant", tenant)
	e.typeInto("#user", user)
	e.click("#open-" + open)
	e.click("#dev-submit")
}

// js runs a statement in the page.
func (e *env) js(src string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool]("(() => {"+src+"; return true})()")(ctx, t)
		return chromedp.Void{}, err
	}
}

// axeRun injects axe-core into the page and returns the WCAG 2.1 A and AA
// violations it finds.
func (e *env) axeRun(ctx context.Context, name string) []axeViolation {
	e.t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(tctx, chromedp.Evaluate[bool](e.axe+"\n;true")); err != nil {
		e.t.Fatalf("%s: inject axe-core: %v", name, err)
	}
	vs, err := chromedp.Run(tctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]})
		.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " " + (n.failureSummary || "").slice(0, 200))})))`, chromedp.EvalAwaitPromise))
	if err != nil {
		e.t.Fatalf("%s: run axe-core: %v", name, err)
	}
	return vs
}
