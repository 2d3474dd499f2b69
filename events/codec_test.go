package events_test

import (
	"bytes"
	"crypto/sha256"
	stdjson "encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/canonical")

// oslo is a fixed zone (not UTC) so the tests see that times keep their
// instant through the codec, whatever zone the engine hands in.
var oslo = time.FixedZone("CET", 3600)

// t0 has nanoseconds so that a codec that rounds to seconds or milliseconds fails.
var t0 = time.Date(2026, 11, 23, 10, 15, 30, 123456789, oslo)

func at(d time.Duration) time.Time { return t0.Add(d) }

// counter is a deterministic entropy source: bytes n, n+1, n+2, ...
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

func seqBytes(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

const (
	authID    = "0190a0a0-0000-7000-8000-000000000001"
	authID2   = "0190a0a0-0000-7000-8000-000000000002"
	chalID    = "0190a0a0-0000-7000-8000-0000000000c1"
	deviceID  = "0190a0a0-0000-7000-8000-0000000000d1"
	trickyStr = "Ola \"Nordmann\" <ola@uio.no> & co\\ \u2028 ø 日本 \U0001F600"
)

func sealed(seed byte) events.Sealed {
	return events.Sealed{Nonce: seqBytes(seed, 12), Box: seqBytes(seed+100, 48)}
}

func samplePush() events.PushRequest {
	return events.PushRequest{AuthenticatorID: authID2, Number: 42, Choices: []int{17, 42, 93}, ExpiresAt: at(2 * time.Minute)}
}

func samplePolicy() events.Policy {
	day := 24 * time.Hour
	return events.Policy{
		Issuer:               "Universitetet i Oslo",
		Methods:              []string{events.MethodTOTP, events.MethodHOTP, events.MethodPush, events.MethodSMS, events.MethodRecoveryCode},
		TOTP:                 events.OTPProfile{Algorithm: "SHA1", Digits: 6, Period: 30, Skew: 1},
		HOTPLookAhead:        10,
		HOTPResyncWindow:     100,
		EnrolmentTTL:         events.Duration(10 * time.Minute),
		ActivationTTL:        events.Duration(7 * day),
		ConfirmAttempts:      5,
		ChallengeTTL:         events.Duration(5 * time.Minute),
		MaxPendingChallenges: 10,
		PushTTL:              events.Duration(2 * time.Minute),
		MaxPendingPushes:     3,
		PushFatigue:          events.Fatigue{Refusals: 3, Window: events.Duration(time.Hour), Pause: events.Duration(15 * time.Minute)},
		FraudLock:            true,
		OOB:                  events.OOBPolicy{CodeTTL: events.Duration(5 * time.Minute), Attempts: 3, Digits: 6},
		Lockout:              events.LockoutPolicy{Threshold: 5, Base: events.Duration(time.Minute), Max: events.Duration(time.Hour), HardLimit: 100},
		Apps: []events.AppPolicy{
			{Name: "web", RememberFor: events.Duration(20 * day)},
			{Name: "office", RememberFor: events.Duration(90 * day)},
			{Name: "vpn", RememberFor: events.Duration(36*time.Hour + 500*time.Millisecond)},
		},
		MaxRememberedDevices: 10,
		EnforceFrom:          time.Date(2027, 1, 15, 0, 0, 0, 1, oslo),
		MaxSnoozes:           3,
		ResetProofLevel:      "high",
		TemporaryPassTTL:     events.Duration(time.Hour),
		TemporaryPassMaxTTL:  events.Duration(8 * time.Hour),
		RecoveryCodes:        10,
		MaxAuthenticators:    8,
	}
}

// samples returns one value of every event type with every field set (checked
// by TestSamplesSetEveryField), so that a field the codec drops shows up.
func samples() []events.Event {
	push := samplePush()
	return []events.Event{
		events.EnrolmentStarted{
			AuthenticatorID: authID, Method: events.MethodTOTP, Label: trickyStr, ExpiresAt: at(10 * time.Minute),
			Onboarding: true, Secret: sealed(1), Algorithm: "SHA256", Digits: 8, Period: 60,
			Address: sealed(2), CodeHash: seqBytes(3, 32),
		},
		events.ConfirmationFailed{AuthenticatorID: authID, Reason: "invalid_code", Attempts: 2},
		events.Activated{
			AuthenticatorID: authID, Method: events.MethodPush, ACR: "high", Step: 59_000_000,
			Counter: 1<<63 + 7, PublicKey: seqBytes(4, 32), UserVerification: true, Active: 2,
		},
		events.EnrolmentExpired{AuthenticatorID: authID, Reason: "not_confirmed"},
		events.Renamed{AuthenticatorID: authID, Label: "Jobbtelefon <iPhone> & \"gamle\""},
		events.DefaultChanged{AuthenticatorID: authID, Previous: authID2},
		events.Removed{AuthenticatorID: authID2, Method: events.MethodSMS, Reason: "lost phone", WasActive: true, Active: 1},
		events.CounterResynced{AuthenticatorID: authID, Counter: 1234567},
		events.DriftAdjusted{AuthenticatorID: authID, Drift: -2},
		events.RecoveryCodesIssued{Codes: []events.CodeHash{
			{Salt: seqBytes(5, 16), Hash: seqBytes(6, 32)},
			{Salt: seqBytes(7, 16), Hash: seqBytes(8, 32)},
		}},
		events.RecoveryCodeUsed{Index: 3, ChallengeID: chalID, Remaining: 9},
		events.TemporaryPassIssued{Hash: seqBytes(9, 32), ExpiresAt: at(time.Hour), Operator: "helpdesk:k1", Ticket: "RT#4711"},
		events.TemporaryPassUsed{ChallengeID: chalID},
		events.ChallengeIssued{
			ChallengeID: chalID, App: "web", RequiredACR: "substantial",
			Methods:   []string{events.MethodPush, events.MethodTOTP, events.MethodRecoveryCode},
			ExpiresAt: at(5 * time.Minute), Push: &push, Application: "Canvas", Client: sealed(21),
		},
		events.CodeSent{ChallengeID: chalID, AuthenticatorID: authID, Method: events.MethodSMS, CodeHash: seqBytes(10, 32), ExpiresAt: at(5 * time.Minute)},
		events.PushSent{ChallengeID: chalID, Push: samplePush()},
		events.ChallengeSkipped{ChallengeID: chalID, App: "office", Reason: "remembered_device", DeviceID: deviceID, ACR: "substantial"},
		events.AttemptFailed{ChallengeID: chalID, AuthenticatorID: authID, Method: events.MethodTOTP, Reason: "code_reused", Failures: 4},
		events.ChallengeSucceeded{
			ChallengeID: chalID, AuthenticatorID: authID, Method: events.MethodTOTP, ACR: "substantial",
			AMR: []string{"otp", "mfa"}, Step: 59_000_001, Offset: -1, Counter: 99, UserVerification: true,
		},
		events.ChallengeDenied{ChallengeID: chalID, AuthenticatorID: authID2, Reason: "wrong_number"},
		events.FraudReported{ChallengeID: chalID, AuthenticatorID: authID2, Application: "Canvas", Client: sealed(22)},
		events.ChallengeExpired{ChallengeID: chalID, PushUnanswered: true},
		events.PushPaused{Until: at(15 * time.Minute), Refused: 3},
		events.LockedOut{Reason: "failures", Level: 2, Failures: 10, Until: at(2 * time.Minute), Permanent: true},
		events.Unlocked{Operator: "helpdesk:k1", Ticket: "RT#4712"},
		events.DeviceRemembered{DeviceID: deviceID, TokenHash: seqBytes(11, 32), App: "web", ACR: "substantial", ChallengeID: chalID, ExpiresAt: at(20 * 24 * time.Hour)},
		events.DeviceForgotten{DeviceID: deviceID, Reason: "reset"},
		events.EnrolmentSnoozed{ChallengeID: chalID, App: "web", Count: 2},
		events.ResetCompleted{
			Kind: "self_service", Proof: &events.Proof{Kind: "idporten", ACR: "idporten-loa-high", Reference: "ref-9f3a"},
			Operator: "helpdesk:k2", Ticket: "RT#4713", Removed: 3, ActiveMethods: []string{events.MethodTOTP, events.MethodPush},
		},
		events.UserErased{Operator: "dpo:k3", Ticket: "GDPR-17", Reason: "article 17 request", ActiveMethods: []string{events.MethodHOTP}},
		events.PolicySet{Policy: samplePolicy()},
	}
}

func samplesByType(t testing.TB) map[string]events.Event {
	t.Helper()
	m := map[string]events.Event{}
	for _, ev := range samples() {
		if _, dup := m[ev.EventType()]; dup {
			t.Fatalf("two samples of %s", ev.EventType())
		}
		m[ev.EventType()] = ev
	}
	return m
}

var timeType = reflect.TypeOf(time.Time{})

// inUTC returns a deep copy of v with every time.Time converted to UTC, so that
// values equal as instants compare equal with reflect.DeepEqual.
func inUTC(v any) any { return utcValue(reflect.ValueOf(v)).Interface() }

func utcValue(v reflect.Value) reflect.Value {
	if v.Type() == timeType {
		return reflect.ValueOf(v.Interface().(time.Time).UTC())
	}
	switch v.Kind() {
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		for i := 0; i < v.NumField(); i++ {
			out.Field(i).Set(utcValue(v.Field(i)))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(utcValue(v.Elem()))
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(utcValue(v.Index(i)))
		}
		return out
	}
	return v
}

// zeroFields lists the paths of zero fields in v, descending into structs,
// pointers and slice elements.
func zeroFields(path string, v reflect.Value) []string {
	if v.IsZero() {
		return []string{path}
	}
	if v.Type() == timeType {
		return nil
	}
	var out []string
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			out = append(out, zeroFields(path+"."+v.Type().Field(i).Name, v.Field(i))...)
		}
	case reflect.Pointer:
		out = zeroFields(path, v.Elem())
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			out = append(out, zeroFields(fmt.Sprintf("%s[%d]", path, i), v.Index(i))...)
		}
	}
	return out
}

