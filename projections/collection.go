package projections

import (
	"cmp"
	"slices"
	"sync"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// Key names one read model in a [Collection]: its tenant and, within the
// tenant, the user (security info, audit trail), the challenge (challenge
// status) or nothing (tenant statistics).
type Key struct {
	Tenant string `json:"tenant"`
	ID     string `json:"id"`
}

// Route says what a [Collection] does with an event.
type Route uint8

const (
	// Skip: no model of the collection cares about the event.
	Skip Route = iota
	// Update applies the event to the model with the key, if there is one.
	Update
	// Upsert applies the event to the model with the key, creating it first.
	Upsert
	// Broadcast applies the event to every model made from the event's
	// stream that implements [Settler] and is not settled yet (a reset ends
	// every pending challenge of the user, but names none of them).
	Broadcast
)

// Router picks the model an event belongs to and what to do with it.
type Router func(rec *events.Record) (Key, Route)

// Model is what a [Collection] holds: a value type folded by Apply (which must
// be deterministic and total: an event it does not know changes nothing) and
// deep-copied by Clone, so that a reader's copy never shares memory with the
// model that goes on changing.
type Model[T any] interface {
	*T
	Apply(rec *events.Record)
	Clone() T
}

// Settler is implemented by models that [Broadcast] events reach until they
// settle (a challenge reaches a reset of its user until it has ended). A
// Collection then stops offering them Broadcast events, so that a user's
// reset does not revisit every sign-in the user ever made.
type Settler interface {
	Settled() bool
}

// Collection is an in-memory [Projection] of many models of one type, keyed by
// [Key]. Readers get copies; it is safe for concurrent use.
type Collection[T any, P Model[T]] struct {
	name  string
	route Router

	mu     sync.RWMutex
	models map[Key]*T
	open   map[events.Stream]map[Key]struct{} // unsettled models a Broadcast reaches
}

// NewCollection returns an empty collection named name (the checkpoint name
// the [Runner] uses) that routes events with route.
func NewCollection[T any, P Model[T]](name string, route Router) *Collection[T, P] {
	return &Collection[T, P]{name: name, route: route, models: map[Key]*T{}, open: map[events.Stream]map[Key]struct{}{}}
}

// Name implements [Projection].
func (c *Collection[T, P]) Name() string { return c.name }

// Apply implements [Projection]. Models ignore events they have already seen
// (by stream sequence), so applying an event twice changes nothing.
func (c *Collection[T, P]) Apply(rec *events.Record) error {
	if rec == nil || rec.Event == nil {
		return vakt.Errorf(vakt.CodeInvalidArgument, "projection %s: a record without an event", c.name)
	}
	k, r := c.route(rec)
	if r == Skip {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch r {
	case Update:
		if m := c.models[k]; m != nil {
			c.applyTo(k, m, rec)
		}
	case Upsert:
		m := c.models[k]
		if m == nil {
			m = new(T)
			c.models[k] = m
			if _, ok := any(m).(Settler); ok {
				s := rec.Stream()
				if c.open[s] == nil {
					c.open[s] = map[Key]struct{}{}
				}
				c.open[s][k] = struct{}{}
			}
		}
		c.applyTo(k, m, rec)
	case Broadcast:
		s := rec.Stream()
		for k := range c.open[s] {
			c.applyTo(k, c.models[k], rec)
		}
		if len(c.open[s]) == 0 {
			delete(c.open, s)
		}
	}
	return nil
}

func (c *Collection[T, P]) applyTo(k Key, m *T, rec *events.Record) {
	P(m).Apply(rec)
	if s, ok := any(m).(Settler); ok && s.Settled() {
		delete(c.open[rec.Stream()], k)
	}
}

// Reset implements [Resetter]: it forgets every model.
func (c *Collection[T, P]) Reset() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.models)
	clear(c.open)
	return nil
}

// Lookup returns a copy of the model with key k.
func (c *Collection[T, P]) Lookup(k Key) (T, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := c.models[k]
	if m == nil {
		var zero T
		return zero, false
	}
	return P(m).Clone(), true
}

// Keys returns the keys of every model, sorted by tenant and id.
func (c *Collection[T, P]) Keys() []Key {
	c.mu.RLock()
	out := make([]Key, 0, len(c.models))
	for k := range c.models {
		out = append(out, k)
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b Key) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Len returns the number of models.
func (c *Collection[T, P]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.models)
}

