package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/internal/apikeys"
	vaktapp "github.com/vaktmfa/vakt/internal/app"
)

// The bench runs end to end against an in-process server: users are
// enrolled, sign-ins succeed, and the report adds up. How fast it is is for
// BENCHMARKS.md, not for a test.
func TestBenchInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs load for a second")
	}
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--duration", "1s", "--warmup", "0s", "--users", "8", "--concurrency", "4", "--no-sync", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s\nstdout:\n%s", code, errb.String(), out.String())
	}
	var r benchResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("the JSON result does not parse: %v\n%s", err, out.String())
	}
	if r.Server != "in-process" || r.Durable == nil || *r.Durable {
		t.Errorf("server %q, durable %v; want in-process and not durable (--no-sync)", r.Server, r.Durable)
	}
	if r.Setup.Users != 8 || r.Users != 8 || r.Concurrency != 4 {
		t.Errorf("setup users %d, users %d, concurrency %d; want 8, 8, 4", r.Setup.Users, r.Users, r.Concurrency)
	}
	if r.SignIns <= 0 || r.Rate <= 0 {
		t.Errorf("sign-ins %d at %.1f/s; want some", r.SignIns, r.Rate)
	}
	if r.Errors != 0 || r.WarmupErrors != 0 {
		t.Errorf("errors %d (warm-up %d): %v %v", r.Errors, r.WarmupErrors, r.ErrorKinds, r.ErrorSample)
	}
	for name, p := range map[string]benchPercentiles{"sign_in": r.Latency.SignIn, "challenge": r.Latency.Challenge, "verify": r.Latency.Verify} {
		if p.N != r.SignIns {
			t.Errorf("%s: %d samples, want one per sign-in (%d)", name, p.N, r.SignIns)
		}
		if !(0 < p.P50 && p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.P999 && p.P999 <= p.Max) {
			t.Errorf("%s: percentiles out of order: %+v", name, p)
		}
	}
	if s := r.Latency.SignIn; s.Max < r.Latency.Challenge.Max || s.Max < r.Latency.Verify.Max {
		t.Errorf("the slowest sign-in (%.3f ms) is faster than one of its calls (%.3f, %.3f ms)", s.Max, r.Latency.Challenge.Max, r.Latency.Verify.Max)
	}
	if r.Target.Rate != benchTargetRate || r.Target.Met {
		t.Errorf("target %+v: a run without fsync never meets it", r.Target)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--users", "2", "--concurrency", "4"}, "--users"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--url", "http://127.0.0.1:1", "--data", "x", "--key", "k"}, "--data"},
		{[]string{"--url", "ftp://x", "--key", "k"}, "--url"},
		{[]string{"--key", "k"}, "--key"},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"bench"}, tc.args...), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("bench %v: exit %d, stderr %q; want 2 naming %s", tc.args, code, errb.String(), tc.want)
		}
	}
}

// A run that has errors exits 1: nothing answers at this URL.
func TestBenchUnreachable(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--url", "http://127.0.0.1:1", "--key", "k", "--users", "1", "--concurrency", "1", "--json"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "set up user") {
		t.Errorf("exit %d, stderr %q; want 1 and the setup failure", code, errb.String())
	}
}

// With --url the bench loads a server that is already running, with the key
// from $VAKT_API_KEY.
func TestBenchURL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs load for a second")
	}
	t.Setenv(apikeys.EnvVar, "bench-test-admin-key-0123456789abcdef")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pub := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := vaktapp.Open(ctx, vaktapp.Config{DataDir: t.TempDir(), PublicURL: pub, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-served
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		a.Close(cctx)
	})

	var out, errb bytes.Buffer
	code := run([]string{"bench", "--url", pub + "/", "--tenant", "other.example", "--duration", "500ms", "--warmup", "100ms", "--users", "3", "--concurrency", "2"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s\nstdout:\n%s", code, errb.String(), out.String())
	}
	for _, want := range []string{pub + " (durability as that server is configured)", "3 users in other.example", ", 0 errors", "sign-in ", "  verify ", "\ntarget: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}

	// A wrong key fails in the setup.
	out.Reset()
	errb.Reset()
	code = run([]string{"bench", "--url", pub, "--key", "wrong", "--users", "1", "--concurrency", "1"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "401 unauthorized") {
		t.Errorf("wrong key: exit %d, stderr %q; want 1 and unauthorized", code, errb.String())
	}
}

func TestPercentiles(t *testing.T) {
	d := make([]time.Duration, 1000)
	for i := range d {
		d[len(d)-1-i] = time.Duration(i+1) * time.Millisecond // 1..1000 ms, reversed
	}
	got := percentiles(d)
	want := benchPercentiles{N: 1000, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if got != want {
		t.Errorf("percentiles of 1..1000 ms = %+v, want %+v (nearest rank)", got, want)
	}
	if got := percentiles(nil); got != (benchPercentiles{}) {
		t.Errorf("percentiles of nothing = %+v, want zeros", got)
	}
}
