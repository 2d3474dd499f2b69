package server

import (
	"context"
	"net/http"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
	"github.com/vaktmfa/vakt/projections"
)

type resetRequest struct {
	Proof         *events.Proof    `json:"proof,omitempty"`
	Helpdesk      *engine.Helpdesk `json:"helpdesk,omitempty"`
	TemporaryPass bool             `json:"temporary_pass,omitempty"`
}

// reset: a self-service reset after an identity proof (the relying party
// that ran the proof calls it) or a helpdesk reset with operator and ticket.
func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	tenant, user, err := pathIDs(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req resetRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	action := ActSelfReset
	if req.Helpdesk != nil {
		action = ActHelpdesk
	}
	c, err := s.caller(r, tenant, action)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.exec(r, c.Actor(), tenant, user, engine.Reset{Proof: req.Proof, Helpdesk: req.Helpdesk, TemporaryPass: req.TemporaryPass})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Duplicate {
		duplicateAnswer(w)
		return
	}
	out := map[string]any{"status": "reset"}
	if res.Reply.TemporaryPass != "" {
		out["temporary_pass"], out["expires_at"] = res.Reply.TemporaryPass.Reveal(), res.Reply.ExpiresAt
	}
	writeJSON(w, http.StatusOK, out)
}

type helpdeskRequest struct {
	Operator string          `json:"operator"`
	Ticket   string          `json:"ticket"`
	TTL      events.Duration `json:"ttl,omitempty"`
}

func (s *Server) unlock(w http.ResponseWriter, r *http.Request) {
	s.userCommand(w, r, []Action{ActHelpdesk}, func(body func(any) error) (engine.Command, error) {
		var req helpdeskRequest
		if err := body(&req); err != nil {
			return nil, err
		}
		if req.TTL != 0 {
			return nil, vakt.Errorf(vakt.CodeInvalidArgument, "unlock takes operator and ticket only")
		}
		return engine.Unlock{Operator: req.Operator, Ticket: req.Ticket}, nil
	}, http.StatusOK)
}

func (s *Server) temporaryPass(w http.ResponseWriter, r *http.Request) {
	tenant, user, c, ok := s.forUser(w, r, ActHelpdesk)
	if !ok {
		return
	}
	var req helpdeskRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.exec(r, c.Actor(), tenant, user, engine.IssueTemporaryPass{Operator: req.Operator, Ticket: req.Ticket, TTL: req.TTL})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Duplicate {
		duplicateAnswer(w)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"temporary_pass": res.Reply.TemporaryPass.Reveal(), "expires_at": res.Reply.ExpiresAt})
}

