package events

import (
	"crypto/rand"
	"errors"
	"reflect"
	"testing"
	"time"
)

// FuzzParseCanonical holds the fast envelope parser to the general decoder:
// whenever the fast path accepts input, it must read exactly what the
// general decoder reads.
func FuzzParseCanonical(f *testing.F) {
	at := time.Date(2026, 11, 23, 9, 0, 0, 123456789, time.UTC)
	for _, ev := range []Event{
		Renamed{AuthenticatorID: "a", Label: "Phone"},
		ChallengeIssued{ChallengeID: "c", App: "web", Methods: []string{"totp"}, ExpiresAt: at},
		UserErased{Reason: "x"},
	} {
		for _, s := range []Stream{{Tenant: "uio.no", User: "ola"}, {Tenant: "t", User: "ø <&>"}, {Tenant: "t"}} {
			recs, err := Build(s, Head{}, Meta{Command: "cmd-1", Actor: "helpdesk:kari", Time: at}, rand.Reader, []Event{ev})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(recs[0].Raw)
		}
	}
	slow := func(raw []byte) (Record, error) {
		var w wire
		if err := unmarshal(raw, &w); err != nil {
			return Record{}, err
		}
		if w.ID == "" || w.Tenant == "" || w.Type == "" || w.Seq == 0 || w.Version < 1 || len(w.Data) == 0 {
			return Record{}, errSlow
		}
		if y := w.Time.UTC().Year(); y < 1 || y > 9999 {
			return Record{}, errSlow
		}
		if err := w.Stream().Validate(); err != nil {
			return Record{}, err
		}
		ev, err := Default.DecodeData(w.Type, w.Version, w.Data)
		return Record{Envelope: w.Envelope, Event: ev, Raw: raw}, err
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fw wire
		if !parseCanonical(raw, &fw) {
			return
		}
		got, gerr := Decode(raw)
		want, werr := slow(raw)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("fast decode err %v, general decode err %v: %q", gerr, werr, raw)
		}
		if gerr != nil {
			return
		}
		if !got.Time.Equal(want.Time) {
			t.Fatalf("time %v vs %v", got.Time, want.Time)
		}
		got.Time, want.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("records differ:\n fast %+v\n slow %+v", got, want)
		}
	})
}

var errSlow = errors.New("invalid envelope")
