package events_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vaktmfa/vakt/events"
)

var (
	alice = events.Stream{Tenant: "uio.no", User: "alice"}
	bob   = events.Stream{Tenant: "uio.no", User: "bob"}
)

// interleaved stores commands for alice and bob in turns and returns every
// record in store order. Positions: alice 1-2 (seq 1-2), bob 3 (seq 1), alice 4
// (seq 3), bob 5-6 (seq 2-3), alice 7-9 (seq 4-6), bob 10 (seq 4).
func interleaved(t *testing.T) []events.Record {
	t.Helper()
	st := events.NewMemory()
	heads := map[events.Stream]events.Head{}
	entropy := &counter{}
	for i, step := range []struct {
		s events.Stream
		n int
	}{{alice, 2}, {bob, 1}, {alice, 1}, {bob, 2}, {alice, 3}, {bob, 1}} {
		evs := make([]events.Event, step.n)
		for j := range evs {
			evs[j] = events.Renamed{AuthenticatorID: authID, Label: fmt.Sprintf("%s %d.%d", step.s.User, i, j)}
		}
		m := events.Meta{Command: fmt.Sprintf("cmd-%d", i), Actor: "user", Time: at(0)}
		recs, err := events.Build(step.s, heads[step.s], m, entropy, evs)
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Append(context.Background(), step.s, heads[step.s], recs)
		if err != nil {
			t.Fatal(err)
		}
		heads[step.s] = res.Records[len(res.Records)-1].Head()
	}
	var all []events.Record
	for r, err := range st.All(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	if len(all) != 10 {
		t.Fatalf("test setup: %d records", len(all))
	}
	return all
}

// cloneRecords copies records deeply enough to tamper with their bytes.
func cloneRecords(recs []events.Record) []events.Record {
	out := make([]events.Record, len(recs))
	for i, r := range recs {
		r.Raw = bytes.Clone(r.Raw)
		out[i] = r
	}
	return out
}

// index returns where the record of s at seq is in recs.
func index(t *testing.T, recs []events.Record, s events.Stream, seq uint64) int {
	t.Helper()
	for i := range recs {
		if recs[i].Stream() == s && recs[i].Seq == seq {
			return i
		}
	}
	t.Fatalf("no record %v seq %d", s, seq)
	return -1
}

func verifyAll(recs []events.Record) (*events.Verifier, []*events.Break) {
	v := events.NewVerifier()
	var breaks []*events.Break
	for i := range recs {
		if b := v.Check(&recs[i]); b != nil {
			breaks = append(breaks, b)
		}
	}
	return v, breaks
}

func lastHead(recs []events.Record, s events.Stream) events.Head {
	var h events.Head
	for _, r := range recs {
		if r.Stream() == s {
			h = r.Head()
		}
	}
	return h
}

// forge replaces the data of a record, re-encodes it with prev as its
// previous hash and re-hashes it, as an attacker with write access would.
func forge(t *testing.T, r *events.Record, prev events.Hash, label string) {
	t.Helper()
	r.Prev = prev
	r.Event = events.Renamed{AuthenticatorID: authID, Label: label}
	raw, err := events.Encode(&r.Envelope, r.Event)
	if err != nil {
		t.Fatal(err)
	}
	r.Raw, r.Hash = raw, events.ChainHash(prev, raw)
}

func TestVerifierAcceptsBuiltStreams(t *testing.T) {
	recs := interleaved(t)
	v, breaks := verifyAll(recs)
	if len(breaks) > 0 || v.Broken() {
		t.Fatalf("untouched streams reported broken: %v", breaks)
	}
	heads := v.Heads()
	if len(heads) != 2 || heads[alice] != lastHead(recs, alice) || heads[bob] != lastHead(recs, bob) {
		t.Errorf("heads = %v", heads)
	}
	if heads[alice].Seq != 6 || heads[bob].Seq != 4 || heads[alice].Position != 9 {
		t.Errorf("heads = %+v", heads)
	}
}

func TestVerifierFindsTampering(t *testing.T) {
	cases := []struct {
		name string
		// tamper changes recs and returns them with the index of the record
		// the break must be reported at.
		tamper     func(t *testing.T, recs []events.Record) ([]events.Record, int)
		wantSeq    uint64
		wantReason string
	}{
		{
			name: "one byte of raw changed",
			tamper: func(t *testing.T, recs []events.Record) ([]events.Record, int) {
				i := index(t, recs, alice, 3)
				j := bytes.Index(recs[i].Raw, []byte("alice 2.0"))
				recs[i].Raw[j] = 'A'
				return recs, i
			},
			wantSeq: 3, wantReason: "altered",
		},
		{
			name: "event removed from the middle",
			tamper: func(t *testing.T, recs []events.Record) ([]events.Record, int) {
				i := index(t, recs, alice, 3)
				recs = append(recs[:i], recs[i+1:]...)
				return recs, index(t, recs, alice, 4)
			},
			wantSeq: 4, wantReason: "1 event(s) missing",
		},
		{
			name: "two events removed from the middle",
			tamper: func(t *testing.T, recs []events.Record) ([]events.Record, int) {
				i := index(t, recs, alice, 4)
				recs = append(recs[:i], recs[i+2:]...)
				return recs, index(t, recs, alice, 6)
			},
			wantSeq: 6, wantReason: "2 event(s) missing",
		},
		{
			// Store order alice 3 and 4 swapped (positions too). The verifier
			// stops at the first break, where seq 4 follows seq 2, so it can
			// only see a gap; the swapped-in event is named.
			name: "two events swapped",
			tamper: func(t *testing.T, recs []events.Record) ([]events.Record, int) {
				i, j := index(t, recs, alice, 3), index(t, recs, alice, 4)
				recs[i], recs[j] = recs[j], recs[i]
				recs[i].Position, recs[j].Position = recs[j].Position, recs[i].Position
				return recs, i
			},
			wantSeq: 4, wantReason: "sequence 4 after 2",
		},
		{
			name: "event replayed later",
			tamper: func(t *testing.T, recs []events.Record) ([]events.Record, int) {
				dup := recs[index(t, recs, alice, 2)]
				dup.Position = 99
				i := index(t, recs, alice, 3) + 1
				recs = append(recs[:i], append([]events.Record{dup}, recs[i:]...)...)
				return recs, i
			},
			wantSeq: 2, wantReason: "reordered or duplicated",
		},
		{
			name: "forged record re-hashed with a wrong prev",
			tamper: func(t *testing.T, recs []events.Record) ([]events.Record, int) {
				i := index(t, recs, alice, 3)
				forge(t, &recs[i], recs[index(t, recs, alice, 1)].Hash, "forged")
				return recs, i
			},
			wantSeq: 3, wantReason: "previous hash does not match the hash of seq 2",
		},
		{
			// A forger who chains the forged record correctly still breaks
			// the link to the next one.
			name: "forged record re-hashed with the right prev",
			tamper: func(t *testing.T, recs []events.Record) ([]events.Record, int) {
				i := index(t, recs, alice, 3)
				forge(t, &recs[i], recs[index(t, recs, alice, 2)].Hash, "forged")
				return recs, index(t, recs, alice, 4)
			},
			wantSeq: 4, wantReason: "previous hash does not match the hash of seq 3",
		},
		{
			name: "first event with a non-zero prev",
			tamper: func(t *testing.T, recs []events.Record) ([]events.Record, int) {
				i := index(t, recs, alice, 1)
				forge(t, &recs[i], events.Hash{1}, "forged")
				return recs, i
			},
			wantSeq: 1, wantReason: "previous hash",
		},
		{
			name: "hash beside the bytes replaced",
			tamper: func(t *testing.T, recs []events.Record) ([]events.Record, int) {
				i := index(t, recs, alice, 5)
				recs[i].Hash[0] ^= 1
				return recs, i
			},
			wantSeq: 5, wantReason: "altered",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig := interleaved(t)
			recs, at := tc.tamper(t, cloneRecords(orig))
			v, breaks := verifyAll(recs)
			if len(breaks) != 1 {
				t.Fatalf("got %d breaks %v, want exactly one", len(breaks), breaks)
			}
			b := breaks[0]
			if b.Stream != alice || b.Seq != tc.wantSeq || b.Position != recs[at].Position {
				t.Errorf("break at %v seq %d position %d, want alice seq %d position %d", b.Stream, b.Seq, b.Position, tc.wantSeq, recs[at].Position)
			}
			if !strings.Contains(b.Reason, tc.wantReason) {
				t.Errorf("reason %q, want it to contain %q", b.Reason, tc.wantReason)
			}
			msg := b.Error()
			for _, want := range []string{`"alice"`, fmt.Sprintf("seq %d", tc.wantSeq), fmt.Sprintf("position %d", b.Position), b.Reason} {
				if !strings.Contains(msg, want) {
					t.Errorf("Error() = %q, want it to contain %q", msg, want)
				}
			}
			if !v.Broken() {
				t.Errorf("Broken() = false after a break")
			}
			// Bob's stream, interleaved with alice's, is untouched.
			if h := v.Heads()[bob]; h != lastHead(orig, bob) {
				t.Errorf("bob's head = %+v, want %+v", h, lastHead(orig, bob))
			}
			// Alice's head stays at the last record verified before the break.
			if h, want := v.Heads()[alice], lastHead(recs[:at], alice); h != want {
				t.Errorf("alice's head = %+v, want %+v (the record before the break)", h, want)
			}
		})
	}
}

