package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
	"github.com/vaktmfa/vakt/internal/qrpng"
	"github.com/vaktmfa/vakt/internal/server"
	"github.com/vaktmfa/vakt/projections"
)

// Limits on what the forms take.
const (
	maxLabel   = 64
	maxAddress = 254
	maxCode    = 64
	maxSecret  = 128
	maxTicket  = 64
)

// requireUser is the request's user session, or answers with why there is
// none.
func (w *Web) requireUser(rw http.ResponseWriter, r *http.Request) *session {
	s := w.sessionOf(r)
	switch {
	case s != nil && s.Kind == kindUser:
		return s
	case s == nil && w.sessionExpired(r):
		w.fail(rw, r, http.StatusUnauthorized, "err.session_expired")
	default:
		w.fail(rw, r, http.StatusUnauthorized, "err.signin_needed")
	}
	return nil
}

// sameAccount checks that a form was made for the session's account: a
// form left open while another account signed in in the same browser is
// refused, and nothing changes.
func (w *Web) sameAccount(rw http.ResponseWriter, r *http.Request, s *session) bool {
	if r.PostForm.Get("tenant") != s.Tenant || r.PostForm.Get("user") != s.User {
		w.fail(rw, r, http.StatusConflict, "err.other_account")
		return false
	}
	return true
}

// accountForm checks a form posted on the security info page: a good form
// (checkForm), a user session, and the session's own account. On failure it
// has answered and ok is false.
func (w *Web) accountForm(rw http.ResponseWriter, r *http.Request) (nonce string, s *session, ok bool) {
	if nonce, ok = w.checkForm(rw, r); !ok {
		return "", nil, false
	}
	if s = w.requireUser(rw, r); s == nil || !w.sameAccount(rw, r, s) {
		return "", nil, false
	}
	return nonce, s, true
}

// methodRow is one authenticator on the security info page.
type methodRow struct {
	ID, Method, Label, Status, ACR string
	Default                        bool
	Created, LastUsed              time.Time
}

type deviceRow struct {
	ID, App            string
	Created, ExpiresAt time.Time
}

type accountData struct {
	Tenant, User  string
	Methods       []methodRow
	Devices       []deviceRow
	RecoveryLeft  int
	Locked        bool
	LockedUntil   time.Time
	Addable       []string
	Reset         bool
	ActiveMethods int
}

// noticeKeys are the notices a redirect may name (?n=...).
var noticeKeys = map[string]string{
	"added": "msg.added", "removed": "msg.removed", "default": "msg.default_changed",
	"forgotten": "msg.forgotten", "duplicate": "msg.duplicate", "reset": "msg.reset_done",
}

func (w *Web) account(rw http.ResponseWriter, r *http.Request) {
	s := w.requireUser(rw, r)
	if s == nil {
		return
	}
	w.touch(rw, s)
	p := w.newPage(rw, r, "title.account")
	p.Sess = s
	if k, ok := noticeKeys[r.URL.Query().Get("n")]; ok {
		p.Notice = p.T(k)
	}
	d, err := w.accountData(r.Context(), s)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	p.Data = d
	w.render(p, http.StatusOK, "account")
}