func TestSamplesCoverEveryRegisteredType(t *testing.T) {
	byType := samplesByType(t)
	registered := events.Default.Types()
	for _, typ := range registered {
		if _, ok := byType[typ]; !ok {
			t.Errorf("registered type %s has no sample in samples(); add a fully populated one", typ)
		}
	}
	for typ := range byType {
		if events.Default.Version(typ) == 0 {
			t.Errorf("sample %s is not registered in events.Default", typ)
		}
	}
	if len(registered) != len(byType) {
		t.Errorf("%d registered types, %d samples", len(registered), len(byType))
	}
}

func TestSamplesSetEveryField(t *testing.T) {
	for _, ev := range samples() {
		if z := zeroFields(reflect.TypeOf(ev).Name(), reflect.ValueOf(ev)); len(z) > 0 {
			t.Errorf("%s: zero fields in the sample: %s", ev.EventType(), strings.Join(z, ", "))
		}
	}
}

func TestRegisteredTypeNames(t *testing.T) {
	name := regexp.MustCompile(`^[a-z][a-z_]*\.[a-z][a-z_]*$`)
	types := events.Default.Types()
	for i, typ := range types {
		if !name.MatchString(typ) {
			t.Errorf("type name %q is not <aggregate>.<fact> in lowercase snake case", typ)
		}
		if i > 0 && types[i-1] >= typ {
			t.Errorf("Types() not sorted and unique: %q before %q", types[i-1], typ)
		}
		if v := events.Default.Version(typ); v < 1 {
			t.Errorf("%s: version %d", typ, v)
		}
	}
}

