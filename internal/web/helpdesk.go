package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/server"
	"github.com/vaktmfa/vakt/projections"
)

// The helpdesk console and the dashboard: staff sign in once with a
// helpdesk (or tenant admin) API key for one tenant and get a session; the
// key itself is never stored in the cookie.

func (w *Web) staffLoginPage(rw http.ResponseWriter, r *http.Request) {
	p := w.newPage(rw, r, "title.staff_login")
	w.render(p, http.StatusOK, "stafflogin")
}

func (w *Web) staffLogin(rw http.ResponseWriter, r *http.Request) {
	if _, ok := w.checkForm(rw, r); !ok {
		return
	}
	key := r.PostForm.Get("key")
	tenant, okT := formValue(r, "tenant", events.MaxIDLen)
	problem := func(status int, k string) {
		p := w.newPage(rw, r, "title.staff_login")
		p.Error = p.T(k)
		w.render(p, status, "stafflogin")
	}
	if key == "" || len(key) > 256 {
		problem(http.StatusBadRequest, "err.key_missing")
		return
	}
	c, err := w.cfg.Access.Authenticate(r.Context(), key)
	if err != nil {
		problem(http.StatusUnauthorized, "err.key_invalid")
		return
	}
	// A key of no one tenant (the admin key) picks one: typed here and
	// checked against the tenants the server knows, or from the picker.
	anyTenant := c.Tenant() == ""
	if tenant == "" && anyTenant {
		s := session{Kind: kindStaff, Actor: c.Actor(), Via: "key", AnyTenant: true}
		s.Helpdesk, s.Stats = staffCaps(c, probeTenant)
		if !s.Helpdesk && !s.Stats {
			problem(http.StatusForbidden, "err.key_scope")
			return
		}
		w.startSession(rw, s)
		redirect(rw, r, Prefix+"helpdesk/tenant")
		return
	}
	if tenant == "" {
		tenant = c.Tenant()
	}
	if !okT || events.ValidateID("tenant", tenant) != nil {
		problem(http.StatusBadRequest, "err.tenant")
		return
	}
	if anyTenant {
		known, err := w.knownTenants(r)
		if err != nil {
			w.failErr(rw, r, err)
			return
		}
		if !slices.Contains(known, tenant) {
			p := w.newPage(rw, r, "title.staff_login")
			p.Error = p.T("err.tenant_unknown", tenant)
			w.render(p, http.StatusBadRequest, "stafflogin")
			return
		}
	}
	s := session{Kind: kindStaff, Tenant: tenant, Actor: c.Actor(), Via: "key", AnyTenant: anyTenant}
	s.Helpdesk, s.Stats = staffCaps(c, tenant)
	if !s.Helpdesk && !s.Stats {
		problem(http.StatusForbidden, "err.key_scope")
		return
	}
	w.startSession(rw, s)
	if s.Helpdesk {
		redirect(rw, r, Prefix+"helpdesk")
		return
	}
	redirect(rw, r, Prefix+"admin")
}

// probeTenant stands for "every tenant" when asking what a key of no one
// tenant may do (only the admin key is such a key, and it may do all).
const probeTenant = "any.tenant.example"

// staffCaps is what a key may do in the console for tenant: the helpdesk
// (actions and the audit timeline) and the dashboard.
func staffCaps(c server.Caller, tenant string) (helpdesk, stats bool) {
	return c.Can(server.ActHelpdesk, tenant) && c.Can(server.ActAudit, tenant), c.Can(server.ActStats, tenant)
}

// maxTenants bounds the picker's list.
const maxTenants = 1000

// knownTenants lists the tenants with statistics (every tenant that has
// had an event), sorted, at most maxTenants.
func (w *Web) knownTenants(r *http.Request) ([]string, error) {
	keys, err := w.cfg.Stack.Views.Views().Keys(r.Context(), projections.NameTenantStats)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		if k.Tenant != "" && !slices.Contains(out, k.Tenant) {
			out = append(out, k.Tenant)
		}
	}
	slices.Sort(out)
	return out[:min(len(out), maxTenants)], nil
}

