// Command edge is Vakt's edge middleware: an http-wasm guest that lets a
// request through only with a Vakt session token good enough for its route
// (internal/edge), and otherwise sends the person to step up or answers
// 401. Build it with the standard Go toolchain as a reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o vakt-edge.wasm ./wasm/edge
//
// The host must call _initialize (Traefik does; with http-wasm-host-go pass
// handler.ModuleConfig(wazero.NewModuleConfig().WithStartFunctions("_initialize")))
// and give the guest the real wall clock (wazero: WithSysWalltime). The
// guest configuration is the JSON of edge.Config; a bad one makes
// _initialize fail, so the host refuses to start. See docs/EDGE.md.
package main

// main is not called: the module is a reactor (-buildmode=c-shared) whose
// exports the host calls after _initialize.
func main() {}
