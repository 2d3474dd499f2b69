package events_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// decodeSeeds are canonical bytes of every sample and of every zero value,
// plus a few malformed records, so the fuzzer starts from real events.
func decodeSeeds(t testing.TB) [][]byte {
	var out [][]byte
	head := events.Head{Seq: 9, Hash: events.Hash{0xab}}
	for _, ev := range samples() {
		zero := reflect.Zero(reflect.TypeOf(ev)).Interface().(events.Event)
		for _, e := range []events.Event{ev, zero} {
			recs, err := events.Build(userStream, head, meta, &counter{}, []events.Event{e})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, recs[0].Raw)
		}
	}
	good := out[0]
	out = append(out,
		nil, []byte("{}"), []byte("null"), []byte(`{"id":"x"`),
		bytes.Replace(good, []byte(`"v":1`), []byte(`"v":2`), 1),
		bytes.Replace(good, []byte(`"v":1`), []byte(`"v":0`), 1),
		bytes.Replace(good, []byte(`"seq":10`), []byte(`"seq":-1`), 1),
		bytes.Replace(good, []byte(`authenticator.enrolment_started`), []byte(`authenticator.x`), 1),
		// Refused: a sign after the days.
		[]byte(`{"id":"1","tenant":"t","seq":1,"type":"policy.set","v":1,"data":{"policy":{"push_ttl":"1d-12h"}}}`),
		[]byte(`{"id":"1","tenant":"t","seq":1,"type":"policy.set","v":1,"data":{"policy":{"push_ttl":"1d-48h"}}}`),
		// Accepted: negative durations, any number of days, the int64 extremes.
		[]byte(`{"id":"1","tenant":"t","seq":1,"type":"policy.set","v":1,"data":{"policy":{"push_ttl":"-1d12h","challenge_ttl":"3651d","lockout":{"max":"-106751d23h47m16s854ms775us808ns","base":"106751d23h47m16s854ms775us807ns"}}}}`),
		// Times that RFC 3339 reads but Encode refuses: year -1 and year 0 in
		// UTC, year 10000 in UTC. Decode must refuse them.
		[]byte(`{"id":"1","tenant":"t","seq":1,"time":"0000-01-01T00:30:00+01:00","type":"authenticator.renamed","v":1,"data":{}}`),
		[]byte(`{"id":"1","tenant":"t","seq":1,"time":"0000-01-01T00:00:00Z","type":"authenticator.renamed","v":1,"data":{}}`),
		[]byte(`{"id":"1","tenant":"t","seq":1,"time":"9999-12-31T23:30:00-01:00","type":"authenticator.renamed","v":1,"data":{}}`),
		[]byte(`{"id":"1","tenant":"t","seq":1,"time":"0001-01-01T00:00:00Z","type":"authenticator.renamed","v":1,"data":{}}`),
		// Ids that Build refuses: Decode refuses them too.
		[]byte(`{"id":"1","tenant":"t\u202e","seq":1,"type":"authenticator.renamed","v":1,"data":{}}`),
		[]byte(`{"id":"1","tenant":"t","user":"a\u0000b","seq":1,"type":"authenticator.renamed","v":1,"data":{}}`),
		[]byte(`{"id":"1","tenant":"t","user":"\u2028","seq":1,"type":"authenticator.renamed","v":1,"data":{}}`),
		[]byte("{\"id\":\"1\",\"tenant\":\"t\xff\",\"seq\":1,\"type\":\"authenticator.renamed\",\"v\":1,\"data\":{}}"),
		[]byte(`{"ID":"1","TENANT":"t","SEQ":1,"TYPE":"authenticator.renamed","V":1,"DATA":{"LABEL":"\ud800<"}}`),
	)
	return out
}

// encodableTime reports whether Encode writes an envelope time: years 1 to
// 9999 in UTC, what RFC 3339 text holds.
func encodableTime(tm time.Time) bool {
	y := tm.UTC().Year()
	return 1 <= y && y <= 9999
}

// canon is inUTC with empty slices made nil and every Sealed that seals
// nothing made the zero Sealed: the codec does not keep the difference (an
// empty code_hash is omitted; a Sealed without a box, whatever its nonce, is
// zero by Sealed.IsZero and omitted), and nothing may depend on it.
func canon(v any) any { return nilEmpty(reflect.ValueOf(inUTC(v))).Interface() }