type pickData struct {
	Tenants []string
	Current string
}

// tenantPicker lets a session of the admin key choose the tenant to work
// on, from the tenants the server knows.
func (w *Web) tenantPicker(rw http.ResponseWriter, r *http.Request) {
	s := w.requireStaffSession(rw, r)
	if s == nil {
		return
	}
	if !s.AnyTenant {
		w.fail(rw, r, http.StatusForbidden, "err.one_tenant", s.Tenant)
		return
	}
	w.touch(rw, s)
	w.renderPicker(rw, r, s, "", http.StatusOK)
}

func (w *Web) renderPicker(rw http.ResponseWriter, r *http.Request, s *session, errKey string, status int, args ...any) {
	known, err := w.knownTenants(r)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	p := w.newPage(rw, r, "title.pick_tenant")
	p.Sess = s
	if errKey != "" {
		p.Error = p.T(errKey, args...)
	}
	p.Data = &pickData{Tenants: known, Current: s.Tenant}
	w.render(p, status, "picktenant")
}

func (w *Web) pickTenant(rw http.ResponseWriter, r *http.Request) {
	if _, ok := w.checkForm(rw, r); !ok {
		return
	}
	s := w.requireStaffSession(rw, r)
	if s == nil {
		return
	}
	if !s.AnyTenant {
		w.fail(rw, r, http.StatusForbidden, "err.one_tenant", s.Tenant)
		return
	}
	tenant, ok := formValue(r, "tenant", events.MaxIDLen)
	if tenant == "" || !ok || events.ValidateID("tenant", tenant) != nil {
		w.renderPicker(rw, r, s, "err.tenant", http.StatusBadRequest)
		return
	}
	known, err := w.knownTenants(r)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	if !slices.Contains(known, tenant) {
		w.renderPicker(rw, r, s, "err.tenant_unknown", http.StatusBadRequest, tenant)
		return
	}
	ns := *s
	ns.Tenant = tenant
	w.startSession(rw, ns)
	if ns.Helpdesk {
		redirect(rw, r, Prefix+"helpdesk")
		return
	}
	redirect(rw, r, Prefix+"admin")
}

// requireStaffSession is the request's staff session, with or without a
// tenant picked.
func (w *Web) requireStaffSession(rw http.ResponseWriter, r *http.Request) *session {
	s := w.sessionOf(r)
	switch {
	case s != nil && s.Kind == kindStaff:
		return s
	case s == nil && w.sessionExpired(r):
		w.fail(rw, r, http.StatusUnauthorized, "err.session_expired_staff")
	default:
		w.fail(rw, r, http.StatusUnauthorized, "err.staff_login_needed")
	}
	return nil
}

// requireStaff is the request's staff session, or answers with why there
// is none. A session of the admin key without a tenant goes to the picker.
func (w *Web) requireStaff(rw http.ResponseWriter, r *http.Request, helpdesk bool) *session {
	s := w.sessionOf(r)
	switch {
	case s != nil && s.Kind == kindStaff && s.Tenant == "":
		redirect(rw, r, Prefix+"helpdesk/tenant")
	case s != nil && s.Kind == kindStaff && (s.Helpdesk || !helpdesk):
		return s
	case s != nil && s.Kind == kindStaff:
		w.fail(rw, r, http.StatusForbidden, "err.key_scope")
	case s == nil && w.sessionExpired(r):
		w.fail(rw, r, http.StatusUnauthorized, "err.session_expired_staff")
	default:
		w.fail(rw, r, http.StatusUnauthorized, "err.staff_login_needed")
	}
	return nil
}

