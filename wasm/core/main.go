//go:build wasip1

// Command core is Vakt's core WebAssembly module: the engine, the event
// codec and the read models behind ABI v1 (wasm/ABI.md). It is a WASI
// reactor, built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags=-s -o wasm/build/vakt.wasm ./wasm/core
//
// (`just wasm`). The requests are answered by internal/wasmcore; this file
// holds only the exports and the buffers they hand out.
package main

import (
	"unsafe"

	"github.com/vaktmfa/vakt/internal/wasmcore"
)

func main() {}

var core = wasmcore.New()

// bufs pins the buffers handed to the host (requests from vakt_alloc,
// answers from vakt_call) until vakt_free: Go's collector does not move
// objects, it only frees unreachable ones.
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
func abiVersion() int32 { return wasmcore.ABIVersion }

//go:wasmexport vakt_alloc
func alloc(size int32) uint32 {
	if size <= 0 || size > wasmcore.MaxRequest {
		return 0
	}
	return pin(make([]byte, size))
}

//go:wasmexport vakt_free
func free(ptr uint32) { delete(bufs, ptr) }

//go:wasmexport vakt_call
func call(ptr, n uint32) uint64 {
	var out []byte
	b, ok := bufs[ptr]
	switch {
	case !ok:
		out = wasmcore.ErrorAnswer("invalid_argument", "the request pointer was not returned by vakt_alloc (or was freed)")
	case int64(n) > int64(len(b)):
		out = wasmcore.ErrorAnswer("invalid_argument", "the request length runs past the end of its vakt_alloc buffer")
	default:
		out = core.Call(b[:n:n])
	}
	p := pin(out)
	return uint64(p)<<32 | uint64(len(out))
}
