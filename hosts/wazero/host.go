package wazerohost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// ABIVersion is the ABI version this host speaks (wasm/ABI.md).
const ABIVersion = 1

// MaxRequest is the module's limit on one request (4 MiB).
const MaxRequest = 4 << 20

// Errors. Compare with errors.Is; an error answer of the module itself is a
// *vakt.Error with the module's code instead.
var (
	// ErrNotModule: the bytes are not a Vakt core module (not WebAssembly,
	// missing exports, imports other than WASI preview 1).
	ErrNotModule = errors.New("wazerohost: not a vakt core module")
	// ErrABIVersion: the module speaks another ABI version; see *ABIVersionError.
	ErrABIVersion = errors.New("wazerohost: unsupported ABI version")
	// ErrTrapped: the instance trapped (a bug or exhausted memory) and was
	// discarded; the host replaces it and stays usable.
	ErrTrapped = errors.New("wazerohost: the module trapped; the instance was discarded")
	// ErrTooLarge: the request is over MaxRequest.
	ErrTooLarge = errors.New("wazerohost: request over the module's 4 MiB limit")
	// ErrBadAnswer: the module answered something that is not ABI v1.
	ErrBadAnswer = errors.New("wazerohost: malformed answer from the module")
	// ErrClosed: the host was closed.
	ErrClosed = errors.New("wazerohost: host closed")
)

// ABIVersionError says which version a refused module speaks.
type ABIVersionError struct{ Got, Want int32 }

func (e *ABIVersionError) Error() string {
	return fmt.Sprintf("wazerohost: the module speaks ABI version %d; this host speaks %d", e.Got, e.Want)
}

// Is makes errors.Is(err, ErrABIVersion) true.
func (e *ABIVersionError) Is(target error) bool { return target == ErrABIVersion }

// Config configures a Host. The zero value is usable: no compilation cache
// on disk, one instance per CPU, 256 MiB of memory per instance.
type Config struct {
	// CacheDir keeps compiled code on disk (wazero.NewCompilationCacheWithDir),
	// so that a restart compiles in milliseconds instead of seconds. Empty:
	// an in-memory cache only.
	CacheDir string
	// Instances bounds the pool: at most this many calls run at once
	// (default runtime.GOMAXPROCS). Instances are made when first needed.
	Instances int
	// MemoryLimitPages caps each instance's memory in 64 KiB pages (default
	// 4096 = 256 MiB). A call that needs more traps; the instance is replaced.
	MemoryLimitPages uint32
	// Stderr receives what the guest writes to stderr (the Go runtime's
	// panic traces before a trap). Default: discarded.
	Stderr io.Writer
	// NoInterrupt turns off wazero's WithCloseOnContextDone, which leaves
	// compiled code for Go at every loop head to look for a closed module;
	// a Go guest has a loop in every function, so the checks it saves make
	// guest code about 2-6x faster (3x on the HMAC floor, 2-3x on a
	// decision, 6x on the info op; BENCHMARKS.md).
	//
	// A call whose context ends mid-call still returns ctx's error at once,
	// but the guest cannot be stopped: the instance finishes the call in
	// the background and is then discarded, and its pool slot stays taken
	// until it has. Use it when every request's work is bounded, as it is
	// for the decisions `vakt serve` sends (a guest bug that loops would
	// hold one instance and one CPU for good); keep the checks for
	// requests from others (bench_ed25519 may run for minutes).
	NoInterrupt bool
}

// Host runs the Vakt core module in wazero: a runtime, the compiled module,
// and a bounded pool of instances, each used by one call at a time. It is
// safe for concurrent use.
type Host struct {
	rt       wazero.Runtime
	cache    wazero.CompilationCache
	compiled wazero.CompiledModule
	modCfg   wazero.ModuleConfig
	pool     chan *instance // Instances slots; nil = not made yet or discarded

	noInterrupt bool

	closeOnce sync.Once
	closed    chan struct{}

	logMu sync.Mutex
	logs  map[events.Stream]*streamLog
	lru   []events.Stream
}

