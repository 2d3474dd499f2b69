package events_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// uuidFields decodes the RFC 9562 layout of a textual UUID. It is written out
// here (rather than with github.com/google/uuid, which go.mod does not require)
// so the test states the layout every host must produce.
type uuidFields struct {
	b       [16]byte
	version byte
	variant byte  // the two top bits of octet 8; 0b10 is RFC 4122/9562
	unixMS  int64 // octets 0-5, big-endian
}

func parseUUID(t *testing.T, s string) uuidFields {
	t.Helper()
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		t.Fatalf("%q is not in 8-4-4-4-12 form", s)
	}
	if s != strings.ToLower(s) {
		t.Fatalf("%q is not lowercase", s)
	}
	var f uuidFields
	if _, err := hex.Decode(f.b[:], []byte(strings.ReplaceAll(s, "-", ""))); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	f.version = f.b[6] >> 4
	f.variant = f.b[8] >> 6
	for _, c := range f.b[:6] {
		f.unixMS = f.unixMS<<8 | int64(c)
	}
	return f
}

func TestNewIDIsUUIDv7(t *testing.T) {
	times := []time.Time{
		t0,
		time.Unix(0, 0),
		time.Unix(0, 999_999), // below one millisecond
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2026, 3, 29, 1, 59, 59, 500_000_000, oslo),
		time.UnixMilli(1<<48 - 1), // the largest 48-bit timestamp (year 10889)
	}
	for _, tm := range times {
		for i := 0; i < 50; i++ {
			id, err := events.NewID(tm, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			f := parseUUID(t, id)
			if f.version != 7 {
				t.Errorf("%s: version %d, want 7", id, f.version)
			}
			if f.variant != 0b10 {
				t.Errorf("%s: variant bits %02b, want 10 (RFC 4122)", id, f.variant)
			}
			if f.unixMS != tm.UnixMilli() {
				t.Errorf("%s: embeds unix ms %d, want %d (%v)", id, f.unixMS, tm.UnixMilli(), tm)
			}
			if !events.IsID(id) {
				t.Errorf("IsID(%q) = false for a generated id", id)
			}
		}
	}
}

// The 74 random bits come from the first ten bytes of entropy, in order: the
// layout is part of the contract so that every host makes the same id.
func TestNewIDKnownAnswers(t *testing.T) {
	tm := time.UnixMilli(0x0123456789ab)
	cases := []struct {
		entropy []byte
		want    string
	}{
		{seqBytes(0, 10), "01234567-89ab-7001-8203-040506070809"},
		{bytes.Repeat([]byte{0xff}, 10), "01234567-89ab-7fff-bfff-ffffffffffff"},
		{make([]byte, 10), "01234567-89ab-7000-8000-000000000000"},
	}
	for _, tc := range cases {
		got, err := events.NewID(tm, bytes.NewReader(tc.entropy))
		if err != nil || got != tc.want {
			t.Errorf("NewID(%x) = %q, %v, want %q", tc.entropy, got, err, tc.want)
		}
	}
	// The random bits are the entropy's, under the version and variant.
	e := seqBytes(0xa5, 10)
	f := parseUUID(t, mustID(t, t0, bytes.NewReader(e)))
	if f.b[6]&0x0f != e[0]&0x0f || f.b[7] != e[1] || f.b[8]&0x3f != e[2]&0x3f || !bytes.Equal(f.b[9:], e[3:]) {
		t.Errorf("random bits %x do not come from entropy %x", f.b[6:], e)
	}
}

// A UUIDv7 holds milliseconds since the Unix epoch in 48 bits: NewID refuses
// a time it cannot write rather than wrap it into an id of another time.
func TestNewIDRefusesTimesOutOfRange(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		time.Unix(0, -1),
		time.Unix(0, -999_999),
		time.UnixMilli(-1),
		time.Unix(-1, 0).In(oslo),
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
		time.UnixMilli(1 << 48),
		time.UnixMilli(1<<48 + 1),
		// Beyond ±292 million years UnixMilli overflows int64; these two wrap
		// to exactly 0 ms, the Unix epoch.
		time.Unix(1<<62, 0),
		time.Unix(-1<<62, 0),
	} {
		r := bytes.NewReader(make([]byte, 10))
		id, err := events.NewID(tm, r)
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !errors.Is(err, vakt.ErrInvalidArgument) {
			t.Errorf("NewID(%v) = %q, %v, want invalid_argument", tm, id, err)
		}
		if err != nil && id != "" {
			t.Errorf("NewID(%v) returned id %q with the error", tm, id)
		}
	}
	// The edges themselves are written exactly.
	for _, tm := range []time.Time{time.Unix(0, 0), time.Unix(0, 0).In(time.FixedZone("", -3600)), time.UnixMilli(1<<48 - 1), time.UnixMilli(1<<48 - 1).Add(999_999)} {
		f := parseUUID(t, mustID(t, tm, rand.Reader))
		if f.unixMS != tm.UnixMilli() {
			t.Errorf("%v: embeds unix ms %d, want %d", tm, f.unixMS, tm.UnixMilli())
		}
	}
}

