package natsviews

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/vaktmfa/vakt"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/jsonx"
	"github.com/vaktmfa/vakt/internal/natserr"
	"github.com/vaktmfa/vakt/internal/natsserver"
	"github.com/vaktmfa/vakt/projections"
)

// Bucket is the default KV bucket of the read models and checkpoints.
const Bucket = "VAKT_VIEWS"

// MaxBatch is the most messages one atomic batch may hold (the server's
// default limit).
const MaxBatch = 1000

// ViewsOptions configure [OpenViews]; the zero value works.
type ViewsOptions struct {
	Bucket   string        // default VAKT_VIEWS
	Replicas int           // when the bucket is created (default 1)
	Timeout  time.Duration // one KV read or write (default 10s)
}

func (o *ViewsOptions) fill() {
	if o.Bucket == "" {
		o.Bucket = Bucket
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
}

// Views is the KV bucket that holds the read models and the checkpoints.
// Its key layout (ids encoded with events/nats.Token, so that any id is one
// key token):
//
//	<projection>.<tenant>.<id>           a model's JSON ("=" for an empty id)
//	<projection>._open.<tenant>.<user>   a stream's unsettled models (JSON keys)
//	<projection>._checkpoint             {"position":N}, the last applied event
//
// Models have three tokens, indexes four and checkpoints two, so no id can
// make one look like another. Everything a projection keeps starts with
// "<projection>.", which is what a rebuild purges.
//
// Views is safe for concurrent use; readers in other processes open their
// own with [OpenViews].
type Views struct {
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	stream  jetstream.Stream
	bucket  string
	prefix  string // "$KV.<bucket>."
	timeout time.Duration
	limit   int // messages per atomic batch (MaxBatch; lowered by tests)
}

// OpenViews opens the bucket, creating it if needed (file storage, history
// 1), and turns on atomic batch publishing on its stream so that a flush of
// documents and checkpoints is stored all or nothing.
func OpenViews(ctx context.Context, js jetstream.JetStream, opts ViewsOptions) (*Views, error) {
	opts.fill()
	kv, st, err := natsserver.OpenBucket(ctx, js, "views", jetstream.KeyValueConfig{
		Bucket:      opts.Bucket,
		Description: "Vakt read models and projection checkpoints (rebuildable from the events)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, err
	}
	// KeyValueConfig cannot say it, so the stream is updated once; an
	// update of the bucket through the KV API would turn it off again, and
	// the next OpenViews turns it back on.
	if cfg := st.CachedInfo().Config; !cfg.AllowAtomicPublish {
		cfg.AllowAtomicPublish = true
		if st, err = js.UpdateStream(ctx, cfg); err != nil {
			return nil, unreachable("allow atomic batches on bucket "+opts.Bucket, err)
		}
	}
	return &Views{
		js: js, kv: kv, stream: st, bucket: opts.Bucket,
		prefix: "$KV." + opts.Bucket + ".", timeout: opts.Timeout, limit: MaxBatch,
	}, nil
}

// emptyID stands for an empty id in a key; Token never writes a lone "=".
const emptyID = "="

func token(id string) string {
	if id == "" {
		return emptyID
	}
	return natsstore.Token(id)
}

func untoken(tok string) (string, bool) {
	if tok == emptyID {
		return "", true
	}
	return natsstore.DecodeToken(tok)
}

// DocKey is the KV key of a projection's document.
func DocKey(projection string, d projections.Doc) string {
	if d.Index {
		return projection + "._open." + token(d.Tenant) + "." + token(d.ID)
	}
	return projection + "." + token(d.Tenant) + "." + token(d.ID)
}

// CheckpointKey is the KV key of a projection's checkpoint.
func CheckpointKey(projection string) string { return projection + "._checkpoint" }

// ParseKey reverses [DocKey].
func ParseKey(key string) (projection string, d projections.Doc, ok bool) {
	parts := strings.Split(key, ".")
	switch {
	case len(parts) == 3:
	case len(parts) == 4 && parts[1] == "_open":
		d.Index = true
		parts = append(parts[:1], parts[2:]...)
	default:
		return "", projections.Doc{}, false
	}
	t, ok1 := untoken(parts[1])
	id, ok2 := untoken(parts[2])
	if !ok1 || !ok2 || t == "" {
		return "", projections.Doc{}, false
	}
	d.Tenant, d.ID = t, id
	return parts[0], d, true
}

// validName reports whether a projection name can lead its keys.
func validName(name string) bool {
	if name == "" || name[0] == '_' {
		return false
	}
	return natsstore.Token(name) == name
}

// Get returns the stored JSON of a projection's model.
func (v *Views) Get(ctx context.Context, projection string, k projections.Key) ([]byte, bool, error) {
	return v.load(ctx, DocKey(projection, projections.Doc{Key: k}))
}

func (v *Views) load(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	e, err := v.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unreachable("read "+key, err)
	}
	return e.Value(), true, nil
}

// Keys returns the keys of a projection's stored models, in no set order.
func (v *Views) Keys(ctx context.Context, projection string) ([]projections.Key, error) {
	l, err := v.kv.ListKeysFiltered(ctx, projection+".*.*")
	if err != nil {
		return nil, unreachable("list "+projection, err)
	}
	defer l.Stop()
	var out []projections.Key
	for key := range l.Keys() {
		if _, d, ok := ParseKey(key); ok && !d.Index {
			out = append(out, d.Key)
		}
	}
	return out, nil
}

// checkpoint is a checkpoint's stored form.
type checkpoint struct {
	Position uint64 `json:"position"`
}

// Checkpoint returns the position of the last event a projection's stored
// documents include (0: none).
func (v *Views) Checkpoint(ctx context.Context, projection string) (uint64, error) {
	b, ok, err := v.load(ctx, CheckpointKey(projection))
	if err != nil || !ok {
		return 0, err
	}
	var cp checkpoint
	if err := jsonx.Unmarshal(b, &cp); err != nil {
		return 0, vakt.Errorf(vakt.CodeInternal, "checkpoint of %s does not decode: %v", projection, err)
	}
	return cp.Position, nil
}

// purge deletes everything a projection keeps, checkpoint included, in one
// operation.
func (v *Views) purge(ctx context.Context, projection string) error {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	if err := v.stream.Purge(ctx, jetstream.WithPurgeSubject(v.prefix+projection+".>")); err != nil {
		return unreachable("purge "+projection, err)
	}
	return nil
}

// backing is a projection's view of the bucket, for its collection.
type backing struct {
	v          *Views
	projection string
}

// Load implements [projections.Backing].
func (b backing) Load(d projections.Doc) ([]byte, bool, error) {
	return b.v.load(context.Background(), DocKey(b.projection, d))
}

// write is one flush: documents by projection, then checkpoints.
type write struct {
	docs        []*natsgo.Msg
	checkpoints []*natsgo.Msg
}

func (v *Views) doc(projection string, ch projections.Change) *natsgo.Msg {
	m := natsgo.NewMsg(v.prefix + DocKey(projection, ch.Doc))
	if ch.Data == nil {
		m.Header.Set("KV-Operation", "DEL")
	} else {
		m.Data = ch.Data
	}
	return m
}

func (v *Views) checkpoint(projection string, pos uint64) *natsgo.Msg {
	m := natsgo.NewMsg(v.prefix + CheckpointKey(projection))
	m.Data = strconv.AppendUint([]byte(`{"position":`), pos, 10)
	m.Data = append(m.Data, '}')
	return m
}

// commit stores a flush. Up to the batch limit it is one atomic batch, so
// that documents and checkpoints can never disagree. A larger flush is
// split: documents first, then the last documents with every checkpoint in
// one batch. A crash in between leaves documents ahead of their checkpoint,
// and the events after the checkpoint are applied to them again, which
// changes nothing (models ignore events they have seen, and a collection's
// index of unsettled models follows the models). chunk, if set, is called
// between the parts (tests crash there).
func (v *Views) commit(ctx context.Context, w write, chunk func(i int) error) error {
	docs, rest := w.docs, w.checkpoints
	for i := 0; len(docs)+len(rest) > v.limit && len(docs) > 0; i++ {
		n := min(len(docs), v.limit)
		if err := v.publish(ctx, docs[:n]); err != nil {
			return err
		}
		docs = docs[n:]
		if chunk != nil {
			if err := chunk(i); err != nil {
				return err
			}
		}
	}
	rest = append(docs, rest...)
	for len(rest) > 0 { // more checkpoints than a batch holds: one by one
		n := min(len(rest), v.limit)
		if err := v.publish(ctx, rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

func (v *Views) publish(ctx context.Context, msgs []*natsgo.Msg) error {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	if len(msgs) == 1 {
		if _, err := v.js.PublishMsg(ctx, msgs[0]); err != nil {
			return unreachable("write "+strings.TrimPrefix(msgs[0].Subject, v.prefix), err)
		}
		return nil
	}
	if _, err := jetstreamext.PublishMsgBatch(ctx, v.js, msgs, jetstreamext.BatchFlowControl{AckTimeout: v.timeout}); err != nil {
		return unreachable(fmt.Sprintf("write %d documents and checkpoints", len(msgs)), err)
	}
	return nil
}

// unreachable wraps a transport error in a clear message.
func unreachable(what string, err error) error { return natserr.Wrap(what, err) }
