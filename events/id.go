package events

import (
	"encoding/binary"
	"io"
	"time"

	"github.com/vaktmfa/vakt"
)

// NewID returns a UUIDv7 (RFC 9562) for time t with 74 random bits read from
// rand, as a lowercase 36-character string. Taking the time and the entropy as
// arguments keeps the core pure: the same inputs give the same id on every host.
func NewID(t time.Time, rand io.Reader) (string, error) {
	if t.Before(time.Unix(0, 0)) || !t.Before(time.UnixMilli(1<<48)) {
		return "", vakt.Errorf(vakt.CodeInvalidArgument, "time %v cannot be written in a UUIDv7", t)
	}
	ms := t.UnixMilli()
	var u [16]byte
	if _, err := io.ReadFull(rand, u[6:]); err != nil {
		return "", vakt.Errorf(vakt.CodeInternal, "read entropy for an id: %w", err)
	}
	binary.BigEndian.PutUint16(u[0:2], uint16(uint64(ms)>>32))
	binary.BigEndian.PutUint32(u[2:6], uint32(ms))
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // variant 10
	return formatUUID(u), nil
}

func formatUUID(u [16]byte) string {
	b := make([]byte, 36)
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return string(b)
}

// IsID reports whether s has the form of an id Vakt generates: a UUID in
// lowercase hex. Ids that callers send back (authenticators, challenges,
// devices) are checked with it before any lookup.
func IsID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
