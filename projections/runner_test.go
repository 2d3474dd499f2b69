package projections_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/projections"
)

// copyInto appends records (as stored elsewhere) to dst, one append per
// command, as the engine stored them.
func copyInto(t testing.TB, dst *events.Memory, recs []events.Record) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].Stream() == recs[i].Stream() && recs[j].Command == recs[i].Command {
			j++
		}
		head := events.Head{Seq: recs[i].Seq - 1, Hash: recs[i].Prev}
		if _, err := dst.Append(ctx, recs[i].Stream(), head, recs[i:j]); err != nil {
			t.Fatalf("copy records %d..%d: %v", i, j, err)
		}
		i = j
	}
}

// half returns an index near the middle of recs that falls between commands.
func half(recs []events.Record) int {
	i := len(recs) / 2
	for i < len(recs) && recs[i].Command == recs[i-1].Command && recs[i].Stream() == recs[i-1].Stream() {
		i++
	}
	return i
}

func equalSnapshots(t *testing.T, got, want map[string]string) {
	t.Helper()
	for name := range want {
		if got[name] != want[name] {
			t.Errorf("%s differs:\n got %.600s\nwant %.600s", name, got[name], want[name])
		}
	}
}

func TestRunnerIncrementalEqualsFull(t *testing.T) {
	w := buildWorld(t)
	all := w.records()
	want := catchUp(t, w.store).snapshot(t)
	ctx := context.Background()

	store := events.NewMemory()
	m := newModels()
	r := &projections.Runner{Store: store, Checkpoints: &projections.MemoryCheckpoints{}, Projections: m.list(), BatchSize: 7}
	h := half(all)
	copyInto(t, store, all[:h])
	n1, err := r.CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n1 != 4*h {
		t.Fatalf("first half applied %d, want %d", n1, 4*h)
	}
	for _, p := range m.list() {
		if pos, ok := r.Position(p.Name()); !ok || pos != uint64(h) {
			t.Fatalf("%s at %d, want %d", p.Name(), pos, h)
		}
	}
	// Nothing new: nothing applied.
	if n, err := r.CatchUp(ctx); n != 0 || err != nil {
		t.Fatalf("idle catch-up: %d, %v", n, err)
	}
	copyInto(t, store, all[h:])
	n2, err := r.CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n1+n2 != 4*len(all) {
		t.Fatalf("applied %d+%d, want %d", n1, n2, 4*len(all))
	}
	equalSnapshots(t, m.snapshot(t), want)
	if _, ok := r.Position("nonesuch"); ok {
		t.Fatal("position of an unknown projection")
	}
}

