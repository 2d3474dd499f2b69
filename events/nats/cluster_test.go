package nats_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
)

var faultTime = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// ackedEvent is one event an Append acknowledged.
type ackedEvent struct {
	Stream    events.Stream
	Seq       uint64
	Position  uint64
	Hash      events.Hash
	Command   string
	Duplicate bool // acknowledged by a retry answered as a duplicate
}

func ackedEventsOf(res events.AppendResult) []ackedEvent {
	out := make([]ackedEvent, len(res.Records))
	for i, r := range res.Records {
		out[i] = ackedEvent{Stream: r.Stream(), Seq: r.Seq, Position: r.Position, Hash: r.Hash, Command: r.Command, Duplicate: res.Duplicate}
	}
	return out
}

// renameEvents makes 1 to 3 events (a group commit then mixes plain publishes and
// atomic batches).
func renameEvents(cmd string) []events.Event {
	n, _ := rand.Int(rand.Reader, big.NewInt(3))
	evs := make([]events.Event, n.Int64()+1)
	for i := range evs {
		evs[i] = events.Renamed{AuthenticatorID: "0190a0a0-0000-7000-8000-000000000001", Label: fmt.Sprintf("%s/%d", cmd, i)}
	}
	return evs
}

// writeFailure is an append (or load) that did not get an answer.
type writeFailure struct {
	At   time.Time
	Code vakt.Code
	Err  string
}

// faultWriter appends commands to its own streams with the optimistic loop of
// the engine: load, build, append; on a conflict load and build again; on
// any other error (the outcome is unknown) load and retry the same command
// id, so that a retry of a command that was stored is answered as a
// duplicate, never stored twice.
type faultWriter struct {
	store   *natsstore.Store
	id      int
	streams []events.Stream
	heads   map[events.Stream]events.Head

	mu        sync.Mutex
	acks      []ackedEvent
	ackTimes  []time.Time // when each command was acknowledged
	started   []time.Time // when that command's successful attempt began
	failures  []writeFailure
	conflicts int
	emptyDups []string // duplicates answered without records
}

func newFaultWriter(store *natsstore.Store, id, users int) *faultWriter {
	w := &faultWriter{store: store, id: id, heads: map[events.Stream]events.Head{}}
	for u := range users {
		w.streams = append(w.streams, events.Stream{Tenant: "acme", User: fmt.Sprintf("w%d.user %d", id, u)})
	}
	return w
}

func (w *faultWriter) fail(err error) {
	w.mu.Lock()
	w.failures = append(w.failures, writeFailure{At: time.Now(), Code: vakt.CodeOf(err), Err: err.Error()})
	w.mu.Unlock()
}

// run appends until ctx ends; each command goes to the next stream in turn.
func (w *faultWriter) run(ctx context.Context, prefix string) {
	for k := 0; ctx.Err() == nil; k++ {
		st := w.streams[k%len(w.streams)]
		w.command(ctx, st, fmt.Sprintf("%s-w%d-%d", prefix, w.id, k))
	}
}

