package events

import (
	"encoding/hex"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vaktmfa/vakt"
)

// Stream names one aggregate's stream: a user's (Tenant and User) or a tenant's
// own (User empty), which carries its policy.
type Stream struct {
	Tenant string
	User   string
}

// TenantStream returns the stream that holds a tenant's policy.
func TenantStream(tenant string) Stream { return Stream{Tenant: tenant} }

func (s Stream) String() string {
	if s.User == "" {
		return fmt.Sprintf("tenant %q", s.Tenant)
	}
	return fmt.Sprintf("tenant %q user %q", s.Tenant, s.User)
}

// Validate checks the ids. Tenant and user ids may hold any printable Unicode,
// dots, spaces and NATS wildcards included (adapters encode them); control
// characters, invalid UTF-8 and ids over MaxIDLen bytes are refused.
func (s Stream) Validate() error {
	if err := ValidateID("tenant", s.Tenant); err != nil {
		return err
	}
	if s.User == "" {
		return nil
	}
	return ValidateID("user", s.User)
}

// MaxIDLen is the longest tenant or user id, in bytes.
const MaxIDLen = 128

// ValidateID checks a tenant or user id; kind names it in the message.
func ValidateID(kind, id string) error {
	if id == "" {
		return vakt.Errorf(vakt.CodeInvalidArgument, "%s id is empty", kind)
	}
	return validateText(kind+" id", id, MaxIDLen)
}

// validateText accepts valid UTF-8 of at most max bytes without control
// characters, format characters (such as bidirectional overrides, which can
// disguise an id in an audit report), line or paragraph separators, or the
// replacement character.
func validateText(what, s string, max int) error {
	switch {
	case len(s) > max:
		return vakt.Errorf(vakt.CodeInvalidArgument, "%s is longer than %d bytes", what, max)
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return vakt.Errorf(vakt.CodeInvalidArgument, "%s contains a control, format or separator character", what)
		} else if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return nil
	}
	if !utf8.ValidString(s) {
		return vakt.Errorf(vakt.CodeInvalidArgument, "%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError {
			return vakt.Errorf(vakt.CodeInvalidArgument, "%s contains a control, format or separator character", what)
		}
	}
	return nil
}

// MaxCommandIDLen is the longest command id.
const MaxCommandIDLen = 64

// ValidateCommandID checks a command id (idempotency key): 1 to 64 printable
// ASCII characters without spaces.
func ValidateCommandID(id string) error {
	if id == "" || len(id) > MaxCommandIDLen {
		return vakt.Errorf(vakt.CodeInvalidArgument, "command id must be 1 to %d characters", MaxCommandIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return vakt.Errorf(vakt.CodeInvalidArgument, "command id must be printable ASCII without spaces")
		}
	}
	return nil
}

// Hash is a SHA-256 digest, written in JSON as 64 lowercase hex digits.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros (the "previous hash" of a first event).
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText writes h as hex.
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, 64)
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText reads 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("hash: want 64 hex digits, got %d bytes", len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Envelope is everything stored about one event except its hash (which covers
// these bytes) and its position in a store.
type Envelope struct {
	ID      string    `json:"id"`      // UUIDv7
	Tenant  string    `json:"tenant"`  //
	User    string    `json:"user"`    // empty on a tenant stream
	Seq     uint64    `json:"seq"`     // 1-based, contiguous within the stream
	Time    time.Time `json:"time"`    // when the command was decided (UTC)
	Type    string    `json:"type"`    // e.g. "challenge.succeeded"
	Version int       `json:"v"`       // schema version of Data as stored
	Command string    `json:"command"` // the command id (idempotency key)
	Actor   string    `json:"actor"`   // who asked: "user", "helpdesk:<key id>", ...
	Prev    Hash      `json:"prev"`    // hash of the previous event of the stream
}

// Stream returns the stream the event belongs to.
func (e *Envelope) Stream() Stream { return Stream{Tenant: e.Tenant, User: e.User} }

// Head is where a stream stands: its last sequence, that event's store
// position and hash. The zero Head is an empty stream.
type Head struct {
	Seq      uint64 `json:"seq"`
	Position uint64 `json:"position"`
	Hash     Hash   `json:"hash"`
	// Command is the command id of the last event, so that a retry decided
	// after reloading the stream (its first reply lost) is recognised as the
	// same command, however long ago it was stored.
	Command string `json:"command,omitempty"`
}

// Record is one stored event: its envelope, its decoded (and upcast) data, the
// exact bytes that were stored and hashed, the hash, and the store position.
type Record struct {
	Envelope
	Event    Event
	Raw      []byte
	Hash     Hash
	Position uint64 // global order within the store; 0 until stored
}

// Head returns the stream head that this record makes.
func (r *Record) Head() Head {
	return Head{Seq: r.Seq, Position: r.Position, Hash: r.Hash, Command: r.Command}
}
