package natsviews_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vaktmfa/vakt"

	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/jsonx"
	pnats "github.com/vaktmfa/vakt/internal/natsviews"
	"github.com/vaktmfa/vakt/projections"
)

func newRunner(t testing.TB, w *world, opts pnats.Options) *pnats.Runner {
	t.Helper()
	r, err := pnats.NewRunner(context.Background(), w.nats.JetStream, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sortKeys(ks []projections.Key) {
	slices.SortFunc(ks, func(a, b projections.Key) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.ID, b.ID))
	})
}

// sameDocs checks that the bucket holds exactly the oracle's models of one
// collection, byte for byte.
func sameDocs[T any, P projections.Model[T]](t *testing.T, v *pnats.Views, want *projections.Collection[T, P]) {
	t.Helper()
	ctx := context.Background()
	got, err := v.Keys(ctx, want.Name())
	if err != nil {
		t.Fatal(err)
	}
	sortKeys(got)
	if wk := want.Keys(); !slices.Equal(got, wk) {
		t.Errorf("%s: stored %d keys, want %d:\n got %v\nwant %v", want.Name(), len(got), len(wk), got, wk)
		return
	}
	for _, k := range got {
		b, ok, err := v.Get(ctx, want.Name(), k)
		if err != nil || !ok {
			t.Fatalf("%s %v: %v %v", want.Name(), k, ok, err)
		}
		m, _ := want.Lookup(k)
		wb, err := jsonx.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, wb) {
			i := 0
			for i < min(len(b), len(wb)) && b[i] == wb[i] {
				i++
			}
			lo := max(i-120, 0)
			t.Errorf("%s %v differs at byte %d:\n got …%.300s\nwant …%.300s", want.Name(), k, i, b[lo:], wb[lo:])
		}
	}
}

// sameAsOracle checks all four projections against a fold of every stored
// event.
func sameAsOracle(t *testing.T, w *world, v *pnats.Views) {
	t.Helper()
	o := w.oracle()
	sameDocs(t, v, o.infos.Collection)
	sameDocs(t, v, o.challenges.Collection)
	sameDocs(t, v, o.audit.Collection)
	sameDocs(t, v, o.stats.Collection)
}

