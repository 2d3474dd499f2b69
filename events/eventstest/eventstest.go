// Package eventstest is the conformance suite for [events.Store]
// implementations. Every store runs it:
//
//	func TestConformance(t *testing.T) {
//		eventstest.Run(t, func(t *testing.T) events.Store { return newStore(t) })
//	}
//
// newStore must return an empty store that is cleaned up when t ends.
package eventstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) events.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, events.Store)
	}{
		{"AppendAndLoad", testAppendAndLoad},
		{"LoadAfter", testLoadAfter},
		{"EmptyStream", testEmptyStream},
		{"Conflict", testConflict},
		{"IdempotentRetry", testIdempotentRetry},
		{"RetryAfterOtherCommand", testRetryAfterOtherCommand},
		{"RetryAfterReload", testRetryAfterReload},
		{"AtomicMultiEvent", testAtomicMultiEvent},
		{"Ordering", testOrdering},
		{"AllAfter", testAllAfter},
		{"TrickyIDs", testTrickyIDs},
		{"BadAppend", testBadAppend},
		{"Cancelled", testCancelled},
		{"Hammer", testHammer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

var (
	cmdSeq    atomic.Uint64
	cmdPrefix = func() string {
		// Unique per run, so that a durable store reused across runs never
		// sees an old command id again.
		b := make([]byte, 6)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		return fmt.Sprintf("cmd-%x", b)
	}()
)

func newCommand() string { return fmt.Sprintf("%s-%d", cmdPrefix, cmdSeq.Add(1)) }

// build makes n rename events following head.
func build(t testing.TB, s events.Stream, head events.Head, cmd string, n int) []events.Record {
	t.Helper()
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = events.Renamed{AuthenticatorID: "0190a0a0-0000-7000-8000-000000000001", Label: fmt.Sprintf("label %d.%d", head.Seq, i)}
	}
	recs, err := events.Build(s, head, events.Meta{Command: cmd, Actor: "test", Time: t0}, rand.Reader, evs)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return recs
}

func mustAppend(t testing.TB, st events.Store, s events.Stream, head events.Head, n int) []events.Record {
	t.Helper()
	res, err := st.Append(context.Background(), s, head, build(t, s, head, newCommand(), n))
	if err != nil {
		t.Fatalf("append to %s at seq %d: %v", s, head.Seq, err)
	}
	if res.Duplicate || len(res.Records) != n {
		t.Fatalf("append: duplicate=%v, %d records, want %d new", res.Duplicate, len(res.Records), n)
	}
	return res.Records
}

func load(t testing.TB, st events.Store, s events.Stream, after events.Head) []events.Record {
	t.Helper()
	recs, err := st.Load(context.Background(), s, after)
	if err != nil {
		t.Fatalf("load %s: %v", s, err)
	}
	return recs
}

func head(recs []events.Record) events.Head {
	if len(recs) == 0 {
		return events.Head{}
	}
	return recs[len(recs)-1].Head()
}

// sameRecords compares what a store must keep exactly: bytes, hash, envelope.
func sameRecords(t testing.TB, got, want []events.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := &got[i], &want[i]
		if !bytes.Equal(g.Raw, w.Raw) || g.Hash != w.Hash || g.Seq != w.Seq || g.ID != w.ID || g.Type != w.Type {
			t.Fatalf("record %d differs:\n got  seq %d %s %x\n want seq %d %s %x", i, g.Seq, g.Raw, g.Hash, w.Seq, w.Raw, w.Hash)
		}
		if w.Position != 0 && g.Position != w.Position {
			t.Fatalf("record %d: position %d, want %d", i, g.Position, w.Position)
		}
		if g.Event == nil || g.Event.EventType() != g.Type {
			t.Fatalf("record %d: decoded event %T does not match type %s", i, g.Event, g.Type)
		}
	}
}

func verifyChain(t testing.TB, recs []events.Record) {
	t.Helper()
	v := events.NewVerifier()
	for i := range recs {
		if brk := v.Check(&recs[i]); brk != nil {
			t.Fatalf("chain: %v", brk)
		}
	}
}

func isCode(err error, code vakt.Code) bool { return vakt.CodeOf(err) == code }

