// Package nats is Vakt's event store on NATS JetStream, and the KV-backed
// pieces around it: snapshots, the data-key keyring, and the places where
// projections keep their read models and checkpoints.
//
// Events live in one stream (VAKT_EVENTS), one subject per aggregate
// (vakt.evt.<tenant>.<user>, ids encoded by [Token]). Every append carries
// Nats-Expected-Last-Subject-Sequence, so optimistic concurrency is the
// server's; commands that emit several events are appended with an atomic
// batch; concurrent commands for different users are committed together
// (group commit), so that durable throughput is not one fsync per command.
package nats

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/natserr"
)

// StreamName is the default name of the event stream.
const StreamName = "VAKT_EVENTS"

// Headers Vakt sets on every event message.
const (
	HeaderHash = "Vakt-Hash" // hex SHA-256 of prev hash and the payload
)

// JetStream error codes that mean "someone else wrote first".
const (
	errWrongLastSequence         = 10071
	errWrongLastSequenceInFlight = 10164
	errBatchDuplicateMsgID       = 10201
)

// Options configure a [Store]. The zero value works.
type Options struct {
	// Stream names the event stream (default VAKT_EVENTS).
	Stream string
	// Replicas of the stream when it is created (default 1; 3 in a cluster).
	Replicas int
	// Registry decodes events (default events.Default).
	Registry *events.Registry
	// MaxGroup bounds the commands committed together (default 256) and
	// MaxGroupEvents the events (default 900; a JetStream batch holds 1000).
	MaxGroup       int
	MaxGroupEvents int
	// PipelineMax is the largest group of one-event appends written as
	// separate publishes in flight together rather than as one atomic batch
	// (default 8; negative: always a batch). A durable publish costs one
	// fsync on the server, while an atomic batch costs a fixed few
	// milliseconds (a staging store made and removed per batch, see
	// BENCHMARKS.md) whatever its size: small groups are cheaper unbatched,
	// large ones batched.
	PipelineMax int
	// Timeout bounds one publish, commit or read (default 5s). The committer
	// is serial, so a write whose reply is lost holds the next group back
	// this long; keep it short.
	Timeout time.Duration
}

func (o *Options) fill() {
	if o.Stream == "" {
		o.Stream = StreamName
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Registry == nil {
		o.Registry = events.Default
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = 256
	}
	if o.MaxGroupEvents <= 0 || o.MaxGroupEvents > 1000 {
		o.MaxGroupEvents = 900
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.PipelineMax == 0 {
		o.PipelineMax = 8
	}
}

// Store is an [events.Store] on JetStream.
type Store struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	opts   Options

	queue   chan *pending
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once

	gate  sync.Mutex // held by tests to make a group form (see export_test.go)
	stats struct {
		appends, groups, batches, pipelined, fallbacks atomic.Int64
	}
}

// Stats counts what the group committer did since Open.
type Stats struct {
	Appends   int64 // appends committed or refused
	Groups    int64 // commits (a plain publish, publishes in flight together, or an atomic batch)
	Batches   int64 // of which atomic batches
	Pipelined int64 // of which one-event publishes in flight together
	Fallbacks int64 // groups retried append by append after a conflict
}

// Stats returns the committer's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Appends: s.stats.appends.Load(), Groups: s.stats.groups.Load(),
		Batches: s.stats.batches.Load(), Pipelined: s.stats.pipelined.Load(), Fallbacks: s.stats.fallbacks.Load(),
	}
}

var _ events.Store = (*Store)(nil)

// StreamConfig is the configuration Vakt creates its event stream with. An
// existing stream must match it in the ways that matter (see [Open]).
func StreamConfig(name string, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:               name,
		Description:        "Vakt events: one subject per user, hash-chained",
		Subjects:           []string{SubjectPrefix + ".>"},
		Storage:            jetstream.FileStorage,
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardNew, // never drop old events
		MaxMsgs:            -1,
		MaxBytes:           -1,
		MaxAge:             0,
		MaxMsgSize:         events.MaxEventSize + 1024,
		Replicas:           replicas,
		Duplicates:         2 * time.Minute,
		DenyDelete:         true,
		DenyPurge:          true,
		AllowDirect:        true,
		AllowAtomicPublish: true,
	}
}

