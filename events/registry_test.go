package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// officeMoved is a test event at schema version 3. Its history:
//
//	v1 {"name": "Ola Nordmann", "place": "Oslo, Norway"}
//	v2 {"full_name": "Ola Nordmann", "place": "Oslo, Norway"}          (name renamed)
//	v3 {"full_name": "Ola Nordmann", "city": "Oslo", "country": "Norway"} (place split)
type officeMoved struct {
	FullName string `json:"full_name"`
	City     string `json:"city"`
	Country  string `json:"country"`
}

func (officeMoved) EventType() string { return "test.office_moved" }

const officeMovedType = "test.office_moved"

// renameName is the v1 -> v2 upcaster.
func renameName(data []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if _, ok := m["name"]; !ok {
		return nil, errors.New("v1 data has no name")
	}
	m["full_name"] = m["name"]
	delete(m, "name")
	return json.Marshal(m)
}

// splitPlace is the v2 -> v3 upcaster.
func splitPlace(data []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	place, _ := m["place"].(string)
	city, country, ok := strings.Cut(place, ", ")
	if !ok {
		return nil, fmt.Errorf("place %q is not \"city, country\"", place)
	}
	m["city"], m["country"] = city, country
	delete(m, "place")
	return json.Marshal(m)
}

// countingUpcaster counts how often it runs.
type countingUpcaster struct {
	n  int
	up events.Upcaster
}

func (c *countingUpcaster) run(data []byte) ([]byte, error) { c.n++; return c.up(data) }

func newOfficeRegistry() (reg *events.Registry, v1to2, v2to3 *countingUpcaster) {
	reg = events.NewRegistry()
	events.Register[officeMoved](reg, 3)
	events.Register[events.Renamed](reg, 1)
	v1to2, v2to3 = &countingUpcaster{up: renameName}, &countingUpcaster{up: splitPlace}
	reg.Upcast(officeMovedType, 1, v1to2.run)
	reg.Upcast(officeMovedType, 2, v2to3.run)
	return reg, v1to2, v2to3
}

// storedAt returns canonical bytes of an officeMoved event as a v-th version
// of the software wrote them.
func storedAt(t *testing.T, v int, data string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatal(err)
	}
	env := events.Envelope{ID: "0190a0a0-0000-7000-8000-0000000000e1", Tenant: "uio.no", User: "ola", Seq: 1, Time: t0, Type: officeMovedType, Version: v, Command: "c1", Actor: "user"}
	raw, err := events.Encode(&env, rawEvent{m})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// rawEvent lets Encode write arbitrary data under any envelope.
type rawEvent struct{ m map[string]any }

func (rawEvent) EventType() string              { return "test.raw" }
func (r rawEvent) MarshalJSON() ([]byte, error) { return json.Marshal(r.m) }

func TestUpcastOldVersionsToCurrent(t *testing.T) {
	want := officeMoved{FullName: "Ola Nordmann", City: "Oslo", Country: "Norway"}
	cases := []struct {
		v            int
		data         string
		runs1, runs2 int
	}{
		{1, `{"name":"Ola Nordmann","place":"Oslo, Norway"}`, 1, 1},
		{2, `{"full_name":"Ola Nordmann","place":"Oslo, Norway"}`, 0, 1},
		{3, `{"full_name":"Ola Nordmann","city":"Oslo","country":"Norway"}`, 0, 0},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("v%d", tc.v), func(t *testing.T) {
			reg, v1to2, v2to3 := newOfficeRegistry()
			raw := storedAt(t, tc.v, tc.data)
			before := bytes.Clone(raw)
			rec, err := reg.Decode(raw)
			if err != nil {
				t.Fatalf("decode v%d: %v", tc.v, err)
			}
			if !reflect.DeepEqual(rec.Event, want) {
				t.Errorf("v%d decoded to %#v, want %#v", tc.v, rec.Event, want)
			}
			if v1to2.n != tc.runs1 || v2to3.n != tc.runs2 {
				t.Errorf("upcasters ran %d and %d times, want %d and %d", v1to2.n, v2to3.n, tc.runs1, tc.runs2)
			}
			// Upcasting is on read only: the record keeps the stored bytes and
			// the version they were written at, so the hash chain still holds.
			if !bytes.Equal(rec.Raw, before) || rec.Version != tc.v {
				t.Errorf("record has v%d and raw %s; want the stored v%d bytes", rec.Version, rec.Raw, tc.v)
			}
			// DecodeData gives the same answer for the bare data.
			ev, err := reg.DecodeData(officeMovedType, tc.v, []byte(tc.data))
			if err != nil || !reflect.DeepEqual(ev, want) {
				t.Errorf("DecodeData v%d = %#v, %v", tc.v, ev, err)
			}
		})
	}
}

