//go:build wasip1

// Command floor is the smallest Go reactor with the shape of ABI v1
// (wasm/ABI.md): the four exports and the buffers of wasm/core, and a
// vakt_call that answers every request with the constant {"ok":{}} without
// reading it. It is not a Vakt engine; it exists so that the benchmarks
// (hosts/wazero, BenchmarkStart and BenchmarkCall) can measure, in the same
// run as the core module, what the Go toolchain and the runtime that runs
// the module cost for any Go module of this shape: its size, compile and
// start-up time, and the fixed cost of one call. It imports only unsafe, so
// that nothing but Go's runtime is in it. Build it as the core module is
// built:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags=-s -o floor.wasm ./wasm/floor
package main

import "unsafe"

func main() {}

// maxRequest is the ABI's request limit (4 MiB).
const maxRequest = 4 << 20

// bufs pins the buffers handed to the host until vakt_free, as in
// wasm/core.
var bufs = map[uint32][]byte{}

func pin(b []byte) uint32 {
	if len(b) == 0 {
		b = make([]byte, 1)[:0:1]
	}
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	bufs[p] = b
	return p
}

//go:wasmexport vakt_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport vakt_alloc
func alloc(size int32) uint32 {
	if size <= 0 || size > maxRequest {
		return 0
	}
	return pin(make([]byte, size))
}

//go:wasmexport vakt_free
func free(ptr uint32) { delete(bufs, ptr) }

//go:wasmexport vakt_call
func call(ptr, n uint32) uint64 {
	// The buffer checks of wasm/core, with constant answers; every answer
	// is a fresh buffer, as a real one is, so a call pays one allocation.
	out := `{"ok":{}}`
	if b, ok := bufs[ptr]; !ok || int64(n) > int64(len(b)) {
		out = `{"error":{"code":"invalid_argument","message":"the request is not inside a vakt_alloc buffer"}}`
	}
	p := pin([]byte(out))
	return uint64(p)<<32 | uint64(len(out))
}