var (
	userStream = events.Stream{Tenant: "uio.no", User: "ola.nordmann@uio.no"}
	meta       = events.Meta{Command: "cmd-0190a0a0", Actor: "user", Time: t0}
)

func buildOne(t testing.TB, s events.Stream, head events.Head, ev events.Event) events.Record {
	t.Helper()
	recs, err := events.Build(s, head, meta, &counter{}, []events.Event{ev})
	if err != nil {
		t.Fatalf("build %s: %v", ev.EventType(), err)
	}
	return recs[0]
}

func TestRoundTripEveryType(t *testing.T) {
	head := events.Head{Seq: 41, Position: 900, Hash: sha256.Sum256([]byte("previous"))}
	for _, ev := range samples() {
		t.Run(ev.EventType(), func(t *testing.T) {
			rec := buildOne(t, userStream, head, ev)
			checkBuilt(t, rec, head, ev)

			got, err := events.Decode(rec.Raw)
			if err != nil {
				t.Fatalf("decode: %v\n%s", err, rec.Raw)
			}
			if !reflect.DeepEqual(got.Envelope, rec.Envelope) {
				t.Errorf("envelope:\n got  %+v\n want %+v", got.Envelope, rec.Envelope)
			}
			if reflect.TypeOf(got.Event) != reflect.TypeOf(ev) {
				t.Fatalf("decoded %T, want %T", got.Event, ev)
			}
			if !reflect.DeepEqual(inUTC(got.Event), inUTC(ev)) {
				t.Errorf("data:\n got  %#v\n want %#v", got.Event, ev)
			}
			if len(got.Raw) == 0 || &got.Raw[0] != &rec.Raw[0] {
				t.Errorf("Decode copied raw; it must keep the stored bytes")
			}
			if got.Hash != (events.Hash{}) || got.Position != 0 {
				t.Errorf("Decode set hash %s / position %d; stores keep those beside the bytes", got.Hash, got.Position)
			}
			// The bytes are canonical: encoding what was decoded writes them again.
			again, err := events.Encode(&got.Envelope, got.Event)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, rec.Raw) {
				t.Errorf("re-encoding the decoded record changed the bytes:\n got  %s\n want %s", again, rec.Raw)
			}
		})
	}
}

// checkBuilt checks what Build promises about one record following head.
func checkBuilt(t *testing.T, rec events.Record, head events.Head, ev events.Event) {
	t.Helper()
	switch {
	case !events.IsID(rec.ID):
		t.Errorf("id %q is not an id", rec.ID)
	case rec.Stream() != userStream:
		t.Errorf("stream %v", rec.Stream())
	case rec.Seq != head.Seq+1:
		t.Errorf("seq %d, want %d", rec.Seq, head.Seq+1)
	case rec.Prev != head.Hash:
		t.Errorf("prev %s, want the head's hash %s", rec.Prev, head.Hash)
	case rec.Type != ev.EventType() || rec.Version != events.Default.Version(ev.EventType()):
		t.Errorf("type %s v%d", rec.Type, rec.Version)
	case rec.Command != meta.Command || rec.Actor != meta.Actor:
		t.Errorf("command %q actor %q", rec.Command, rec.Actor)
	case !rec.Time.Equal(meta.Time) || rec.Time.Location() != time.UTC:
		t.Errorf("time %v, want %v in UTC", rec.Time, meta.Time)
	case rec.Position != 0:
		t.Errorf("position %d; Build leaves it for the store", rec.Position)
	case rec.Hash != sha256.Sum256(append(head.Hash[:], rec.Raw...)):
		t.Errorf("hash is not SHA-256(prev || raw)")
	case !reflect.DeepEqual(rec.Event, ev):
		t.Errorf("record holds %#v, want the event given", rec.Event)
	}
}

func TestRoundTripZeroValues(t *testing.T) {
	for _, sample := range samples() {
		zero := reflect.Zero(reflect.TypeOf(sample)).Interface().(events.Event)
		rec := buildOne(t, userStream, events.Head{}, zero)
		got, err := events.Decode(rec.Raw)
		if err != nil {
			t.Errorf("%s: decode zero value: %v\n%s", zero.EventType(), err, rec.Raw)
			continue
		}
		if !reflect.DeepEqual(got.Event, zero) {
			t.Errorf("%s: zero value decoded as %#v\n%s", zero.EventType(), got.Event, rec.Raw)
		}
	}
}

