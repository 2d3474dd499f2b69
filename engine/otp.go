package engine

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"hash"

	"github.com/vaktmfa/vakt"
)

// otpKey is an HMAC prepared for one seed, with its buffers, so that checking
// a code (RFC 4226 HOTP, RFC 6238 TOTP) allocates nothing: the cost is the
// HMAC computations and nothing else.
type otpKey struct {
	mac    hash.Hash
	digits int
	ctr    [8]byte
	sum    [sha512.Size]byte
}

func hashFor(alg string) (func() hash.Hash, error) {
	switch alg {
	case "SHA1", "":
		return sha1.New, nil
	case "SHA256":
		return sha256.New, nil
	case "SHA512":
		return sha512.New, nil
	}
	return nil, vakt.Errorf(vakt.CodeInvalidArgument, "unknown OTP algorithm %q; use SHA1, SHA256 or SHA512", alg)
}

func newOTPKey(alg string, seed []byte, digits int) (*otpKey, error) {
	h, err := hashFor(alg)
	if err != nil {
		return nil, err
	}
	if digits != 6 && digits != 8 {
		return nil, vakt.Errorf(vakt.CodeInternal, "OTP with %d digits", digits)
	}
	return &otpKey{mac: hmac.New(h, seed), digits: digits}, nil
}

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// value is the HOTP value for counter: HMAC, dynamic truncation, modulo
// 10^digits (RFC 4226 section 5.3).
func (k *otpKey) value(counter uint64) uint32 {
	binary.BigEndian.PutUint64(k.ctr[:], counter)
	k.mac.Reset()
	k.mac.Write(k.ctr[:])
	s := k.mac.Sum(k.sum[:0])
	off := s[len(s)-1] & 0x0f
	v := binary.BigEndian.Uint32(s[off:]) & 0x7fffffff
	return v % pow10[k.digits]
}

// matchTOTP checks code against the steps centre-skew..centre+skew. It always
// computes every step (no early exit) and returns the latest matching step
// after last; reused is set when the code matched only steps already used
// (RFC 6238 section 5.2).
func (k *otpKey) matchTOTP(code uint32, centre int64, skew int, last int64) (step int64, ok, reused bool) {
	for i := -int64(skew); i <= int64(skew); i++ {
		s := centre + i
		if s < 0 {
			continue
		}
		if subtle.ConstantTimeEq(int32(k.value(uint64(s))), int32(code)) == 1 {
			if s > last {
				step, ok = s, true
			} else {
				reused = true
			}
		}
	}
	if ok {
		reused = false
	}
	return step, ok, reused
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