func catchUp(t testing.TB, r *pnats.Runner) int {
	t.Helper()
	n, err := r.CatchUp(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func lags(t testing.TB, r *pnats.Runner) map[string]uint64 {
	t.Helper()
	l, err := r.Lag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func wantLag(t testing.TB, r *pnats.Runner, want uint64) {
	t.Helper()
	for name, l := range lags(t, r) {
		if l != want {
			t.Fatalf("%s lag %d, want %d", name, l, want)
		}
	}
}

func TestCatchUpMatchesOracle(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.story("a", 12)
	m := newModels()
	r := newRunner(t, w, pnats.Options{Projections: m.list()})
	pos := w.position()
	wantLag(t, r, pos)
	if n := catchUp(t, r); n != 4*int(pos) {
		t.Fatalf("applied %d, want %d", n, 4*pos)
	}
	sameAsOracle(t, w, r.Views())
	wantLag(t, r, 0)
	if n := catchUp(t, r); n != 0 {
		t.Fatalf("idle catch-up applied %d", n)
	}

	w.more(1)
	pos2 := w.position()
	wantLag(t, r, pos2-pos)
	if n := catchUp(t, r); n != 4*int(pos2-pos) {
		t.Fatalf("second catch-up applied %d, want %d", n, 4*(pos2-pos))
	}
	sameAsOracle(t, w, r.Views())
	wantLag(t, r, 0)
	for _, p := range m.list() {
		if cp, err := r.Views().Checkpoint(context.Background(), p.Name()); err != nil || cp != pos2 {
			t.Fatalf("%s checkpoint %d, %v; want %d", p.Name(), cp, err, pos2)
		}
	}

	// Readers: from memory or from the bucket, the same bytes.
	ctx := context.Background()
	k := projections.Key{Tenant: "uio.no", ID: w.users[0].id}
	got, ok, err := r.Get(ctx, projections.NameSecurityInfo, k)
	stored, _, _ := r.Views().Get(ctx, projections.NameSecurityInfo, k)
	if err != nil || !ok || !bytes.Equal(got, stored) {
		t.Fatalf("Get: %v %v\n%s\n%s", ok, err, got, stored)
	}
	if _, ok, err := r.Get(ctx, projections.NameSecurityInfo, projections.Key{Tenant: "uio.no", ID: "nobody"}); ok || err != nil {
		t.Fatalf("Get of nobody: %v %v", ok, err)
	}
	if _, _, err := r.Get(ctx, "nonesuch", k); vakt.CodeOf(err) != vakt.CodeNotFound {
		t.Fatalf("Get of an unknown projection: %v", err)
	}
	if info, ok := m.infos.Get("uio.no", w.users[0].id); !ok || len(info.Authenticators) == 0 {
		t.Fatalf("typed read: %v %+v", ok, info)
	}
}

// A new runner with new (empty) models on the same bucket resumes from the
// checkpoints: it applies only the new events, reloading the documents they
// touch, and counts nothing twice.
func TestRestartResumes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		flush, cache int
	}{
		{"defaults", 0, 0},
		{"small flushes and cache", 7, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.story("a", 10)
			opts := func(m models) pnats.Options {
				return pnats.Options{Projections: m.list(), FlushEvents: tc.flush, Cache: tc.cache}
			}
			r1 := newRunner(t, w, opts(newModels()))
			catchUp(t, r1)
			pos1 := w.position()

			w.more(2)
			w.story("b", 6)
			pos2 := w.position()
			m2 := newModels()
			r2 := newRunner(t, w, opts(m2))
			wantLag(t, r2, pos2-pos1)
			if n := catchUp(t, r2); n != 4*int(pos2-pos1) {
				t.Fatalf("restarted runner applied %d, want %d (only the new events)", n, 4*(pos2-pos1))
			}
			sameAsOracle(t, w, r2.Views())
			o := w.oracle()
			for _, tenant := range []string{"uio.no", "ntnu.no"} {
				got, _ := m2.stats.Get(tenant)
				want, _ := o.stats.Get(tenant)
				if got.Events != want.Events || got.ChallengesByOutcome != want.ChallengesByOutcome || got.Users != want.Users {
					t.Fatalf("%s stats: events %d outcomes %+v users %d; want %d %+v %d", tenant,
						got.Events, got.ChallengesByOutcome, got.Users, want.Events, want.ChallengesByOutcome, want.Users)
				}
			}
			if tc.cache > 0 {
				for _, p := range []interface{ Len() int }{m2.infos, m2.challenges, m2.audit, m2.stats} {
					if p.Len() > tc.cache {
						t.Fatalf("%d models in memory after a flush, cache %d", p.Len(), tc.cache)
					}
				}
			}
			if n := catchUp(t, newRunner(t, w, opts(newModels()))); n != 0 {
				t.Fatalf("third runner applied %d", n)
			}
		})
	}
}

var errCrash = errors.New("crash")

// A runner that dies at any point of a flush leaves the bucket in a state
// from which a new runner reaches exactly the oracle.
func TestCrashAndRestart(t *testing.T) {
	t.Parallel()
	for _, stage := range []string{"flush", "chunk", "ack"} {
		t.Run(stage, func(t *testing.T) {
			w := newWorld(t)
			w.story("a", 8)
			r1 := newRunner(t, w, pnats.Options{Projections: newModels().list(), FlushEvents: 40})
			r1.Views().SetBatchLimit(9) // split every flush, so that "chunk" happens
			calls := 0
			r1.SetCrash(func(s string) error {
				if s == stage {
					if calls++; calls == 3 {
						return errCrash
					}
				}
				return nil
			})
			if _, err := r1.CatchUp(context.Background()); !errors.Is(err, errCrash) {
				t.Fatalf("crash at %s: %v", stage, err)
			}
			cps := map[string]uint64{}
			for _, name := range []string{projections.NameSecurityInfo, projections.NameChallenges, projections.NameAuditTrail, projections.NameTenantStats} {
				cps[name], _ = r1.Views().Checkpoint(context.Background(), name)
				if cps[name] == 0 || cps[name] >= w.position() || cps[name] != cps[projections.NameSecurityInfo] {
					t.Fatalf("%s checkpoint %d after a crash at %s (stream at %d): %v", name, cps[name], stage, w.position(), cps)
				}
			}
			// r1 is gone without a word; events go on.
			w.more(1)
			r2 := newRunner(t, w, pnats.Options{Projections: newModels().list()})
			n := catchUp(t, r2)
			if stage != "ack" && n != 4*int(w.position()-cps[projections.NameSecurityInfo]) {
				t.Fatalf("applied %d after the crash, want %d", n, 4*(w.position()-cps[projections.NameSecurityInfo]))
			}
			sameAsOracle(t, w, r2.Views())
			wantLag(t, r2, 0)
		})
	}
}