func testAppendAndLoad(t *testing.T, st events.Store) {
	s := events.Stream{Tenant: "t1", User: "alice"}
	stored := mustAppend(t, st, s, events.Head{}, 1)
	stored = append(stored, mustAppend(t, st, s, head(stored), 2)...)
	for i, r := range stored {
		if r.Position == 0 {
			t.Fatalf("record %d: store did not set a position", i)
		}
		if i > 0 && r.Position <= stored[i-1].Position {
			t.Fatalf("positions not increasing: %d then %d", stored[i-1].Position, r.Position)
		}
	}
	got := load(t, st, s, events.Head{})
	sameRecords(t, got, stored)
	verifyChain(t, got)
	if ev, ok := got[2].Event.(events.Renamed); !ok || ev.Label != "label 1.1" {
		t.Fatalf("decoded event = %#v", got[2].Event)
	}
}

func testLoadAfter(t *testing.T, st events.Store) {
	s := events.Stream{Tenant: "t1", User: "bob"}
	stored := mustAppend(t, st, s, events.Head{}, 3)
	stored = append(stored, mustAppend(t, st, s, head(stored), 2)...)
	sameRecords(t, load(t, st, s, stored[2].Head()), stored[3:])
	// A head without a position (a snapshot from another store) still works.
	sameRecords(t, load(t, st, s, events.Head{Seq: 4, Hash: stored[3].Hash}), stored[4:])
	if got := load(t, st, s, head(stored)); len(got) != 0 {
		t.Fatalf("load after the head returned %d records", len(got))
	}
}

func testEmptyStream(t *testing.T, st events.Store) {
	if got := load(t, st, events.Stream{Tenant: "t1", User: "nobody"}, events.Head{}); len(got) != 0 {
		t.Fatalf("unknown stream has %d events", len(got))
	}
	if got := load(t, st, events.TenantStream("t1"), events.Head{}); len(got) != 0 {
		t.Fatalf("unknown tenant stream has %d events", len(got))
	}
}

func testConflict(t *testing.T, st events.Store) {
	s := events.Stream{Tenant: "t1", User: "carol"}
	first := mustAppend(t, st, s, events.Head{}, 1)
	second := mustAppend(t, st, s, head(first), 1)

	// A writer that still believes the stream is at seq 1.
	_, err := st.Append(context.Background(), s, head(first), build(t, s, head(first), newCommand(), 1))
	if !isCode(err, vakt.CodeConflict) || !errors.Is(err, vakt.ErrConflict) {
		t.Fatalf("stale append: err = %v, want conflict", err)
	}
	// A writer that believes the stream is empty.
	_, err = st.Append(context.Background(), s, events.Head{}, build(t, s, events.Head{}, newCommand(), 2))
	if !isCode(err, vakt.CodeConflict) {
		t.Fatalf("append on empty head to a non-empty stream: err = %v, want conflict", err)
	}
	// A writer ahead of the stream.
	ahead := events.Head{Seq: 5, Hash: second[0].Hash}
	_, err = st.Append(context.Background(), s, ahead, build(t, s, ahead, newCommand(), 1))
	if !isCode(err, vakt.CodeConflict) && !isCode(err, vakt.CodeInvalidArgument) {
		t.Fatalf("append ahead of the stream: err = %v, want conflict", err)
	}
	sameRecords(t, load(t, st, s, events.Head{}), append(first, second...))
}

func testIdempotentRetry(t *testing.T, st events.Store) {
	s := events.Stream{Tenant: "t1", User: "dave"}
	base := mustAppend(t, st, s, events.Head{}, 1)
	cmd := newCommand()
	res, err := st.Append(context.Background(), s, head(base), build(t, s, head(base), cmd, 2))
	if err != nil || res.Duplicate {
		t.Fatalf("first attempt: %v duplicate=%v", err, res.Duplicate)
	}
	// The retry is decided again, so its bytes (ids) differ; the store must
	// answer with what the first attempt stored.
	retry, err := st.Append(context.Background(), s, head(base), build(t, s, head(base), cmd, 2))
	if err != nil {
		t.Fatalf("retry of the same command: %v", err)
	}
	if !retry.Duplicate {
		t.Fatalf("retry of the same command was not reported as a duplicate")
	}
	sameRecords(t, retry.Records, res.Records)
	sameRecords(t, load(t, st, s, events.Head{}), append(base, res.Records...))
}

