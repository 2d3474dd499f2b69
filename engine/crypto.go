package engine

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"io"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// DataKeySize is the size of a user's data key (AES-256).
const DataKeySize = 32

// Purposes bind a sealed value or keyed hash to what it is, so that a value
// cannot be moved from one field or authenticator to another.
const (
	purposeSeed       = "seed"
	purposeAddress    = "address"
	purposeActivation = "activation"
	purposeOOBCode    = "oob-code"
	purposeRecovery   = "recovery-code"
	purposePass       = "temporary-pass"
	purposeRemember   = "remember-token"
	purposeClient     = "client"
)

// DataKey is a user's data key, prepared once for AES-256-GCM so that each
// decision only opens or seals. It seals the user's seeds and addresses and
// keys the hashes of codes, passes and tokens; destroying it erases the user.
// It never prints its bytes.
type DataKey struct {
	raw  [DataKeySize]byte
	aead cipher.AEAD
}

// NewDataKey prepares a 32-byte data key.
func NewDataKey(raw []byte) (*DataKey, error) {
	if len(raw) != DataKeySize {
		return nil, vakt.Errorf(vakt.CodeInternal, "a data key has %d bytes, not %d", DataKeySize, len(raw))
	}
	k := &DataKey{}
	copy(k.raw[:], raw)
	block, err := aes.NewCipher(k.raw[:])
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "data key: %w", err)
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "data key: %w", err)
	}
	return k, nil
}

// Bytes returns a copy of the key, for a keyring to wrap and store.
func (k *DataKey) Bytes() []byte { return append([]byte(nil), k.raw[:]...) }

func (k *DataKey) String() string   { return "engine.DataKey[redacted]" }
func (k *DataKey) GoString() string { return k.String() }

func (d *decider) dataKey() (*DataKey, error) {
	if d.env.DataKey == nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "no data key for this user; the shell must supply one")
	}
	return d.env.DataKey, nil
}

// aad appends to dst the additional data of a sealed value: the user, the
// object and the purpose, each length-prefixed so that no two contexts share
// bytes.
func aad(dst []byte, tenant, user, object, purpose string) []byte {
	b := append(dst[:0], "vakt-seal-v1"...)
	for _, s := range []string{tenant, user, object, purpose} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// aad builds the additional data in the decider's scratch space.
func (d *decider) aad(object, purpose string) []byte {
	return aad(d.scratch().aad[:0], d.u.Tenant, d.u.ID, object, purpose)
}

// seal encrypts plaintext under ad with a fresh nonce from rand.
func seal(key *DataKey, rand io.Reader, ad, plaintext []byte) (events.Sealed, error) {
	nonce := make([]byte, key.aead.NonceSize())
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return events.Sealed{}, vakt.Errorf(vakt.CodeInternal, "read entropy: %w", err)
	}
	return events.Sealed{Nonce: nonce, Box: key.aead.Seal(nil, nonce, plaintext, ad)}, nil
}

// open decrypts a sealed value into dst.
func open(key *DataKey, s events.Sealed, ad, dst []byte) ([]byte, error) {
	if len(s.Nonce) != key.aead.NonceSize() {
		return nil, vakt.Errorf(vakt.CodeInternal, "sealed value has a %d-byte nonce", len(s.Nonce))
	}
	out, err := key.aead.Open(dst, s.Nonce, s.Box, ad)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "sealed value does not open with this user's data key (wrong key, or altered)")
	}
	return out, nil
}

// keyedHash is HMAC-SHA256 under a subkey of the data key for purpose, over
// length-prefixed parts. Codes, passes and tokens are stored only this way:
// without the data key the hashes cannot even be brute-forced.
func keyedHash(key *DataKey, purpose string, parts ...[]byte) []byte {
	sub := hmac.New(sha256.New, key.raw[:])
	sub.Write([]byte("vakt-subkey-v1:" + purpose))
	m := hmac.New(sha256.New, sub.Sum(nil))
	var n [4]byte
	for _, p := range parts {
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		m.Write(n[:])
		m.Write(p)
	}
	return m.Sum(nil)
}

func equalHash(a, b []byte) bool { return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1 }

// ---- entropy ------------------------------------------------------------------

// randUint32n returns a uniform number in [0, n) by rejection sampling.
func randUint32n(r io.Reader, n uint32) (uint32, error) {
	if n == 0 {
		return 0, nil
	}
	limit := ^uint32(0) - ^uint32(0)%n
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, vakt.Errorf(vakt.CodeInternal, "read entropy: %w", err)
		}
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			return v % n, nil
		}
	}
}

// randString returns n characters drawn uniformly from alphabet.
func randString(r io.Reader, alphabet string, n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		v, err := randUint32n(r, uint32(len(alphabet)))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[v]
	}
	return string(b), nil
}

func randBytes(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "read entropy: %w", err)
	}
	return b, nil
}

const (
	digits = "0123456789"
	// passAlphabet has no characters that are easy to confuse (0/o, 1/l/i).
	passAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"
)