// TestCanonicalBytesMatchEncodingJSON pins the claim of Encode's doc comment:
// the stored bytes are what encoding/json writes for the envelope followed by
// the data. Hosts in other languages, and a build that swaps the JSON library
// (json.go), must produce the same bytes or the hash chain differs.
func TestCanonicalBytesMatchEncodingJSON(t *testing.T) {
	type stdWire struct {
		events.Envelope
		Data stdjson.RawMessage `json:"data"`
	}
	var all []events.Event
	for _, ev := range samples() {
		all = append(all, ev, reflect.Zero(reflect.TypeOf(ev)).Interface().(events.Event))
	}
	for _, ev := range all {
		rec := buildOne(t, userStream, events.Head{Seq: 3, Hash: events.Hash{1, 2, 3}}, ev)
		data, err := stdjson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		want, err := stdjson.Marshal(stdWire{Envelope: rec.Envelope, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec.Raw, want) {
			t.Errorf("%s: canonical bytes differ from encoding/json:\n got  %s\n want %s", ev.EventType(), rec.Raw, want)
		}
	}
}

// TestGolden keeps the canonical bytes of every sample in testdata/canonical.
// A change here changes every hash a store holds: it must be deliberate.
// Regenerate with go test ./events -run TestGolden -update.
func TestGolden(t *testing.T) {
	for _, ev := range samples() {
		path := filepath.Join("testdata", "canonical", ev.EventType()+".json")
		rec := buildOne(t, userStream, events.Head{Seq: 6, Hash: sha256.Sum256([]byte("golden"))}, ev)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, rec.Raw, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(rec.Raw, want) {
			t.Errorf("%s: canonical bytes changed:\n got  %s\n want %s", ev.EventType(), rec.Raw, want)
		}
		// The stored golden bytes still decode to the sample.
		got, err := events.Decode(want)
		if err != nil {
			t.Fatalf("%s: decode golden: %v", path, err)
		}
		if !reflect.DeepEqual(inUTC(got.Event), inUTC(ev)) {
			t.Errorf("%s decodes to %#v", path, got.Event)
		}
	}
}

// MarshalData is the data part of the canonical bytes, byte for byte.
func TestMarshalDataIsWhatEncodeEmbeds(t *testing.T) {
	for _, ev := range samples() {
		rec := buildOne(t, userStream, events.Head{}, ev)
		data, err := events.MarshalData(ev)
		if err != nil {
			t.Fatalf("%s: %v", ev.EventType(), err)
		}
		i := bytes.Index(rec.Raw, []byte(`,"data":`))
		if i < 0 || !bytes.Equal(rec.Raw[i+len(`,"data":`):len(rec.Raw)-1], data) {
			t.Errorf("%s: MarshalData = %s, but Encode embeds\n%s", ev.EventType(), data, rec.Raw)
		}
		if std, _ := stdjson.Marshal(ev); !bytes.Equal(data, std) {
			t.Errorf("%s: MarshalData differs from encoding/json:\n got  %s\n want %s", ev.EventType(), data, std)
		}
	}
}

func TestEncodeWritesEnvelopeTimeInUTC(t *testing.T) {
	env := events.Envelope{ID: "x", Tenant: "t", Seq: 1, Time: time.Date(2026, 3, 29, 2, 30, 0, 5, time.FixedZone("", -7*3600)), Type: "authenticator.renamed", Version: 1, Command: "c"}
	raw, err := events.Encode(&env, events.Renamed{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`"time":"2026-03-29T09:30:00.000000005Z"`)) {
		t.Errorf("time not written in UTC with nanoseconds: %s", raw)
	}
}

func TestEncodeSizeLimit(t *testing.T) {
	base := buildOne(t, userStream, events.Head{}, events.Renamed{AuthenticatorID: authID})
	room := events.MaxEventSize - len(base.Raw)

	// Exactly at the limit: accepted, and it decodes.
	rec := buildOne(t, userStream, events.Head{}, events.Renamed{AuthenticatorID: authID, Label: strings.Repeat("a", room)})
	if len(rec.Raw) != events.MaxEventSize {
		t.Fatalf("test setup: %d bytes, want exactly %d", len(rec.Raw), events.MaxEventSize)
	}
	if _, err := events.Decode(rec.Raw); err != nil {
		t.Errorf("decode an event of exactly MaxEventSize bytes: %v", err)
	}

	for name, ev := range map[string]events.Event{
		"one byte over": events.Renamed{AuthenticatorID: authID, Label: strings.Repeat("a", room+1)},
		// Escaping grows the bytes: '<' is written as \u003c, six bytes.
		"over after escaping": events.Renamed{AuthenticatorID: authID, Label: strings.Repeat("<", room/6+1)},
	} {
		recs, err := events.Build(userStream, events.Head{}, meta, &counter{}, []events.Event{ev})
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument || recs != nil {
			t.Errorf("%s: err = %v, want invalid_argument", name, err)
		}
	}

	env := base.Envelope
	_, err := events.Encode(&env, events.Renamed{Label: strings.Repeat("a", events.MaxEventSize)})
	if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !errors.Is(err, vakt.ErrInvalidArgument) {
		t.Errorf("Encode over the limit: err = %v, want invalid_argument", err)
	}
	// Build bounds the actor (TestBuildCommandAndActor), but Encode counts the
	// envelope too.
	env.Actor = strings.Repeat("x", events.MaxEventSize)
	if _, err := events.Encode(&env, events.Renamed{}); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("Encode with a large envelope: err = %v, want invalid_argument", err)
	}

	// Decode refuses more than MaxEventSize bytes even if they are valid JSON.
	padded := append(bytes.Repeat([]byte(" "), events.MaxEventSize), base.Raw...)
	if _, err := events.Decode(padded); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("Decode over the limit: err = %v, want invalid_argument", err)
	}
}

