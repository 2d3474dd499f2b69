package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Cookies. All are HttpOnly, SameSite=Lax, path /ui/, and Secure when the
// public URL is https.
const (
	cookieBrowser = "vakt_b"      // a random id the form tokens are bound to
	cookieSession = "vakt_s"      // the signed page session
	cookieFlow    = "vakt_signin" // the signed state of a sign-in step
	cookieLang    = "vakt_lang"   // nb or en (not signed: it only picks words)
)

// Session kinds.
const (
	kindUser  = "user"  // a person on their own security info (and reset)
	kindStaff = "staff" // the helpdesk console and the dashboard
)

// session is what the signed session cookie holds.
type session struct {
	Kind   string `json:"k"`
	Tenant string `json:"t"`
	User   string `json:"u,omitempty"`
	// Actor names who acts in the audit trail: "user" for a person, the
	// API key's actor for staff.
	Actor string `json:"a"`
	// Via says how the session began: dev, assertion or key.
	Via string `json:"v"`
	// Helpdesk and Stats say what a staff session may do.
	Helpdesk bool `json:"h,omitempty"`
	Stats    bool `json:"st,omitempty"`
	// AnyTenant: the key may act for every tenant (the admin key); the
	// session may switch tenant with the picker (/ui/helpdesk/tenant), and
	// has no tenant until one is picked.
	AnyTenant bool  `json:"at,omitempty"`
	Exp       int64 `json:"e"`
	// Reset is set after a successful self-service reset, so that the
	// security info page greets re-enrolment.
	Reset bool `json:"r,omitempty"`
}

// flow is the state of one sign-in step.
type flow struct {
	Tenant    string `json:"t"`
	User      string `json:"u"`
	Challenge string `json:"c"` // the engine's id
	App       string `json:"a"`
	ReturnTo  string `json:"r"`
	State     string `json:"s,omitempty"`
	RP        string `json:"p"`
	Exp       int64  `json:"e"`
	// Remember: the person asked to remember the browser before choosing
	// a push (the success comes from the phone).
	Remember bool `json:"m,omitempty"`
	// StepUp: the step of the edge guard's step-up page, which returns
	// with the party's token cookie and a redirect, asking for ACR within
	// MaxAge seconds (stepup.go).
	StepUp bool   `json:"x,omitempty"`
	ACR    string `json:"acr,omitempty"`
	MaxAge int64  `json:"ma,omitempty"`
}

// sign returns base64url(json(v)) "." base64url(hmac), bound to purpose.
func (w *Web) sign(purpose string, v any) string {
	b, _ := json.Marshal(v)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(w.mac(purpose, payload))
}

func (w *Web) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, w.signKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// verify checks a signed value and decodes it into v.
func (w *Web) verify(purpose, s string, v any) bool {
	if len(s) > 4096 {
		return false
	}
	payload, sig, ok := strings.Cut(s, ".")
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, w.mac(purpose, payload)) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	return err == nil && json.Unmarshal(b, v) == nil
}

