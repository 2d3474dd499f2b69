package masterkey_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/masterkey"
)

func testKey() []byte {
	k := make([]byte, masterkey.Size)
	for i := range k {
		k[i] = byte(0xf0 + i) // every base64 form differs from the hex form
	}
	return k
}

func unsetEnv(t *testing.T) {
	t.Helper()
	t.Setenv(masterkey.EnvVar, "") // restores the old value after the test
	os.Unsetenv(masterkey.EnvVar)
}

func TestEnvForms(t *testing.T) {
	key := testKey()
	forms := map[string]string{
		"hex":        hex.EncodeToString(key),
		"HEX":        strings.ToUpper(hex.EncodeToString(key)),
		"std":        base64.StdEncoding.EncodeToString(key),
		"raw std":    base64.RawStdEncoding.EncodeToString(key),
		"url":        base64.URLEncoding.EncodeToString(key),
		"raw url":    base64.RawURLEncoding.EncodeToString(key),
		"whitespace": "  " + base64.StdEncoding.EncodeToString(key) + "\n",
	}
	for name, v := range forms {
		t.Run(name, func(t *testing.T) {
			t.Setenv(masterkey.EnvVar, v)
			dir := t.TempDir()
			got, src, err := masterkey.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if src != masterkey.SourceEnv || !bytes.Equal(got, key) {
				t.Fatalf("source %s, key mismatch %v", src, !bytes.Equal(got, key))
			}
			if _, err := os.Stat(masterkey.Path(dir)); !os.IsNotExist(err) {
				t.Fatalf("a key file was written although the variable is set: %v", err)
			}
		})
	}
}

func TestEnvInvalid(t *testing.T) {
	key := testKey()
	short := base64.StdEncoding.EncodeToString(key[:16])
	long := base64.StdEncoding.EncodeToString(append(key, key...))
	hex63 := hex.EncodeToString(key)[:63]
	cases := map[string]string{
		"empty":       "",
		"spaces":      "   ",
		"short":       short,
		"long":        long,
		"hex 63":      hex63,
		"not hex":     strings.Repeat("zz", 32),
		"passphrase":  "correct horse battery staple",
		"mixed b64":   strings.Replace(base64.StdEncoding.EncodeToString(key), "8", "-", 1) + "+_",
		"hex with 0x": "0x" + hex.EncodeToString(key),
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(masterkey.EnvVar, v)
			dir := t.TempDir()
			got, _, err := masterkey.Load(dir)
			if err == nil {
				t.Fatalf("accepted %q", v)
			}
			if got != nil {
				t.Fatal("returned a key with an error")
			}
			if vakt.CodeOf(err) != vakt.CodeInvalidArgument {
				t.Fatalf("code %s: %v", vakt.CodeOf(err), err)
			}
			msg := err.Error()
			if !strings.Contains(msg, masterkey.EnvVar) {
				t.Fatalf("error does not name the variable: %v", err)
			}
			if strings.TrimSpace(v) != "" && strings.Contains(msg, strings.TrimSpace(v)) {
				t.Fatalf("error echoes the value: %v", err)
			}
			// Not even a fragment of the secret.
			if w := strings.TrimSpace(v); len(w) >= 8 && strings.Contains(msg, w[:8]) {
				t.Fatalf("error echoes part of the value: %v", err)
			}
			if _, err := os.Stat(masterkey.Path(dir)); !os.IsNotExist(err) {
				t.Fatal("fell back to a key file although the variable is set")
			}
		})
	}
}

func TestFileCreatedOnce(t *testing.T) {
	unsetEnv(t)
	dir := filepath.Join(t.TempDir(), "data", "vakt")
	key, src, err := masterkey.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if src != masterkey.SourceGenerated || len(key) != masterkey.Size {
		t.Fatalf("source %s, %d bytes", src, len(key))
	}
	if bytes.Equal(key, make([]byte, masterkey.Size)) {
		t.Fatal("generated an all-zero key")
	}
	fi, err := os.Lstat(masterkey.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || fi.Size() != masterkey.Size {
		t.Fatalf("key file mode %v size %d", fi.Mode(), fi.Size())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("data directory mode %v", di.Mode().Perm())
	}
	again, src, err := masterkey.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if src != masterkey.SourceFile || !bytes.Equal(again, key) {
		t.Fatalf("second load: source %s, same key %v", src, bytes.Equal(again, key))
	}
	other, _, err := masterkey.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, key) {
		t.Fatal("two data directories got the same key")
	}
}