// withField rewrites one top-level field of canonical bytes (delete when value
// is nil).
func withField(t *testing.T, raw []byte, key string, value any) []byte {
	t.Helper()
	var m map[string]stdjson.RawMessage
	if err := stdjson.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if value == nil {
		delete(m, key)
	} else {
		b, err := stdjson.Marshal(value)
		if err != nil {
			t.Fatal(err)
		}
		m[key] = b
	}
	out, err := stdjson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeErrors(t *testing.T) {
	good := buildOne(t, userStream, events.Head{}, events.Renamed{AuthenticatorID: authID, Label: "x"}).Raw
	if _, err := events.Decode(good); err != nil {
		t.Fatalf("test setup: %v", err)
	}
	cases := []struct {
		name string
		raw  []byte
		want vakt.Code
	}{
		{"empty", nil, vakt.CodeInvalidArgument},
		{"not json", []byte("hello"), vakt.CodeInvalidArgument},
		{"truncated", good[:len(good)/2], vakt.CodeInvalidArgument},
		{"trailing garbage", append(bytes.Clone(good), "x"...), vakt.CodeInvalidArgument},
		{"json null", []byte("null"), vakt.CodeInvalidArgument},
		{"json array", []byte("[]"), vakt.CodeInvalidArgument},
		{"empty object", []byte("{}"), vakt.CodeInvalidArgument},
		{"missing id", withField(t, good, "id", nil), vakt.CodeInvalidArgument},
		{"missing tenant", withField(t, good, "tenant", nil), vakt.CodeInvalidArgument},
		{"missing seq", withField(t, good, "seq", nil), vakt.CodeInvalidArgument},
		{"missing type", withField(t, good, "type", nil), vakt.CodeInvalidArgument},
		{"missing v", withField(t, good, "v", nil), vakt.CodeInvalidArgument},
		{"missing data", withField(t, good, "data", nil), vakt.CodeInvalidArgument},
		{"empty id", withField(t, good, "id", ""), vakt.CodeInvalidArgument},
		{"seq 0", withField(t, good, "seq", 0), vakt.CodeInvalidArgument},
		{"negative seq", withField(t, good, "seq", -1), vakt.CodeInvalidArgument},
		{"v 0", withField(t, good, "v", 0), vakt.CodeInvalidArgument},
		{"negative v", withField(t, good, "v", -3), vakt.CodeInvalidArgument},
		{"fractional v", withField(t, good, "v", 1.5), vakt.CodeInvalidArgument},
		{"seq as string", withField(t, good, "seq", "1"), vakt.CodeInvalidArgument},
		{"bad time", withField(t, good, "time", "yesterday"), vakt.CodeInvalidArgument},
		{"short prev", withField(t, good, "prev", "abcd"), vakt.CodeInvalidArgument},
		{"non-hex prev", withField(t, good, "prev", strings.Repeat("zz", 32)), vakt.CodeInvalidArgument},
		{"unknown type", withField(t, good, "type", "authenticator.teleported"), vakt.CodeInvalidArgument},
		{"newer version", withField(t, good, "v", 2), vakt.CodeInvalidArgument},
		{"much newer version", withField(t, good, "v", 1<<30), vakt.CodeInvalidArgument},
		{"data is a string", withField(t, good, "data", "x"), vakt.CodeInvalidArgument},
		{"data is an array", withField(t, good, "data", []int{1}), vakt.CodeInvalidArgument},
		{"data field of the wrong type", withField(t, good, "data", map[string]int{"label": 5}), vakt.CodeInvalidArgument},
		{"policy duration as a number", withField(t, withField(t, good, "type", "policy.set"), "data", map[string]any{"policy": map[string]any{"push_ttl": 120}}), vakt.CodeInvalidArgument},
		{"policy duration unreadable", withField(t, withField(t, good, "type", "policy.set"), "data", map[string]any{"policy": map[string]any{"push_ttl": "soon"}}), vakt.CodeInvalidArgument},
		{"policy duration signed after the days", withField(t, withField(t, good, "type", "policy.set"), "data", map[string]any{"policy": map[string]any{"push_ttl": "1d-12h"}}), vakt.CodeInvalidArgument},
		{"policy duration past int64", withField(t, withField(t, good, "type", "policy.set"), "data", map[string]any{"policy": map[string]any{"push_ttl": "106752d"}}), vakt.CodeInvalidArgument},
		// Stored ids pass the checks Build made, so that a tampered or foreign
		// record cannot smuggle a disguised id into reports.
		{"empty tenant", withField(t, good, "tenant", ""), vakt.CodeInvalidArgument},
		{"tenant with a newline", withField(t, good, "tenant", "uio.no\nforged"), vakt.CodeInvalidArgument},
		{"tenant with NUL", withField(t, good, "tenant", "uio\x00no"), vakt.CodeInvalidArgument},
		{"tenant with ESC", withField(t, good, "tenant", "\x1b[31muio.no"), vakt.CodeInvalidArgument},
		{"tenant with DEL", withField(t, good, "tenant", "uio.no\x7f"), vakt.CodeInvalidArgument},
		{"tenant with a C1 control", withField(t, good, "tenant", "uio\u0085no"), vakt.CodeInvalidArgument},
		{"tenant with a bidi override", withField(t, good, "tenant", "on.oiu\u202e"), vakt.CodeInvalidArgument},
		{"tenant with a line separator", withField(t, good, "tenant", "uio\u2028no"), vakt.CodeInvalidArgument},
		{"tenant with U+FFFD", withField(t, good, "tenant", "uio\ufffd"), vakt.CodeInvalidArgument},
		{"tenant not UTF-8", bytes.Replace(good, []byte(`"tenant":"uio.no"`), []byte("\"tenant\":\"uio\xff\""), 1), vakt.CodeInvalidArgument},
		{"tenant too long", withField(t, good, "tenant", strings.Repeat("t", events.MaxIDLen+1)), vakt.CodeInvalidArgument},
		{"user with a newline", withField(t, good, "user", "ola\nadmin"), vakt.CodeInvalidArgument},
		{"user with NUL", withField(t, good, "user", "ola\x00"), vakt.CodeInvalidArgument},
		{"user with a tab", withField(t, good, "user", "ola\tnordmann"), vakt.CodeInvalidArgument},
		{"user with a bidi override", withField(t, good, "user", "\u202eon.oiu@alo"), vakt.CodeInvalidArgument},
		{"user with a paragraph separator", withField(t, good, "user", "ola\u2029"), vakt.CodeInvalidArgument},
		{"user with a zero-width space", withField(t, good, "user", "o\u200bla"), vakt.CodeInvalidArgument},
		{"user with U+FFFD", withField(t, good, "user", "\ufffd"), vakt.CodeInvalidArgument},
		{"user not UTF-8", bytes.Replace(good, []byte(`"user":"ola.nordmann@uio.no"`), []byte("\"user\":\"ola\xc0\x80\""), 1), vakt.CodeInvalidArgument},
		{"user too long", withField(t, good, "user", strings.Repeat("u", events.MaxIDLen+1)), vakt.CodeInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := events.Decode(tc.raw)
			if err == nil {
				t.Fatalf("decoded %s into %#v, want an error", tc.raw, rec.Event)
			}
			var ve *vakt.Error
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T) is not a *vakt.Error", err, err)
			}
			if got := vakt.CodeOf(err); got != tc.want {
				t.Errorf("code %q, want %q (%v)", got, tc.want, err)
			}
			if ve.Message == "" || ve.Message != strings.ToLower(ve.Message[:1])+ve.Message[1:] {
				t.Errorf("message %q should be non-empty and start lowercase", ve.Message)
			}
			if rec.Event != nil || rec.Raw != nil {
				t.Errorf("a failed decode returned a partial record %+v", rec)
			}
		})
	}
}

