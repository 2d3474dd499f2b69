package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/edge"
)

// The step-up page of the edge guard (internal/edge, docs/EDGE.md): the
// guard redirects a browser whose token is missing, too weak or too old to
//
//	GET /ui/step-up?return_to=...&required_acr=...&max_age=...&tenant=...
//
// The page accepts only a return_to that one of the relying parties with a
// step_up block allows (the same allow-list as the sign-in step's), names
// the person from their page session or from the token the guard read,
// and, when the person presses Continue (a form, so that a link alone
// starts no challenge and sends no push), runs a fresh challenge at
// required_acr through the sign-in step. On success it sets the party's
// token cookie and redirects to return_to (docs/PAGES.md).

// StepUp is a relying party's step-up settings: where the edge guard reads
// the token (token.cookie of its configuration).
type StepUp struct {
	// Cookie is the cookie the guard reads (its token.cookie).
	Cookie string `json:"cookie"`
	// CookieDomain, if set, is the Domain of the cookie: a parent domain
	// of both the pages and the party's return addresses ("uio.no").
	// Empty: a host-only cookie of the pages' host, which the party sees
	// only when it is on the same host.
	CookieDomain string `json:"cookie_domain,omitempty"`
	// App is the application of the challenge (the tenant policy's apps;
	// default "web").
	App string `json:"app,omitempty"`
}

func (s *StepUp) validate(rp *RelyingParty) error {
	bad := func(format string, args ...any) error {
		return vakt.Errorf(vakt.CodeInvalidArgument, "relying party %q: step_up: "+format, append([]any{rp.ID}, args...)...)
	}
	if s.Cookie == "" || len(s.Cookie) > 64 || strings.ContainsFunc(s.Cookie, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r)
	}) {
		return bad("cookie %q is not a cookie name", s.Cookie)
	}
	if s.CookieDomain != "" {
		d := strings.ToLower(strings.TrimPrefix(s.CookieDomain, "."))
		if !strings.Contains(d, ".") || strings.ContainsAny(d, "/:@ ") || len(d) > 253 {
			return bad("cookie_domain %q is not a domain name", s.CookieDomain)
		}
		for _, u := range rp.ReturnURLs {
			h := strings.ToLower(hostOf(u))
			if h != d && !strings.HasSuffix(h, "."+d) {
				return bad("return url %q is not under cookie_domain %q, so the guard there would not see the cookie", u, s.CookieDomain)
			}
		}
		s.CookieDomain = d
	}
	if s.App == "" {
		s.App = "web"
	}
	if events.ValidateID("app", s.App) != nil {
		return bad("app %q", s.App)
	}
	return nil
}

func hostOf(u string) string {
	_, rest, _ := strings.Cut(u, "://")
	h, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	return h
}

// acrLevels orders the acr values as the engine does.
var acrLevels = map[string]int{engine.ACRLow: 1, engine.ACRSubstantial: 2, engine.ACRHigh: 3}

// maxStepUpAge bounds max_age (a day; the guard's own bound is looser,
// but an older authentication is no step-up).
const maxStepUpAge = 24 * time.Hour

// stepUpRequest is what the guard's redirect names.
type stepUpRequest struct {
	ReturnTo, ACR, Tenant string
	MaxAge                int64 // seconds; 0: none
	rp                    *RelyingParty
}

// parseStepUp checks the step-up parameters; the error is a catalogue key.
func (w *Web) parseStepUp(get func(string) string) (*stepUpRequest, string) {
	q := &stepUpRequest{ReturnTo: get("return_to"), ACR: get("required_acr"), Tenant: get("tenant")}
	if events.ValidateID("tenant", q.Tenant) != nil {
		return nil, "err.stepup_params"
	}
	if _, ok := acrLevels[q.ACR]; q.ACR != "" && !ok {
		return nil, "err.stepup_params"
	}
	if s := get("max_age"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || n > int64(maxStepUpAge/time.Second) {
			return nil, "err.stepup_params"
		}
		q.MaxAge = n
	}
	for i := range w.cfg.RelyingParties {
		rp := &w.cfg.RelyingParties[i]
		if rp.StepUp != nil && rp.Tenant == q.Tenant && rp.allowedReturn(q.ReturnTo) {
			q.rp = rp
			return q, ""
		}
	}
	return nil, "err.return_url"
}

// stepUpUser names the person: a page session of the tenant, else the
// token in the party's cookie (verified as the guard verifies it; a token
// too weak or too old still names its holder, which is why they are here).
func (w *Web) stepUpUser(r *http.Request, q *stepUpRequest) string {
	if s := w.sessionOf(r); s != nil && s.Kind == kindUser && s.Tenant == q.Tenant {
		return s.User
	}
	cfg, err := json.Marshal(map[string]any{
		"tenant": q.Tenant, "issuer": strings.TrimRight(w.cfg.PublicURL, "/"), "jwks": json.RawMessage(w.cfg.Tokens.JWKS()),
		"routes": []any{}, "token": map[string]any{"cookie": q.rp.StepUp.Cookie, "from": []string{"cookie"}}, "cacheSize": 1,
	})
	if err != nil {
		return ""
	}
	g, err := edge.Compile(cfg)
	if err != nil {
		w.log.WarnContext(r.Context(), "web: step-up: the token check does not compile", "err", err)
		return ""
	}
	d := g.Check(edge.Request{Method: http.MethodGet, URI: "/", Cookie: r.Header.Get("Cookie")}, w.cfg.Now())
	if !d.Allow || d.Claims == nil || events.ValidateID("user", d.Claims.Subject) != nil {
		return ""
	}
	return d.Claims.Subject
}