func mustID(t *testing.T, tm time.Time, r io.Reader) string {
	t.Helper()
	id, err := events.NewID(tm, r)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestNewIDIsDeterministic(t *testing.T) {
	entropy := seqBytes(7, 30)
	a := mustID(t, t0, bytes.NewReader(entropy))
	b := mustID(t, t0, bytes.NewReader(entropy))
	if a != b {
		t.Errorf("same time and entropy gave %s and %s", a, b)
	}
	if c := mustID(t, t0.Add(time.Millisecond), bytes.NewReader(entropy)); c == a {
		t.Errorf("a millisecond later gave the same id %s", c)
	}
	// The same instant in another zone is the same id.
	if c := mustID(t, t0.UTC(), bytes.NewReader(entropy)); c != a {
		t.Errorf("t0 in UTC gave %s, in CET %s", c, a)
	}
	// Exactly ten bytes are read per id, so a sequence of ids is reproducible.
	r := bytes.NewReader(entropy)
	first, second := mustID(t, t0, r), mustID(t, t0, r)
	if r.Len() != 10 {
		t.Errorf("two ids read %d bytes of entropy, want 20", 30-r.Len())
	}
	if first != a || second != mustID(t, t0, bytes.NewReader(entropy[10:])) {
		t.Errorf("ids from one reader differ from ids from its slices")
	}
}

// UUIDv7 ids sort by time: the text of a later id is greater.
func TestNewIDSortsByTime(t *testing.T) {
	prev := ""
	for ms := int64(1_700_000_000_000); ms < 1_700_000_000_000+2000; ms += 7 {
		id := mustID(t, time.UnixMilli(ms), rand.Reader)
		if id <= prev {
			t.Fatalf("id %s for ms %d does not sort after %s", id, ms, prev)
		}
		prev = id
	}
}

type failingReader struct{}

var errEntropy = errors.New("entropy source failed")

func (failingReader) Read([]byte) (int, error) { return 0, errEntropy }

func TestNewIDWithoutEntropy(t *testing.T) {
	cases := []struct {
		name  string
		r     io.Reader
		cause error
	}{
		{"empty", bytes.NewReader(nil), io.EOF},
		{"nine bytes", bytes.NewReader(make([]byte, 9)), io.ErrUnexpectedEOF},
		{"failing", failingReader{}, errEntropy},
		{"one byte at a time then EOF", iotest.OneByteReader(bytes.NewReader(make([]byte, 5))), io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		id, err := events.NewID(t0, tc.r)
		if vakt.CodeOf(err) != vakt.CodeInternal {
			t.Errorf("%s: err = %v, want internal", tc.name, err)
		}
		if !errors.Is(err, tc.cause) {
			t.Errorf("%s: err = %v does not wrap %v", tc.name, err, tc.cause)
		}
		if id != "" {
			t.Errorf("%s: returned id %q with the error", tc.name, id)
		}
	}
	// Short reads are fine as long as ten bytes come.
	if _, err := events.NewID(t0, iotest.OneByteReader(bytes.NewReader(make([]byte, 10)))); err != nil {
		t.Errorf("one byte at a time: %v", err)
	}
}

func TestIsID(t *testing.T) {
	good := mustID(t, t0, bytes.NewReader(seqBytes(0xa0, 10)))
	for _, s := range []string{
		good,
		"0190a0a0-0000-7000-8000-000000000001",
		"00000000-0000-0000-0000-000000000000",
		"ffffffff-ffff-ffff-ffff-ffffffffffff",
		"123e4567-e89b-42d3-a456-426614174000", // a v4 has the same form
	} {
		if !events.IsID(s) {
			t.Errorf("IsID(%q) = false", s)
		}
	}
	for i := 0; i < 200; i++ {
		if id := mustID(t, t0, rand.Reader); !events.IsID(id) {
			t.Fatalf("IsID(%q) = false for a generated id", id)
		}
	}
	bad := []string{
		"",
		strings.ToUpper(good),
		good[:35] + "A",
		good[:35],
		good + "0",
		good[:35] + " ",
		" " + good[1:],
		good[:35] + ".",
		good[:35] + "*",
		good[:35] + ">",
		good[:8] + "." + good[9:],
		good[:8] + "*" + good[9:],
		good[:8] + ">" + good[9:],
		good[:12] + " " + good[13:],
		good[:35] + "g",
		good[:34] + "é", // two bytes: still 36 bytes long
		strings.ReplaceAll(good, "-", ""),
		strings.ReplaceAll(good, "-", "_"),
		good[:8] + good[9:13] + "-" + "-" + good[14:], // hyphen moved
		"{" + good[1:35] + "}",
		"urn:uuid:" + good,
		"tenant.user.*",
		strings.Repeat("a", 36),
		good[:20] + "\x00" + good[21:],
	}
	for _, s := range bad {
		if events.IsID(s) {
			t.Errorf("IsID(%q) = true", s)
		}
	}
}
