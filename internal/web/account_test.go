package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestSkeleton: the front page in both languages, the development login
// clearly labelled, and an expired session said as such.
func TestSkeleton(t *testing.T) {
	e := newEnv(t)
	e.visit("/ui/")
	e.checkLang("front page (nb)", "nb")
	if got := e.text("#lang-switch"); got != "English" {
		t.Errorf("the switch says %q, want English", got)
	}
	e.click("#lang-switch")
	e.checkLang("front page (en)", "en")
	if got := e.text("h1"); got != "Vakt" {
		t.Errorf("h1 %q", got)
	}
	if !strings.Contains(e.text(".devbanner"), "Development mode") || !strings.Contains(e.text(".devbanner"), "anyone") {
		t.Errorf("no development banner under --dev")
	}
	e.click("#lang-switch")
	e.checkLang("front page back to nb", "nb")

	// A session that ran out: the page says so, rather than "sign in".
	e.devLogin("uio.no", "ola@uio.no", "account")
	e.check("security info, empty")
	e.clock.Advance(31 * time.Minute)
	e.visit("/ui/account")
	if !strings.Contains(e.text("#error"), "Økten din er utløpt") {
		t.Errorf("expired session: %q", e.text("#error"))
	}
	e.check("session expired")
}

// TestSecurityInfo adds every kind of method through the page, as a person
// does, and manages them: default, remove, recovery codes, with the bad
// input of each form.
func TestSecurityInfo(t *testing.T) {
	e := newEnv(t)
	const tenant, user = "uio.no", "kari@uio.no"
	e.devLogin(tenant, user, "account")
	if !strings.Contains(e.text("#no-methods"), "ingen metoder") {
		t.Fatalf("a new user has methods? %q", e.text("main"))
	}

	// Authenticator app: QR, key in groups, confirm with the first code typed
	// with a space in it.
	e.click("#add-totp button[type=submit]")
	e.check("add authenticator app")
	if !e.exists("img#qr[src^='data:image/png;base64,']") {
		t.Fatal("no QR image")
	}
	key := e.text("#manual-key")
	if len(strings.Fields(key)) < 8 {
		t.Fatalf("the key is not in groups: %q", key)
	}
	secret := strings.ReplaceAll(key, " ", "")
	code := e.totp(secret)
	e.typeInto("#code", code[:3]+" "+code[3:])
	e.click("#confirm-button")
	e.check("authenticator app added")
	if !strings.Contains(e.text("#notice"), "lagt til") {
		t.Fatalf("no notice: %q", e.text("main"))
	}
	if got := activeCount(e.user(tenant, user)); got != 1 {
		t.Fatalf("%d active methods, want 1", got)
	}
	if !e.exists("#methods tr[data-method=totp] #default-badge") {
		t.Error("the first method is not marked default")
	}

	// A wrong first code: a clear message, nothing active, then the right one.
	e.clock.Advance(30 * time.Second)
	e.typeInto("#label-totp", "Nettbrett")
	e.click("#add-totp button[type=submit]")
	secret2 := strings.ReplaceAll(e.text("#manual-key"), " ", "")
	wrong := "000000"
	if e.totp(secret2) == wrong {
		wrong = "111111"
	}
	e.typeInto("#code", wrong)
	e.click("#confirm-button")
	e.check("wrong first code")
	if !strings.Contains(e.text("#error"), "Koden stemmer ikke") {
		t.Fatalf("wrong code: %q", e.text("main"))
	}
	if got := activeCount(e.user(tenant, user)); got != 1 {
		t.Fatalf("a wrong code activated something: %d active", got)
	}
	// A missing code: the field is required in the browser; the server says
	// so too when the browser does not check.
	e.run(e.ctx, e.js(`document.getElementById("code").removeAttribute("required")`))
	e.typeInto("#code", "   ")
	e.click("#confirm-button")
	if !strings.Contains(e.text("#error"), "Skriv inn koden") {
		t.Fatalf("empty code: %q", e.text("main"))
	}
	e.typeInto("#code", e.totp(secret2))
	e.click("#confirm-button")
	if got := activeCount(e.user(tenant, user)); got != 2 {
		t.Fatalf("%d active methods, want 2", got)
	}

	// Change the default to the second.
	e.click("#methods tr:nth-child(2) form[action='/ui/account/default'] button")
	e.check("default changed")
	u := e.user(tenant, user)
	if a := u.Authenticator(u.Default); a == nil || a.Label != "Nettbrett" {
		t.Fatalf("the default is %+v, want Nettbrett", a)
	}

	// SMS: a missing number, then a number; the code comes by SMS and is
	// typed with spaces.
	e.run(e.ctx, e.js(`document.getElementById("address-sms").removeAttribute("required")`))
	e.click("#add-sms button[type=submit]")
	if !strings.Contains(e.text("#error"), "mobilnummer") {
		t.Fatalf("missing number: %q", e.text("main"))
	}
	e.check("sms without a number")
	e.typeInto("#address-sms", "+4791234567")
	e.click("#add-sms button[type=submit]")
	e.check("add sms")
	msg := e.box.Nth(t, 1)
	if msg.Method != "sms" {
		t.Fatalf("delivered %+v", msg)
	}
	c := msg.Code.Reveal()
	e.typeInto("#code", " "+c[:2]+" "+c[2:4]+" "+c[4:]+" ")
	e.click("#confirm-button")
	if got := activeCount(e.user(tenant, user)); got != 3 {
		t.Fatalf("%d active methods after SMS, want 3: %s", got, e.bodyText(e.ctx))
	}

	// E-mail: a wrong first code is refused and changes nothing; the right
	// one, typed as it came, activates the address.
	e.typeInto("#address-email", "ola.nordmann@uio.no")
	e.click("#add-email button[type=submit]")
	e.check("add e-mail")
	mail := e.box.Nth(t, 2)
	if mail.Method != "email" {
		t.Fatalf("delivered %+v", mail)
	}
	if l := e.text("label[for=code]"); l != "Koden vi sendte deg" {
		t.Errorf("the code field of an e-mail enrolment is labelled %q", l)
	}
	mc := mail.Code.Reveal()
	wrongMail := "000000"
	if mc == wrongMail {
		wrongMail = "111111"
	}
	e.typeInto("#code", wrongMail)
	e.click("#confirm-button")
	if !strings.Contains(e.text("#error"), "Koden stemmer ikke") || activeCount(e.user(tenant, user)) != 3 {
		t.Fatalf("a wrong e-mail code: error %q, %d active", e.text("#error"), activeCount(e.user(tenant, user)))
	}
	e.check("wrong e-mail code")
	e.typeInto("#code", mc)
	e.click("#confirm-button")
	if got := activeCount(e.user(tenant, user)); got != 4 {
		t.Fatalf("%d active methods after e-mail, want 4: %s", got, e.bodyText(e.ctx))
	}

	// Security key with HOTP (RFC 4226 seed): confirm with counter 0.
	e.click("#kind-hotp")
	e.typeInto("#secret-key", "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ")
	e.click("#add-key button[type=submit]")
	e.check("add security key")
	if got := hotpCode(t, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 0); got != "755224" {
		t.Fatalf("RFC 4226 vector: %s", got)
	}
	e.typeInto("#code", "755 224")
	e.click("#confirm-button")
	if got := activeCount(e.user(tenant, user)); got != 5 {
		t.Fatalf("%d active methods after the key, want 5: %s", got, e.bodyText(e.ctx))
	}

	// Push app: the activation link, confirmed by the device.
	e.click("#add-push button[type=submit]")
	e.check("add push app")
	e.activate(e.text("#activation-link"))
	e.visit("/ui/account")
	if !e.exists("#methods tr[data-method=push]") || activeCount(e.user(tenant, user)) != 6 {
		t.Fatalf("push not active: %s", e.bodyText(e.ctx))
	}

	// Recovery codes, shown once, with a download.
	e.click("#recovery-button")
	e.check("recovery codes")
	codes, err := chromedp.Run(e.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#recovery-codes li")].map(li => li.textContent.trim())`))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown", len(codes))
	}
	if !e.exists("a#download[download][href^='data:text/plain']") {
		t.Error("no download of the recovery codes")
	}
	e.visit("/ui/account")
	if !strings.Contains(e.text("#recovery-left"), "10") || strings.Contains(e.text("main"), codes[0]) {
		t.Errorf("recovery codes: %q", e.text("#recovery-left"))
	}

	// A double submit (the same form sent twice, as a double click does):
	// one removal, and the second answer says it was already done.
	before := len(e.user(tenant, user).Authenticators)
	out, err := chromedp.Run(e.ctx, chromedp.Evaluate[[]string](`(async () => {
		const f = document.querySelector("#methods tr[data-method=sms] form[action='/ui/account/remove']");
		const send = () => fetch(f.action, {method: "POST", body: new URLSearchParams(new FormData(f))}).then(r => r.text());
		const a = await send(); const b = await send();
		return [a, b];
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if after := len(e.user(tenant, user).Authenticators); after != before-1 {
		t.Fatalf("a double submit removed %d methods", before-after)
	}
	if !strings.Contains(out[0], "Metoden er fjernet") || !strings.Contains(out[1], "allerede gjort") {
		t.Errorf("double submit answers: %q / %q", snippet(out[0]), snippet(out[1]))
	}

	// An expired page: nothing changes and the page says why.
	e.visit("/ui/account")
	e.clock.Advance(2 * time.Hour)
	before = len(e.user(tenant, user).Authenticators)
	e.click("#methods tr[data-method=email] button.danger, #methods tr:last-child form[action='/ui/account/remove'] button")
	if !strings.Contains(e.text("#error"), "Siden er utløpt") {
		t.Fatalf("expired page: %q", e.text("main"))
	}
	e.check("expired page")
	if after := len(e.user(tenant, user).Authenticators); after != before {
		t.Fatalf("an expired page removed a method")
	}
}

func snippet(s string) string {
	if i := strings.Index(s, `role="`); i >= 0 && i+200 < len(s) {
		return s[i : i+200]
	}
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

// TestOtherAccount: a form left open for one account, submitted after
// another account (of another tenant) signed in in the same browser, is
// refused with a clear message, and nothing changes.
func TestOtherAccount(t *testing.T) {
	e := newEnv(t)
	e.enrolTOTP("uio.no", "per@uio.no", "Telefon")
	e.devLogin("uio.no", "per@uio.no", "account")
	other := e.newTab()
	e.run(other, chromedp.Navigate(e.url+"/ui/dev"), chromedp.WaitVisible(chromedp.CSS("#tenant")),
		e.js(`document.getElementById("tenant").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#tenant"), "ntnu.no"), chromedp.SendKeys(chromedp.CSS("#user"), "per@ntnu.no"))
	e.clickIn(other, "#dev-submit")
	if got := e.textIn(other, ".lead"); !strings.Contains(got, "per@ntnu.no") {
		t.Fatalf("second tab: %q", got)
	}
	e.click("#methods form[action='/ui/account/remove'] button")
	e.check("form of another account")
	if !strings.Contains(e.text("#error"), "en annen konto") {
		t.Fatalf("other account: %q", e.text("main"))
	}
	if got := activeCount(e.user("uio.no", "per@uio.no")); got != 1 {
		t.Fatalf("the other account's form removed a method (%d active)", got)
	}
}

// TestAxeCatches keeps the accessibility check honest: a page spoiled on
// purpose (an image without text, low-contrast text, a field without a
// label) must give violations.
func TestAxeCatches(t *testing.T) {
	e := newEnv(t)
	e.visit("/ui/")
	e.run(e.ctx, e.js(`const m = document.querySelector("main");
		m.insertAdjacentHTML("beforeend", '<img src="data:image/png;base64,iVBORw0KGgo="><p id="faint">faint</p><input id="nolabel">');
		const f = document.getElementById("faint"); f.style.color = "#bbbbbb"; f.style.background = "#ffffff"`))
	ids := map[string]bool{}
	for _, v := range e.axeRun(e.ctx, "spoiled page") {
		ids[v.ID] = true
	}
	for _, want := range []string{"image-alt", "color-contrast", "label"} {
		if !ids[want] {
			t.Errorf("axe-core did not report %s (got %v)", want, ids)
		}
	}
}