// Open creates the event stream, or checks that the existing one has the
// settings an event store needs, and starts the group committer.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	opts.fill()
	want := StreamConfig(opts.Stream, opts.Replicas)
	st, err := js.Stream(ctx, opts.Stream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		st, err = js.CreateStream(ctx, want)
		if err != nil {
			return nil, vakt.Errorf(vakt.CodeInternal, "create stream %s: %v", opts.Stream, err)
		}
	case err != nil:
		return nil, unreachable("look up stream "+opts.Stream, err)
	default:
		if err := checkConfig(st.CachedInfo().Config, want); err != nil {
			return nil, err
		}
	}
	s := &Store{
		js: js, stream: st, opts: opts,
		queue: make(chan *pending, 4*opts.MaxGroup), stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	go s.commitLoop()
	return s, nil
}

// checkConfig refuses a stream that would break the event store's promises.
func checkConfig(got, want jetstream.StreamConfig) error {
	var bad []string
	if !slices.Contains(got.Subjects, want.Subjects[0]) {
		bad = append(bad, fmt.Sprintf("subjects %v (want %v)", got.Subjects, want.Subjects))
	}
	if got.Storage != jetstream.FileStorage {
		bad = append(bad, "memory storage (want file)")
	}
	if got.Retention != jetstream.LimitsPolicy {
		bad = append(bad, fmt.Sprintf("retention %s (want limits)", got.Retention))
	}
	if got.MaxAge != 0 || got.MaxMsgs > 0 || got.MaxBytes > 0 || got.MaxMsgsPerSubject > 0 {
		if got.Discard != jetstream.DiscardNew {
			bad = append(bad, "limits that discard old events")
		}
	}
	if !got.DenyDelete || !got.DenyPurge {
		bad = append(bad, "delete or purge allowed")
	}
	if !got.AllowDirect {
		bad = append(bad, "direct get off")
	}
	if !got.AllowAtomicPublish {
		bad = append(bad, "atomic publish off")
	}
	if got.Duplicates <= 0 {
		bad = append(bad, "no duplicate window")
	}
	if got.Replicas < want.Replicas {
		bad = append(bad, fmt.Sprintf("%d replica(s) (want %d)", got.Replicas, want.Replicas))
	}
	if len(bad) > 0 {
		return vakt.Errorf(vakt.CodeInternal, "stream %s exists with other settings (%s); it was not made by this version of vakt: fix it with `nats stream edit` or name another stream", got.Name, joinComma(bad))
	}
	return nil
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}

// Close stops the group committer; pending appends fail.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.stopped
	return nil
}

// unreachable wraps a transport error in a clear message.
func unreachable(what string, err error) error { return natserr.Wrap(what, err) }

func apiCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	var jsErr jetstream.JetStreamError
	if errors.As(err, &jsErr) && jsErr.APIError() != nil {
		return jsErr.APIError().ErrorCode
	}
	return 0
}

func isConflict(err error) bool {
	c := apiCode(err)
	return c == errWrongLastSequence || c == errWrongLastSequenceInFlight
}

// ---- append --------------------------------------------------------------------

type pending struct {
	ctx      context.Context
	stream   events.Stream
	subject  string
	expected events.Head
	recs     []events.Record
	done     chan outcome
}

type outcome struct {
	res events.AppendResult
	err error
}