func (w *Web) accountData(ctx context.Context, s *session) (*accountData, error) {
	u, err := w.svc.User(ctx, s.Tenant, s.User)
	if err != nil {
		return nil, err
	}
	if u.Erased {
		return nil, vakt.Errorf(vakt.CodeErased, "erased")
	}
	pol, err := w.svc.Policy(ctx, s.Tenant)
	if err != nil {
		return nil, err
	}
	now := w.cfg.Now()
	lastUsed := map[string]time.Time{}
	if info, ok := w.securityInfo(ctx, s.Tenant, s.User); ok {
		for _, a := range info.Authenticators {
			lastUsed[a.ID] = a.LastUsedAt
		}
	}
	d := &accountData{Tenant: s.Tenant, User: s.User, Reset: s.Reset}
	for _, a := range u.Authenticators {
		if a.Status == engine.StatusPending && !now.Before(a.ExpiresAt) {
			continue
		}
		d.Methods = append(d.Methods, methodRow{ID: a.ID, Method: a.Method, Label: a.Label, Status: a.Status, ACR: a.ACR,
			Default: a.ID == u.Default, Created: a.CreatedAt, LastUsed: lastUsed[a.ID]})
		if a.Status == engine.StatusActive {
			d.ActiveMethods++
		}
	}
	for _, dv := range u.Devices {
		if now.Before(dv.ExpiresAt) {
			d.Devices = append(d.Devices, deviceRow{ID: dv.ID, App: dv.App, Created: dv.CreatedAt, ExpiresAt: dv.ExpiresAt})
		}
	}
	for _, c := range u.RecoveryCodes {
		if !c.Used {
			d.RecoveryLeft++
		}
	}
	d.Locked, d.LockedUntil = u.Lock.Active(now), u.Lock.Until
	for _, m := range []string{events.MethodTOTP, events.MethodPush, events.MethodSMS, events.MethodEmail} {
		if slices.Contains(pol.Methods, m) {
			d.Addable = append(d.Addable, m)
		}
	}
	if slices.Contains(pol.Methods, events.MethodTOTP) || slices.Contains(pol.Methods, events.MethodHOTP) {
		d.Addable = append(d.Addable, "key")
	}
	return d, nil
}

// securityInfo reads a user's security info read model (it may lag the
// stream by a moment: the pages use it only for "last used").
func (w *Web) securityInfo(ctx context.Context, tenant, user string) (projections.SecurityInfo, bool) {
	var info projections.SecurityInfo
	b, ok, err := w.cfg.Stack.Views.Get(ctx, projections.NameSecurityInfo, projections.Key{Tenant: tenant, ID: user})
	if err != nil || !ok || jsonx.Unmarshal(b, &info) != nil {
		return info, false
	}
	return info, true
}

// enrolData is the page that shows a new authenticator's QR code or key.
type enrolData struct {
	Tenant, User    string
	ID, Method      string
	Label           string
	QR              string // data URL
	KeyGroups       []string
	ActivationURL   string
	CodeSentTo      string
	NeedsCode       bool
	ExpiresAt       time.Time
	HOTP            bool
	CodeDigits      int
	ConfirmFailures bool
}

// form values, trimmed and bounded.
func formValue(r *http.Request, key string, max int) (string, bool) {
	v := strings.TrimSpace(r.PostForm.Get(key))
	return v, utf8.RuneCountInString(v) <= max && utf8.ValidString(v)
}

// normalizeCode drops the spaces and dashes people type into codes.
func normalizeCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u00a0' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

