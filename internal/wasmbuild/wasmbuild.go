// Package wasmbuild builds Vakt's core WebAssembly module from the source
// tree with the Go toolchain, for the tests and for `vakt serve
// --engine=wasm` when no --wasm-module is given, and the floor module
// (wasm/floor) that the benchmarks run beside it. The modules are build
// products (wasm/build is not committed), so a fresh clone stays green for
// `go build ./...` and `go vet ./...`: nothing embeds a file that may not
// exist yet. Go's build cache makes a second build of unchanged sources
// take about as long as a link.
package wasmbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Package is the core module's main package.
const Package = "./wasm/core"

// FloorPackage is the floor module's main package: Go's runtime behind the
// ABI's exports and nothing else, which the benchmarks run beside the core
// module to show what any Go module of that shape costs.
const FloorPackage = "./wasm/floor"

// Flags are the build flags of the reproducible build (`just wasm`).
var Flags = []string{"-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-ldflags=-s"}

// Build compiles the core module from the Vakt module rooted at root into
// out and returns its bytes.
func Build(ctx context.Context, root, out string) ([]byte, error) {
	return BuildPackage(ctx, root, Package, out)
}

// BuildPackage compiles the main package pkg (a path such as Package,
// relative to root) as a wasip1 reactor with Flags into out and returns its
// bytes.
func BuildPackage(ctx context.Context, root, pkg, out string) ([]byte, error) {
	args := append([]string{"build"}, Flags...)
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("wasmbuild: go build %s: %v\n%s", pkg, err, stderr.Bytes())
	}
	return os.ReadFile(out)
}

// Root finds the root of the Vakt module (the directory of its go.mod) from
// dir upwards.
func Root(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), "module github.com/vaktmfa/vakt") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("wasmbuild: %s is not inside the vakt source tree; give the module's path (--wasm-module)", dir)
		}
		d = parent
	}
}

// built is one module built at most once per process.
type built struct {
	pkg, prefix string
	once        sync.Once
	wasm        []byte
	err         error
}

var (
	core  = &built{pkg: Package, prefix: "vakt-"}
	floor = &built{pkg: FloorPackage, prefix: "floor-"}
)

// Module returns the core module built from the source tree that holds the
// working directory, once per process. It is built into the user's cache
// directory (vakt/wasm), named by its content hash.
func Module(ctx context.Context) ([]byte, error) { return core.get(ctx) }

// FloorModule returns the floor module (FloorPackage) as Module returns the
// core module: built once per process into the same directory.
func FloorModule(ctx context.Context) ([]byte, error) { return floor.get(ctx) }

func (m *built) get(ctx context.Context) ([]byte, error) {
	m.once.Do(func() { m.wasm, m.err = m.build(ctx) })
	return m.wasm, m.err
}

func (m *built) build(ctx context.Context) ([]byte, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root, err := Root(wd)
	if err != nil {
		return nil, err
	}
	dir, err := CacheDir()
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, "build-*.wasm")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	b, err := BuildPackage(ctx, root, m.pkg, tmp.Name())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	final := filepath.Join(dir, m.prefix+hex.EncodeToString(sum[:8])+".wasm")
	if _, err := os.Stat(final); err != nil {
		_ = os.Rename(tmp.Name(), final)
	}
	return b, nil
}

// CacheDir is where built modules and wazero's compilation cache live:
// $XDG_CACHE_HOME/vakt/wasm (or the OS equivalent), else a directory in
// the temporary directory.
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "vakt", "wasm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("wasmbuild: %w", err)
	}
	return dir, nil
}