// Append implements [events.Store]. It queues the append for the group
// committer and waits for its outcome.
func (s *Store) Append(ctx context.Context, st events.Stream, expected events.Head, recs []events.Record) (events.AppendResult, error) {
	if err := events.CheckAppend(st, expected, recs); err != nil {
		return events.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return events.AppendResult{}, err
	}
	subject := Subject(st)
	if expected.Command != "" && expected.Command == recs[0].Command {
		// Decided after reloading a stream whose last events are this very
		// command: a retry of a command that was stored.
		p := &pending{ctx: ctx, stream: st, subject: subject, expected: expected, recs: recs}
		res, ok, err := s.duplicateOf(p)
		if err != nil {
			return events.AppendResult{}, err
		}
		if ok {
			return res, nil
		}
	}
	if expected.Seq > 0 && expected.Position == 0 {
		// A head without a position (a snapshot from another store): find the
		// subject's last message and check it is the expected event.
		pos, err := s.positionOf(ctx, subject, expected)
		if err != nil {
			return events.AppendResult{}, err
		}
		expected.Position = pos
	}
	p := &pending{ctx: ctx, stream: st, subject: subject, expected: expected, recs: recs, done: make(chan outcome, 1)}
	select {
	case s.queue <- p:
	case <-ctx.Done():
		return events.AppendResult{}, ctx.Err()
	case <-s.stop:
		return events.AppendResult{}, vakt.Errorf(vakt.CodeInternal, "the event store is closed")
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-s.stopped:
		return events.AppendResult{}, vakt.Errorf(vakt.CodeInternal, "the event store closed during the append; its outcome is unknown (retry with the same command id)")
	}
}

// bounded gives ctx the store's timeout unless it has a deadline already, so
// that no call waits forever on a server that is gone.
func (s *Store) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opts.Timeout)
}

func (s *Store) positionOf(ctx context.Context, subject string, h events.Head) (uint64, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	m, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, vakt.Errorf(vakt.CodeConflict, "the stream has no events; expected seq %d", h.Seq)
	}
	if err != nil {
		return 0, unreachable("read the last event", err)
	}
	rec, err := s.opts.Registry.Decode(m.Data)
	if err != nil {
		return 0, err
	}
	if rec.Seq != h.Seq {
		return 0, vakt.Errorf(vakt.CodeConflict, "the stream moved on: expected seq %d, it is at %d", h.Seq, rec.Seq)
	}
	return m.Sequence, nil
}

// commitLoop is the group committer: it takes whatever appends are queued
// (at least one, waiting for it), commits them together, and starts again.
// Under load, the appends that arrive during one commit form the next group,
// so groups grow with concurrency and add no delay when there is none.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	var carry []*pending
	for {
		group := carry
		carry = nil
		if len(group) == 0 {
			select {
			case p := <-s.queue:
				group = append(group, p)
			case <-s.stop:
				s.failQueued()
				return
			}
		}
		// Waits while a test holds the gate (HoldCommits); free otherwise.
		s.gate.Lock()
		//lint:ignore SA2001 the empty critical section is the point
		s.gate.Unlock()
		events := 0
		for _, p := range group {
			events += len(p.recs)
		}
	fill:
		for len(group) < s.opts.MaxGroup {
			select {
			case p := <-s.queue:
				if events+len(p.recs) > s.opts.MaxGroupEvents {
					carry = append(carry, p)
					break fill
				}
				group = append(group, p)
				events += len(p.recs)
			default:
				break fill
			}
		}
		group, later := s.oneEach(group)
		carry = append(later, carry...)
		s.commit(group)
	}
}

func (s *Store) failQueued() {
	for {
		select {
		case p := <-s.queue:
			p.done <- outcome{err: vakt.Errorf(vakt.CodeInternal, "the event store is closed")}
		default:
			return
		}
	}
}

// oneEach keeps at most one append per subject in a group. A second append
// for a subject that expects the same head as the first cannot both win: it
// is a conflict now. One that expects another head waits for the next group.
func (s *Store) oneEach(group []*pending) (keep, later []*pending) {
	seen := make(map[string]uint64, len(group))
	for _, p := range group {
		if p.ctx.Err() != nil {
			p.done <- outcome{err: p.ctx.Err()}
			continue
		}
		pos, dup := seen[p.subject]
		switch {
		case !dup:
			seen[p.subject] = p.expected.Position
			keep = append(keep, p)
		case pos == p.expected.Position && p.recs[0].Command != cmdOf(keep, p.subject):
			p.done <- outcome{err: vakt.Errorf(vakt.CodeConflict, "%s moved on: another command for it was committed first", p.stream)}
		default:
			later = append(later, p)
		}
	}
	return keep, later
}

func cmdOf(group []*pending, subject string) string {
	for _, p := range group {
		if p.subject == subject {
			return p.recs[0].Command
		}
	}
	return ""
}

