package app

import (
	"context"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/internal/apikeys"
	"github.com/vaktmfa/vakt/internal/delivery"
	"github.com/vaktmfa/vakt/internal/server"
	"github.com/vaktmfa/vakt/internal/tokens"
)

// actions maps the server's actions onto the key scopes' matrix
// (apikeys.matrix). Reading a tenant's statistics is an audit read.
var actions = map[server.Action]apikeys.Action{
	server.ActEnrol:     apikeys.ActionEnrol,
	server.ActChallenge: apikeys.ActionChallenge,
	server.ActReadUser:  apikeys.ActionReadUser,
	server.ActAudit:     apikeys.ActionReadEvents,
	server.ActHelpdesk:  apikeys.ActionHelpdesk,
	server.ActSelfReset: apikeys.ActionSelfReset,
	server.ActErase:     apikeys.ActionErase,
	server.ActPolicy:    apikeys.ActionPolicy,
	server.ActStats:     apikeys.ActionReadEvents,
	server.ActKeys:      apikeys.ActionKeys,
}

// caller is an authenticated API key as the server sees it.
type caller struct{ p apikeys.Principal }

// Actor names the key in events: "admin" for the admin key, otherwise the
// scope's short name and the key id ("rp:k7f3...", "helpdesk:...").
func (c caller) Actor() string {
	switch c.p.Scope {
	case apikeys.ScopeAdmin:
		return "admin"
	case apikeys.ScopeRelyingParty:
		return "rp:" + c.p.KeyID
	case apikeys.ScopeHelpdesk:
		return "helpdesk:" + c.p.KeyID
	case apikeys.ScopeTenantAdmin:
		return "tenant_admin:" + c.p.KeyID
	}
	return "key:" + c.p.KeyID
}

func (c caller) Tenant() string { return c.p.Tenant }

func (c caller) Can(a server.Action, tenant string) bool {
	act, ok := actions[a]
	return ok && c.p.Can(act, tenant)
}

func principal(c server.Caller) (apikeys.Principal, error) {
	cc, ok := c.(caller)
	if !ok {
		return apikeys.Principal{}, vakt.Errorf(vakt.CodeUnauthorized, "not an API key")
	}
	return cc.p, nil
}

// access is apikeys.Keys behind server.Access.
type access struct{ k *apikeys.Keys }

func (a access) Authenticate(ctx context.Context, bearer string) (server.Caller, error) {
	p, err := a.k.Authenticate(ctx, bearer)
	if err != nil {
		return nil, err
	}
	return caller{p}, nil
}

func keyInfo(k apikeys.Key) server.KeyInfo {
	return server.KeyInfo{ID: k.ID, Scope: string(k.Scope), Tenant: k.Tenant, Label: k.Label, Created: k.CreatedAt}
}

func (a access) CreateKey(ctx context.Context, by server.Caller, scope, tenant, label string) (server.KeyInfo, string, error) {
	p, err := principal(by)
	if err != nil {
		return server.KeyInfo{}, "", err
	}
	k, secret, err := a.k.Create(ctx, p, apikeys.Scope(scope), tenant, label)
	if err != nil {
		return server.KeyInfo{}, "", err
	}
	return keyInfo(k), secret, nil
}

func (a access) RevokeKey(ctx context.Context, by server.Caller, id string) error {
	p, err := principal(by)
	if err != nil {
		return err
	}
	return a.k.Revoke(ctx, p, id)
}

func (a access) ListKeys(ctx context.Context, by server.Caller, tenant string) ([]server.KeyInfo, error) {
	p, err := principal(by)
	if err != nil {
		return nil, err
	}
	keys, err := a.k.List(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]server.KeyInfo, len(keys))
	for i, k := range keys {
		out[i] = keyInfo(k)
	}
	return out, nil
}

// issuer is tokens.Issuer behind server.Tokens.
type issuer struct {
	i   *tokens.Issuer
	ttl time.Duration
	now func() time.Time
}

func (t issuer) Sign(s server.Session) (string, time.Time, error) {
	now := time.Now
	if t.now != nil {
		now = t.now
	}
	// The issuer stamps exp from the same clock; the reply says when.
	exp := now().Add(t.ttl).Truncate(time.Second)
	tok, err := t.i.Sign(tokens.Claims{
		Subject: s.User, Tenant: s.Tenant, ACR: s.ACR, AMR: s.AMR, AuthTime: s.AuthTime, App: s.App, ChallengeID: s.ChallengeID,
	})
	return tok, exp, err
}

func (t issuer) JWKS() []byte { return t.i.JWKS() }

// queue is delivery.Queue behind server.Deliverer.
type queue struct{ q *delivery.Queue }

func (q queue) Send(tenant, user, challengeID, authenticatorID string, d *engine.Delivery) error {
	if d == nil {
		return nil
	}
	return q.q.Send(delivery.FromDelivery(tenant, user, *d, challengeID, authenticatorID))
}