type eraseRequest struct {
	Operator string `json:"operator,omitempty"`
	Ticket   string `json:"ticket,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func (s *Server) erase(w http.ResponseWriter, r *http.Request) {
	s.userCommand(w, r, []Action{ActErase}, func(body func(any) error) (engine.Command, error) {
		var req eraseRequest
		if err := body(&req); err != nil {
			return nil, err
		}
		return engine.Erase{Operator: req.Operator, Ticket: req.Ticket, Reason: req.Reason}, nil
	}, http.StatusNoContent)
}

// securityInfoDoc reads a user's security info read model.
func (s *Server) securityInfoDoc(ctx context.Context, tenant, user string) (projections.SecurityInfo, bool) {
	var info projections.SecurityInfo
	b, ok, err := s.cfg.Stack.Views.Get(ctx, projections.NameSecurityInfo, projections.Key{Tenant: tenant, ID: user})
	if err != nil || !ok || jsonx.Unmarshal(b, &info) != nil {
		return info, false
	}
	return info, true
}

// securityInfo is the "security info" page's data: the read model (which
// may lag the stream by a moment). A user the read model has not seen yet,
// whose first events were just written, is folded from the stream here, so
// that a caller that has enrolled someone finds them at once.
func (s *Server) securityInfo(w http.ResponseWriter, r *http.Request) {
	tenant, user, _, ok := s.forUser(w, r, ActReadUser)
	if !ok {
		return
	}
	info, ok := s.securityInfoDoc(r.Context(), tenant, user)
	if !ok {
		recs, err := s.cfg.Stack.Store.Load(r.Context(), events.Stream{Tenant: tenant, User: user}, events.Head{})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(recs) == 0 {
			s.writeError(w, r, vakt.Errorf(vakt.CodeNotFound, "no such user"))
			return
		}
		for i := range recs {
			info.Apply(&recs[i])
		}
	}
	writeJSON(w, http.StatusOK, info)
}

// timeline is a user's audit trail, folded from the user's own events so
// that it is complete up to this moment.
func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	tenant, user, _, ok := s.forUser(w, r, ActAudit)
	if !ok {
		return
	}
	recs, err := s.cfg.Stack.Store.Load(r.Context(), events.Stream{Tenant: tenant, User: user}, events.Head{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var trail projections.AuditTrail
	for i := range recs {
		trail.Apply(&recs[i])
	}
	entries := trail.Entries
	if entries == nil {
		entries = []projections.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenant": tenant, "user": user, "events": entries})
}

func (s *Server) setPolicy(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := pathIDs(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.caller(r, tenant, ActPolicy)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The document is laid over the defaults: what it names replaces them,
	// zeros included (totp.skew 0, max_snoozes 0), and what it leaves out
	// is the default, not the tenant's previous value.
	p := engine.DefaultPolicy()
	if err := decode(r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := commandID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.svc.SetPolicy(r.Context(), tenant, engine.SetPolicy{Policy: p, Exact: true}, id, c.Actor()); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.getPolicyAs(w, r, tenant)
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := pathIDs(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.caller(r, tenant, ActPolicy, ActHelpdesk); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.getPolicyAs(w, r, tenant)
}

func (s *Server) getPolicyAs(w http.ResponseWriter, r *http.Request, tenant string) {
	p, err := s.svc.Policy(r.Context(), tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := pathIDs(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.caller(r, tenant, ActStats); err != nil {
		s.writeError(w, r, err)
		return
	}
	var st projections.TenantStats
	b, ok, err := s.cfg.Stack.Views.Get(r.Context(), projections.NameTenantStats, projections.Key{Tenant: tenant})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ok {
		if err := jsonx.Unmarshal(b, &st); err != nil {
			s.writeError(w, r, vakt.Errorf(vakt.CodeInternal, "read model: %w", err))
			return
		}
	}
	st.Tenant = tenant
	writeJSON(w, http.StatusOK, st)
}

type keyRequest struct {
	Scope  string `json:"scope"`
	Tenant string `json:"tenant,omitempty"`
	Label  string `json:"label,omitempty"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	var req keyRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Tenant == "" {
		// A key that may not manage keys hears that first; one that may is
		// told to name the tenant.
		c, err := s.cfg.Access.Authenticate(r.Context(), bearerOf(r))
		switch {
		case err != nil:
			s.writeError(w, r, err)
		case !c.Can(ActKeys, c.Tenant()):
			s.writeError(w, r, vakt.Errorf(vakt.CodeUnauthorized, "this API key may not do that"))
		default:
			s.writeError(w, r, vakt.Errorf(vakt.CodeInvalidArgument, "name the tenant of the new key"))
		}
		return
	}
	c, err := s.caller(r, req.Tenant, ActKeys)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	info, secret, err := s.cfg.Access.CreateKey(r.Context(), c, req.Scope, req.Tenant, req.Label)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": info.ID, "key": secret, "scope": info.Scope, "tenant": info.Tenant, "label": info.Label, "created_at": info.Created})
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	tenant := r.URL.Query().Get("tenant")
	if tenant == "" {
		// A tenant's key lists its own tenant's keys; the admin key all.
		if c, err := s.cfg.Access.Authenticate(r.Context(), bearerOf(r)); err == nil {
			tenant = c.Tenant()
		}
	}
	c, err := s.caller(r, tenant, ActKeys)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	keys, err := s.cfg.Access.ListKeys(r.Context(), c, tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if keys == nil {
		keys = []KeyInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	auth, err := s.cfg.Access.Authenticate(r.Context(), bearerOf(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.cfg.Access.RevokeKey(r.Context(), auth, r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func bearerOf(r *http.Request) string {
	b, _ := stringsCut(r.Header.Get("Authorization"), "Bearer ")
	return b
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(s.cfg.Tokens.JWKS())
}

// healthz answers 200 when the event store answers.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.cfg.Stack.Store.LastPosition(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "the event store does not answer"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	if len(s.cfg.OpenAPI) == 0 {
		s.writeError(w, r, vakt.Errorf(vakt.CodeNotFound, "no OpenAPI document"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.cfg.OpenAPI)
}
