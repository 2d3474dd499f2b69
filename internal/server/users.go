package server

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/push"
	"github.com/vaktmfa/vakt/internal/qrpng"
)

// exec runs a command for a user as caller, with the request's idempotency
// key, and reports the events it appended to the metrics.
func (s *Server) exec(r *http.Request, actor, tenant, user string, cmd engine.Command) (engine.Result, error) {
	id, err := commandID(r)
	if err != nil {
		return engine.Result{}, err
	}
	return Execute(r.Context(), s.svc, s.cfg.Metrics, engine.Request{Tenant: tenant, User: user, Command: cmd, ID: id, Actor: actor})
}

// Execute runs a command and counts the events it appended (m may be nil;
// a retry's events were counted when they were appended). The API and the
// pages (internal/web) both run commands through it.
func Execute(ctx context.Context, svc *engine.Service, m Metrics, req engine.Request) (engine.Result, error) {
	res, err := svc.Execute(ctx, req)
	if m != nil && len(res.Records) > 0 && !res.Duplicate {
		types := make([]string, len(res.Records))
		for i, rec := range res.Records {
			types[i] = rec.Type
		}
		m.Events(types)
	}
	return res, err
}

// duplicateAnswer is the reply to a retried request whose first reply was
// lost: the work was done; one-time values are not shown again.
func duplicateAnswer(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "duplicate", "message": "this request was already carried out; one-time values are not shown again"})
}

type enrolRequest struct {
	Method     string `json:"method"`
	Label      string `json:"label"`
	Account    string `json:"account,omitempty"`
	Address    string `json:"address,omitempty"`
	Secret     string `json:"secret,omitempty"`
	Onboarding bool   `json:"onboarding,omitempty"`
}

type enrolResponse struct {
	AuthenticatorID string    `json:"authenticator_id"`
	Method          string    `json:"method"`
	Status          string    `json:"status"`
	ExpiresAt       time.Time `json:"expires_at"`
	OTPAuthURI      string    `json:"otpauth_uri,omitempty"`
	Secret          string    `json:"secret,omitempty"`
	QRPNG           string    `json:"qr_png,omitempty"`
	ActivationURL   string    `json:"activation_url,omitempty"`
	CodeSentTo      string    `json:"code_sent_to,omitempty"`
}

