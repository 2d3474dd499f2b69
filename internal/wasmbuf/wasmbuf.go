// Package wasmbuf holds the buffers a Vakt module hands to its host (ABI v1,
// wasm/ABI.md): requests from vakt_alloc and answers from vakt_call stay
// pinned until vakt_free. The core module (wasm/core) and the floor module
// (wasm/floor) both use it, so that the floor measures exactly the buffer
// handling of the core. It imports only unsafe, to keep the floor minimal.
package wasmbuf

import "unsafe"

// MaxRequest bounds one request (4 MiB), as internal/wasmcore does.
const MaxRequest = 4 << 20

// bufs pins the buffers handed out: Go's collector does not move objects,
// it only frees unreachable ones.
var bufs = map[uint32][]byte{}

// Pin keeps b alive until Free and returns its address in linear memory.
func Pin(b []byte) uint32 {
	if len(b) == 0 {
		b = make([]byte, 1)[:0:1]
	}
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	bufs[p] = b
	return p
}

// Alloc is vakt_alloc: a new pinned buffer of size bytes, or 0 for a size
// out of (0, MaxRequest].
func Alloc(size int32) uint32 {
	if size <= 0 || size > MaxRequest {
		return 0
	}
	return Pin(make([]byte, size))
}

// Free is vakt_free.
func Free(ptr uint32) { delete(bufs, ptr) }

// Request returns the first n bytes of the buffer at ptr, or an error
// message if ptr is not a live vakt_alloc buffer or n runs past its end.
func Request(ptr, n uint32) ([]byte, string) {
	b, ok := bufs[ptr]
	switch {
	case !ok:
		return nil, "the request pointer was not returned by vakt_alloc (or was freed)"
	case int64(n) > int64(len(b)):
		return nil, "the request length runs past the end of its vakt_alloc buffer"
	}
	return b[:n:n], ""
}

// Answer pins an answer and returns vakt_call's result: its address in the
// high 32 bits, its length in the low.
func Answer(out []byte) uint64 {
	return uint64(Pin(out))<<32 | uint64(len(out))
}
