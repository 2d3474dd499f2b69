package nats

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// SnapshotBucket is the default KV bucket of user snapshots.
const SnapshotBucket = "VAKT_SNAPSHOTS"

// Snapshots keeps [engine.Snapshot]s in a KV bucket, one entry per user
// (history 1): a cache that can be deleted at any time.
type Snapshots struct {
	kv jetstream.KeyValue
}

var _ engine.Snapshots = (*Snapshots)(nil)

// SnapshotOptions configure [OpenSnapshots]; the zero value works.
type SnapshotOptions struct {
	Bucket   string // default VAKT_SNAPSHOTS
	Replicas int    // default 1
}

// OpenSnapshots opens (creating if needed) the snapshot bucket.
func OpenSnapshots(ctx context.Context, js jetstream.JetStream, opts SnapshotOptions) (*Snapshots, error) {
	if opts.Bucket == "" {
		opts.Bucket = SnapshotBucket
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:       opts.Bucket,
		Description:  "Vakt user snapshots (a cache; safe to delete)",
		History:      1,
		Storage:      jetstream.FileStorage,
		Replicas:     opts.Replicas,
		MaxValueSize: 1 << 20,
	})
	if err != nil {
		return nil, unreachable("open snapshot bucket "+opts.Bucket, err)
	}
	return &Snapshots{kv: kv}, nil
}

// Get implements [engine.Snapshots]. A missing or unreadable snapshot is not
// an error: the caller folds from the events.
func (s *Snapshots) Get(ctx context.Context, st events.Stream) (engine.Snapshot, bool, error) {
	e, err := s.kv.Get(ctx, Key(st))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return engine.Snapshot{}, false, nil
	}
	if err != nil {
		return engine.Snapshot{}, false, unreachable("read snapshot", err)
	}
	var snap engine.Snapshot
	if err := jsonx.Unmarshal(e.Value(), &snap); err != nil {
		return engine.Snapshot{}, false, nil
	}
	return snap, true, nil
}

// Put implements [engine.Snapshots].
func (s *Snapshots) Put(ctx context.Context, st events.Stream, snap engine.Snapshot) error {
	b, err := jsonx.Marshal(snap)
	if err != nil {
		return vakt.Errorf(vakt.CodeInternal, "encode snapshot: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s.kv.Put(ctx, Key(st), b); err != nil {
		return unreachable("write snapshot", err)
	}
	return nil
}

// Delete drops a user's snapshot (after erasure, or to force a rebuild).
func (s *Snapshots) Delete(ctx context.Context, st events.Stream) error {
	if err := s.kv.Purge(ctx, Key(st)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return unreachable("delete snapshot", err)
	}
	return nil
}
