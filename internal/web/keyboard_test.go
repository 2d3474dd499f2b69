package web_test

// Keyboard use and focus order (issue 6, point 6): the pages are walked with
// key events only (Tab, Shift+Tab, Enter, Space and typing, sent by
// chromedp's key actions as a keyboard sends them), never a click. Each
// element that takes focus must show a focus indicator, the order of focus
// must follow the reading order, and each task (sign in, add and remove a
// method, switch the language, skip to the content) must be possible from
// the keyboard alone.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/golang-jwt/jwt/v5"

	"github.com/vaktmfa/vakt/internal/web"
)

// focusInfo is what the browser says about document.activeElement.
type focusInfo struct {
	Tag          string  `json:"tag"`
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	Text         string  `json:"text"`
	Matches      bool    `json:"matches"`
	FocusVisible bool    `json:"focusVisible"`
	OutlineStyle string  `json:"outlineStyle"`
	OutlineWidth float64 `json:"outlineWidth"`
	BoxShadow    string  `json:"boxShadow"`
	Top          float64 `json:"top"`
	Left         float64 `json:"left"`
	Width        float64 `json:"width"`
	Height       float64 `json:"height"`
	InView       bool    `json:"inView"`
}

// none reports that nothing in the document has focus.
func (f focusInfo) none() bool { return f.Tag == "" || f.Tag == "body" || f.Tag == "html" }

func (f focusInfo) String() string {
	s := f.Tag
	if f.ID != "" {
		s += "#" + f.ID
	} else if f.Name != "" {
		s += "[name=" + f.Name + "]"
	}
	if f.Text != "" {
		s += fmt.Sprintf(" %q", f.Text)
	}
	return s
}

// detail is how the element shows its focus, for a failure message.
func (f focusInfo) detail() string {
	return fmt.Sprintf("%s (:focus-visible %v, outline %s %.0fpx, box-shadow %s, %.0fx%.0f at (%.0f, %.0f), in view %v)",
		f, f.FocusVisible, f.OutlineStyle, f.OutlineWidth, f.BoxShadow, f.Width, f.Height, f.Left, f.Top, f.InView)
}

// indicated reports whether the element shows that it has focus: it
// matches :focus-visible and draws the page's ring, inside the viewport.
func (f focusInfo) indicated() bool { return f.FocusVisible && f.ringShown() }

// ringShown reports whether the element draws a focus ring of the page's
// own and is on the screen: a box shadow, or an outline of at least 2px.
// Chromium's default ring (outline: auto, 1px) does not count: it is the
// ring of a page that lost its focus style, thin and unstyled.
func (f focusInfo) ringShown() bool {
	outline := f.OutlineStyle != "none" && f.OutlineStyle != "auto" && f.OutlineWidth >= 2
	shadow := f.BoxShadow != "" && f.BoxShadow != "none"
	return (outline || shadow) && f.InView && f.Width > 1 && f.Height > 1
}

// focused describes document.activeElement; sel, when given, is matched
// against it.
func (e *env) focused(sel string) focusInfo {
	e.t.Helper()
	tctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	f, err := chromedp.Run(tctx, chromedp.Evaluate[focusInfo](fmt.Sprintf(`(() => {
		const el = document.activeElement, sel = %q;
		if (!el || el === document.body || el === document.documentElement) return {tag: el ? el.tagName.toLowerCase() : ""};
		const cs = getComputedStyle(el), r = el.getBoundingClientRect();
		let text = el.getAttribute("aria-label") || "";
		if (!text && el.labels && el.labels.length) text = el.labels[0].textContent;
		if (!text) text = el.innerText || el.value || "";
		return {tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute("name") || "",
			text: text.replace(/\s+/g, " ").trim(), matches: sel !== "" && el.matches(sel),
			focusVisible: el.matches(":focus-visible"), outlineStyle: cs.outlineStyle,
			outlineWidth: parseFloat(cs.outlineWidth) || 0, boxShadow: cs.boxShadow,
			top: r.top + scrollY, left: r.left + scrollX, width: r.width, height: r.height,
			inView: r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth};
	})()`, sel)))
	if err != nil {
		e.t.Fatalf("read the focused element: %v", err)
	}
	return f
}

// newKeyboardEnv is newEnv with the tab treated as the focused window, as a
// person's browser window is: headless Chromium otherwise leaves a page
// loaded by navigation without system focus (document.hasFocus() false),
// where an element focused by the page matches no :focus.
func newKeyboardEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	if _, err := chromedp.Call(e.ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("focus emulation: %v", err)
	}
	return e
}

