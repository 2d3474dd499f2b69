package wazerohost_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	wazerohost "github.com/vaktmfa/vakt/hosts/wazero"
	"github.com/vaktmfa/vakt/internal/wasmbuild"
)

// module builds the core module from this source tree (once per test
// binary), or reads the one VAKT_BENCH_MODULE names (to compare two builds
// in one run of the benchmarks; the conformance tests then run on it too).
func module(t testing.TB) []byte {
	t.Helper()
	if path := os.Getenv("VAKT_BENCH_MODULE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b, err := wasmbuild.Module(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// floorModule builds the floor module (wasm/floor) once per test binary:
// the ABI's exports over Go's runtime and nothing else.
func floorModule(t testing.TB) []byte {
	t.Helper()
	b, err := wasmbuild.FloorModule(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// open starts a host on the module with a compilation cache shared by the
// tests of this package.
func open(t testing.TB, cfg wazerohost.Config) *wazerohost.Host {
	t.Helper()
	return openModule(t, module(t), cfg)
}

// openModule is open for any module with the ABI's exports.
func openModule(t testing.TB, wasm []byte, cfg wazerohost.Config) *wazerohost.Host {
	t.Helper()
	if cfg.CacheDir == "" {
		dir, err := wasmbuild.CacheDir()
		if err != nil {
			t.Fatal(err)
		}
		cfg.CacheDir = filepath.Join(dir, "compiled")
	}
	h, err := wazerohost.Open(context.Background(), wasm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}
