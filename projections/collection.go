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
	// Create is Upsert for the first event a model can ever get (a user's
	// first event, a challenge's issue). A persistent collection then starts
	// from a new model without asking its backing: anything stored under
	// the key was folded from this same event and later ones, which follow.
	Create
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

// Collection is a [Projection] of many models of one type, keyed by [Key].
// Readers get copies; it is safe for concurrent use.
//
// By default every model lives in memory. After [Collection.Persist] the
// collection is a cache in front of a [Backing] (KV in the server): Apply
// loads the documents it needs, the host writes what changed
// ([Collection.Changes]) and reports it written ([Collection.Flushed]), and
// only a bounded number of unchanged documents stay in memory.
type Collection[T any, P Model[T]] struct {
	name    string
	route   Router
	settles bool // T implements Settler

	// w serialises the writers (Apply with its loads, Flushed, Reset,
	// Persist); mu guards the maps against readers. A writer holding w may
	// read the maps without mu, since only writers change them.
	w  sync.Mutex
	mu sync.RWMutex

	models map[Key]*entry[T]
	open   map[events.Stream]*index // unsettled models a Broadcast reaches

	// Persistence (see persist.go); backing is nil for an in-memory collection.
	backing Backing
	cache   int     // clean documents kept in memory
	clean   lru     // clean documents, most recently written first
	dirty   []*slot // documents changed since they were last flushed
}

// entry is one model and its bookkeeping.
type entry[T any] struct {
	slot
	m *T
}

// index is the set of unsettled models of one stream.
type index struct {
	slot
	keys map[Key]struct{}
}

// NewCollection returns an empty in-memory collection named name (the
// checkpoint name the [Runner] uses) that routes events with route.
func NewCollection[T any, P Model[T]](name string, route Router) *Collection[T, P] {
	_, settles := any(new(T)).(Settler)
	return &Collection[T, P]{name: name, route: route, settles: settles, models: map[Key]*entry[T]{}, open: map[events.Stream]*index{}}
}

// Name implements [Projection].
func (c *Collection[T, P]) Name() string { return c.name }

// Apply implements [Projection]. Models ignore events they have already seen
// (by stream sequence), so applying an event twice changes nothing.
//
// A persistent collection first loads the documents the event needs; if
// the backing fails, Apply changes nothing and returns the error, so that
// the event can be applied again later.
func (c *Collection[T, P]) Apply(rec *events.Record) error {
	if rec == nil || rec.Event == nil {
		return vakt.Errorf(vakt.CodeInvalidArgument, "projection %s: a record without an event", c.name)
	}
	k, r := c.route(rec)
	if r == Skip {
		return nil
	}
	c.w.Lock()
	defer c.w.Unlock()
	if c.backing != nil {
		if err := c.load(rec, k, r); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch r {
	case Update:
		if e := c.models[k]; e != nil {
			c.applyTo(e, rec)
		}
	case Upsert, Create:
		e := c.models[k]
		if e == nil {
			e = &entry[T]{m: new(T)}
			e.doc = Doc{Key: k}
			c.models[k] = e
		}
		c.applyTo(e, rec)
	case Broadcast:
		s := rec.Stream()
		ix := c.open[s]
		if ix == nil {
			return nil
		}
		// applyTo deletes settled models from ix.keys, which a range allows.
		for k := range ix.keys {
			if e := c.models[k]; e != nil {
				c.applyTo(e, rec)
				continue
			}
			// Listed but never stored (a flush split by a crash): drop it.
			delete(ix.keys, k)
			c.touch(&ix.slot)
		}
		if c.backing == nil && len(ix.keys) == 0 {
			delete(c.open, s)
		}
	}
	return nil
}

// applyTo folds rec into e and keeps the stream's index of unsettled models
// in step: a model is listed exactly while it is unsettled. (Deciding by the
// model's state rather than by "just created" keeps the index right when
// events are applied again after a crash.)
func (c *Collection[T, P]) applyTo(e *entry[T], rec *events.Record) {
	P(e.m).Apply(rec)
	c.touch(&e.slot)
	if !c.settles {
		return
	}
	s := rec.Stream()
	settled := any(e.m).(Settler).Settled()
	ix := c.open[s]
	_, listed := ix.lookup(e.doc.Key)
	switch {
	case settled && listed:
		delete(ix.keys, e.doc.Key)
		c.touch(&ix.slot)
		if c.backing == nil && len(ix.keys) == 0 {
			delete(c.open, s)
		}
	case !settled && !listed:
		if ix == nil {
			ix = newIndex(s)
			c.open[s] = ix
		}
		ix.keys[e.doc.Key] = struct{}{}
		c.touch(&ix.slot)
	}
}

func newIndex(s events.Stream) *index {
	ix := &index{keys: map[Key]struct{}{}}
	ix.doc = Doc{Key: Key{Tenant: s.Tenant, ID: s.User}, Index: true}
	return ix
}

func (ix *index) lookup(k Key) (struct{}, bool) {
	if ix == nil {
		return struct{}{}, false
	}
	v, ok := ix.keys[k]
	return v, ok
}

// Reset implements [Resetter]: it forgets every model in memory. A
// persistent collection forgets its changes too; emptying the backing is
// the host's part.
func (c *Collection[T, P]) Reset() error {
	c.w.Lock()
	defer c.w.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.models)
	clear(c.open)
	c.dirty = nil
	c.clean.init()
	return nil
}

// Lookup returns a copy of the model with key k. A persistent collection
// reads its backing for a model not in memory; a failed read looks like a
// missing model here (use [Collection.Find] to tell them apart).
func (c *Collection[T, P]) Lookup(k Key) (T, bool) {
	v, ok, _ := c.Find(k)
	return v, ok
}

// Keys returns the keys of every model in memory, sorted by tenant and id.
// For an in-memory collection that is every model; a persistent one holds
// only the recently changed ones (its host lists the rest).
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

// Len returns the number of models in memory (see [Collection.Keys]).
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
	if rec.Seq == 1 {
		return Key{Tenant: rec.Tenant, ID: rec.User}, Create
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
		id, r = e.ChallengeID, Create
	case events.ChallengeSkipped:
		id, r = e.ChallengeID, Create
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
