// Package push carries pushes to devices and wakes waiters when a user's
// stream moves on, over core NATS.
//
// A push is ephemeral: it is published on vakt.push.<tenant>.<authenticator>
// (ids encoded with [natsstore.Token]) and never stored in JetStream. The
// challenge it belongs to is stored (challenge.issued carries the push), so
// a device that was not listening reads its pending pushes from the user's
// state; the publication only saves it the wait. A waiter therefore
// subscribes first and reads the state second ([WaitPush]), so that nothing
// published between the read and the wait is missed.
//
// [WaitUser] signals every append to a user's event stream
// (vakt.evt.<tenant>.<user>), for long polls on a challenge's status.
package push

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
)

// SubjectPrefix is where pushes are published: vakt.push.<tenant>.<authenticator>.
const SubjectPrefix = "vakt.push"

// MaxNoticeSize bounds a push notice on the wire; anything larger on a push
// subject is not a notice Vakt published and is dropped.
const MaxNoticeSize = 16 << 10

// flushTimeout bounds waiting for the server to confirm a subscription.
const flushTimeout = 5 * time.Second

// Notice is a push as a device receives it. ChallengeID is the engine's id
// of the challenge, the one the device signs over ([engine.PushMessage]);
// RespondID is the id the device answers on
// (POST /v1/tenants/{t}/challenges/{RespondID}/respond), which the HTTP API
// extends with the user so that a challenge can be found without a lookup.
// A host without that need leaves RespondID empty and devices use ChallengeID.
type Notice struct {
	engine.PushNotice
	RespondID string `json:"respond_id,omitempty"`
}

// Subject is the subject of an authenticator's pushes.
func Subject(tenant, authenticatorID string) string {
	return SubjectPrefix + "." + natsstore.Token(tenant) + "." + natsstore.Token(authenticatorID)
}

func checkIDs(tenant, authenticatorID string) error {
	if err := events.ValidateID("tenant", tenant); err != nil {
		return err
	}
	return events.ValidateID("authenticator", authenticatorID)
}

var errNoConn = vakt.Errorf(vakt.CodeInternal, "push: no NATS connection")

// Publish sends a push notice to its authenticator (n.AuthenticatorID) as
// JSON. It is fire-and-forget, as core NATS is: the notice is queued on the
// connection and reaches the devices that are waiting at that moment.
func Publish(nc *nats.Conn, tenant string, n Notice) error {
	if nc == nil {
		return errNoConn
	}
	if err := checkIDs(tenant, n.AuthenticatorID); err != nil {
		return err
	}
	if n.ChallengeID == "" {
		return vakt.Errorf(vakt.CodeInvalidArgument, "push: the notice names no challenge")
	}
	b, err := json.Marshal(n)
	if err != nil {
		return vakt.Errorf(vakt.CodeInternal, "push: encode the notice: %v", err)
	}
	if err := nc.Publish(Subject(tenant, n.AuthenticatorID), b); err != nil {
		return vakt.Errorf(vakt.CodeInternal, "push: publish: %v", err)
	}
	return nil
}

// WaitPush subscribes to an authenticator's pushes and delivers the notices
// published from then on, until ctx ends or stop is called; then the channel
// is closed and the subscription is gone. The subscription is registered with
// the server before WaitPush returns, so a caller that reads the current
// state after WaitPush and then waits on the channel misses nothing.
//
// Messages on the subject that are not a notice for this authenticator are
// dropped. A caller that does not keep up loses notices rather than stalling
// the connection (64 are buffered); the state still holds them.
//
// stop may be called any number of times, from any goroutine; it returns once
// the subscription is removed.
func WaitPush(ctx context.Context, nc *nats.Conn, tenant, authenticatorID string) (<-chan Notice, func(), error) {
	if nc == nil {
		return nil, nil, errNoConn
	}
	if err := checkIDs(tenant, authenticatorID); err != nil {
		return nil, nil, err
	}
	out := make(chan Notice, 64)
	w := newWaiter(ctx)
	sub, err := nc.Subscribe(Subject(tenant, authenticatorID), func(m *nats.Msg) {
		if len(m.Data) > MaxNoticeSize {
			return
		}
		var n Notice
		if json.Unmarshal(m.Data, &n) != nil || n.AuthenticatorID != authenticatorID || n.ChallengeID == "" {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.closed {
			return
		}
		select {
		case out <- n:
		default: // the caller is not reading; the state keeps the push
		}
	})
	if err != nil {
		w.finish()
		return nil, nil, vakt.Errorf(vakt.CodeInternal, "push: subscribe: %v", err)
	}
	if err := registered(ctx, nc); err != nil {
		_ = sub.Unsubscribe()
		w.finish()
		return nil, nil, err
	}
	stop := w.run(sub, func() { close(out) }, nil)
	return out, stop, nil
}

// registered waits until the server has processed everything sent on nc so
// far, in particular a new subscription.
func registered(ctx context.Context, nc *nats.Conn) error {
	fctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	if err := nc.FlushWithContext(fctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return vakt.Errorf(vakt.CodeInternal, "push: NATS did not confirm the subscription: %v", err)
	}
	return nil
}

// waiter is the life of one wait: it ends when ctx ends or stop is called,
// whichever comes first, and then unsubscribes and closes the channel once.
type waiter struct {
	ctx    context.Context
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex // held while sending on the channel and while closing it
	closed bool
}

func newWaiter(ctx context.Context) *waiter {
	return &waiter{ctx: ctx, quit: make(chan struct{}), done: make(chan struct{})}
}

// run starts the goroutine that waits for the end, with loop (if any) as its
// body, and returns stop.
func (w *waiter) run(sub *nats.Subscription, closeOut func(), loop func(quit <-chan struct{})) func() {
	go func() {
		defer close(w.done)
		if loop != nil {
			loop(w.quit)
		} else {
			select {
			case <-w.ctx.Done():
			case <-w.quit:
			}
		}
		_ = sub.Unsubscribe()
		w.mu.Lock()
		w.closed = true
		closeOut()
		w.mu.Unlock()
	}()
	return func() {
		w.once.Do(func() { close(w.quit) })
		<-w.done
	}
}

// finish marks a wait that never started.
func (w *waiter) finish() {
	w.once.Do(func() { close(w.quit) })
	close(w.done)
}

// Conn binds Publish, WaitPush and WaitUser to one connection, for a server
// that takes them as methods.
type Conn struct {
	NC *nats.Conn
	// Users configures WaitUser (the zero value: Vakt's event stream).
	Users UserWaiter
}

// Publish is [Publish] on c.NC.
func (c Conn) Publish(tenant string, n Notice) error { return Publish(c.NC, tenant, n) }

// WaitPush is [WaitPush] on c.NC.
func (c Conn) WaitPush(ctx context.Context, tenant, authenticatorID string) (<-chan Notice, func(), error) {
	return WaitPush(ctx, c.NC, tenant, authenticatorID)
}

// WaitUser is [UserWaiter.Wait] on c.NC.
func (c Conn) WaitUser(ctx context.Context, tenant, user string) (<-chan struct{}, func(), error) {
	return c.Users.Wait(ctx, c.NC, tenant, user)
}
