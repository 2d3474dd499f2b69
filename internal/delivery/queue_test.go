package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/delivery"
)

// recorder is a Deliverer that records messages, optionally blocking until
// released or failing some of them.
type recorder struct {
	mu      sync.Mutex
	got     []delivery.Message
	gate    chan struct{} // if not nil, Deliver waits for it (or ctx)
	fail    func(delivery.Message) error
	started chan struct{} // if not nil, receives once per Deliver call
}

func (r *recorder) Deliver(ctx context.Context, m delivery.Message) error {
	if r.started != nil {
		r.started <- struct{}{}
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if r.fail != nil {
		if err := r.fail(m); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.got = append(r.got, m)
	r.mu.Unlock()
	return nil
}

func (r *recorder) messages() []delivery.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery.Message(nil), r.got...)
}

func numbered(i int) delivery.Message {
	m := smsMessage()
	m.ChallengeID = fmt.Sprint(i)
	return m
}

func TestQueueDeliversAllAndDrainsOnClose(t *testing.T) {
	r := &recorder{}
	var failed atomic.Int32
	q := delivery.NewQueue(r, 4, 1000, func(delivery.Message, error) { failed.Add(1) })
	const n = 500
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			for i := range n / 10 {
				if err := q.Send(numbered(g*1000 + i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := r.messages()
	if len(got) != n || failed.Load() != 0 {
		t.Fatalf("%d delivered, %d failed, want %d, 0", len(got), failed.Load(), n)
	}
	seen := map[string]bool{}
	for _, m := range got {
		if seen[m.ChallengeID] {
			t.Errorf("message %s delivered twice", m.ChallengeID)
		}
		seen[m.ChallengeID] = true
	}
	if err := q.Send(smsMessage()); vakt.CodeOf(err) != vakt.CodeInternal || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Send after Close: %v", err)
	}
	if err := q.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestQueueFull(t *testing.T) {
	r := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 10)}
	q := delivery.NewQueue(r, 1, 2, nil)
	if err := q.Send(numbered(0)); err != nil { // taken by the worker, which blocks
		t.Fatal(err)
	}
	<-r.started
	for i := 1; i <= 2; i++ { // fill the queue
		if err := q.Send(numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() != 2 {
		t.Errorf("Len = %d, want 2", q.Len())
	}
	err := q.Send(numbered(3))
	if vakt.CodeOf(err) != vakt.CodeInternal || vakt.As(err).Message != "delivery queue is full" {
		t.Errorf("Send on a full queue: %v", err)
	}
	close(r.gate)
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.messages()); n != 3 {
		t.Errorf("%d delivered, want 3", n)
	}
}

func TestQueueReportsFailures(t *testing.T) {
	boom := errors.New("provider down")
	r := &recorder{fail: func(m delivery.Message) error {
		if m.ChallengeID == "2" {
			return boom
		}
		if m.ChallengeID == "3" {
			panic("deliverer bug")
		}
		return nil
	}}
	var mu sync.Mutex
	failures := map[string]error{}
	q := delivery.NewQueue(r, 2, 10, func(m delivery.Message, err error) {
		mu.Lock()
		failures[m.ChallengeID] = err
		mu.Unlock()
	})
	for i := range 5 {
		if err := q.Send(numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(failures) != 2 || !errors.Is(failures["2"], boom) || vakt.CodeOf(failures["3"]) != vakt.CodeInternal {
		t.Errorf("failures = %v", failures)
	}
	if n := len(r.messages()); n != 3 {
		t.Errorf("%d delivered, want 3", n)
	}
}

func TestQueueCloseDeadline(t *testing.T) {
	r := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 10)} // never opened
	var mu sync.Mutex
	var failed []error
	allFailed := make(chan struct{})
	q := delivery.NewQueue(r, 1, 10, func(m delivery.Message, err error) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, err)
		if len(failed) == 4 {
			close(allFailed)
		}
	})
	for i := range 4 {
		if err := q.Send(numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	<-r.started
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := q.Close(ctx)
	if vakt.CodeOf(err) != vakt.CodeInternal || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close past its deadline: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	// The one in flight is cancelled and the three queued are reported
	// without being tried.
	select {
	case <-allFailed:
	case <-time.After(5 * time.Second):
		t.Fatal("not every message was reported")
	}
	if n := len(r.messages()); n != 0 {
		t.Errorf("%d delivered, want 0", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, err := range failed {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("failure %v is not context.Canceled", err)
		}
	}
}

// Send racing Close must neither panic (send on a closed channel) nor lose
// an accepted message.
func TestQueueSendDuringClose(t *testing.T) {
	for range 20 {
		r := &recorder{}
		q := delivery.NewQueue(r, 2, 64, nil)
		var accepted atomic.Int32
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					if q.Send(numbered(g*100+i)) == nil {
						accepted.Add(1)
					}
				}
			})
		}
		time.Sleep(time.Millisecond / 2)
		if err := q.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if got := int32(len(r.messages())); got != accepted.Load() {
			t.Fatalf("%d delivered, %d accepted", got, accepted.Load())
		}
	}
}

func TestQueueIsADeliverer(t *testing.T) {
	r := &recorder{}
	var d delivery.Deliverer = delivery.NewQueue(r, 0, 0, nil) // defaults
	ctx, cancel := context.WithCancel(t.Context())
	if err := d.Deliver(ctx, smsMessage()); err != nil {
		t.Fatal(err)
	}
	cancel() // the request is over; the message is still sent
	if err := d.(*delivery.Queue).Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.messages()); n != 1 {
		t.Errorf("%d delivered, want 1", n)
	}
}

// The queue in front of a webhook, end to end.
func TestQueueWebhook(t *testing.T) {
	p, srv := newProvider(t, 503, 200)
	q := delivery.NewQueue(webhook(srv.URL), 2, 16, func(m delivery.Message, err error) { t.Errorf("%v: %v", m, err) })
	if err := q.Send(smsMessage()); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(p.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}