type stepUpData struct {
	ReturnTo, ACR, Tenant, User, Party string
	MaxAge                             int64
	MaxAgeMinutes                      int64
}

// stepUpPage says who is asked to confirm, for what, and offers Continue.
func (w *Web) stepUpPage(rw http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	get := func(k string) string {
		if v := qv.Get(k); len(v) <= 2048 {
			return v
		}
		return "\x00"
	}
	q, bad := w.parseStepUp(get)
	if bad != "" {
		w.fail(rw, r, statusOfKey(bad), bad)
		return
	}
	user := w.stepUpUser(r, q)
	if user == "" {
		w.fail(rw, r, http.StatusUnauthorized, "err.stepup_who")
		return
	}
	p := w.newPage(rw, r, "title.stepup")
	p.Data = &stepUpData{ReturnTo: q.ReturnTo, ACR: q.ACR, Tenant: q.Tenant, User: user, Party: q.rp.ID, MaxAge: q.MaxAge, MaxAgeMinutes: (q.MaxAge + 59) / 60}
	w.render(p, http.StatusOK, "stepup")
}

func statusOfKey(k string) int {
	if k == "err.return_url" {
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// stepUpStart runs the challenge and opens the sign-in step, which returns
// through finish (stepUpFinish).
func (w *Web) stepUpStart(rw http.ResponseWriter, r *http.Request) {
	nonce, ok := w.checkForm(rw, r)
	if !ok {
		return
	}
	q, bad := w.parseStepUp(r.PostForm.Get)
	if bad != "" {
		w.fail(rw, r, statusOfKey(bad), bad)
		return
	}
	user := w.stepUpUser(r, q)
	if user == "" {
		w.fail(rw, r, http.StatusUnauthorized, "err.stepup_who")
		return
	}
	res, err := w.exec(r.Context(), q.Tenant, user, "step-up:"+q.rp.ID, nonce, engine.IssueChallenge{
		App: q.rp.StepUp.App, RequiredACR: q.ACR, Context: events.Context{Application: q.rp.ID},
	})
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	if res.Duplicate {
		// A double submit: the first one's sign-in step is open.
		redirect(rw, r, Prefix+"signin")
		return
	}
	if res.Reply.Status == engine.OutcomeSkipped {
		// No remember token is passed, so this does not happen; a skip
		// would be no fresh authentication.
		w.fail(rw, r, http.StatusConflict, "err.stepup_params")
		return
	}
	w.afterIssue(r, q.Tenant, user, res.Reply)
	w.startFlow(rw, r, flow{Tenant: q.Tenant, User: user, Challenge: res.Reply.ChallengeID, ReturnTo: q.ReturnTo, RP: q.rp.ID,
		StepUp: true, ACR: q.ACR, MaxAge: q.MaxAge})
}

// stepUpFinish sets the party's token cookie and goes back. The challenge
// is the one this step started, so the authentication is fresh; the acr
// and age are checked again against what the guard asked for.
func (w *Web) stepUpFinish(rw http.ResponseWriter, r *http.Request, f *flow, fin *engine.Finished, tok string, exp time.Time) {
	var rp *RelyingParty
	for i := range w.cfg.RelyingParties {
		if c := &w.cfg.RelyingParties[i]; c.ID == f.RP && c.StepUp != nil && c.allowedReturn(f.ReturnTo) {
			rp = c
		}
	}
	now := w.cfg.Now()
	switch {
	case rp == nil:
		w.fail(rw, r, http.StatusForbidden, "err.return_url")
		return
	case f.ACR != "" && acrLevels[fin.ACR] < acrLevels[f.ACR]:
		w.fail(rw, r, http.StatusForbidden, "err.stepup_acr")
		return
	case f.MaxAge > 0 && now.Sub(fin.At) > time.Duration(f.MaxAge)*time.Second:
		w.fail(rw, r, http.StatusForbidden, "err.signin_expired")
		return
	}
	http.SetCookie(rw, w.cookie(cookieFlow, "", -1))
	http.SetCookie(rw, &http.Cookie{Name: rp.StepUp.Cookie, Value: tok, Path: "/", Domain: rp.StepUp.CookieDomain,
		MaxAge: max(int(exp.Sub(now)/time.Second), 1), HttpOnly: true, Secure: w.secure, SameSite: http.SameSiteLaxMode})
	// The redirect ends a form's submission (the code): the sign-in page's
	// form-action allows the party's origin (signinView).
	redirect(rw, r, f.ReturnTo)
}
