package nats

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
)

var tg = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func build(t testing.TB, s events.Stream, head events.Head, cmd string, n int) []events.Record {
	t.Helper()
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = events.Renamed{AuthenticatorID: "x", Label: fmt.Sprint(cmd, i)}
	}
	recs, err := events.Build(s, head, events.Meta{Command: cmd, Time: tg}, rand.Reader, evs)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// waitQueued waits until n appends wait in the queue.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d appends queued, want %d", len(s.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

type result struct {
	res events.AppendResult
	err error
}

func TestGroupCommit(t *testing.T) {
	n := natstest.Start(t)
	s, err := Open(context.Background(), n.JetStream, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release := s.HoldCommits()
	const users = 60
	results := make([]result, users)
	var wg sync.WaitGroup
	for i := 0; i < users; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := events.Stream{Tenant: "t", User: fmt.Sprint("u", i)}
			r, err := s.Append(context.Background(), st, events.Head{}, build(t, st, events.Head{}, fmt.Sprint("c", i), 1+i%3))
			results[i] = result{r, err}
		}()
	}
	waitQueued(t, s, users-1) // the committer holds the first one
	release()
	wg.Wait()
	for i, r := range results {
		if r.err != nil || len(r.res.Records) != 1+i%3 || r.res.Duplicate {
			t.Fatalf("append %d: %+v %v", i, r.res, r.err)
		}
		for _, rec := range r.res.Records {
			if rec.Position == 0 {
				t.Fatalf("append %d: no position", i)
			}
		}
	}
	st := s.Stats()
	if st.Appends != users || st.Groups > 2 || st.Batches < 1 || st.Fallbacks != 0 {
		t.Fatalf("stats %+v: want %d appends in at most 2 commits", st, users)
	}
	// Positions are what the stream says.
	for i := 0; i < users; i++ {
		stream := events.Stream{Tenant: "t", User: fmt.Sprint("u", i)}
		got, err := s.Load(context.Background(), stream, events.Head{})
		if err != nil {
			t.Fatal(err)
		}
		for j := range got {
			if got[j].Position != results[i].res.Records[j].Position || got[j].Hash != results[i].res.Records[j].Hash {
				t.Fatalf("user %d event %d: stored at %d, reported %d", i, j, got[j].Position, results[i].res.Records[j].Position)
			}
		}
	}
}

// TestGroupConflictIsolated: one stale append (another process wrote the
// user first) and one retried command in a group do not fail the others.
func TestGroupConflictIsolated(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	a, err := Open(ctx, n.JetStream, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, n.JetStream, Options{}) // another process
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	stale := events.Stream{Tenant: "t", User: "stale"}
	if _, err := b.Append(ctx, stale, events.Head{}, build(t, stale, events.Head{}, "b-first", 1)); err != nil {
		t.Fatal(err)
	}
	retried := events.Stream{Tenant: "t", User: "retried"}
	first, err := a.Append(ctx, retried, events.Head{}, build(t, retried, events.Head{}, "once", 2))
	if err != nil {
		t.Fatal(err)
	}

	release := a.HoldCommits()
	var wg sync.WaitGroup
	const good = 30
	results := make([]result, good+2)
	for i := 0; i < good+2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r events.AppendResult
			var err error
			switch i {
			case good: // decided before b's write: stale
				r, err = a.Append(ctx, stale, events.Head{}, build(t, stale, events.Head{}, "a-late", 2))
			case good + 1: // a retry after a lost reply
				r, err = a.Append(ctx, retried, events.Head{}, build(t, retried, events.Head{}, "once", 2))
			default:
				st := events.Stream{Tenant: "t", User: fmt.Sprint("g", i)}
				r, err = a.Append(ctx, st, events.Head{}, build(t, st, events.Head{}, fmt.Sprint("g", i), 2))
			}
			results[i] = result{r, err}
		}()
	}
	waitQueued(t, a, good+1)
	release()
	wg.Wait()
	for i := 0; i < good; i++ {
		if results[i].err != nil {
			t.Fatalf("good append %d failed: %v", i, results[i].err)
		}
	}
	if vakt.CodeOf(results[good].err) != vakt.CodeConflict {
		t.Fatalf("stale append: %v, want conflict", results[good].err)
	}
	r := results[good+1]
	if r.err != nil || !r.res.Duplicate || len(r.res.Records) != 2 || r.res.Records[0].Hash != first.Records[0].Hash {
		t.Fatalf("retried command: %+v %v, want the first attempt's events as a duplicate", r.res, r.err)
	}
	if st := a.Stats(); st.Fallbacks != 1 {
		t.Fatalf("stats %+v: want one group retried append by append", st)
	}
	got, _ := a.Load(ctx, stale, events.Head{})
	if len(got) != 1 || got[0].Command != "b-first" {
		t.Fatalf("stale stream: %d events", len(got))
	}
}