func (w *faultWriter) command(ctx context.Context, st events.Stream, cmd string) {
	evs := renameEvents(cmd)
	for ctx.Err() == nil {
		head := w.heads[st]
		recs, err := w.store.Load(ctx, st, head)
		if err != nil {
			if ctx.Err() == nil {
				w.fail(err)
				time.Sleep(20 * time.Millisecond)
			}
			continue
		}
		if len(recs) > 0 {
			head = recs[len(recs)-1].Head()
			w.heads[st] = head
		}
		built, err := events.Build(st, head, events.Meta{Command: cmd, Actor: "test", Time: faultTime}, rand.Reader, evs)
		if err != nil {
			panic(err)
		}
		begin := time.Now()
		res, err := w.store.Append(ctx, st, head, built)
		switch {
		case err == nil:
			w.mu.Lock()
			w.acks = append(w.acks, ackedEventsOf(res)...)
			w.ackTimes = append(w.ackTimes, time.Now())
			w.started = append(w.started, begin)
			if res.Duplicate && len(res.Records) == 0 {
				w.emptyDups = append(w.emptyDups, fmt.Sprintf("%s %s at seq %d", st, cmd, head.Seq))
			}
			w.mu.Unlock()
			if n := len(res.Records); n > 0 {
				w.heads[st] = res.Records[n-1].Head()
			}
			return
		case vakt.CodeOf(err) == vakt.CodeConflict:
			w.mu.Lock()
			w.conflicts++
			w.mu.Unlock()
		case ctx.Err() != nil:
			return
		default:
			w.fail(err)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (w *faultWriter) ackCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ackTimes)
}

// storedEvents is what a store holds, read back in store order.
type storedEvents struct {
	records  int
	byStream map[events.Stream][]events.Record
}

// readBackAll reads every event of store with All, verifies every stream's
// hash chain, checks that no command appears twice in a stream, and returns
// the records by stream.
func readBackAll(t *testing.T, store *natsstore.Store) storedEvents {
	t.Helper()
	ctx := context.Background()
	v := events.NewVerifier()
	out := storedEvents{byStream: map[events.Stream][]events.Record{}}
	var lastPos uint64
	for rec, err := range store.All(ctx, 0) {
		if err != nil {
			t.Fatalf("read back after %d events: %v", out.records, err)
		}
		if rec.Position <= lastPos {
			t.Fatalf("position %d after %d", rec.Position, lastPos)
		}
		lastPos = rec.Position
		if brk := v.Check(&rec); brk != nil {
			t.Errorf("chain: %v", brk)
		}
		out.records++
		out.byStream[rec.Stream()] = append(out.byStream[rec.Stream()], rec)
	}
	for st, recs := range out.byStream {
		runs := map[string]int{}
		for i, r := range recs {
			if i == 0 || recs[i-1].Command != r.Command {
				runs[r.Command]++
			}
		}
		for cmd, n := range runs {
			if n > 1 {
				t.Errorf("%s: command %s stored %d times", st, cmd, n)
			}
		}
		// Load computes the chain itself: it must agree with the stored
		// hash headers.
		loaded, err := store.Load(ctx, st, events.Head{})
		if err != nil {
			t.Fatalf("load %s: %v", st, err)
		}
		if len(loaded) != len(recs) {
			t.Errorf("%s: Load gives %d events, All %d", st, len(loaded), len(recs))
			continue
		}
		for i := range loaded {
			if loaded[i].Head() != recs[i].Head() {
				t.Errorf("%s seq %d: Load head %+v, All head %+v", st, recs[i].Seq, loaded[i].Head(), recs[i].Head())
			}
		}
	}
	return out
}

// checkAcked checks that every acknowledged event is stored once, where it
// was acknowledged, with the hash it was acknowledged with. It returns how
// many stored events were never acknowledged.
func checkAcked(t *testing.T, got storedEvents, acks []ackedEvent) (unacked int) {
	t.Helper()
	seen := map[events.Stream]map[uint64]bool{}
	for _, a := range acks {
		recs := got.byStream[a.Stream]
		if a.Seq == 0 || a.Seq > uint64(len(recs)) {
			t.Errorf("acknowledged %s seq %d (position %d, command %s) is missing: the stream has %d events", a.Stream, a.Seq, a.Position, a.Command, len(recs))
			continue
		}
		r := recs[a.Seq-1]
		if r.Position != a.Position || r.Hash != a.Hash || r.Command != a.Command {
			t.Errorf("acknowledged %s seq %d: stored at position %d hash %s command %s, acknowledged at %d hash %s command %s",
				a.Stream, a.Seq, r.Position, r.Hash, r.Command, a.Position, a.Hash, a.Command)
		}
		if seen[a.Stream] == nil {
			seen[a.Stream] = map[uint64]bool{}
		}
		seen[a.Stream][a.Seq] = true
	}
	for st, recs := range got.byStream {
		for _, r := range recs {
			if !seen[st][r.Seq] {
				unacked++
			}
		}
	}
	return unacked
}

// TestClusterLeaderFailover appends continuously from several goroutines to
// a replicas-3 store on a 3-node cluster with fsync, and twice stops a node
// under load: first the stream leader, then the node the writers' connection
// is on (a follower, so that writes it forwarded are stored while their
// replies are lost). Appends may fail for a while but must succeed again,
// and afterwards every acknowledged event must be stored exactly once, where
// it was acknowledged, with every chain intact.
func TestClusterLeaderFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	const (
		writers   = 6
		usersEach = 4
		perPhase  = 150 // commands acknowledged before each stop, and after it
	)
	ctx := context.Background()
	c := natstest.Cluster(t, 3, natstest.Durable())
	nc, js := c.Connect(t)
	store, err := natsstore.Open(ctx, js, natsstore.Options{Replicas: 3, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	leader, err := c.WaitStreamLeader(natsstore.StreamName, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if name, err := natstest.StreamInfoLeader(ctx, js, natsstore.StreamName); err != nil || name != c.Name(leader) {
		t.Fatalf("stream info names leader %q (%v); the servers say %s", name, err, c.Name(leader))
	}

	wctx, stopWriters := context.WithCancel(ctx)
	defer stopWriters()
	ws := make([]*faultWriter, writers)
	var wg sync.WaitGroup
	for i := range ws {
		ws[i] = newFaultWriter(store, i, usersEach)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws[i].run(wctx, "fo")
		}()
	}
	total := func() int {
		n := 0
		for _, w := range ws {
			n += w.ackCount()
		}
		return n
	}
	waitAcks := func(n int, within time.Duration) bool {
		deadline := time.Now().Add(within)
		for total() < n {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(5 * time.Millisecond)
		}
		return true
	}
	dumpFailures := func(since time.Time) {
		for _, w := range ws {
			w.mu.Lock()
			for _, f := range w.failures {
				if f.At.After(since) {
					t.Logf("  writer %d at +%s: %s", w.id, f.At.Sub(since).Round(time.Millisecond), f.Err)
				}
			}
			w.mu.Unlock()
		}
	}

	// phase stops node i once perPhase more commands are acknowledged,
	// waits for perPhase more, reports, and restarts the node.
	phase := func(what string, pick func() int) {
		t.Helper()
		begin, start := time.Now(), total()
		if !waitAcks(start+perPhase, 30*time.Second) {
			t.Fatalf("%s: only %d commands acknowledged in 30s", what, total()-start)
		}
		before := total()
		rate := float64(before-start) / time.Since(begin).Seconds()
		i := pick()
		stoppedAt := time.Now()
		c.StopServer(i)
		newLeader, err := c.WaitStreamLeader(natsstore.StreamName, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		elected := time.Since(stoppedAt)
		if !waitAcks(before+perPhase, 40*time.Second) {
			stopWriters()
			wg.Wait()
			dumpFailures(stoppedAt)
			t.Fatalf("%s: only %d commands acknowledged within 40s of the stop", what, total()-before)
		}

		// When did appends succeed again? The first command acknowledged
		// whose successful attempt began after the stop.
		firstAfter := time.Duration(-1)
		var after, inFlight, failures, dups int
		var lastFailure time.Duration
		codes := map[vakt.Code]int{}
		for _, w := range ws {
			w.mu.Lock()
			for k, at := range w.ackTimes {
				if !at.After(stoppedAt) {
					continue
				}
				after++
				if w.started[k].After(stoppedAt) {
					if d := at.Sub(stoppedAt); firstAfter < 0 || d < firstAfter {
						firstAfter = d
					}
				} else {
					inFlight++
				}
			}
			for _, f := range w.failures {
				if f.At.After(stoppedAt) {
					failures++
					codes[f.Code]++
					lastFailure = max(lastFailure, f.At.Sub(stoppedAt))
				}
			}
			for _, a := range w.acks {
				if a.Duplicate {
					dups++
				}
			}
			w.mu.Unlock()
		}
		if firstAfter < 0 {
			t.Fatalf("%s: no append begun after the stop succeeded", what)
		}
		t.Logf("%s: stopped %s after %d commands in all (%.0f commands/s); stream leader %s %s after the stop; first append begun after the stop acknowledged at +%s; %d failed attempts after the stop %v, the last at +%s; %d commands acknowledged after the stop (%d of them in flight at the stop); %d events acknowledged as duplicates so far",
			what, c.Name(i), before, rate, c.Name(newLeader), elected.Round(time.Millisecond), firstAfter.Round(time.Millisecond),
			failures, codes, lastFailure.Round(time.Millisecond), after, inFlight, dups)
		if testing.Verbose() {
			dumpFailures(stoppedAt)
		}
		c.RestartServer(i)
		if err := c.WaitStreamCurrent(natsstore.StreamName, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitMetaLeader(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}

	phase("leader", func() int { return leader })
	phase("client's server", func() int {
		// The node the writers' connection is on; if it leads the stream,
		// hand the leadership over first, so that it is a follower that
		// forwards writes when it stops.
		i := -1
		for j := range c.N() {
			if c.Name(j) == nc.ConnectedServerName() {
				i = j
			}
		}
		if i < 0 {
			t.Fatalf("connected to %q, not a node", nc.ConnectedServerName())
		}
		if c.StreamLeader(natsstore.StreamName) == i {
			if err := c.Server(i).JetStreamStepdownStream(natstest.Account, natsstore.StreamName); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for l := c.StreamLeader(natsstore.StreamName); l == i || l < 0; l = c.StreamLeader(natsstore.StreamName) {
				if time.Now().After(deadline) {
					t.Fatal("stepdown did not move the stream leader")
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		return i
	})
	stopWriters()
	wg.Wait()

	var acks []ackedEvent
	conflicts := 0
	for _, w := range ws {
		acks = append(acks, w.acks...)
		conflicts += w.conflicts
		for _, e := range w.emptyDups {
			t.Errorf("a retry was answered as a duplicate without the command's events: %s", e)
		}
	}
	t.Logf("%d events acknowledged in all, %d conflicts (stale loads); group committer %+v", len(acks), conflicts, store.Stats())

	// Read everything back through a fresh connection to the node stopped
	// last (it restarted and caught up).
	_, js2 := c.ConnectTo(t, c.StreamLeader(natsstore.StreamName))
	fresh, err := natsstore.Open(ctx, js2, natsstore.Options{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	got := readBackAll(t, fresh)
	unacked := checkAcked(t, got, acks)
	t.Logf("read back %d events in %d streams: %d acknowledged, %d stored without an acknowledgement", got.records, len(got.byStream), len(acks), unacked)
	if unacked != 0 {
		// Every writer retries a command until it is answered, so every
		// stored event should have been acknowledged, if only as a
		// duplicate.
		t.Errorf("%d stored events were never acknowledged", unacked)
	}
}

// TestRetryAfterReloadIsDuplicate: the engine retries a command whose reply
// was lost by reloading the user (which now includes the command's own
// events), deciding again and appending with the same command id. The store
// must answer with the events the first attempt stored, as events.Memory
// does. (A conformance case; it belongs in eventstest.)
func TestRetryAfterReloadIsDuplicate(t *testing.T) {
	for name, store := range map[string]events.Store{"memory": events.NewMemory(), "nats": openStore(t, natsstore.Options{})} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := events.Stream{Tenant: "t", User: "u"}
			evs := []events.Event{events.Renamed{AuthenticatorID: "a", Label: "x"}, events.Renamed{AuthenticatorID: "a", Label: "y"}}
			other, _ := events.Build(st, events.Head{}, events.Meta{Command: "cmd-0", Time: faultTime}, rand.Reader, evs[:1])
			base, err := store.Append(ctx, st, events.Head{}, other)
			if err != nil {
				t.Fatal(err)
			}
			h0 := base.Records[0].Head()
			recs, _ := events.Build(st, h0, events.Meta{Command: "cmd-1", Time: faultTime}, rand.Reader, evs)
			first, err := store.Append(ctx, st, h0, recs)
			if err != nil {
				t.Fatal(err)
			}
			head := first.Records[1].Head()
			retry, _ := events.Build(st, head, events.Meta{Command: "cmd-1", Time: faultTime}, rand.Reader, evs[:1])
			res, err := store.Append(ctx, st, head, retry)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Duplicate || len(res.Records) != 2 {
				t.Fatalf("duplicate=%v with %d records, want the first attempt's 2", res.Duplicate, len(res.Records))
			}
			for i := range res.Records {
				if res.Records[i].Head() != first.Records[i].Head() {
					t.Errorf("record %d: %+v, want %+v", i, res.Records[i].Head(), first.Records[i].Head())
				}
			}
			all, err := store.Load(ctx, st, events.Head{})
			if err != nil || len(all) != 3 {
				t.Fatalf("%d events stored (%v), want 3", len(all), err)
			}
		})
	}
}

// TestRetryOutsideDuplicateWindow is TestRetryAfterReloadIsDuplicate after
// the stream's duplicate window (Nats-Msg-Id) has passed: the store learns
// that the retry repeats a stored command from the expected head's command
// id (events.Head.Command), not from the server's deduplication.
func TestRetryOutsideDuplicateWindow(t *testing.T) {
	ctx := context.Background()
	n := natstest.Start(t)
	cfg := natsstore.StreamConfig(natsstore.StreamName, 1)
	cfg.Duplicates = 100 * time.Millisecond // Open accepts any window; production has 2 minutes
	if _, err := n.JetStream.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	store, err := natsstore.Open(ctx, n.JetStream, natsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	st := events.Stream{Tenant: "t", User: "u"}
	evs := []events.Event{events.Renamed{AuthenticatorID: "a", Label: "x"}}
	recs, _ := events.Build(st, events.Head{}, events.Meta{Command: "cmd-1", Time: faultTime}, rand.Reader, evs)
	first, err := store.Append(ctx, st, events.Head{}, recs)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	head := first.Records[0].Head()
	retry, _ := events.Build(st, head, events.Meta{Command: "cmd-1", Time: faultTime}, rand.Reader, evs)
	res, err := store.Append(ctx, st, head, retry)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := store.Load(ctx, st, events.Head{})
	if !res.Duplicate || len(all) != 1 {
		t.Fatalf("retry: duplicate=%v; the stream holds %d events (command cmd-1 stored %d times)", res.Duplicate, len(all), len(all))
	}
}