func (w *Web) helpdeskHome(rw http.ResponseWriter, r *http.Request) {
	s := w.requireStaff(rw, r, true)
	if s == nil {
		return
	}
	w.touch(rw, s)
	if q := strings.TrimSpace(r.URL.Query().Get("user")); q != "" {
		if events.ValidateID("user", q) != nil {
			p := w.newPage(rw, r, "title.helpdesk")
			p.Sess = s
			p.Error = p.T("err.user")
			w.render(p, http.StatusBadRequest, "helpdesk")
			return
		}
		redirect(rw, r, Prefix+"helpdesk/t/"+url.PathEscape(s.Tenant)+"/users/"+url.PathEscape(q))
		return
	}
	p := w.newPage(rw, r, "title.helpdesk")
	p.Sess = s
	w.render(p, http.StatusOK, "helpdesk")
}

type helpdeskData struct {
	Tenant, User   string
	Known          bool
	Methods        []methodRow
	Locked         bool
	LockedUntil    time.Time
	Permanent      bool
	FailedAttempts int
	RecoveryLeft   int
	Timeline       []projections.AuditEntry
	Pass           string
	PassExpires    time.Time
	Operator       string
}

// staffUser checks the tenant and user of a helpdesk route.
func (w *Web) staffUser(rw http.ResponseWriter, r *http.Request, s *session) (string, bool) {
	tenant, user := r.PathValue("t"), r.PathValue("u")
	if tenant != s.Tenant {
		w.fail(rw, r, http.StatusForbidden, "err.other_tenant", s.Tenant)
		return "", false
	}
	if events.ValidateID("user", user) != nil {
		w.fail(rw, r, http.StatusBadRequest, "err.user")
		return "", false
	}
	return user, true
}

func (w *Web) helpdeskUser(rw http.ResponseWriter, r *http.Request) {
	s := w.requireStaff(rw, r, true)
	if s == nil {
		return
	}
	user, ok := w.staffUser(rw, r, s)
	if !ok {
		return
	}
	w.touch(rw, s)
	d, err := w.helpdeskData(r, s, user)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	p := w.newPage(rw, r, "title.helpdesk_user")
	p.Sess = s
	if k, ok := noticeKeys[r.URL.Query().Get("n")]; ok {
		p.Notice = p.T(k)
	}
	if !d.Known {
		p.Notice = p.T("msg.no_such_user")
	}
	p.Data = d
	w.render(p, http.StatusOK, "helpdeskuser")
}

func (w *Web) helpdeskData(r *http.Request, s *session, user string) (*helpdeskData, error) {
	u, err := w.svc.User(r.Context(), s.Tenant, user)
	if err != nil {
		return nil, err
	}
	now := w.cfg.Now()
	d := &helpdeskData{Tenant: s.Tenant, User: user, Known: u.Head.Seq > 0, Locked: u.Lock.Active(now), LockedUntil: u.Lock.Until,
		Permanent: u.Lock.Permanent, FailedAttempts: u.Failures, Operator: operatorOf(s.Actor)}
	for _, a := range u.Authenticators {
		d.Methods = append(d.Methods, methodRow{ID: a.ID, Method: a.Method, Label: a.Label, Status: a.Status, Default: a.ID == u.Default, Created: a.CreatedAt})
	}
	for _, c := range u.RecoveryCodes {
		if !c.Used {
			d.RecoveryLeft++
		}
	}
	recs, err := w.cfg.Stack.Store.Load(r.Context(), events.Stream{Tenant: s.Tenant, User: user}, events.Head{})
	if err != nil {
		return nil, err
	}
	var trail projections.AuditTrail
	for i := range recs {
		trail.Apply(&recs[i])
	}
	// Newest first, the last 100.
	for i := len(trail.Entries) - 1; i >= 0 && len(d.Timeline) < 100; i-- {
		d.Timeline = append(d.Timeline, trail.Entries[i])
	}
	return d, nil
}

// helpdeskActor is the actor of a helpdesk command whose event has no
// operator or ticket field: the key's actor with both (at most
// events.MaxIDLen bytes; the caller checks).
func helpdeskActor(keyActor, operator, ticket string) string {
	return keyActor + " operator=" + strconv.Quote(operator) + " ticket=" + strconv.Quote(ticket)
}

// operatorOf suggests the operator field: the key's actor.
func operatorOf(actor string) string { return actor }

