//go:build wasip1

// Command core is Vakt's core WebAssembly module: the engine, the event
// codec and the read models behind ABI v1 (wasm/ABI.md). It is a WASI
// reactor, built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags=-s -o wasm/build/vakt.wasm ./wasm/core
//
// (`just wasm`). The requests are answered by internal/wasmcore and the
// buffers are internal/wasmbuf's; this file holds only the exports.
package main

import (
	"github.com/vaktmfa/vakt/internal/wasmbuf"
	"github.com/vaktmfa/vakt/internal/wasmcore"
)

func main() {}

var core = wasmcore.New()

//go:wasmexport vakt_abi_version
func abiVersion() int32 { return wasmcore.ABIVersion }

//go:wasmexport vakt_alloc
func alloc(size int32) uint32 { return wasmbuf.Alloc(size) }

//go:wasmexport vakt_free
func free(ptr uint32) { wasmbuf.Free(ptr) }

//go:wasmexport vakt_call
func call(ptr, n uint32) uint64 {
	req, bad := wasmbuf.Request(ptr, n)
	if bad != "" {
		return wasmbuf.Answer(wasmcore.ErrorAnswer("invalid_argument", bad))
	}
	return wasmbuf.Answer(core.Call(req))
}
