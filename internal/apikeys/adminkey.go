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
	"github.com/vaktmfa/vakt/internal/secretfile"
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

// adminFile is the admin key file of path, for package secretfile.
func adminFile(path string) secretfile.File {
	return secretfile.File{What: "admin key", Path: path, EnvVar: EnvVar}
}

// readAdminFile reads and checks an existing key file. A missing file is an
// error that wraps fs.ErrNotExist.
func readAdminFile(path string) (string, error) {
	f, _, err := adminFile(path).Open()
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAdminFile+1))
	if err != nil {
		return "", vakt.Errorf(vakt.CodeInternal, "admin key: read %s: %v", path, err)
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

// createAdminFile writes a new key file with a new key. It fails with an
// error wrapping fs.ErrExist when the file appeared meanwhile.
func createAdminFile(dir, path string) (string, error) {
	_, secret, err := newSecret(rand.Reader)
	if err != nil {
		return "", err
	}
	if err := adminFile(path).Create(dir, []byte(secret+"\n")); err != nil {
		return "", err
	}
	return secret, nil
}
