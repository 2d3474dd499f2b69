package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/vaktmfa/vakt"
)

// Defaults for [NewQueue]'s workers and capacity when they are zero or
// negative.
const (
	DefaultWorkers  = 4
	DefaultCapacity = 1024
)

// Queue sends messages through a [Deliverer] in the background, so that the
// HTTP request that caused a code never waits for a provider (a webhook may
// retry for tens of seconds). It is bounded: when it is full, [Queue.Send]
// fails at once rather than letting memory or latency grow without limit.
//
// A Queue is itself a Deliverer; its Deliver is Send, and returns before the
// message is sent.
type Queue struct {
	d       Deliverer
	onError func(Message, error)
	ch      chan Message

	mu     sync.RWMutex // guards closed against a Send racing close(ch)
	closed bool

	ctx    context.Context // passed to Deliver; cancelled when Close gives up
	cancel context.CancelFunc
	done   chan struct{} // closed when every worker has returned
}

// NewQueue starts workers goroutines that deliver through d, with room for
// capacity messages waiting. onError is called (from a worker) with each
// message that could not be delivered; nil logs a warning with
// slog.Default(), the message masked (see [Message.LogValue]).
func NewQueue(d Deliverer, workers, capacity int, onError func(Message, error)) *Queue {
	workers = orDefault(workers, DefaultWorkers)
	capacity = orDefault(capacity, DefaultCapacity)
	if onError == nil {
		onError = func(m Message, err error) {
			slog.Warn("delivery failed", "delivery", m, "err", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{
		d: d, onError: onError, ch: make(chan Message, capacity),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(q.work)
	}
	go func() { wg.Wait(); close(q.done) }()
	return q
}

// Send queues m and returns at once. It fails with an internal error when
// the queue is full or closed, and with invalid_argument when m could not be
// delivered by any deliverer.
func (q *Queue) Send(m Message) error {
	if err := check(m); err != nil {
		return err
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return vakt.Errorf(vakt.CodeInternal, "delivery queue is closed")
	}
	select {
	case q.ch <- m:
		return nil
	default:
		return vakt.Errorf(vakt.CodeInternal, "delivery queue is full")
	}
}

// Deliver is [Queue.Send]; ctx is not used, since the message outlives the
// request that sends it.
func (q *Queue) Deliver(_ context.Context, m Message) error { return q.Send(m) }

// Len returns the number of messages waiting (not those being delivered),
// for a gauge.
func (q *Queue) Len() int { return len(q.ch) }

// Close stops accepting messages and waits until every queued message has
// been delivered or has failed. If ctx ends first, it cancels the deliveries
// in flight, reports every message still queued to onError without trying
// it, and returns without waiting further. Close may be called more than
// once.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
		q.cancel()
		return nil
	case <-ctx.Done():
		q.cancel()
		return vakt.Errorf(vakt.CodeInternal, "delivery queue closed before every message was sent: %w", ctx.Err())
	}
}

func (q *Queue) work() {
	for m := range q.ch {
		if err := q.ctx.Err(); err != nil {
			q.onError(m, vakt.Errorf(vakt.CodeInternal, "delivery queue closed before the message was sent: %w", err))
			continue
		}
		if err := q.deliver(m); err != nil {
			q.onError(m, err)
		}
	}
}

// deliver calls the deliverer, turning a panic into an error so that one bad
// message cannot take the server down.
func (q *Queue) deliver(m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			// The panic value stays out of the message; it could hold anything.
			err = &vakt.Error{Code: vakt.CodeInternal, Message: m.Method + " delivery panicked", Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	return q.d.Deliver(q.ctx, m)
}
