//go:build !unix

package secretfile

import (
	"io/fs"
	"os"
)

const oNoFollow = 0

// openNoFollow: without O_NOFOLLOW, a symbolic link is looked for first.
func openNoFollow(path string) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrInvalid}
	}
	return os.Open(path)
}

// checkPerm: permission bits mean nothing here; protect the file with the
// system's access control lists.
func (File) checkPerm(fs.FileInfo) error { return nil }