// Every single changed byte of a record is caught.
func TestVerifierCatchesEveryByte(t *testing.T) {
	orig := interleaved(t)
	i := index(t, orig, alice, 3)
	for j := range orig[i].Raw {
		recs := cloneRecords(orig)
		recs[i].Raw[j] ^= 0x20
		_, breaks := verifyAll(recs)
		if len(breaks) != 1 || breaks[0].Seq != 3 || breaks[0].Stream != alice {
			t.Fatalf("byte %d changed: breaks %v", j, breaks)
		}
	}
}

func TestVerifierReportsEachStreamOnce(t *testing.T) {
	recs := cloneRecords(interleaved(t))
	recs[index(t, recs, alice, 2)].Raw[0] = '['
	recs[index(t, recs, alice, 5)].Raw[0] = '['
	recs[index(t, recs, bob, 3)].Raw[0] = '['
	_, breaks := verifyAll(recs)
	if len(breaks) != 2 {
		t.Fatalf("breaks %v, want one for alice and one for bob", breaks)
	}
	if breaks[0].Stream != alice || breaks[0].Seq != 2 || breaks[1].Stream != bob || breaks[1].Seq != 3 {
		t.Errorf("breaks %v", breaks)
	}
}

// Without a trusted head, a forger can rewrite the last event of a stream;
// the verifier's head then differs from the one the application kept.
func TestVerifierHeadAnchorsTheTail(t *testing.T) {
	orig := interleaved(t)
	trusted := lastHead(orig, alice)
	recs := cloneRecords(orig)
	i := index(t, recs, alice, 6)
	forge(t, &recs[i], recs[index(t, recs, alice, 5)].Hash, "forged tail")
	v, breaks := verifyAll(recs)
	if len(breaks) != 0 {
		t.Fatalf("breaks %v", breaks)
	}
	if v.Heads()[alice] == trusted {
		t.Errorf("a forged tail left the same head")
	}
}