func TestRunnerRestartResumes(t *testing.T) {
	w := buildWorld(t)
	all := w.records()
	want := catchUp(t, w.store).snapshot(t)
	ctx := context.Background()

	store := events.NewMemory()
	cps := &projections.MemoryCheckpoints{}
	m := newModels() // the models survive the restart with the checkpoints (as in KV)
	h := half(all)
	copyInto(t, store, all[:h])
	if _, err := (&projections.Runner{Store: store, Checkpoints: cps, Projections: m.list(), BatchSize: 5}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	copyInto(t, store, all[h:])
	r2 := &projections.Runner{Store: store, Checkpoints: cps, Projections: m.list(), BatchSize: 5}
	n, err := r2.CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4*(len(all)-h) {
		t.Fatalf("restarted runner applied %d, want %d (only the new events)", n, 4*(len(all)-h))
	}
	equalSnapshots(t, m.snapshot(t), want)
	for _, p := range m.list() {
		if pos, _ := cps.Load(ctx, p.Name()); pos != uint64(len(all)) {
			t.Fatalf("%s checkpoint %d, want %d", p.Name(), pos, len(all))
		}
	}
}

// A crash after applying but before saving the checkpoint replays events the
// models have seen; they must not count them twice.
func TestRunnerReplayAfterLostCheckpoint(t *testing.T) {
	w := buildWorld(t)
	want := catchUp(t, w.store).snapshot(t)
	ctx := context.Background()
	m := newModels()
	cps := &projections.MemoryCheckpoints{}
	if _, err := (&projections.Runner{Store: w.store, Checkpoints: cps, Projections: m.list()}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.list() {
		if err := cps.Save(ctx, p.Name(), 17); err != nil {
			t.Fatal(err)
		}
	}
	n, err := (&projections.Runner{Store: w.store, Checkpoints: cps, Projections: m.list()}).CatchUp(ctx)
	if err != nil || n == 0 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	equalSnapshots(t, m.snapshot(t), want)
	// Applying everything once more by hand changes nothing either.
	for _, r := range w.records() {
		for _, p := range m.list() {
			if err := p.Apply(&r); err != nil {
				t.Fatal(err)
			}
		}
	}
	equalSnapshots(t, m.snapshot(t), want)
}

func TestRunnerRebuild(t *testing.T) {
	w := buildWorld(t)
	all := w.records()
	ctx := context.Background()
	store := events.NewMemory()
	m := newModels()
	r := &projections.Runner{Store: store, Projections: m.list(), BatchSize: 3}
	h := half(all)
	copyInto(t, store, all[:h])
	if _, err := r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	copyInto(t, store, all[h:])
	if _, err := r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	incremental := m.snapshot(t)
	for _, name := range []string{projections.NameSecurityInfo, projections.NameChallenges, projections.NameAuditTrail, projections.NameTenantStats} {
		n, err := r.Rebuild(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(all) {
			t.Fatalf("rebuild %s applied %d, want %d", name, n, len(all))
		}
		if pos, _ := r.Position(name); pos != uint64(len(all)) {
			t.Fatalf("rebuild %s at %d", name, pos)
		}
	}
	equalSnapshots(t, m.snapshot(t), incremental)

	if _, err := r.Rebuild(ctx, "nonesuch"); vakt.CodeOf(err) != vakt.CodeNotFound {
		t.Fatalf("rebuild unknown: %v", err)
	}
	r2 := &projections.Runner{Store: store, Projections: []projections.Projection{&counter{name: "plain"}}}
	if _, err := r2.Rebuild(ctx, "plain"); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Fatalf("rebuild without Reset: %v", err)
	}
}

// counter is a projection that counts events and can be told to fail.
type counter struct {
	name   string
	n      atomic.Int64
	failAt uint64 // position to fail at, once; 0: never
}

func (c *counter) Name() string { return c.name }

func (c *counter) Apply(rec *events.Record) error {
	if rec.Position == c.failAt {
		c.failAt = 0
		return errors.New("poison")
	}
	c.n.Add(1)
	return nil
}

// savingCheckpoints counts saves.
type savingCheckpoints struct {
	projections.MemoryCheckpoints
	mu    sync.Mutex
	saves map[string][]uint64
}

func (s *savingCheckpoints) Save(ctx context.Context, name string, pos uint64) error {
	s.mu.Lock()
	if s.saves == nil {
		s.saves = map[string][]uint64{}
	}
	s.saves[name] = append(s.saves[name], pos)
	s.mu.Unlock()
	return s.MemoryCheckpoints.Save(ctx, name, pos)
}

func TestRunnerFailingProjectionStopsAlone(t *testing.T) {
	w := buildWorld(t)
	total := len(w.records())
	ctx := context.Background()
	bad := &counter{name: "bad", failAt: 10}
	good := &counter{name: "good"}
	cps := &savingCheckpoints{}
	r := &projections.Runner{Store: w.store, Checkpoints: cps, Projections: []projections.Projection{bad, good}, BatchSize: 4}
	n, err := r.CatchUp(ctx)
	if err == nil || !strings.Contains(err.Error(), "projection bad: event") || !strings.Contains(err.Error(), "poison") || n != 9+total {
		t.Fatalf("catch-up with a failing projection: %d, %v", n, err)
	}
	if pos, _ := r.Position("bad"); pos != 9 {
		t.Fatalf("bad stopped at %d, want 9 (before the failing event)", pos)
	}
	if pos, _ := r.Position("good"); pos != uint64(total) {
		t.Fatalf("good at %d, want %d", pos, total)
	}
	if got := fmt.Sprint(cps.saves["bad"]); got != "[4 8 9]" {
		t.Fatalf("bad saved %s, want every 4 events and where it stopped", got)
	}
	// The cause is gone: the next catch-up resumes at the failing event.
	n, err = r.CatchUp(ctx)
	if err != nil || n != total-9 || bad.n.Load() != int64(total) || good.n.Load() != int64(total) {
		t.Fatalf("resume: %d, %v; bad %d good %d", n, err, bad.n.Load(), good.n.Load())
	}
}

func TestRunnerCancelSavesProgress(t *testing.T) {
	w := buildWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	cps := &projections.MemoryCheckpoints{}
	stop := &cancelAt{counter: counter{name: "c"}, at: 20, cancel: cancel}
	r := &projections.Runner{Store: w.store, Checkpoints: cps, Projections: []projections.Projection{stop}, BatchSize: 1000}
	n, err := r.CatchUp(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
	pos, _ := cps.Load(context.Background(), "c")
	if pos == 0 || pos != uint64(n) || stop.n.Load() != int64(n) {
		t.Fatalf("cancelled after %d events, checkpoint %d", n, pos)
	}
	// A new run picks up where it stopped.
	n2, err := (&projections.Runner{Store: w.store, Checkpoints: cps, Projections: []projections.Projection{stop}}).CatchUp(context.Background())
	if err != nil || n+n2 != len(w.records()) {
		t.Fatalf("resume: %d+%d, %v", n, n2, err)
	}
}

type cancelAt struct {
	counter
	at     uint64
	cancel func()
}

func (c *cancelAt) Apply(rec *events.Record) error {
	if rec.Position == c.at {
		c.cancel()
	}
	return c.counter.Apply(rec)
}

func TestRunnerValidation(t *testing.T) {
	ctx := context.Background()
	store := events.NewMemory()
	for name, r := range map[string]*projections.Runner{
		"no store":   {Projections: []projections.Projection{&counter{name: "a"}}},
		"duplicates": {Store: store, Projections: []projections.Projection{&counter{name: "a"}, &counter{name: "a"}}},
		"no name":    {Store: store, Projections: []projections.Projection{&counter{}}},
		"nil":        {Store: store, Projections: []projections.Projection{nil}},
	} {
		if _, err := r.CatchUp(ctx); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n, err := (&projections.Runner{Store: store}).CatchUp(ctx); n != 0 || err != nil {
		t.Errorf("no projections: %d, %v", n, err)
	}
	if err := projections.NewSecurityInfos().Apply(&events.Record{}); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("record without event: %v", err)
	}
}

// Readers get copies while the runner folds new events in other goroutines.
func TestConcurrentReadersAndCatchUp(t *testing.T) {
	w := buildWorld(t)
	all := w.records()
	store := events.NewMemory()
	m := newModels()
	r := &projections.Runner{Store: store, Projections: m.list(), BatchSize: 2}
	ctx := context.Background()
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for _, k := range m.infos.Keys() {
					s, _ := m.infos.Get(k.Tenant, k.ID)
					for i := range s.Authenticators {
						s.Authenticators[i].Label = "mine" // a copy: no race with Apply
					}
				}
				for _, k := range m.challenges.Keys() {
					c, _ := m.challenges.Get(k.Tenant, k.ID)
					c.Methods = append(c.Methods[:0], "x")
				}
				if a, ok := m.audit.Get(tenant, "ola.nordmann"); ok && len(a.Entries) > 0 {
					a.Entries[0].Summary = "mine"
					maps.DeleteFunc(a.Refs, func(string, projections.Ref) bool { return true })
				}
				if s, ok := m.stats.Get(tenant); ok {
					s.ChallengesByOutcome.Issued = -1
					for k, d := range s.Daily {
						if d.Enrolments != nil {
							d.Enrolments["x"]++
						}
						s.Daily[k] = d
					}
				}
				_, _ = r.Position(projections.NameAuditTrail)
			}
		})
	}
	for i := 0; i < len(all); {
		j := min(i+9, len(all))
		for j < len(all) && all[j].Command == all[j-1].Command && all[j].Stream() == all[j-1].Stream() {
			j++
		}
		copyInto(t, store, all[i:j])
		if _, err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		i = j
	}
	close(done)
	wg.Wait()
	equalSnapshots(t, m.snapshot(t), catchUp(t, w.store).snapshot(t))
}