var sealedType = reflect.TypeOf(events.Sealed{})

func nilEmpty(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			return v
		}
		if v.Type() == sealedType && v.Interface().(events.Sealed).IsZero() {
			return reflect.Zero(sealedType)
		}
		out := reflect.New(v.Type()).Elem()
		for i := 0; i < v.NumField(); i++ {
			out.Field(i).Set(nilEmpty(v.Field(i)))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(nilEmpty(v.Elem()))
		return out
	case reflect.Slice:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(nilEmpty(v.Index(i)))
		}
		return out
	}
	return v
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := events.Decode(raw)
		if err != nil {
			var ve *vakt.Error
			if !errors.As(err, &ve) || !ve.Code.Valid() {
				t.Fatalf("error %v (%T) is not a *vakt.Error with a released code", err, err)
			}
			if rec.Event != nil || rec.Raw != nil {
				t.Fatalf("a failed decode returned a partial record")
			}
			return
		}
		switch {
		case rec.Event == nil:
			t.Fatalf("decoded without an event")
		case rec.Event.EventType() != rec.Type:
			t.Fatalf("envelope type %q, event %T of type %q", rec.Type, rec.Event, rec.Event.EventType())
		case rec.ID == "" || rec.Tenant == "" || rec.Seq == 0 || rec.Version < 1:
			t.Fatalf("required envelope field missing: %+v", rec.Envelope)
		case rec.Version > events.Default.Version(rec.Type):
			t.Fatalf("accepted v%d of %s, newer than v%d", rec.Version, rec.Type, events.Default.Version(rec.Type))
		case len(rec.Raw) != len(raw) || &rec.Raw[0] != &raw[0]:
			t.Fatalf("record does not keep the stored bytes")
		case rec.Stream().Validate() != nil:
			t.Fatalf("accepted ids that Build refuses: %v", rec.Stream().Validate())
		case !encodableTime(rec.Time):
			// Such a record can never be written again; the re-encode below
			// would fail with invalid_argument.
			t.Fatalf("accepted envelope time %v (year %d in UTC), which Encode refuses", rec.Time, rec.Time.UTC().Year())
		}

		// What was decoded encodes canonically and decodes to the same values.
		again, err := events.Encode(&rec.Envelope, rec.Event)
		if err != nil {
			if vakt.CodeOf(err) == vakt.CodeInvalidArgument && len(raw) > events.MaxEventSize/6 {
				return // escaping grew it past the limit
			}
			t.Fatalf("re-encode a decoded record: %v", err)
		}
		rec2, err := events.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(canon(rec2.Event), canon(rec.Event)) || !reflect.DeepEqual(canon(rec2.Envelope), canon(rec.Envelope)) {
			t.Fatalf("re-encoding changed the record:\n first  %+v %#v\n second %+v %#v", rec.Envelope, rec.Event, rec2.Envelope, rec2.Event)
		}
		if third, err := events.Encode(&rec2.Envelope, rec2.Event); err != nil || !bytes.Equal(third, again) {
			t.Fatalf("canonical bytes are not stable:\n%s\n%s", again, third)
		}
	})
}

