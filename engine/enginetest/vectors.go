// Package enginetest runs Vakt's language-neutral decision vectors
// (testdata/vectors, format in testdata/vectors/README.md) against any
// implementation of the engine: native Go here, and the WASM module through
// every host. An implementation is a [Decider]; [Run] replays every vector
// through it and compares the produced events, reply and error byte for byte
// with the expected ones.
package enginetest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// Vector is one given/when/then case.
type Vector struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Tenant      string            `json:"tenant"`
	User        string            `json:"user"` // empty: the tenant stream (set_policy)
	Policy      *engine.Policy    `json:"policy,omitempty"`
	DataKey     string            `json:"data_key,omitempty"` // hex; empty: no key (erased or never created)
	Given       []json.RawMessage `json:"given"`
	When        When              `json:"when"`
	Then        Then              `json:"then"`
}

// When is the command and the environment it is decided in.
type When struct {
	Time    time.Time       `json:"time"`
	Entropy string          `json:"entropy"` // hex seed for engine.SeededRand
	Command json.RawMessage `json:"command"`
}

// Then is the expected outcome.
type Then struct {
	Events []Event          `json:"events"`
	Reply  *json.RawMessage `json:"reply,omitempty"`
	Error  *vakt.Error      `json:"error,omitempty"`
}

// Event is an expected event: its type, schema version and data.
type Event struct {
	Type    string          `json:"type"`
	Version int             `json:"v"`
	Data    json.RawMessage `json:"data"`
}

// Outcome is what a decider produced, in wire form.
type Outcome struct {
	Events []Event
	Reply  json.RawMessage // the engine.Reply as JSON; nil when the command failed without events
	Error  *vakt.Error
}

// Decider decides one vector.
type Decider func(v *Vector) (Outcome, error)

// Load reads every vector under dir (recursively, *.json).
func Load(dir string) ([]*Vector, error) {
	var out []*Vector
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var v Vector
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, &v)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Exceptions reads the exceptions file: one vector name per line, followed by
// the issue that explains why it is skipped; '#' starts a comment. A missing
// file means no exceptions.
func Exceptions(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, why, _ := strings.Cut(line, " ")
		if strings.TrimSpace(why) == "" {
			return nil, fmt.Errorf("%s: exception %q names no issue", path, name)
		}
		out[name] = strings.TrimSpace(why)
	}
	return out, nil
}

// Run replays every vector in dir through decide. Vectors named in the
// exceptions file beside dir's vectors (exceptions.txt) are skipped with
// their reason.
func Run(t *testing.T, dir string, decide Decider) {
	t.Helper()
	vs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatalf("no vectors in %s", dir)
	}
	skip, err := Exceptions(filepath.Join(dir, "exceptions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			if why, ok := skip[v.Name]; ok {
				t.Skipf("exception: %s", why)
			}
			got, err := decide(v)
			if err != nil {
				t.Fatalf("decider failed: %v", err)
			}
			Compare(t, v, got)
		})
	}
}

// Compare checks an outcome against the vector's expectation, byte for byte
// after removing insignificant whitespace from the expectation.
func Compare(t testing.TB, v *Vector, got Outcome) {
	t.Helper()
	want := v.Then
	if (want.Error == nil) != (got.Error == nil) ||
		want.Error != nil && (want.Error.Code != got.Error.Code || want.Error.Message != got.Error.Message) {
		t.Errorf("error = %v, want %v", got.Error, want.Error)
	}
	if len(got.Events) != len(want.Events) {
		t.Fatalf("%d events %v, want %d %v", len(got.Events), eventTypes(got.Events), len(want.Events), eventTypes(want.Events))
	}
	for i := range want.Events {
		w, g := want.Events[i], got.Events[i]
		if w.Type != g.Type || w.Version != g.Version || !bytes.Equal(compact(w.Data), g.Data) {
			t.Errorf("event %d:\n got  %s v%d %s\n want %s v%d %s", i, g.Type, g.Version, g.Data, w.Type, w.Version, compact(w.Data))
		}
	}
	var wantReply []byte
	if want.Reply != nil {
		wantReply = compact(*want.Reply)
	}
	if !bytes.Equal(wantReply, got.Reply) {
		t.Errorf("reply:\n got  %s\n want %s", got.Reply, wantReply)
	}
}

func eventTypes(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// Native decides a vector with the Go engine: it folds the given events,
// decides the command and encodes the outcome.
func Native(v *Vector) (Outcome, error) {
	recs, err := givenRecords(v)
	if err != nil {
		return Outcome{}, err
	}
	cmd, err := engine.DecodeCommand(v.When.Command)
	if err != nil {
		return Outcome{Error: vakt.As(err)}, nil
	}
	seed, err := hex.DecodeString(v.When.Entropy)
	if err != nil {
		return Outcome{}, fmt.Errorf("entropy: %w", err)
	}
	key, err := hex.DecodeString(v.DataKey)
	if err != nil {
		return Outcome{}, fmt.Errorf("data_key: %w", err)
	}
	env := engine.Env{Now: v.When.Time, Rand: engine.SeededRand(seed), Policy: v.Policy}
	if len(key) > 0 {
		if env.DataKey, err = engine.NewDataKey(key); err != nil {
			return Outcome{}, fmt.Errorf("data_key: %w", err)
		}
	}
	var dec engine.Decision
	var derr error
	if v.User == "" {
		t := engine.NewTenant(v.Tenant)
		for i := range recs {
			if err := t.Evolve(&recs[i]); err != nil {
				return Outcome{}, err
			}
		}
		dec, derr = engine.DecideTenant(t, cmd, env)
	} else {
		u, err := engine.Fold(v.Tenant, v.User, recs)
		if err != nil {
			return Outcome{}, err
		}
		dec, derr = engine.Decide(u, cmd, env)
	}
	return Encode(dec, derr)
}

// Encode turns a decision into its wire outcome.
func Encode(dec engine.Decision, derr error) (Outcome, error) {
	var out Outcome
	if derr != nil {
		out.Error = vakt.As(derr)
		out.Error = &vakt.Error{Code: out.Error.Code, Message: out.Error.Message}
	}
	for _, ev := range dec.Events {
		data, err := events.MarshalData(ev)
		if err != nil {
			return Outcome{}, err
		}
		out.Events = append(out.Events, Event{Type: ev.EventType(), Version: events.Default.Version(ev.EventType()), Data: data})
	}
	if derr == nil || len(dec.Events) > 0 {
		r, err := jsonx.Marshal(dec.Reply)
		if err != nil {
			return Outcome{}, err
		}
		out.Reply = r
	}
	return out, nil
}

// givenRecords decodes the given events and checks that they form a valid
// chain (a vector with a broken chain is itself broken).
func givenRecords(v *Vector) ([]events.Record, error) {
	recs := make([]events.Record, 0, len(v.Given))
	ver := events.NewVerifier()
	prev := events.Hash{}
	for i, raw := range v.Given {
		rec, err := events.Decode(compact(raw))
		if err != nil {
			return nil, fmt.Errorf("given[%d]: %w", i, err)
		}
		rec.Hash = events.ChainHash(prev, rec.Raw)
		if brk := ver.Check(&rec); brk != nil {
			return nil, fmt.Errorf("given[%d]: %v", i, brk)
		}
		prev = rec.Hash
		recs = append(recs, rec)
	}
	return recs, nil
}
