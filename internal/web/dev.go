package web

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/push"
)

// The development login (`vakt serve --dev` only): anyone signs in as any
// user of any tenant, and can start a sign-in step that returns to a page
// here showing what a relying party would receive. Every page says so.

func (w *Web) devPage(rw http.ResponseWriter, r *http.Request) {
	if !w.cfg.DevLogin {
		w.fail(rw, r, http.StatusNotFound, "err.no_dev")
		return
	}
	p := w.newPage(rw, r, "title.dev")
	w.render(p, http.StatusOK, "dev")
}

func (w *Web) devLogin(rw http.ResponseWriter, r *http.Request) {
	if !w.cfg.DevLogin {
		w.fail(rw, r, http.StatusNotFound, "err.no_dev")
		return
	}
	nonce, ok := w.checkForm(rw, r)
	if !ok {
		return
	}
	tenant, okT := formValue(r, "tenant", events.MaxIDLen)
	user, okU := formValue(r, "user", events.MaxIDLen)
	problem := func(key string) {
		p := w.newPage(rw, r, "title.dev")
		p.Error = p.T(key)
		w.render(p, http.StatusBadRequest, "dev")
	}
	if !okT || events.ValidateID("tenant", tenant) != nil {
		problem("err.tenant")
		return
	}
	if !okU || events.ValidateID("user", user) != nil {
		problem("err.user")
		return
	}
	switch r.PostForm.Get("open") {
	case PurposeAccount:
		w.startSession(rw, session{Kind: kindUser, Tenant: tenant, User: user, Actor: "user", Via: "dev"})
		redirect(rw, r, Prefix+"account")
	case PurposeReset:
		w.startSession(rw, session{Kind: kindUser, Tenant: tenant, User: user, Actor: "user", Via: "dev"})
		redirect(rw, r, Prefix+"reset")
	case PurposeSignIn:
		app := r.PostForm.Get("app")
		if app != "web" && app != "office" && app != "rdp" {
			problem("err.app")
			return
		}
		res, err := w.exec(r.Context(), tenant, user, "dev-login", nonce, engine.IssueChallenge{App: app, Context: events.Context{Application: "Vakt development login"}})
		if err != nil {
			p := w.newPage(rw, r, "title.dev")
			p.Error = p.T(errKey(vakt.As(err).Code))
			w.render(p, statusOf(vakt.As(err).Code), "dev")
			return
		}
		if res.Duplicate || res.Reply.Status == engine.OutcomeSkipped {
			problem("msg.duplicate")
			return
		}
		w.afterIssue(r, tenant, user, res.Reply)
		w.startFlow(rw, r, flow{Tenant: tenant, User: user, Challenge: res.Reply.ChallengeID, ReturnTo: strings.TrimRight(w.cfg.PublicURL, "/") + Prefix + "dev/done", State: "dev", RP: "dev"})
	default:
		problem("err.open")
	}
}

// afterIssue publishes the push or sends the code a new challenge asks for.
func (w *Web) afterIssue(r *http.Request, tenant, user string, rep engine.Reply) {
	if n := rep.Push; n != nil && w.cfg.Pusher != nil {
		if err := w.cfg.Pusher.Publish(tenant, push.Notice{PushNotice: *n, RespondID: apiChallengeID(user, n.ChallengeID)}); err != nil {
			w.log.WarnContext(r.Context(), "web: push not published", "err", err)
		}
	}
	if d := rep.Deliver; d != nil && w.cfg.Deliverer != nil {
		if err := w.cfg.Deliverer.Send(tenant, user, rep.ChallengeID, "", d); err != nil {
			w.log.WarnContext(r.Context(), "web: code not sent", "err", err)
		}
	}
}

type devDoneData struct {
	Claims         string
	State          string
	HasRemember    bool
	TokenSignature bool
}

// devDone stands in for a relying party's return address: it shows the
// claims of the token it received (not the token).
func (w *Web) devDone(rw http.ResponseWriter, r *http.Request) {
	if !w.cfg.DevLogin {
		w.fail(rw, r, http.StatusNotFound, "err.no_dev")
		return
	}
	if r.Method != http.MethodPost {
		w.fail(rw, r, http.StatusMethodNotAllowed, "err.no_page")
		return
	}
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, http.StatusBadRequest, "err.form_too_large")
		return
	}
	d := &devDoneData{State: r.PostForm.Get("state"), HasRemember: r.PostForm.Get("remember_token") != ""}
	parts := strings.Split(r.PostForm.Get("token"), ".")
	if len(parts) == 3 {
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			var m map[string]any
			if json.Unmarshal(b, &m) == nil {
				pretty, _ := json.MarshalIndent(m, "", "  ")
				d.Claims, d.TokenSignature = string(pretty), true
			}
		}
	}
	p := w.newPage(rw, r, "title.dev_done")
	p.Data = d
	w.render(p, http.StatusOK, "devdone")
}
