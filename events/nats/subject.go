package nats

import (
	"strings"

	"github.com/vaktmfa/vakt/events"
)

// SubjectPrefix is where Vakt's events live: vakt.evt.<tenant>.<user> for a
// user's stream and vakt.evt.<tenant> for a tenant's own stream.
const SubjectPrefix = "vakt.evt"

// Token encodes an id as one subject token (and one KV key token): ASCII
// letters, digits, '-' and '_' stay as they are; every other byte becomes '='
// and two uppercase hex digits. So "ola.nordmann@uio.no" is
// "ola=2Enordmann=40uio=2Eno": dots, spaces, '*', '>' and non-ASCII can never
// split a subject or act as wildcards, and different ids never share a token.
func Token(id string) string {
	clean := true
	for i := 0; i < len(id); i++ {
		if !plain(id[i]) {
			clean = false
			break
		}
	}
	if clean {
		return id
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(id) + 8)
	for i := 0; i < len(id); i++ {
		c := id[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func plain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// DecodeToken reverses Token; ok is false for text Token never writes.
func DecodeToken(tok string) (string, bool) {
	if !strings.Contains(tok, "=") {
		for i := 0; i < len(tok); i++ {
			if !plain(tok[i]) {
				return "", false
			}
		}
		return tok, tok != ""
	}
	b := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case plain(c):
			b = append(b, c)
		case c == '=' && i+2 < len(tok) && isUpperHex(tok[i+1]) && isUpperHex(tok[i+2]):
			v := unhex(tok[i+1])<<4 | unhex(tok[i+2])
			if plain(v) {
				return "", false // Token never escapes a plain byte
			}
			b = append(b, v)
			i += 2
		default:
			return "", false
		}
	}
	return string(b), len(b) > 0
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

// Subject is the subject of a stream's events.
func Subject(s events.Stream) string {
	if s.User == "" {
		return SubjectPrefix + "." + Token(s.Tenant)
	}
	return SubjectPrefix + "." + Token(s.Tenant) + "." + Token(s.User)
}

// Key is the KV key of a stream (for snapshots and data keys).
func Key(s events.Stream) string {
	if s.User == "" {
		return Token(s.Tenant)
	}
	return Token(s.Tenant) + "." + Token(s.User)
}

// ParseSubject returns the stream of an event subject.
func ParseSubject(subject string) (events.Stream, bool) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix+".")
	if !ok {
		return events.Stream{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 1 || len(parts) > 2 {
		return events.Stream{}, false
	}
	t, ok := DecodeToken(parts[0])
	if !ok {
		return events.Stream{}, false
	}
	s := events.Stream{Tenant: t}
	if len(parts) == 2 {
		if s.User, ok = DecodeToken(parts[1]); !ok {
			return events.Stream{}, false
		}
	}
	return s, true
}
