package push

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
)

// UserWaiter waits for appends to users' event streams. The zero value uses
// Vakt's event stream (VAKT_EVENTS) under the default JetStream API prefix;
// [WaitUser] is UserWaiter{}.Wait.
//
// # Why a signal is not sent the moment a message is seen
//
// JetStream publishes are visible to core subscribers, but they reach them
// as the server routes the message, which is before the stream has stored
// it: the stream ingests on its own goroutine, and the store's group commit
// sends an atomic batch whose messages are only stored when its last message
// (the commit) arrives, maybe much later, and not at all if the batch is
// refused. A waiter that reads the state the moment it sees a message can
// read the state from before the append and then wait for a message that has
// already come (measured: with fsync on, a few of 40 such reads were stale).
//
// So a message on the user's subject only says "an append is on its way".
// The waiter then reads the position of the subject's last stored message
// (a direct get, as the store's own load does) until it is past the position
// the append expected (its Nats-Expected-Last-Subject-Sequence header; the
// store sets it on the first message of every append), and signals then. An
// append that was routed before the subscription existed but is stored
// after the caller's read gives no message at all; the waiter catches it by
// also polling, with backoff, for [UserWaiter.Settle] after it starts.
//
// A stream configured with RePublish (after storage) would make all of this
// a plain subscription.
type UserWaiter struct {
	// Stream names the event stream (default VAKT_EVENTS).
	Stream string
	// APIPrefix is the JetStream API prefix (default "$JS.API.").
	APIPrefix string
	// Settle is how long after the start appends already under way are
	// looked for (default 2s), and Confirm how long an append seen on the
	// subject may take to be stored (default 5s, the store's timeout)
	// before the waiter signals anyway.
	Settle, Confirm time.Duration
}

// WaitUser waits for appends to a user's event stream on Vakt's event stream
// with the default settings; see [UserWaiter.Wait].
func WaitUser(ctx context.Context, nc *nats.Conn, tenant, user string) (<-chan struct{}, func(), error) {
	return UserWaiter{}.Wait(ctx, nc, tenant, user)
}

// Polling backoff while an append is being confirmed.
const (
	pollFirst = time.Millisecond
	pollMax   = 250 * time.Millisecond
)

// maxPending bounds the appends seen but not yet confirmed.
const maxPending = 1024

// Wait subscribes to the user's event subject and signals (on a channel with
// room for one signal, so signals coalesce) whenever an event appended to
// the user's stream has been stored and can be read, until ctx ends or stop
// is called; then the channel is closed and the subscription is gone.
//
// Call it before reading the user's state: an append stored after Wait
// returns is signalled, and one stored before it is in what the caller
// reads. Rarely, a signal comes with nothing new (an append refused after it
// was seen); a caller re-reads and waits again.
func (w UserWaiter) Wait(ctx context.Context, nc *nats.Conn, tenant, user string) (<-chan struct{}, func(), error) {
	if nc == nil {
		return nil, nil, errNoConn
	}
	st := events.Stream{Tenant: tenant, User: user}
	if user == "" {
		return nil, nil, vakt.Errorf(vakt.CodeInvalidArgument, "user id is empty")
	}
	if err := st.Validate(); err != nil {
		return nil, nil, err
	}
	if w.Stream == "" {
		w.Stream = natsstore.StreamName
	}
	if w.APIPrefix == "" {
		w.APIPrefix = jetstream.DefaultAPIPrefix
	} else if !strings.HasSuffix(w.APIPrefix, ".") {
		w.APIPrefix += "."
	}
	if w.Settle <= 0 {
		w.Settle = 2 * time.Second
	}
	if w.Confirm <= 0 {
		w.Confirm = 5 * time.Second
	}
	subject := natsstore.Subject(st)
	u := &userWait{
		nc:   nc,
		get:  w.APIPrefix + "DIRECT.GET." + w.Stream + "." + subject,
		conf: w.Confirm,
		kick: make(chan struct{}, 1),
		out:  make(chan struct{}, 1),
	}
	wt := newWaiter(ctx)
	sub, err := nc.Subscribe(subject, u.seen)
	if err != nil {
		wt.finish()
		return nil, nil, vakt.Errorf(vakt.CodeInternal, "push: subscribe: %v", err)
	}
	fail := func(err error) (<-chan struct{}, func(), error) {
		_ = sub.Unsubscribe()
		wt.finish()
		return nil, nil, err
	}
	if err := registered(ctx, nc); err != nil {
		return fail(err)
	}
	// The baseline: what the caller's read will include at least.
	last, err := u.last(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		return fail(vakt.Errorf(vakt.CodeInternal, "push: read the position of %s in stream %s: %v", st, w.Stream, err))
	}
	u.known = last
	settle := time.Now().Add(w.Settle)
	stop := wt.run(sub, func() { close(u.out) }, func(quit <-chan struct{}) { u.loop(ctx, quit, settle) })
	return u.out, stop, nil
}

