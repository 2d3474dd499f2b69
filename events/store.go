package events

import (
	"context"
	"iter"
)

// Store keeps event streams. Implementations: [Memory] here, and the NATS
// JetStream store in events/nats. Every implementation must pass
// eventstest.Run.
type Store interface {
	// Append stores recs (made by Build on expected) at the end of stream s,
	// all or nothing, if the stream's head is still expected.Seq. Otherwise it
	// fails with a *vakt.Error of code conflict and stores nothing.
	//
	// If the stream's latest events were written by the same command id, Append
	// stores nothing and returns those events with Duplicate set: a retry after
	// a lost reply is answered, not applied twice, whether it was decided on
	// the old head (expected is the head before the command) or after
	// reloading (expected is the command's own last event, expected.Command
	// its id).
	Append(ctx context.Context, s Stream, expected Head, recs []Record) (AppendResult, error)

	// Load returns the events of s after `after` (Seq and, where the store can
	// use it, Position), in order. An unknown stream has no events.
	Load(ctx context.Context, s Stream, after Head) ([]Record, error)

	// All yields every event of every stream in store order, starting after
	// global position `after`. A read error ends the sequence with that error.
	All(ctx context.Context, after uint64) iter.Seq2[Record, error]
}

// AppendResult is what an append stored (with positions), or, for a
// duplicate, what the earlier attempt of the same command stored.
type AppendResult struct {
	Records   []Record
	Duplicate bool
}