func (w *Web) accountAdd(rw http.ResponseWriter, r *http.Request) {
	nonce, s, ok := w.accountForm(rw, r)
	if !ok {
		return
	}
	method := r.PostForm.Get("method")
	label, okL := formValue(r, "label", maxLabel)
	address, okA := formValue(r, "address", maxAddress)
	secret, okS := formValue(r, "secret", maxSecret)
	var problem string
	cmd := engine.StartEnrolment{Label: label}
	switch method {
	case events.MethodTOTP, events.MethodPush:
		cmd.Method = method
	case events.MethodSMS, events.MethodEmail:
		cmd.Method, cmd.Address = method, address
		if address == "" || !okA {
			problem = "err.address_" + method
		}
	case "key":
		cmd.Method, cmd.Secret = r.PostForm.Get("kind"), strings.ToUpper(normalizeCode(secret))
		if cmd.Method != events.MethodTOTP && cmd.Method != events.MethodHOTP {
			problem = "err.key_kind"
		} else if cmd.Secret == "" || !okS {
			problem = "err.key_secret"
		}
	default:
		problem = "err.method"
	}
	if problem == "" && (label == "" || !okL) {
		problem = "err.label"
	}
	if problem != "" {
		w.accountProblem(rw, r, s, problem)
		return
	}
	res, err := w.exec(r.Context(), s.Tenant, s.User, "user", nonce, cmd)
	if err != nil {
		w.accountErr(rw, r, s, err)
		return
	}
	if res.Duplicate {
		redirect(rw, r, Prefix+"account?n=duplicate")
		return
	}
	rep := res.Reply
	d := &enrolData{Tenant: s.Tenant, User: s.User, ID: rep.AuthenticatorID, Method: rep.Method, Label: label, ExpiresAt: rep.ExpiresAt,
		HOTP: rep.Method == events.MethodHOTP, CodeDigits: 6}
	qr := rep.OTPAuthURI.Reveal()
	if rep.Activation != "" {
		d.ActivationURL = activationURL(w.cfg.PublicURL, s.Tenant, s.User, rep.AuthenticatorID, rep.Activation.Reveal())
		qr = d.ActivationURL
	}
	if qr != "" && cmd.Secret == "" {
		if d.QR, err = qrpng.DataURL(qr, 256); err != nil {
			w.failErr(rw, r, vakt.Errorf(vakt.CodeInternal, "draw the QR code: %w", err))
			return
		}
	}
	if sec := rep.Secret.Reveal(); sec != "" && cmd.Secret == "" {
		d.KeyGroups = groups(sec, 4)
	}
	if rep.Deliver != nil {
		if w.cfg.Deliverer == nil {
			w.accountErr(rw, r, s, vakt.Errorf(vakt.CodeMethodNotAllowed, "no delivery"))
			return
		}
		if err := w.cfg.Deliverer.Send(s.Tenant, s.User, "", rep.AuthenticatorID, rep.Deliver); err != nil {
			w.accountErr(rw, r, s, err)
			return
		}
		d.CodeSentTo = rep.Deliver.Method
	}
	d.NeedsCode = rep.Method != events.MethodPush
	p := w.newPage(rw, r, "title.enrol_"+enrolTitle(rep.Method))
	p.Sess = s
	p.Data = d
	w.render(p, http.StatusOK, "enrol")
}

func enrolTitle(method string) string {
	switch method {
	case events.MethodHOTP:
		return "key"
	}
	return method
}

