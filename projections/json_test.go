package projections_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
	"github.com/vaktmfa/vakt/projections"
)

// codecs are the JSON libraries a host may store models with.
var codecs = map[string]struct {
	marshal   func(any) ([]byte, error)
	unmarshal func([]byte, any) error
}{
	"encoding/json": {json.Marshal, json.Unmarshal},
	"jsonx":         {jsonx.Marshal, jsonx.Unmarshal},
}

// roundTrip marshals v, unmarshals it into a new T, and checks that nothing
// was lost.
func roundTrip[T any](t *testing.T, what string, v T) {
	t.Helper()
	for name, c := range codecs {
		b, err := c.marshal(v)
		if err != nil {
			t.Fatalf("%s: %s: %v", what, name, err)
		}
		var back T
		if err := c.unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %s: %v", what, name, err)
		}
		if !reflect.DeepEqual(back, v) {
			b2, _ := c.marshal(back)
			t.Fatalf("%s: %s round trip lost something:\n%s\n%s", what, name, b, b2)
		}
	}
}

func TestJSONRoundTripIsLossless(t *testing.T) {
	w := buildWorld(t)
	m := catchUp(t, w.store)
	for _, k := range m.infos.Keys() {
		v, _ := m.infos.Lookup(k)
		roundTrip(t, "security info "+k.ID, v)
	}
	for _, k := range m.challenges.Keys() {
		v, _ := m.challenges.Lookup(k)
		roundTrip(t, "challenge "+k.ID, v)
	}
	for _, k := range m.audit.Keys() {
		v, _ := m.audit.Lookup(k)
		roundTrip(t, "audit trail "+k.ID, v)
	}
	for _, k := range m.stats.Keys() {
		v, _ := m.stats.Lookup(k)
		roundTrip(t, "tenant stats "+k.Tenant, v)
	}
	// Every intermediate state too: what a host stores after any event.
	var (
		s  projections.SecurityInfo
		a  projections.AuditTrail
		c  projections.ChallengeStatus
		st projections.TenantStats
	)
	for _, r := range w.records() {
		st.Apply(&r)
		roundTrip(t, "tenant stats after "+r.Type, st)
		if r.User != "ola.nordmann" {
			continue
		}
		s.Apply(&r)
		a.Apply(&r)
		c.Apply(&r)
		roundTrip(t, "security info after "+r.Type, s)
		roundTrip(t, "audit trail after "+r.Type, a)
		roundTrip(t, "challenge after "+r.Type, c)
	}
}

// A model stored as JSON and folded on from there gives the same model as a
// fold from the start: the bookkeeping a fold needs survives storage.
func TestFoldResumesFromStoredCopy(t *testing.T) {
	w := buildWorld(t)
	all := w.records()
	for _, cut := range []int{1, 10, len(all) / 3, len(all) / 2, len(all) - 3} {
		for _, user := range []string{"ola.nordmann", "kari.hansen"} {
			resume[projections.SecurityInfo](t, all, cut, user)
			resume[projections.AuditTrail](t, all, cut, user)
		}
		resume[projections.TenantStats](t, all, cut, "")
	}
	// A challenge's status, stored while pending and folded on.
	issued := recordOf(t, all, func(e events.ChallengeIssued) bool { return e.Push != nil })
	id := issued.Event.(events.ChallengeIssued).ChallengeID
	var whole, part projections.ChallengeStatus
	for _, r := range all[issued.Position-1:] {
		whole.Apply(&r)
		part.Apply(&r)
		if r.Position == issued.Position {
			b, _ := json.Marshal(part)
			part = projections.ChallengeStatus{}
			if err := json.Unmarshal(b, &part); err != nil {
				t.Fatal(err)
			}
		}
	}
	if whole.ChallengeID != id || !reflect.DeepEqual(whole, part) {
		t.Fatalf("challenge resumed from a stored copy:\n%+v\n%+v", whole, part)
	}
}

type model[T any] interface {
	*T
	Apply(*events.Record)
}

