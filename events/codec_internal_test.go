package events

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vaktmfa/vakt/internal/jsonx"
)

// stdString is the reference: encoding/json with its default HTML escaping.
func stdString(t testing.TB, s string) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return b
}

// trickyPieces are the fragments where JSON string encoders disagree.
var trickyPieces = []string{
	"", "a", "Z", " ", "~", `"`, `\`, "/", "<", ">", "&", "'", "\x00", "\x01", "\x07",
	"\b", "\t", "\n", "\v", "\f", "\r", "\x1b", "\x1f", "\x7f",
	"\u0080", "\u0085", "\u009f", "\u00a0", "ø", "Å", "\u00ff", "\u07ff", "\u0800",
	"\u2027", "\u2028", "\u2029", "\u202a", "\u202e", "\u200b", "\ufeff", "\ufffd", "\uffff",
	"日本", "\U00010000", "\U0001F600", "\U0010FFFF",
	"\xff", "\xfe", "\x80", "\xbf", "\xc0", "\xc0\x80", "\xc1\xbf", "\xc3", "\xc3\x28",
	"\xe2\x82", "\xe2\x80\xa8"[:2], "\xed\xa0\x80", "\xed\xbf\xbf", "\xef\xbf", "\xf0\x9f\x98",
	"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
	"</script>", "\\u2028", `\"`, "\\\\", "&amp;",
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	var cases []string
	for c := 0; c < 256; c++ {
		b := []byte{byte(c)}
		cases = append(cases, string(b), "ab"+string(b)+"cd", string(b)+string(b))
	}
	for r := rune(0); r < 0x3000; r++ {
		cases = append(cases, string(r), "x"+string(r))
	}
	for _, r := range []rune{0xd7ff, 0xe000, 0xfdd0, 0xfffe, 0xffff, 0x10000, 0x1f600, 0xe0001, 0x10fffd, 0x10ffff} {
		cases = append(cases, string(r))
	}
	cases = append(cases, trickyPieces...)
	cases = append(cases,
		"plain ascii only",
		`<script>alert("x & y")</script>`,
		"ola.nordmann@uio.no", "Jobbtelefon – Tromsø",
		strings.Repeat("\u2028<", 100),
		strings.Repeat("a", 10000)+"\xff",
	)
	rng := rand.New(rand.NewPCG(2026, 11))
	for i := 0; i < 20000; i++ {
		var sb strings.Builder
		for n := rng.IntN(12); n > 0; n-- {
			if rng.IntN(4) == 0 {
				sb.WriteByte(byte(rng.IntN(256)))
			} else {
				sb.WriteString(trickyPieces[rng.IntN(len(trickyPieces))])
			}
		}
		cases = append(cases, sb.String())
	}
	for _, s := range cases {
		want := stdString(t, s)
		if got := jsonx.AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("jsonx.AppendString(%q)\n got  %s\n want %s", s, got, want)
		}
	}
}

func TestAppendStringAppends(t *testing.T) {
	got := jsonx.AppendString([]byte(`{"k":`), "v<")
	if string(got) != `{"k":"v\u003c"` {
		t.Errorf("got %s", got)
	}
	// The result always reads back as valid UTF-8 JSON.
	for _, s := range trickyPieces {
		var back string
		if err := json.Unmarshal(jsonx.AppendString(nil, s), &back); err != nil {
			t.Errorf("%q: %v", s, err)
		}
		if !utf8.ValidString(back) {
			t.Errorf("%q decoded to invalid UTF-8 %q", s, back)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range trickyPieces {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := jsonx.AppendString(nil, s), stdString(t, s); !bytes.Equal(got, want) {
			t.Fatalf("jsonx.AppendString(%q)\n got  %s\n want %s", s, got, want)
		}
	})
}

func TestAppendHex(t *testing.T) {
	src := make([]byte, 256)
	for i := range src {
		src[i] = byte(i)
	}
	if got := string(appendHex([]byte("x"), src)); got != "x"+hex.EncodeToString(src) {
		t.Errorf("appendHex = %s", got)
	}
}

// Every registered type must be readable from every older version: a gap in
// the upcaster chain only shows when an old event is read, maybe years later.
func TestDefaultRegistryUpcasterChainsAreComplete(t *testing.T) {
	Default.mu.RLock()
	defer Default.mu.RUnlock()
	for name, e := range Default.types {
		for v := 1; v < e.version; v++ {
			if e.upcasters[v] == nil {
				t.Errorf("%s is at v%d but has no upcaster from v%d", name, e.version, v)
			}
		}
	}
}
