// Package apptest is test support for the tests that run Vakt whole: the
// app that `vakt serve` runs, served over real HTTP on an embedded NATS
// server with JetStream in a temporary directory (Serve), a clock the test
// moves (Clock), a delivery sink that records the codes sent by SMS and
// e-mail (Outbox), and the small pieces around them.
//
// It is imported only from _test.go files (the scenario tests of cmd/vakt,
// the browser tests of internal/web, the OpenAPI tests of internal/app), so
// its use of package testing never reaches a binary.
package apptest

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt/internal/app"
	"github.com/vaktmfa/vakt/internal/delivery"
)

// Clock is the server's clock in a test. It follows the real clock (push
// devices sign with it), moved ahead by Advance. The zero Clock is ready.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the clock's time; it is app.Config's Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock ahead by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Recorder keeps the values something receives, in order, for a test to
// wait for. The zero Recorder is ready; it is safe for concurrent use.
type Recorder[T any] struct {
	mu    sync.Mutex
	items []T
	added chan struct{} // closed (and dropped) by the next Add
}

// Add records v and wakes those waiting.
func (r *Recorder[T]) Add(v T) {
	r.mu.Lock()
	r.items = append(r.items, v)
	if r.added != nil {
		close(r.added)
		r.added = nil
	}
	r.mu.Unlock()
}

// Wait returns the n-th value recorded (counting from 1), waiting for it
// for up to within; ok is false if it was not recorded by then.
func (r *Recorder[T]) Wait(n int, within time.Duration) (v T, ok bool) {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if len(r.items) >= n {
			v = r.items[n-1]
			r.mu.Unlock()
			return v, true
		}
		if r.added == nil {
			r.added = make(chan struct{})
		}
		added := r.added
		r.mu.Unlock()
		select {
		case <-added:
		case <-deadline.C:
			return v, false
		}
	}
}

// Outbox is a delivery.Deliverer that records the codes the server sends.
// The zero Outbox is ready.
type Outbox struct {
	Recorder[delivery.Message]
}

// Deliver records m.
func (o *Outbox) Deliver(_ context.Context, m delivery.Message) error {
	o.Add(m)
	return nil
}

// Nth waits for the n-th message (counting from 1) and returns it; it fails
// the test if none came in 10 s.
func (o *Outbox) Nth(t testing.TB, n int) delivery.Message {
	t.Helper()
	m, ok := o.Wait(n, 10*time.Second)
	if !ok {
		t.Fatalf("no code number %d was delivered in 10s", n)
	}
	return m
}

// SyncBuffer is a bytes.Buffer safe to read while others write it (the
// server's log, a command's output).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TOTP is the code of a TOTP secret at a time with the default policy:
// SHA-1, 6 digits and 30-second steps. Spaces in secret (the pages show it
// in groups) are ignored.
func TOTP(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(strings.ReplaceAll(secret, " ", ""), at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Serve opens the app and serves it over HTTP on a new port of 127.0.0.1
// until the test ends; then it stops serving and closes the app, and fails
// the test if either goes wrong. It returns the app and its address
// ("http://127.0.0.1:port").
//
// The configuration is cfg with PublicURL set to that address, then changed
// by opts. VAKT_API_KEY is unset for the test, so that a new data directory
// makes its own admin key (the app's AdminKey).
func Serve(t testing.TB, cfg app.Config, opts ...func(*app.Config)) (*app.App, string) {
	t.Helper()
	t.Setenv("VAKT_API_KEY", "")
	os.Unsetenv("VAKT_API_KEY")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	cfg.PublicURL = url
	for _, o := range opts {
		o(&cfg)
	}
	a, err := app.Open(context.Background(), cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := a.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return a, url
}
