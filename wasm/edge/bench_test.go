//go:build !wasip1

package main

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/internal/edge"
	"github.com/vaktmfa/vakt/internal/edge/edgetest"
)

// The edge check per request, through http-wasm-host-go (wazero compiler)
// and natively, on the same tokens, in the same run (BENCHMARKS.md).
//
//	Cached: a token the instance verified before (target < 50 µs).
//	New:    a token it has not (target < 1 ms): two tokens take turns in
//	        a cache of one entry, so every request verifies a signature.
//	Public: a public route, no token: the cost of the host and the guest's
//	        header calls alone.

func benchConfig(b *testing.B, key edgetest.Key, cacheSize int) []byte {
	var c map[string]any
	if err := json.Unmarshal(edgeConfig(b, edgetest.JWKS(key)), &c); err != nil {
		b.Fatal(err)
	}
	c["cacheSize"] = cacheSize
	out, err := json.Marshal(c)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func benchTokens(key edgetest.Key, n int) []string {
	now := time.Now()
	toks := make([]string, n)
	for i := range toks {
		toks[i] = key.Sign(edgetest.Claims{
			"iss": iss, "sub": "ola.nordmann@uio.no", "tid": tenant, "acr": "high", "amr": []string{"otp", "hwk"},
			"auth_time": now.Unix() - 60, "iat": now.Unix() - 60, "exp": now.Add(time.Hour).Unix(),
			"jti": "0190a3e0-0000-7000-8000-00000000000" + strconv.Itoa(i), "app": "web",
		})
	}
	return toks
}

var okBackend = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

func BenchmarkEdge(b *testing.B) {
	key := edgetest.NewKey(5)
	toks := benchTokens(key, 2)
	requests := func(path string, toks []string) []*http.Request {
		rs := make([]*http.Request, len(toks))
		for i, t := range toks {
			rs[i] = httptest.NewRequest("GET", path, nil)
			rs[i].Header.Set("Accept", "application/json")
			if t != "" {
				rs[i].Header.Set("Authorization", "Bearer "+t)
			}
		}
		return rs
	}
	wasmCase := func(cacheSize int, path string, toks []string) func(*testing.B) {
		return func(b *testing.B) {
			h := serveBench(b, benchConfig(b, key, cacheSize))
			rs := requests(path, toks)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, rs[0]) // warm the instance
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
			i := 0
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, rs[i%len(rs)])
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
				i++
			}
		}
	}
	nativeCase := func(cacheSize int, path string, toks []string) func(*testing.B) {
		return func(b *testing.B) {
			g, err := edge.Compile(benchConfig(b, key, cacheSize))
			if err != nil {
				b.Fatal(err)
			}
			rs := make([]edge.Request, len(toks))
			for i, t := range toks {
				rs[i] = edge.Request{Method: "GET", URI: path, Accept: "application/json"}
				if t != "" {
					rs[i].Authorization = "Bearer " + t
				}
			}
			g.Check(rs[0], time.Now())
			i := 0
			for b.Loop() {
				if d := g.Check(rs[i%len(rs)], time.Now()); !d.Allow {
					b.Fatal(d)
				}
				i++
			}
		}
	}
	b.Run("wasm/Cached", wasmCase(1024, "/admin/users", toks[:1]))
	b.Run("wasm/New", wasmCase(1, "/admin/users", toks))
	b.Run("wasm/Public", wasmCase(1024, "/static/app.js", []string{""}))
	b.Run("native/Cached", nativeCase(1024, "/admin/users", toks[:1]))
	b.Run("native/New", nativeCase(1, "/admin/users", toks))
	b.Run("native/Ed25519Verify", func(b *testing.B) {
		s := key.Sign(edgetest.Claims{"sub": "x"})
		pub := key.Priv.Public().(ed25519.PublicKey)
		sig := ed25519.Sign(key.Priv, []byte(s))
		for b.Loop() {
			if !ed25519.Verify(pub, []byte(s), sig) {
				b.Fatal()
			}
		}
	})
	b.Run("ModuleSize", func(b *testing.B) {
		n := len(guest(b))
		for b.Loop() {
		}
		b.ReportMetric(float64(n), "bytes")
	})
}

func serveBench(b *testing.B, config []byte) http.Handler {
	b.Helper()
	return serveNext(b, config, nil, okBackend)
}
