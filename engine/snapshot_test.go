package engine_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
)

// countingStore counts the events loads return, to prove a snapshot is used.
type countingStore struct {
	*events.Memory
	loaded int
}

func (c *countingStore) Load(ctx context.Context, s events.Stream, after events.Head) ([]events.Record, error) {
	recs, err := c.Memory.Load(ctx, s, after)
	c.loaded += len(recs)
	return recs, err
}

func TestSnapshots(t *testing.T) {
	h := newHarness(t)
	store := &countingStore{Memory: h.store}
	snaps := &engine.MemorySnapshots{}
	// No state cache: every load goes to the snapshot and the store.
	h.svc.Store, h.svc.Snapshots, h.svc.SnapshotEvery, h.svc.CacheSize = store, snaps, 8, -1
	_, app := h.enrolTOTP("Phone")
	for i := 0; i < 20; i++ {
		h.advance(30 * time.Second)
		ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
		h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now)})
		// The writer keeps only the latest queued snapshot of a stream, so
		// without a flush the count depends on scheduling (it failed with
		// -cpu 1, and on a busy machine once commands got faster).
		h.svc.Close()
	}
	h.svc.Close() // snapshots are written in the background
	if snaps.Puts() < 4 {
		t.Fatalf("%d snapshots written for %d events", snaps.Puts(), len(h.events()))
	}
	stream := events.Stream{Tenant: h.tenant, User: h.user}
	snap, ok, _ := snaps.Get(context.Background(), stream)
	if !ok || snap.Version != engine.StateVersion || snap.Head.Seq == 0 {
		t.Fatalf("snapshot = %+v %v", snap, ok)
	}
	// A load reads only the events after the snapshot, and gives the state a
	// full fold gives.
	store.loaded = 0
	got, err := h.svc.User(context.Background(), h.tenant, h.user)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(h.events()) - int(snap.Head.Seq); store.loaded != want {
		t.Fatalf("loaded %d events after the snapshot, want %d", store.loaded, want)
	}
	full, _ := engine.Fold(h.tenant, h.user, h.events())
	if !reflect.DeepEqual(normalize(t, got), normalize(t, full)) {
		t.Fatalf("state from snapshot differs from the full fold")
	}

	// A snapshot of another version, of another user or that does not
	// decode is ignored: the state is rebuilt from all events.
	for name, bad := range map[string]engine.Snapshot{
		"old version":  {Version: engine.StateVersion - 1, Head: snap.Head, State: snap.State},
		"garbage":      {Version: engine.StateVersion, Head: snap.Head, State: []byte("{not json")},
		"other head":   {Version: engine.StateVersion, Head: events.Head{Seq: 1}, State: snap.State},
		"another user": func() engine.Snapshot { s, _ := engine.TakeSnapshot(engine.NewUser("uio.no", "kari")); return s }(),
	} {
		snaps.Put(context.Background(), stream, bad)
		store.loaded = 0
		got, err := h.svc.User(context.Background(), h.tenant, h.user)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if store.loaded != len(h.events()) || !reflect.DeepEqual(normalize(t, got), normalize(t, full)) {
			t.Fatalf("%s: loaded %d of %d events; state equal %v", name, store.loaded, len(h.events()), reflect.DeepEqual(normalize(t, got), normalize(t, full)))
		}
	}
	// The next commands write a good snapshot again.
	for i := 0; i < 10; i++ {
		h.ok(engine.IssueChallenge{App: "web"})
	}
	h.svc.Close()
	if snap, _, _ := snaps.Get(context.Background(), stream); snap.Version != engine.StateVersion || snap.Head.Seq <= 1 {
		t.Fatalf("snapshot not rebuilt: %+v", snap.Head)
	}
}