func TestBuildWritesCurrentVersion(t *testing.T) {
	reg, _, _ := newOfficeRegistry()
	ev := officeMoved{FullName: "Kari Nordmann", City: "Bergen", Country: "Norway"}
	recs, err := reg.Build(userStream, events.Head{}, meta, &counter{}, []events.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].Version != 3 || !bytes.Contains(recs[0].Raw, []byte(`"v":3,`)) {
		t.Errorf("built v%d: %s", recs[0].Version, recs[0].Raw)
	}
	rec, err := reg.Decode(recs[0].Raw)
	if err != nil || rec.Event != ev {
		t.Errorf("decode = %#v, %v", rec.Event, err)
	}
	// The default registry does not know the private type.
	if _, err := events.Decode(recs[0].Raw); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("Default decoded a private type: err = %v", err)
	}
	if _, err := events.Build(userStream, events.Head{}, meta, &counter{}, []events.Event{ev}); vakt.CodeOf(err) != vakt.CodeInternal {
		t.Errorf("Default built a private type: err = %v", err)
	}
}

func TestUpcasterMissing(t *testing.T) {
	reg := events.NewRegistry()
	events.Register[officeMoved](reg, 3)
	reg.Upcast(officeMovedType, 1, renameName) // no step from v2
	for _, v := range []int{1, 2} {
		_, err := reg.Decode(storedAt(t, v, `{"name":"Ola","full_name":"Ola","place":"Oslo, Norway"}`))
		if vakt.CodeOf(err) != vakt.CodeInternal {
			t.Errorf("v%d without an upcaster from v2: err = %v, want internal", v, err)
		}
		if err == nil || !strings.Contains(err.Error(), "v2") {
			t.Errorf("v%d: error %v does not name the missing step", v, err)
		}
	}
	// Current data needs no upcaster.
	if _, err := reg.Decode(storedAt(t, 3, `{"full_name":"Ola","city":"Oslo","country":"Norway"}`)); err != nil {
		t.Errorf("v3: %v", err)
	}
}

func TestUpcasterFailsOnBadData(t *testing.T) {
	reg, _, v2to3 := newOfficeRegistry()
	_, err := reg.Decode(storedAt(t, 2, `{"full_name":"Ola","place":"nowhere"}`))
	if vakt.CodeOf(err) != vakt.CodeInvalidArgument || v2to3.n != 1 {
		t.Errorf("err = %v (upcaster ran %d times), want invalid_argument", err, v2to3.n)
	}
	// The cause is kept for the log.
	var ve *vakt.Error
	if !errors.As(err, &ve) || ve.Err == nil || !strings.Contains(ve.Err.Error(), "nowhere") {
		t.Errorf("cause not wrapped: %#v", ve)
	}
	_, err = reg.Decode(storedAt(t, 1, `{"full_name":"no name field"}`))
	if vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("v1 without name: err = %v, want invalid_argument", err)
	}
}

func TestRegistryVersionAndTypes(t *testing.T) {
	reg, _, _ := newOfficeRegistry()
	if v := reg.Version(officeMovedType); v != 3 {
		t.Errorf("Version = %d, want 3", v)
	}
	if v := reg.Version("test.unknown"); v != 0 {
		t.Errorf("Version of an unknown type = %d, want 0", v)
	}
	if got, want := reg.Types(), []string{"authenticator.renamed", officeMovedType}; !reflect.DeepEqual(got, want) {
		t.Errorf("Types = %v, want %v", got, want)
	}
	if n := len(events.NewRegistry().Types()); n != 0 {
		t.Errorf("a new registry has %d types", n)
	}
	if _, err := reg.DecodeData("test.unknown", 1, []byte(`{}`)); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("DecodeData of an unknown type: err = %v, want invalid_argument", err)
	}
	if _, err := reg.DecodeData(officeMovedType, 4, []byte(`{}`)); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("DecodeData of a newer version: err = %v, want invalid_argument", err)
	}
}

// Schema versions start at 1: a version below is bad data, not a missing
// upcaster (internal), whether or not the type has upcasters.
func TestDecodeDataVersionBelowOne(t *testing.T) {
	reg, v1to2, v2to3 := newOfficeRegistry()
	for _, typ := range []string{officeMovedType, "authenticator.renamed"} {
		for _, v := range []int{0, -1, -2, math.MinInt} {
			ev, err := reg.DecodeData(typ, v, []byte(`{"name":"Ola","place":"Oslo, Norway"}`))
			if vakt.CodeOf(err) != vakt.CodeInvalidArgument || !errors.Is(err, vakt.ErrInvalidArgument) || ev != nil {
				t.Errorf("DecodeData(%s, v%d) = %#v, %v, want invalid_argument", typ, v, ev, err)
			}
		}
	}
	if v1to2.n != 0 || v2to3.n != 0 {
		t.Errorf("upcasters ran (%d, %d times) for a version below 1", v1to2.n, v2to3.n)
	}
	// Decode refuses such an envelope too.
	raw := storedAt(t, 1, `{"name":"Ola","place":"Oslo, Norway"}`)
	for _, v := range []string{"0", "-1", "-9223372036854775808"} {
		bad := bytes.Replace(raw, []byte(`"v":1,`), []byte(`"v":`+v+`,`), 1)
		if _, err := reg.Decode(bad); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
			t.Errorf("Decode with v %s: err = %v, want invalid_argument", v, err)
		}
	}
}

