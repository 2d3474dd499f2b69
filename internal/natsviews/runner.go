package natsviews

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/projections"
)

// DefaultConsumer is the default name of the runner's durable consumer.
const DefaultConsumer = "vakt-projections"

// Options configure a [Runner]. Only Projections is required.
type Options struct {
	// Projections to keep current. Collections (everything that implements
	// projections.Persistent) are attached to the bucket by NewRunner; any
	// other projection gets a checkpoint only and must keep its own state
	// somewhere that survives as long as the bucket.
	Projections []projections.Projection

	// Stream is the event stream (default VAKT_EVENTS), Consumer the durable
	// consumer's name (default vakt-projections), Views the bucket.
	Stream   string
	Consumer string
	Views    ViewsOptions
	// Registry decodes events (default events.Default).
	Registry *events.Registry

	// FlushEvents: documents and checkpoints are written every FlushEvents
	// events (default 1000), before a flush would outgrow one atomic batch,
	// and, under Run, FlushInterval after the first unwritten event
	// (default 200ms).
	FlushEvents   int
	FlushInterval time.Duration
	// Fetch is how many events one pull asks for (default 500).
	Fetch int
	// Cache is how many unchanged documents each collection keeps in memory
	// (default projections.DefaultCache).
	Cache int
	// Retry is the first wait before Run retries a failed projection or a
	// failed read or write; it doubles up to a minute (default 1s).
	Retry time.Duration
}

