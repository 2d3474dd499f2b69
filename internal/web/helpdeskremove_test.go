package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestHelpdeskRemoveAndTenantPicker: the admin key picks the tenant from
// the ones the server knows (an unknown one typed or forged is refused with
// a clear message, nothing changed); the helpdesk removes one method of a
// user with operator and ticket on record (without a ticket: refused,
// nothing removed); a key of one tenant cannot switch.
func TestHelpdeskRemoveAndTenantPicker(t *testing.T) {
	e := newEnv(t)
	const tenant, user = "uio.no", "tor@uio.no"
	e.enrolTOTP(tenant, user, "Gammel telefon")
	e.clock.Advance(30 * time.Second)
	e.enrolTOTP(tenant, user, "Ny telefon")
	e.enrolTOTP("ntnu.no", "kim@ntnu.no", "Telefon")

	// The admin key with an unknown tenant typed: refused, said clearly.
	e.visit("/ui/helpdesk/login")
	e.typeInto("#key", e.admin)
	e.typeInto("#tenant", "nope.no")
	e.click("#staff-submit")
	e.check("admin key, unknown tenant")
	if got := e.text("#error"); !strings.Contains(got, "«nope.no»") {
		t.Fatalf("unknown tenant: %q", got)
	}
	// No tenant typed: the picker, once the statistics know both tenants.
	e.typeInto("#key", e.admin)
	e.run(e.ctx, e.js(`document.getElementById("tenant").value = ""`))
	e.click("#staff-submit")
	deadline := time.Now().Add(15 * time.Second)
	for {
		opts, err := chromedp.Run(e.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#pick-tenant option")].map(o => o.value)`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(opts, ",") == "ntnu.no,uio.no" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the picker lists %v: %s", opts, e.bodyText(e.ctx))
		}
		time.Sleep(100 * time.Millisecond)
		e.visit("/ui/helpdesk/tenant")
	}
	e.check("tenant picker")
	// A forged choice: refused, still no tenant.
	e.run(e.ctx, e.js(`document.querySelector("#pick-tenant option").value = "forged.no"`))
	e.click("#pick-submit")
	if got := e.text("#error"); !strings.Contains(got, "«forged.no»") {
		t.Fatalf("forged tenant: %q", got)
	}
	e.visit("/ui/helpdesk")
	if !e.exists("#pick-tenant") {
		t.Fatalf("a forged tenant was taken: %s", e.bodyText(e.ctx))
	}
	e.run(e.ctx, chromedp.SetValue(chromedp.CSS("#pick-tenant"), tenant))
	e.click("#pick-submit")
	e.check("helpdesk home after picking")
	if got := e.text("main"); !strings.Contains(got, "Finn en bruker i "+tenant) {
		t.Fatalf("helpdesk home: %q", got)
	}

	// Remove one method.
	e.typeInto("#find-user", user)
	e.click("#find")
	e.check("helpdesk user with two methods")
	u := e.user(tenant, user)
	var old string
	for _, a := range u.Authenticators {
		if a.Label == "Gammel telefon" {
			old = a.ID
		}
	}
	e.run(e.ctx, chromedp.SetValue(chromedp.CSS("#remove-id"), old),
		e.js(`document.getElementById("ticket-remove").removeAttribute("required")`))
	e.click("#do-remove")
	if !strings.Contains(e.text("#error"), "saksnummer") || activeCount(e.user(tenant, user)) != 2 {
		t.Fatalf("remove without a ticket: %q", e.text("main"))
	}
	e.run(e.ctx, chromedp.SetValue(chromedp.CSS("#remove-id"), old))
	e.typeInto("#ticket-remove", "INC-2001")
	e.click("#do-remove")
	e.check("helpdesk removed one method")
	if !strings.Contains(e.text("#notice"), "Metoden er fjernet") {
		t.Fatalf("remove: %q", e.text("main"))
	}
	u = e.user(tenant, user)
	if len(u.Active()) != 1 || u.Active()[0].Label != "Ny telefon" {
		t.Fatalf("after removing one: %+v", u.Active())
	}
	if tl := e.text("#timeline"); !strings.Contains(tl, `ticket="INC-2001"`) || !strings.Contains(tl, "removed") {
		t.Errorf("the removal and its ticket are not on the timeline: %q", tl)
	}

	// A helpdesk key of one tenant has no picker.
	key := e.mustAPI(201, "POST", "/v1/keys", e.admin, map[string]any{"scope": "helpdesk", "tenant": tenant}).str("key")
	e.visit("/ui/helpdesk/login")
	e.typeInto("#key", key)
	e.click("#staff-submit")
	e.visit("/ui/helpdesk/tenant")
	e.check("one-tenant key, no picker")
	if !strings.Contains(e.text("#error"), "kan ikke bytte") {
		t.Fatalf("one-tenant key at the picker: %q", e.text("main"))
	}
}
