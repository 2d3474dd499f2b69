package wasmbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// TestFloorModule builds the smallest module (the core module's build is
// exercised by every test of hosts/wazero): WebAssembly, reproducible, and
// kept in the cache directory under its content hash.
func TestFloorModule(t *testing.T) {
	ctx := context.Background()
	b, err := FloorModule(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x00asm")) {
		t.Fatalf("not WebAssembly: % x", b[:min(8, len(b))])
	}
	root, err := Root(".")
	if err != nil {
		t.Fatal(err)
	}
	again, err := BuildPackage(ctx, root, FloorPackage, filepath.Join(t.TempDir(), "floor.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Fatal("two builds of the floor module differ")
	}
	dir, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if _, err := os.Stat(filepath.Join(dir, "floor-"+hex.EncodeToString(sum[:8])+".wasm")); err != nil {
		t.Fatal(err)
	}
}