func (o *Options) fill() {
	if o.Stream == "" {
		o.Stream = natsstore.StreamName
	}
	if o.Consumer == "" {
		o.Consumer = DefaultConsumer
	}
	o.Views.fill()
	if o.Registry == nil {
		o.Registry = events.Default
	}
	if o.FlushEvents <= 0 {
		o.FlushEvents = 1000
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.Fetch <= 0 {
		o.Fetch = 500
	}
	if o.Cache <= 0 {
		o.Cache = projections.DefaultCache
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
}

const maxRetry = time.Minute

// Runner keeps projections current from the event stream and stores them in
// the bucket. See the package documentation for how it stays exact across
// crashes, restarts and rebuilds.
//
// Its methods are safe for concurrent use. Run one Runner per bucket and
// consumer: two would share the consumer's messages.
type Runner struct {
	js     jetstream.JetStream
	opts   Options
	views  *Views
	events jetstream.Stream
	cur    []*cursor
	byName map[string]*cursor

	// mu guards the fields below and serialises applying, flushing and
	// consumer changes; Run lets go of it between messages.
	mu        sync.Mutex
	cons      jetstream.Consumer
	gen       uint64 // bumped whenever the consumer is recreated
	stale     bool   // deliveries may be outstanding: check the consumer before use
	delivered uint64 // stream position of the last message taken from cons
	unacked   jetstream.Msg
	pending   int // messages handled since the last flush
	since     time.Time
	running   bool
	flushed   chan struct{} // closed (and replaced) after every flush, Run error and Run's end

	errMu   sync.Mutex
	lastErr error // Run's last read or write error, until a success

	hook func(stage string) error // tests: crash points
}

// cursor is one projection's progress.
type cursor struct {
	name string
	p    projections.Projection
	pp   projections.Persistent // nil for a plain projection

	applied atomic.Uint64 // position of the last event applied (in memory)
	saved   atomic.Uint64 // position stored in the checkpoint
	count   atomic.Int64  // applications since NewRunner

	errMu    sync.Mutex
	failed   error
	failedAt uint64 // the position it failed at (or before)
	retryAt  time.Time
	backoff  time.Duration
}

func (c *cursor) err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.failed
}

func (c *cursor) setErr(err error, retry time.Duration) {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	c.failed = err
	if err == nil {
		c.backoff = 0
		return
	}
	c.failedAt = c.applied.Load() + 1
	if c.backoff == 0 {
		c.backoff = retry
	} else {
		c.backoff = min(2*c.backoff, maxRetry)
	}
	c.retryAt = time.Now().Add(c.backoff)
}

// NewRunner opens the bucket, attaches the collections to it, loads the
// checkpoints and finds or creates the durable consumer. The event stream
// must exist (open the event store first).
func NewRunner(ctx context.Context, js jetstream.JetStream, opts Options) (*Runner, error) {
	opts.fill()
	r := &Runner{js: js, opts: opts, byName: map[string]*cursor{}, flushed: make(chan struct{}), stale: true}
	for i, p := range opts.Projections {
		if p == nil {
			return nil, vakt.Errorf(vakt.CodeInvalidArgument, "projection %d is nil", i)
		}
		name := p.Name()
		if !validName(name) {
			return nil, vakt.Errorf(vakt.CodeInvalidArgument, "projection name %q cannot lead a KV key: use letters, digits, '-' and '_', not first", name)
		}
		if r.byName[name] != nil {
			return nil, vakt.Errorf(vakt.CodeInvalidArgument, "two projections are named %q; names key the documents and checkpoints", name)
		}
		c := &cursor{name: name, p: p}
		c.pp, _ = p.(projections.Persistent)
		r.cur = append(r.cur, c)
		r.byName[name] = c
	}
	var err error
	if r.views, err = OpenViews(ctx, js, opts.Views); err != nil {
		return nil, err
	}
	r.events, err = js.Stream(ctx, opts.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, vakt.Errorf(vakt.CodeInternal, "event stream %s does not exist: open the event store first", opts.Stream)
	}
	if err != nil {
		return nil, unreachable("look up stream "+opts.Stream, err)
	}
	for _, c := range r.cur {
		if c.pp != nil {
			if err := c.pp.Persist(backing{v: r.views, projection: c.name}, opts.Cache); err != nil {
				return nil, err
			}
		}
		pos, err := r.views.Checkpoint(ctx, c.name)
		if err != nil {
			return nil, err
		}
		c.applied.Store(pos)
		c.saved.Store(pos)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.attach(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Views returns the bucket the runner writes.
func (r *Runner) Views() *Views { return r.views }

// ---- the consumer ---------------------------------------------------------------

// floor is the position after which the consumer must deliver: the lowest
// position any live projection has applied.
func (r *Runner) floor() uint64 {
	lo, live := ^uint64(0), false
	for _, c := range r.cur {
		if c.err() == nil {
			lo, live = min(lo, c.applied.Load()), true
		}
	}
	if !live {
		for _, c := range r.cur {
			lo = min(lo, c.applied.Load())
		}
	}
	if lo == ^uint64(0) {
		return 0
	}
	return lo
}

// attach makes r.cons a consumer that delivers, in order, every event after
// the floor and nothing else: the existing durable consumer if it stands
// exactly there with nothing outstanding, otherwise a new one. (A consumer
// with unacknowledged or in-flight deliveries would hand them out again
// only after its ack wait, behind newer events: applied out of order, they
// would be skipped.) Call with mu held and nothing unflushed.
func (r *Runner) attach(ctx context.Context) error {
	info, err := r.events.Info(ctx)
	if err != nil {
		return unreachable("read stream "+r.opts.Stream, err)
	}
	for _, c := range r.cur {
		if pos := c.saved.Load(); pos > info.State.LastSeq {
			return vakt.Errorf(vakt.CodeInternal, "projection %s is at position %d, but stream %s ends at %d: the stream was replaced; rebuild the projections", c.name, pos, r.opts.Stream, info.State.LastSeq)
		}
	}
	from := r.floor()
	cons, err := r.events.Consumer(ctx, r.opts.Consumer)
	switch {
	case err == nil:
		ci, err := cons.Info(ctx)
		if err == nil && r.reusable(ci, from) {
			r.use(cons, from)
			return nil
		}
		if err := r.events.DeleteConsumer(ctx, r.opts.Consumer); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return unreachable("delete consumer "+r.opts.Consumer, err)
		}
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return unreachable("look up consumer "+r.opts.Consumer, err)
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       r.opts.Consumer,
		Description:   "Vakt projections: delivers from the lowest checkpoint in " + r.views.bucket,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       2 * time.Minute,
		MaxDeliver:    -1,
		FilterSubject: natsstore.SubjectPrefix + ".>",
		MaxAckPending: r.opts.FlushEvents + 4*r.opts.Fetch,
	}
	if from > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from + 1
	}
	cons, err = r.events.CreateConsumer(ctx, cfg)
	if err != nil {
		return unreachable("create consumer "+r.opts.Consumer, err)
	}
	r.use(cons, from)
	return nil
}

func (r *Runner) reusable(ci *jetstream.ConsumerInfo, from uint64) bool {
	cfg := ci.Config
	return ci.NumAckPending == 0 && ci.NumWaiting == 0 && ci.Delivered.Stream == from &&
		cfg.AckPolicy == jetstream.AckAllPolicy && cfg.FilterSubject == natsstore.SubjectPrefix+".>" &&
		len(cfg.FilterSubjects) == 0 && cfg.MaxAckPending >= r.opts.FlushEvents+2*r.opts.Fetch
}

func (r *Runner) use(cons jetstream.Consumer, from uint64) {
	r.cons, r.delivered = cons, from
	r.gen++
	r.stale, r.unacked, r.pending = false, nil, 0
}

// ---- applying -------------------------------------------------------------------

// handle applies one delivered message to every live projection that has
// not applied it yet (mu held).
func (r *Runner) handle(ctx context.Context, m jetstream.Msg) error {
	md, err := m.Metadata()
	if err != nil {
		return vakt.Errorf(vakt.CodeInternal, "read the event stream: %v", err)
	}
	pos := md.Sequence.Stream
	if pos > r.delivered+1 {
		// Positions have no gaps, so events were delivered elsewhere (a
		// pull that went away, a second runner) and would come back after
		// the ack wait, behind this one, and be skipped as seen. Unless
		// what lies between is not an event: ask the stream.
		if lost, err := r.missing(ctx, r.delivered+1, pos); err != nil || lost {
			return cmp.Or(err, errReordered)
		}
	}
	r.delivered = max(r.delivered, pos)
	r.unacked = m
	if r.pending == 0 {
		r.since = time.Now()
	}
	r.pending++
	var need []*cursor
	for _, c := range r.cur {
		if c.applied.Load() < pos && c.err() == nil {
			need = append(need, c)
		}
	}
	if len(need) == 0 {
		return nil // a redelivery, or a rewind for another projection
	}
	rec, err := r.decode(m, pos)
	if err != nil {
		for _, c := range need {
			c.setErr(err, r.opts.Retry)
		}
		return nil
	}
	for _, c := range need {
		if err := c.p.Apply(&rec); err != nil {
			c.setErr(fmt.Errorf("projection %s: event %s (%s seq %d, position %d): %w", c.name, rec.ID, rec.Stream(), rec.Seq, pos, err), r.opts.Retry)
			continue
		}
		c.applied.Store(pos)
		c.count.Add(1)
	}
	return nil
}

var errReordered error = vakt.Errorf(vakt.CodeInternal, "the consumer skipped events delivered elsewhere; it is recreated")

// missing reports whether the stream holds an event in [from, to).
func (r *Runner) missing(ctx context.Context, from, to uint64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.views.timeout)
	defer cancel()
	m, err := r.events.GetMsg(ctx, from, jetstream.WithGetMsgSubject(natsstore.SubjectPrefix+".>"))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, unreachable("read the event stream", err)
	}
	return m.Sequence < to, nil
}

