// Package wasmbuild builds Vakt's core WebAssembly module from the source
// tree with the Go toolchain, for the tests and for `vakt serve
// --engine=wasm` when no --wasm-module is given. The module is a build
// product (wasm/build is not committed), so a fresh clone stays green for
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

// Flags are the build flags of the reproducible build (`just wasm`).
var Flags = []string{"-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-ldflags=-s"}

// Build compiles the core module from the Vakt module rooted at root into
// out and returns its bytes.
func Build(ctx context.Context, root, out string) ([]byte, error) {
	args := append([]string{"build"}, Flags...)
	args = append(args, "-o", out, Package)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("wasmbuild: go build %s: %v\n%s", Package, err, stderr.Bytes())
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

var (
	once   sync.Once
	cached []byte
	errOne error
)

// Module returns the core module built from the source tree that holds the
// working directory, once per process. It is built into the user's cache
// directory (vakt/wasm), named by its content hash.
func Module(ctx context.Context) ([]byte, error) {
	once.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			errOne = err
			return
		}
		root, err := Root(wd)
		if err != nil {
			errOne = err
			return
		}
		dir, err := CacheDir()
		if err != nil {
			errOne = err
			return
		}
		tmp, err := os.CreateTemp(dir, "build-*.wasm")
		if err != nil {
			errOne = err
			return
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		b, err := Build(ctx, root, tmp.Name())
		if err != nil {
			errOne = err
			return
		}
		sum := sha256.Sum256(b)
		final := filepath.Join(dir, "vakt-"+hex.EncodeToString(sum[:8])+".wasm")
		if _, err := os.Stat(final); err != nil {
			_ = os.Rename(tmp.Name(), final)
		}
		cached = b
	})
	return cached, errOne
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