// helpdeskAction resets, unlocks or issues a temporary pass, with operator
// and ticket on record.
func (w *Web) helpdeskAction(rw http.ResponseWriter, r *http.Request) {
	nonce, ok := w.checkForm(rw, r)
	if !ok {
		return
	}
	s := w.requireStaff(rw, r, true)
	if s == nil {
		return
	}
	user, ok := w.staffUser(rw, r, s)
	if !ok {
		return
	}
	operator, okO := formValue(r, "operator", maxTicket)
	ticket, okT := formValue(r, "ticket", maxTicket)
	problem := func(status int, key string) {
		d, err := w.helpdeskData(r, s, user)
		if err != nil {
			w.failErr(rw, r, err)
			return
		}
		p := w.newPage(rw, r, "title.helpdesk_user")
		p.Sess = s
		p.Error = p.T(key)
		p.Data = d
		w.render(p, status, "helpdeskuser")
	}
	if operator == "" || !okO {
		problem(http.StatusBadRequest, "err.operator")
		return
	}
	if ticket == "" || !okT {
		problem(http.StatusBadRequest, "err.ticket")
		return
	}
	hd := engine.Helpdesk{Operator: operator, Ticket: ticket}
	var cmd engine.Command
	actor := s.Actor
	notice := ""
	switch r.PathValue("action") {
	case "reset":
		cmd = engine.Reset{Helpdesk: &hd, TemporaryPass: r.PostForm.Get("temporary_pass") == "on"}
		notice = "hd_reset"
	case "unlock":
		cmd = engine.Unlock{Operator: operator, Ticket: ticket}
		notice = "hd_unlocked"
	case "temporary-pass":
		cmd = engine.IssueTemporaryPass{Operator: operator, Ticket: ticket}
	case "remove":
		// One method. The engine's removal carries no ticket, so the
		// operator and ticket go on record in the event's actor.
		id := r.PostForm.Get("id")
		u, err := w.svc.User(r.Context(), s.Tenant, user)
		if err != nil {
			w.failErr(rw, r, err)
			return
		}
		if !events.IsID(id) || u.Authenticator(id) == nil {
			problem(http.StatusBadRequest, "err.pick_method")
			return
		}
		actor = helpdeskActor(s.Actor, operator, ticket)
		if len(actor) > events.MaxIDLen {
			problem(http.StatusBadRequest, "err.ticket_operator_long")
			return
		}
		cmd = engine.RemoveAuthenticator{AuthenticatorID: id}
		notice = "hd_removed"
	default:
		w.fail(rw, r, http.StatusNotFound, "err.no_page")
		return
	}
	res, err := w.exec(r.Context(), s.Tenant, user, actor, nonce, cmd)
	if err != nil {
		e := vakt.As(err)
		if e.Code == vakt.CodeInternal {
			w.log.ErrorContext(r.Context(), "web: helpdesk", "err", err)
		}
		problem(statusOf(e.Code), errKey(e.Code))
		return
	}
	base := Prefix + "helpdesk/t/" + url.PathEscape(s.Tenant) + "/users/" + url.PathEscape(user)
	if res.Duplicate {
		redirect(rw, r, base+"?n=duplicate")
		return
	}
	if pass := res.Reply.TemporaryPass.Reveal(); pass != "" {
		d, err := w.helpdeskData(r, s, user)
		if err != nil {
			w.failErr(rw, r, err)
			return
		}
		d.Pass, d.PassExpires = pass, res.Reply.ExpiresAt
		p := w.newPage(rw, r, "title.helpdesk_user")
		p.Sess = s
		p.Notice = p.T("msg.hd_pass")
		p.Data = d
		w.render(p, http.StatusOK, "helpdeskuser")
		return
	}
	redirect(rw, r, base+"?n="+notice)
}

func init() {
	noticeKeys["hd_reset"] = "msg.hd_reset"
	noticeKeys["hd_unlocked"] = "msg.hd_unlocked"
	noticeKeys["hd_removed"] = "msg.removed"
}
