package events

import (
	"bytes"
	"context"
	"iter"
	"sync"

	"github.com/vaktmfa/vakt"
)

// Memory is an in-memory [Store] for tests, examples and `vakt demo`. It keeps
// the same promises as a durable store except durability.
type Memory struct {
	mu      sync.RWMutex
	all     []Record
	streams map[Stream][]int // indexes into all
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{streams: map[Stream][]int{}} }

// Append implements [Store].
func (m *Memory) Append(ctx context.Context, s Stream, expected Head, recs []Record) (AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	if err := CheckAppend(s, expected, recs); err != nil {
		return AppendResult{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	idx := m.streams[s]
	var head Head
	if n := len(idx); n > 0 {
		last := &m.all[idx[n-1]]
		if last.Command == recs[0].Command {
			return AppendResult{Records: m.lastCommand(idx), Duplicate: true}, nil
		}
		head = last.Head()
	}
	if head.Seq != expected.Seq {
		return AppendResult{}, vakt.Errorf(vakt.CodeConflict, "%s moved on: expected seq %d, it is at %d", s, expected.Seq, head.Seq)
	}
	if head.Hash != recs[0].Prev {
		return AppendResult{}, vakt.Errorf(vakt.CodeInvalidArgument, "%s: the first event's previous hash is not the head's hash", s)
	}
	out := make([]Record, len(recs))
	for i := range recs {
		r := recs[i]
		r.Raw = bytes.Clone(r.Raw)
		r.Position = uint64(len(m.all)) + 1
		m.all = append(m.all, r)
		idx = append(idx, len(m.all)-1)
		out[i] = r
	}
	m.streams[s] = idx
	return AppendResult{Records: out}, nil
}

// lastCommand returns the trailing records of a stream written by the same
// command as its last record.
func (m *Memory) lastCommand(idx []int) []Record {
	cmd := m.all[idx[len(idx)-1]].Command
	i := len(idx)
	for i > 0 && m.all[idx[i-1]].Command == cmd {
		i--
	}
	out := make([]Record, 0, len(idx)-i)
	for _, j := range idx[i:] {
		out = append(out, m.all[j])
	}
	return out
}

// Load implements [Store].
func (m *Memory) Load(ctx context.Context, s Stream, after Head) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	idx := m.streams[s]
	if after.Seq >= uint64(len(idx)) {
		return nil, nil
	}
	out := make([]Record, 0, uint64(len(idx))-after.Seq)
	for _, j := range idx[after.Seq:] {
		out = append(out, m.all[j])
	}
	return out, nil
}

// All implements [Store]. It reads a snapshot taken in batches, so appends
// made while iterating may or may not be seen but order is always kept.
func (m *Memory) All(ctx context.Context, after uint64) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		pos := after
		for {
			if err := ctx.Err(); err != nil {
				yield(Record{}, err)
				return
			}
			m.mu.RLock()
			end := min(uint64(len(m.all)), pos+512)
			var batch []Record
			if pos < end {
				batch = append(batch, m.all[pos:end]...)
			}
			m.mu.RUnlock()
			if len(batch) == 0 {
				return
			}
			for _, r := range batch {
				if !yield(r, nil) {
					return
				}
			}
			pos = end
		}
	}
}

// CheckAppend validates an append's arguments the same way for every store:
// a valid stream, 1 to MaxBatch records of that stream with one command id,
// contiguous sequence numbers following expected and a chained previous hash.
func CheckAppend(s Stream, expected Head, recs []Record) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if len(recs) == 0 || len(recs) > MaxBatch {
		return vakt.Errorf(vakt.CodeInvalidArgument, "append 1 to %d events, not %d", MaxBatch, len(recs))
	}
	prev := expected.Hash
	for i := range recs {
		r := &recs[i]
		switch {
		case r.Stream() != s:
			return vakt.Errorf(vakt.CodeInvalidArgument, "event %d belongs to %s, not %s", i, r.Stream(), s)
		case r.Command == "" || r.Command != recs[0].Command:
			return vakt.Errorf(vakt.CodeInvalidArgument, "every event of an append needs the same, non-empty command id")
		case r.Seq != expected.Seq+uint64(i)+1:
			return vakt.Errorf(vakt.CodeInvalidArgument, "event %d has seq %d, want %d", i, r.Seq, expected.Seq+uint64(i)+1)
		case r.Prev != prev || len(r.Raw) == 0:
			return vakt.Errorf(vakt.CodeInvalidArgument, "event %d is not chained to the one before it; build records with events.Build", i)
		}
		prev = r.Hash
	}
	return nil
}