// Open compiles the module and checks it: WebAssembly, the four ABI
// exports, only WASI preview 1 imports, and ABI version 1 (an instance is
// made and asked; it stays in the pool).
func Open(ctx context.Context, wasm []byte, cfg Config) (h *Host, err error) {
	n := cfg.Instances
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	pages := cfg.MemoryLimitPages
	if pages == 0 {
		pages = 4096
	}
	h = &Host{pool: make(chan *instance, n), closed: make(chan struct{}), logs: map[events.Stream]*streamLog{}, noInterrupt: cfg.NoInterrupt}
	rc := wazero.NewRuntimeConfig().WithCloseOnContextDone(!cfg.NoInterrupt).WithMemoryLimitPages(pages)
	if cfg.CacheDir != "" {
		if h.cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("wazerohost: compilation cache in %s: %w", cfg.CacheDir, err)
		}
	} else {
		h.cache = wazero.NewCompilationCache()
	}
	rc = rc.WithCompilationCache(h.cache)
	h.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	rt, cache := h.rt, h.cache
	defer func() {
		if err != nil {
			rt.Close(context.Background())
			cache.Close(context.Background())
			h = nil
		}
	}()
	if _, err = wasi_snapshot_preview1.Instantiate(ctx, h.rt); err != nil {
		return nil, fmt.Errorf("wazerohost: WASI: %w", err)
	}
	// Compile functions on every CPU: a cold compile of the core module
	// takes seconds on one (a warm cache skips the compiler altogether).
	cctx := experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
	if h.compiled, err = h.rt.CompileModule(cctx, wasm); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotModule, err)
	}
	for _, imp := range h.compiled.ImportedFunctions() {
		if mod, name, _ := imp.Import(); mod != wasi_snapshot_preview1.ModuleName {
			return nil, fmt.Errorf("%w: it imports %s.%s; only %s is allowed", ErrNotModule, mod, name, wasi_snapshot_preview1.ModuleName)
		}
	}
	exports := h.compiled.ExportedFunctions()
	for name, sig := range map[string]string{
		"_initialize": "->", "vakt_abi_version": "->i32", "vakt_alloc": "i32->i32",
		"vakt_free": "i32->", "vakt_call": "i32i32->i64",
	} {
		def, ok := exports[name]
		if !ok {
			return nil, fmt.Errorf("%w: no export %s", ErrNotModule, name)
		}
		if got := signature(def); got != sig {
			return nil, fmt.Errorf("%w: export %s is (%s), want (%s)", ErrNotModule, name, got, sig)
		}
	}
	stderr := cfg.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	// Each instance anonymous (WithName("")), so one compiled module is
	// instantiated many times; _initialize starts the Go runtime (a reactor).
	h.modCfg = wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").WithStderr(stderr).
		WithSysNanotime().WithSysWalltime().WithSysNanosleep()
	first, err := h.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	if err := first.checkVersion(ctx); err != nil {
		first.close()
		return nil, err
	}
	h.pool <- first
	for i := 1; i < n; i++ {
		h.pool <- nil
	}
	return h, nil
}

func signature(def api.FunctionDefinition) string {
	s := ""
	for _, t := range def.ParamTypes() {
		s += api.ValueTypeName(t)
	}
	s += "->"
	for _, t := range def.ResultTypes() {
		s += api.ValueTypeName(t)
	}
	return s
}

// Close closes every instance, the runtime and the compilation cache
// (which stays on disk). Calls in flight fail with ErrClosed or ErrTrapped.
func (h *Host) Close(ctx context.Context) error {
	var err error
	h.closeOnce.Do(func() {
		close(h.closed)
		err = errors.Join(h.rt.Close(ctx), h.cache.Close(ctx))
	})
	return err
}

// instance is one module instance with its exports looked up once.
type instance struct {
	mod                    api.Module
	alloc, free, call, ver api.Function
	stack                  []uint64
	buf                    uint32 // a request buffer kept for reuse
	bufCap                 uint32
	// held is what this instance keeps in its state cache, as far as the
	// host knows: stream -> head. A stale entry only costs a state_unknown
	// answer and a resend.
	held map[events.Stream]events.Head
}