// press sends keys to the page as key events.
func (e *env) press(keys string, opts ...chromedp.KeyOption) {
	e.t.Helper()
	e.run(e.ctx, chromedp.KeyEvent(keys, opts...))
}

func (e *env) tab() focusInfo { e.t.Helper(); e.press(kb.Tab); return e.focused("") }
func (e *env) shiftTab() focusInfo {
	e.t.Helper()
	e.press(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))
	return e.focused("")
}

// pressAndLoad presses keys that send the browser to another page (Enter on
// a link or in a form) and waits until that page has loaded.
func (e *env) pressAndLoad(keys string) {
	e.t.Helper()
	e.run(e.ctx, e.js(`window.__kbBefore = true`))
	e.press(keys)
	e.waitLoaded()
}

// waitLoaded waits for a new document, loaded.
func (e *env) waitLoaded() {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		tctx, cancel := context.WithTimeout(e.ctx, 2*time.Second)
		done, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.readyState === "complete" && window.__kbBefore === undefined`))
		cancel()
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			e.shot(e.ctx, "failure")
			e.t.Fatalf("no new page loaded after the key press (page: %s)", e.bodyText(e.ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tabTo presses Tab until sel has focus, checking the focus indicator of
// every element on the way, and returns the elements visited.
func (e *env) tabTo(sel string) []focusInfo {
	e.t.Helper()
	var path []focusInfo
	for range 60 {
		e.press(kb.Tab)
		f := e.focused(sel)
		if !f.none() {
			path = append(path, f)
			if !f.indicated() {
				e.t.Errorf("%s has focus but shows no focus indicator", f.detail())
			}
		}
		if f.Matches {
			return path
		}
	}
	e.shot(e.ctx, "failure")
	e.t.Fatalf("Tab never reached %s; visited %v", sel, path)
	return nil
}

// walk presses Tab from the top of the page until focus leaves the
// document or comes round again, and returns the elements visited.
func (e *env) walk() []focusInfo {
	e.t.Helper()
	e.run(e.ctx, e.js(`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`))
	var path []focusInfo
	for range 80 {
		f := e.tab()
		if f.none() || len(path) > 0 && f.String() == path[0].String() && f.Top == path[0].Top {
			return path
		}
		path = append(path, f)
	}
	e.t.Fatalf("Tab did not leave the page after 80 presses: %v", path)
	return nil
}

// selectAll selects the text of the focused field, so that typing replaces
// it.
func (e *env) selectAll() {
	e.t.Helper()
	e.press("a", chromedp.KeyModifiers(chromedp.ModifierCtrl))
}

// keyboardDevLogin signs in through the development login with the
// keyboard.
func (e *env) keyboardDevLogin(tenant, user string) {
	e.t.Helper()
	e.visit("/ui/dev")
	e.tabTo("#tenant")
	e.selectAll()
	e.press(tenant)
	e.tabTo("#user")
	e.selectAll()
	e.press(user)
	e.pressAndLoad(kb.Enter) // the security info page is the default
	if got := e.text(".lead"); !strings.Contains(got, user) {
		e.t.Fatalf("the development login by keyboard landed on %q", e.bodyText(e.ctx))
	}
}

// TestKeyboardSignIn: the sign-in step from the top of the page with Tab
// and Shift+Tab, in reading order, every stop with a focus indicator; the
// skip link; and the step completed with Space (remember the browser),
// typing and Enter, back at the relying party.
func TestKeyboardSignIn(t *testing.T) {
	e := newKeyboardEnv(t)
	const tenant, user = "uio.no", "ola@uio.no"
	_, secret := e.enrolTOTP(tenant, user, "Telefon")
	// A push app too, so that the page offers another method (the app,
	// enrolled first, stays the default: the code form comes first).
	e.activate(e.mustAPI(201, "POST", userPath(tenant, user)+"/authenticators", e.admin, map[string]any{"method": "push", "label": "Mobil"}).str("activation_url"))

	ch := e.mustAPI(201, "POST", userPath(tenant, user)+"/challenges", e.admin, map[string]any{"app": "web"}).str("challenge_id")
	e.visit("/ui/enter?assertion=" + e.assertion(web.AssertionClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: user}, Tenant: tenant, Purpose: web.PurposeSignIn,
		Challenge: ch, ReturnTo: e.rp.callback(), State: "st-kb",
	}))
	e.checkLang("sign-in step", "nb")

	// The order of focus is the order of reading: the skip link, the header
	// (home, language), the code form (code, remember, submit), the other
	// methods and the help link. Nothing else takes focus.
	want := []string{
		"a.skip[href='#main']",
		"header a.brand",
		"header #lang-switch",
		"#code-form #code",
		"#code-form #remember",
		"#code-form #verify-button",
		"form[action='/ui/signin/method'] button",
		"main a#cant-use",
	}
	path := e.walk()
	t.Logf("Tab order: %v", path)
	if len(path) != len(want) {
		t.Errorf("Tab visits %d elements, want %d: %v", len(path), len(want), path)
	}
	e.run(e.ctx, e.js(`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`))
	var prev focusInfo
	for i, sel := range want {
		e.press(kb.Tab)
		f := e.focused(sel)
		if !f.Matches {
			t.Fatalf("Tab number %d: focus on %s, want %s", i+1, f, sel)
		}
		if !f.indicated() {
			t.Errorf("Tab number %d: %s shows no focus indicator", i+1, f.detail())
		}
		if f.Text == "" {
			t.Errorf("Tab number %d: %s has no accessible text", i+1, f)
		}
		// Reading order: down the page, or along the same line to the right.
		// (The skip link overlays the corner of the header while it has focus.)
		if i > 1 && (f.Top < prev.Top-4 || f.Top < prev.Top+4 && f.Left <= prev.Left) {
			t.Errorf("Tab number %d: %s at (%.0f, %.0f) comes before %s at (%.0f, %.0f) on the screen", i+1, f, f.Left, f.Top, prev, prev.Left, prev.Top)
		}
		prev = f
	}
	// Shift+Tab goes back the same way.
	for i := len(want) - 2; i >= 0; i-- {
		e.shiftTab()
		if f := e.focused(want[i]); !f.Matches {
			t.Fatalf("Shift+Tab back to number %d: focus on %s, want %s", i+1, f, want[i])
		}
	}

	// The skip link: first, visible while it has focus, hidden otherwise;
	// Enter moves focus to the main content, and the next Tab to the code.
	e.visit("/ui/signin")
	e.tab()
	if skip := e.focused("a.skip"); !skip.Matches || skip.Text != "Hopp til innholdet" || !skip.indicated() || skip.Left < 0 {
		t.Errorf("the first Tab: %s, want the skip link, visible", skip.detail())
	}
	e.press(kb.Enter)
	if f := e.focused("main#main"); !f.Matches {
		t.Errorf("Enter on the skip link: focus on %s, want main", f)
	}
	if left := e.evalFloat(`document.querySelector("a.skip").getBoundingClientRect().right`); left > 0 {
		t.Errorf("the skip link stays on screen without focus (right edge at %.0f)", left)
	}
	if f := e.tab(); f.ID != "code" {
		t.Errorf("Tab after the skip link: %s, want the code field", f)
	}

	// Remember the browser with Space, back to the code with Shift+Tab,
	// type the code, Enter.
	e.tab()
	if f := e.focused("#remember"); !f.Matches {
		t.Fatalf("Tab after the code: %s, want the remember box", f)
	}
	e.press(" ")
	if !e.evalBool(`document.getElementById("remember").checked`) {
		t.Error("Space did not tick the remember box")
	}
	if f := e.shiftTab(); f.ID != "code" {
		t.Fatalf("Shift+Tab: %s, want the code field", f)
	}
	e.clock.Advance(30 * time.Second) // the enrolment used this step's code
	code := e.totp(secret)
	e.press(code[:3] + " " + code[3:])
	e.press(kb.Enter)
	got := e.rp.received(t, 1)
	e.waitURL(e.rp.srv.URL)
	if c := claimsOf(t, got.Get("token")); c["sub"] != user || got.Get("state") != "st-kb" || got.Get("remember_token") == "" {
		t.Fatalf("the relying party got %v", got)
	}
	if h := e.text("h1"); h != "Signed in at the relying party" {
		t.Errorf("back at the relying party: %q", h)
	}
}

// TestKeyboardSecurityInfo: sign in, add an authenticator app and remove it
// again with the keyboard only; every element on the way shows its focus.
func TestKeyboardSecurityInfo(t *testing.T) {
	e := newKeyboardEnv(t)
	const tenant, user = "uio.no", "kari@uio.no"
	e.keyboardDevLogin(tenant, user)
	if !e.exists("#no-methods") {
		t.Fatalf("a new user has methods: %s", e.bodyText(e.ctx))
	}

	// Add: Tab to the app's "Add" button, Enter.
	e.tabTo("#add-totp button[type=submit]")
	e.pressAndLoad(kb.Enter)
	e.check("add authenticator app (keyboard)")
	secret := strings.ReplaceAll(e.text("#manual-key"), " ", "")
	if len(secret) < 16 {
		t.Fatalf("no key shown: %q", e.text("main"))
	}
	e.tabTo("#confirm-form #code")
	code := e.totp(secret)
	e.press(code)
	e.pressAndLoad(kb.Enter)
	e.check("authenticator app added (keyboard)")
	if !strings.Contains(e.text("#notice"), "lagt til") || !e.exists("#methods tr[data-method=totp]") {
		t.Fatalf("the app was not added: %s", e.bodyText(e.ctx))
	}
	if got := activeCount(e.user(tenant, user)); got != 1 {
		t.Fatalf("%d active methods, want 1", got)
	}

	// Every stop of the page, from the top, shows its focus.
	path := e.walk()
	t.Logf("Tab order of the security info page: %v", path)
	for _, f := range path {
		if !f.indicated() {
			t.Errorf("%s shows no focus indicator", f.detail())
		}
		if f.Text == "" {
			t.Errorf("%s has no accessible text", f)
		}
	}

	// Remove: Tab to the row's "Remove" button, Enter. (The page asks for no
	// confirmation: the removal is one form.)
	e.visit("/ui/account")
	path = e.tabTo("#methods tr[data-method=totp] form[action='/ui/account/remove'] button")
	if f := path[len(path)-1]; !strings.HasPrefix(f.Text, "Fjern") {
		t.Errorf("the remove button says %q", f.Text)
	}
	e.pressAndLoad(kb.Enter)
	e.check("authenticator app removed (keyboard)")
	if !strings.Contains(e.text("#notice"), "fjernet") || !e.exists("#no-methods") {
		t.Fatalf("the app was not removed: %s", e.bodyText(e.ctx))
	}
	if got := activeCount(e.user(tenant, user)); got != 0 {
		t.Fatalf("%d active methods after the removal, want 0", got)
	}
}

// TestKeyboardLanguageSwitch: Enter on the language switch changes <html
// lang> and the skip link's language, and focus comes back to the switch,
// from where Tab and Shift+Tab go on in the page's order.
func TestKeyboardLanguageSwitch(t *testing.T) {
	e := newKeyboardEnv(t)
	e.keyboardDevLogin("uio.no", "per@uio.no")
	for _, to := range []struct{ lang, skip, switchSays, signOut string }{
		{"en", "Skip to content", "Norsk (bokmål)", "Sign out"},
		{"nb", "Hopp til innholdet", "English", "Logg ut"},
	} {
		e.visit("/ui/account")
		e.tabTo("#lang-switch")
		e.pressAndLoad(kb.Enter)
		e.checkLang("security info after the switch to "+to.lang, to.lang)
		if got := e.text("h1"); (to.lang == "en") != (got == "Security info") {
			t.Errorf("the page in %s has the title %q", to.lang, got)
		}
		if p := e.evalString(`location.pathname`); p != "/ui/account" {
			t.Errorf("the switch to %s went to %s, not back to the page", to.lang, p)
		}
		f := e.focused("#lang-switch")
		if !f.Matches {
			t.Fatalf("after the switch to %s focus is on %s, not on the switch", to.lang, f)
		}
		if !f.indicated() || f.Text != to.switchSays {
			t.Errorf("after the switch to %s the switch: %s", to.lang, f.detail())
		}
		e.tab()
		if f := e.focused("form[action='/ui/logout'] button"); !f.Matches || f.Text != to.signOut {
			t.Errorf("Tab after the switch: %s, want sign out", f)
		}
		e.shiftTab()
		e.shiftTab()
		if f := e.focused("header nav a[href='/ui/account']"); !f.Matches {
			t.Errorf("Shift+Tab twice after the switch: %s, want the security info link", f)
		}
		e.shiftTab()
		if f := e.focused("header a.brand"); !f.Matches {
			t.Errorf("Shift+Tab after the security info link: %s, want the home link", f)
		}
		e.shiftTab()
		if f := e.focused("a.skip"); !f.Matches || f.Text != to.skip {
			t.Errorf("the skip link in %s says %q", to.lang, f.Text)
		}
	}
}

func (e *env) evalBool(src string) bool {
	e.t.Helper()
	v, err := chromedp.Run(e.ctx, chromedp.Evaluate[bool](src))
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) evalFloat(src string) float64 {
	e.t.Helper()
	v, err := chromedp.Run(e.ctx, chromedp.Evaluate[float64](src))
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) evalString(src string) string {
	e.t.Helper()
	v, err := chromedp.Run(e.ctx, chromedp.Evaluate[string](src))
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}
