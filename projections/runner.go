package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// Projection is a read model kept current from the event store by a [Runner].
// Apply gets every event of every stream in store order; it must ignore what
// it does not need. An error stops that projection at the event (its
// checkpoint stays before it) until the cause is fixed; the other
// projections go on.
type Projection interface {
	Name() string
	Apply(rec *events.Record) error
}

// Resetter is a projection that can forget everything, so that
// [Runner.Rebuild] can fold it again from the first event.
type Resetter interface {
	Reset() error
}

// Checkpoints keeps each projection's position: the store position of the
// last event it applied (0: none). The NATS shell keeps them in KV next to
// the read models.
type Checkpoints interface {
	Load(ctx context.Context, name string) (uint64, error)
	Save(ctx context.Context, name string, position uint64) error
}

// MemoryCheckpoints keeps checkpoints in memory. The zero value is ready.
type MemoryCheckpoints struct {
	mu  sync.Mutex
	pos map[string]uint64
}

// Load implements [Checkpoints].
func (m *MemoryCheckpoints) Load(ctx context.Context, name string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pos[name], nil
}

// Save implements [Checkpoints].
func (m *MemoryCheckpoints) Save(ctx context.Context, name string, position uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pos == nil {
		m.pos = map[string]uint64{}
	}
	m.pos[name] = position
	return nil
}

// DefaultBatchSize is how many events a projection applies between two
// checkpoint saves when Runner.BatchSize is zero.
const DefaultBatchSize = 256

// Runner keeps projections current: CatchUp reads the store from the oldest
// checkpoint and gives each projection the events after its own, saving its
// checkpoint every BatchSize events and at the end. A runner started again
// with the same checkpoints resumes where the last one stopped, so no event
// is applied twice to a projection whose state survived with its
// checkpoint. (The models of this package also ignore events they have seen,
// by stream sequence, which covers a crash between an apply and a save.)
//
// Set the fields before the first call and do not change them afterwards.
// CatchUp and Rebuild may be called from several goroutines; they take turns.
type Runner struct {
	Store       events.Store
	Checkpoints Checkpoints // nil: kept in memory by the runner
	Projections []Projection
	BatchSize   int // events between checkpoint saves; 0 means DefaultBatchSize

	run sync.Mutex // one catch-up at a time
	mu  sync.RWMutex
	pos map[string]uint64
	mem MemoryCheckpoints
}

// CatchUp applies every stored event that the projections have not applied
// yet and returns how many applications it made (an event counts once per
// projection). Events appended meanwhile may or may not be included; call it
// again, or on every notification of new events.
func (r *Runner) CatchUp(ctx context.Context) (applied int, err error) {
	r.run.Lock()
	defer r.run.Unlock()
	if err := r.check(); err != nil {
		return 0, err
	}
	return r.catchUp(ctx, r.Projections)
}

// Rebuild resets one projection and its checkpoint and folds it again from
// the first event. The projection must implement [Resetter].
func (r *Runner) Rebuild(ctx context.Context, name string) (applied int, err error) {
	r.run.Lock()
	defer r.run.Unlock()
	if err := r.check(); err != nil {
		return 0, err
	}
	p := r.find(name)
	if p == nil {
		return 0, vakt.Errorf(vakt.CodeNotFound, "no projection named %q", name)
	}
	rs, ok := p.(Resetter)
	if !ok {
		return 0, vakt.Errorf(vakt.CodeInvalidArgument, "projection %q cannot be reset, so it cannot be rebuilt", name)
	}
	// The checkpoint goes first: a crash before the reset leaves a full model
	// at position 0, which folds the same events again without effect (the
	// models ignore what they have seen); the other order would leave an
	// empty model that skips everything before its old checkpoint.
	if err := r.checkpoints().Save(ctx, name, 0); err != nil {
		return 0, fmt.Errorf("projection %s: save checkpoint: %w", name, err)
	}
	if err := rs.Reset(); err != nil {
		return 0, fmt.Errorf("projection %s: reset: %w", name, err)
	}
	r.setPos(name, 0)
	return r.catchUp(ctx, []Projection{p})
}

