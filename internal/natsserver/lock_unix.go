//go:build unix

package natsserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vaktmfa/vakt"
)

// lockDir takes an exclusive lock on dir/vakt.lock. nats-server takes no lock
// on its store directory, and two servers on one store damage it.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "vakt.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "natsserver: open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "another process"
		}
		return nil, vakt.Errorf(vakt.CodeConflict, "the data directory %s is in use by %s; stop it, choose another --data, or reach that server with --nats-url", dir, who)
	}
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "vakt pid %d\n", os.Getpid())
	return f, nil
}

func unlockDir(f *os.File) error {
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