// decode reads a stored event as the event store does: the envelope and
// data from the payload, the position from the stream, the hash from its
// header.
func (r *Runner) decode(m jetstream.Msg, pos uint64) (events.Record, error) {
	rec, err := r.opts.Registry.Decode(m.Data())
	if err != nil {
		return events.Record{}, vakt.Errorf(vakt.CodeInternal, "event at position %d does not decode: %v", pos, err)
	}
	rec.Position = pos
	h := m.Headers().Get(natsstore.HeaderHash)
	if _, err := hex.Decode(rec.Hash[:], []byte(h)); err != nil || len(h) != 64 {
		return events.Record{}, vakt.Errorf(vakt.CodeInternal, "event at position %d has no valid %s header", pos, natsstore.HeaderHash)
	}
	return rec, nil
}

// flushDue reports whether enough has gathered to write it out.
func (r *Runner) flushDue() bool {
	if r.pending >= r.opts.FlushEvents {
		return true
	}
	dirty := 0
	for _, c := range r.cur {
		if c.pp != nil {
			dirty += c.pp.Dirty()
		}
	}
	return dirty+len(r.cur) >= r.views.limit
}

// flush writes the changed documents and the checkpoints (one atomic batch
// when they fit), then acknowledges the messages handled. It runs to the end
// even if ctx is done: what was applied must be recorded. mu held.
func (r *Runner) flush(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	type done struct {
		c   *cursor
		chs []projections.Change
		pos uint64
	}
	var (
		w    write
		outs []done
	)
	maxDoc := int(r.js.Conn().MaxPayload()) - 1024 // room for the headers
	for _, c := range r.cur {
		d := done{c: c, pos: c.applied.Load()}
		if c.pp != nil {
			chs, err := c.pp.Changes()
			if err == nil {
				err = tooLarge(c.name, chs, maxDoc)
			}
			if err != nil {
				// Its documents and checkpoint stay behind; the others go on.
				c.setErr(err, r.opts.Retry)
				continue
			}
			for _, ch := range chs {
				w.docs = append(w.docs, r.views.doc(c.name, ch))
			}
			d.chs = chs
		}
		if d.pos != c.saved.Load() {
			w.checkpoints = append(w.checkpoints, r.views.checkpoint(c.name, d.pos))
		}
		outs = append(outs, d)
	}
	if len(w.docs)+len(w.checkpoints) > 0 {
		if err := r.crash("flush"); err != nil {
			return err
		}
		if err := r.views.commit(ctx, w, func(int) error { return r.crash("chunk") }); err != nil {
			return err
		}
		if err := r.crash("ack"); err != nil {
			return err
		}
	}
	for _, d := range outs {
		if d.c.pp != nil {
			d.c.pp.Flushed(d.chs)
		}
		d.c.saved.Store(d.pos)
		d.c.errMu.Lock()
		if d.c.failed == nil && d.pos >= d.c.failedAt {
			d.c.backoff = 0 // past what made it fail
		}
		d.c.errMu.Unlock()
	}
	if r.unacked != nil {
		actx, cancel := context.WithTimeout(ctx, r.views.timeout)
		if err := r.unacked.DoubleAck(actx); err != nil {
			// The checkpoints are stored; the consumer will redeliver what it
			// thinks unacknowledged, so look at it again before going on.
			r.stale = true
		}
		cancel()
		r.unacked = nil
	}
	r.pending = 0
	r.notify()
	return nil
}