// Position returns the store position up to which the named projection is
// current, as far as this runner knows (the checkpoint it loaded or saved
// last). With the store's last position it gives the projection's lag.
func (r *Runner) Position(name string) (uint64, bool) {
	if r.find(name) == nil {
		return 0, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.pos[name], true
}

func (r *Runner) check() error {
	if r.Store == nil {
		return vakt.Errorf(vakt.CodeInvalidArgument, "runner has no store")
	}
	seen := map[string]bool{}
	for i, p := range r.Projections {
		if p == nil {
			return vakt.Errorf(vakt.CodeInvalidArgument, "projection %d is nil", i)
		}
		n := p.Name()
		if n == "" {
			return vakt.Errorf(vakt.CodeInvalidArgument, "projection %d has no name", i)
		}
		if seen[n] {
			return vakt.Errorf(vakt.CodeInvalidArgument, "two projections are named %q; names key the checkpoints", n)
		}
		seen[n] = true
	}
	return nil
}

func (r *Runner) find(name string) Projection {
	for _, p := range r.Projections {
		if p != nil && p.Name() == name {
			return p
		}
	}
	return nil
}

func (r *Runner) checkpoints() Checkpoints {
	if r.Checkpoints != nil {
		return r.Checkpoints
	}
	return &r.mem
}

func (r *Runner) setPos(name string, pos uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pos == nil {
		r.pos = map[string]uint64{}
	}
	r.pos[name] = pos
}

// cursor is one projection's progress during a catch-up.
type cursor struct {
	p       Projection
	pos     uint64 // last applied position
	saved   uint64 // last saved position
	pending int    // applied since the last save
	failed  error
}

// catchUp reads the store once, from the oldest checkpoint of ps, and gives
// each projection the events after its own checkpoint.
func (r *Runner) catchUp(ctx context.Context, ps []Projection) (int, error) {
	cps := r.checkpoints()
	batch := r.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	cs := make([]*cursor, len(ps))
	from := ^uint64(0)
	for i, p := range ps {
		pos, err := cps.Load(ctx, p.Name())
		if err != nil {
			return 0, fmt.Errorf("projection %s: load checkpoint: %w", p.Name(), err)
		}
		cs[i] = &cursor{p: p, pos: pos, saved: pos}
		r.setPos(p.Name(), pos)
		from = min(from, pos)
	}
	if len(cs) == 0 {
		return 0, nil
	}
	save := func(c *cursor) error {
		if c.pos == c.saved {
			return nil
		}
		// Save even when ctx is done: what was applied must be recorded.
		if err := cps.Save(context.WithoutCancel(ctx), c.p.Name(), c.pos); err != nil {
			return fmt.Errorf("projection %s: save checkpoint %d: %w", c.p.Name(), c.pos, err)
		}
		c.saved, c.pending = c.pos, 0
		r.setPos(c.p.Name(), c.pos)
		return nil
	}
	applied := 0
	var errs []error
	for rec, err := range r.Store.All(ctx, from) {
		if err == nil {
			// Stores may check ctx only now and then; stop at the next event.
			err = ctx.Err()
		}
		if err != nil {
			errs = append(errs, err)
			break
		}
		live := false
		for _, c := range cs {
			if c.failed != nil {
				continue
			}
			live = true
			if rec.Position <= c.pos {
				continue
			}
			if err := c.p.Apply(&rec); err != nil {
				c.failed = fmt.Errorf("projection %s: event %s (%s seq %d, position %d): %w",
					c.p.Name(), rec.ID, rec.Stream(), rec.Seq, rec.Position, err)
				continue
			}
			applied++
			c.pos = rec.Position
			if c.pending++; c.pending >= batch {
				if err := save(c); err != nil {
					return applied, err
				}
			}
		}
		if !live {
			break
		}
	}
	for _, c := range cs {
		if err := save(c); err != nil {
			errs = append(errs, err)
		}
		if c.failed != nil {
			errs = append(errs, c.failed)
		}
	}
	return applied, errors.Join(errs...)
}
