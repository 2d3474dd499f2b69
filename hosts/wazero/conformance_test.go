package wazerohost_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/engine/enginetest"
	"github.com/vaktmfa/vakt/events"
	wazerohost "github.com/vaktmfa/vakt/hosts/wazero"
)

const vectorDir = "../../testdata/vectors"

// decideRequest is a vector as an ABI decide request: its fields, with
// when.time, when.entropy and when.command flattened.
func decideRequest(t testing.TB, v *enginetest.Vector) []byte {
	t.Helper()
	req := map[string]any{
		"op": "decide", "tenant": v.Tenant, "user": v.User, "given": v.Given,
		"time": v.When.Time, "entropy": v.When.Entropy, "command": v.When.Command,
	}
	if v.Policy != nil {
		req["policy"] = v.Policy
	}
	if v.DataKey != "" {
		req["data_key"] = v.DataKey
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compactJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestVectors runs every decision vector through the module and compares
// the answer's ok value byte for byte with the vector's then object
// (whitespace removed) and with the native engine's outcome.
func TestVectors(t *testing.T) {
	h := open(t, wazerohost.Config{Instances: 2})
	vs, err := enginetest.Load(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	skip, err := enginetest.Exceptions(filepath.Join(vectorDir, "exceptions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) < 80 {
		t.Fatalf("only %d vectors", len(vs))
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			if why, ok := skip[v.Name]; ok {
				t.Skipf("exception: %s", why)
			}
			answer, err := h.Call(context.Background(), decideRequest(t, v))
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]byte(`{"ok":`), compactJSON(t, v.Then)...), '}')
			if !bytes.Equal(answer, want) {
				t.Fatalf("answer differs from the vector:\n got  %s\n want %s", answer, want)
			}
			// The same bytes as the native engine, through the shared encoder.
			native, err := enginetest.Native(v)
			if err != nil {
				t.Fatal(err)
			}
			nt := enginetest.Then{Events: native.Events, Error: native.Error}
			if nt.Events == nil {
				nt.Events = []enginetest.Event{}
			}
			if native.Reply != nil {
				r := json.RawMessage(native.Reply)
				nt.Reply = &r
			}
			if nb := append(append([]byte(`{"ok":`), compactJSON(t, nt)...), '}'); !bytes.Equal(answer, nb) {
				t.Fatalf("answer differs from native:\n wasm   %s\n native %s", answer, nb)
			}
		})
	}
}

// TestVectorsThroughDecider runs every vector through the engine.Decider
// API (the state crosses as JSON, the answer is decoded back into a
// Decision) and compares with native Decide given the same entropy: the
// Decider draws a 32-byte seed from env.Rand, so native decides with
// SeededRand of that same seed.
func TestVectorsThroughDecider(t *testing.T) {
	h := open(t, wazerohost.Config{Instances: 1})
	vs, err := enginetest.Load(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			cmd, err := engine.DecodeCommand(v.When.Command)
			if err != nil {
				t.Skip("a malformed command never reaches a Decider")
			}
			recs := given(t, v)
			seed, _ := hex.DecodeString(v.When.Entropy)
			env := func(r io.Reader) engine.Env {
				e := engine.Env{Now: v.When.Time, Rand: r, Policy: v.Policy}
				if v.DataKey != "" {
					raw, _ := hex.DecodeString(v.DataKey)
					k, err := engine.NewDataKey(raw)
					if err != nil {
						t.Fatal(err)
					}
					e.DataKey = k
				}
				return e
			}
			var inner [32]byte
			io.ReadFull(engine.SeededRand(seed), inner[:])
			var got, want enginetest.Outcome
			if v.User == "" {
				tn := engine.NewTenant(v.Tenant)
				for i := range recs {
					if err := tn.Evolve(&recs[i]); err != nil {
						t.Fatal(err)
					}
				}
				got = encode(t)(h.DecideTenant(context.Background(), tn, cmd, env(engine.SeededRand(seed))))
				want = encode(t)(engine.DecideTenant(tn, cmd, env(engine.SeededRand(inner[:]))))
			} else {
				u, err := engine.Fold(v.Tenant, v.User, recs)
				if err != nil {
					t.Fatal(err)
				}
				got = encode(t)(h.Decide(context.Background(), u, cmd, env(engine.SeededRand(seed))))
				want = encode(t)(engine.Decide(u, cmd, env(engine.SeededRand(inner[:]))))
			}
			if g, w := compactJSON(t, got), compactJSON(t, want); !bytes.Equal(g, w) {
				t.Fatalf("through the Decider:\n got  %s\n want %s", g, w)
			}
		})
	}
}

func encode(t testing.TB) func(engine.Decision, error) enginetest.Outcome {
	return func(d engine.Decision, err error) enginetest.Outcome {
		t.Helper()
		out, eerr := enginetest.Encode(d, err)
		if eerr != nil {
			t.Fatal(eerr)
		}
		return out
	}
}

// given decodes a vector's given events into records with their chain hashes.
func given(t testing.TB, v *enginetest.Vector) []events.Record {
	t.Helper()
	var recs []events.Record
	var prev events.Hash
	for _, raw := range v.Given {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			t.Fatal(err)
		}
		rec, err := events.Decode(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		rec.Hash = events.ChainHash(prev, rec.Raw)
		rec.Position = rec.Seq
		prev = rec.Hash
		recs = append(recs, rec)
	}
	return recs
}

var _ engine.Decider = (*wazerohost.Host)(nil)