func testRetryAfterOtherCommand(t *testing.T, st events.Store) {
	s := events.Stream{Tenant: "t1", User: "erin"}
	cmd := newCommand()
	first, err := st.Append(context.Background(), s, events.Head{}, build(t, s, events.Head{}, cmd, 1))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, st, s, head(first.Records), 1)
	// The stream moved on after the command; a late retry must not be applied
	// again. Stores answer conflict (the caller reloads and decides afresh).
	_, err = st.Append(context.Background(), s, events.Head{}, build(t, s, events.Head{}, cmd, 1))
	if !isCode(err, vakt.CodeConflict) {
		t.Fatalf("late retry: err = %v, want conflict", err)
	}
	if n := len(load(t, st, s, events.Head{})); n != 2 {
		t.Fatalf("stream has %d events, want 2", n)
	}
}

// testRetryAfterReload: the reply to a command was lost; the caller reloads
// the stream (which now ends with the command's own events), decides again
// and appends with the same command id on the new head. The store answers
// with what the first attempt stored.
func testRetryAfterReload(t *testing.T, st events.Store) {
	s := events.Stream{Tenant: "t1", User: "reload"}
	base := mustAppend(t, st, s, events.Head{}, 1)
	cmd := newCommand()
	first, err := st.Append(context.Background(), s, head(base), build(t, s, head(base), cmd, 2))
	if err != nil {
		t.Fatal(err)
	}
	reloaded := load(t, st, s, events.Head{})
	h := head(reloaded)
	if h.Command != cmd {
		t.Fatalf("the loaded head names command %q, want %q", h.Command, cmd)
	}
	retry, err := st.Append(context.Background(), s, h, build(t, s, h, cmd, 1))
	if err != nil {
		t.Fatalf("retry after reload: %v", err)
	}
	if !retry.Duplicate {
		t.Fatal("a retry decided after reloading was stored again")
	}
	sameRecords(t, retry.Records, first.Records)
	if n := len(load(t, st, s, events.Head{})); n != 3 {
		t.Fatalf("stream has %d events, want 3", n)
	}
}

func testAtomicMultiEvent(t *testing.T, st events.Store) {
	s := events.Stream{Tenant: "t1", User: "frank"}
	base := mustAppend(t, st, s, events.Head{}, 1)
	// Two writers race from the same head with multi-event commands: exactly
	// one wins, and the loser leaves nothing behind.
	a := build(t, s, head(base), newCommand(), 5)
	b := build(t, s, head(base), newCommand(), 7)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, recs := range [][]events.Record{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.Append(context.Background(), s, head(base), recs)
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("want exactly one winner, got errors %v and %v", errs[0], errs[1])
	}
	got := load(t, st, s, events.Head{})
	want := 1 + 5
	if errs[0] != nil {
		want = 1 + 7
	}
	if len(got) != want {
		t.Fatalf("stream has %d events, want %d: a losing batch was partly applied", len(got), want)
	}
	verifyChain(t, got)
}

func testOrdering(t *testing.T, st events.Store) {
	streams := []events.Stream{{Tenant: "t2", User: "a"}, {Tenant: "t2", User: "b"}, events.TenantStream("t2")}
	heads := make([]events.Head, len(streams))
	var stored []events.Record
	for round := 0; round < 4; round++ {
		for i, s := range streams {
			recs := mustAppend(t, st, s, heads[i], 1+round%2)
			heads[i] = head(recs)
			stored = append(stored, recs...)
		}
	}
	var got []events.Record
	for rec, err := range st.All(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Tenant == "t2" {
			got = append(got, rec)
		}
	}
	sameRecords(t, got, stored)
	verifyChain(t, got)
}

func testAllAfter(t *testing.T, st events.Store) {
	s := events.Stream{Tenant: "t3", User: "a"}
	recs := mustAppend(t, st, s, events.Head{}, 4)
	var got []events.Record
	for rec, err := range st.All(context.Background(), recs[1].Position) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec)
	}
	sameRecords(t, got, recs[2:])
	// Stopping early must be clean.
	n := 0
	for _, err := range st.All(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		break
	}
	if n != 1 {
		t.Fatalf("early stop yielded %d", n)
	}
}

func testTrickyIDs(t *testing.T, st events.Store) {
	// Ids that are NATS subject syntax or need encoding must stay isolated.
	ids := []string{"a", "a.b", "a.*", "a.>", "*", ">", "a b", "ø", "a_b", "a-b", "a/b", "A", "a..b", "%2E", "ola.nordmann@uio.no"}
	for i, id := range ids {
		s := events.Stream{Tenant: "tenant." + id, User: id}
		mustAppend(t, st, s, events.Head{}, i%3+1)
	}
	for i, id := range ids {
		s := events.Stream{Tenant: "tenant." + id, User: id}
		got := load(t, st, s, events.Head{})
		if len(got) != i%3+1 {
			t.Fatalf("stream %s has %d events, want %d", s, len(got), i%3+1)
		}
		for _, r := range got {
			if r.Stream() != s {
				t.Fatalf("stream %s returned an event of %s", s, r.Stream())
			}
		}
	}
}

