package events_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/events"
)

func TestVerifierTrust(t *testing.T) {
	s := events.Stream{Tenant: "t", User: "u"}
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	recs, err := events.Build(s, events.Head{}, events.Meta{Command: "c", Time: at}, rand.Reader,
		[]events.Event{events.Renamed{AuthenticatorID: "a", Label: "1"}, events.Renamed{AuthenticatorID: "a", Label: "2"}, events.Renamed{AuthenticatorID: "a", Label: "3"}})
	if err != nil {
		t.Fatal(err)
	}
	// Without trust, a chain that starts at seq 2 is missing its first event.
	if brk := events.NewVerifier().Check(&recs[1]); brk == nil {
		t.Fatal("a chain starting at seq 2 verified without a trusted head")
	}
	v := events.NewVerifier()
	v.Trust(s, recs[0].Head())
	for i := 1; i < 3; i++ {
		if brk := v.Check(&recs[i]); brk != nil {
			t.Fatalf("record %d: %v", i, brk)
		}
	}
	heads := v.Heads()
	delete(heads, s)
	if _, ok := v.Heads()[s]; !ok {
		t.Fatal("Heads hands out the verifier's own map")
	}
	// A wrong trusted head is a break.
	w := events.NewVerifier()
	w.Trust(s, recs[1].Head())
	if brk := w.Check(&recs[1]); brk == nil {
		t.Fatal("a record before the trusted head verified")
	}
}