// commit writes a group: one message alone as a plain publish (the cheapest
// durable write), anything more as one atomic batch. If the batch is refused
// because one of its appends conflicts or repeats a command (the server
// names neither), each append is retried alone so that only that one fails.
func (s *Store) commit(group []*pending) {
	if len(group) == 0 {
		return
	}
	s.stats.appends.Add(int64(len(group)))
	s.stats.groups.Add(1)
	if len(group) == 1 && len(group[0].recs) == 1 {
		s.finish(group[0], s.publishOne(group[0]))
		return
	}
	if len(group) == 1 {
		s.finish(group[0], s.publishBatch(group))
		return
	}
	if len(group) <= s.opts.PipelineMax && singles(group) {
		// No atomicity is needed across appends of different subjects:
		// each carries its own expected sequence and fails or succeeds
		// alone.
		for i, w := range s.publishPipelined(group) {
			s.finish(group[i], w)
		}
		return
	}
	o := s.publishBatch(group)
	if o.err != nil && (isConflict(o.err) || apiCode(o.err) == errBatchDuplicateMsgID) {
		s.stats.fallbacks.Add(1)
		for _, p := range group {
			if len(p.recs) == 1 {
				s.finish(p, s.publishOne(p))
			} else {
				s.finish(p, s.publishBatch([]*pending{p}))
			}
		}
		return
	}
	if o.err != nil {
		for _, p := range group {
			p.done <- outcome{err: unreachable("append", o.err)}
		}
		return
	}
	// The batch's messages are stored contiguously, ending at o.last.
	pos := o.last - uint64(o.count) + 1
	for _, p := range group {
		recs := make([]events.Record, len(p.recs))
		for i := range p.recs {
			recs[i] = p.recs[i]
			recs[i].Position = pos
			pos++
		}
		p.done <- outcome{res: events.AppendResult{Records: recs}}
	}
}

// written is the raw result of a publish: the stream sequence of its last
// message and how many it wrote.
type written struct {
	last  uint64
	count int
	err   error
}

// finish turns a publish of one append into its outcome, resolving a
// conflict that is really a retry of the same command.
func (s *Store) finish(p *pending, w written) {
	if w.err == nil {
		recs := make([]events.Record, len(p.recs))
		pos := w.last - uint64(len(p.recs)) + 1
		for i := range p.recs {
			recs[i] = p.recs[i]
			recs[i].Position = pos + uint64(i)
		}
		p.done <- outcome{res: events.AppendResult{Records: recs}}
		return
	}
	if isConflict(w.err) || apiCode(w.err) == errBatchDuplicateMsgID {
		// The server checks the expected sequence before duplicates, so a
		// retry of a command that was stored (its reply lost) comes back as a
		// conflict: read the subject's last events and compare command ids.
		if res, ok, err := s.duplicateOf(p); err != nil {
			p.done <- outcome{err: err}
			return
		} else if ok {
			p.done <- outcome{res: res}
			return
		}
		p.done <- outcome{err: vakt.Errorf(vakt.CodeConflict, "%s moved on: expected seq %d", p.stream, p.expected.Seq)}
		return
	}
	p.done <- outcome{err: unreachable("append", w.err)}
}

// duplicateOf reports whether the subject's latest events were written by
// p's command, and returns them.
func (s *Store) duplicateOf(p *pending) (events.AppendResult, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	m, err := s.stream.GetLastMsgForSubject(ctx, p.subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return events.AppendResult{}, false, nil
	}
	if err != nil {
		return events.AppendResult{}, false, unreachable("read the last event", err)
	}
	last, err := s.opts.Registry.Decode(m.Data)
	if err != nil {
		return events.AppendResult{}, false, err
	}
	if last.Command != p.recs[0].Command {
		return events.AppendResult{}, false, nil
	}
	// Load the command's events, the subject's trailing run of events with
	// its id. They follow the head the command expected, unless the retry was
	// decided after reloading them (the engine's retry after a lost reply):
	// the head it expects is then the command's own last event, and the run
	// is read from the start of the stream.
	from := p.expected
	if last.Seq <= p.expected.Seq {
		from = events.Head{}
	}
	recs, err := s.Load(ctx, p.stream, from)
	if err != nil {
		return events.AppendResult{}, false, err
	}
	i := len(recs)
	for i > 0 && recs[i-1].Command == p.recs[0].Command {
		i--
	}
	if i == len(recs) {
		// The last message came from a replica that lags behind the one
		// Load read: the stream moved on after the command.
		return events.AppendResult{}, false, nil
	}
	return events.AppendResult{Records: recs[i:], Duplicate: true}, true, nil
}

