//go:build wasip1

// Command floor is the smallest Go reactor with the shape of ABI v1
// (wasm/ABI.md): the four exports and the buffers of wasm/core, and a
// vakt_call that answers every request with the constant {"ok":{}} without
// reading it. It is not a Vakt engine; it exists so that the benchmarks
// (hosts/wazero, BenchmarkStart and BenchmarkCall) can measure, in the same
// run as the core module, what the Go toolchain and the runtime that runs
// the module cost for any Go module of this shape: its size, compile and
// start-up time, and the fixed cost of one call. It imports only
// internal/wasmbuf (the core's own buffer handling, which imports only
// unsafe), so that nothing but Go's runtime is in it. Build it as the core
// module is built:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags=-s -o floor.wasm ./wasm/floor
package main

import "github.com/vaktmfa/vakt/internal/wasmbuf"

func main() {}

//go:wasmexport vakt_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport vakt_alloc
func alloc(size int32) uint32 { return wasmbuf.Alloc(size) }

//go:wasmexport vakt_free
func free(ptr uint32) { wasmbuf.Free(ptr) }

//go:wasmexport vakt_call
func call(ptr, n uint32) uint64 {
	// The buffer checks of wasm/core, with constant answers; every answer
	// is a fresh buffer, as a real one is, so a call pays one allocation.
	out := `{"ok":{}}`
	if _, bad := wasmbuf.Request(ptr, n); bad != "" {
		out = `{"error":{"code":"invalid_argument","message":"the request is not inside a vakt_alloc buffer"}}`
	}
	return wasmbuf.Answer([]byte(out))
}
