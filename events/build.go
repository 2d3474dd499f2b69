package events

import (
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/vaktmfa/vakt"
)

// Meta is what the shell knows about a command besides the events it decided.
type Meta struct {
	Command string    // the command id; a retry carries the same one
	Actor   string    // who asked
	Time    time.Time // the decision time, the same for every event of the command
}

// MaxBatch is the most events one command may append (a reset of a user with
// every authenticator slot used stays far below it).
const MaxBatch = 100

// Build turns decided events into records that follow head on stream s: ids
// (UUIDv7 from m.Time and rand), contiguous sequence numbers, schema versions,
// canonical bytes and the hash chain. Position is left for the store to set.
func (reg *Registry) Build(s Stream, head Head, m Meta, rand io.Reader, evs []Event) ([]Record, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(evs) == 0 || len(evs) > MaxBatch {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "a command appends 1 to %d events, not %d", MaxBatch, len(evs))
	}
	if err := ValidateCommandID(m.Command); err != nil {
		return nil, err
	}
	if m.Actor != "" {
		if err := validateText("actor", m.Actor, MaxIDLen); err != nil {
			return nil, err
		}
	}
	recs := make([]Record, len(evs))
	prev := head.Hash
	for i, ev := range evs {
		typ := ev.EventType()
		v := reg.Version(typ)
		if v == 0 {
			return nil, vakt.Errorf(vakt.CodeInternal, "event type %q is not registered", typ)
		}
		id, err := NewID(m.Time, rand)
		if err != nil {
			return nil, err
		}
		env := Envelope{
			ID: id, Tenant: s.Tenant, User: s.User, Seq: head.Seq + uint64(i) + 1,
			Time: m.Time.UTC(), Type: typ, Version: v, Command: m.Command, Actor: m.Actor, Prev: prev,
		}
		raw, err := Encode(&env, ev)
		if err != nil {
			return nil, err
		}
		h := ChainHash(prev, raw)
		recs[i] = Record{Envelope: env, Event: ev, Raw: raw, Hash: h}
		prev = h
	}
	return recs, nil
}

// Build builds with the default registry.
func Build(s Stream, head Head, m Meta, rand io.Reader, evs []Event) ([]Record, error) {
	return Default.Build(s, head, m, rand, evs)
}

// Break describes the first place where a stream's hash chain does not hold.
type Break struct {
	Stream   Stream
	Seq      uint64 // the sequence the broken record claims (or was expected to have)
	Position uint64
	Reason   string
}

func (b *Break) Error() string {
	return fmt.Sprintf("%s: chain broken at seq %d (position %d): %s", b.Stream, b.Seq, b.Position, b.Reason)
}

// Verifier checks hash chains over records of any number of streams, read in
// store order. Feed it every record; it remembers each stream's head and stops
// checking a stream after its first break.
type Verifier struct {
	heads  map[Stream]Head
	broken map[Stream]bool
}

// NewVerifier returns a verifier that knows no stream yet.
func NewVerifier() *Verifier {
	return &Verifier{heads: map[Stream]Head{}, broken: map[Stream]bool{}}
}

// Check verifies rec against its stream's previous record: the next sequence,
// the previous hash, and the hash over the stored bytes. It returns the break,
// or nil.
func (v *Verifier) Check(rec *Record) *Break {
	s := rec.Stream()
	if v.broken[s] {
		return nil
	}
	prev := v.heads[s]
	brk := func(reason string, args ...any) *Break {
		v.broken[s] = true
		return &Break{Stream: s, Seq: rec.Seq, Position: rec.Position, Reason: fmt.Sprintf(reason, args...)}
	}
	switch {
	case rec.Seq != prev.Seq+1:
		if rec.Seq <= prev.Seq {
			return brk("sequence %d after %d: reordered or duplicated", rec.Seq, prev.Seq)
		}
		return brk("sequence %d after %d: %d event(s) missing", rec.Seq, prev.Seq, rec.Seq-prev.Seq-1)
	case rec.Prev != prev.Hash:
		return brk("previous hash does not match the hash of seq %d", prev.Seq)
	case ChainHash(prev.Hash, rec.Raw) != rec.Hash:
		return brk("hash does not match the stored bytes (altered)")
	}
	v.heads[s] = rec.Head()
	return nil
}

// Trust starts a stream's chain at a head verified elsewhere (a snapshot, an
// export that begins mid-stream): its next record must follow h.
func (v *Verifier) Trust(s Stream, h Head) { v.heads[s] = h }

// Heads returns a copy of the last verified head of every stream seen.
func (v *Verifier) Heads() map[Stream]Head { return maps.Clone(v.heads) }

// Broken reports whether any stream had a break.
func (v *Verifier) Broken() bool { return len(v.broken) > 0 }
