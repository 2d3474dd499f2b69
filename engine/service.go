package engine

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// Keyring keeps users' data keys. Destroying a key erases the user's secrets
// (crypto-shredding): the events stay, and their sealed fields can no longer
// be opened. The NATS shell keeps keys in KV wrapped by a master key;
// [MemoryKeyring] keeps them in memory.
type Keyring interface {
	// DataKey returns the user's key. If there is none it creates one when
	// create is set, and otherwise returns nil and no error.
	DataKey(ctx context.Context, tenant, user string, create bool) (*DataKey, error)
	// Destroy deletes the user's key for good.
	Destroy(ctx context.Context, tenant, user string) error
}

// Service is the thin imperative shell around [Decide]: it loads the tenant's
// policy and the user's state from a store, decides, appends the events with
// optimistic concurrency, and retries on conflict. Parallel commands for one
// user are serialised by the store's expected-sequence check, so two requests
// can never both succeed with the same code.
//
// The zero values of Now and Rand are the system clock and crypto/rand; a
// Rand given here must be safe for concurrent use.
type Service struct {
	Store events.Store
	Keys  Keyring
	Now   func() time.Time
	Rand  io.Reader
	// Attempts bounds the decide-append loop under contention (default 10).
	Attempts int
	// Snapshots, when set, keeps users' folded state so that a load reads
	// only the events after the snapshot; one is written whenever
	// SnapshotEvery (default 16) events have gathered since the last.
	Snapshots     Snapshots
	SnapshotEvery int
	// CacheSize is how many users' states are kept in memory (LRU; default
	// 10,000; negative: none). A command for a cached user decides on the
	// cached state without reading the store: if another writer moved the
	// stream on, the append conflicts and the command is decided again on
	// a fresh load. A decision that appends nothing (a refusal) is checked
	// against the store before it is answered.
	CacheSize int
	// PolicyTTL is how long a tenant's policy is used before the tenant
	// stream is read again (default 1s; a policy change takes effect
	// within it on every instance).
	PolicyTTL time.Duration
	// Decider, when set, makes the decisions in place of [Decide] and
	// [DecideTenant] (the WASM module through hosts/wazero: `vakt serve
	// --engine=wasm`). Nil is the native engine.
	Decider Decider

	mu      sync.Mutex
	tenants map[string]*tenantEntry
	once    sync.Once
	cache   *userCache
	snaps   *snapshotWriter
}

type tenantEntry struct {
	t    *Tenant
	read time.Time
}

func (s *Service) init() {
	s.once.Do(func() {
		size := s.CacheSize
		if size == 0 {
			size = 10_000
		}
		if size > 0 {
			s.cache = newUserCache(size)
		}
		if s.Snapshots != nil {
			s.snaps = newSnapshotWriter(s.Snapshots)
		}
	})
}

// Close waits for the snapshots still being written.
func (s *Service) Close() error {
	s.init()
	if s.snaps != nil {
		s.snaps.flush()
	}
	return nil
}

// Request is one command for one user.
type Request struct {
	Tenant  string
	User    string
	Command Command
	// ID is the command id (idempotency key): a retry with the same id after
	// a lost reply is answered from the store, not applied twice.
	ID string
	// Actor says who asked, for the audit ("user", "helpdesk:alice", ...).
	Actor string
}

// Result is what a command did.
type Result struct {
	Records []events.Record
	Reply   Reply
	// Duplicate is set when the command id had already been applied; Records
	// are what it stored then. One-time values (codes, tokens) are not shown
	// again.
	Duplicate bool
}

func (s *Service) attempts() int {
	if s.Attempts > 0 {
		return s.Attempts
	}
	return 10
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return systemNow()
}

func (s *Service) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return systemRand
}

// needsNewKey says which commands may create a user's data key; the others
// only read it, so that probing unknown user names stores nothing.
func needsNewKey(c Command) bool {
	switch c.(type) {
	case StartEnrolment, IssueTemporaryPass, Reset:
		return true
	}
	return false
}

