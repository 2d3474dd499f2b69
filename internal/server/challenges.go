package server

import (
	"context"
	"net/http"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/push"
)

type issueRequest struct {
	App           string         `json:"app"`
	RequiredACR   string         `json:"required_acr,omitempty"`
	Method        string         `json:"method,omitempty"`
	RememberToken string         `json:"remember_token,omitempty"`
	Context       events.Context `json:"context,omitzero"`
}

type challengeView struct {
	ChallengeID   string     `json:"challenge_id"`
	Status        string     `json:"status"`
	Methods       []string   `json:"methods,omitempty"`
	NumberMatch   int        `json:"number_match,omitempty"`
	PushSent      bool       `json:"push_sent,omitempty"`
	CodeSentBy    string     `json:"code_sent_by,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	Token         string     `json:"token,omitempty"`
	TokenExpires  *time.Time `json:"token_expires_at,omitempty"`
	ACR           string     `json:"acr,omitempty"`
	AMR           []string   `json:"amr,omitempty"`
	Method        string     `json:"method,omitempty"`
	AuthTime      *time.Time `json:"auth_time,omitempty"`
	RememberToken string     `json:"remember_token,omitempty"`
	DeviceID      string     `json:"device_id,omitempty"`
}

func (s *Server) issue(w http.ResponseWriter, r *http.Request) {
	tenant, user, c, ok := s.forUser(w, r, ActChallenge)
	if !ok {
		return
	}
	var req issueRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.exec(r, c.Actor(), tenant, user, engine.IssueChallenge{
		App: req.App, RequiredACR: req.RequiredACR, Method: req.Method, RememberToken: req.RememberToken, Context: req.Context,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Duplicate {
		s.answerDuplicateChallenge(w, r, tenant, user, res)
		return
	}
	rep := res.Reply
	out := challengeView{ChallengeID: apiChallengeID(user, rep.ChallengeID), Status: rep.Status, Methods: rep.Methods, NumberMatch: rep.NumberMatch}
	if !rep.ExpiresAt.IsZero() {
		out.ExpiresAt = &rep.ExpiresAt
	}
	if rep.Status == engine.OutcomeSkipped {
		amr := []string{"remembered"}
		if err := s.mint(&out, tenant, user, req.App, rep.ChallengeID, rep.ACR, amr, res.Records[len(res.Records)-1].Time); err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, out)
		return
	}
	if err := s.afterReply(tenant, user, rep, &out); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// afterReply sends what a reply asks to send: a push to a device, a code by
// SMS or e-mail.
func (s *Server) afterReply(tenant, user string, rep engine.Reply, out *challengeView) error {
	if n := rep.Push; n != nil && s.cfg.Pusher != nil {
		// The device signs over the engine's challenge id and answers on
		// the API's.
		notice := push.Notice{PushNotice: *n, RespondID: apiChallengeID(user, n.ChallengeID)}
		if err := s.cfg.Pusher.Publish(tenant, notice); err != nil {
			// The push is still waiting in the user's state; the device finds
			// it on its next poll.
			s.log.Warn("push not published", "err", err)
		} else {
			out.PushSent = true
		}
	}
	if d := rep.Deliver; d != nil {
		if err := s.deliver(tenant, user, rep.ChallengeID, "", d); err != nil {
			return err
		}
		out.CodeSentBy = d.Method
	}
	return nil
}

// mint signs a session token into out.
func (s *Server) mint(out *challengeView, tenant, user, app, challengeID, acr string, amr []string, at time.Time) error {
	tok, exp, err := s.cfg.Tokens.Sign(Session{User: user, Tenant: tenant, ACR: acr, AMR: amr, AuthTime: at, App: app, ChallengeID: challengeID})
	if err != nil {
		return err
	}
	out.Token, out.TokenExpires, out.ACR, out.AMR = tok, &exp, acr, amr
	auth := at.UTC()
	out.AuthTime = &auth
	return nil
}

// answerDuplicateChallenge answers a retried issue with the challenge the
// first attempt issued.
func (s *Server) answerDuplicateChallenge(w http.ResponseWriter, r *http.Request, tenant, user string, res engine.Result) {
	for _, rec := range res.Records {
		if e, ok := rec.Event.(events.ChallengeIssued); ok {
			exp := e.ExpiresAt
			out := challengeView{ChallengeID: apiChallengeID(user, e.ChallengeID), Status: "pending", Methods: e.Methods, ExpiresAt: &exp}
			if e.Push != nil {
				out.NumberMatch = e.Push.Number
			}
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	duplicateAnswer(w)
}

type snoozeRequest struct {
	App string `json:"app"`
}

func (s *Server) snooze(w http.ResponseWriter, r *http.Request) {
	tenant, user, c, ok := s.forUser(w, r, ActChallenge)
	if !ok {
		return
	}
	var req snoozeRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.exec(r, c.Actor(), tenant, user, engine.SnoozeEnrolment{App: req.App})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Duplicate {
		// The token went with the first answer; a snooze is not repeated.
		duplicateAnswer(w)
		return
	}
	out := challengeView{ChallengeID: apiChallengeID(user, res.Reply.ChallengeID), Status: engine.OutcomeSkipped}
	if err := s.mint(&out, tenant, user, req.App, res.Reply.ChallengeID, "", []string{"snoozed"}, res.Records[0].Time); err != nil {
		s.writeError(w, r, err)
		return
	}
	out.ACR = ""
	writeJSON(w, http.StatusCreated, out)
}

// challengeOf reads and checks the challenge of a tenant-level route.
func challengeOf(r *http.Request) (tenant, user, id string, err error) {
	tenant, _, err = pathIDs(r)
	if err != nil {
		return "", "", "", err
	}
	user, id, err = parseChallengeID(r.PathValue("id"))
	return tenant, user, id, err
}

type verifyRequest struct {
	Code           string `json:"code"`
	RememberDevice bool   `json:"remember_device,omitempty"`
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	tenant, user, id, c, ok := s.forChallenge(w, r, ActChallenge)
	if !ok {
		return
	}
	var req verifyRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.exec(r, c.Actor(), tenant, user, engine.VerifyCode{ChallengeID: id, Code: req.Code, RememberDevice: req.RememberDevice})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answerSuccess(w, r, tenant, user, id, res)
}

// answerSuccess answers a challenge that succeeded with a session token
// (and the remember token, once).
func (s *Server) answerSuccess(w http.ResponseWriter, r *http.Request, tenant, user, id string, res engine.Result) {
	var ok *events.ChallengeSucceeded
	var at time.Time
	for _, rec := range res.Records {
		if e, is := rec.Event.(events.ChallengeSucceeded); is {
			ok, at = &e, rec.Time
		}
	}
	if ok == nil {
		// A push answer that denied, or a duplicate of one.
		writeJSON(w, http.StatusOK, challengeView{ChallengeID: apiChallengeID(user, id), Status: res.Reply.Status})
		return
	}
	out := challengeView{ChallengeID: apiChallengeID(user, id), Status: engine.OutcomeSucceeded, Method: ok.Method}
	app := s.appOf(r.Context(), tenant, user, id)
	if err := s.mint(&out, tenant, user, app, id, ok.ACR, ok.AMR, at); err != nil {
		s.writeError(w, r, err)
		return
	}
	out.RememberToken, out.DeviceID = res.Reply.RememberToken.Reveal(), res.Reply.DeviceID
	writeJSON(w, http.StatusOK, out)
}

// appOf finds the application of a recent challenge in the user's state.
func (s *Server) appOf(ctx context.Context, tenant, user, id string) string {
	u, err := s.svc.User(ctx, tenant, user)
	if err != nil {
		return ""
	}
	for _, f := range u.Finished {
		if f.ID == id {
			return f.App
		}
	}
	if c := u.Challenge(id); c != nil {
		return c.App
	}
	return ""
}

type respondRequest struct {
	AuthenticatorID  string `json:"authenticator_id"`
	Decision         string `json:"decision"`
	Number           int    `json:"number,omitempty"`
	UserVerification bool   `json:"user_verification,omitempty"`
	Signature        []byte `json:"signature"`
}

// respond is a device's answer to a push. It needs no API key: the engine
// checks the device's signature over the answer.
func (s *Server) respond(w http.ResponseWriter, r *http.Request) {
	tenant, user, id, err := challengeOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req respondRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.exec(r, "device:"+truncate(req.AuthenticatorID, 40), tenant, user, engine.RespondPush{
		ChallengeID: id, AuthenticatorID: req.AuthenticatorID, Decision: req.Decision, Number: req.Number,
		UserVerification: req.UserVerification, Signature: req.Signature,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The device gets the outcome only; the token goes to the relying party
	// when it polls the challenge.
	status := res.Reply.Status
	if res.Duplicate {
		status = "duplicate"
	}
	writeJSON(w, http.StatusOK, map[string]any{"challenge_id": apiChallengeID(user, id), "status": status})
}

type sendRequest struct {
	AuthenticatorID string `json:"authenticator_id,omitempty"`
	Method          string `json:"method"` // "push", "sms" or "email"
}

// send sends a code by SMS or e-mail, or a push, for a pending challenge.
func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	tenant, user, id, c, ok := s.forChallenge(w, r, ActChallenge)
	if !ok {
		return
	}
	var req sendRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var cmd engine.Command
	switch req.Method {
	case events.MethodPush:
		cmd = engine.SendPush{ChallengeID: id, AuthenticatorID: req.AuthenticatorID}
	case events.MethodSMS, events.MethodEmail:
		cmd = engine.SendCode{ChallengeID: id, AuthenticatorID: req.AuthenticatorID}
	default:
		s.writeError(w, r, vakt.Errorf(vakt.CodeInvalidArgument, "method must be push, sms or email"))
		return
	}
	res, err := s.exec(r, c.Actor(), tenant, user, cmd)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := challengeView{ChallengeID: apiChallengeID(user, id), Status: "pending", NumberMatch: res.Reply.NumberMatch}
	if !res.Duplicate {
		if err := s.afterReply(tenant, user, res.Reply, &out); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// remember remembers the browser after a challenge that succeeded elsewhere
// (a push); the remember token is in the answer, once.
func (s *Server) remember(w http.ResponseWriter, r *http.Request) {
	tenant, user, id, c, ok := s.forChallenge(w, r, ActChallenge)
	if !ok {
		return
	}
	if err := decode(r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.exec(r, c.Actor(), tenant, user, engine.RememberDevice{ChallengeID: id})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Duplicate {
		duplicateAnswer(w)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"remember_token": res.Reply.RememberToken.Reveal(), "device_id": res.Reply.DeviceID})
}

// challengeStatus answers where a challenge stands; with ?wait=30s it waits
// (up to a minute) while the challenge is pending, for the push answer.
func (s *Server) challengeStatus(w http.ResponseWriter, r *http.Request) {
	tenant, user, id, _, ok := s.forChallenge(w, r, ActChallenge)
	if !ok {
		return
	}
	wait, err := waitParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(wait)*time.Second)
	defer cancel()
	var wake <-chan struct{}
	if wait > 0 && s.cfg.Pusher != nil {
		// Subscribe before reading, so that an answer in between wakes us.
		ch, stop, err := s.cfg.Pusher.WaitUser(ctx, tenant, user)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		defer stop()
		wake = ch
	}
	for {
		out, pending, err := s.statusOf(r, tenant, user, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !pending || wake == nil {
			writeJSON(w, http.StatusOK, out)
			return
		}
		select {
		case _, ok := <-wake:
			if !ok { // the waiter stopped: answer with what we have
				writeJSON(w, http.StatusOK, out)
				return
			}
		case <-ctx.Done():
			writeJSON(w, http.StatusOK, out)
			return
		case <-s.draining:
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
}

func (s *Server) statusOf(r *http.Request, tenant, user, id string) (challengeView, bool, error) {
	u, err := s.svc.User(r.Context(), tenant, user)
	if err != nil {
		return challengeView{}, false, err
	}
	out := challengeView{ChallengeID: apiChallengeID(user, id)}
	if c := u.Challenge(id); c != nil {
		now := s.cfg.Now()
		if !now.Before(c.ExpiresAt) {
			out.Status = engine.OutcomeExpired
			return out, false, nil
		}
		exp := c.ExpiresAt
		out.Status, out.Methods, out.ExpiresAt = "pending", c.Methods, &exp
		out.PushSent = c.Push != nil
		return out, true, nil
	}
	for _, f := range u.Finished {
		if f.ID != id {
			continue
		}
		out.Status = f.Outcome
		if f.Outcome == engine.OutcomeSucceeded {
			out.Method = f.Method
			if err := s.mint(&out, tenant, user, f.App, id, f.ACR, f.AMR, f.At); err != nil {
				return out, false, err
			}
		}
		return out, false, nil
	}
	return out, false, vakt.Errorf(vakt.CodeNotFound, "no such challenge (challenges are kept until a few newer ones have ended)")
}
