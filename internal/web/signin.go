package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/push"
	"github.com/vaktmfa/vakt/internal/server"
)

// startFlow checks that the challenge is pending, keeps the step's state in
// a signed cookie that ends with the challenge, and opens the step.
func (w *Web) startFlow(rw http.ResponseWriter, r *http.Request, f flow) {
	u, err := w.svc.User(r.Context(), f.Tenant, f.User)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	c := u.Challenge(f.Challenge)
	if c == nil || !w.cfg.Now().Before(c.ExpiresAt) {
		w.fail(rw, r, http.StatusGone, "err.signin_expired")
		return
	}
	f.App, f.Exp = c.App, c.ExpiresAt.Unix()
	ttl := int(time.Until(c.ExpiresAt)/time.Second) + 60
	http.SetCookie(rw, w.cookie(cookieFlow, w.sign("flow", f), max(ttl, 60)))
	redirect(rw, r, Prefix+"signin")
}

// flowOf is the request's sign-in step, or answers with why there is none.
func (w *Web) flowOf(rw http.ResponseWriter, r *http.Request) *flow {
	c, err := r.Cookie(cookieFlow)
	var f flow
	if err != nil || !w.verify("flow", c.Value, &f) {
		w.fail(rw, r, http.StatusBadRequest, "err.no_signin")
		return nil
	}
	return &f
}

// choice is a way to answer the challenge.
type choice struct {
	ID, Method, Label string
}

type signinData struct {
	App            string
	ExpiresAt      time.Time
	SecondsLeft    int
	Codes          bool // a TOTP or HOTP authenticator may answer
	Sent           string
	Number         int // push: the number to pick on the phone
	PushLabel      string
	Pushes, Sends  []choice
	CanRemember    bool
	RememberDays   int
	Recovery       bool
	Help           bool
	RecoveryMethod bool
}

func (w *Web) signin(rw http.ResponseWriter, r *http.Request) {
	w.signinView(rw, r, false, "", http.StatusOK)
}

func (w *Web) signinHelp(rw http.ResponseWriter, r *http.Request) {
	w.signinView(rw, r, true, "", http.StatusOK)
}

// signinView shows the step: where the challenge stands and the ways to
// answer it.
func (w *Web) signinView(rw http.ResponseWriter, r *http.Request, help bool, errKey string, status int) {
	f := w.flowOf(rw, r)
	if f == nil {
		return
	}
	u, err := w.svc.User(r.Context(), f.Tenant, f.User)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	now := w.cfg.Now()
	c := u.Challenge(f.Challenge)
	if c == nil {
		w.signinEnded(rw, r, f, u)
		return
	}
	if !now.Before(c.ExpiresAt) {
		w.fail(rw, r, http.StatusGone, "err.signin_expired")
		return
	}
	pol, err := w.svc.Policy(r.Context(), f.Tenant)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	d := &signinData{App: c.App, ExpiresAt: c.ExpiresAt, SecondsLeft: int(c.ExpiresAt.Sub(now) / time.Second), Help: help}
	for _, a := range u.Active() {
		if !slices.Contains(c.Methods, a.Method) {
			continue
		}
		switch a.Method {
		case events.MethodTOTP, events.MethodHOTP:
			d.Codes = true
		case events.MethodPush:
			d.Pushes = append(d.Pushes, choice{ID: a.ID, Method: a.Method, Label: a.Label})
		case events.MethodSMS, events.MethodEmail:
			d.Sends = append(d.Sends, choice{ID: a.ID, Method: a.Method, Label: a.Label})
		}
	}
	d.Recovery = slices.Contains(c.Methods, events.MethodRecoveryCode) || slices.Contains(c.Methods, events.MethodTemporaryPass)
	if c.Push != nil && now.Before(c.Push.ExpiresAt) {
		d.Number = c.Push.Number
		if a := u.Authenticator(c.Push.AuthenticatorID); a != nil {
			d.PushLabel = a.Label
		}
	}
	if c.Code != nil && now.Before(c.Code.ExpiresAt) {
		d.Sent = c.Code.Method
	}
	for _, a := range pol.Apps {
		if a.Name == c.App && a.RememberFor > 0 && !f.StepUp {
			d.CanRemember, d.RememberDays = true, int(time.Duration(a.RememberFor)/(24*time.Hour))
		}
	}
	p := w.newPage(rw, r, "title.signin")
	if help {
		p.Title = "title.signin_help"
	}
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	p.Data = d
	if f.StepUp {
		// A code ends with a redirect to the party, which the form-action
		// of this page (the form's document) must allow.
		if t, err := url.Parse(f.ReturnTo); err == nil {
			p.FormTarget = t.Scheme + "://" + t.Host
		}
	}
	w.render(p, status, "signin")
}