// Execute runs a command for a user.
func (s *Service) Execute(ctx context.Context, req Request) (Result, error) {
	stream := events.Stream{Tenant: req.Tenant, User: req.User}
	if req.User == "" {
		return Result{}, vakt.Errorf(vakt.CodeInvalidArgument, "user id is empty")
	}
	if err := stream.Validate(); err != nil {
		return Result{}, err
	}
	if err := checkCommandID(req.ID); err != nil {
		return Result{}, err
	}
	if req.Command == nil {
		return Result{}, vakt.Errorf(vakt.CodeInvalidArgument, "no command")
	}
	s.init()
	attempts := s.attempts()
	for range attempts {
		t, err := s.tenant(ctx, req.Tenant)
		if err != nil {
			return Result{}, err
		}
		u, stale, fromCache, err := s.state(ctx, stream)
		if err != nil {
			return Result{}, err
		}
		if u.Head.Command == req.ID {
			// The stream ends with this very command: a retry whose first
			// reply was lost. Answer it; never decide it again.
			return s.duplicate(ctx, stream, req.ID)
		}
		var key *DataKey
		if u.Erased {
			// Finish an erasure that was recorded but whose key survived a crash.
			if err := s.Keys.Destroy(ctx, req.Tenant, req.User); err != nil {
				return Result{}, err
			}
		} else if key, err = s.Keys.DataKey(ctx, req.Tenant, req.User, needsNewKey(req.Command)); err != nil {
			return Result{}, err
		}
		policy := t.Policy
		env := Env{Now: s.now(), Rand: s.rand(), Policy: &policy, DataKey: key}
		dec, derr := s.decide(ctx, u, req.Command, env)
		if len(dec.Events) == 0 {
			if fromCache {
				// Nothing appended, so no conflict would reveal a stale cache:
				// check that the stream has nothing newer before answering.
				newer, err := s.Store.Load(ctx, stream, u.Head)
				if err != nil {
					return Result{}, err
				}
				if len(newer) > 0 {
					s.forget(stream)
					continue
				}
			}
			return Result{Reply: dec.Reply}, derr
		}
		res, err := s.append(ctx, stream, u.Head, req, env, dec.Events)
		if vakt.CodeOf(err) == vakt.CodeConflict {
			s.forget(stream)
			continue
		}
		if err != nil {
			return Result{}, err
		}
		for _, r := range res.Records {
			if _, ok := r.Event.(events.UserErased); ok {
				if err := s.Keys.Destroy(ctx, req.Tenant, req.User); err != nil {
					return Result{}, vakt.Errorf(vakt.CodeInternal, "the user is marked erased but the data key could not be destroyed; run erase again: %w", err)
				}
			}
		}
		if res.Duplicate {
			s.forget(stream)
			return Result{Records: res.Records, Duplicate: true}, errorOf(res.Records)
		}
		s.advance(stream, u, stale, res.Records)
		if o, ok := s.Decider.(AppendObserver); ok {
			o.Appended(stream, res.Records)
		}
		return Result{Records: res.Records, Reply: dec.Reply}, derr
	}
	return Result{}, vakt.Errorf(vakt.CodeConflict, "the user's state kept changing during %d attempts; retry", attempts)
}

// Decider decides commands exactly as [Decide] and [DecideTenant] do, by
// other means: [Service.Decider] takes one. The hosts/wazero package
// implements it with the WASM module, so that the service runs on either
// engine. A Decider must not change u or t. An error that is not the
// decision's own (the module trapped, ctx ended) comes with no events and is
// returned to the caller like a refusal.
type Decider interface {
	Decide(ctx context.Context, u *User, cmd Command, env Env) (Decision, error)
	DecideTenant(ctx context.Context, t *Tenant, cmd Command, env Env) (Decision, error)
}

// AppendObserver is implemented by a [Decider] that keeps users' states
// between calls (the module's per-instance cache): the Service tells it
// every append on a user stream, so that it sends only the new events next
// time instead of the whole state.
type AppendObserver interface {
	Appended(stream events.Stream, recs []events.Record)
}

func (s *Service) decide(ctx context.Context, u *User, cmd Command, env Env) (Decision, error) {
	if s.Decider != nil {
		return s.Decider.Decide(ctx, u, cmd, env)
	}
	return Decide(u, cmd, env)
}

func (s *Service) decideTenant(ctx context.Context, t *Tenant, cmd Command, env Env) (Decision, error) {
	if s.Decider != nil {
		return s.Decider.DecideTenant(ctx, t, cmd, env)
	}
	return DecideTenant(t, cmd, env)
}

// duplicate answers a retry of the command that wrote the stream's last
// events, with those events.
func (s *Service) duplicate(ctx context.Context, stream events.Stream, id string) (Result, error) {
	recs, err := s.Store.Load(ctx, stream, events.Head{})
	if err != nil {
		return Result{}, err
	}
	i := len(recs)
	for i > 0 && recs[i-1].Command == id {
		i--
	}
	return Result{Records: recs[i:], Duplicate: true}, errorOf(recs[i:])
}

func (s *Service) append(ctx context.Context, stream events.Stream, head events.Head, req Request, env Env, evs []events.Event) (events.AppendResult, error) {
	recs, err := events.Build(stream, head, events.Meta{Command: req.ID, Actor: req.Actor, Time: env.Now}, env.Rand, evs)
	if err != nil {
		return events.AppendResult{}, err
	}
	return s.Store.Append(ctx, stream, head, recs)
}

// errorOf recovers the error of a recorded rejection from its events, for a
// duplicate whose first reply was lost.
func errorOf(recs []events.Record) error {
	for _, r := range recs {
		switch e := r.Event.(type) {
		case events.AttemptFailed:
			if e.Reason == "code_reused" {
				return vakt.Errorf(vakt.CodeCodeReused, "this code was already used")
			}
			return vakt.Errorf(vakt.CodeInvalidCode, "the code was wrong")
		case events.ConfirmationFailed:
			return vakt.Errorf(vakt.CodeInvalidCode, "the code was wrong")
		}
	}
	return nil
}