// tooLarge refuses a document that no NATS message can carry, so that one
// overgrown model stops its projection instead of every flush.
func tooLarge(projection string, chs []projections.Change, max int) error {
	for _, ch := range chs {
		if len(ch.Data) > max {
			return vakt.Errorf(vakt.CodeInternal, "projection %s: document %s is %d bytes, more than one NATS message carries (max_payload %d)", projection, DocKey(projection, ch.Doc), len(ch.Data), max+1024)
		}
	}
	return nil
}

func (r *Runner) notify() {
	close(r.flushed)
	r.flushed = make(chan struct{})
}

func (r *Runner) crash(stage string) error {
	if r.hook == nil {
		return nil
	}
	return r.hook(stage)
}

// ---- catching up ----------------------------------------------------------------

// CatchUp applies every event stored when it is called that the projections
// have not applied, writes documents and checkpoints, and returns how many
// applications it made (an event counts once per projection). Projections
// that failed earlier are retried. A projection that fails stops at that
// event and its error is returned; the others go on.
//
// While Run is running, CatchUp waits until Run has written that far.
func (r *Runner) CatchUp(ctx context.Context) (int, error) {
	return r.catchUp(ctx, r.cur)
}

func (r *Runner) catchUp(ctx context.Context, cs []*cursor) (int, error) {
	before := applications(cs)
	r.mu.Lock()
	if !r.running {
		for _, c := range cs {
			if c.err() != nil {
				c.setErr(nil, 0)
				r.stale = true
			}
		}
	}
	r.mu.Unlock()
	end, err := r.lastSeq(ctx)
	if err != nil {
		return 0, err
	}
	for {
		r.mu.Lock()
		if !r.running {
			err := r.pump(ctx, end)
			r.mu.Unlock()
			return applications(cs) - before, errors.Join(err, failures(cs))
		}
		done := true
		for _, c := range cs {
			if c.err() == nil && c.saved.Load() < end {
				done = false
			}
		}
		wait := r.flushed
		r.mu.Unlock()
		if done {
			return applications(cs) - before, failures(cs)
		}
		if err := r.LastError(); err != nil {
			return applications(cs) - before, errors.Join(err, failures(cs))
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return applications(cs) - before, ctx.Err()
		}
	}
}

