package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

func TestValidateIDAccepts(t *testing.T) {
	for _, id := range []string{
		"a", "a.b", "*", ">", "a b", "ø", "ola.nordmann@uio.no", "uio.no",
		"vakt.evt.>", "a.*.b", "Ærlig Øl Å", "日本語", "\U0001F600", "-", "_", "%2E", "'\"<>&\\/",
		strings.Repeat("a", events.MaxIDLen),
		strings.Repeat("ø", events.MaxIDLen/2), // 128 bytes, 64 runes
		// Neighbours of refused characters, and spaces other than ASCII.
		"a\u00a0b", "\u3000", "\u2027", "\u202f", "\u2070", "\ufffc", "\ufb01", "\u00ac", "\u061b",
		"\U0001F3F3\u20e3", // an emoji with a combining mark
	} {
		if err := events.ValidateID("user", id); err != nil {
			t.Errorf("ValidateID(%q) = %v, want ok", id, err)
		}
	}
}

func TestValidateIDRejects(t *testing.T) {
	for _, id := range []string{
		"",
		"\x00", "a\x00b", "\n", "a\nb", "\r", "\t", "\x1b[31m", "\x1f", "\x7f", "a\x7f",
		"\u0080", "\u0085", "a\u0085b", "\u009f",
		"\xff", "a\xffb", "\xc3", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		// Format characters (Unicode category Cf): bidirectional controls
		// disguise an id in an audit report; invisible ones make two ids look
		// the same.
		"\u202e", "evil\u202ecom.uio", "\u202a", "\u202b", "\u202c", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069",
		"\u200e", "\u200f", "\u061c", "\u200b", "o\u200bla", "\u200c", "\u200d", "\u2060", "\ufeff", "a\ufeff",
		"\u00ad", "\u0600", "\u070f", "\u180e", "\ufff9", "\U000110bd", "\U0001d173", "\U000E0001", "\U000E0041", "\U000E007F",
		// Line and paragraph separators break log lines like a newline.
		"\u2028", "a\u2028b", "\u2029", "a\u2029b",
		// The replacement character is what invalid UTF-8 becomes in JSON.
		"\ufffd", "ola\ufffd",
		strings.Repeat("a", events.MaxIDLen+1),
		strings.Repeat("ø", events.MaxIDLen/2) + "a", // 129 bytes though only 65 runes
	} {
		err := events.ValidateID("tenant", id)
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !errors.Is(err, vakt.ErrInvalidArgument) {
			t.Errorf("ValidateID(%q) = %v, want invalid_argument", id, err)
			continue
		}
		if !strings.HasPrefix(err.(*vakt.Error).Message, "tenant id ") {
			t.Errorf("ValidateID(%q): message %q does not name the kind", id, err.(*vakt.Error).Message)
		}
	}
}

func TestStreamValidate(t *testing.T) {
	ok := []events.Stream{
		{Tenant: "uio.no", User: "ola.nordmann@uio.no"},
		{Tenant: "*", User: ">"},
		events.TenantStream("uio.no"),
	}
	for _, s := range ok {
		if err := s.Validate(); err != nil {
			t.Errorf("%v: %v", s, err)
		}
	}
	bad := []struct {
		s    events.Stream
		kind string
	}{
		{events.Stream{}, "tenant"},
		{events.Stream{User: "ola"}, "tenant"},
		{events.Stream{Tenant: "t\n", User: "ola"}, "tenant"},
		{events.Stream{Tenant: "t", User: "o\x00la"}, "user"},
		{events.Stream{Tenant: "t", User: strings.Repeat("u", 129)}, "user"},
		{events.Stream{Tenant: "uio\u202eon", User: "ola"}, "tenant"},
		{events.Stream{Tenant: "t", User: "ola\u2028"}, "user"},
		{events.Stream{Tenant: "t", User: "\ufffd"}, "user"},
	}
	for _, tc := range bad {
		err := tc.s.Validate()
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !strings.Contains(err.Error(), tc.kind+" id") {
			t.Errorf("%#v: err = %v, want invalid_argument about the %s id", tc.s, err, tc.kind)
		}
	}
}

func TestStreamString(t *testing.T) {
	if got := events.TenantStream("uio.no").String(); got != `tenant "uio.no"` {
		t.Errorf("tenant stream: %s", got)
	}
	if got := (events.Stream{Tenant: "uio.no", User: "a\nb"}).String(); got != `tenant "uio.no" user "a\nb"` {
		t.Errorf("user stream: %s (ids must be quoted so a log line cannot be forged)", got)
	}
	if s := events.TenantStream("t"); s.User != "" || s.Tenant != "t" {
		t.Errorf("TenantStream = %#v", s)
	}
}

func TestHashText(t *testing.T) {
	var h events.Hash
	for i := range h {
		h[i] = byte(i * 7)
	}
	text, err := h.MarshalText()
	if err != nil || len(text) != 64 || string(text) != h.String() || strings.ToLower(string(text)) != string(text) {
		t.Fatalf("MarshalText = %s, %v", text, err)
	}
	var back events.Hash
	if err := back.UnmarshalText(text); err != nil || back != h {
		t.Errorf("UnmarshalText(%s) = %s, %v", text, back, err)
	}
	// In JSON a hash is a string, as the envelope writes it.
	b, err := json.Marshal(struct{ H events.Hash }{h})
	if err != nil || string(b) != `{"H":"`+h.String()+`"}` {
		t.Errorf("json: %s %v", b, err)
	}
	for _, s := range []string{"", "00", strings.Repeat("0", 63), strings.Repeat("0", 65), strings.Repeat("0", 128), strings.Repeat("g", 64), strings.Repeat("0", 62) + " 0"} {
		var h events.Hash
		if err := h.UnmarshalText([]byte(s)); err == nil {
			t.Errorf("UnmarshalText(%q) = %s, want an error", s, h)
		}
	}
	if !(events.Hash{}).IsZero() || h.IsZero() || (events.Hash{31: 1}).IsZero() {
		t.Errorf("IsZero is wrong")
	}
}

func TestRecordHead(t *testing.T) {
	r := events.Record{Envelope: events.Envelope{Seq: 7}, Hash: events.Hash{9}, Position: 1234}
	if h := r.Head(); h != (events.Head{Seq: 7, Position: 1234, Hash: events.Hash{9}}) {
		t.Errorf("Head() = %+v", h)
	}
	env := events.Envelope{Tenant: "t", User: "u"}
	if env.Stream() != (events.Stream{Tenant: "t", User: "u"}) {
		t.Errorf("Stream() = %v", env.Stream())
	}
}

func TestSealedAndContextIsZero(t *testing.T) {
	if !(events.Sealed{}).IsZero() || (events.Sealed{Box: []byte{1}}).IsZero() {
		t.Errorf("Sealed.IsZero is wrong")
	}
	if !(events.Context{}).IsZero() || (events.Context{IP: "::1"}).IsZero() {
		t.Errorf("Context.IsZero is wrong")
	}
}
