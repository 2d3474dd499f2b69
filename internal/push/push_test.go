package push_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/natsserver"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
	"github.com/vaktmfa/vakt/internal/push"
)

// otherConn is a second client of the embedded server, as another process
// (the API server that publishes, a device's listener) would be.
func otherConn(t *testing.T, n *natsserver.NATS) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(nats.DefaultURL, nats.InProcessServer(n.Server))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func notice(auth, challenge string) push.Notice {
	return push.Notice{PushNotice: engine.PushNotice{
		AuthenticatorID: auth,
		ChallengeID:     challenge,
		App:             "web",
		Choices:         []int{17, 42, 86},
		Context:         events.Context{Application: "Canvas", IP: "192.0.2.7", Location: "Oslo, Norway", UserAgent: "Firefox on Linux"},
		ExpiresAt:       time.Date(2026, 11, 23, 9, 2, 0, 0, time.UTC),
	}}
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the channel closed", what)
		}
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: nothing in 5s", what)
	}
	panic("unreachable")
}

func quiet[T any](t *testing.T, ch <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case v, ok := <-ch:
		if ok {
			t.Fatalf("%s: got %v", what, v)
		}
		t.Fatalf("%s: the channel closed", what)
	case <-time.After(d):
	}
}

func closed[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("%s: the channel did not close", what)
		}
	}
}