// userWait is one WaitUser.
type userWait struct {
	nc   *nats.Conn
	get  string // the direct get of the subject's last message
	conf time.Duration
	kick chan struct{}
	out  chan struct{}

	mu      sync.Mutex
	arrived []pending // seen by the subscription, not yet taken by the loop

	known   uint64    // the position of the last stored message seen
	pending []pending // appends seen and not yet stored
}

// pending is an append seen on the subject: it is stored once the subject's
// last position is past after.
type pending struct {
	after    uint64
	hasAfter bool
	deadline time.Time
}

// seen is the subscription's handler: it records the append and wakes the
// loop, never blocking.
func (u *userWait) seen(m *nats.Msg) {
	p := pending{deadline: time.Now().Add(u.conf)}
	if v := m.Header.Get(jetstream.ExpectedLastSubjSeqHeader); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			p.after, p.hasAfter = n, true
		}
	}
	u.mu.Lock()
	if len(u.arrived) < maxPending {
		u.arrived = append(u.arrived, p)
	} else {
		u.arrived[len(u.arrived)-1].deadline = p.deadline
	}
	u.mu.Unlock()
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

func (u *userWait) loop(ctx context.Context, quit <-chan struct{}, settle time.Time) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	delay := pollFirst
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.kick:
			u.take()
			delay = pollFirst
		case <-timer.C:
			delay = min(2*delay, pollMax)
		}
		u.poll(ctx)
		if len(u.pending) > 0 || time.Now().Before(settle) {
			timer.Reset(delay)
		}
	}
}

// take moves the appends the subscription saw into pending. One without the
// expected-position header (not written by the event store) waits for any
// message after the last one known.
func (u *userWait) take() {
	u.mu.Lock()
	arrived := u.arrived
	u.arrived = nil
	u.mu.Unlock()
	for _, p := range arrived {
		if !p.hasAfter {
			p.after = u.known
		}
		if len(u.pending) < maxPending {
			u.pending = append(u.pending, p)
		}
	}
}

// poll reads the subject's last position, signals if it moved on, and drops
// the appends it shows stored. An append not confirmed in time (refused, or
// the stream cannot be read) is signalled anyway: a caller that re-reads
// for nothing loses little, one that misses an event waits for nothing.
func (u *userWait) poll(ctx context.Context) {
	last, err := u.last(ctx)
	if ctx.Err() != nil {
		return
	}
	moved := err == nil && last > u.known
	if moved {
		u.known = last
	}
	now := time.Now()
	keep := u.pending[:0]
	for _, p := range u.pending {
		switch {
		case err == nil && last > p.after:
		case now.After(p.deadline):
			moved = true
		default:
			keep = append(keep, p)
		}
	}
	clear(u.pending[len(keep):])
	u.pending = keep
	if moved {
		select {
		case u.out <- struct{}{}:
		default:
		}
	}
}

// last returns the stream position of the subject's last message, 0 if it
// has none.
func (u *userWait) last(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	m, err := u.nc.RequestWithContext(ctx, u.get, nil)
	if err != nil {
		return 0, err
	}
	if len(m.Data) == 0 && m.Header.Get("Status") == "404" {
		return 0, nil
	}
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		desc := m.Header.Get("Description")
		if desc == "" {
			desc = "no " + jetstream.SequenceHeader + " in the reply"
		}
		return 0, vakt.Errorf(vakt.CodeInternal, "direct get: %s", desc)
	}
	return seq, nil
}
