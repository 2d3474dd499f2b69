package apikeys_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/apikeys"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
)

func unsetEnv(t *testing.T) {
	t.Helper()
	t.Setenv(apikeys.EnvVar, "") // restores the old value after the test
	os.Unsetenv(apikeys.EnvVar)
}

func TestAdminKeyFromEnv(t *testing.T) {
	vaktForm := "vakt_" + strings.Repeat("A", 22) + "_" + strings.Repeat("B", 42) + "A"
	for name, v := range map[string]string{
		"vakt form":  vaktForm,
		"32 chars":   strings.Repeat("k", 32),
		"printable":  `!"#$%&'()*+,-./0123456789:;<=>?@[\]^_{|}~`,
		"whitespace": "  " + strings.Repeat("k", 40) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(apikeys.EnvVar, v)
			dir := t.TempDir()
			got, created, err := apikeys.LoadAdminKey(dir)
			if err != nil || created || got != strings.TrimSpace(v) {
				t.Fatalf("%q, %v, %v", got, created, err)
			}
			if _, err := os.Stat(apikeys.AdminKeyPath(dir)); !os.IsNotExist(err) {
				t.Fatalf("a key file was written although the variable is set: %v", err)
			}
		})
	}
	for name, v := range map[string]string{
		"empty":     "",
		"spaces":    "   ",
		"short":     strings.Repeat("k", 31),
		"inner sp":  strings.Repeat("k", 20) + " " + strings.Repeat("k", 20),
		"non-ascii": strings.Repeat("ø", 32),
		"control":   strings.Repeat("k", 32) + "\x01" + "k",
		"too long":  strings.Repeat("k", 513),
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(apikeys.EnvVar, v)
			got, _, err := apikeys.LoadAdminKey(t.TempDir())
			if vakt.CodeOf(err) != vakt.CodeInvalidArgument || got != "" {
				t.Fatalf("%q, %v", got, err)
			}
			if len(strings.TrimSpace(v)) >= 8 && strings.Contains(err.Error(), strings.TrimSpace(v)) {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
}

func TestAdminKeyFileCreatedOnce(t *testing.T) {
	unsetEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	secret, created, err := apikeys.LoadAdminKey(dir)
	if err != nil || !created {
		t.Fatalf("first load: created %v, %v", created, err)
	}
	if !strings.HasPrefix(secret, apikeys.Prefix) || len(secret) != apikeys.SecretLen {
		t.Fatalf("generated key %q is not in Vakt's form", secret)
	}
	fi, err := os.Lstat(apikeys.AdminKeyPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o", fi.Mode().Perm())
	}
	again, created, err := apikeys.LoadAdminKey(dir)
	if err != nil || created || again != secret {
		t.Fatalf("second load: %v, %v, same %v", created, err, again == secret)
	}
	// The generated key works as the admin key.
	n := natstest.Start(t)
	k, err := apikeys.Open(context.Background(), n.JetStream, apikeys.Options{Admin: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	p, err := k.Authenticate(context.Background(), secret)
	if err != nil || !p.IsAdmin() {
		t.Fatalf("%+v, %v", p, err)
	}
}

func TestAdminKeyFileConcurrentCreate(t *testing.T) {
	unsetEnv(t)
	dir := t.TempDir()
	var wg sync.WaitGroup
	got := make([]string, 8)
	var createdN int
	var mu sync.Mutex
	for i := range got {
		wg.Go(func() {
			s, created, err := apikeys.LoadAdminKey(dir)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
			if created {
				mu.Lock()
				createdN++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, s := range got {
		if s != got[0] {
			t.Fatal("concurrent loads disagree")
		}
	}
	if createdN != 1 {
		t.Fatalf("%d loads say they created the key", createdN)
	}
}

func TestAdminKeyFileChecks(t *testing.T) {
	unsetEnv(t)
	good := strings.Repeat("k", 40)
	write := func(t *testing.T, content string, mode os.FileMode) string {
		dir := t.TempDir()
		if err := os.WriteFile(apikeys.AdminKeyPath(dir), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(apikeys.AdminKeyPath(dir), mode); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("existing", func(t *testing.T) {
		dir := write(t, good+"\n", 0o600)
		s, created, err := apikeys.LoadAdminKey(dir)
		if err != nil || created || s != good {
			t.Fatalf("%q %v %v", s, created, err)
		}
	})
	t.Run("owner read only", func(t *testing.T) {
		dir := write(t, good, 0o400)
		if _, _, err := apikeys.LoadAdminKey(dir); err != nil {
			t.Fatal(err)
		}
	})
	for name, c := range map[string]struct {
		content string
		mode    os.FileMode
	}{
		"group readable": {good, 0o640},
		"world readable": {good, 0o604},
		"group writable": {good, 0o620},
		"too short":      {"short\n", 0o600},
		"empty":          {"", 0o600},
		"two lines":      {good + "\n" + good + "\n", 0o600},
		"too big":        {strings.Repeat("k", 2000), 0o600},
	} {
		t.Run(name, func(t *testing.T) {
			if runtime.GOOS == "windows" && c.mode != 0o600 {
				t.Skip("no permission bits")
			}
			dir := write(t, c.content, c.mode)
			s, _, err := apikeys.LoadAdminKey(dir)
			if vakt.CodeOf(err) != vakt.CodeInvalidArgument || s != "" {
				t.Fatalf("%q, %v", s, err)
			}
			if strings.Contains(err.Error(), good) {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
	t.Run("symlink", func(t *testing.T) {
		target := write(t, good, 0o600)
		dir := t.TempDir()
		if err := os.Symlink(apikeys.AdminKeyPath(target), apikeys.AdminKeyPath(dir)); err != nil {
			t.Skip(err)
		}
		_, _, err := apikeys.LoadAdminKey(dir)
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !strings.Contains(err.Error(), "symbolic link") {
			t.Fatal(err)
		}
	})
	t.Run("dangling symlink", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Symlink(filepath.Join(dir, "nowhere"), apikeys.AdminKeyPath(dir)); err != nil {
			t.Skip(err)
		}
		_, _, err := apikeys.LoadAdminKey(dir)
		if err == nil {
			t.Fatal("a dangling symlink was followed")
		}
		if _, err := os.Stat(filepath.Join(dir, "nowhere")); !os.IsNotExist(err) {
			t.Fatal("a key was written through the symlink")
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(apikeys.AdminKeyPath(dir), 0o700); err != nil {
			t.Fatal(err)
		}
		_, _, err := apikeys.LoadAdminKey(dir)
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument {
			t.Fatal(err)
		}
	})
	t.Run("no data dir", func(t *testing.T) {
		_, _, err := apikeys.LoadAdminKey("")
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument {
			t.Fatal(err)
		}
	})
}
