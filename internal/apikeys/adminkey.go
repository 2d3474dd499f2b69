package apikeys

import (
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vaktmfa/vakt"
)

// EnvVar names the environment variable that holds the admin key.
const EnvVar = "VAKT_API_KEY"

// AdminKeyFile is the admin key's file in the data directory (mode 0600).
const AdminKeyFile = "admin.key"

// MinAdminKeyLen is the shortest admin key given in VAKT_API_KEY (or the
// file) that is not in Vakt's own form.
const MinAdminKeyLen = 32

// maxAdminFile bounds what is read from admin.key.
const maxAdminFile = 1024

// AdminKeyPath returns the admin key file of a data directory.
func AdminKeyPath(dataDir string) string { return filepath.Join(dataDir, AdminKeyFile) }

// ValidateAdminKey checks an admin key: Vakt's own form (vakt_<id>_<secret>)
// or at least 32 printable ASCII characters without spaces, at most 512.
// The error never contains the key.
func ValidateAdminKey(s string) error {
	if _, ok := parseSecret(s); ok {
		return nil
	}
	if len(s) < MinAdminKeyLen {
		return vakt.Errorf(vakt.CodeInvalidArgument, "the admin key has %d characters; give at least %d (or leave %s unset to have one made)", len(s), MinAdminKeyLen, EnvVar)
	}
	if len(s) > maxBearer {
		return vakt.Errorf(vakt.CodeInvalidArgument, "the admin key has %d characters; give at most %d", len(s), maxBearer)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return vakt.Errorf(vakt.CodeInvalidArgument, "the admin key contains a space, a control character or non-ASCII; use printable ASCII only (it travels in an HTTP header)")
		}
	}
	return nil
}

// LoadAdminKey returns the admin key: VAKT_API_KEY if it is set, otherwise
// the content of <dataDir>/admin.key, which is created with a new key (and
// created = true, so that the caller prints it once) when it does not
// exist. The file must be a regular file (not a symbolic link) that neither
// group nor others may use; surrounding white space is ignored.
func LoadAdminKey(dataDir string) (secret string, created bool, err error) {
	if v, ok := os.LookupEnv(EnvVar); ok {
		v = strings.TrimSpace(v)
		if v == "" {
			return "", false, vakt.Errorf(vakt.CodeInvalidArgument, "%s is set but empty; set it to a key of at least %d characters, or unset it to use %s in the data directory", EnvVar, MinAdminKeyLen, AdminKeyFile)
		}
		if err := ValidateAdminKey(v); err != nil {
			return "", false, vakt.Errorf(vakt.CodeInvalidArgument, "%s: %s", EnvVar, vakt.As(err).Message)
		}
		return v, false, nil
	}
	if dataDir == "" {
		return "", false, vakt.Errorf(vakt.CodeInvalidArgument, "admin key: no data directory to keep %s in, and %s is not set", AdminKeyFile, EnvVar)
	}
	path := AdminKeyPath(dataDir)
	secret, err = readAdminFile(path)
	if err == nil {
		return secret, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	secret, err = createAdminFile(dataDir, path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use theirs.
		secret, err = readAdminFile(path)
		return secret, false, err
	}
	if err != nil {
		return "", false, err
	}
	return secret, true, nil
}

// readAdminFile reads and checks an existing key file. A missing file is an
// error that wraps fs.ErrNotExist.
func readAdminFile(path string) (string, error) {
	f, err := openNoFollow(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err != nil {
		if isSymlink(path) {
			return "", symlinkError(path)
		}
		return "", vakt.Errorf(vakt.CodeInternal, "admin key: cannot open %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", vakt.Errorf(vakt.CodeInternal, "admin key: %s: %v", path, unwrapPath(err))
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return "", symlinkError(path)
	case !fi.Mode().IsRegular():
		return "", vakt.Errorf(vakt.CodeInvalidArgument, "admin key: %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if err := checkPerm(path, fi); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxAdminFile+1))
	if err != nil {
		return "", vakt.Errorf(vakt.CodeInternal, "admin key: read %s: %v", path, unwrapPath(err))
	}
	if len(b) > maxAdminFile {
		return "", vakt.Errorf(vakt.CodeInvalidArgument, "admin key: %s has more than %d bytes; it must hold the key on one line", path, maxAdminFile)
	}
	s := strings.TrimSpace(string(b))
	if err := ValidateAdminKey(s); err != nil {
		return "", vakt.Errorf(vakt.CodeInvalidArgument, "admin key: %s: %s; fix the file or delete it to have a new key made", path, vakt.As(err).Message)
	}
	return s, nil
}

func symlinkError(path string) error {
	return vakt.Errorf(vakt.CodeInvalidArgument, "admin key: %s is a symbolic link; Vakt reads the admin key only from a regular file: replace the link with the file itself (mode 0600), or set %s", path, EnvVar)
}

func isSymlink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

// createAdminFile writes a new key file. It fails with an error wrapping
// fs.ErrExist when the file appeared meanwhile. The key is written to a
// temporary file first and linked into place, so that no process ever sees
// a partial file.
func createAdminFile(dir, path string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", vakt.Errorf(vakt.CodeInternal, "admin key: create data directory %s: %v", dir, unwrapPath(err))
	}
	_, secret, err := newSecret(rand.Reader)
	if err != nil {
		return "", err
	}
	content := []byte(secret + "\n")
	tmp, err := os.CreateTemp(dir, "."+AdminKeyFile+".tmp-*") // mode 0600
	if err != nil {
		return "", vakt.Errorf(vakt.CodeInternal, "admin key: create a file in %s: %v", dir, unwrapPath(err))
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, content); err != nil {
		return "", vakt.Errorf(vakt.CodeInternal, "admin key: write a file in %s: %v", dir, unwrapPath(err))
	}
	err = os.Link(tmp.Name(), path)
	if errors.Is(err, fs.ErrExist) {
		return "", err
	}
	if err != nil {
		// No hard links here: create in place, exclusively.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return "", err
		}
		if err != nil {
			return "", vakt.Errorf(vakt.CodeInternal, "admin key: create %s: %v", path, unwrapPath(err))
		}
		if err := writeSync(f, content); err != nil {
			os.Remove(path) // a partial key would be refused on the next start
			return "", vakt.Errorf(vakt.CodeInternal, "admin key: write %s: %v", path, unwrapPath(err))
		}
	}
	syncDir(dir)
	return secret, nil
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
