package wazerohost_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/vaktmfa/vakt"
	wazerohost "github.com/vaktmfa/vakt/hosts/wazero"
)

// errorCode returns the code of an {"error": ...} answer ("" for ok).
func errorCode(t *testing.T, answer []byte) string {
	t.Helper()
	var a struct {
		OK    json.RawMessage `json:"ok"`
		Error *vakt.Error     `json:"error"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, answer)
	}
	if a.Error == nil {
		return ""
	}
	if a.Error.Message == "" {
		t.Fatalf("error without a message: %s", answer)
	}
	return string(a.Error.Code)
}

// usable checks that the host still answers a good request.
func usable(t *testing.T, h *wazerohost.Host) {
	t.Helper()
	answer, err := h.Call(context.Background(), []byte(`{"op":"info"}`))
	if err != nil {
		t.Fatalf("the host is not usable: %v", err)
	}
	if !bytes.HasPrefix(answer, []byte(`{"ok":{"abi":1,`)) {
		t.Fatalf("info = %s", answer)
	}
}

func TestBadRequestsAreData(t *testing.T) {
	h := open(t, wazerohost.Config{Instances: 1})
	for _, c := range []struct{ name, req, code, msg string }{
		{"not JSON", `{"op":`, "invalid_argument", "not a valid ABI request"},
		{"not an object", `[1,2]`, "invalid_argument", "not a valid ABI request"},
		{"empty", ``, "invalid_argument", "not a valid ABI request"},
		{"unknown op", `{"op":"launch"}`, "invalid_argument", `unknown op`},
		{"no op", `{}`, "invalid_argument", "no op"},
		{"unknown key", `{"op":"info","admin":true}`, "invalid_argument", "unknown field"},
		{"trailing data", `{"op":"info"} {}`, "invalid_argument", "unexpected data"},
		{"decide without a stream", `{"op":"decide","command":{"expire":{}}}`, "invalid_argument", "tenant and user are required"},
		{"bad time", `{"op":"decide","tenant":"t","user":"u","time":"yesterday","entropy":"00","command":{"expire":{}}}`, "invalid_argument", "time"},
		{"bad entropy", `{"op":"decide","tenant":"t","user":"u","time":"2026-11-23T09:00:00Z","entropy":"xyz","command":{"expire":{}}}`, "invalid_argument", "entropy"},
		{"bad envelope", `{"op":"decide","tenant":"t","user":"u","given":[{"id":1}],"time":"2026-11-23T09:00:00Z","entropy":"00","command":{"expire":{}}}`, "invalid_argument", "given[0]"},
		{"state not held", `{"op":"decide","tenant":"t","user":"u","after":{"seq":3,"hash":"0000000000000000000000000000000000000000000000000000000000000000"},"time":"2026-11-23T09:00:00Z","entropy":"00","command":{"expire":{}}}`, "state_unknown", "send the request again"},
		{"unknown model", `{"op":"project","model":"gossip","events":[]}`, "invalid_argument", "unknown model"},
		{"bench out of range", `{"op":"bench_hmac","n":0}`, "invalid_argument", "n must be"},
		{"edge without config", `{"op":"edge_check","time":"2026-11-23T09:00:00Z","request":{"method":"GET","uri":"/"}}`, "invalid_argument", "config is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			answer, err := h.Call(context.Background(), []byte(c.req))
			if err != nil {
				t.Fatal(err)
			}
			if got := errorCode(t, answer); got != c.code || !strings.Contains(string(answer), c.msg) {
				t.Fatalf("answer %s, want code %s with %q", answer, c.code, c.msg)
			}
			usable(t, h)
		})
	}
}

func TestTruncatedAndForeignBuffers(t *testing.T) {
	h := open(t, wazerohost.Config{Instances: 1})
	req := []byte(`{"op":"info"}`)
	// A declared length shorter than the request: the module sees a
	// truncated request, which is not JSON.
	answer, err := h.CallRaw(context.Background(), req, uint32(len(req)-3))
	if err != nil {
		t.Fatal(err)
	}
	if errorCode(t, answer) != "invalid_argument" {
		t.Fatalf("truncated: %s", answer)
	}
	// A declared length past the end of the buffer vakt_alloc handed out.
	answer, err = h.CallRaw(context.Background(), req, uint32(len(req)+100))
	if err != nil {
		t.Fatal(err)
	}
	if errorCode(t, answer) != "invalid_argument" || !strings.Contains(string(answer), "past the end") {
		t.Fatalf("overlong: %s", answer)
	}
	usable(t, h)
}

func TestOversizedRequest(t *testing.T) {
	h := open(t, wazerohost.Config{Instances: 1})
	big := make([]byte, wazerohost.MaxRequest+1)
	if _, err := h.Call(context.Background(), big); !errors.Is(err, wazerohost.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	// Exactly at the limit: the module reads it and answers (not JSON).
	big = bytes.Repeat([]byte(" "), wazerohost.MaxRequest)
	answer, err := h.Call(context.Background(), big)
	if err != nil {
		t.Fatal(err)
	}
	if errorCode(t, answer) != "invalid_argument" {
		t.Fatalf("answer %s", answer)
	}
	usable(t, h)
}

func TestOtherABIVersionIsRefused(t *testing.T) {
	mod := module(t)
	// The same module with vakt_abi_version answering 2: patch the
	// function's body (i32.const 1 -> 2) is fragile, so build a tiny
	// module by hand with the five exports instead.
	_, err := wazerohost.Open(context.Background(), fakeModule(2), wazerohost.Config{})
	var verr *wazerohost.ABIVersionError
	if !errors.Is(err, wazerohost.ErrABIVersion) || !errors.As(err, &verr) || verr.Got != 2 {
		t.Fatalf("err = %v, want ErrABIVersion for version 2", err)
	}
	if _, err := wazerohost.Open(context.Background(), []byte("not wasm"), wazerohost.Config{}); !errors.Is(err, wazerohost.ErrNotModule) {
		t.Fatalf("err = %v, want ErrNotModule", err)
	}
	if _, err := wazerohost.Open(context.Background(), fakeModule(1), wazerohost.Config{}); err != nil {
		t.Fatalf("a version 1 module: %v", err)
	}
	_ = mod
}

// fakeModule is a minimal module with the ABI's exports whose
// vakt_abi_version returns version.
func fakeModule(version byte) []byte {
	// (module
	//   (memory (export "memory") 1)
	//   (func (export "_initialize"))
	//   (func (export "vakt_abi_version") (result i32) i32.const V)
	//   (func (export "vakt_alloc") (param i32) (result i32) i32.const 0)
	//   (func (export "vakt_free") (param i32))
	//   (func (export "vakt_call") (param i32 i32) (result i64) i64.const 0))
	b := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	section := func(id byte, body ...byte) { b = append(append(b, id, byte(len(body))), body...) }
	section(1, 5, // types
		0x60, 0, 0, // () -> ()
		0x60, 0, 1, 0x7f, // () -> i32
		0x60, 1, 0x7f, 1, 0x7f, // i32 -> i32
		0x60, 1, 0x7f, 0, // i32 -> ()
		0x60, 2, 0x7f, 0x7f, 1, 0x7e) // i32 i32 -> i64
	section(3, 5, 0, 1, 2, 3, 4)
	section(5, 1, 0, 1)
	name := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	exp := []byte{6}
	exp = append(append(exp, name("memory")...), 2, 0)
	for i, n := range []string{"_initialize", "vakt_abi_version", "vakt_alloc", "vakt_free", "vakt_call"} {
		exp = append(append(exp, name(n)...), 0, byte(i))
	}
	section(7, exp...)
	section(10, 5,
		2, 0, 0x0b,
		4, 0, 0x41, version, 0x0b,
		4, 0, 0x41, 0, 0x0b,
		2, 0, 0x0b,
		4, 0, 0x42, 0, 0x0b)
	return b
}

func TestTrapDiscardsTheInstance(t *testing.T) {
	// A memory limit too small for a large request: the Go runtime in the
	// guest runs out of memory and traps. The host discards that instance,
	// answers ErrTrapped, and the next call runs on a fresh one.
	h := open(t, wazerohost.Config{Instances: 1, MemoryLimitPages: 160})
	usable(t, h)
	big := []byte(`{"op":"info","tenant":"` + strings.Repeat("x", 3<<20) + `"}`)
	_, err := h.Call(context.Background(), big)
	if !errors.Is(err, wazerohost.ErrTrapped) {
		t.Fatalf("err = %v, want ErrTrapped", err)
	}
	usable(t, h)
	usable(t, h)
}

func TestContextCancellation(t *testing.T) {
	h := open(t, wazerohost.Config{Instances: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Call(ctx, []byte(`{"op":"info"}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// A call that runs long is abandoned when its context ends.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Call(ctx, []byte(`{"op":"bench_ed25519","n":1000000}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	usable(t, h)
}

// Without interrupt checks the guest cannot be stopped, but its caller is
// still answered when its context ends: the call goes on in the background
// and its instance is then replaced.
func TestContextCancellationNoInterrupt(t *testing.T) {
	h := open(t, wazerohost.Config{Instances: 1, NoInterrupt: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Call(ctx, []byte(`{"op":"info"}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// 500 Ed25519 verifications take most of a second or more in the guest: had the caller
	// waited for them, it would have had the answer, not the deadline.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if out, err := h.Call(ctx, []byte(`{"op":"bench_ed25519","n":500}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call = %.100s, %v; want context.DeadlineExceeded", out, err)
	}
	usable(t, h) // waits for the abandoned call to end, then a fresh instance
	usable(t, h)
}

func TestClosed(t *testing.T) {
	h, err := wazerohost.Open(context.Background(), module(t), wazerohost.Config{Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	h.Close(context.Background())
	if _, err := h.Call(context.Background(), []byte(`{"op":"info"}`)); !errors.Is(err, wazerohost.ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

func TestCompilationCacheOnDisk(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		h := open(t, wazerohost.Config{CacheDir: dir, Instances: 1})
		usable(t, h)
		h.Close(context.Background())
	}
	c, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	c.Close(context.Background())
}

// TestFloorModule checks what the floor benchmarks rely on: the floor
// module (wasm/floor) passes Open's ABI check and answers any request with
// {"ok":{}}, and a buffer it did not hand out with an error answer.
func TestFloorModule(t *testing.T) {
	h := openModule(t, floorModule(t), wazerohost.Config{Instances: 1})
	ctx := context.Background()
	for _, req := range []string{`{"op":"info"}`, `not json`, strings.Repeat("x", 10000)} {
		out, err := h.Call(ctx, []byte(req))
		if err != nil || string(out) != `{"ok":{}}` {
			t.Fatalf("Call(%.20q) = %s, %v", req, out, err)
		}
	}
	out, err := h.CallRaw(ctx, []byte("abc"), 100)
	if err != nil || errorCode(t, out) != "invalid_argument" {
		t.Fatalf("CallRaw past the buffer = %s, %v", out, err)
	}
}

// TestHammer runs many goroutines against small pools, with and without
// interrupt checks, some of them giving up mid-call. Every answer must be
// its own request's (an instance still running an abandoned call must not
// serve anyone), and afterwards every slot of the pool must be back: as
// many calls as there are instances run at once and all finish.
func TestHammer(t *testing.T) {
	for _, noInterrupt := range []bool{false, true} {
		t.Run(map[bool]string{false: "interrupt", true: "nointerrupt"}[noInterrupt], func(t *testing.T) {
			const instances = 3
			h := open(t, wazerohost.Config{Instances: instances, NoInterrupt: noInterrupt})
			// A slot that never comes back shows as calls that wait for a
			// minute, not as a test that hangs.
			long, cancelLong := context.WithTimeout(context.Background(), time.Minute)
			defer cancelLong()
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 15 {
						switch (g + i) % 3 {
						case 0: // an answer that names its request
							n := g*100 + i + 1
							out, err := h.Call(long, []byte(`{"op":"bench_hmac","n":`+strconv.Itoa(n)+`}`))
							if err != nil || string(out) != `{"ok":{"n":`+strconv.Itoa(n)+`}}` {
								errs <- fmt.Errorf("bench_hmac n=%d: %s, %v", n, out, err)
								return
							}
						case 1: // given up mid-call: an error, never an answer of another's
							ctx, cancel := context.WithTimeout(long, time.Millisecond)
							out, err := h.Call(ctx, []byte(`{"op":"bench_ed25519","n":40}`))
							cancel()
							if err == nil && string(out) != `{"ok":{"n":40}}` {
								errs <- fmt.Errorf("bench_ed25519: %s", out)
								return
							}
						default:
							if out, err := h.Call(long, []byte(`{"op":"info"}`)); err != nil || !bytes.HasPrefix(out, []byte(`{"ok":{"abi":1,`)) {
								errs <- fmt.Errorf("info: %.80s, %v", out, err)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			// Every slot is back: `instances` calls at once, each within a minute.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := make(chan error, instances)
			for range instances {
				go func() {
					_, err := h.Call(ctx, []byte(`{"op":"bench_hmac","n":1000}`))
					done <- err
				}()
			}
			for range instances {
				if err := <-done; err != nil {
					t.Fatalf("a slot of the pool did not come back: %v", err)
				}
			}
		})
	}
}
