package web

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
)

// A push enrolment is confirmed by the device, not by the page: the page
// waits. With JavaScript it polls enrolmentStatus and announces the
// activation in its live region; without, a "check again" link opens
// enrolmentCheck, which says where the enrolment stands.

// enrolmentState is where one of the session's authenticators stands:
// "pending", "active", "expired" or "unknown" (not this user's, or gone).
func (w *Web) enrolmentState(r *http.Request, s *session, id string) string {
	if !events.IsID(id) {
		return "unknown"
	}
	u, err := w.svc.User(r.Context(), s.Tenant, s.User)
	if err != nil {
		return "unknown"
	}
	a := u.Authenticator(id)
	switch {
	case a == nil:
		return "unknown"
	case a.Status == engine.StatusActive:
		return "active"
	case !w.cfg.Now().Before(a.ExpiresAt):
		return "expired"
	}
	return "pending"
}

// enrolmentStatus answers the page's script: {"status": "..."}.
func (w *Web) enrolmentStatus(rw http.ResponseWriter, r *http.Request) {
	status := "unknown"
	if s := w.sessionOf(r); s != nil && s.Kind == kindUser {
		status = w.enrolmentState(r, s, r.PathValue("id"))
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(rw).Encode(map[string]string{"status": status})
}

type enrolCheckData struct {
	ID, Status string
}

// enrolmentCheck is the "check again" page of a push enrolment without
// JavaScript: active goes to the security info page with a notice; pending
// says to confirm on the phone and offers to check again.
func (w *Web) enrolmentCheck(rw http.ResponseWriter, r *http.Request) {
	s := w.requireUser(rw, r)
	if s == nil {
		return
	}
	w.touch(rw, s)
	id := r.PathValue("id")
	switch st := w.enrolmentState(r, s, id); st {
	case "active":
		redirect(rw, r, Prefix+"account?n=activated")
	case "pending":
		p := w.newPage(rw, r, "title.enrol_push")
		p.Sess = s
		p.Notice = p.T("enrol.push_still_waiting")
		p.Data = &enrolCheckData{ID: url.PathEscape(id), Status: st}
		w.render(p, http.StatusOK, "enrolcheck")
	case "expired":
		w.fail(rw, r, http.StatusGone, "err.enrolment_expired")
	default:
		w.fail(rw, r, http.StatusNotFound, "err.not_found")
	}
}

func init() { noticeKeys["activated"] = "msg.activated" }
