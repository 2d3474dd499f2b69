package wazerohost_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/engine/enginetest"
	"github.com/vaktmfa/vakt/events"
	wazerohost "github.com/vaktmfa/vakt/hosts/wazero"
	"github.com/vaktmfa/vakt/internal/wasmcore"
	"github.com/vaktmfa/vakt/projections"
)

// The benchmarks measure native and WASM in the same run on the same
// inputs (decision vectors), so that the ratios in BENCHMARKS.md are
// computed from one run:
//
//	go test -run '^$' -bench . -count 5 ./hosts/wazero
//
// Decide/<case>/native        engine.Decide on the folded state (no JSON)
// Decide/<case>/native-abi    the module's request handler run natively (JSON in and out)
// Decide/<case>/wasm-cached   through wazero, the state kept in the instance (what serve does)
// Decide/<case>/wasm-full     through wazero, the vector request with every given event
// .../wasm-nointerrupt         the same with Config.NoInterrupt (no checks for cancellation mid-call)
// Floor/HMAC|Ed25519/...      the raw crypto floor natively and inside the module
// Start/<what>/core|floor     start-up of the core module and of the floor module (wasm/floor)
// Call/floor...               one call into the floor module: the fixed cost of any call

func loadVector(b testing.TB, name string) *enginetest.Vector {
	vs, err := enginetest.Load(filepath.Join(vectorDir, filepath.Dir(name)))
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range vs {
		if v.Name == name {
			return v
		}
	}
	b.Fatalf("no vector %s", name)
	return nil
}

var benchCases = []struct{ name, vector string }{
	{"VerifyTOTP", "verify/totp"},
	{"IssueChallenge", "challenge/issue-totp"},
	{"RespondPush", "push/approve"},
}