func TestDecodeNewerVersionSaysSo(t *testing.T) {
	good := buildOne(t, userStream, events.Head{}, events.Renamed{}).Raw
	_, err := events.Decode(withField(t, good, "v", 7))
	if err == nil || !strings.Contains(err.Error(), "newer version") || !strings.Contains(err.Error(), "v7") {
		t.Errorf("err = %v, want it to name v7 as written by a newer version", err)
	}
}

func TestBuild(t *testing.T) {
	evs := []events.Event{samples()[0], events.Renamed{AuthenticatorID: authID, Label: "b"}, events.DefaultChanged{AuthenticatorID: authID}}
	first, err := events.Build(userStream, events.Head{}, meta, &counter{}, evs)
	if err != nil {
		t.Fatal(err)
	}
	prev := events.Hash{}
	ids := map[string]bool{}
	for i, r := range first {
		if r.Seq != uint64(i)+1 || r.Prev != prev || r.Hash != events.ChainHash(prev, r.Raw) {
			t.Errorf("record %d: seq %d, chained=%v", i, r.Seq, r.Prev == prev)
		}
		if ids[r.ID] {
			t.Errorf("record %d reuses id %s", i, r.ID)
		}
		ids[r.ID] = true
		prev = r.Hash
	}
	// A second command continues the chain from the head the first one made.
	second, err := events.Build(userStream, first[2].Head(), meta, &counter{n: 100}, evs[1:2])
	if err != nil {
		t.Fatal(err)
	}
	if second[0].Seq != 4 || second[0].Prev != first[2].Hash {
		t.Errorf("second command: seq %d prev %s, want 4 after %s", second[0].Seq, second[0].Prev, first[2].Hash)
	}
	// Same inputs, same bytes: Build is deterministic.
	again, err := events.Build(userStream, events.Head{}, meta, &counter{}, evs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if !bytes.Equal(again[i].Raw, first[i].Raw) || again[i].Hash != first[i].Hash {
			t.Errorf("record %d differs between two builds from the same inputs", i)
		}
	}
	// A tenant stream has no user.
	tr, err := events.Build(events.TenantStream("uio.no"), events.Head{}, meta, &counter{}, []events.Event{events.PolicySet{Policy: samplePolicy()}})
	if err != nil || tr[0].User != "" || !bytes.Contains(tr[0].Raw, []byte(`"user":""`)) {
		t.Errorf("tenant stream: %v %s", err, tr[0].Raw)
	}
}

type unregistered struct{}

func (unregistered) EventType() string { return "test.unregistered" }

func TestBuildErrors(t *testing.T) {
	ok := []events.Event{events.Renamed{}}
	cases := []struct {
		name string
		s    events.Stream
		m    events.Meta
		rand func() *bytes.Reader
		evs  []events.Event
		want vakt.Code
	}{
		{"no events", userStream, meta, nil, nil, vakt.CodeInvalidArgument},
		{"too many events", userStream, meta, nil, make([]events.Event, events.MaxBatch+1), vakt.CodeInvalidArgument},
		{"no command id", userStream, events.Meta{Actor: "user", Time: t0}, nil, ok, vakt.CodeInvalidArgument},
		{"no tenant", events.Stream{User: "u"}, meta, nil, ok, vakt.CodeInvalidArgument},
		{"bad user id", events.Stream{Tenant: "t", User: "a\nb"}, meta, nil, ok, vakt.CodeInvalidArgument},
		{"user id with a bidi override", events.Stream{Tenant: "t", User: "gro\u202emoc.evil"}, meta, nil, ok, vakt.CodeInvalidArgument},
		{"command id with a space", userStream, events.Meta{Command: "cmd 1", Actor: "user", Time: t0}, nil, ok, vakt.CodeInvalidArgument},
		{"command id too long", userStream, events.Meta{Command: strings.Repeat("c", events.MaxCommandIDLen+1), Actor: "user", Time: t0}, nil, ok, vakt.CodeInvalidArgument},
		{"actor with a newline", userStream, events.Meta{Command: "cmd-1", Actor: "user\nadmin", Time: t0}, nil, ok, vakt.CodeInvalidArgument},
		{"actor not UTF-8", userStream, events.Meta{Command: "cmd-1", Actor: "helpdesk:\xfe", Time: t0}, nil, ok, vakt.CodeInvalidArgument},
		{"time before 1970", userStream, events.Meta{Command: "cmd-1", Actor: "user", Time: time.Unix(-1, 0)}, nil, ok, vakt.CodeInvalidArgument},
		{"time after 9999", userStream, events.Meta{Command: "cmd-1", Actor: "user", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, nil, ok, vakt.CodeInvalidArgument},
		{"zero time", userStream, events.Meta{Command: "cmd-1", Actor: "user"}, nil, ok, vakt.CodeInvalidArgument},
		{"unregistered type", userStream, meta, nil, []events.Event{events.Renamed{}, unregistered{}}, vakt.CodeInternal},
		{"entropy runs out", userStream, meta, func() *bytes.Reader { return bytes.NewReader(make([]byte, 15)) }, []events.Event{events.Renamed{}, events.Renamed{}}, vakt.CodeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r interface{ Read([]byte) (int, error) } = &counter{}
			if tc.rand != nil {
				r = tc.rand()
			}
			recs, err := events.Build(tc.s, events.Head{}, tc.m, r, tc.evs)
			if vakt.CodeOf(err) != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
			if recs != nil {
				t.Errorf("a failed build returned %d records", len(recs))
			}
		})
	}
	// MaxBatch itself is allowed.
	evs := make([]events.Event, events.MaxBatch)
	for i := range evs {
		evs[i] = events.Renamed{Label: fmt.Sprint(i)}
	}
	if recs, err := events.Build(userStream, events.Head{}, meta, &counter{}, evs); err != nil || len(recs) != events.MaxBatch {
		t.Errorf("build MaxBatch events: %d records, %v", len(recs), err)
	}
}

