package edge

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/vaktmfa/vakt/internal/jsonx"
)

// The JOSE header and the claims are read without reflection when they are
// in the plain form Vakt writes (exact lower-case names, each once, strings
// without escapes, no nulls, whole-second dates): encoding/json costs about
// 100 µs per token in Go's wasm build. Anything else, and every malformed
// input, goes through encoding/json as before, so the claims and the
// refusals are exactly those of the general decoder; the fast path only
// decides how quickly the common token is read (FuzzDecodeToken holds it
// to that).

// decodeHeader reads the JOSE header as json.Unmarshal does.
func decodeHeader(b []byte, h *header) error {
	if parseHeader(b, h) {
		return nil
	}
	*h = header{}
	return json.Unmarshal(b, h)
}

// decodePayload reads the claims as one value of a json.Decoder, and
// reports whether they are well formed (nothing but a closing bracket or
// brace may follow them: dec.More).
func decodePayload(b []byte, p *payload) bool {
	if parsePayload(b, p) {
		return true
	}
	*p = payload{}
	dec := json.NewDecoder(bytes.NewReader(b))
	return dec.Decode(p) == nil && !dec.More()
}

// parseHeader is the fast path of decodeHeader; false means "use
// encoding/json".
func parseHeader(b []byte, h *header) bool {
	rd := jsonx.Reader{B: b}
	ok := rd.Fields(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "alg":
			h.Alg, ok = rd.String()
		case "kid":
			h.Kid, ok = rd.String()
		case "typ":
			h.Typ, ok = rd.String()
		case "crit":
			h.Crit, ok = rd.Raw()
		default:
			return skipOther(&rd, key, headerNames)
		}
		return ok
	})
	return ok && rd.End()
}

// parsePayload is the fast path of decodePayload; false means "use
// encoding/json".
func parsePayload(b []byte, p *payload) bool {
	rd := jsonx.Reader{B: b}
	ok := rd.Fields(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "iss":
			p.Iss, ok = rd.String()
		case "sub":
			p.Sub, ok = rd.String()
		case "aud":
			if rd.Peek() == '"' {
				var s string
				s, ok = rd.String()
				p.Aud = audience{s}
			} else {
				p.Aud, ok = stringList(&rd)
			}
		case "exp":
			p.Exp, ok = date(&rd)
		case "nbf":
			p.Nbf, ok = date(&rd)
		case "iat":
			p.Iat, ok = date(&rd)
		case "jti":
			p.Jti, ok = rd.String()
		case "tid":
			p.Tid, ok = rd.String()
		case "acr":
			p.ACR, ok = rd.String()
		case "amr":
			p.AMR, ok = stringList(&rd)
		case "auth_time":
			p.AuthTime, ok = date(&rd)
		default:
			return skipOther(&rd, key, payloadNames)
		}
		return ok
	})
	return ok && rd.End()
}

// The members the decoders know, as encoding/json matches them (without
// regard to case); skipOther compares them with '_' and '-' left out too,
// which only sends more to the full decoder.
var (
	headerNames  = []string{"alg", "kid", "typ", "crit"}
	payloadNames = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "tid", "acr", "amr", "authtime"}
)

// skipOther skips the value of a member the decoder does not know, as
// encoding/json ignores it, and reports false (leaving it to encoding/json)
// when the name is not ASCII or is one of known in another case, which
// encoding/json would take for that member.
func skipOther(rd *jsonx.Reader, key []byte, known []string) bool {
	var low [16]byte
	n := 0
	for _, c := range key {
		switch {
		case c >= utf8.RuneSelf:
			return false
		case c == '_' || c == '-':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if n < len(low) {
			low[n] = c
		}
		n++
	}
	if n <= len(low) {
		for _, k := range known {
			if k == string(low[:n]) {
				return false
			}
		}
	}
	_, ok := rd.Raw()
	return ok
}

// stringList reads an array of strings as encoding/json fills a nil []string
// (an empty array gives an empty, non-nil slice).
func stringList(rd *jsonx.Reader) ([]string, bool) {
	l := []string{}
	ok := rd.Elements(func() bool {
		s, ok := rd.String()
		l = append(l, s)
		return ok
	})
	return l, ok
}

// date reads a NumericDate of whole seconds, as numericDate.UnmarshalJSON
// does; a fraction, an exponent, a sign or a date out of range is left to
// it.
func date(rd *jsonx.Reader) (*numericDate, bool) {
	n, ok := rd.Uint()
	if !ok || n > 1e11 {
		return nil, false
	}
	return &numericDate{time.Unix(int64(n), 0)}, true
}