func checkCommandID(id string) error { return events.ValidateCommandID(id) }

// SetPolicy sets a tenant's policy.
func (s *Service) SetPolicy(ctx context.Context, tenant string, c SetPolicy, commandID, actor string) (Result, error) {
	stream := events.TenantStream(tenant)
	if err := stream.Validate(); err != nil {
		return Result{}, err
	}
	if err := checkCommandID(commandID); err != nil {
		return Result{}, err
	}
	attempts := s.attempts()
	for range attempts {
		t, err := s.tenant(ctx, tenant)
		if err != nil {
			return Result{}, err
		}
		env := Env{Now: s.now(), Rand: s.rand()}
		dec, err := s.decideTenant(ctx, t, c, env)
		if err != nil || len(dec.Events) == 0 {
			return Result{Reply: dec.Reply}, err
		}
		res, err := s.append(ctx, stream, t.Head, Request{ID: commandID, Actor: actor}, env, dec.Events)
		if vakt.CodeOf(err) == vakt.CodeConflict {
			continue
		}
		if err != nil {
			return Result{}, err
		}
		s.mu.Lock()
		delete(s.tenants, tenant)
		s.mu.Unlock()
		return Result{Records: res.Records, Reply: dec.Reply, Duplicate: res.Duplicate}, nil
	}
	return Result{}, vakt.Errorf(vakt.CodeConflict, "the tenant's policy kept changing; retry")
}

// Policy returns a tenant's policy in force (the defaults if it never set one).
func (s *Service) Policy(ctx context.Context, tenant string) (Policy, error) {
	if err := events.ValidateID("tenant", tenant); err != nil {
		return Policy{}, err
	}
	t, err := s.tenant(ctx, tenant)
	if err != nil {
		return Policy{}, err
	}
	return t.Policy, nil
}

// User returns a user's current state.
func (s *Service) User(ctx context.Context, tenant, user string) (*User, error) {
	stream := events.Stream{Tenant: tenant, User: user}
	if user == "" {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "user id is empty")
	}
	if err := stream.Validate(); err != nil {
		return nil, err
	}
	s.init()
	u, _, fromCache, err := s.state(ctx, stream)
	if err != nil || !fromCache {
		return u, err
	}
	// A reader wants the truth: fold anything newer than the cache.
	newer, err := s.Store.Load(ctx, stream, u.Head)
	if err != nil {
		return nil, err
	}
	if len(newer) == 0 {
		return u.Clone(), nil
	}
	s.forget(stream)
	u, _, _, err = s.state(ctx, stream)
	return u, err
}

// tenant returns the tenant's state: the cached copy for PolicyTTL, then
// the cached copy with the policy events newer than it.
func (s *Service) tenant(ctx context.Context, id string) (*Tenant, error) {
	ttl := s.PolicyTTL
	if ttl == 0 {
		ttl = time.Second
	}
	now := systemNow() // the cache's own clock, not a decision's
	s.mu.Lock()
	e := s.tenants[id]
	s.mu.Unlock()
	if e != nil && now.Sub(e.read) < ttl {
		return e.t, nil
	}
	t := NewTenant(id)
	if e != nil {
		*t = *e.t
	}
	recs, err := s.Store.Load(ctx, events.TenantStream(id), t.Head)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		if err := t.Evolve(&recs[i]); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	if s.tenants == nil {
		s.tenants = map[string]*tenantEntry{}
	}
	if old := s.tenants[id]; old == nil || old.t.Head.Seq <= t.Head.Seq {
		s.tenants[id] = &tenantEntry{t: t, read: now}
	}
	s.mu.Unlock()
	return t, nil
}

// MemoryKeyring keeps data keys in memory (tests, examples, `vakt demo`).
type MemoryKeyring struct {
	Rand io.Reader // default crypto/rand

	mu   sync.Mutex
	keys map[[2]string]*DataKey
}

// DataKey implements [Keyring].
func (k *MemoryKeyring) DataKey(ctx context.Context, tenant, user string, create bool) (*DataKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	id := [2]string{tenant, user}
	if key, ok := k.keys[id]; ok || !create {
		return key, nil
	}
	r := k.Rand
	if r == nil {
		r = systemRand
	}
	raw := make([]byte, DataKeySize)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "make a data key: %w", err)
	}
	key, err := NewDataKey(raw)
	clear(raw)
	if err != nil {
		return nil, err
	}
	if k.keys == nil {
		k.keys = map[[2]string]*DataKey{}
	}
	k.keys[id] = key
	return key, nil
}

// Destroy implements [Keyring].
func (k *MemoryKeyring) Destroy(ctx context.Context, tenant, user string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	// The key is dropped, not wiped: a decision running now may still hold
	// it, and the memory keyring promises no more than forgetting it.
	delete(k.keys, [2]string{tenant, user})
	return nil
}
