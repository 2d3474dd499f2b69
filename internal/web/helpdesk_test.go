package web_test

import (
	"strings"
	"testing"
	"time"
)

// TestReset: "I have a new phone": the development stand-in for ID-porten
// at level substantial is refused by the engine and nothing changes; at
// level high every method goes, and the person enrols again.
func TestReset(t *testing.T) {
	e := newEnv(t)
	const tenant, user = "uio.no", "nina@uio.no"
	e.enrolTOTP(tenant, user, "Gammel telefon")
	e.devLogin(tenant, user, "reset")
	e.check("reset")
	e.click("#reset-start")
	e.check("dev proof provider")
	e.click("#acr-substantial")
	e.click("#proof-submit")
	e.check("proof too weak")
	if !strings.Contains(e.text("#error"), "for lavt nivå") {
		t.Fatalf("substantial: %q", e.text("main"))
	}
	if activeCount(e.user(tenant, user)) != 1 {
		t.Fatal("a refused proof changed the methods")
	}
	e.click("#acr-high")
	e.click("#proof-submit")
	e.check("after reset")
	if !strings.Contains(e.text("#notice"), "Identiteten er bekreftet") || len(e.user(tenant, user).Authenticators) != 0 {
		t.Fatalf("reset: %q", e.text("main"))
	}
	// Re-enrolment.
	e.click("#add-totp button[type=submit]")
	e.typeInto("#code", e.totp(strings.ReplaceAll(e.text("#manual-key"), " ", "")))
	e.click("#confirm-button")
	if activeCount(e.user(tenant, user)) != 1 {
		t.Fatalf("re-enrolment: %s", e.bodyText(e.ctx))
	}
}

// TestHelpdesk: a helpdesk key signs in to the console, finds a locked-out
// user, reads the timeline, unlocks (a missing ticket first), issues a
// temporary pass and resets; another tenant's user is refused; the
// dashboard draws the tenant's figures.
func TestHelpdesk(t *testing.T) {
	e := newEnv(t)
	const tenant, user = "uio.no", "lars@uio.no"
	e.enrolTOTP(tenant, user, "Telefon")
	// Five wrong codes lock the user out.
	for i := 0; i < 5; i++ {
		ch := e.mustAPI(201, "POST", userPath(tenant, user)+"/challenges", e.admin, map[string]any{"app": "web"}).str("challenge_id")
		e.api("POST", "/v1/tenants/"+tenant+"/challenges/"+ch+"/verify", e.admin, map[string]any{"code": "000000"})
	}
	if !e.user(tenant, user).Lock.Active(e.clock.Now()) {
		t.Fatal("the user is not locked out")
	}
	key := e.mustAPI(201, "POST", "/v1/keys", e.admin, map[string]any{"scope": "helpdesk", "tenant": tenant}).str("key")

	e.visit("/ui/helpdesk/login")
	e.check("staff login")
	e.typeInto("#key", "wrong-key")
	e.click("#staff-submit")
	if !strings.Contains(e.text("#error"), "ikke gyldig") {
		t.Fatalf("wrong key: %q", e.text("main"))
	}
	e.typeInto("#key", key)
	e.click("#staff-submit")
	e.check("helpdesk home")
	e.typeInto("#find-user", user)
	e.click("#find")
	e.check("helpdesk user")
	if !strings.Contains(e.text("#lock-state"), "Låst") || !e.exists("#timeline") {
		t.Fatalf("user page: %s", e.bodyText(e.ctx))
	}
	// Unlock without a ticket: refused, still locked.
	e.run(e.ctx, e.js(`document.getElementById("ticket-unlock").removeAttribute("required")`))
	e.click("#do-unlock")
	if !strings.Contains(e.text("#error"), "saksnummer") || !e.user(tenant, user).Lock.Active(e.clock.Now()) {
		t.Fatalf("unlock without a ticket: %q", e.text("main"))
	}
	e.typeInto("#ticket-unlock", "INC-1001")
	e.click("#do-unlock")
	e.check("unlocked")
	if e.user(tenant, user).Lock.Active(e.clock.Now()) {
		t.Fatal("still locked")
	}
	if !strings.Contains(e.text("#timeline"), "INC-1001") {
		t.Errorf("the ticket is not on the timeline")
	}
	e.typeInto("#ticket-temporary-pass", "INC-1002")
	e.click("#do-temporary-pass")
	e.check("temporary pass")
	if pass := e.text("#temporary-pass"); len(pass) < 8 {
		t.Fatalf("temporary pass %q", pass)
	}
	e.typeInto("#ticket-reset", "INC-1003")
	e.click("#do-reset")
	if !strings.Contains(e.text("#notice"), "tilbakestilt") || len(e.user(tenant, user).Authenticators) != 0 {
		t.Fatalf("reset: %q", e.text("main"))
	}
	// A user of another tenant: a clear message, nothing shown.
	e.visit("/ui/helpdesk/t/ntnu.no/users/someone@ntnu.no")
	e.check("another tenant")
	if !strings.Contains(e.text("#error"), "annen virksomhet") {
		t.Fatalf("another tenant: %q", e.text("main"))
	}

	// The dashboard (the helpdesk key reads events, so statistics).
	time.Sleep(300 * time.Millisecond) // the read models follow the stream
	e.visit("/ui/admin")
	e.check("dashboard")
	if e.text("#t-lockouts") != "1" || !e.exists("svg.chart rect[fill]") {
		t.Fatalf("dashboard: lockouts %q; %s", e.text("#t-lockouts"), e.bodyText(e.ctx))
	}
	e.click("#lang-switch")
	e.checkLang("dashboard (en)", "en")
}