// A verifier that starts mid-stream (after a snapshot) sees a gap.
func TestVerifierNeedsTheStreamFromItsStart(t *testing.T) {
	var recs []events.Record
	for _, r := range interleaved(t) {
		if r.Stream() == alice && r.Seq >= 3 {
			recs = append(recs, r)
		}
	}
	_, breaks := verifyAll(recs)
	if len(breaks) != 1 || breaks[0].Seq != 3 || !strings.Contains(breaks[0].Reason, "2 event(s) missing") {
		t.Errorf("breaks %v", breaks)
	}
}

func TestChainHashKnownAnswers(t *testing.T) {
	var count events.Hash
	for i := range count {
		count[i] = byte(i)
	}
	var ones events.Hash
	for i := range ones {
		ones[i] = 0xff
	}
	// Expected values computed outside Go: (prev bytes; raw) | sha256sum.
	cases := []struct {
		prev events.Hash
		raw  string
		want string
	}{
		{events.Hash{}, "", "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"},
		{count, "vakt", "cb291b4c486a136a73b8c0d9709b680090934f6c4c7c516e21c5880954d6b082"},
		{ones, `{"id":"x"}`, "5e7d0e47a8c3144c1f5ae2614a91d4b983f745561883b102d57db7a0520c24db"},
	}
	for _, tc := range cases {
		got := events.ChainHash(tc.prev, []byte(tc.raw))
		if got.String() != tc.want {
			t.Errorf("ChainHash(%s, %q) = %s, want %s", tc.prev, tc.raw, got, tc.want)
		}
		if sum := sha256.Sum256(append(tc.prev[:], tc.raw...)); got != sum {
			t.Errorf("ChainHash(%s, %q) differs from crypto/sha256", tc.prev, tc.raw)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		var prev events.Hash
		raw := make([]byte, rng.IntN(2000))
		for j := range prev {
			prev[j] = byte(rng.Uint32())
		}
		for j := range raw {
			raw[j] = byte(rng.Uint32())
		}
		if events.ChainHash(prev, raw) != sha256.Sum256(append(prev[:], raw...)) {
			t.Fatalf("ChainHash differs from SHA-256(prev || raw) for %d bytes", len(raw))
		}
	}
	// The previous hash matters: the same bytes after another event hash differently.
	if events.ChainHash(events.Hash{}, []byte("x")) == events.ChainHash(events.Hash{1}, []byte("x")) {
		t.Error("ChainHash ignores prev")
	}
}

func TestChainHashOfBuiltRecords(t *testing.T) {
	for _, r := range interleaved(t) {
		want := sha256.Sum256(append(r.Prev[:], r.Raw...))
		if r.Hash != want {
			t.Errorf("%v seq %d: hash %s, want %s", r.Stream(), r.Seq, r.Hash, hex.EncodeToString(want[:]))
		}
	}
}