func applications(cs []*cursor) int {
	n := int64(0)
	for _, c := range cs {
		n += c.count.Load()
	}
	return int(n)
}

func failures(cs []*cursor) error {
	var errs []error
	for _, c := range cs {
		if err := c.err(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Runner) lastSeq(ctx context.Context) (uint64, error) {
	info, err := r.events.Info(ctx)
	if err != nil {
		return 0, unreachable("read stream "+r.opts.Stream, err)
	}
	return info.State.LastSeq, nil
}

// pump fetches and applies until the consumer has delivered position end or
// has nothing more, then flushes (mu held, Run not running).
func (r *Runner) pump(ctx context.Context, end uint64) error {
	if r.stale {
		if err := r.attach(ctx); err != nil {
			return err
		}
	}
pull:
	for r.delivered < end {
		if err := ctx.Err(); err != nil {
			return errors.Join(err, r.flush(ctx))
		}
		b, err := r.cons.FetchNoWait(r.opts.Fetch)
		if err != nil {
			r.stale = true
			return unreachable("read the event stream", err)
		}
		n := 0
		for m := range b.Messages() {
			n++
			err := r.handle(ctx, m)
			if errors.Is(err, errReordered) {
				err = r.flush(ctx)
				if err == nil {
					err = r.attach(ctx) // and drop the rest of this pull
				}
				if err != nil {
					r.stale = true
					return err
				}
				continue pull // the rest of this pull is dropped
			}
			if err == nil && r.flushDue() {
				err = r.flush(ctx)
			}
			if err != nil {
				r.stale = true
				return err
			}
		}
		if err := b.Error(); err != nil {
			r.stale = true
			return errors.Join(unreachable("read the event stream", err), r.flush(ctx))
		}
		if n == 0 {
			break
		}
	}
	return r.flush(ctx)
}

// ---- running --------------------------------------------------------------------

// Run keeps the projections current until ctx is cancelled: it pulls new
// events as they are stored, writes documents and checkpoints every
// FlushEvents events or FlushInterval, and retries failed projections and
// failed reads and writes with a growing wait. It returns nil when ctx is
// cancelled, after writing what it applied, or an error at once if another
// Run is going.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return vakt.Errorf(vakt.CodeInvalidArgument, "the projection runner is already running")
	}
	r.running = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.setLastErr(r.flush(ctx))
		r.running = false
		r.stale = true // a pull may still be open on the server
		r.notify()
		r.mu.Unlock()
	}()
	wait := time.Duration(0)
	for ctx.Err() == nil {
		err := r.step(ctx)
		r.setLastErr(err)
		if err == nil {
			wait = 0
			continue
		}
		r.mu.Lock()
		r.notify() // a waiting CatchUp returns the error
		r.mu.Unlock()
		wait = min(max(2*wait, r.opts.Retry), maxRetry)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	return nil
}