// TestGroupPipelined: a small group of one-event appends goes out as
// publishes in flight together, not as an atomic batch; a stale append and a
// retried command in it fail or are recognised alone.
func TestGroupPipelined(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	a, err := Open(ctx, n.JetStream, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	stale := events.Stream{Tenant: "t", User: "stale"}
	if _, err := a.Append(ctx, stale, events.Head{}, build(t, stale, events.Head{}, "first", 1)); err != nil {
		t.Fatal(err)
	}
	retried := events.Stream{Tenant: "t", User: "retried"}
	first, err := a.Append(ctx, retried, events.Head{}, build(t, retried, events.Head{}, "once", 1))
	if err != nil {
		t.Fatal(err)
	}
	before := a.Stats()

	release := a.HoldCommits()
	const good = 4 // + the held one's neighbours: 6 appends, under PipelineMax
	results := make([]result, good+2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r events.AppendResult
			var err error
			switch i {
			case good:
				r, err = a.Append(ctx, stale, events.Head{}, build(t, stale, events.Head{}, "late", 1))
			case good + 1:
				r, err = a.Append(ctx, retried, events.Head{}, build(t, retried, events.Head{}, "once", 1))
			default:
				st := events.Stream{Tenant: "t", User: fmt.Sprint("p", i)}
				r, err = a.Append(ctx, st, events.Head{}, build(t, st, events.Head{}, fmt.Sprint("p", i), 1))
			}
			results[i] = result{r, err}
		}()
	}
	waitQueued(t, a, len(results)-1)
	release()
	wg.Wait()
	for i := 0; i < good; i++ {
		if r := results[i]; r.err != nil || len(r.res.Records) != 1 || r.res.Records[0].Position == 0 {
			t.Fatalf("append %d: %+v %v", i, r.res, r.err)
		}
	}
	if vakt.CodeOf(results[good].err) != vakt.CodeConflict {
		t.Fatalf("stale append: %v, want conflict", results[good].err)
	}
	if r := results[good+1]; r.err != nil || !r.res.Duplicate || r.res.Records[0].Hash != first.Records[0].Hash {
		t.Fatalf("retried command: %+v %v, want the first attempt's event as a duplicate", r.res, r.err)
	}
	st := a.Stats()
	if st.Batches != before.Batches || st.Pipelined-before.Pipelined < 1 || st.Fallbacks != before.Fallbacks {
		t.Fatalf("stats %+v (before %+v): want the group pipelined, no batch", st, before)
	}
	// What each append reported is where the stream holds it.
	for i := 0; i < good; i++ {
		st := events.Stream{Tenant: "t", User: fmt.Sprint("p", i)}
		got, err := a.Load(ctx, st, events.Head{})
		if err != nil || len(got) != 1 || got[0].Position != results[i].res.Records[0].Position {
			t.Fatalf("user p%d: %v %v, reported %d", i, got, err, results[i].res.Records[0].Position)
		}
	}
}

// Two appends for one user expecting the same head in one group: the first
// wins at once, the second is a conflict without a round trip.
func TestGroupSameSubject(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	s, err := Open(ctx, n.JetStream, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := events.Stream{Tenant: "t", User: "twice"}
	release := s.HoldCommits()
	out := make(chan result, 3)
	for i := 0; i < 3; i++ {
		go func() {
			r, err := s.Append(ctx, st, events.Head{}, build(t, st, events.Head{}, fmt.Sprint("cmd", i), 1))
			out <- result{r, err}
		}()
	}
	waitQueued(t, s, 2)
	release()
	ok, conflicts := 0, 0
	for i := 0; i < 3; i++ {
		r := <-out
		switch vakt.CodeOf(r.err) {
		case "":
			ok++
		case vakt.CodeConflict:
			conflicts++
		default:
			t.Fatal(r.err)
		}
	}
	if ok != 1 || conflicts != 2 {
		t.Fatalf("%d succeeded, %d conflicts; want 1 and 2", ok, conflicts)
	}
}

// Command ids are unique per user, not across users: the same id for two
// users is two commands.
func TestSameCommandIDForTwoUsers(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	s, err := Open(ctx, n.JetStream, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, u := range []string{"a", "b"} {
		st := events.Stream{Tenant: "t", User: u}
		r, err := s.Append(ctx, st, events.Head{}, build(t, st, events.Head{}, "cmd-1", 1))
		if err != nil || r.Duplicate {
			t.Fatalf("user %s: %+v %v", u, r, err)
		}
	}
}
