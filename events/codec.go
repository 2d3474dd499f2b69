package events

import (
	"crypto/sha256"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// MaxEventSize bounds one stored event. Nothing the engine decides comes near
// it; a larger record is refused on encode and on decode.
const MaxEventSize = 64 << 10

// Encode returns the canonical bytes of an event: the envelope's fields in a
// fixed order followed by the data, compact JSON, strings escaped as
// encoding/json escapes them. These bytes are what stores keep and what the
// hash chain covers, so they are written once and never re-encoded.
func Encode(env *Envelope, ev Event) ([]byte, error) {
	if y := env.Time.UTC().Year(); y < 1 || y > 9999 {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "event time %v is outside the years 1 to 9999", env.Time)
	}
	data, err := marshalData(ev)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "encode %s: %w", ev.EventType(), err)
	}
	b := make([]byte, 0, 256+len(data))
	b = append(b, `{"id":`...)
	b = jsonx.AppendString(b, env.ID)
	b = append(b, `,"tenant":`...)
	b = jsonx.AppendString(b, env.Tenant)
	b = append(b, `,"user":`...)
	b = jsonx.AppendString(b, env.User)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, env.Seq, 10)
	b = append(b, `,"time":"`...)
	b = env.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","type":`...)
	b = jsonx.AppendString(b, env.Type)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, int64(env.Version), 10)
	b = append(b, `,"command":`...)
	b = jsonx.AppendString(b, env.Command)
	b = append(b, `,"actor":`...)
	b = jsonx.AppendString(b, env.Actor)
	b = append(b, `,"prev":"`...)
	b = appendHex(b, env.Prev[:])
	b = append(b, `","data":`...)
	b = append(b, data...)
	b = append(b, '}')
	if len(b) > MaxEventSize {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "event %s is %d bytes; the limit is %d", ev.EventType(), len(b), MaxEventSize)
	}
	return b, nil
}

// MarshalData returns the JSON of an event's data exactly as Encode embeds it.
func MarshalData(ev Event) ([]byte, error) { return marshalData(ev) }

// wire is the decoded shape of canonical bytes.
type wire struct {
	Envelope
	Data rawMessage `json:"data"`
}

// Decode parses stored bytes into a record (without hash or position, which
// stores keep beside the bytes), decoding and upcasting the data with reg.
// raw is kept by the record, not copied.
func (reg *Registry) Decode(raw []byte) (Record, error) {
	var rec Record
	if len(raw) > MaxEventSize {
		return rec, vakt.Errorf(vakt.CodeInvalidArgument, "event is %d bytes; the limit is %d", len(raw), MaxEventSize)
	}
	var w wire
	if !parseCanonical(raw, &w) {
		// Not in the exact canonical layout (an old writer, hand-made
		// input, escaped strings): the general decoder.
		w = wire{}
		if err := unmarshal(raw, &w); err != nil {
			return rec, vakt.Errorf(vakt.CodeInvalidArgument, "decode event: %w", err)
		}
	}
	if w.ID == "" || w.Tenant == "" || w.Type == "" || w.Seq == 0 || w.Version < 1 || len(w.Data) == 0 {
		return rec, vakt.Errorf(vakt.CodeInvalidArgument, "decode event: id, tenant, seq, type, v and data are required")
	}
	if y := w.Time.UTC().Year(); y < 1 || y > 9999 {
		return rec, vakt.Errorf(vakt.CodeInvalidArgument, "decode event: time %v is outside the years 1 to 9999", w.Time)
	}
	if err := w.Stream().Validate(); err != nil {
		return rec, err
	}
	ev, err := reg.DecodeData(w.Type, w.Version, w.Data)
	if err != nil {
		return rec, err
	}
	rec.Envelope, rec.Event, rec.Raw = w.Envelope, ev, raw
	return rec, nil
}

// Decode decodes with the default registry.
func Decode(raw []byte) (Record, error) { return Default.Decode(raw) }

// ChainHash is the hash of an event: SHA-256 over the previous event's hash and
// the event's stored bytes. Hashing stored bytes (which hold only ciphertext of
// secrets) means erasing a user's key never breaks the chain.
func ChainHash(prev Hash, raw []byte) Hash {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(raw)
	var out Hash
	h.Sum(out[:0])
	return out
}

const hexDigits = "0123456789abcdef"

func appendHex(b, src []byte) []byte {
	for _, c := range src {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// parseCanonical reads an envelope written by Encode without a general JSON
// decoder: the fields in their fixed order, strings without escapes. It
// reports false at the first thing it does not expect, and the caller falls
// back to the general decoder, so it needs to be fast, not complete. Replays
// of millions of events spend most of their decoding time here otherwise.
func parseCanonical(b []byte, w *wire) bool {
	p := canonParser{b: b}
	var ok bool
	if w.ID, ok = p.str(`{"id":`); !ok {
		return false
	}
	if w.Tenant, ok = p.str(`,"tenant":`); !ok {
		return false
	}
	if w.User, ok = p.str(`,"user":`); !ok {
		return false
	}
	if w.Seq, ok = p.uint(`,"seq":`); !ok {
		return false
	}
	ts, ok := p.str(`,"time":`)
	if !ok {
		return false
	}
	// UnmarshalText is strict RFC 3339, as the JSON decoder is.
	if w.Time.UnmarshalText([]byte(ts)) != nil {
		return false
	}
	if w.Type, ok = p.str(`,"type":`); !ok {
		return false
	}
	v, ok := p.uint(`,"v":`)
	if !ok || v > 1<<20 {
		return false
	}
	w.Version = int(v)
	if w.Command, ok = p.str(`,"command":`); !ok {
		return false
	}
	if w.Actor, ok = p.str(`,"actor":`); !ok {
		return false
	}
	prev, ok := p.str(`,"prev":`)
	if !ok || len(prev) != 64 || w.Prev.UnmarshalText([]byte(prev)) != nil {
		return false
	}
	if !p.lit(`,"data":`) || len(p.b) < p.i+2 || p.b[len(p.b)-1] != '}' {
		return false
	}
	w.Data = p.b[p.i : len(p.b)-1]
	return w.Data[0] == '{' && w.Data[len(w.Data)-1] == '}'
}

type canonParser struct {
	b []byte
	i int
}

func (p *canonParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// str reads key and then a JSON string without escapes or control bytes.
func (p *canonParser) str(key string) (string, bool) {
	if !p.lit(key) || p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	ascii := true
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			if !ascii && !utf8.Valid(p.b[start:j]) {
				return "", false
			}
			return string(p.b[start:j]), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// uint reads key and then an unsigned decimal without leading zeros.
func (p *canonParser) uint(key string) (uint64, bool) {
	if !p.lit(key) {
		return 0, false
	}
	start := p.i
	var v uint64
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		d := uint64(p.b[p.i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
		p.i++
	}
	n := p.i - start
	return v, n > 0 && (n == 1 || p.b[start] != '0')
}