func TestRebuild(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.story("a", 8)
	r := newRunner(t, w, pnats.Options{Projections: newModels().list(), FlushEvents: 50, Cache: 5})
	catchUp(t, r)
	w.more(1)
	catchUp(t, r)
	ctx := context.Background()
	// A document no event made: a rebuild must drop it.
	bogus := pnats.DocKey(projections.NameSecurityInfo, projections.Doc{Key: projections.Key{Tenant: "uio.no", ID: "ghost"}})
	kv, err := w.nats.JetStream.KeyValue(ctx, pnats.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, bogus, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	pos := w.position()
	for _, name := range []string{projections.NameSecurityInfo, projections.NameChallenges, projections.NameAuditTrail, projections.NameTenantStats} {
		n, err := r.Rebuild(ctx, name)
		if err != nil || n != int(pos) {
			t.Fatalf("rebuild %s: %d, %v; want %d", name, n, err, pos)
		}
	}
	sameAsOracle(t, w, r.Views())
	wantLag(t, r, 0)
	if _, err := r.Rebuild(ctx, "nonesuch"); vakt.CodeOf(err) != vakt.CodeNotFound {
		t.Fatalf("rebuild unknown: %v", err)
	}
	// The others were not applied again: a catch-up finds nothing.
	if n := catchUp(t, r); n != 0 {
		t.Fatalf("catch-up after rebuilds applied %d", n)
	}
}

// counter is a plain projection: a checkpoint and no documents.
type counter struct {
	name string
	n    atomic.Int64
}

func (c *counter) Name() string { return c.name }
func (c *counter) Apply(*events.Record) error {
	c.n.Add(1)
	return nil
}

// flaky is the challenge projection failing once at one position.
type flaky struct {
	*projections.Challenges
	failAt atomic.Uint64
}

func (f *flaky) Apply(rec *events.Record) error {
	if rec.Position == f.failAt.Load() {
		f.failAt.Store(0)
		return errors.New("poison")
	}
	return f.Challenges.Apply(rec)
}

func TestFailingProjectionStopsAlone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.story("a", 8)
	ctx := context.Background()
	m := newModels()
	bad := &flaky{Challenges: m.challenges}
	bad.failAt.Store(w.position() / 2)
	plain := &counter{name: "plain"}
	r := newRunner(t, w, pnats.Options{Projections: []projections.Projection{m.infos, bad, m.audit, m.stats, plain}, FlushEvents: 16})
	_, err := r.CatchUp(ctx)
	if err == nil || !strings.Contains(err.Error(), "projection challenges: event") || !strings.Contains(err.Error(), "poison") {
		t.Fatalf("catch-up with a failing projection: %v", err)
	}
	o := w.oracle()
	sameDocs(t, r.Views(), o.infos.Collection)
	sameDocs(t, r.Views(), o.audit.Collection)
	sameDocs(t, r.Views(), o.stats.Collection)
	st, _ := r.Status(ctx)
	for _, s := range st {
		switch {
		case s.Name == projections.NameChallenges:
			if s.Err == nil || s.Checkpoint != w.position()/2-1 || s.Lag != w.position()-s.Checkpoint {
				t.Fatalf("failed projection: %+v", s)
			}
		case s.Err != nil || s.Lag != 0:
			t.Fatalf("%+v", s)
		}
	}
	if cp, _ := r.Views().Checkpoint(ctx, "plain"); cp != w.position() || plain.n.Load() != int64(cp) {
		t.Fatalf("plain projection at %d with %d events", cp, plain.n.Load())
	}
	// The next catch-up retries it and it goes on from where it stopped.
	if n := catchUp(t, r); n != int(w.position()-(w.position()/2-1)) {
		t.Fatalf("retry applied %d", n)
	}
	sameAsOracle(t, w, r.Views())
	wantLag(t, r, 0)
	if plain.n.Load() != int64(w.position()) {
		t.Fatalf("plain projection counted %d events, want %d", plain.n.Load(), w.position())
	}
}