// ---- the four read models as projections ----------------------------------------

// Projection names, used as checkpoint names.
const (
	NameSecurityInfo = "security_info"
	NameChallenges   = "challenges"
	NameAuditTrail   = "audit_trail"
	NameTenantStats  = "tenant_stats"
)

// routeUser sends every event of a user's stream to that user's model.
func routeUser(rec *events.Record) (Key, Route) {
	if rec.User == "" {
		return Key{}, Skip
	}
	return Key{Tenant: rec.Tenant, ID: rec.User}, Upsert
}

// SecurityInfos holds a [SecurityInfo] per user.
type SecurityInfos struct {
	*Collection[SecurityInfo, *SecurityInfo]
}

// NewSecurityInfos returns an empty in-memory security info projection.
func NewSecurityInfos() *SecurityInfos {
	return &SecurityInfos{NewCollection[SecurityInfo](NameSecurityInfo, routeUser)}
}

// Get returns a copy of a user's security info.
func (s *SecurityInfos) Get(tenant, user string) (SecurityInfo, bool) {
	return s.Lookup(Key{Tenant: tenant, ID: user})
}

// AuditTrails holds an [AuditTrail] per user.
type AuditTrails struct {
	*Collection[AuditTrail, *AuditTrail]
}

// NewAuditTrails returns an empty in-memory audit trail projection.
func NewAuditTrails() *AuditTrails {
	return &AuditTrails{NewCollection[AuditTrail](NameAuditTrail, routeUser)}
}

// Get returns a copy of a user's audit trail.
func (a *AuditTrails) Get(tenant, user string) (AuditTrail, bool) {
	return a.Lookup(Key{Tenant: tenant, ID: user})
}

// Challenges holds a [ChallengeStatus] per challenge, keyed by tenant and
// challenge id (the id is unique within a tenant, and relying parties ask by
// tenant and id alone).
type Challenges struct {
	*Collection[ChallengeStatus, *ChallengeStatus]
}

// NewChallenges returns an empty in-memory challenge status projection.
func NewChallenges() *Challenges {
	return &Challenges{NewCollection[ChallengeStatus](NameChallenges, routeChallenge)}
}

// Get returns a copy of a challenge's status.
func (c *Challenges) Get(tenant, challengeID string) (ChallengeStatus, bool) {
	return c.Lookup(Key{Tenant: tenant, ID: challengeID})
}

func routeChallenge(rec *events.Record) (Key, Route) {
	if rec.User == "" {
		return Key{}, Skip
	}
	id, r := "", Update
	switch e := rec.Event.(type) {
	case events.ChallengeIssued:
		id, r = e.ChallengeID, Upsert
	case events.ChallengeSkipped:
		id, r = e.ChallengeID, Upsert
	case events.CodeSent:
		id = e.ChallengeID
	case events.PushSent:
		id = e.ChallengeID
	case events.AttemptFailed:
		id = e.ChallengeID
	case events.ChallengeSucceeded:
		id = e.ChallengeID
	case events.ChallengeDenied:
		id = e.ChallengeID
	case events.FraudReported:
		id = e.ChallengeID
	case events.ChallengeExpired:
		id = e.ChallengeID
	case events.DeviceRemembered:
		id = e.ChallengeID
	case events.ResetCompleted, events.UserErased:
		return Key{}, Broadcast
	default:
		return Key{}, Skip
	}
	if id == "" {
		return Key{}, Skip
	}
	return Key{Tenant: rec.Tenant, ID: id}, r
}

// StatsByTenant holds the [TenantStats] of every tenant.
type StatsByTenant struct {
	*Collection[TenantStats, *TenantStats]
}

// NewTenantStats returns an empty in-memory tenant statistics projection.
func NewTenantStats() *StatsByTenant {
	return &StatsByTenant{NewCollection[TenantStats](NameTenantStats, func(rec *events.Record) (Key, Route) {
		return Key{Tenant: rec.Tenant}, Upsert
	})}
}

// Get returns a copy of a tenant's statistics.
func (s *StatsByTenant) Get(tenant string) (TenantStats, bool) {
	return s.Lookup(Key{Tenant: tenant})
}
