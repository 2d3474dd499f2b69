package apikeys

import (
	"crypto/sha256"
	"encoding/base64"
	"io"

	"github.com/vaktmfa/vakt"
)

// The secret form: Prefix | id (22) | "_" | secret (43).
const (
	// Prefix starts every key Vakt makes.
	Prefix = "vakt_"

	idBytes     = 16
	secretBytes = 32
	idLen       = 22 // base64url, no padding, of 16 bytes
	secretLen   = 43 // of 32 bytes
	// SecretLen is the length of a key in its secret form.
	SecretLen = len(Prefix) + idLen + 1 + secretLen
	// maxBearer bounds what Authenticate hashes at all.
	maxBearer = 512
)

var b64 = base64.RawURLEncoding.Strict()

// newSecret makes a key: its id and its secret form.
func newSecret(r io.Reader) (id, secret string, err error) {
	var raw [idBytes + secretBytes]byte
	defer clear(raw[:])
	if _, err := io.ReadFull(r, raw[:]); err != nil {
		return "", "", vakt.Errorf(vakt.CodeInternal, "api keys: read entropy: %w", err)
	}
	id = b64.EncodeToString(raw[:idBytes])
	return id, Prefix + id + "_" + b64.EncodeToString(raw[idBytes:]), nil
}

// parseSecret returns the id of a key in its secret form, and whether s has
// that form (prefix, lengths, canonical base64url of 16 and 32 bytes).
func parseSecret(s string) (id string, ok bool) {
	if len(s) != SecretLen || s[:len(Prefix)] != Prefix || s[len(Prefix)+idLen] != '_' {
		return "", false
	}
	id = s[len(Prefix) : len(Prefix)+idLen]
	if !validID(id) {
		return "", false
	}
	var buf [secretBytes]byte
	if n, err := b64.Decode(buf[:], []byte(s[len(Prefix)+idLen+1:])); err != nil || n != secretBytes {
		return "", false
	}
	return id, true
}

// validID reports whether id is the canonical base64url of 16 bytes (and
// so a safe KV key).
func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	var buf [idBytes + 2]byte
	n, err := b64.Decode(buf[:], []byte(id))
	return err == nil && n == idBytes
}

func hashOf(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }
