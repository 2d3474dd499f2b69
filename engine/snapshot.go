package engine

import (
	"context"
	"sync"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// StateVersion is the version of the [User] state's JSON form. Bump it when
// the state's fields or the meaning of a fold change: snapshots of another
// version are ignored (and rewritten), never trusted.
const StateVersion = 2

// Snapshot is a user's folded state at a head. Snapshots are a cache: they
// can be thrown away at any time and are rebuilt from the events.
type Snapshot struct {
	Version int         `json:"v"`
	Head    events.Head `json:"head"`
	State   []byte      `json:"state"` // the User as JSON
}

// Snapshots keeps snapshots (NATS KV in the server).
type Snapshots interface {
	Get(ctx context.Context, s events.Stream) (Snapshot, bool, error)
	Put(ctx context.Context, s events.Stream, snap Snapshot) error
}

// TakeSnapshot encodes a user's state.
func TakeSnapshot(u *User) (Snapshot, error) {
	b, err := jsonx.Marshal(u)
	if err != nil {
		return Snapshot{}, vakt.Errorf(vakt.CodeInternal, "encode snapshot: %w", err)
	}
	return Snapshot{Version: StateVersion, Head: u.Head, State: b}, nil
}

// FromSnapshot decodes a snapshot of this version for tenant and user; ok is
// false for a snapshot of another version or another user, which the caller
// must ignore.
func FromSnapshot(snap Snapshot, tenant, user string) (*User, bool) {
	if snap.Version != StateVersion {
		return nil, false
	}
	var u User
	if err := jsonx.Unmarshal(snap.State, &u); err != nil {
		return nil, false
	}
	if u.Tenant != tenant || u.ID != user || u.Head != snap.Head {
		return nil, false
	}
	return &u, true
}

// loadUser returns a user's state: from the latest usable snapshot plus the
// events after it, or from all events. stale says how many events were
// folded on top of the snapshot (all of them without one).
func (s *Service) loadUser(ctx context.Context, stream events.Stream) (u *User, stale int, err error) {
	after := events.Head{}
	if s.Snapshots != nil {
		snap, ok, err := s.Snapshots.Get(ctx, stream)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			if su, good := FromSnapshot(snap, stream.Tenant, stream.User); good {
				u, after = su, snap.Head
			}
		}
	}
	if u == nil {
		u = NewUser(stream.Tenant, stream.User)
	}
	recs, err := s.Store.Load(ctx, stream, after)
	if err != nil {
		return nil, 0, err
	}
	for i := range recs {
		if err := u.Evolve(&recs[i]); err != nil {
			return nil, 0, err
		}
	}
	return u, len(recs), nil
}

func (s *Service) snapshotEvery() int {
	if s.SnapshotEvery > 0 {
		return s.SnapshotEvery
	}
	// Every event after a snapshot costs a load one more round trip to the
	// store (about 30 µs on NATS); 16 keeps a load with a snapshot under a
	// millisecond at the 99th percentile, for one snapshot write per 16
	// events.
	return 16
}

// state returns a user's state, from the cache when it is there; the
// result must not be changed (Decide does not change it).
func (s *Service) state(ctx context.Context, stream events.Stream) (u *User, stale int, fromCache bool, err error) {
	if s.cache != nil {
		if c, ok := s.cache.get(stream); ok {
			return c.u, c.stale, true, nil
		}
	}
	u, stale, err = s.loadUser(ctx, stream)
	if err != nil {
		return nil, 0, false, err
	}
	if s.cache != nil {
		s.cache.put(stream, u, stale)
	}
	return u, stale, false, nil
}

func (s *Service) forget(stream events.Stream) {
	if s.cache != nil {
		s.cache.drop(stream)
	}
}

// advance folds an append into a new state for the cache, and queues a
// snapshot when enough events have gathered since the last one. An erasure
// always replaces the snapshot, so that no copy of the user's labels or
// sealed secrets outlives it there.
func (s *Service) advance(stream events.Stream, u *User, stale int, appended []events.Record) {
	next := u.Clone()
	for i := range appended {
		if err := next.Evolve(&appended[i]); err != nil {
			s.forget(stream)
			return
		}
	}
	stale += len(appended)
	erased := false
	for i := range appended {
		if _, ok := appended[i].Event.(events.UserErased); ok {
			erased = true
		}
	}
	if s.snaps != nil && (erased || stale >= s.snapshotEvery()) {
		if snap, err := TakeSnapshot(next); err == nil {
			s.snaps.put(stream, snap)
			stale = 0
		}
	}
	if s.cache != nil {
		s.cache.put(stream, next, stale)
	}
}

// MemorySnapshots keeps snapshots in memory (tests, `vakt demo`).
type MemorySnapshots struct {
	mu    sync.Mutex
	snaps map[events.Stream]Snapshot
	puts  int
}

// Get implements [Snapshots].
func (m *MemorySnapshots) Get(ctx context.Context, s events.Stream) (Snapshot, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap, ok := m.snaps[s]
	return snap, ok, nil
}

// Put implements [Snapshots].
func (m *MemorySnapshots) Put(ctx context.Context, s events.Stream, snap Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snaps == nil {
		m.snaps = map[events.Stream]Snapshot{}
	}
	m.snaps[s] = snap
	m.puts++
	return nil
}

// Puts counts the snapshots written.
func (m *MemorySnapshots) Puts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.puts
}