// Build refuses a decision time that cannot be stored and read again: before
// the Unix epoch or past 48 bits of milliseconds (NewID cannot write it in a
// UUIDv7), or outside the years 1 to 9999 in UTC (the RFC 3339 text that Encode
// writes and Decode reads). Nothing is produced.
func TestBuildRefusesTimesOutOfRange(t *testing.T) {
	for _, tm := range []time.Time{
		{}, // year 1
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600)),        // year -1 in UTC
		time.Date(9999, 12, 31, 23, 30, 0, 0, time.FixedZone("", -3600)), // year 10000 in UTC
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Unix(0, -1),
		time.Unix(-1, 0).In(oslo),
		time.UnixMilli(1<<48 - 1), // a UUIDv7 can hold it, RFC 3339 cannot (year 10889)
		time.UnixMilli(1 << 48),
		time.Unix(1<<62, 0),
		time.Unix(-1<<62, 0),
	} {
		m := meta
		m.Time = tm
		recs, err := events.Build(userStream, events.Head{}, m, &counter{}, []events.Event{events.Renamed{}, events.Renamed{}})
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !errors.Is(err, vakt.ErrInvalidArgument) {
			t.Errorf("%v: err = %v, want invalid_argument", tm, err)
		}
		if recs != nil {
			t.Errorf("%v: a failed build returned %d records", tm, len(recs))
		}
	}
	// The edges that can be stored are, and read back as the same instant.
	for _, tm := range []time.Time{
		time.Unix(0, 0),
		time.Unix(0, 0).In(time.FixedZone("", -3600)), // 1969 on the local clock
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600)), // year 9999 in UTC
	} {
		m := meta
		m.Time = tm
		recs, err := events.Build(userStream, events.Head{}, m, &counter{}, []events.Event{events.Renamed{}})
		if err != nil {
			t.Errorf("%v: %v", tm, err)
			continue
		}
		got, err := events.Decode(recs[0].Raw)
		if err != nil || !got.Time.Equal(tm) || !reflect.DeepEqual(got.Envelope, recs[0].Envelope) {
			t.Errorf("%v: stored %s, decoded %v, %v", tm, recs[0].Raw, got.Time, err)
		}
	}
}

// Encode writes envelope times of the years 1 to 9999 in UTC, which is what
// RFC 3339 text holds, and refuses others rather than write bytes that can
// never be decoded.
func TestEncodeEnvelopeTimeRange(t *testing.T) {
	base := events.Envelope{ID: "x", Tenant: "t", Seq: 1, Type: "authenticator.renamed", Version: 1, Command: "c"}
	for _, tm := range []time.Time{
		time.Date(0, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600)), // year 0 in UTC
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 30, 0, 0, time.FixedZone("", -3600)),
		time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(1<<62, 0),
	} {
		env := base
		env.Time = tm
		raw, err := events.Encode(&env, events.Renamed{})
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument || raw != nil {
			t.Errorf("Encode with time %v = %s, %v, want invalid_argument", tm, raw, err)
		}
	}
	for tm, text := range map[time.Time]string{
		{}: "0001-01-01T00:00:00Z",
		time.Date(1, 1, 1, 0, 30, 0, 0, time.FixedZone("", -3600)):            "0001-01-01T01:30:00Z",
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC):            "9999-12-31T23:59:59.999999999Z",
		time.Date(10000, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600)):         "9999-12-31T23:30:00Z",
		time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC):                       "1969-07-20T20:17:40Z",
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC).In(time.FixedZone("", 3600)): "0001-01-01T00:00:00.000000001Z",
	} {
		env := base
		env.Time = tm
		raw, err := events.Encode(&env, events.Renamed{})
		if err != nil || !bytes.Contains(raw, []byte(`"time":"`+text+`"`)) {
			t.Errorf("Encode with time %v = %s, %v, want time %s", tm, raw, err, text)
			continue
		}
		got, err := events.Decode(raw)
		if err != nil || !got.Time.Equal(tm) {
			t.Errorf("%s decoded as %v, %v", raw, got.Time, err)
		}
	}
}

// Decode refuses an envelope time that Encode refuses: a record it accepts can
// always be written again (a store migration, a re-encoding check, another
// host's codec). RFC 3339 text reads years 0 to 9999 on the local clock, which
// with an offset reach year -1 or 10000 in UTC, and year 0 even in UTC.
func TestDecodeRefusesTimesEncodeRefuses(t *testing.T) {
	good := buildOne(t, userStream, events.Head{}, events.Renamed{AuthenticatorID: authID}).Raw
	for _, text := range []string{
		"0000-01-01T00:30:00+01:00", // year -1 in UTC
		"0000-01-01T00:00:00Z",
		"0000-12-31T23:59:59.999999999Z",
		"0001-01-01T00:00:00+00:01", // year 0 in UTC
		"9999-12-31T23:30:00-01:00", // year 10000 in UTC
		"9999-12-31T23:59:59.999999999-23:59",
	} {
		tm, err := time.Parse(time.RFC3339Nano, text)
		if err != nil {
			t.Fatalf("test setup: %v", err)
		}
		raw := withField(t, good, "time", text)
		rec, err := events.Decode(raw)
		if err == nil {
			_, encErr := events.Encode(&rec.Envelope, rec.Event)
			t.Errorf("Decode accepted envelope time %s (year %d in UTC), which Encode refuses (%v): the record can never be written again", text, tm.UTC().Year(), encErr)
			continue
		}
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument || rec.Event != nil || rec.Raw != nil {
			t.Errorf("time %s: err = %v, record %+v; want invalid_argument and nothing", text, err, rec)
		}
	}
	// The same edges inside the range decode.
	for _, text := range []string{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00-00:01", "9999-12-31T23:59:59.999999999Z", "9999-12-31T23:30:00+01:00", "1969-12-31T23:59:59Z"} {
		if _, err := events.Decode(withField(t, good, "time", text)); err != nil {
			t.Errorf("time %s: %v", text, err)
		}
	}
}