func testBadAppend(t *testing.T, st events.Store) {
	ctx := context.Background()
	s := events.Stream{Tenant: "t4", User: "a"}
	other := events.Stream{Tenant: "t4", User: "b"}
	cases := map[string]struct {
		s    events.Stream
		recs []events.Record
	}{
		"no records":        {s, nil},
		"other stream":      {s, build(t, other, events.Head{}, newCommand(), 1)},
		"control character": {events.Stream{Tenant: "t4", User: "a\nb"}, nil},
		"empty tenant":      {events.Stream{User: "a"}, nil},
		"long id":           {events.Stream{Tenant: "t4", User: string(bytes.Repeat([]byte("x"), events.MaxIDLen+1))}, nil},
	}
	for name, c := range cases {
		if _, err := st.Append(ctx, c.s, events.Head{}, c.recs); !isCode(err, vakt.CodeInvalidArgument) {
			t.Errorf("%s: err = %v, want invalid_argument", name, err)
		}
	}
	// Records built for the wrong head.
	recs := build(t, s, events.Head{Seq: 3}, newCommand(), 1)
	if _, err := st.Append(ctx, s, events.Head{}, recs); !isCode(err, vakt.CodeInvalidArgument) {
		t.Errorf("records for another head: err = %v, want invalid_argument", err)
	}
	if got := load(t, st, s, events.Head{}); len(got) != 0 {
		t.Fatalf("bad appends stored %d events", len(got))
	}
	if _, err := st.Load(ctx, events.Stream{Tenant: "t4", User: "\x00"}, events.Head{}); !isCode(err, vakt.CodeInvalidArgument) {
		t.Errorf("load with a control character: err = %v, want invalid_argument", err)
	}
}

func testCancelled(t *testing.T, st events.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := events.Stream{Tenant: "t5", User: "a"}
	if _, err := st.Append(ctx, s, events.Head{}, build(t, s, events.Head{}, newCommand(), 1)); err == nil {
		t.Fatal("append with a cancelled context succeeded")
	}
	if got := load(t, st, s, events.Head{}); len(got) != 0 {
		t.Fatalf("cancelled append stored %d events", len(got))
	}
}

// testHammer runs writers that contend for a few streams with the optimistic
// loop every caller uses (load, build, append, retry on conflict). Every
// successful append must be in its stream exactly once, in a valid chain.
func testHammer(t *testing.T, st events.Store) {
	const writers, perWriter = 8, 25
	streams := []events.Stream{{Tenant: "h", User: "x"}, {Tenant: "h", User: "y"}, {Tenant: "h", User: "z.*"}}
	var wg sync.WaitGroup
	var appended [3]atomic.Int64
	errc := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				si := (w + i) % len(streams)
				s := streams[si]
				cmd := newCommand()
				for attempt := 0; ; attempt++ {
					recs, err := st.Load(context.Background(), s, events.Head{})
					if err != nil {
						errc <- err
						return
					}
					h := head(recs)
					batch, err := events.Build(s, h, events.Meta{Command: cmd, Time: t0}, rand.Reader,
						[]events.Event{events.Renamed{AuthenticatorID: "x", Label: cmd}})
					if err != nil {
						errc <- err
						return
					}
					res, err := st.Append(context.Background(), s, h, batch)
					if isCode(err, vakt.CodeConflict) {
						if attempt > 1000 {
							errc <- fmt.Errorf("writer %d starved", w)
							return
						}
						continue
					}
					if err != nil {
						errc <- err
						return
					}
					if !res.Duplicate {
						appended[si].Add(1)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	total := int64(0)
	for i, s := range streams {
		got := load(t, st, s, events.Head{})
		if int64(len(got)) != appended[i].Load() {
			t.Fatalf("%s: %d events, %d appends succeeded", s, len(got), appended[i].Load())
		}
		verifyChain(t, got)
		seen := map[string]bool{}
		for _, r := range got {
			label := r.Event.(events.Renamed).Label
			if seen[label] {
				t.Fatalf("%s: command %s stored twice", s, label)
			}
			seen[label] = true
		}
		total += int64(len(got))
	}
	if total != writers*perWriter {
		t.Fatalf("%d events stored, want %d", total, writers*perWriter)
	}
}