func (s *Server) enrol(w http.ResponseWriter, r *http.Request) {
	tenant, user, c, ok := s.forUser(w, r, ActEnrol)
	if !ok {
		return
	}
	var req enrolRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.exec(r, c.Actor(), tenant, user, engine.StartEnrolment{
		Method: req.Method, Label: req.Label, Account: req.Account, Address: req.Address, Secret: req.Secret, Onboarding: req.Onboarding,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Duplicate {
		duplicateAnswer(w)
		return
	}
	rep := res.Reply
	out := enrolResponse{AuthenticatorID: rep.AuthenticatorID, Method: rep.Method, Status: rep.Status, ExpiresAt: rep.ExpiresAt,
		OTPAuthURI: rep.OTPAuthURI.Reveal(), Secret: rep.Secret.Reveal()}
	qr := out.OTPAuthURI
	if rep.Activation != "" {
		out.ActivationURL = s.activationURL(tenant, user, rep.AuthenticatorID, rep.Activation.Reveal())
		qr = out.ActivationURL
	}
	if qr != "" {
		if out.QRPNG, err = qrpng.DataURL(qr, 256); err != nil {
			s.writeError(w, r, vakt.Errorf(vakt.CodeInternal, "draw the QR code: %w", err))
			return
		}
	}
	if rep.Deliver != nil {
		if err := s.deliver(tenant, user, "", rep.AuthenticatorID, rep.Deliver); err != nil {
			s.writeError(w, r, err)
			return
		}
		out.CodeSentTo = rep.Deliver.Method
	}
	writeJSON(w, http.StatusCreated, out)
}

// activationURL is what a push device scans: where to confirm, and the
// activation code only this screen shows.
func (s *Server) activationURL(tenant, user, id, code string) string {
	q := url.Values{"s": {s.cfg.PublicURL}, "t": {tenant}, "u": {user}, "a": {id}, "c": {code}}
	return "vakt://activate?" + q.Encode()
}

func (s *Server) deliver(tenant, user, challengeID, authenticatorID string, d *engine.Delivery) error {
	if s.cfg.Deliverer == nil {
		return vakt.Errorf(vakt.CodeMethodNotAllowed, "this server has no SMS or e-mail delivery configured")
	}
	return s.cfg.Deliverer.Send(tenant, user, challengeID, authenticatorID, d)
}

type confirmRequest struct {
	Code             string `json:"code,omitempty"`
	PublicKey        []byte `json:"public_key,omitempty"`
	Signature        []byte `json:"signature,omitempty"`
	UserVerification bool   `json:"user_verification,omitempty"`
}

// confirm activates a pending authenticator. A push device confirms without
// an API key: its signature over the activation code (which only the
// enrolment screen showed) is its credential.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	tenant, user, err := pathIDs(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req confirmRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	actor := "device:" + truncate(id, 40)
	if r.Header.Get("Authorization") != "" {
		c, err := s.caller(r, tenant, ActEnrol)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		actor = c.Actor()
	} else if err := s.keylessConfirm(r, tenant, user, id, req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.exec(r, actor, tenant, user, engine.ConfirmEnrolment{
		AuthenticatorID: id, Code: req.Code, PublicKey: req.PublicKey, Signature: req.Signature, UserVerification: req.UserVerification,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Duplicate {
		duplicateAnswer(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": res.Reply.Status, "authenticator_id": res.Reply.AuthenticatorID, "method": res.Reply.Method, "acr": res.Reply.ACR})
}

// keylessConfirm admits a confirmation without an API key only for what a
// push device sends: a pending push authenticator, a public key and a
// signature over the activation code, no code. Everything else (a TOTP, HOTP,
// SMS or e-mail confirmation) needs the relying party's key, so that nobody
// can confirm, or spend the confirmation attempts of, an enrolment that is
// not theirs.
func (s *Server) keylessConfirm(r *http.Request, tenant, user, id string, req confirmRequest) error {
	needKey := vakt.Errorf(vakt.CodeUnauthorized, "send an API key as Authorization: Bearer <key> (only a push device confirms with its signature alone)")
	if req.Code != "" || len(req.PublicKey) == 0 || len(req.Signature) == 0 {
		return needKey
	}
	u, err := s.svc.User(r.Context(), tenant, user)
	if err != nil {
		return err
	}
	a := u.Authenticator(id)
	if a == nil || a.Method != events.MethodPush || a.Status != engine.StatusPending {
		return needKey
	}
	return nil
}

type authenticatorView struct {
	ID         string     `json:"id"`
	Method     string     `json:"method"`
	Label      string     `json:"label"`
	Status     string     `json:"status"`
	Default    bool       `json:"default"`
	ACR        string     `json:"acr,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

func (s *Server) listAuthenticators(w http.ResponseWriter, r *http.Request) {
	tenant, user, _, ok := s.forUser(w, r, ActReadUser)
	if !ok {
		return
	}
	u, err := s.svc.User(r.Context(), tenant, user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if u.Erased {
		s.writeError(w, r, vakt.Errorf(vakt.CodeErased, "this user was erased"))
		return
	}
	lastUsed := s.lastUsed(r.Context(), tenant, user)
	out := struct {
		Authenticators []authenticatorView `json:"authenticators"`
		Default        string              `json:"default,omitempty"`
	}{Authenticators: []authenticatorView{}, Default: u.Default}
	for _, a := range u.Authenticators {
		v := authenticatorView{ID: a.ID, Method: a.Method, Label: a.Label, Status: a.Status, Default: a.ID == u.Default, ACR: a.ACR, CreatedAt: a.CreatedAt}
		if a.Status == engine.StatusPending {
			t := a.ExpiresAt
			v.ExpiresAt = &t
		}
		if t, ok := lastUsed[a.ID]; ok {
			v.LastUsedAt = &t
		}
		out.Authenticators = append(out.Authenticators, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// lastUsed reads the authenticators' last use from the security info read
// model (it may lag the stream by a moment; the list itself comes from the
// user's state and does not).
func (s *Server) lastUsed(ctx context.Context, tenant, user string) map[string]time.Time {
	info, ok := s.securityInfoDoc(ctx, tenant, user)
	if !ok {
		return nil
	}
	out := map[string]time.Time{}
	for _, a := range info.Authenticators {
		if !a.LastUsedAt.IsZero() {
			out[a.ID] = a.LastUsedAt
		}
	}
	return out
}

type renameRequest struct {
	Label string `json:"label"`
}

func (s *Server) rename(w http.ResponseWriter, r *http.Request) {
	s.userCommand(w, r, []Action{ActEnrol}, func(body func(any) error) (engine.Command, error) {
		var req renameRequest
		if err := body(&req); err != nil {
			return nil, err
		}
		return engine.RenameAuthenticator{AuthenticatorID: r.PathValue("id"), Label: req.Label}, nil
	}, http.StatusOK)
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	// The user (through a relying party) or the helpdesk may remove one.
	s.userCommand(w, r, []Action{ActEnrol, ActHelpdesk}, func(body func(any) error) (engine.Command, error) {
		if err := body(&struct{}{}); err != nil {
			return nil, err
		}
		return engine.RemoveAuthenticator{AuthenticatorID: r.PathValue("id")}, nil
	}, http.StatusNoContent)
}

type resyncRequest struct {
	Code1 string `json:"code1"`
	Code2 string `json:"code2"`
}

func (s *Server) resync(w http.ResponseWriter, r *http.Request) {
	s.userCommand(w, r, []Action{ActEnrol}, func(body func(any) error) (engine.Command, error) {
		var req resyncRequest
		if err := body(&req); err != nil {
			return nil, err
		}
		return engine.ResyncHOTP{AuthenticatorID: r.PathValue("id"), Code1: req.Code1, Code2: req.Code2}, nil
	}, http.StatusOK)
}

type defaultRequest struct {
	AuthenticatorID string `json:"authenticator_id"`
}

func (s *Server) setDefault(w http.ResponseWriter, r *http.Request) {
	s.userCommand(w, r, []Action{ActEnrol}, func(body func(any) error) (engine.Command, error) {
		var req defaultRequest
		if err := body(&req); err != nil {
			return nil, err
		}
		return engine.SetDefault{AuthenticatorID: req.AuthenticatorID}, nil
	}, http.StatusOK)
}

func (s *Server) forgetDevice(w http.ResponseWriter, r *http.Request) {
	s.userCommand(w, r, []Action{ActEnrol}, func(body func(any) error) (engine.Command, error) {
		if err := body(&struct{}{}); err != nil {
			return nil, err
		}
		return engine.ForgetDevice{DeviceID: r.PathValue("id")}, nil
	}, http.StatusNoContent)
}

func (s *Server) forgetDevices(w http.ResponseWriter, r *http.Request) {
	s.userCommand(w, r, []Action{ActEnrol}, func(body func(any) error) (engine.Command, error) {
		if err := body(&struct{}{}); err != nil {
			return nil, err
		}
		return engine.ForgetDevice{All: true}, nil
	}, http.StatusNoContent)
}

// userCommand is the common shape of a call that runs one command for the
// user in the path and answers with the reply's status.
func (s *Server) userCommand(w http.ResponseWriter, r *http.Request, actions []Action, build func(body func(any) error) (engine.Command, error), status int) {
	tenant, user, c, ok := s.forUser(w, r, actions...)
	if !ok {
		return
	}
	cmd, err := build(func(v any) error { return decode(r, v) })
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.exec(r, c.Actor(), tenant, user, cmd)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	out := map[string]any{"status": res.Reply.Status}
	if res.Duplicate {
		out["status"] = "duplicate"
	}
	if res.Reply.AuthenticatorID != "" {
		out["authenticator_id"] = res.Reply.AuthenticatorID
	}
	writeJSON(w, status, out)
}

func (s *Server) recoveryCodes(w http.ResponseWriter, r *http.Request) {
	tenant, user, c, ok := s.forUser(w, r, ActEnrol)
	if !ok {
		return
	}
	if err := decode(r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.exec(r, c.Actor(), tenant, user, engine.IssueRecoveryCodes{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Duplicate {
		duplicateAnswer(w)
		return
	}
	codes := make([]string, len(res.Reply.RecoveryCodes))
	for i, c := range res.Reply.RecoveryCodes {
		codes[i] = c.Reveal()
	}
	writeJSON(w, http.StatusCreated, map[string]any{"codes": codes})
}

// pushes is the device's long poll for pushes sent to it, authenticated by
// the device's signature over the user, the authenticator and the time.
func (s *Server) pushes(w http.ResponseWriter, r *http.Request) {
	tenant, user, err := pathIDs(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	if !events.IsID(id) {
		s.writeError(w, r, vakt.Errorf(vakt.CodeInvalidArgument, "authenticator id must be one vakt returned"))
		return
	}
	wait, err := waitParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.svc.User(r.Context(), tenant, user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkDevice(r, u, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	pending := s.pendingPushes(r.Context(), u, id)
	if len(pending) == 0 && wait > 0 && s.cfg.Pusher != nil {
		// Subscribe, then read the state again, so that a push sent in
		// between is not missed.
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(wait)*time.Second)
		defer cancel()
		ch, stop, err := s.cfg.Pusher.WaitPush(ctx, tenant, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		defer stop()
		if u, err = s.svc.User(r.Context(), tenant, user); err != nil {
			s.writeError(w, r, err)
			return
		}
		if pending = s.pendingPushes(r.Context(), u, id); len(pending) == 0 {
			select {
			case n, ok := <-ch:
				if ok {
					pending = append(pending, n)
				}
			case <-ctx.Done():
			case <-s.draining:
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"pushes": pending})
}

// pendingPushes lists the unexpired pushes of a user's state for one
// authenticator, with the client details the live push carried (sealed in
// the state, opened with the user's data key).
func (s *Server) pendingPushes(ctx context.Context, u *engine.User, id string) []push.Notice {
	now := s.cfg.Now()
	pending := []push.Notice{}
	var key *engine.DataKey
	for _, c := range u.Challenges {
		if c.Push == nil || c.Push.AuthenticatorID != id || !now.Before(c.Push.ExpiresAt) {
			continue
		}
		client := events.Context{Application: c.Application}
		if !c.Client.IsZero() {
			if key == nil {
				key, _ = s.svc.Keys.DataKey(ctx, u.Tenant, u.ID, false)
			}
			if key != nil {
				if cc, err := engine.OpenClient(key, u.Tenant, u.ID, c.ID, c.Application, c.Client); err == nil {
					client = cc
				} else {
					s.log.Warn("push: the client details do not open", "err", err)
				}
			}
		}
		pending = append(pending, push.Notice{PushNotice: engine.PushNotice{
			AuthenticatorID: id, ChallengeID: c.ID, App: c.App,
			Choices: c.Push.Choices, Context: client, ExpiresAt: c.Push.ExpiresAt,
		}, RespondID: apiChallengeID(u.ID, c.ID)})
	}
	return pending
}

// checkDevice verifies a device request's signature header.
func (s *Server) checkDevice(r *http.Request, u *engine.User, id string) error {
	bad := vakt.Errorf(vakt.CodeUnauthorized, "sign device requests: Authorization: Vakt-Device <signature>, X-Vakt-Time: <unix seconds>")
	sigB64, ok := stringsCut(r.Header.Get("Authorization"), "Vakt-Device ")
	if !ok {
		return bad
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return bad
	}
	unix, err := strconv.ParseInt(r.Header.Get("X-Vakt-Time"), 10, 64)
	if err != nil {
		return bad
	}
	if d := s.cfg.Now().Sub(time.Unix(unix, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return vakt.Errorf(vakt.CodeUnauthorized, "the device's clock is more than 5 minutes off; set it right")
	}
	a := u.Authenticator(id)
	if a == nil || a.Method != events.MethodPush || a.Status != engine.StatusActive || len(a.PublicKey) != ed25519.PublicKeySize {
		return bad
	}
	if !ed25519.Verify(a.PublicKey, engine.DeviceMessage(u.Tenant, u.ID, id, unix), sig) {
		return bad
	}
	return nil
}

func stringsCut(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return "", false
	}
	return s[len(prefix):], true
}
