package web_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	vaktapp "github.com/vaktmfa/vakt/internal/app"
	"github.com/vaktmfa/vakt/internal/apptest"
	"github.com/vaktmfa/vakt/internal/edge"
	"github.com/vaktmfa/vakt/internal/web"
)

// guardedApp is an application behind internal/edge's Guard, as the
// http-wasm middleware runs it: /admin/ needs acr substantial within five
// minutes, read from the cookie vakt_session; the rest is public.
type guardedApp struct {
	srv     *httptest.Server
	guard   atomic.Pointer[edge.Guard]
	now     func() time.Time
	refused atomic.Int64
}

func newGuardedApp(t *testing.T, now func() time.Time) *guardedApp {
	a := &guardedApp{now: now}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := a.guard.Load().Check(edge.Request{Method: r.Method, URI: r.URL.RequestURI(), Authorization: r.Header.Get("Authorization"),
			Cookie: r.Header.Get("Cookie"), Accept: r.Header.Get("Accept")}, a.now())
		if !d.Allow {
			a.refused.Add(1)
			if d.Location != "" {
				w.Header().Set("Location", d.Location)
			}
			if d.WWWAuthenticate != "" {
				w.Header().Set("WWW-Authenticate", d.WWWAuthenticate)
			}
			w.WriteHeader(d.Status)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		who := "anyone"
		if c := d.Claims; c != nil {
			who = fmt.Sprintf("%s acr=%s", c.Subject, c.ACR)
		}
		io.WriteString(w, `<!DOCTYPE html><html lang="en"><head><title>The application</title></head><body><main><h1>Admin</h1><p id="who">`+html.EscapeString(who)+`</p></main></body></html>`)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// TestStepUp: the round trip of the edge guard. A browser without a token
// is sent by the guard to /ui/step-up, confirms with a code and comes back
// with a cookie the guard accepts; when the authentication is too old the
// guard sends it again, and the page names the person from that token
// alone. A return address outside the allow-list, bad parameters and an
// unknown person are refused with a message, and no challenge starts.
func TestStepUp(t *testing.T) {
	var app *guardedApp
	clock := &apptest.Clock{}
	app = newGuardedApp(t, func() time.Time { return clock.Now() })
	_, rpKey, _ := ed25519.GenerateKey(rand.Reader)
	e := newEnv(t, func(c *vaktapp.Config) {
		c.Now = clock.Now
		c.Web.RelyingParties = append(c.Web.RelyingParties, web.RelyingParty{
			ID: "app", Tenant: "uio.no", PublicKey: rpKey.Public().(ed25519.PublicKey), ReturnURLs: []string{app.srv.URL + "/"},
			StepUp: &web.StepUp{Cookie: "vakt_session"},
		})
	})
	e.clock = clock
	const tenant, user = "uio.no", "eva@uio.no"
	_, secret := e.enrolTOTP(tenant, user, "Telefon")

	// The guard's configuration, with the issuer's keys.
	resp, err := http.Get(e.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cfg, _ := json.Marshal(map[string]any{
		"tenant": tenant, "issuer": e.url, "jwks": json.RawMessage(jwks),
		"routes":  []any{map[string]any{"prefix": "/admin/", "acr": "substantial", "maxAge": "5m"}},
		"default": map[string]any{"public": true},
		"token":   map[string]any{"cookie": "vakt_session"},
		"stepUp":  map[string]any{"url": e.url + "/ui/step-up", "returnOrigin": app.srv.URL},
	})
	g, err := edge.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	app.guard.Store(g)

	// Refused before anyone is known: the page says to sign in first.
	e.visit("/ui/")
	e.run(e.ctx, e.navigate(app.srv.URL+"/admin/users?page=2"))
	e.check("step-up, nobody known")
	if !strings.Contains(e.text("#error"), "Logg inn på tjenesten først") {
		t.Fatalf("nobody known: %q", e.text("main"))
	}
	if app.refused.Load() != 1 {
		t.Fatalf("the guard refused %d requests", app.refused.Load())
	}

	// Signed in to the pages (the development login stands in for the
	// party's assertion): the guard → step-up → code → back, with a token.
	e.devLogin(tenant, user, "account")
	e.run(e.ctx, e.navigate(app.srv.URL+"/admin/users?page=2"))
	e.check("step-up page")
	if got := e.text("#stepup-return"); got != app.srv.URL+"/admin/users?page=2" {
		t.Fatalf("return address %q", got)
	}
	if !strings.Contains(e.text("#stepup-acr"), "betydelig") || !strings.Contains(e.text("#stepup-age"), "5 minutter") {
		t.Errorf("what is asked: %q", e.text("main"))
	}
	pending := len(e.user(tenant, user).Challenges)
	e.click("#stepup-continue")
	e.check("step-up sign-in step")
	if e.exists("#remember") {
		t.Error("a step-up offers to remember the browser")
	}
	if got := len(e.user(tenant, user).Challenges); got != pending+1 {
		t.Fatalf("%d challenges pending, want %d", got, pending+1)
	}
	e.clock.Advance(30 * time.Second) // the enrolment's code is spent
	e.typeInto("#code", e.totp(secret))
	e.click("#verify-button")
	e.checkIn(e.ctx, "back at the application", "en")
	if got := e.text("#who"); got != user+" acr=substantial" {
		t.Fatalf("the application sees %q at %s", got, e.currentURL())
	}
	if u := e.currentURL(); u != app.srv.URL+"/admin/users?page=2" {
		t.Errorf("returned to %s", u)
	}

	// Too old: the guard sends the person again; the page session is gone
	// (signed out), so the page names them from the token alone.
	e.visit("/ui/account")
	e.click("form[action='/ui/logout'] button")
	e.clock.Advance(6 * time.Minute)
	e.run(e.ctx, e.navigate(app.srv.URL+"/admin/"))
	e.check("step-up again, named by the token")
	if got := e.text("#stepup-intro"); !strings.Contains(got, user) {
		t.Fatalf("step-up from the token: %q", got)
	}
	e.click("#stepup-continue")
	e.typeInto("#code", e.totp(secret))
	e.click("#verify-button")
	if got := e.text("#who"); got != user+" acr=substantial" {
		t.Fatalf("after the second step-up the application sees %q", got)
	}

	// Refusals: nothing starts.
	before := len(e.user(tenant, user).Challenges)
	for _, c := range []struct{ name, query, want string }{
		{"another site", "return_to=" + url.QueryEscape("https://evil.example/") + "&tenant=uio.no", "ikke har lov til"},
		{"a look-alike host", "return_to=" + url.QueryEscape(strings.Replace(app.srv.URL, "127.0.0.1", "127.0.0.1.evil.example", 1)+"/") + "&tenant=uio.no", "ikke har lov til"},
		{"another tenant", "return_to=" + url.QueryEscape(app.srv.URL+"/admin/") + "&tenant=ntnu.no", "ikke har lov til"},
		{"an unknown level", "return_to=" + url.QueryEscape(app.srv.URL+"/admin/") + "&tenant=uio.no&required_acr=ultra", "ikke gyldig"},
		{"a negative age", "return_to=" + url.QueryEscape(app.srv.URL+"/admin/") + "&tenant=uio.no&max_age=-5", "ikke gyldig"},
	} {
		e.visit("/ui/step-up?" + c.query)
		if !strings.Contains(e.text("#error"), c.want) || e.exists("#stepup-continue") {
			t.Errorf("%s: %q", c.name, e.text("main"))
		}
	}
	e.check("step-up refused")
	if after := len(e.user(tenant, user).Challenges); after != before {
		t.Errorf("a refused step-up started a challenge")
	}
}

// navigate opens an address (of any server) and waits for its page.
func (e *env) navigate(u string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := chromedp.Navigate(u)(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.WaitReady(chromedp.CSS("main"))(ctx, t)
	}
}

func (e *env) currentURL() string {
	e.t.Helper()
	u, err := chromedp.Run(e.ctx, chromedp.Evaluate[string](`location.href`))
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// waitURL waits until the tab is on a page whose address starts with
// prefix and has loaded.
func (e *env) waitURL(prefix string) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, _ := chromedp.Run(e.ctx, chromedp.Evaluate[string](`document.readyState === "complete" ? location.href : ""`))
		if strings.HasPrefix(s, prefix) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the browser did not reach %s (at %q)", prefix, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