// Build refuses a command id that is not 1 to 64 printable ASCII characters
// without spaces, and an actor that is not valid UTF-8 of at most MaxIDLen
// bytes free of control, format and separator characters. What it accepts is
// stored exactly: the record Build returns (and that a store compares command
// ids with) is the one any store decodes from the bytes.
func TestBuildCommandAndActor(t *testing.T) {
	printable := make([]byte, 0, 94)
	for c := byte('!'); c <= '~'; c++ {
		printable = append(printable, c)
	}
	badCommands := []string{
		"", " ", "a b", "cmd ", " cmd", "cmd\t1", "cmd\n1", "cmd\x00", "\x7f", "cmd-\xff", "cmd-\x80",
		"cmd-ø", "cmd-\u2028", "cmd-\u202e", "cmd-\u00a0", "cmd-\ufffd", "\U0001F600",
		strings.Repeat("a", events.MaxCommandIDLen+1),
		string(printable), // 94 characters
	}
	badActors := []string{
		"helpdesk:\xfe", "\xff", "\xc0\x80", "\xed\xa0\x80",
		"a\nb", "\t", "\x00", "\x1b[31m", "\x7f", "\u0085",
		"user\u202e", "\u202a", "\u2066", "\u200b", "\u200e", "\ufeff", "\u00ad", "\U000E0001", // format (Cf)
		"\u2028", "a\u2029b", // line and paragraph separators
		"\ufffd", "helpdesk:\ufffd",
		strings.Repeat("a", events.MaxIDLen+1),
		strings.Repeat("ø", events.MaxIDLen/2) + "a",
	}
	type input struct{ command, actor string }
	var bad []input
	for _, c := range badCommands {
		bad = append(bad, input{c, "user"})
	}
	for _, a := range badActors {
		bad = append(bad, input{"cmd-1", a})
	}
	for _, in := range bad {
		m := meta
		m.Command, m.Actor = in.command, in.actor
		recs, err := events.Build(userStream, events.Head{}, m, &counter{}, []events.Event{events.Renamed{}})
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !errors.Is(err, vakt.ErrInvalidArgument) {
			t.Errorf("command %q actor %q: err = %v, want invalid_argument", in.command, in.actor, err)
		}
		if recs != nil {
			t.Errorf("command %q actor %q: a failed build returned %d records", in.command, in.actor, len(recs))
		}
	}

	good := []input{
		{"a", ""},
		{"1", "user"},
		{strings.Repeat("z", events.MaxCommandIDLen), "helpdesk:k1"},
		{string(printable[:64]), "dpo:k3"},
		{string(printable[30:]), `'"<>&\/`},
		{"cmd-0190a0a0-4e00-7001-8203-040506070809", "Ola Nordmann"},
		{"~", "ø 日本 \U0001F600"},
		{"x", strings.Repeat("a", events.MaxIDLen)},
		{"y", strings.Repeat("ø", events.MaxIDLen/2)},
		{"z", "a\u00a0b\u2027\u202f\ufffc"}, // neighbours of refused characters
	}
	for _, in := range good {
		m := meta
		m.Command, m.Actor = in.command, in.actor
		recs, err := events.Build(userStream, events.Head{}, m, &counter{}, []events.Event{events.Renamed{}})
		if err != nil {
			t.Errorf("command %q actor %q: %v", in.command, in.actor, err)
			continue
		}
		if recs[0].Command != in.command || recs[0].Actor != in.actor {
			t.Errorf("built command %q actor %q, want %q %q", recs[0].Command, recs[0].Actor, in.command, in.actor)
		}
		got, err := events.Decode(recs[0].Raw)
		if err != nil {
			t.Errorf("command %q actor %q: decode: %v", in.command, in.actor, err)
			continue
		}
		if !reflect.DeepEqual(got.Envelope, recs[0].Envelope) {
			t.Errorf("the built record differs from its bytes:\n built   %+v\n decoded %+v", recs[0].Envelope, got.Envelope)
		}
	}
}

func TestValidateCommandID(t *testing.T) {
	for _, id := range []string{"a", "~", "cmd-1", "cmd_0190a0a0-4e00-7001-8203-040506070809", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", strings.Repeat("9", events.MaxCommandIDLen)} {
		if err := events.ValidateCommandID(id); err != nil {
			t.Errorf("ValidateCommandID(%q) = %v, want ok", id, err)
		}
	}
	for _, id := range []string{"", " ", "a b", "\x00", "\x1f", "\x7f", "\x80", "\xff", "ø", "a\tb", "\u2028", strings.Repeat("9", events.MaxCommandIDLen+1)} {
		err := events.ValidateCommandID(id)
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !errors.Is(err, vakt.ErrInvalidArgument) {
			t.Errorf("ValidateCommandID(%q) = %v, want invalid_argument", id, err)
			continue
		}
		if msg := err.(*vakt.Error).Message; !strings.HasPrefix(msg, "command id ") {
			t.Errorf("ValidateCommandID(%q): message %q does not name the command id", id, msg)
		}
	}
}