// Run follows the stream as events are appended; CatchUp and Rebuild wait
// for it; a projection that fails is retried after a pause.
func TestRunFollowsTheStream(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.story("a", 6)
	m := newModels()
	bad := &flaky{Challenges: m.challenges}
	r := newRunner(t, w, pnats.Options{
		Projections:   []projections.Projection{m.infos, bad, m.audit, m.stats},
		FlushEvents:   25,
		FlushInterval: 20 * time.Millisecond,
		Retry:         50 * time.Millisecond,
		Cache:         3,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	// Readers hammer memory and bucket while Run applies, flushes and evicts.
	var readers sync.WaitGroup
	var keys []projections.Key
	for _, p := range w.users[:4] {
		keys = append(keys, projections.Key{Tenant: p.tenant, ID: p.id})
	}
	for i := range 3 {
		readers.Go(func() {
			for ctx.Err() == nil {
				for _, k := range keys {
					if b, ok, err := r.Get(ctx, projections.NameAuditTrail, k); err != nil && ctx.Err() == nil {
						t.Error(err)
					} else if ok && !bytes.HasPrefix(b, []byte("{")) {
						t.Errorf("not a document: %.40s", b)
					}
					if info, ok := m.infos.Get(k.Tenant, k.ID); ok && i == 0 && len(info.Authenticators) > 0 {
						info.Authenticators[0].Label = "mine" // a copy
					}
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		readers.Wait()
	}()

	bad.failAt.Store(w.position() + 7)
	w.more(1)
	// The failure is retried by Run after Retry; CatchUp returns its error
	// if it catches it failed, so ask until it is through.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := r.CatchUp(context.Background())
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "poison") || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sameAsOracle(t, w, r.Views())
	wantLag(t, r, 0)
	if err := r.Run(context.Background()); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Fatalf("second Run: %v", err)
	}

	// Appends are picked up without being asked.
	w.story("b", 4)
	pos := w.position()
	for time.Now().Before(deadline) {
		if l := lags(t, r); l[projections.NameAuditTrail] == 0 && l[projections.NameChallenges] == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantLag(t, r, 0)
	if p, _ := r.Position(projections.NameTenantStats); p != pos {
		t.Fatalf("at %d, want %d", p, pos)
	}
	sameAsOracle(t, w, r.Views())

	// A rebuild while running.
	if n, err := r.Rebuild(context.Background(), projections.NameTenantStats); err != nil || n != int(pos) {
		t.Fatalf("rebuild while running: %d, %v", n, err)
	}
	w.more(1)
	catchUp(t, r)
	sameAsOracle(t, w, r.Views())
}

func TestNewRunnerValidation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for name, ps := range map[string][]projections.Projection{
		"nil":        {nil},
		"duplicates": {&counter{name: "a"}, &counter{name: "a"}},
		"dotted":     {&counter{name: "a.b"}},
		"underscore": {&counter{name: "_a"}},
		"empty":      {&counter{}},
	} {
		if _, err := pnats.NewRunner(context.Background(), w.nats.JetStream, pnats.Options{Projections: ps}); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := pnats.NewRunner(context.Background(), w.nats.JetStream, pnats.Options{Stream: "NOPE"}); err == nil || !strings.Contains(err.Error(), "open the event store first") {
		t.Errorf("no stream: %v", err)
	}
	// A collection that already holds models cannot be attached.
	infos := projections.NewSecurityInfos()
	w.story("a", 1)
	for rec, err := range w.store.All(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if err := infos.Apply(&rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pnats.NewRunner(context.Background(), w.nats.JetStream, pnats.Options{Projections: []projections.Projection{infos}}); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("used collection: %v", err)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	for _, d := range []projections.Doc{
		{Key: projections.Key{Tenant: "uio.no", ID: "ola.nordmann@uio.no"}},
		{Key: projections.Key{Tenant: "uio.no"}},
		{Key: projections.Key{Tenant: "a b*>", ID: "_checkpoint"}},
		{Key: projections.Key{Tenant: "æøå", ID: "="}, Index: true},
		{Key: projections.Key{Tenant: "_open", ID: "_open"}},
	} {
		key := pnats.DocKey("p", d)
		proj, back, ok := pnats.ParseKey(key)
		if !ok || proj != "p" || back != d {
			t.Errorf("%+v -> %q -> %q %+v %v", d, key, proj, back, ok)
		}
		if key == pnats.CheckpointKey("p") {
			t.Errorf("%+v has the checkpoint's key", d)
		}
	}
	for _, bad := range []string{"p._checkpoint", "p.x", "p.a.b.c", "p.=41.x", "p.a.b.c.d"} {
		if _, _, ok := pnats.ParseKey(bad); ok {
			t.Errorf("ParseKey(%q) ok", bad)
		}
	}
}

// blob is a model that outgrows a NATS message.
type blob struct {
	Seq  map[string]uint64 `json:"seq"`
	Data []string          `json:"data"`
}

func (b *blob) Apply(rec *events.Record) {
	if b.Seq == nil {
		b.Seq = map[string]uint64{}
	}
	if rec.Seq <= b.Seq[rec.User] {
		return
	}
	b.Seq[rec.User] = rec.Seq
	b.Data = append(b.Data, strings.Repeat("x", 64<<10))
}

func (b *blob) Clone() blob {
	return blob{Seq: maps.Clone(b.Seq), Data: slices.Clone(b.Data)}
}

// A document too large for one message stops its projection, not the
// flush of the others.
func TestOvergrownDocumentStopsItsProjection(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.story("a", 8)
	big := projections.NewCollection[blob]("big", func(rec *events.Record) (projections.Key, projections.Route) {
		return projections.Key{Tenant: rec.Tenant}, projections.Upsert
	})
	m := newModels()
	r := newRunner(t, w, pnats.Options{Projections: []projections.Projection{m.infos, m.challenges, m.audit, m.stats, big}, FlushEvents: 10})
	_, err := r.CatchUp(context.Background())
	if err == nil || !strings.Contains(err.Error(), "max_payload") {
		t.Fatalf("catch-up with an overgrown document: %v", err)
	}
	sameAsOracle(t, w, r.Views())
	st, _ := r.Status(context.Background())
	if s := st[4]; s.Err == nil || s.Checkpoint == 0 || s.Lag == 0 {
		t.Fatalf("%+v", s)
	}
}

// Run rides out failing writes: CatchUp reports the error meanwhile, and
// once writes succeed again the bucket is exact.
func TestRunRecoversFromWriteErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.story("a", 6)
	r := newRunner(t, w, pnats.Options{Projections: newModels().list(), FlushEvents: 30, FlushInterval: 10 * time.Millisecond, Retry: 10 * time.Millisecond})
	var failing atomic.Int64
	failing.Store(5)
	r.SetCrash(func(stage string) error {
		if stage == "flush" && failing.Add(-1) >= 0 {
			return errors.New("bucket unavailable")
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	w.more(1)
	sawErr := false
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := r.CatchUp(context.Background())
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "bucket unavailable") || time.Now().After(deadline) {
			t.Fatal(err)
		}
		sawErr = true
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !sawErr || failing.Load() >= 0 {
		t.Fatalf("the failures were not seen: %v %d", sawErr, failing.Load())
	}
	if err := r.LastError(); err != nil {
		t.Fatal(err)
	}
	sameAsOracle(t, w, r.Views())
	wantLag(t, r, 0)
}

// A pull that takes events and goes away (or a second runner) makes the
// consumer deliver later events first; the runner notices the jump and
// starts the consumer again, so nothing is skipped.
func TestStolenDeliveriesAreNotSkipped(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.story("a", 4)
	r := newRunner(t, w, pnats.Options{Projections: newModels().list()})
	catchUp(t, r)
	w.more(1)
	ctx := context.Background()
	st, err := w.nats.JetStream.Stream(ctx, natsstore.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.Consumer(ctx, pnats.DefaultConsumer)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cons.Fetch(3, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	stolen := 0
	for range b.Messages() {
		stolen++
	}
	if stolen != 3 {
		t.Fatalf("stole %d", stolen)
	}
	catchUp(t, r)
	sameAsOracle(t, w, r.Views())
	wantLag(t, r, 0)
}
