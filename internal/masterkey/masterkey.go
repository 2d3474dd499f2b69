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
	"github.com/vaktmfa/vakt/internal/secretfile"
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

// file is the key file of path, for package secretfile.
func file(path string) secretfile.File {
	return secretfile.File{What: "master key", Path: path, EnvVar: EnvVar}
}

// readFile reads and checks an existing key file. A missing file is an error
// that wraps fs.ErrNotExist.
func readFile(path string) ([]byte, error) {
	f, fi, err := file(path).Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() != Size {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "master key: %s has %d bytes, not %d; it must hold exactly %d raw random bytes. Restore the original file from your backup (a new key cannot open the existing data keys)", path, fi.Size(), Size, Size)
	}
	key := make([]byte, Size)
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "master key: read %s: %v", path, err)
	}
	// The file might have grown between Stat and Read.
	var one [1]byte
	if n, _ := f.Read(one[:]); n != 0 {
		clear(key)
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "master key: %s has more than %d bytes; it must hold exactly %d raw random bytes", path, Size, Size)
	}
	return key, nil
}

// create writes a new key file with a new key. It fails with an error
// wrapping fs.ErrExist when the file appeared meanwhile.
func create(dir, path string) ([]byte, error) {
	key, err := Generate()
	if err != nil {
		return nil, err
	}
	if err := file(path).Create(dir, key); err != nil {
		clear(key)
		return nil, err
	}
	return key, nil
}
