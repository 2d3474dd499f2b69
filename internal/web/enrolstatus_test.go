package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPushEnrolmentWaits: the push enrolment page waits for the device.
// With JavaScript it polls and says "activated" in its live region when
// the device confirms; without, "check again" says where it stands.
func TestPushEnrolmentWaits(t *testing.T) {
	e := newEnv(t)
	const tenant, user = "uio.no", "siri@uio.no"
	e.devLogin(tenant, user, "account")

	// With JavaScript: the page notices the confirmation by itself.
	e.click("#add-push button[type=submit]")
	e.check("push enrolment waiting")
	if got := e.text("#push-status"); !strings.Contains(got, "Venter på at appen bekrefter") {
		t.Fatalf("status before the device confirmed: %q", got)
	}
	if role, _ := chromedp.Run(e.ctx, chromedp.Evaluate[string](`document.getElementById("push-status").getAttribute("role")`)); role != "status" {
		t.Errorf("the status is not a live region (role %q)", role)
	}
	e.activate(e.text("#activation-link"))
	e.run(e.ctx, chromedp.WaitVisible(chromedp.CSS("#push-status[data-state=active]")))
	e.check("push enrolment activated")
	if got := e.text("#push-status"); !strings.Contains(got, "aktivert") {
		t.Fatalf("status after the device confirmed: %q", got)
	}
	if activeCount(e.user(tenant, user)) != 1 {
		t.Fatal("the push authenticator is not active")
	}

	// Without JavaScript: "check again" before and after the device.
	e.click("#lang-switch") // and in English
	e.visit("/ui/account")
	e.click("#add-push button[type=submit]")
	link := e.text("#activation-link")
	e.click("#check-again")
	e.checkLang("push enrolment, checked too early", "en")
	if got := e.text("#notice"); !strings.Contains(got, "not confirmed yet") {
		t.Fatalf("check before the device: %q", got)
	}
	e.activate(link)
	e.click("#check-again")
	e.checkLang("push enrolment, checked after", "en")
	if got := e.text("#notice"); !strings.Contains(got, "activated") {
		t.Fatalf("check after the device: %q", got)
	}
	if activeCount(e.user(tenant, user)) != 2 {
		t.Fatal("the second push authenticator is not active")
	}
	// Someone else's or a made-up id: a clear message.
	e.visit("/ui/account/enrolment/not-an-id")
	if !strings.Contains(e.text("#error"), "not found") {
		t.Fatalf("made-up id: %q", e.text("main"))
	}
}
