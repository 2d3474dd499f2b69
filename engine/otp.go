package engine

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"

	"github.com/vaktmfa/vakt"
)

// otpKey is an HMAC key prepared for one seed: the key XORed into its inner
// and outer pads. Computing a code hashes pad‖message with the one-shot
// sha1.Sum (sha256.Sum256, sha512.Sum512) on stack buffers, so checking a
// code (RFC 4226 HOTP, RFC 6238 TOTP) allocates nothing and needs no hash
// object: for the one to three codes a decision checks, that is cheaper than
// building an hmac.Hash and its saved states.
type otpKey struct {
	alg    byte // 1: SHA1, 2: SHA256, 5: SHA512
	digits int
	ipad   [128]byte
	opad   [128]byte
}

func newOTPKey(alg string, seed []byte, digits int) (*otpKey, error) {
	k := &otpKey{}
	if err := k.init(alg, seed, digits); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *otpKey) init(alg string, seed []byte, digits int) error {
	if digits != 6 && digits != 8 {
		return vakt.Errorf(vakt.CodeInternal, "OTP with %d digits", digits)
	}
	block := 64
	switch alg {
	case "SHA1", "":
		k.alg = 1
	case "SHA256":
		k.alg = 2
	case "SHA512":
		k.alg, block = 5, 128
	default:
		return vakt.Errorf(vakt.CodeInvalidArgument, "unknown OTP algorithm %q; use SHA1, SHA256 or SHA512", alg)
	}
	k.digits = digits
	var sum [sha512.Size]byte
	key := seed
	if len(seed) > block { // RFC 2104: hash keys longer than a block
		switch k.alg {
		case 1:
			s := sha1.Sum(seed)
			key = append(sum[:0], s[:]...)
		case 2:
			s := sha256.Sum256(seed)
			key = append(sum[:0], s[:]...)
		default:
			s := sha512.Sum512(seed)
			key = append(sum[:0], s[:]...)
		}
	}
	for i := 0; i < block; i++ {
		var c byte
		if i < len(key) {
			c = key[i]
		}
		k.ipad[i], k.opad[i] = c^0x36, c^0x5c
	}
	clear(sum[:])
	return nil
}

// wipe clears the key material.
func (k *otpKey) wipe() { clear(k.ipad[:]); clear(k.opad[:]) }

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// value is the HOTP value for counter: HMAC, dynamic truncation, modulo
// 10^digits (RFC 4226 section 5.3).
func (k *otpKey) value(counter uint64) uint32 {
	var mac [sha512.Size]byte
	var s []byte
	switch k.alg {
	case 1:
		var in [64 + 8]byte
		copy(in[:64], k.ipad[:64])
		binary.BigEndian.PutUint64(in[64:], counter)
		inner := sha1.Sum(in[:])
		var out [64 + sha1.Size]byte
		copy(out[:64], k.opad[:64])
		copy(out[64:], inner[:])
		m := sha1.Sum(out[:])
		s = append(mac[:0], m[:]...)
	case 2:
		var in [64 + 8]byte
		copy(in[:64], k.ipad[:64])
		binary.BigEndian.PutUint64(in[64:], counter)
		inner := sha256.Sum256(in[:])
		var out [64 + sha256.Size]byte
		copy(out[:64], k.opad[:64])
		copy(out[64:], inner[:])
		m := sha256.Sum256(out[:])
		s = append(mac[:0], m[:]...)
	default:
		var in [128 + 8]byte
		copy(in[:128], k.ipad[:])
		binary.BigEndian.PutUint64(in[128:], counter)
		inner := sha512.Sum512(in[:])
		var out [128 + sha512.Size]byte
		copy(out[:128], k.opad[:])
		copy(out[128:], inner[:])
		m := sha512.Sum512(out[:])
		s = append(mac[:0], m[:]...)
	}
	off := s[len(s)-1] & 0x0f
	v := binary.BigEndian.Uint32(s[off:]) & 0x7fffffff
	return v % pow10[k.digits]
}

// matchTOTP checks code against the steps centre-skew..centre+skew, centre
// first, then one step back and one forward, and so on. It returns the first
// step after last that matches; reused is set when the code matched only
// steps already used (RFC 6238 section 5.2).
//
// A code that fails costs every step of the window, whatever it is, so a
// failure's timing says nothing. A success stops at the matching step: its
// timing can only tell the person who already knows the right code which step
// it was for.
func (k *otpKey) matchTOTP(code uint32, centre int64, skew int, last int64) (step int64, ok, reused bool) {
	for i := 0; i <= 2*skew; i++ {
		off := int64((i + 1) / 2)
		if i%2 == 1 {
			off = -off
		}
		s := centre + off
		if s < 0 {
			continue
		}
		if subtle.ConstantTimeEq(int32(k.value(uint64(s))), int32(code)) == 1 {
			if s > last {
				return s, true, false
			}
			reused = true
		}
	}
	return 0, false, reused
}

// matchHOTP checks code against counters from..from+window-1 and returns the
// matching counter.
func (k *otpKey) matchHOTP(code uint32, from uint64, window int) (uint64, bool) {
	var found uint64
	ok := false
	for i := uint64(0); i < uint64(window); i++ {
		if subtle.ConstantTimeEq(int32(k.value(from+i)), int32(code)) == 1 && !ok {
			found, ok = from+i, true
		}
	}
	return found, ok
}

// parseDigits reads a code of exactly n ASCII digits.
func parseDigits(code string, n int) (uint32, bool) {
	if len(code) != n {
		return 0, false
	}
	var v uint32
	for i := 0; i < len(code); i++ {
		c := code[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint32(c-'0')
	}
	return v, true
}

// normalizeCode drops the spaces and dashes people type or paste in codes
// ("123 456", "abcde-fghij") and lower-cases letters.
func normalizeCode(code string) string {
	clean := true
	for i := 0; i < len(code); i++ {
		if c := code[i]; c == ' ' || c == '-' || 'A' <= c && c <= 'Z' {
			clean = false
			break
		}
	}
	if clean {
		return code
	}
	b := make([]byte, 0, len(code))
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == ' ' || c == '-':
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