// signinEnded answers a step whose challenge is no longer pending.
func (w *Web) signinEnded(rw http.ResponseWriter, r *http.Request, f *flow, u *engine.User) {
	for _, fin := range u.Finished {
		if fin.ID != f.Challenge {
			continue
		}
		switch fin.Outcome {
		case engine.OutcomeSucceeded:
			redirect(rw, r, Prefix+"signin/done")
		case engine.OutcomeDenied:
			w.fail(rw, r, http.StatusForbidden, "err.push_denied")
		case engine.OutcomeFraud:
			w.fail(rw, r, http.StatusForbidden, "err.push_fraud")
		default:
			w.fail(rw, r, http.StatusGone, "err.signin_expired")
		}
		return
	}
	w.fail(rw, r, http.StatusGone, "err.signin_expired")
}

// signinMethod sends a push or a code for the step.
func (w *Web) signinMethod(rw http.ResponseWriter, r *http.Request) {
	nonce, ok := w.checkForm(rw, r)
	if !ok {
		return
	}
	f := w.flowOf(rw, r)
	if f == nil {
		return
	}
	id := r.PostForm.Get("id")
	if !events.IsID(id) {
		w.signinView(rw, r, false, "err.method", http.StatusBadRequest)
		return
	}
	var cmd engine.Command
	switch r.PostForm.Get("method") {
	case events.MethodPush:
		cmd = engine.SendPush{ChallengeID: f.Challenge, AuthenticatorID: id}
	case events.MethodSMS, events.MethodEmail:
		cmd = engine.SendCode{ChallengeID: f.Challenge, AuthenticatorID: id}
	default:
		w.signinView(rw, r, false, "err.method", http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("remember") == "on" {
		f.Remember = true
		http.SetCookie(rw, w.cookie(cookieFlow, w.sign("flow", *f), int(time.Until(time.Unix(f.Exp, 0))/time.Second)+60))
	}
	res, err := w.exec(r.Context(), f.Tenant, f.User, "user", nonce, cmd)
	if err != nil {
		w.signinView(rw, r, false, errKey(vakt.As(err).Code), statusOf(vakt.As(err).Code))
		return
	}
	if !res.Duplicate {
		if n := res.Reply.Push; n != nil && w.cfg.Pusher != nil {
			if err := w.cfg.Pusher.Publish(f.Tenant, push.Notice{PushNotice: *n, RespondID: apiChallengeID(f.User, n.ChallengeID)}); err != nil {
				// The device finds it on its next poll.
				w.log.WarnContext(r.Context(), "web: push not published", "err", err)
			}
		}
		if d := res.Reply.Deliver; d != nil && w.cfg.Deliverer != nil {
			if err := w.cfg.Deliverer.Send(f.Tenant, f.User, f.Challenge, "", d); err != nil {
				w.signinView(rw, r, false, errKey(vakt.As(err).Code), statusOf(vakt.As(err).Code))
				return
			}
		}
	}
	redirect(rw, r, Prefix+"signin")
}

// signinVerify checks a code (TOTP, HOTP, SMS, e-mail, recovery code or
// temporary pass) and, when it holds, returns to the relying party.
func (w *Web) signinVerify(rw http.ResponseWriter, r *http.Request) {
	nonce, ok := w.checkForm(rw, r)
	if !ok {
		return
	}
	f := w.flowOf(rw, r)
	if f == nil {
		return
	}
	help := r.PostForm.Get("help") == "1"
	code, okC := formValue(r, "code", maxCode)
	code = normalizeCode(code)
	if code == "" || !okC {
		w.signinView(rw, r, help, "err.code_missing", http.StatusBadRequest)
		return
	}
	res, err := w.exec(r.Context(), f.Tenant, f.User, "user", nonce, engine.VerifyCode{
		ChallengeID: f.Challenge, Code: code, RememberDevice: r.PostForm.Get("remember") == "on",
	})
	if err != nil {
		e := vakt.As(err)
		if e.Code == vakt.CodeConflict || e.Code == vakt.CodeExpired {
			// Answered or ended meanwhile (a double submit, a push): show
			// where it stands.
			redirect(rw, r, Prefix+"signin")
			return
		}
		w.signinView(rw, r, help, errKey(e.Code), statusOf(e.Code))
		return
	}
	if res.Duplicate {
		redirect(rw, r, Prefix+"signin")
		return
	}
	w.finish(rw, r, f, res.Reply.RememberToken.Reveal())
}

// signinStatus is the step's status for the page's script, which polls it
// while a push waits: {"status": "pending"|"succeeded"|...}.
func (w *Web) signinStatus(rw http.ResponseWriter, r *http.Request) {
	status := "unknown"
	var f flow
	if c, err := r.Cookie(cookieFlow); err == nil && w.verify("flow", c.Value, &f) {
		if u, err := w.svc.User(r.Context(), f.Tenant, f.User); err == nil {
			if c := u.Challenge(f.Challenge); c != nil {
				status = "pending"
				if !w.cfg.Now().Before(c.ExpiresAt) {
					status = engine.OutcomeExpired
				}
			}
			for _, fin := range u.Finished {
				if fin.ID == f.Challenge {
					status = fin.Outcome
				}
			}
		}
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(rw).Encode(map[string]string{"status": status})
}

// signinDone returns to the relying party after a success elsewhere (a
// push), remembering the browser if the person asked to.
func (w *Web) signinDone(rw http.ResponseWriter, r *http.Request) {
	f := w.flowOf(rw, r)
	if f == nil {
		return
	}
	u, err := w.svc.User(r.Context(), f.Tenant, f.User)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	for _, fin := range u.Finished {
		if fin.ID == f.Challenge && fin.Outcome == engine.OutcomeSucceeded {
			remember := ""
			if f.Remember && !fin.Remembered {
				res, err := w.exec(r.Context(), f.Tenant, f.User, "user", "web-remember-"+f.Challenge, engine.RememberDevice{ChallengeID: f.Challenge})
				if err == nil && !res.Duplicate {
					remember = res.Reply.RememberToken.Reveal()
				}
			}
			w.finish(rw, r, f, remember)
			return
		}
	}
	redirect(rw, r, Prefix+"signin")
}

type doneData struct {
	ReturnTo, Token, State, RememberToken string
}

// finish mints the session token and posts it to the relying party's
// return address (the OpenID form_post pattern: the token never appears in
// a URL, a log line or a Referer).
func (w *Web) finish(rw http.ResponseWriter, r *http.Request, f *flow, rememberToken string) {
	u, err := w.svc.User(r.Context(), f.Tenant, f.User)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	var fin *engine.Finished
	for i := range u.Finished {
		if u.Finished[i].ID == f.Challenge && u.Finished[i].Outcome == engine.OutcomeSucceeded {
			fin = &u.Finished[i]
		}
	}
	if fin == nil {
		redirect(rw, r, Prefix+"signin")
		return
	}
	tok, exp, err := w.cfg.Tokens.Sign(server.Session{User: f.User, Tenant: f.Tenant, ACR: fin.ACR, AMR: fin.AMR, AuthTime: fin.At, App: fin.App, ChallengeID: f.Challenge})
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	if f.StepUp {
		w.stepUpFinish(rw, r, f, fin, tok, exp)
		return
	}
	http.SetCookie(rw, w.cookie(cookieFlow, "", -1))
	p := w.newPage(rw, r, "title.signin_done")
	p.Data = &doneData{ReturnTo: f.ReturnTo, Token: tok, State: f.State, RememberToken: rememberToken}
	if t, err := url.Parse(f.ReturnTo); err == nil {
		p.FormTarget = t.Scheme + "://" + t.Host
	}
	w.render(p, http.StatusOK, "done")
}