func (h *Host) instantiate(ctx context.Context) (*instance, error) {
	mod, err := h.rt.InstantiateModule(ctx, h.compiled, h.modCfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("wazerohost: instantiate: %w", err)
	}
	return &instance{
		mod: mod, alloc: mod.ExportedFunction("vakt_alloc"), free: mod.ExportedFunction("vakt_free"),
		call: mod.ExportedFunction("vakt_call"), ver: mod.ExportedFunction("vakt_abi_version"),
		stack: make([]uint64, 2), held: map[events.Stream]events.Head{},
	}, nil
}

func (in *instance) close() { in.mod.Close(context.Background()) }

func (in *instance) checkVersion(ctx context.Context) error {
	if err := in.ver.CallWithStack(ctx, in.stack); err != nil {
		return fmt.Errorf("%w: vakt_abi_version: %v", ErrNotModule, err)
	}
	if v := int32(uint32(in.stack[0])); v != ABIVersion {
		return &ABIVersionError{Got: v, Want: ABIVersion}
	}
	return nil
}

// acquire takes an instance from the pool (making one if its slot is
// empty), waiting for ctx. Give it back with release.
func (h *Host) acquire(ctx context.Context) (*instance, error) {
	select {
	case <-h.closed:
		return nil, ErrClosed
	default:
	}
	var in *instance
	select {
	case in = <-h.pool:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.closed:
		return nil, ErrClosed
	}
	if in == nil {
		var err error
		if in, err = h.instantiate(ctx); err != nil {
			h.pool <- nil
			return nil, err
		}
	}
	return in, nil
}

// release returns an instance to the pool; a dead one (nil) leaves its
// slot empty for a fresh instance.
func (h *Host) release(in *instance) { h.pool <- in }

// Call sends one raw ABI request to an instance and returns the raw answer
// ({"ok": ...} or {"error": ...}, exactly as the module wrote it). Errors are
// the host's own: ErrTooLarge, ErrTrapped (the instance was discarded),
// ErrClosed, or ctx's error.
func (h *Host) Call(ctx context.Context, req []byte) ([]byte, error) {
	in, err := h.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return h.exec(ctx, in, func(ctx context.Context) ([]byte, error) {
		out, err := in.do(ctx, req)
		if err != nil {
			return nil, h.callErr(ctx, err)
		}
		return out, nil
	}, discardAlways)
}

// discardAlways is exec's keep for Call: any error leaves the instance in
// an unknown state.
func discardAlways(error) bool { return false }

// exec runs f on in, then gives in back to the pool, or discards it when f
// failed and keep(err) says it is not usable any more. With interrupt
// checks wazero itself ends the call when ctx ends. Without them
// (NoInterrupt), a call whose context can end runs on a goroutine of its
// own, so that the caller is answered as soon as ctx ends; the instance is
// discarded when the abandoned call has finished.
func (h *Host) exec(ctx context.Context, in *instance, f func(context.Context) ([]byte, error), keep func(error) bool) ([]byte, error) {
	finish := func(out []byte, err error) ([]byte, error) {
		if err != nil && !keep(err) {
			in.close()
			h.release(nil)
			return nil, err
		}
		h.release(in)
		return out, err
	}
	if !h.noInterrupt || ctx.Done() == nil {
		return finish(f(ctx))
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := f(ctx)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return finish(r.out, r.err)
	case <-ctx.Done():
		select {
		case r := <-done: // it finished as ctx ended
			return finish(r.out, r.err)
		default:
		}
		go func() {
			<-done
			in.close()
			h.release(nil)
		}()
		return nil, fmt.Errorf("wazerohost: call abandoned; the instance is discarded when it has finished: %w", ctx.Err())
	}
}

func (h *Host) callErr(ctx context.Context, err error) error {
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrBadAnswer) {
		return err
	}
	select {
	case <-h.closed:
		return ErrClosed
	default:
	}
	if ctx.Err() != nil {
		// WithCloseOnContextDone closed the instance mid-call.
		return fmt.Errorf("wazerohost: call abandoned, the instance was discarded: %w", ctx.Err())
	}
	return fmt.Errorf("%w: %v", ErrTrapped, err)
}

