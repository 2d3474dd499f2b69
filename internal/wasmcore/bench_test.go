package wasmcore

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/engine/enginetest"
	"github.com/vaktmfa/vakt/events"
)

// BenchmarkCall takes one cached decide call (the state kept in the
// instance, as `vakt serve --engine=wasm` sends it) apart: the whole call,
// then each piece of it. It runs natively, and inside Go's wasm build to see
// where the module's time goes without a host in between:
//
//	GOOS=wasip1 GOARCH=wasm go test -c -o /tmp/wasmcore.wasm ./internal/wasmcore
//	cd internal/wasmcore && go run github.com/tetratelabs/wazero/cmd/wazero run \
//	    -mount=/:/ -env=PWD=$PWD /tmp/wasmcore.wasm -test.run '^$' -test.bench Call
//
// (the same binary runs under Node's node:wasi, where --cpu-prof names the
// guest's functions). The figures are in BENCHMARKS.md ("inside the guest").
func BenchmarkCall(b *testing.B) {
	for _, c := range []struct{ name, vector string }{
		{"VerifyTOTP", "verify/totp"},
		{"IssueChallenge", "challenge/issue-totp"},
		{"RespondPush", "push/approve"},
	} {
		prime, cached := cachedRequests(b, c.vector)
		core := New()
		if out := core.Call(prime); !bytes.HasPrefix(out, []byte(`{"ok":`)) {
			b.Fatalf("prime: %s", out)
		}
		var r Request
		if err := decodeRequest(cached, &r); err != nil {
			b.Fatal(err)
		}
		f, err := core.fold(&r)
		if err != nil {
			b.Fatal(err)
		}
		cmd, err := engine.DecodeCommand(r.Command)
		if err != nil {
			b.Fatal(err)
		}
		env, err := core.env(&r)
		if err != nil {
			b.Fatal(err)
		}
		dec, derr := engine.Decide(f.user, cmd, env)
		if derr != nil {
			b.Fatal(derr)
		}
		b.Run(c.name+"/call", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if out := core.Call(cached); !bytes.HasPrefix(out, []byte(`{"ok":`)) {
					b.Fatalf("%s", out)
				}
			}
		})
		b.Run(c.name+"/request", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r Request
				if err := decodeRequest(cached, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/state", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := core.fold(&r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/command", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := engine.DecodeCommand(r.Command); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/env", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := core.env(&r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/decide", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				env.Rand = engine.SeededRand(nil) // a fresh reader, as each call has
				if _, err := engine.Decide(f.user, cmd, env); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/answer", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := appendThen(nil, dec, nil, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cachedRequests turns a vector into the request that primes an instance
// with its state (keep) and the one that decides on the kept state (after,
// no events).
func cachedRequests(b *testing.B, name string) (prime, cached []byte) {
	b.Helper()
	vs, err := enginetest.Load(filepath.Join("../../testdata/vectors", filepath.Dir(name)))
	if err != nil {
		b.Fatal(err)
	}
	var v *enginetest.Vector
	for _, x := range vs {
		if x.Name == name {
			v = x
		}
	}
	if v == nil || len(v.Given) == 0 {
		b.Fatalf("no vector %s with given events", name)
	}
	req := map[string]any{
		"op": "decide", "tenant": v.Tenant, "user": v.User, "given": v.Given, "keep": true,
		"time": v.When.Time, "entropy": v.When.Entropy, "command": v.When.Command,
		"policy": v.Policy, "data_key": v.DataKey,
	}
	if prime, err = json.Marshal(req); err != nil {
		b.Fatal(err)
	}
	// The head of the given events: their chain, as the store computes it.
	var head events.Head
	for _, raw := range v.Given {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			b.Fatal(err)
		}
		rec, err := events.Decode(buf.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		head = events.Head{Seq: rec.Seq, Hash: events.ChainHash(head.Hash, rec.Raw)}
	}
	delete(req, "keep")
	req["given"] = []any{}
	req["after"] = json.RawMessage(`{"seq":` + strconv.FormatUint(head.Seq, 10) + `,"hash":"` + head.Hash.String() + `"}`)
	if cached, err = json.Marshal(req); err != nil {
		b.Fatal(err)
	}
	return prime, cached
}