func (s *Store) message(p *pending, i int) *natsgo.Msg {
	r := &p.recs[i]
	m := natsgo.NewMsg(p.subject)
	m.Data = r.Raw
	m.Header.Set(jetstream.MsgIDHeader, msgID(p.subject, r.Command, i))
	m.Header.Set(HeaderHash, r.Hash.String())
	return m
}

// msgID is the Nats-Msg-Id of a command's i-th event. JetStream deduplicates
// across the whole stream, while command ids are unique per user, so the id
// is scoped to the subject: a hash of subject and command id.
func msgID(subject, command string, i int) string {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write([]byte(command))
	return hex.EncodeToString(h.Sum(nil)[:16]) + ":" + strconv.Itoa(i)
}

func (s *Store) publishOne(p *pending) written {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	m := s.message(p, 0)
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(p.expected.Position, 10))
	ack, err := s.js.PublishMsg(ctx, m)
	if err != nil {
		return written{err: err}
	}
	if ack.Duplicate {
		return written{err: &jetstream.APIError{ErrorCode: errBatchDuplicateMsgID, Description: "duplicate"}}
	}
	return written{last: ack.Sequence, count: 1}
}

// singles reports whether every append of group is one event.
func singles(group []*pending) bool {
	for _, p := range group {
		if len(p.recs) != 1 {
			return false
		}
	}
	return true
}

// publishPipelined publishes the one-event appends of a group without
// waiting between them, then collects their acknowledgements.
func (s *Store) publishPipelined(group []*pending) []written {
	s.stats.pipelined.Add(1)
	out := make([]written, len(group))
	futures := make([]jetstream.PubAckFuture, len(group))
	for i, p := range group {
		m := s.message(p, 0)
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(p.expected.Position, 10))
		f, err := s.js.PublishMsgAsync(m)
		if err != nil {
			out[i].err = err
			continue
		}
		futures[i] = f
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				out[i].err = &jetstream.APIError{ErrorCode: errBatchDuplicateMsgID, Description: "duplicate"}
			} else {
				out[i] = written{last: ack.Sequence, count: 1}
			}
		case err := <-f.Err():
			out[i].err = err
		case <-ctx.Done():
			// Stored or not, the caller hears a timeout; a retry of the
			// command is recognised as one (see finish).
			out[i].err = ctx.Err()
		}
	}
	return out
}

// publishBatch writes the appends of a group as one atomic batch: every
// append's first message carries its subject's expected sequence.
func (s *Store) publishBatch(group []*pending) written {
	s.stats.batches.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	var msgs []*natsgo.Msg
	for _, p := range group {
		for i := range p.recs {
			m := s.message(p, i)
			if i == 0 {
				m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(p.expected.Position, 10))
			}
			msgs = append(msgs, m)
		}
	}
	ack, err := jetstreamext.PublishMsgBatch(ctx, s.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false, AckTimeout: s.opts.Timeout})
	if err != nil {
		return written{err: err}
	}
	return written{last: ack.Sequence, count: len(msgs)}
}

// ---- load -----------------------------------------------------------------------

