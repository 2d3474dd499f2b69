package web_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vaktmfa/vakt/internal/web"
)

// claimsOf reads a session token's claims (its signature is the tokens
// package's business, tested there).
func claimsOf(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
		t.Fatalf("token %q: %v", tok, err)
	}
	return c
}

// TestSignIn: a relying party starts a challenge and sends the browser with
// a signed assertion; the person types a code (a wrong one first), asks to
// remember the browser, and is posted back with the token. Then a push with
// number matching, a recovery code through "I can't use my authenticator",
// and the assertions and return addresses that must be refused.
func TestSignIn(t *testing.T) {
	e := newEnv(t)
	const tenant, user = "uio.no", "ola@uio.no"
	_, secret := e.enrolTOTP(tenant, user, "Telefon")

	start := func(body map[string]any) string {
		t.Helper()
		r := e.mustAPI(201, "POST", userPath(tenant, user)+"/challenges", e.admin, body)
		return r.str("challenge_id")
	}
	enter := func(ch, returnTo, state string) {
		t.Helper()
		e.visit("/ui/enter?assertion=" + e.assertion(web.AssertionClaims{
			RegisteredClaims: jwt.RegisteredClaims{Subject: user}, Tenant: tenant, Purpose: web.PurposeSignIn,
			Challenge: ch, ReturnTo: returnTo, State: state,
		}))
	}

	// A code, wrong first, then right, remembering the browser.
	ch := start(map[string]any{"app": "web"})
	enter(ch, e.rp.callback(), "st-1")
	e.check("sign-in step")
	if !strings.Contains(e.text("#time-left"), ":") {
		t.Errorf("no time left shown: %q", e.text("#timer"))
	}
	if live := e.text("#time-live"); !strings.Contains(live, "minutter igjen") {
		t.Errorf("the live region says %q", live)
	}
	e.typeInto("#code", "000 000")
	e.click("#verify-button")
	e.check("sign-in wrong code")
	if !strings.Contains(e.text("#error"), "Koden stemmer ikke") {
		t.Fatalf("wrong code: %q", e.text("main"))
	}
	if live := e.text("#time-live"); strings.ContainsAny(live, "0123456789") && !strings.Contains(live, "minutter") {
		t.Errorf("the live region holds digits other than the time: %q", live)
	}
	e.clock.Advance(30 * time.Second) // the enrolment used this step's code
	code := e.totp(secret)
	e.typeInto("#code", code[:3]+" "+code[3:])
	e.click("#remember")
	e.click("#verify-button")
	got := e.rp.received(t, 1)
	c := claimsOf(t, got.Get("token"))
	if c["sub"] != user || c["acr"] != "substantial" || got.Get("state") != "st-1" || got.Get("remember_token") == "" {
		t.Fatalf("the relying party got %v with claims %v", got, c)
	}
	e.check("back at the relying party")

	// The same assertion again is refused.
	e.visit("/ui/enter?assertion=" + e.assertion(web.AssertionClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: user, ID: "once"}, Tenant: tenant, Purpose: web.PurposeSignIn, Challenge: start(map[string]any{"app": "web"}), ReturnTo: e.rp.callback(),
	}))
	e.visit("/ui/enter?assertion=" + e.assertion(web.AssertionClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: user, ID: "once"}, Tenant: tenant, Purpose: web.PurposeSignIn, Challenge: start(map[string]any{"app": "web"}), ReturnTo: e.rp.callback(),
	}))
	if !strings.Contains(e.text("#error"), "brukt før") {
		t.Errorf("a replayed assertion: %q", e.text("main"))
	}
	e.check("replayed assertion")
	// A return address the party may not use: no open redirect.
	enter(start(map[string]any{"app": "web"}), "https://evil.example/callback", "")
	if !strings.Contains(e.text("#error"), "ikke har lov til") {
		t.Errorf("a foreign return address: %q", e.text("main"))
	}
	e.check("foreign return address")
	// An assertion for another tenant than the party's.
	e.visit("/ui/enter?assertion=" + e.assertion(web.AssertionClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "x@ntnu.no"}, Tenant: "ntnu.no", Purpose: web.PurposeAccount,
	}))
	if !strings.Contains(e.text("#error"), "kunne ikke godtas") {
		t.Errorf("another tenant's user: %q", e.text("main"))
	}

	// Push with number matching: the page shows the number, the phone picks
	// it, the page notices and posts back.
	e.visit("/ui/dev")
	e.devLogin(tenant, user, "account")
	e.click("#add-push button[type=submit]")
	dev := e.activate(e.text("#activation-link"))
	ch = start(map[string]any{"app": "office", "method": "push"})
	enter(ch, e.rp.callback(), "st-push")
	e.check("waiting for push")
	n, err := strconv.Atoi(e.text("#number"))
	if err != nil || n < 10 || n > 99 {
		t.Fatalf("number %q", e.text("#number"))
	}
	e.approve(dev, tenant, user, ch, n)
	got = e.rp.received(t, 2)
	// The page's script carries the browser to the party by itself: let it
	// arrive before navigating on, or the next visit aborts that load.
	e.waitURL(e.rp.srv.URL)
	if c := claimsOf(t, got.Get("token")); c["sub"] != user || got.Get("state") != "st-push" {
		t.Fatalf("after push: %v %v", got, c)
	}

	// "I can't use my authenticator" -> a recovery code.
	codes := e.mustAPI(201, "POST", userPath(tenant, user)+"/recovery-codes", e.admin, nil)
	rc := codes.m["codes"].([]any)[0].(string)
	enter(start(map[string]any{"app": "web"}), e.rp.callback(), "st-rc")
	e.click("#cant-use")
	e.check("can't use authenticator")
	e.typeInto("#recovery-code", " "+rc+" ")
	e.click("#recovery-button")
	got = e.rp.received(t, 3)
	if c := claimsOf(t, got.Get("token")); c["sub"] != user || got.Get("state") != "st-rc" {
		t.Fatalf("after a recovery code: %v %v", got, c)
	}

	// The remembered browser is on the security info page; forget it.
	e.devLogin(tenant, user, "account")
	if !e.exists("#devices") {
		t.Fatalf("no remembered browser listed: %s", e.bodyText(e.ctx))
	}
	e.check("remembered browser listed")
	e.click("#devices form button")
	if !strings.Contains(e.text("#notice"), "glemt") || len(e.user(tenant, user).Devices) != 0 {
		t.Fatalf("forget: %q", e.text("main"))
	}
}
