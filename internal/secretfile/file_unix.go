//go:build unix

package secretfile

import (
	"io/fs"
	"os"
	"syscall"

	"github.com/vaktmfa/vakt"
)

const oNoFollow = syscall.O_NOFOLLOW

// openNoFollow opens path for reading, refusing a symbolic link in its last
// element (so that the file checked is the file read).
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
}

// checkPerm refuses a file that group or others may use in any way.
func (sf File) checkPerm(fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return vakt.Errorf(vakt.CodeInvalidArgument, "%s: %s is open to group or others (mode %04o); only its owner may read it: run chmod 600 %s", sf.What, sf.Path, perm, sf.Path)
	}
	return nil
}