// Load implements [events.Store].
//
// It first reads the subject's last message (a direct get, microseconds), so
// a stream with nothing new after the head costs no scan. A load after a
// head with a position (a snapshot) then walks the few events after it with
// direct gets of "the next message of this subject from position p", and
// reuses the last message it already has. A load from the start reads the
// subject with batched direct gets from position 1.
//
// Both paths were chosen by measurement on a 1M-event stream (BENCHMARKS.md):
// a batched direct get that starts in the middle of the stream has a long
// tail (up to ten times slower than one from position 1, depending on where
// it starts), while single next-by-subject gets stay fast wherever they
// start.
func (s *Store) Load(ctx context.Context, st events.Stream, after events.Head) ([]events.Record, error) {
	if err := st.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	subject := Subject(st)
	lastMsg, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		if after.Seq > 0 {
			return nil, vakt.Errorf(vakt.CodeInternal, "%s has no events in stream %s, but its head says seq %d: the stream was replaced or damaged", st, s.opts.Stream, after.Seq)
		}
		return nil, nil
	}
	if err != nil {
		return nil, unreachable("load "+st.String(), err)
	}
	if after.Position > 0 && lastMsg.Sequence <= after.Position {
		return nil, nil
	}
	last, err := s.decodeAt(st, lastMsg.Sequence, lastMsg.Data)
	if err != nil {
		return nil, err
	}
	if last.Seq <= after.Seq {
		return nil, nil
	}
	c := chain{st: st, after: after, prev: after.Hash, prevSeq: after.Seq}
	if after.Position > 0 {
		// The events after a known position: next-by-subject gets.
		pos := after.Position + 1
		for n := last.Seq - after.Seq - 1; n > 0; n-- {
			m, err := s.stream.GetMsg(ctx, pos, jetstream.WithGetMsgSubject(subject))
			if err != nil {
				return nil, unreachable("load "+st.String(), err)
			}
			rec, err := s.decodeAt(st, m.Sequence, m.Data)
			if err != nil {
				return nil, err
			}
			if err := c.add(rec); err != nil {
				return nil, err
			}
			pos = m.Sequence + 1
		}
	} else {
		// From the start: batches of direct gets from position 1.
		from := uint64(1)
		for from < last.Position {
			msgs, err := jetstreamext.GetBatch(ctx, s.js, s.opts.Stream, 512, jetstreamext.GetBatchSubject(subject), jetstreamext.GetBatchSeq(from))
			if err != nil {
				return nil, unreachable("load "+st.String(), err)
			}
			n := 0
			for m, err := range msgs {
				if errors.Is(err, jetstreamext.ErrNoMessages) {
					break
				}
				if err != nil {
					return nil, unreachable("load "+st.String(), err)
				}
				n++
				from = m.Sequence + 1
				if m.Sequence >= last.Position {
					break
				}
				rec, err := s.decodeAt(st, m.Sequence, m.Data)
				if err != nil {
					return nil, err
				}
				if err := c.add(rec); err != nil {
					return nil, err
				}
			}
			if n == 0 {
				break
			}
		}
	}
	if err := c.add(last); err != nil {
		return nil, err
	}
	return c.out, nil
}

func (s *Store) decodeAt(st events.Stream, pos uint64, data []byte) (events.Record, error) {
	rec, err := s.opts.Registry.Decode(data)
	if err != nil {
		return rec, vakt.Errorf(vakt.CodeInternal, "%s: event at position %d does not decode: %v", st, pos, err)
	}
	if rec.Stream() != st {
		return rec, vakt.Errorf(vakt.CodeInternal, "%s: event at position %d belongs to %s", st, pos, rec.Stream())
	}
	rec.Position = pos
	return rec, nil
}

// chain collects a stream's records after a head, computing their hashes
// and checking that their sequence numbers follow one another.
type chain struct {
	st      events.Stream
	after   events.Head
	prev    events.Hash
	prevSeq uint64
	out     []events.Record
}

func (c *chain) add(rec events.Record) error {
	if rec.Seq <= c.after.Seq {
		// Covered by a head that had no position: only follow the chain.
		c.prev, c.prevSeq = events.ChainHash(c.prev, rec.Raw), rec.Seq
		if rec.Seq == c.after.Seq {
			c.prev = c.after.Hash
		}
		return nil
	}
	if rec.Seq != c.prevSeq+1 {
		return vakt.Errorf(vakt.CodeInternal, "%s: event seq %d follows seq %d at position %d: the stream is damaged", c.st, rec.Seq, c.prevSeq, rec.Position)
	}
	rec.Hash = events.ChainHash(c.prev, rec.Raw)
	c.prev, c.prevSeq = rec.Hash, rec.Seq
	c.out = append(c.out, rec)
	return nil
}

// ---- all ---------------------------------------------------------------------------

