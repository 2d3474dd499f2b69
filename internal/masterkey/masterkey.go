// Package masterkey finds Vakt's master key: the 32-byte key that wraps every
// user's data key (see events/nats.Keyring). It comes from the environment
// variable VAKT_MASTER_KEY when that is set, and otherwise from the file
// master.key in the data directory, which is created with fresh random bytes
// on first start.
//
// Losing the master key loses every user's secrets, as if all were erased;
// keep a copy of master.key (or of the variable) apart from the data
// directory's backups. Nothing here ever prints the key.
package masterkey

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vaktmfa/vakt"
)

// Size is the length of the master key in bytes (AES-256).
const Size = 32

// EnvVar names the environment variable that holds the key (64 hex digits or
// base64, standard or URL-safe, padded or not).
const EnvVar = "VAKT_MASTER_KEY"

// FileName is the key file in the data directory: exactly 32 raw bytes, mode
// 0600.
const FileName = "master.key"

// Source says where the key came from, for a log line.
type Source string

const (
	SourceEnv       Source = "env"       // the environment variable VAKT_MASTER_KEY
	SourceFile      Source = "file"      // an existing <dataDir>/master.key
	SourceGenerated Source = "generated" // a new <dataDir>/master.key made just now
)

// Path returns the key file of a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Load returns the master key: from VAKT_MASTER_KEY if it is set, otherwise
// from <dataDir>/master.key, creating that file (and the directory, mode
// 0700) with 32 random bytes if it does not exist. A key file must be a
// regular file (not a symbolic link) of exactly 32 bytes that neither group
// nor others may read.
func Load(dataDir string) ([]byte, Source, error) {
	if v, ok := os.LookupEnv(EnvVar); ok {
		key, err := Parse(v)
		if err != nil {
			return nil, "", err
		}
		return key, SourceEnv, nil
	}
	if dataDir == "" {
		return nil, "", vakt.Errorf(vakt.CodeInvalidArgument, "master key: no data directory to keep %s in, and %s is not set", FileName, EnvVar)
	}
	path := Path(dataDir)
	key, err := readFile(path)
	if err == nil {
		return key, SourceFile, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	key, err = create(dataDir, path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use theirs.
		key, err = readFile(path)
		return key, SourceFile, err
	}
	if err != nil {
		return nil, "", err
	}
	return key, SourceGenerated, nil
}

// Parse decodes a master key given as text: 64 hex digits, or base64
// (standard or URL-safe, with or without padding) of 32 bytes. Surrounding
// white space is ignored. The error never contains the text.
func Parse(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "%s is set but empty; give 32 random bytes as 64 hex digits or base64 (openssl rand -base64 32), or unset it to use %s in the data directory", EnvVar, FileName)
	}
	if len(s) == 2*Size {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != Size {
			clear(key)
			return nil, vakt.Errorf(vakt.CodeInvalidArgument, "%s decodes to %d bytes, not %d; give 32 random bytes as 64 hex digits or base64 (openssl rand -base64 32)", EnvVar, len(key), Size)
		}
		return key, nil
	}
	return nil, vakt.Errorf(vakt.CodeInvalidArgument, "%s is neither 64 hex digits nor base64 (standard or URL-safe) of 32 bytes; give 32 random bytes, e.g. from openssl rand -base64 32", EnvVar)
}

// Generate returns a new random key (for tests and tools).
func Generate() ([]byte, error) {
	key := make([]byte, Size)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "master key: read entropy: %w", err)
	}
	return key, nil
}

// readFile reads and checks an existing key file. A missing file is an error
// that wraps fs.ErrNotExist.
func readFile(path string) ([]byte, error) {
	f, err := openNoFollow(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		if isSymlink(path) {
			return nil, symlinkError(path)
		}
		return nil, vakt.Errorf(vakt.CodeInternal, "master key: cannot open %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "master key: %s: %v", path, unwrapPath(err))
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, symlinkError(path)
	case !fi.Mode().IsRegular():
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "master key: %s is not a regular file (%s); it must be a file of exactly %d bytes", path, fi.Mode().Type(), Size)
	}
	if err := checkPerm(path, fi); err != nil {
		return nil, err
	}
	if fi.Size() != Size {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "master key: %s has %d bytes, not %d; it must hold exactly %d raw random bytes. Restore the original file from your backup (a new key cannot open the existing data keys)", path, fi.Size(), Size, Size)
	}
	key := make([]byte, Size)
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "master key: read %s: %v", path, unwrapPath(err))
	}
	// The file might have grown between Stat and Read.
	var one [1]byte
	if n, _ := f.Read(one[:]); n != 0 {
		clear(key)
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "master key: %s has more than %d bytes; it must hold exactly %d raw random bytes", path, Size, Size)
	}
	return key, nil
}

func symlinkError(path string) error {
	return vakt.Errorf(vakt.CodeInvalidArgument, "master key: %s is a symbolic link; Vakt reads the master key only from a regular file: replace the link with the file itself (mode 0600), or set %s", path, EnvVar)
}

func isSymlink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

// create writes a new key file. It fails with an error wrapping fs.ErrExist
// when the file appeared meanwhile. The key is written to a temporary file
// first and linked into place, so that no process ever sees a partial key
// file.
func create(dir, path string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "master key: create data directory %s: %v", dir, unwrapPath(err))
	}
	key, err := Generate()
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			clear(key)
		}
	}()
	tmp, err := os.CreateTemp(dir, "."+FileName+".tmp-*") // mode 0600
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "master key: create a file in %s: %v", dir, unwrapPath(err))
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, key); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "master key: write a file in %s: %v", dir, unwrapPath(err))
	}
	err = os.Link(tmp.Name(), path)
	if errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	if err != nil {
		// No hard links here: create in place, exclusively.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if err != nil {
			return nil, vakt.Errorf(vakt.CodeInternal, "master key: create %s: %v", path, unwrapPath(err))
		}
		if err := writeSync(f, key); err != nil {
			os.Remove(path) // a short file would be refused on the next start
			return nil, vakt.Errorf(vakt.CodeInternal, "master key: write %s: %v", path, unwrapPath(err))
		}
	}
	syncDir(dir)
	ok = true
	return key, nil
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
