package jsonx

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file holds reflection-free reading and writing for the hot paths of
// the WebAssembly module (the ABI request, the commands, the decision's
// events and reply). Reflection-based JSON costs 15-40x more in Go's wasm
// code than natively, so there it dominates every call.
//
// The reader is a fast path, not a decoder: each method reports false at the
// first thing it does not handle in the simplest form (an escape in a string,
// a null where a value is expected, a number with a fraction, ...), and the
// caller then decodes the same bytes with Strict or Unmarshal. So results and
// error messages stay exactly those of the general decoder; the fast path
// only decides how quickly the common input is read.
//
// The writers produce what encoding/json produces for the same values
// (HTML-safe escaping, RFC 3339 times, standard base64); the decision
// vectors, compared byte for byte on every host, hold them to it.

// Reader reads JSON from B starting at I.
type Reader struct {
	B []byte
	I int
}

func (r *Reader) ws() {
	for r.I < len(r.B) {
		switch r.B[r.I] {
		case ' ', '\t', '\n', '\r':
			r.I++
		default:
			return
		}
	}
}

// Peek returns the next byte that is not whitespace (0 at the end).
func (r *Reader) Peek() byte {
	r.ws()
	if r.I >= len(r.B) {
		return 0
	}
	return r.B[r.I]
}

func (r *Reader) eat(c byte) bool {
	if r.Peek() != c {
		return false
	}
	r.I++
	return true
}

// End reports whether only whitespace is left.
func (r *Reader) End() bool {
	r.ws()
	return r.I == len(r.B)
}

// Members reads an object, calling f with each key (escape-free) while the
// reader stands before the member's value; f must read the value and report
// whether it could. Duplicate keys are the caller's to detect.
func (r *Reader) Members(f func(key []byte) bool) bool {
	if !r.eat('{') {
		return false
	}
	if r.eat('}') {
		return true
	}
	for {
		key, ok := r.str()
		if !ok || !r.eat(':') || !f(key) {
			return false
		}
		if r.eat(',') {
			continue
		}
		return r.eat('}')
	}
}

// Fields reads an object in the plain form the fast decoders take: every
// member non-null and every key distinct (an object has at most 32 keys).
// f reads the member named key (switch on string(key): no allocation)
// and reports whether it could; it reports
// false for a key it does not know. Anything else makes Fields report false
// and the caller falls back to the full decoder.
func (r *Reader) Fields(f func(key []byte) bool) bool { return r.fields(f, false) }

// FieldsNull is Fields for a decoder that knows what null means for each of
// its members: f is called for null members too, and reads them with Null.
func (r *Reader) FieldsNull(f func(key []byte) bool) bool { return r.fields(f, true) }

// Null reads a null if one comes next.
func (r *Reader) Null() bool { return r.Peek() == 'n' && r.lit("null") }

func (r *Reader) fields(f func(key []byte) bool, nulls bool) bool {
	var seen [32][]byte
	n := 0
	return r.Members(func(key []byte) bool {
		if (!nulls && r.Peek() == 'n') || n == len(seen) {
			return false
		}
		for _, k := range seen[:n] {
			if string(k) == string(key) {
				return false
			}
		}
		seen[n] = key // a slice of B: str refuses escapes, so keys are B's bytes
		n++
		return f(key)
	})
}

// Elements reads an array, calling f before each element; f must read it.
func (r *Reader) Elements(f func() bool) bool {
	if !r.eat('[') {
		return false
	}
	if r.eat(']') {
		return true
	}
	for {
		if !f() {
			return false
		}
		if r.eat(',') {
			continue
		}
		return r.eat(']')
	}
}