// do runs one call on the instance. Any error leaves the instance unusable
// (the caller discards it), except ErrTooLarge, which is checked first.
func (in *instance) do(ctx context.Context, req []byte) ([]byte, error) {
	if len(req) > MaxRequest {
		return nil, ErrTooLarge
	}
	n := uint32(len(req))
	if n > in.bufCap || in.buf == 0 {
		if in.buf != 0 {
			in.stack[0] = uint64(in.buf)
			if err := in.free.CallWithStack(ctx, in.stack); err != nil {
				return nil, err
			}
			in.buf, in.bufCap = 0, 0
		}
		size := max(n, 4096)
		size = min(max(size, in.bufCap*2), MaxRequest)
		in.stack[0] = uint64(size)
		if err := in.alloc.CallWithStack(ctx, in.stack); err != nil {
			return nil, err
		}
		if in.stack[0] == 0 {
			return nil, fmt.Errorf("%w: vakt_alloc(%d) returned 0", ErrBadAnswer, size)
		}
		in.buf, in.bufCap = uint32(in.stack[0]), size
	}
	mem := in.mod.Memory()
	if !mem.Write(in.buf, req) {
		return nil, fmt.Errorf("%w: request buffer outside memory", ErrBadAnswer)
	}
	in.stack[0], in.stack[1] = uint64(in.buf), uint64(n)
	if err := in.call.CallWithStack(ctx, in.stack); err != nil {
		return nil, err
	}
	packed := in.stack[0]
	ptr, size := uint32(packed>>32), uint32(packed)
	view, ok := mem.Read(ptr, size)
	if !ok || size == 0 {
		return nil, fmt.Errorf("%w: answer at %d+%d is outside memory", ErrBadAnswer, ptr, size)
	}
	out := make([]byte, size)
	copy(out, view) // the view dies with the next call that grows memory
	in.stack[0] = uint64(ptr)
	if err := in.free.CallWithStack(ctx, in.stack); err != nil {
		return nil, err
	}
	return out, nil
}

// CallRaw sends bytes to vakt_call exactly as given, with a declared length
// that may differ from len(req) (to test truncated buffers); it returns the
// raw answer. For tests and tools; Call is the normal path.
func (h *Host) CallRaw(ctx context.Context, req []byte, declared uint32) ([]byte, error) {
	in, err := h.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return h.exec(ctx, in, func(ctx context.Context) ([]byte, error) {
		out, err := in.raw(ctx, req, declared)
		if err != nil {
			return nil, h.callErr(ctx, err)
		}
		return out, nil
	}, discardAlways)
}

func (in *instance) raw(ctx context.Context, req []byte, declared uint32) ([]byte, error) {
	in.stack[0] = uint64(max(len(req), 1))
	if err := in.alloc.CallWithStack(ctx, in.stack); err != nil {
		return nil, err
	}
	p := uint32(in.stack[0])
	if p == 0 {
		return nil, ErrTooLarge
	}
	in.mod.Memory().Write(p, req)
	in.stack[0], in.stack[1] = uint64(p), uint64(declared)
	if err := in.call.CallWithStack(ctx, in.stack); err != nil {
		return nil, err
	}
	ptr, size := uint32(in.stack[0]>>32), uint32(in.stack[0])
	view, ok := in.mod.Memory().Read(ptr, size)
	if !ok {
		return nil, fmt.Errorf("%w: answer outside memory", ErrBadAnswer)
	}
	out := append([]byte(nil), view...)
	for _, q := range []uint32{ptr, p} {
		in.stack[0] = uint64(q)
		if err := in.free.CallWithStack(ctx, in.stack); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ok splits an answer into its ok value, or the module's typed error.
func ok(answer []byte) ([]byte, error) {
	const okPrefix, errPrefix = `{"ok":`, `{"error":`
	switch {
	case len(answer) > len(okPrefix) && string(answer[:len(okPrefix)]) == okPrefix && answer[len(answer)-1] == '}':
		return answer[len(okPrefix) : len(answer)-1], nil
	case len(answer) > len(errPrefix) && string(answer[:len(errPrefix)]) == errPrefix:
		var e struct {
			Error *vakt.Error `json:"error"`
		}
		if err := jsonx.Unmarshal(answer, &e); err != nil || e.Error == nil || e.Error.Code == "" {
			return nil, fmt.Errorf("%w: %.200s", ErrBadAnswer, answer)
		}
		return nil, e.Error
	}
	return nil, fmt.Errorf("%w: %.200s", ErrBadAnswer, answer)
}
