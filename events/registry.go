package events

import (
	"fmt"
	"sort"
	"sync"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// Upcaster rewrites the JSON data of one schema version into the next one
// (version v to v+1). Upcasting happens on read only: stored bytes, and so the
// hash chain, never change.
type Upcaster func(data []byte) ([]byte, error)

// Registry knows every event type: its current schema version, how to decode
// it, and the upcasters from older versions. [Default] holds Vakt's events;
// tests make their own with [NewRegistry].
type Registry struct {
	mu    sync.RWMutex
	types map[string]*entry
}

type entry struct {
	version   int
	decode    func([]byte) (Event, error)
	upcasters map[int]Upcaster // from version -> to version+1
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]*entry{}} }

// Register adds the event type T at its current schema version. It panics on a
// second registration of the same type, which is a programming error.
func Register[T Event](reg *Registry, version int) {
	var zero T
	name := zero.EventType()
	if version < 1 {
		panic(fmt.Sprintf("events: %s: version must be at least 1", name))
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, dup := reg.types[name]; dup {
		panic(fmt.Sprintf("events: %s registered twice", name))
	}
	reg.types[name] = &entry{
		version: version,
		decode: func(b []byte) (Event, error) {
			var v T
			if f, ok := any(&v).(fastDecoder); ok {
				rd := jsonx.Reader{B: b}
				if f.parseJSON(&rd) && rd.End() {
					return v, nil
				}
				v = *new(T)
			}
			if err := unmarshalOf(b, &v); err != nil {
				return nil, err
			}
			return v, nil
		},
		upcasters: map[int]Upcaster{},
	}
}

// Upcast registers the step from version `from` to from+1 of typ.
func (reg *Registry) Upcast(typ string, from int, up Upcaster) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	e, ok := reg.types[typ]
	if !ok {
		panic(fmt.Sprintf("events: upcaster for unregistered type %s", typ))
	}
	if from < 1 || from >= e.version {
		panic(fmt.Sprintf("events: upcaster %s v%d: current version is %d", typ, from, e.version))
	}
	e.upcasters[from] = up
}

// Version returns the current schema version of typ, or 0 if unknown.
func (reg *Registry) Version(typ string) int {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	if e, ok := reg.types[typ]; ok {
		return e.version
	}
	return 0
}

// Types lists the registered type names, sorted.
func (reg *Registry) Types() []string {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make([]string, 0, len(reg.types))
	for t := range reg.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// DecodeData decodes data stored at version v of typ, upcasting it first when v
// is older than the current version.
func (reg *Registry) DecodeData(typ string, v int, data []byte) (Event, error) {
	reg.mu.RLock()
	e, ok := reg.types[typ]
	var ups []Upcaster
	if ok && v >= 1 && v < e.version {
		for from := v; from < e.version; from++ {
			ups = append(ups, e.upcasters[from])
		}
	}
	reg.mu.RUnlock()
	if !ok {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "unknown event type %q", typ)
	}
	if v < 1 {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "event %s has schema version %d; versions start at 1", typ, v)
	}
	if v > e.version {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "event %s v%d was written by a newer version of vakt (this one reads up to v%d)", typ, v, e.version)
	}
	for _, up := range ups {
		if up == nil {
			return nil, vakt.Errorf(vakt.CodeInternal, "no upcaster for %s v%d", typ, v)
		}
		var err error
		if data, err = up(data); err != nil {
			return nil, vakt.Errorf(vakt.CodeInvalidArgument, "upcast %s v%d: %w", typ, v, err)
		}
		v++
	}
	ev, err := e.decode(data)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "decode %s data: %w", typ, err)
	}
	return ev, nil
}

// Default is the registry of Vakt's own events.
var Default = NewRegistry()

func init() {
	Register[EnrolmentStarted](Default, 1)
	Register[ConfirmationFailed](Default, 1)
	Register[Activated](Default, 1)
	Register[EnrolmentExpired](Default, 1)
	Register[Renamed](Default, 1)
	Register[DefaultChanged](Default, 1)
	Register[Removed](Default, 1)
	Register[CounterResynced](Default, 1)
	Register[DriftAdjusted](Default, 1)
	Register[RecoveryCodesIssued](Default, 1)
	Register[RecoveryCodeUsed](Default, 1)
	Register[TemporaryPassIssued](Default, 1)
	Register[TemporaryPassUsed](Default, 1)
	Register[ChallengeIssued](Default, 1)
	Register[CodeSent](Default, 1)
	Register[PushSent](Default, 1)
	Register[ChallengeSkipped](Default, 1)
	Register[AttemptFailed](Default, 1)
	Register[ChallengeSucceeded](Default, 1)
	Register[ChallengeDenied](Default, 1)
	Register[FraudReported](Default, 1)
	Register[ChallengeExpired](Default, 1)
	Register[PushPaused](Default, 1)
	Register[LockedOut](Default, 1)
	Register[Unlocked](Default, 1)
	Register[DeviceRemembered](Default, 1)
	Register[DeviceForgotten](Default, 1)
	Register[EnrolmentSnoozed](Default, 1)
	Register[ResetCompleted](Default, 1)
	Register[UserErased](Default, 1)
	Register[PolicySet](Default, 1)
}