func TestFileConcurrentCreate(t *testing.T) {
	unsetEnv(t)
	dir := t.TempDir()
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], _, errs[i] = masterkey.Load(dir) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatal("concurrent first loads got different keys")
		}
	}
}

func TestFileExisting(t *testing.T) {
	unsetEnv(t)
	dir := t.TempDir()
	key := testKey()
	if err := os.WriteFile(masterkey.Path(dir), key, 0o600); err != nil {
		t.Fatal(err)
	}
	got, src, err := masterkey.Load(dir)
	if err != nil || src != masterkey.SourceFile || !bytes.Equal(got, key) {
		t.Fatalf("load: %v %s", err, src)
	}
	// 0400 is fine too.
	if err := os.Chmod(masterkey.Path(dir), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, _, err := masterkey.Load(dir); err != nil {
		t.Fatal(err)
	}
}

func TestFileBadPermissions(t *testing.T) {
	unsetEnv(t)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o602, 0o610} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := masterkey.Path(dir)
			if err := os.WriteFile(path, testKey(), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, _, err := masterkey.Load(dir)
			if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Fatalf("mode %v: err = %v", mode, err)
			}
			assertNoSecret(t, err, testKey())
			// The file was left alone.
			if fi, _ := os.Stat(path); fi.Mode().Perm() != mode {
				t.Fatalf("mode changed to %v", fi.Mode().Perm())
			}
		})
	}
}

func TestFileWrongLength(t *testing.T) {
	unsetEnv(t)
	for _, n := range []int{0, 16, 31, 33, 44, 64} {
		dir := t.TempDir()
		content := bytes.Repeat([]byte{'a'}, n)
		if err := os.WriteFile(masterkey.Path(dir), content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := masterkey.Load(dir)
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !strings.Contains(err.Error(), "not 32") {
			t.Fatalf("%d bytes: err = %v", n, err)
		}
		// Never regenerated over the bad file.
		if got, _ := os.ReadFile(masterkey.Path(dir)); !bytes.Equal(got, content) {
			t.Fatalf("%d bytes: the file was replaced", n)
		}
	}
}

func TestFileSymlink(t *testing.T) {
	unsetEnv(t)
	dir := t.TempDir()
	real := filepath.Join(t.TempDir(), "elsewhere.key")
	if err := os.WriteFile(real, testKey(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, masterkey.Path(dir)); err != nil {
		t.Fatal(err)
	}
	_, _, err := masterkey.Load(dir)
	if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("err = %v", err)
	}
	assertNoSecret(t, err, testKey())

	// A dangling link is refused too, not followed to create a file.
	dir2 := t.TempDir()
	target := filepath.Join(t.TempDir(), "missing.key")
	if err := os.Symlink(target, masterkey.Path(dir2)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := masterkey.Load(dir2); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("dangling link: err = %v", err)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatal("created a key file through a dangling link")
	}
}

func TestFileNotRegular(t *testing.T) {
	unsetEnv(t)
	dir := t.TempDir()
	if err := os.Mkdir(masterkey.Path(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := masterkey.Load(dir); vakt.CodeOf(err) != vakt.CodeInvalidArgument || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err = %v", err)
	}
}

func TestNoDataDir(t *testing.T) {
	unsetEnv(t)
	if _, _, err := masterkey.Load(""); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Fatalf("err = %v", err)
	}
}

func TestGenerate(t *testing.T) {
	a, err := masterkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := masterkey.Generate()
	if len(a) != masterkey.Size || bytes.Equal(a, b) {
		t.Fatal("Generate is not random 32 bytes")
	}
}

func assertNoSecret(t *testing.T, err error, key []byte) {
	t.Helper()
	msg := err.Error()
	for _, s := range []string{
		string(key), hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key),
		base64.RawURLEncoding.EncodeToString(key),
	} {
		if strings.Contains(msg, s) {
			t.Fatalf("error contains the key: %v", err)
		}
	}
}