// groups splits a key into groups of n for reading aloud and typing.
func groups(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

// activationURL is what a push device (`vakt device`) scans: the same link
// the API gives (internal/server).
func activationURL(public, tenant, user, id, code string) string {
	q := url.Values{"s": {public}, "t": {tenant}, "u": {user}, "a": {id}, "c": {code}}
	return "vakt://activate?" + q.Encode()
}

func (w *Web) accountConfirm(rw http.ResponseWriter, r *http.Request) {
	nonce, s, ok := w.accountForm(rw, r)
	if !ok {
		return
	}
	id := r.PostForm.Get("id")
	code, okC := formValue(r, "code", maxCode)
	code = normalizeCode(code)
	d := &enrolData{Tenant: s.Tenant, User: s.User, ID: id, NeedsCode: true, ConfirmFailures: true}
	if u, err := w.svc.User(r.Context(), s.Tenant, s.User); err == nil {
		if a := u.Authenticator(id); a != nil {
			d.Method, d.Label, d.ExpiresAt, d.HOTP = a.Method, a.Label, a.ExpiresAt, a.Method == events.MethodHOTP
		}
	}
	again := func(key string) {
		p := w.newPage(rw, r, "title.confirm")
		p.Sess = s
		p.Error = p.T(key)
		p.Data = d
		w.render(p, http.StatusBadRequest, "enrol")
	}
	if !events.IsID(id) || d.Method == "" {
		w.accountProblem(rw, r, s, "err.not_found")
		return
	}
	if code == "" || !okC {
		again("err.code_missing")
		return
	}
	res, err := w.exec(r.Context(), s.Tenant, s.User, "user", nonce, engine.ConfirmEnrolment{AuthenticatorID: id, Code: code})
	if err != nil {
		switch vakt.As(err).Code {
		case vakt.CodeInvalidCode, vakt.CodeCodeReused, vakt.CodeInvalidArgument:
			again(errKey(vakt.As(err).Code))
		default:
			w.accountErr(rw, r, s, err)
		}
		return
	}
	if res.Duplicate {
		redirect(rw, r, Prefix+"account?n=duplicate")
		return
	}
	redirect(rw, r, Prefix+"account?n=added")
}

// accountCommand runs a one-field command from the security info page.
func (w *Web) accountCommand(rw http.ResponseWriter, r *http.Request, notice string, build func(id string) engine.Command) {
	nonce, s, ok := w.accountForm(rw, r)
	if !ok {
		return
	}
	id := r.PostForm.Get("id")
	if !events.IsID(id) && id != "all" {
		w.accountProblem(rw, r, s, "err.not_found")
		return
	}
	res, err := w.exec(r.Context(), s.Tenant, s.User, "user", nonce, build(id))
	if err != nil {
		w.accountErr(rw, r, s, err)
		return
	}
	if res.Duplicate {
		notice = "duplicate"
	}
	redirect(rw, r, Prefix+"account?n="+notice)
}

func (w *Web) accountDefault(rw http.ResponseWriter, r *http.Request) {
	w.accountCommand(rw, r, "default", func(id string) engine.Command { return engine.SetDefault{AuthenticatorID: id} })
}

func (w *Web) accountRemove(rw http.ResponseWriter, r *http.Request) {
	w.accountCommand(rw, r, "removed", func(id string) engine.Command { return engine.RemoveAuthenticator{AuthenticatorID: id} })
}

func (w *Web) accountForget(rw http.ResponseWriter, r *http.Request) {
	w.accountCommand(rw, r, "forgotten", func(id string) engine.Command {
		if id == "all" {
			return engine.ForgetDevice{All: true}
		}
		return engine.ForgetDevice{DeviceID: id}
	})
}

type recoveryData struct {
	Codes    []string
	Download string // data URL of a text file
}

func (w *Web) accountRecovery(rw http.ResponseWriter, r *http.Request) {
	nonce, s, ok := w.accountForm(rw, r)
	if !ok {
		return
	}
	res, err := w.exec(r.Context(), s.Tenant, s.User, "user", nonce, engine.IssueRecoveryCodes{})
	if err != nil {
		w.accountErr(rw, r, s, err)
		return
	}
	if res.Duplicate {
		redirect(rw, r, Prefix+"account?n=duplicate")
		return
	}
	d := &recoveryData{}
	var file strings.Builder
	p := w.newPage(rw, r, "title.recovery")
	p.Sess = s
	file.WriteString(p.T("recovery.file_header", s.User, s.Tenant) + "\n\n")
	for _, c := range res.Reply.RecoveryCodes {
		d.Codes = append(d.Codes, c.Reveal())
		file.WriteString(c.Reveal() + "\n")
	}
	d.Download = "data:text/plain;charset=utf-8;base64," + base64.StdEncoding.EncodeToString([]byte(file.String()))
	p.Data = d
	w.render(p, http.StatusOK, "recovery")
}

// accountProblem shows the security info page again with a message about
// the form.
func (w *Web) accountProblem(rw http.ResponseWriter, r *http.Request, s *session, key string) {
	p := w.newPage(rw, r, "title.account")
	p.Sess = s
	p.Error = p.T(key)
	d, err := w.accountData(r.Context(), s)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	p.Data = d
	w.render(p, http.StatusBadRequest, "account")
}

// accountErr shows an engine error on the security info page.
func (w *Web) accountErr(rw http.ResponseWriter, r *http.Request, s *session, err error) {
	e := vakt.As(err)
	if e.Code == vakt.CodeInternal {
		w.log.ErrorContext(r.Context(), "web: internal error", "route", server.RouteOf(r), "err", err)
	}
	w.accountProblem(rw, r, s, errKey(e.Code))
}