func (w *Web) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true, Secure: w.secure, SameSite: http.SameSiteLaxMode}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("web: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// browserID is the browser's random id, made (and set) on first sight.
func (w *Web) browserID(rw http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(cookieBrowser); err == nil && len(c.Value) == 32 {
		if _, err := hex.DecodeString(c.Value); err == nil {
			return c.Value
		}
	}
	id := randomHex(16)
	http.SetCookie(rw, w.cookie(cookieBrowser, id, 0))
	return id
}

// sessionOf is the request's valid session, or nil.
func (w *Web) sessionOf(r *http.Request) *session {
	c, err := r.Cookie(cookieSession)
	if err != nil {
		return nil
	}
	var s session
	if !w.verify("session", c.Value, &s) || w.cfg.Now().Unix() >= s.Exp {
		return nil
	}
	return &s
}

// sessionExpired reports whether the request carries a session cookie that
// no longer holds (to say "your session expired" rather than "sign in").
func (w *Web) sessionExpired(r *http.Request) bool {
	_, err := r.Cookie(cookieSession)
	return err == nil && w.sessionOf(r) == nil
}

// startSession sets the session cookie.
func (w *Web) startSession(rw http.ResponseWriter, s session) {
	ttl := w.cfg.SessionTTL
	s.Exp = w.cfg.Now().Add(ttl).Unix()
	http.SetCookie(rw, w.cookie(cookieSession, w.sign("session", s), int(ttl/time.Second)+60))
}

// touch slides the session's expiry on a page view.
func (w *Web) touch(rw http.ResponseWriter, s *session) { w.startSession(rw, *s) }

func (w *Web) logout(rw http.ResponseWriter, r *http.Request) {
	if _, ok := w.checkForm(rw, r); !ok {
		return
	}
	http.SetCookie(rw, w.cookie(cookieSession, "", -1))
	http.SetCookie(rw, w.cookie(cookieFlow, "", -1))
	p := w.newPage(rw, r, "title.signed_out")
	p.Sess = nil
	p.Notice = p.T("msg.signed_out")
	w.render(p, http.StatusOK, "message")
}

// ---- form tokens ----------------------------------------------------------------

// formToken is what a form's hidden csrf field holds: the browser it was
// made for, a nonce (the idempotency key of the form's command) and when it
// stops being accepted.
type formToken struct {
	B string `json:"b"`
	N string `json:"n"`
	E int64  `json:"e"`
}

// FormTTL is how long a page's forms may be submitted.
const FormTTL = time.Hour

func (w *Web) newFormToken(bid string) string {
	return w.sign("form", formToken{B: bid, N: randomHex(16), E: w.cfg.Now().Add(FormTTL).Unix()})
}

// checkForm parses the form and checks its token: signed here, made for
// this browser, not expired. It answers the request itself when the token
// does not hold, and otherwise returns the nonce.
func (w *Web) checkForm(rw http.ResponseWriter, r *http.Request) (string, bool) {
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, http.StatusBadRequest, "err.form_too_large")
		return "", false
	}
	var t formToken
	c, err := r.Cookie(cookieBrowser)
	switch {
	case !w.verify("form", r.PostForm.Get("csrf"), &t) || err != nil ||
		subtle.ConstantTimeCompare([]byte(c.Value), []byte(t.B)) != 1:
		w.fail(rw, r, http.StatusForbidden, "err.form_invalid")
		return "", false
	case w.cfg.Now().Unix() >= t.E:
		w.fail(rw, r, http.StatusForbidden, "err.form_expired")
		return "", false
	}
	return t.N, true
}

// ---- language ----------------------------------------------------------------

func langOf(r *http.Request) string {
	if c, err := r.Cookie(cookieLang); err == nil && (c.Value == LangNB || c.Value == LangEN) {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			return LangEN
		case tag == "nb" || tag == "no" || tag == "nn" || strings.HasPrefix(tag, "nb-") || strings.HasPrefix(tag, "no-"):
			return LangNB
		}
	}
	return LangNB
}

func (w *Web) setLang(rw http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if lang != LangNB && lang != LangEN {
		w.fail(rw, r, http.StatusNotFound, "err.no_page")
		return
	}
	http.SetCookie(rw, &http.Cookie{Name: cookieLang, Value: lang, Path: Prefix, MaxAge: 365 * 24 * 3600, HttpOnly: true, Secure: w.secure, SameSite: http.SameSiteLaxMode})
	// Back to the same page, at the switch: the fragment puts focus (or, in
	// a browser that does not focus a fragment's target, the start of
	// sequential navigation) on the switch again, so that a keyboard user
	// goes on from where they were rather than from the top of the page.
	back, _, _ := strings.Cut(localPath(r.URL.Query().Get("back")), "#")
	redirect(rw, r, back+"#lang-switch")
}

// localPath accepts only a path of these pages (no scheme, no host, no
// "//"), so that the language switch is no open redirect.
func localPath(s string) string {
	if len(s) > 1024 || !strings.HasPrefix(s, Prefix) || strings.Contains(s, "//") || strings.ContainsAny(s, "\\\r\n") {
		return Prefix
	}
	return s
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