// step runs one pull: it prepares the consumer, asks for up to Fetch
// events, and applies them as they arrive (letting go of mu in between, so
// that Rebuild and readers get their turn).
func (r *Runner) step(ctx context.Context) (err error) {
	r.mu.Lock()
	if err := r.prepare(ctx); err != nil {
		r.mu.Unlock()
		return err
	}
	cons, gen := r.cons, r.gen
	maxWait := 2 * time.Second
	if r.pending > 0 {
		maxWait = max(time.Until(r.since.Add(r.opts.FlushInterval)), 10*time.Millisecond)
	}
	r.mu.Unlock()

	drained := false
	defer func() {
		// A pull left early may still hold deliveries (in the client or on
		// the server) that nobody will apply: have the consumer checked.
		if !drained || err != nil {
			r.mu.Lock()
			if gen == r.gen {
				r.stale = true
			}
			r.mu.Unlock()
		}
	}()
	b, err := cons.Fetch(r.opts.Fetch, jetstream.FetchMaxWait(maxWait))
	if err != nil {
		return r.ifCurrent(gen, fail(unreachable("read the event stream", err)))
	}
	tick := time.NewTicker(max(r.opts.FlushInterval/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case m, ok := <-b.Messages():
			if !ok {
				drained = true
				if err := b.Error(); err != nil {
					return r.ifCurrent(gen, fail(unreachable("read the event stream", err)))
				}
				return r.ifCurrent(gen, r.flushIfOverdue)
			}
			r.mu.Lock()
			if gen != r.gen {
				r.mu.Unlock()
				return nil // the consumer was replaced; drop the rest
			}
			err := r.handle(ctx, m)
			if errors.Is(err, errReordered) {
				if err = r.flush(ctx); err == nil {
					err = r.attach(ctx)
				}
				r.mu.Unlock()
				return err // the rest of this pull is dropped
			}
			if err == nil && r.flushDue() {
				err = r.flush(ctx)
			}
			r.mu.Unlock()
			if err != nil {
				return err
			}
		case <-tick.C:
			if err := r.ifCurrent(gen, r.flushIfOverdue); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// ifCurrent calls f with mu held unless the consumer has been replaced
// since gen (which also ends a pull with an error).
func (r *Runner) ifCurrent(gen uint64, f func() error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return nil
	}
	return f()
}

func fail(err error) func() error { return func() error { return err } }

// flushIfOverdue flushes if the oldest unwritten event waited
// FlushInterval (mu held).
func (r *Runner) flushIfOverdue() error {
	if r.pending > 0 && time.Since(r.since) >= r.opts.FlushInterval {
		return r.flush(context.Background())
	}
	return nil
}

// prepare flushes what is overdue, gives failed projections whose wait is
// over another go, and checks the consumer if needed (mu held).
func (r *Runner) prepare(ctx context.Context) error {
	if err := r.flushIfOverdue(); err != nil {
		return err
	}
	now := time.Now()
	for _, c := range r.cur {
		c.errMu.Lock()
		due := c.failed != nil && !now.Before(c.retryAt)
		if due {
			c.failed = nil // keeps its backoff, which grows if it fails again
		}
		c.errMu.Unlock()
		if due {
			r.stale = true
		}
	}
	if !r.stale {
		return nil
	}
	if err := r.flush(ctx); err != nil {
		return err
	}
	return r.attach(ctx)
}

// ---- rebuild --------------------------------------------------------------------

// Rebuild forgets a projection (its documents and checkpoint are purged in
// one operation, its memory reset) and folds it again from the first event.
// The other projections keep their state; the consumer is recreated from
// the start and they skip what they have seen. It returns how many events
// the projection applied. While Run is running, Rebuild waits until Run has
// rebuilt the projection up to the events stored when Rebuild was called.
func (r *Runner) Rebuild(ctx context.Context, name string) (int, error) {
	c := r.byName[name]
	if c == nil {
		return 0, vakt.Errorf(vakt.CodeNotFound, "no projection named %q", name)
	}
	rs, ok := c.p.(projections.Resetter)
	if !ok {
		return 0, vakt.Errorf(vakt.CodeInvalidArgument, "projection %q cannot be reset, so it cannot be rebuilt", name)
	}
	r.mu.Lock()
	err := r.flush(ctx)
	if err == nil {
		err = r.views.purge(ctx, name)
	}
	if err == nil {
		err = rs.Reset()
	}
	if err != nil {
		r.mu.Unlock()
		return 0, fmt.Errorf("rebuild %s: %w", name, err)
	}
	c.applied.Store(0)
	c.saved.Store(0)
	c.setErr(nil, 0)
	before := c.count.Load()
	err = r.attach(ctx)
	r.mu.Unlock()
	if err != nil {
		return 0, err
	}
	_, err = r.catchUp(ctx, []*cursor{c})
	return int(c.count.Load() - before), err
}

// ---- reading --------------------------------------------------------------------

// Get returns the JSON of a projection's model: from memory if the runner
// holds it (possibly ahead of the bucket by less than a flush), else from
// the bucket.
func (r *Runner) Get(ctx context.Context, projection string, k projections.Key) ([]byte, bool, error) {
	c := r.byName[projection]
	if c == nil {
		return nil, false, vakt.Errorf(vakt.CodeNotFound, "no projection named %q", projection)
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if c.pp == nil {
		return nil, false, vakt.Errorf(vakt.CodeInvalidArgument, "projection %q keeps no documents", projection)
	}
	return c.pp.Document(k)
}

// Status is where one projection stands.
type Status struct {
	Name       string
	Checkpoint uint64 // position stored with its documents
	Applied    uint64 // position applied in memory (>= Checkpoint)
	Lag        uint64 // stored events after the checkpoint
	Err        error  // why it stopped, until it is retried
}

func (r *Runner) setLastErr(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	r.lastErr = err
}

// LastError returns Run's last read or write error (reaching NATS, writing
// the bucket), or nil once a pull and its flushes succeed again. A
// projection's own failure is in its [Status].
func (r *Runner) LastError() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.lastErr
}

// Status returns every projection's position and lag.
func (r *Runner) Status(ctx context.Context) ([]Status, error) {
	end, err := r.lastSeq(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(r.cur))
	for i, c := range r.cur {
		s := Status{Name: c.name, Checkpoint: c.saved.Load(), Applied: c.applied.Load(), Err: c.err()}
		if end > s.Checkpoint {
			s.Lag = end - s.Checkpoint
		}
		out[i] = s
	}
	return out, nil
}

// Lag returns, by projection, how many stored events come after its
// checkpoint (the event stream's sequences have no gaps).
func (r *Runner) Lag(ctx context.Context) (map[string]uint64, error) {
	st, err := r.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(st))
	for _, s := range st {
		out[s.Name] = s.Lag
	}
	return out, nil
}

// Position returns the checkpoint of the named projection as far as the
// runner knows.
func (r *Runner) Position(name string) (uint64, bool) {
	c := r.byName[name]
	if c == nil {
		return 0, false
	}
	return c.saved.Load(), true
}