func resume[T any, P model[T]](t *testing.T, all []events.Record, cut int, user string) {
	t.Helper()
	var whole, part T
	for i, r := range all {
		if user != "" && r.User != user {
			continue
		}
		P(&whole).Apply(&r)
		P(&part).Apply(&r)
		if i == cut {
			b, err := json.Marshal(part)
			if err != nil {
				t.Fatal(err)
			}
			var stored T
			if err := json.Unmarshal(b, &stored); err != nil {
				t.Fatal(err)
			}
			part = stored
		}
	}
	if !reflect.DeepEqual(whole, part) {
		a, _ := json.Marshal(whole)
		b, _ := json.Marshal(part)
		t.Fatalf("%T of %q resumed at %d differs:\n%s\n%s", whole, user, cut, a, b)
	}
}

// TestNoSecretsInReadModels searches every marshalled model for every secret
// the engine handed out or stored: data keys, seeds, sealed boxes, hashes,
// remember tokens, recovery codes, temporary passes, codes and addresses.
func TestNoSecretsInReadModels(t *testing.T) {
	w := buildWorld(t)
	var all strings.Builder
	// Every state the models pass through, not only the last: a reset
	// removes what an earlier state might have leaked.
	m := newModels()
	for _, r := range w.records() {
		for _, p := range m.list() {
			if err := p.Apply(&r); err != nil {
				t.Fatal(err)
			}
		}
		s, _ := m.infos.Get(r.Tenant, r.User)
		a, _ := m.audit.Get(r.Tenant, r.User)
		st, _ := m.stats.Get(r.Tenant)
		var last []projections.AuditEntry
		if n := len(a.Entries); n > 0 {
			last = a.Entries[n-1:]
		}
		b, err := json.Marshal([]any{s, last, a.Refs, st, dump(m.challenges.Collection)})
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	for _, s := range m.snapshot(t) {
		all.WriteString(s)
	}
	for name, c := range codecs {
		for _, v := range []any{dump(m.infos.Collection), dump(m.challenges.Collection), dump(m.audit.Collection), dump(m.stats.Collection)} {
			b, err := c.marshal(v)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			all.Write(b)
		}
	}
	doc := all.String()

	// The search is only as good as what it searches for.
	kinds := map[string]int{}
	for _, s := range w.secrets {
		kinds[s.what]++
	}
	for _, k := range []string{"data key", "base32 seed", "otpauth uri", "remember token", "recovery code", "temporary pass",
		"address", "delivered code", "sealed seed", "sealed address", "remember token hash", "recovery code hash", "code hash", "temporary pass hash"} {
		if kinds[k] == 0 {
			t.Errorf("the flows handed out no %s to search for", k)
		}
	}
	w.addSecret("phone number", "+4791234567", "91234567", "912 34 567")
	for _, s := range w.secrets {
		for _, f := range s.forms {
			if len(f) < 6 {
				continue
			}
			if strings.Contains(doc, f) {
				t.Errorf("a read model contains a %s (%.12s...)", s.what, f)
			}
			// Recovery codes and passes are typed with or without dashes.
			if bare := strings.ReplaceAll(f, "-", ""); bare != f && len(bare) >= 8 && strings.Contains(doc, bare) {
				t.Errorf("a read model contains a %s without dashes", s.what)
			}
		}
	}

	// No field that could hold a secret exists at all.
	forbidden := []string{"hash", "secret", "seed", "token", "nonce", "salt", "public_key", "address", "number", "choices", "key_id", "sealed"}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				for _, f := range forbidden {
					if strings.Contains(k, f) && !strings.HasPrefix(path, "per_user") && !strings.HasPrefix(path, "refs") && !strings.HasPrefix(path, "active") {
						t.Errorf("field %s.%s looks like it holds a secret", path, k)
					}
				}
				walk(k, x)
			}
		case []any:
			for _, x := range v {
				walk(path, x)
			}
		}
	}
	for name, s := range m.snapshot(t) {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		walk(name, v)
	}
}
