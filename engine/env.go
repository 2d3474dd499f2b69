package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"sync"
	"time"
)

// Env is everything a decision may depend on besides the state and the
// command. The core reads no clock and no global randomness: the shell passes
// them here, so a decision is reproducible on every host (native, WASM in Go,
// Node or Python) from the same Env.
type Env struct {
	// Now is the decision time.
	Now time.Time
	// Rand is the entropy source: crypto/rand in the shell, [SeededRand] in
	// tests, vectors and the WASM guest.
	Rand io.Reader
	// Policy is the tenant's policy; nil means [DefaultPolicy].
	Policy *Policy
	// DataKey is the user's data key that seals seeds and addresses and keys
	// the code hashes. Nil for a user whose key was destroyed (or not made).
	DataKey *DataKey
}

// SeededRand returns a deterministic stream (safe for concurrent use) expanded from seed with SHA-256 in
// counter mode: block i is SHA-256(seed || i). With a 32-byte seed from a real
// entropy source it is as unpredictable as the seed; with a fixed seed it makes
// decisions reproducible (test vectors, cross-host conformance).
func SeededRand(seed []byte) io.Reader {
	return &seeded{seed: append([]byte(nil), seed...)}
}

type seeded struct {
	mu   sync.Mutex // a Service may share one reader between goroutines
	seed []byte
	ctr  uint64
	buf  [sha256.Size]byte
	left int
}

func (s *seeded) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(p) {
		if s.left == 0 {
			h := sha256.New()
			h.Write(s.seed)
			var c [8]byte
			binary.BigEndian.PutUint64(c[:], s.ctr)
			h.Write(c[:])
			h.Sum(s.buf[:0])
			s.ctr++
			s.left = len(s.buf)
		}
		k := copy(p[n:], s.buf[len(s.buf)-s.left:])
		s.left -= k
		n += k
	}
	return n, nil
}