func BenchmarkDecide(b *testing.B) {
	h := open(b, wazerohost.Config{Instances: 1})
	fast := open(b, wazerohost.Config{Instances: 1, NoInterrupt: true})
	ctx := context.Background()
	for _, c := range benchCases {
		v := loadVector(b, c.vector)
		full := decideRequest(b, v)
		b.Run(c.name+"/native", func(b *testing.B) {
			u, err := engine.Fold(v.Tenant, v.User, given(b, v))
			if err != nil {
				b.Fatal(err)
			}
			cmd, err := engine.DecodeCommand(v.When.Command)
			if err != nil {
				b.Fatal(err)
			}
			seed, _ := hex.DecodeString(v.When.Entropy)
			raw, _ := hex.DecodeString(v.DataKey)
			key, _ := engine.NewDataKey(raw)
			b.ResetTimer()
			for b.Loop() {
				if _, err := engine.Decide(u, cmd, engine.Env{Now: v.When.Time, Rand: engine.SeededRand(seed), Policy: v.Policy, DataKey: key}); err != nil {
					b.Fatal(err)
				}
			}
		})
		cached := cachedRequest(b, v, func(req []byte) []byte {
			out, err := h.Call(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			return out
		})
		cachedRequest(b, v, func(req []byte) []byte {
			out, err := fast.Call(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			return out
		})
		b.Run(c.name+"/native-abi", func(b *testing.B) {
			core := wasmcore.New()
			cachedRequest(b, v, core.Call)
			for b.Loop() {
				check(b, core.Call(cached))
			}
		})
		b.Run(c.name+"/wasm-cached", func(b *testing.B) { callLoop(b, h, cached) })
		b.Run(c.name+"/wasm-cached-nointerrupt", func(b *testing.B) { callLoop(b, fast, cached) })
		b.Run(c.name+"/wasm-full", func(b *testing.B) { callLoop(b, h, full) })
	}
}

// cachedRequest primes an instance with the vector's state (keep) and
// returns the request that decides on the kept state (after, no events).
func cachedRequest(b testing.TB, v *enginetest.Vector, call func([]byte) []byte) []byte {
	b.Helper()
	var req map[string]json.RawMessage // raw: the envelopes must keep their bytes
	if err := json.Unmarshal(decideRequest(b, v), &req); err != nil {
		b.Fatal(err)
	}
	req["keep"] = json.RawMessage("true")
	prime, _ := json.Marshal(req)
	check(b, call(prime))
	recs := given(b, v)
	last := recs[len(recs)-1]
	delete(req, "keep")
	req["given"] = json.RawMessage("[]")
	req["after"] = json.RawMessage(`{"seq":` + strconv.FormatUint(last.Seq, 10) + `,"hash":"` + last.Hash.String() + `"}`)
	out, _ := json.Marshal(req)
	check(b, call(out))
	return out
}

// callLoop calls the host with req for as long as the benchmark runs,
// checking every answer.
func callLoop(b *testing.B, h *wazerohost.Host, req []byte) {
	for b.Loop() {
		out, err := h.Call(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		check(b, out)
	}
}

func check(b testing.TB, answer []byte) {
	if !bytes.HasPrefix(answer, []byte(`{"ok":`)) {
		b.Fatalf("answer %.300s", answer)
	}
}

// BenchmarkEvolve folds the 359 events of the longest vector.
func BenchmarkEvolve(b *testing.B) {
	v := loadVector(b, "push/approve-while-codes-locked")
	h := open(b, wazerohost.Config{Instances: 1})
	fast := open(b, wazerohost.Config{Instances: 1, NoInterrupt: true})
	req, _ := json.Marshal(map[string]any{"op": "evolve", "tenant": v.Tenant, "user": v.User, "given": compactAll(b, v.Given)})
	b.Run("native", func(b *testing.B) {
		raws := compactAll(b, v.Given)
		for b.Loop() {
			recs := make([]events.Record, len(raws))
			for i, raw := range raws {
				r, err := events.Decode(raw)
				if err != nil {
					b.Fatal(err)
				}
				recs[i] = r
			}
			if _, err := engine.Fold(v.Tenant, v.User, recs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(raws)), "events/op")
	})
	b.Run("native-abi", func(b *testing.B) {
		core := wasmcore.New()
		for b.Loop() {
			check(b, core.Call(req))
		}
	})
	b.Run("wasm", func(b *testing.B) { callLoop(b, h, req) })
	b.Run("wasm-nointerrupt", func(b *testing.B) { callLoop(b, fast, req) })
}

// BenchmarkProject folds the same events into the security info.
func BenchmarkProject(b *testing.B) {
	v := loadVector(b, "push/approve-while-codes-locked")
	h := open(b, wazerohost.Config{Instances: 1})
	fast := open(b, wazerohost.Config{Instances: 1, NoInterrupt: true})
	req, _ := json.Marshal(map[string]any{"op": "project", "model": "security_info", "events": compactAll(b, v.Given)})
	b.Run("native", func(b *testing.B) {
		raws := compactAll(b, v.Given)
		for b.Loop() {
			var m projections.SecurityInfo
			for _, raw := range raws {
				r, err := events.Decode(raw)
				if err != nil {
					b.Fatal(err)
				}
				m.Apply(&r)
			}
			if _, err := json.Marshal(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("native-abi", func(b *testing.B) {
		core := wasmcore.New()
		for b.Loop() {
			check(b, core.Call(req))
		}
	})
	b.Run("wasm", func(b *testing.B) { callLoop(b, h, req) })
	b.Run("wasm-nointerrupt", func(b *testing.B) { callLoop(b, fast, req) })
}

func compactAll(b testing.TB, raws []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, len(raws))
	for i, raw := range raws {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			b.Fatal(err)
		}
		out[i] = buf.Bytes()
	}
	return out
}

// BenchmarkFloor measures the crypto a decision cannot avoid, per unit:
// HMAC = three HMAC-SHA1 (a TOTP window), Ed25519 = one verification.
// Inside the module a call runs many units, so the boundary does not count.
func BenchmarkFloor(b *testing.B) {
	h := open(b, wazerohost.Config{Instances: 1})
	fast := open(b, wazerohost.Config{Instances: 1, NoInterrupt: true})
	key := []byte("12345678901234567890")
	b.Run("HMAC/native", func(b *testing.B) {
		for b.Loop() {
			wasmcore.HMACFloor(key, 1)
		}
	})
	b.Run("HMAC/wasm", func(b *testing.B) {
		const n = 100
		for b.Loop() {
			if _, err := h.Call(context.Background(), []byte(`{"op":"bench_hmac","n":100}`)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/unit")
	})
	b.Run("HMAC/wasm-nointerrupt", func(b *testing.B) {
		const n = 100
		for b.Loop() {
			if _, err := fast.Call(context.Background(), []byte(`{"op":"bench_hmac","n":100}`)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/unit")
	})
	b.Run("Ed25519/wasm-nointerrupt", func(b *testing.B) {
		const n = 4
		for b.Loop() {
			if _, err := fast.Call(context.Background(), []byte(`{"op":"bench_ed25519","n":4}`)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/unit")
	})
	b.Run("Ed25519/native", func(b *testing.B) {
		for b.Loop() {
			wasmcore.Ed25519Floor(1)
		}
	})
	b.Run("Ed25519/wasm", func(b *testing.B) {
		const n = 4
		for b.Loop() {
			if _, err := h.Call(context.Background(), []byte(`{"op":"bench_ed25519","n":4}`)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/unit")
	})
}

// BenchmarkStart measures what a process pays to start a module: compiling
// without a cache, compiling from a warm cache on disk with a fresh cache
// object (as a new process would), and one instantiation with _initialize.
// Each runs for the core module and for the floor module (wasm/floor: the
// ABI's exports over Go's runtime and nothing else) in the same run, as
// Start/<what>/core and Start/<what>/floor; the floor is what the Go
// toolchain and wazero cost any Go module of this shape. The module's size
// is reported as a metric.
func BenchmarkStart(b *testing.B) {
	ctx := context.Background()
	mods := []struct {
		name string
		wasm []byte
	}{{"core", module(b)}, {"floor", floorModule(b)}}
	each := func(what string, run func(b *testing.B, mod []byte)) {
		for _, m := range mods {
			b.Run(what+"/"+m.name, func(b *testing.B) {
				run(b, m.wasm)
				b.ReportMetric(float64(len(m.wasm)), "module-bytes")
			})
		}
	}
	each("ColdCompile", func(b *testing.B, mod []byte) {
		// Plain wazero, default configuration: one compiler goroutine.
		for b.Loop() {
			rt := wazero.NewRuntime(ctx)
			if _, err := rt.CompileModule(ctx, mod); err != nil {
				b.Fatal(err)
			}
			rt.Close(ctx)
		}
	})
	each("ColdOpen", func(b *testing.B, mod []byte) {
		// What wazerohost.Open costs with an empty cache: the compile with
		// its workers (one per CPU), WASI, one instance and the ABI check
		// (which the floor module passes).
		for b.Loop() {
			h, err := wazerohost.Open(ctx, mod, wazerohost.Config{CacheDir: b.TempDir(), Instances: 1})
			if err != nil {
				b.Fatal(err)
			}
			h.Close(ctx)
		}
	})
	dir := b.TempDir()
	warm, _ := wazero.NewCompilationCacheWithDir(dir)
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(warm))
	for _, m := range mods {
		if _, err := rt.CompileModule(ctx, m.wasm); err != nil {
			b.Fatal(err)
		}
	}
	rt.Close(ctx)
	warm.Close(ctx)
	each("CacheCompile", func(b *testing.B, mod []byte) {
		for b.Loop() {
			c, err := wazero.NewCompilationCacheWithDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(c))
			if _, err := rt.CompileModule(ctx, mod); err != nil {
				b.Fatal(err)
			}
			rt.Close(ctx)
			c.Close(ctx)
		}
	})
	each("Instantiate", func(b *testing.B, mod []byte) {
		c, _ := wazero.NewCompilationCacheWithDir(dir)
		defer c.Close(ctx)
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(c))
		defer rt.Close(ctx)
		wasi_snapshot_preview1.MustInstantiate(ctx, rt)
		cm, err := rt.CompileModule(ctx, mod)
		if err != nil {
			b.Fatal(err)
		}
		cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize")
		for b.Loop() {
			m, err := rt.InstantiateModule(ctx, cm, cfg)
			if err != nil {
				b.Fatal(err)
			}
			m.Close(ctx)
		}
	})
	each("CacheCompileAndInstantiate", func(b *testing.B, mod []byte) {
		// wazerohost compiles with its own runtime configuration (close on
		// context done, a memory limit), which has its own cache entries.
		h, err := wazerohost.Open(ctx, mod, wazerohost.Config{CacheDir: dir, Instances: 1})
		if err != nil {
			b.Fatal(err)
		}
		h.Close(ctx)
		for b.Loop() {
			h, err := wazerohost.Open(ctx, mod, wazerohost.Config{CacheDir: dir, Instances: 1})
			if err != nil {
				b.Fatal(err)
			}
			h.Close(ctx)
		}
	})
}

// BenchmarkCall measures one call through wazerohost.Host.Call (write the
// request, vakt_call, copy the answer out, free it), as Decide/*/wasm-cached
// does. Call/floor is the floor module, whose vakt_call answers {"ok":{}}
// without reading the request: the fixed cost of a call into Go's wasm code
// under wazero, with and without WithCloseOnContextDone. Call/core-info is
// the core module's smallest op on the same request bytes.
func BenchmarkCall(b *testing.B) {
	req := []byte(`{"op":"info"}`)
	for _, c := range []struct {
		name string
		wasm []byte
		cfg  wazerohost.Config
	}{
		{"floor", floorModule(b), wazerohost.Config{Instances: 1}},
		{"floor-nointerrupt", floorModule(b), wazerohost.Config{Instances: 1, NoInterrupt: true}},
		{"core-info", module(b), wazerohost.Config{Instances: 1}},
		{"core-info-nointerrupt", module(b), wazerohost.Config{Instances: 1, NoInterrupt: true}},
	} {
		h := openModule(b, c.wasm, c.cfg)
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				out, err := h.Call(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				check(b, out)
			}
		})
	}
}