// All implements [events.Store]: an ordered consumer from the position after
// `after` up to the stream's last message when the call began.
func (s *Store) All(ctx context.Context, after uint64) iter.Seq2[events.Record, error] {
	return func(yield func(events.Record, error) bool) {
		ictx, cancel := s.bounded(ctx)
		info, err := s.stream.Info(ictx)
		cancel()
		if err != nil {
			yield(events.Record{}, unreachable("read the stream", err))
			return
		}
		end := info.State.LastSeq
		if end <= after {
			return
		}
		for m, err := range s.Raw(ctx, after, end) {
			if err != nil {
				yield(events.Record{}, err)
				return
			}
			rec, err := s.decodeMsg(m)
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}

// RawMsg is one stored message as the stream holds it.
type RawMsg struct {
	Position uint64
	Subject  string
	Data     []byte
	Hash     string // the Vakt-Hash header
}

// Raw yields the stream's messages after `after` up to `end` (inclusive)
// without decoding them: what `vakt export` writes and the benchmark's raw
// consumer reads.
//
// An ordered consumer is read by its own goroutine, a few hundred messages
// ahead, so that the caller's work on one batch (decoding, verifying,
// folding) overlaps the fetching of the next.
func (s *Store) Raw(ctx context.Context, after, end uint64) iter.Seq2[RawMsg, error] {
	return func(yield func(RawMsg, error) bool) {
		if end <= after {
			return
		}
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		batches := make(chan rawBatch, 4)
		go s.fetch(fctx, after, end, batches)
		last := after
		for b := range batches {
			for _, m := range b.msgs {
				if !yield(m, nil) {
					return
				}
				last = m.Position
			}
			if b.err != nil {
				yield(RawMsg{}, b.err)
				return
			}
		}
		if last < end {
			// Cut short: say so, or a caller would take it for the whole.
			err := ctx.Err()
			if err == nil {
				err = vakt.Errorf(vakt.CodeInternal, "read the stream: it ended at position %d before %d", last, end)
			}
			yield(RawMsg{}, err)
		}
	}
}

type rawBatch struct {
	msgs []RawMsg
	err  error
}

// fetch reads the stream into batches until end, an error, or ctx ends.
func (s *Store) fetch(ctx context.Context, after, end uint64, out chan<- rawBatch) {
	defer close(out)
	send := func(b rawBatch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	cons, err := s.js.OrderedConsumer(ctx, s.opts.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{SubjectPrefix + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    after + 1,
	})
	if err != nil {
		send(rawBatch{err: unreachable("read the stream", err)})
		return
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		send(rawBatch{err: unreachable("read the stream", err)})
		return
	}
	defer it.Stop()
	const batchSize = 256
	b := rawBatch{msgs: make([]RawMsg, 0, batchSize)}
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() == nil {
				b.err = unreachable("read the stream", err)
				send(b)
			}
			return
		}
		md, err := m.Metadata()
		if err != nil {
			b.err = vakt.Errorf(vakt.CodeInternal, "read the stream: %v", err)
			send(b)
			return
		}
		raw := RawMsg{Position: md.Sequence.Stream, Subject: m.Subject(), Data: m.Data(), Hash: m.Headers().Get(HeaderHash)}
		b.msgs = append(b.msgs, raw)
		if raw.Position >= end {
			send(b)
			return
		}
		if len(b.msgs) == batchSize {
			if !send(b) {
				return
			}
			b = rawBatch{msgs: make([]RawMsg, 0, batchSize)}
		}
	}
}

func (s *Store) decodeMsg(m RawMsg) (events.Record, error) {
	rec, err := s.opts.Registry.Decode(m.Data)
	if err != nil {
		return events.Record{}, vakt.Errorf(vakt.CodeInternal, "event at position %d does not decode: %v", m.Position, err)
	}
	rec.Position = m.Position
	if _, err := hex.Decode(rec.Hash[:], []byte(m.Hash)); err != nil || len(m.Hash) != 64 {
		return events.Record{}, vakt.Errorf(vakt.CodeInternal, "event at position %d has no valid %s header", m.Position, HeaderHash)
	}
	return rec, nil
}

// LastPosition is the stream's last sequence (0 when empty).
func (s *Store) LastPosition(ctx context.Context) (uint64, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, unreachable("read the stream", err)
	}
	return info.State.LastSeq, nil
}