// A registry is safe for concurrent use: decoding (which reads the upcaster
// chain) while upcasters and types are being registered. Run with -race.
func TestRegistryConcurrentUse(t *testing.T) {
	reg := events.NewRegistry()
	events.Register[officeMoved](reg, 3)
	reg.Upcast(officeMovedType, 1, renameName)
	reg.Upcast(officeMovedType, 2, splitPlace)
	want := officeMoved{FullName: "Ola Nordmann", City: "Oslo", Country: "Norway"}
	stored := map[int][]byte{
		1: storedAt(t, 1, `{"name":"Ola Nordmann","place":"Oslo, Norway"}`),
		2: storedAt(t, 2, `{"full_name":"Ola Nordmann","place":"Oslo, Norway"}`),
		3: storedAt(t, 3, `{"full_name":"Ola Nordmann","city":"Oslo","country":"Norway"}`),
	}
	const rounds = 300
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	// Writers: upcasters registered again (as a plugin or test might), and
	// new types added.
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				reg.Upcast(officeMovedType, 1, renameName)
				reg.Upcast(officeMovedType, 2, splitPlace)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		events.Register[events.Renamed](reg, 1)
		events.Register[events.Removed](reg, 2)
		reg.Upcast("authenticator.removed", 1, func(b []byte) ([]byte, error) { return b, nil })
		events.Register[events.PolicySet](reg, 1)
	}()
	// Readers: every way of reading the registry.
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				v := 1 + i%3
				rec, err := reg.Decode(stored[v])
				if err != nil || !reflect.DeepEqual(rec.Event, want) {
					report(fmt.Errorf("Decode v%d = %#v, %v", v, rec.Event, err))
				}
				ev, err := reg.DecodeData(officeMovedType, v, rec.Raw[bytes.Index(rec.Raw, []byte(`"data":`))+7:len(rec.Raw)-1])
				if err != nil || !reflect.DeepEqual(ev, want) {
					report(fmt.Errorf("DecodeData v%d = %#v, %v", v, ev, err))
				}
				if _, err := reg.DecodeData(officeMovedType, 0, []byte(`{}`)); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
					report(fmt.Errorf("DecodeData v0: %v", err))
				}
				if got := reg.Version(officeMovedType); got != 3 {
					report(fmt.Errorf("Version = %d", got))
				}
				_ = reg.Types()
				_ = reg.Version("authenticator.removed")
				if recs, err := reg.Build(userStream, events.Head{}, meta, &counter{}, []events.Event{want}); err != nil || recs[0].Version != 3 {
					report(fmt.Errorf("Build: %v", err))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := reg.Types(), []string{"authenticator.removed", "authenticator.renamed", "policy.set", officeMovedType}; !reflect.DeepEqual(got, want) {
		t.Errorf("Types = %v, want %v", got, want)
	}
}

func mustPanic(t *testing.T, name, wantMsg string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s did not panic", name)
			return
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, wantMsg) {
			t.Errorf("%s panicked with %q, want it to mention %q", name, msg, wantMsg)
		}
	}()
	f()
}

func TestRegistryMisusePanics(t *testing.T) {
	reg, _, _ := newOfficeRegistry()
	mustPanic(t, "Register twice", "registered twice", func() { events.Register[officeMoved](reg, 4) })
	mustPanic(t, "Register in Default again", "registered twice", func() { events.Register[events.Renamed](events.Default, 1) })
	mustPanic(t, "Register at v0", "at least 1", func() { events.Register[officeMoved](events.NewRegistry(), 0) })
	mustPanic(t, "Upcast of an unknown type", "unregistered type", func() { reg.Upcast("test.unknown", 1, renameName) })
	mustPanic(t, "Upcast from the current version", "current version is 3", func() { reg.Upcast(officeMovedType, 3, renameName) })
	mustPanic(t, "Upcast from v0", "current version is 3", func() { reg.Upcast(officeMovedType, 0, renameName) })
	// The failed registration left the first one in place.
	if v := reg.Version(officeMovedType); v != 3 {
		t.Errorf("after a refused second registration the version is %d", v)
	}
}
