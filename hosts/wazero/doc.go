// Package wazerohost runs Vakt's core WebAssembly module (wasm/core, ABI v1
// in wasm/ABI.md) in Go through wazero, a WebAssembly runtime without cgo.
//
// [Open] compiles the module once (with a compilation cache on disk when
// [Config.CacheDir] is set, so that a restart takes milliseconds instead of
// seconds), checks that it is a Vakt core module of ABI version 1, and keeps
// a bounded pool of instances: a Go guest is single-threaded, so each
// instance runs one call at a time and [Config.Instances] calls run at once.
//
// A [Host] is an [engine.Decider]: set it as [engine.Service.Decider] and
// every decision runs in the module instead of natively, with the same
// events, replies and errors byte for byte (the shared vectors in
// testdata/vectors prove it). [Host.Call] sends a raw ABI request for the
// other operations (evolve, project, info).
//
// Errors are typed. The module's own error answers arrive as *vakt.Error
// with the module's code; the host's are sentinels for errors.Is:
// [ErrNotModule] and [ErrABIVersion] when loading, [ErrTooLarge] for a
// request over 4 MiB, [ErrTrapped] when an instance trapped — it is then
// discarded and replaced, and the host stays usable — and [ErrClosed]. A
// call whose context ends is abandoned (wazero's WithCloseOnContextDone)
// and its instance discarded too.
package wazerohost
