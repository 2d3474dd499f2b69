// Package secretfile reads and creates the small secret files of a data
// directory (master.key, admin.key): a file is read only if it is a regular
// file, not a symbolic link, that neither group nor others may use, and a
// new one is written whole (mode 0600) before anyone can see it, so that a
// crash or a second process never meets half a key.
//
// Errors are *vakt.Error that name the secret (what, such as "master key")
// and the path, never the content; a missing file wraps fs.ErrNotExist and
// a file that appeared while Create ran wraps fs.ErrExist, so that callers
// can create on first start and read what another process made.
package secretfile

import (
	"errors"
	"io/fs"
	"os"

	"github.com/vaktmfa/vakt"
)

// File names one secret file: what it holds (for messages, e.g. "admin
// key"), its path, and the environment variable that can stand in for it
// (offered in the message about a symbolic link).
type File struct {
	What   string
	Path   string
	EnvVar string
}

// Open opens the existing file for reading and returns it with its
// FileInfo, after checking that it is a regular file, not a symbolic link,
// that neither group nor others may use. The caller reads and closes it.
func (sf File) Open() (*os.File, fs.FileInfo, error) {
	f, err := openNoFollow(sf.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	if err != nil {
		if sf.isSymlink() {
			return nil, nil, sf.symlinkError()
		}
		return nil, nil, vakt.Errorf(vakt.CodeInternal, "%s: cannot open %s: %v", sf.What, sf.Path, unwrapPath(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, vakt.Errorf(vakt.CodeInternal, "%s: %s: %v", sf.What, sf.Path, unwrapPath(err))
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		err = sf.symlinkError()
	case !fi.Mode().IsRegular():
		err = vakt.Errorf(vakt.CodeInvalidArgument, "%s: %s is not a regular file (%s)", sf.What, sf.Path, fi.Mode().Type())
	default:
		err = sf.checkPerm(fi)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// Create writes content to the new file (mode 0600), creating its
// directory (mode 0700) if need be. It fails with an error wrapping
// fs.ErrExist when the file appeared meanwhile. The content is written to a
// temporary file first and linked into place, so that no process ever sees
// a partial file.
func (sf File) Create(dir string, content []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return vakt.Errorf(vakt.CodeInternal, "%s: create data directory %s: %v", sf.What, dir, unwrapPath(err))
	}
	tmp, err := os.CreateTemp(dir, ".secret.tmp-*") // mode 0600
	if err != nil {
		return vakt.Errorf(vakt.CodeInternal, "%s: create a file in %s: %v", sf.What, dir, unwrapPath(err))
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, content); err != nil {
		return vakt.Errorf(vakt.CodeInternal, "%s: write a file in %s: %v", sf.What, dir, unwrapPath(err))
	}
	err = os.Link(tmp.Name(), sf.Path)
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if err != nil {
		// No hard links here: create in place, exclusively.
		f, err := os.OpenFile(sf.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		if err != nil {
			return vakt.Errorf(vakt.CodeInternal, "%s: create %s: %v", sf.What, sf.Path, unwrapPath(err))
		}
		if err := writeSync(f, content); err != nil {
			os.Remove(sf.Path) // a partial file would be refused on the next start
			return vakt.Errorf(vakt.CodeInternal, "%s: write %s: %v", sf.What, sf.Path, unwrapPath(err))
		}
	}
	syncDir(dir)
	return nil
}

func (sf File) symlinkError() error {
	return vakt.Errorf(vakt.CodeInvalidArgument, "%s: %s is a symbolic link; Vakt reads the %s only from a regular file: replace the link with the file itself (mode 0600), or set %s", sf.What, sf.Path, sf.What, sf.EnvVar)
}

func (sf File) isSymlink() bool {
	fi, err := os.Lstat(sf.Path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

func writeSync(f *os.File, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// unwrapPath drops the path from an *fs.PathError (the message names it).
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