// settled waits until the goroutine count is back to at most want (the
// runtime and NATS may take a moment to let theirs go).
func settled(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d, want at most %d\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSubject(t *testing.T) {
	if got, want := push.Subject("uio.no", "auth-1"), "vakt.push.uio=2Eno.auth-1"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got, want := push.Subject("a*b", "x>y z"), "vakt.push.a=2Ab.x=3Ey=20z"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
}

// pusher is what the API server takes (internal/server.Pusher).
type pusher interface {
	Publish(tenant string, n push.Notice) error
	WaitPush(ctx context.Context, tenant, authenticatorID string) (<-chan push.Notice, func(), error)
	WaitUser(ctx context.Context, tenant, user string) (<-chan struct{}, func(), error)
}

var _ pusher = push.Conn{}

func TestPublishAndWait(t *testing.T) {
	n := natstest.Start(t)
	ch, stop, err := push.Conn{NC: n.Conn}.WaitPush(context.Background(), "uio.no", "auth-1")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	want := notice("auth-1", "ch-1")
	if err := push.Publish(otherConn(t, n), "uio.no", want); err != nil {
		t.Fatal(err)
	}
	got := receive(t, ch, "push")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestWaitPushIsolation(t *testing.T) {
	n := natstest.Start(t)
	ch, stop, err := push.WaitPush(context.Background(), n.Conn, "uio.no", "auth-1")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	pub := otherConn(t, n)
	// Another authenticator, another tenant whose encoded name is close,
	// a notice naming another authenticator, and things that are no notice.
	for _, c := range []struct {
		tenant string
		n      push.Notice
	}{
		{"uio.no", notice("auth-2", "ch-a")},
		{"uio_no", notice("auth-1", "ch-b")},
		{"uio", notice("auth-1", "ch-c")},
	} {
		if err := push.Publish(pub, c.tenant, c.n); err != nil {
			t.Fatal(err)
		}
	}
	subj := push.Subject("uio.no", "auth-1")
	for _, raw := range []string{`not json`, `{"authenticator_id":"auth-2","challenge_id":"x"}`, `{"authenticator_id":"auth-1"}`, `[]`} {
		if err := pub.Publish(subj, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if err := push.Publish(pub, "uio.no", notice("auth-1", "ch-mine")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, ch, "push"); got.ChallengeID != "ch-mine" {
		t.Fatalf("got the push for %q, want only ch-mine", got.ChallengeID)
	}
	quiet(t, ch, 100*time.Millisecond, "after ch-mine")
}

// A push published the moment WaitPush returns, from another connection, is
// never lost: the subscription is registered before WaitPush returns.
func TestWaitPushSubscribedBeforeReturn(t *testing.T) {
	n := natstest.Start(t)
	pub := otherConn(t, n)
	waiter := otherConn(t, n)
	for i := range 200 {
		auth := fmt.Sprintf("auth-%d", i)
		ch, stop, err := push.WaitPush(context.Background(), waiter, "uio.no", auth)
		if err != nil {
			t.Fatal(err)
		}
		if err := push.Publish(pub, "uio.no", notice(auth, "ch")); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, ch, auth); got.AuthenticatorID != auth {
			t.Fatalf("got %+v", got)
		}
		stop()
	}
}

func TestWaitPushStopCleansUp(t *testing.T) {
	n := natstest.Start(t)
	nc := otherConn(t, n)
	pub := otherConn(t, n)
	baseSubs := nc.NumSubscriptions()
	baseG := runtime.NumGoroutine()

	var stops []func()
	var chans []<-chan push.Notice
	for i := range 20 {
		ch, stop, err := push.WaitPush(context.Background(), nc, "uio.no", fmt.Sprintf("auth-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		stops, chans = append(stops, stop), append(chans, ch)
	}
	if got := nc.NumSubscriptions(); got != baseSubs+20 {
		t.Fatalf("subscriptions while waiting: %d, want %d", got, baseSubs+20)
	}
	for i, stop := range stops {
		stop()
		stop() // twice is fine
		closed(t, chans[i], "after stop")
	}
	if got := nc.NumSubscriptions(); got != baseSubs {
		t.Fatalf("subscriptions after stop: %d, want %d", got, baseSubs)
	}
	settled(t, baseG)

	// The context ending does the same, and a later stop is harmless.
	ctx, cancel := context.WithCancel(context.Background())
	ch, stop, err := push.WaitPush(ctx, nc, "uio.no", "auth-x")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	closed(t, ch, "after cancel")
	stop()
	if got := nc.NumSubscriptions(); got != baseSubs {
		t.Fatalf("subscriptions after cancel: %d, want %d", got, baseSubs)
	}
	settled(t, baseG)

	// Stopping while pushes are being delivered neither panics nor leaks.
	for range 20 {
		ch, stop, err := push.WaitPush(context.Background(), nc, "uio.no", "busy")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for range 100 {
				_ = push.Publish(pub, "uio.no", notice("busy", "ch"))
			}
		})
		<-ch
		stop()
		wg.Wait()
		closed(t, ch, "after a busy stop")
	}
	if got := nc.NumSubscriptions(); got != baseSubs {
		t.Fatalf("subscriptions after busy stops: %d, want %d", got, baseSubs)
	}
	settled(t, baseG)
}

func TestBadInput(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		err  error
	}{
		{"publish without a connection", push.Publish(nil, "t", notice("a", "c"))},
		{"publish without a tenant", push.Publish(n.Conn, "", notice("a", "c"))},
		{"publish without an authenticator", push.Publish(n.Conn, "t", notice("", "c"))},
		{"publish without a challenge", push.Publish(n.Conn, "t", notice("a", ""))},
		{"publish with a control character", push.Publish(n.Conn, "t\n", notice("a", "c"))},
	} {
		if vakt.CodeOf(c.err) == "" || c.err == nil {
			t.Errorf("%s: err = %v", c.name, c.err)
		}
	}
	if _, _, err := push.WaitPush(ctx, n.Conn, "t", ""); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("WaitPush without an authenticator: %v", err)
	}
	if _, _, err := push.WaitPush(ctx, nil, "t", "a"); err == nil {
		t.Errorf("WaitPush without a connection: no error")
	}
	if _, _, err := push.WaitUser(ctx, n.Conn, "t", ""); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("WaitUser without a user: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := push.WaitPush(cancelled, n.Conn, "t", "a"); err == nil {
		t.Errorf("WaitPush with a cancelled context: no error")
	}
	if got := n.Conn.NumSubscriptions(); got != 0 {
		t.Errorf("subscriptions left by failed waits: %d", got)
	}
}

// ---- WaitUser on the real event store ----------------------------------------

type vaktEnv struct {
	n     *natsserver.NATS
	store *natsstore.Store
	svc   *engine.Service
	cmds  map[string]int
	mu    sync.Mutex
}

func newVakt(t *testing.T, opts ...natstest.Option) *vaktEnv {
	t.Helper()
	n := natstest.Start(t, opts...)
	store, err := natsstore.Open(context.Background(), n.JetStream, natsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &vaktEnv{n: n, store: store, svc: &engine.Service{Store: store, Keys: &engine.MemoryKeyring{}}, cmds: map[string]int{}}
}

func (v *vaktEnv) exec(t testing.TB, user string, cmd engine.Command) engine.Reply {
	t.Helper()
	v.mu.Lock()
	v.cmds[user]++
	id := fmt.Sprintf("cmd-%d", v.cmds[user])
	v.mu.Unlock()
	res, err := v.svc.Execute(context.Background(), engine.Request{Tenant: "uio.no", User: user, Command: cmd, ID: id, Actor: "user"})
	if err != nil {
		t.Errorf("%s %s: %v", user, cmd.CommandType(), err)
	}
	return res.Reply
}

// churn adds and removes an authenticator: two appends.
func (v *vaktEnv) churn(t testing.TB, user string) {
	r := v.exec(t, user, engine.StartEnrolment{Method: events.MethodTOTP, Label: "Phone"})
	v.exec(t, user, engine.RemoveAuthenticator{AuthenticatorID: r.AuthenticatorID})
}

func (v *vaktEnv) count(t testing.TB, user string) int {
	t.Helper()
	recs, err := v.store.Load(context.Background(), events.Stream{Tenant: "uio.no", User: user}, events.Head{})
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func TestWaitUserWakesOnItsUsersAppends(t *testing.T) {
	v := newVakt(t)
	ctx := context.Background()
	v.exec(t, "ola", engine.StartEnrolment{Method: events.MethodTOTP, Label: "Phone"})
	ch, stop, err := push.WaitUser(ctx, v.n.Conn, "uio.no", "ola")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	quiet(t, ch, 50*time.Millisecond, "before any append")

	// Another user's appends, including one whose id shares a prefix.
	v.exec(t, "kari", engine.StartEnrolment{Method: events.MethodTOTP, Label: "Phone"})
	v.exec(t, "ola.nordmann", engine.StartEnrolment{Method: events.MethodTOTP, Label: "Phone"})
	quiet(t, ch, 300*time.Millisecond, "after other users' appends")

	// Ola's append wakes, and the new event is there to read.
	v.exec(t, "ola", engine.StartEnrolment{Method: events.MethodTOTP, Label: "Tablet"})
	receive(t, ch, "ola's append")
	u, err := v.svc.User(ctx, "uio.no", "ola")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Authenticators) != 2 {
		t.Fatalf("after the signal Ola has %d authenticators, want 2", len(u.Authenticators))
	}
	quiet(t, ch, 100*time.Millisecond, "after the one signal")
}

// TestWaitUserSignalsOnlyStoredEvents drives many users through the group
// committer with fsync on (so appends go out as atomic batches that take a
// while to store) and follows one of them the way a long poll does: wait,
// read, wait again. The follower must see every event without a timeout:
// had it been woken by a message before the event was stored, it would have
// read the old state and then waited for a signal that never came.
func TestWaitUserSignalsOnlyStoredEvents(t *testing.T) {
	v := newVakt(t, natstest.Durable())
	const rounds = 30 // each two appends
	ctx := context.Background()
	v.exec(t, "watched", engine.StartEnrolment{Method: events.MethodTOTP, Label: "First"})
	// Settle is cut short so that the polling that catches appends under way
	// at the start cannot hide an early signal later on.
	ch, stop, err := push.UserWaiter{Settle: time.Millisecond}.Wait(ctx, v.n.Conn, "uio.no", "watched")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	want := 1 + 2*rounds

	var wg sync.WaitGroup
	for w := range 20 {
		wg.Go(func() {
			for range rounds {
				v.churn(t, fmt.Sprintf("other-%d", w))
			}
		})
	}
	wg.Go(func() {
		for range rounds {
			v.churn(t, "watched")
		}
	})

	seen, wakes, stale := v.count(t, "watched"), 0, 0
	for seen < want {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("waited 10s with %d of %d events read after %d signals (%d of them early)", seen, want, wakes, stale)
		}
		wakes++
		now := v.count(t, "watched")
		if now <= seen {
			stale++
		}
		seen = now
	}
	wg.Wait()
	t.Logf("%d events read after %d signals, %d of which brought nothing new", seen, wakes, stale)
}

// An append that went out before the wait began but is stored after the
// caller's read sends no message the waiter can see; the waiter finds it by
// looking for a while after it starts. And one seen on the subject is not
// signalled until it is stored.
func TestWaitUserAppendUnderWay(t *testing.T) {
	v := newVakt(t)
	ctx := context.Background()
	js, err := jetstream.New(otherConn(t, v.n))
	if err != nil {
		t.Fatal(err)
	}
	subj := func(user string) string { return natsstore.Subject(events.Stream{Tenant: "uio.no", User: user}) }
	noFlow := jetstreamext.BatchFlowControl{AckFirst: false}

	// Under way before the wait: staged, committed after the read.
	b, err := jetstreamext.NewBatchPublisher(js, noFlow)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(subj("ola"), []byte("one")); err != nil {
		t.Fatal(err)
	}
	ch, stop, err := push.WaitUser(ctx, v.n.Conn, "uio.no", "ola")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if got := v.count(t, "ola"); got != 0 {
		t.Fatalf("ola has %d events before the commit", got)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := b.Commit(ctx, subj("someone-else"), []byte("commit")); err != nil {
		t.Fatal(err)
	}
	receive(t, ch, "the append under way")

	// Seen on the subject, stored only at the commit.
	b, err = jetstreamext.NewBatchPublisher(js, noFlow)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(subj("ola"), []byte("two")); err != nil {
		t.Fatal(err)
	}
	quiet(t, ch, 300*time.Millisecond, "a staged message")
	if _, err := b.Commit(ctx, subj("someone-else"), []byte("commit")); err != nil {
		t.Fatal(err)
	}
	receive(t, ch, "the committed batch")
}

func TestWaitUserStopCleansUp(t *testing.T) {
	v := newVakt(t)
	nc := otherConn(t, v.n)
	// The first request makes the connection's shared reply subscription.
	if _, err := nc.Request("$JS.API.INFO", nil, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	baseSubs := nc.NumSubscriptions()
	baseG := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	var stops []func()
	var chans []<-chan struct{}
	for i := range 10 {
		c := ctx
		if i%2 == 0 {
			c = context.Background()
		}
		ch, stop, err := push.WaitUser(c, nc, "uio.no", fmt.Sprintf("user-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		stops, chans = append(stops, stop), append(chans, ch)
	}
	v.churn(t, "user-3")
	receive(t, chans[3], "user-3")
	if got := nc.NumSubscriptions(); got != baseSubs+10 {
		t.Fatalf("subscriptions while waiting: %d, want %d", got, baseSubs+10)
	}
	cancel() // ends the odd ones
	for i := 1; i < 10; i += 2 {
		closed(t, chans[i], "after cancel")
	}
	for i, stop := range stops {
		stop()
		closed(t, chans[i], "after stop")
	}
	if got := nc.NumSubscriptions(); got != baseSubs {
		t.Fatalf("subscriptions after stop: %d, want %d", got, baseSubs)
	}
	settled(t, baseG)
}

// The device's signature has nothing to do with WaitPush, but a push that a
// real challenge produces goes through Publish and WaitPush unchanged.
func TestPushOfARealChallenge(t *testing.T) {
	v := newVakt(t)
	r := v.exec(t, "ola", engine.StartEnrolment{Method: events.MethodPush, Label: "Terminal"})
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := engine.EnrolmentMessage("uio.no", "ola", r.AuthenticatorID, r.Activation.Reveal(), pub, false)
	v.exec(t, "ola", engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, PublicKey: pub, Signature: ed25519.Sign(priv, msg)})

	ch, stop, err := push.WaitPush(context.Background(), otherConn(t, v.n), "uio.no", r.AuthenticatorID)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c := v.exec(t, "ola", engine.IssueChallenge{App: "web", Context: events.Context{IP: "192.0.2.1"}})
	if c.Push == nil {
		t.Fatalf("the challenge sent no push: %+v", c)
	}
	sent := push.Notice{PushNotice: *c.Push, RespondID: c.ChallengeID + "~b2xh"}
	if err := push.Publish(v.n.Conn, "uio.no", sent); err != nil {
		t.Fatal(err)
	}
	got := receive(t, ch, "the challenge's push")
	if !reflect.DeepEqual(got, sent) {
		t.Errorf("got %+v, want %+v", got, sent)
	}
}