// str reads a string without escapes or control bytes, valid UTF-8, and
// returns its bytes inside B.
func (r *Reader) str() ([]byte, bool) {
	if !r.eat('"') {
		return nil, false
	}
	start, ascii := r.I, true
	for j := start; j < len(r.B); j++ {
		switch c := r.B[j]; {
		case c == '"':
			r.I = j + 1
			s := r.B[start:j]
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// String reads a string (see str).
func (r *Reader) String() (string, bool) {
	s, ok := r.str()
	return string(s), ok
}

// Bool reads true or false.
func (r *Reader) Bool() (v, ok bool) {
	r.ws()
	switch {
	case r.lit("true"):
		return true, true
	case r.lit("false"):
		return false, true
	}
	return false, false
}

func (r *Reader) lit(s string) bool {
	if len(r.B)-r.I < len(s) || string(r.B[r.I:r.I+len(s)]) != s {
		return false
	}
	r.I += len(s)
	return true
}

// Uint reads an unsigned integer without fraction or exponent.
func (r *Reader) Uint() (uint64, bool) {
	r.ws()
	start := r.I
	var v uint64
	for r.I < len(r.B) && '0' <= r.B[r.I] && r.B[r.I] <= '9' {
		d := uint64(r.B[r.I] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
		r.I++
	}
	n := r.I - start
	if n == 0 || (n > 1 && r.B[start] == '0') || r.numberGoesOn() {
		return 0, false
	}
	return v, true
}

// Int reads an integer that fits an int without fraction or exponent.
func (r *Reader) Int() (int, bool) {
	neg := r.eat('-')
	u, ok := r.Uint()
	if !ok || u > 1<<62 {
		return 0, false
	}
	if neg {
		return -int(u), true
	}
	return int(u), true
}

func (r *Reader) numberGoesOn() bool {
	if r.I >= len(r.B) {
		return false
	}
	switch r.B[r.I] {
	case '.', 'e', 'E', '-', '+':
		return true
	}
	return false
}

// Raw reads any JSON value, checking its syntax, and returns its bytes
// inside B (what encoding/json puts in a RawMessage).
func (r *Reader) Raw() ([]byte, bool) {
	r.ws()
	start := r.I
	if !r.skip(0) {
		return nil, false
	}
	return r.B[start:r.I], true
}

func (r *Reader) skip(depth int) bool {
	if depth > 1000 {
		return false
	}
	switch r.Peek() {
	case '{':
		return r.Members(func([]byte) bool { return r.skip(depth + 1) })
	case '[':
		return r.Elements(func() bool { return r.skip(depth + 1) })
	case '"':
		return r.skipString()
	case 't':
		return r.lit("true")
	case 'f':
		return r.lit("false")
	case 'n':
		return r.lit("null")
	}
	return r.skipNumber()
}

func (r *Reader) skipString() bool {
	r.I++ // the quote
	for r.I < len(r.B) {
		c := r.B[r.I]
		switch {
		case c == '"':
			r.I++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if r.I+1 >= len(r.B) {
				return false
			}
			switch r.B[r.I+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				r.I += 2
			case 'u':
				if r.I+6 > len(r.B) {
					return false
				}
				for _, h := range r.B[r.I+2 : r.I+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				r.I += 6
			default:
				return false
			}
		default:
			r.I++
		}
	}
	return false
}

func (r *Reader) digits() int {
	start := r.I
	for r.I < len(r.B) && '0' <= r.B[r.I] && r.B[r.I] <= '9' {
		r.I++
	}
	return r.I - start
}

func (r *Reader) skipNumber() bool {
	r.eat('-')
	if r.I < len(r.B) && r.B[r.I] == '0' {
		r.I++
	} else if r.digits() == 0 {
		return false
	}
	if r.I < len(r.B) && r.B[r.I] == '.' {
		r.I++
		if r.digits() == 0 {
			return false
		}
	}
	if r.I < len(r.B) && (r.B[r.I] == 'e' || r.B[r.I] == 'E') {
		r.I++
		if r.I < len(r.B) && (r.B[r.I] == '+' || r.B[r.I] == '-') {
			r.I++
		}
		if r.digits() == 0 {
			return false
		}
	}
	return true
}

// ---- writing ----------------------------------------------------------------------

const hexDigits = "0123456789abcdef"

// AppendString writes s as a JSON string exactly as encoding/json does with
// HTML escaping on: <, >, &, U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendStrings writes a []string as encoding/json does (nil is null).
func AppendStrings[S ~string](b []byte, ss []S) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, string(s))
	}
	return append(b, ']')
}

// AppendInts writes a []int as encoding/json does (nil is null).
func AppendInts(b []byte, vs []int) []byte {
	if vs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return append(b, ']')
}

// AppendBytes writes a []byte as encoding/json does: standard base64, nil
// is null.
func AppendBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// AppendTime writes t as time.Time's MarshalJSON does (strict RFC 3339 with
// nanoseconds). It reports false when MarshalJSON would fail (a year
// outside 0-9999, an offset with seconds): the caller then lets
// encoding/json say so.
func AppendTime(b []byte, t time.Time) ([]byte, bool) {
	out, err := t.AppendText(append(b, '"'))
	if err != nil {
		return b, false
	}
	return append(out, '"'), true
}