// sanitize is what JSON does to a string: each byte of invalid UTF-8 becomes
// U+FFFD.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func allValid(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// commandIDOK is the rule for command ids, written out independently of
// events.ValidateCommandID: 1 to 64 bytes from '!' to '~'.
func commandIDOK(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

// actorOK is the rule for actors: empty, or valid UTF-8 of at most MaxIDLen
// bytes without control characters, format characters (Cf), line or
// paragraph separators or U+FFFD.
func actorOK(s string) bool {
	if s == "" {
		return true
	}
	if len(s) > events.MaxIDLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// envelopeRoom bounds what an envelope of valid fields takes in the canonical
// bytes: ids, sequence, time, type and hash, a command id of 64 and an actor of
// MaxIDLen bytes, each byte escaped to at most six.
const envelopeRoom = 512 + 6*(events.MaxCommandIDLen+3*events.MaxIDLen)

// tooLarge reports whether an event's data alone leaves no room for its
// envelope under MaxEventSize.
func tooLarge(t *testing.T, evs []events.Event) bool {
	for _, ev := range evs {
		data, err := events.MarshalData(ev)
		if err != nil {
			t.Fatalf("MarshalData(%s): %v", ev.EventType(), err)
		}
		if len(data)+envelopeRoom > events.MaxEventSize {
			return true
		}
	}
	return false
}

// fallbackCommand derives a valid command id from any string, so that the
// round trip below runs whatever the fuzzer makes of the command.
func fallbackCommand(s string) string {
	h := sha256.Sum256([]byte(s))
	return "cmd-" + hex.EncodeToString(h[:8])
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("Jobbtelefon", "web", "192.0.2.1", "Mozilla/5.0", "Oslo", "user", int64(0))
	f.Add(trickyStr, "<office>", "2001:db8::7", "\u2028\u2029", "Tromsø", "helpdesk:k1", int64(1_790_000_000_123_456_789))
	f.Add("", "", "", "", "", "", int64(-1))
	f.Add("\xff\xfe", "a\x00b", "\"\\", `\ud800`, "\xed\xa0\x80", "\x7f\u0085", int64(123))
	f.Add("0190a0a0-4e00-7001-8203-040506070809", "vpn", "::1", "curl/8", "", "helpdesk:\u202ek1", int64(1<<62))
	f.Add(strings.Repeat("x", 60), "a b", "", "", "", "Ola Nordmann", int64(1<<63-1))
	f.Add("ok", "\xff", "\u202e", "\ufffd", "\ufeff", "\xfe", int64(-1<<63))
	f.Fuzz(func(t *testing.T, label, app, ip, ua, loc, actor string, nanos int64) {
		tm := time.Unix(0, nanos).In(oslo)
		push := events.PushRequest{AuthenticatorID: authID2, Number: len(label) % 100, Choices: []int{len(app), len(ip)}, ExpiresAt: tm.Add(2 * time.Minute)}
		evs := []events.Event{
			events.Renamed{AuthenticatorID: authID, Label: label},
			events.ChallengeIssued{
				ChallengeID: chalID, App: app, RequiredACR: "substantial", Methods: []string{label, app},
				ExpiresAt: tm.Add(5 * time.Minute), Push: &push,
				Application: app, Client: events.Sealed{Nonce: []byte(ip + "n"), Box: []byte(ua + loc + "b")},
			},
		}
		m := events.Meta{Command: "cmd-" + label, Actor: actor, Time: tm}

		// An invalid command id, an invalid actor or a time a UUIDv7 cannot
		// hold (before 1970: int64 nanoseconds reach no further than 2262) is
		// refused with invalid_argument, and nothing is built. The round trip
		// then runs with valid stand-ins, so the data is always exercised.
		if !commandIDOK(m.Command) || !actorOK(m.Actor) || nanos < 0 {
			recs, err := events.Build(userStream, events.Head{}, m, &counter{}, evs)
			if vakt.CodeOf(err) != vakt.CodeInvalidArgument || recs != nil {
				t.Fatalf("command %q actor %q time %v: built %d records, err = %v; want invalid_argument", m.Command, m.Actor, m.Time, len(recs), err)
			}
			if !commandIDOK(m.Command) {
				m.Command = fallbackCommand(m.Command)
			}
			if !actorOK(m.Actor) {
				m.Actor = "user"
			}
			if nanos < 0 {
				m.Time = t0
			}
		}
		recs, err := events.Build(userStream, events.Head{}, m, &counter{}, evs)
		if err != nil {
			if vakt.CodeOf(err) == vakt.CodeInvalidArgument && tooLarge(t, evs) {
				return // escaping grew it past the limit
			}
			t.Fatalf("build: %v", err)
		}
		if recs[0].Command != m.Command || recs[0].Actor != m.Actor || !recs[0].Time.Equal(m.Time) {
			t.Fatalf("built command %q actor %q time %v, want %q %q %v", recs[0].Command, recs[0].Actor, recs[0].Time, m.Command, m.Actor, m.Time)
		}
		want := []events.Event{
			events.Renamed{AuthenticatorID: authID, Label: sanitize(label)},
			events.ChallengeIssued{
				ChallengeID: chalID, App: sanitize(app), RequiredACR: "substantial", Methods: []string{sanitize(label), sanitize(app)},
				ExpiresAt: tm.Add(5 * time.Minute), Push: &push,
				Application: sanitize(app), Client: events.Sealed{Nonce: []byte(ip + "n"), Box: []byte(ua + loc + "b")},
			},
		}
		v := events.NewVerifier()
		for i, r := range recs {
			got, err := events.Decode(r.Raw)
			if err != nil {
				t.Fatalf("decode %s: %v\n%s", r.Type, err, r.Raw)
			}
			if !reflect.DeepEqual(inUTC(got.Event), inUTC(want[i])) {
				t.Fatalf("%s:\n got  %#v\n want %#v", r.Type, got.Event, want[i])
			}
			// The envelope, command and actor included, is stored exactly: the
			// record Build returned is the one a store decodes.
			if !reflect.DeepEqual(got.Envelope, r.Envelope) {
				t.Fatalf("envelope:\n got  %+v\n want %+v", got.Envelope, r.Envelope)
			}
			// Re-encoding gives the stored bytes back when the input was valid
			// UTF-8. Invalid bytes were stored as \ufffd escapes and decode to
			// U+FFFD, which is written unescaped: one more cycle is then stable.
			again, err := events.Encode(&got.Envelope, got.Event)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if allValid(label, app, ip, ua, loc) && !bytes.Equal(again, r.Raw) {
				t.Fatalf("re-encoding is not canonical:\n%s\n%s", again, r.Raw)
			}
			if got2, err := events.Decode(again); err != nil {
				t.Fatalf("decode re-encoded: %v", err)
			} else if third, err := events.Encode(&got2.Envelope, got2.Event); err != nil || !bytes.Equal(third, again) {
				t.Fatalf("re-encoding is not stable: %v\n%s\n%s", err, third, again)
			}
			// The chain verifies over what a store would hand back.
			got.Hash, got.Position = r.Hash, uint64(i)+1
			if b := v.Check(&got); b != nil {
				t.Fatalf("chain: %v", b)
			}
		}
	})
}

// Whatever UnmarshalText accepts, MarshalText writes in a form it accepts
// again, with the same value, and that form is canonical.
func FuzzDurationText(f *testing.F) {
	for _, s := range []string{
		"20d", "90d", "1h30m", "2m", "0s", "500ms", "1d12h", "-1h", "0d-5h", "1.5h", "3650d23h",
		"-1d", "-1d12h", "3651d", "99999d", "+1h", "-0s", "1d+5h", "--1s", "d", "-d",
		"106751d23h47m16s854ms775us807ns", "-106751d23h47m16s854ms775us808ns",
		"106751d23h47m16s854ms775us808ns", "106752d", "2562047h47m16.854775807s", "-9223372036854775808ns",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d events.Duration
		if err := d.UnmarshalText([]byte(s)); err != nil {
			return
		}
		text, err := d.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%v): %v", d.D(), err)
		}
		var back events.Duration
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Fatalf("%q reads as %v, written %q, read back as %v, %v", s, d.D(), text, back.D(), err)
		}
		if again, _ := back.MarshalText(); !bytes.Equal(again, text) {
			t.Fatalf("%q reads as %v, written %q, then %q", s, d.D(), text, again)
		}
		// Where Go reads the text too, it reads the same value.
		if goD, err := time.ParseDuration(s); err == nil && goD != d.D() {
			t.Fatalf("%q reads as %v; time.ParseDuration reads %v", s, d.D(), goD)
		}
	})
}

// Every Duration, whatever its value, is written in a form that reads back
// as the same value.
func FuzzDurationValue(f *testing.F) {
	for _, v := range []int64{0, 1, -1, int64(day), -int64(day), 3651 * int64(day), math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v int64) {
		text, err := events.Duration(v).MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%d): %v", v, err)
		}
		var back events.Duration
		if err := back.UnmarshalText(text); err != nil || int64(back) != v {
			t.Fatalf("%d ns written as %q, read back as %d, %v", v, text, int64(back), err)
		}
		if (v < 0) != (text[0] == '-') {
			t.Fatalf("%d ns written as %q", v, text)
		}
	})
}
