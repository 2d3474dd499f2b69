package main

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/vaktmfa/vakt/projections"
)

// A user the security info read model has not folded yet (just enrolled) is
// read from the stream instead of answering 404, and the answer is what the
// read model gives for a user enrolled alike. The read models are stopped
// here so that they lag the stream for certain. It decides nothing, so it
// runs on the native engine only.
func TestSecurityInfoBeforeTheReadModel(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	s.enrolTOTP(rp, tenant, "seen", "Phone")
	s.infoWhere(rp, tenant, "seen", "the authenticator", func(m map[string]any) bool { return len(authenticatorsIn(m)) == 1 })
	fromModel := s.must(http.StatusOK, "GET", userPath(tenant, "seen"), rp, nil)

	s.app.Stack.StopReadModels()
	user := "ny.bruker*"
	s.enrolTOTP(rp, tenant, user, "Phone")
	if _, ok, err := s.app.Stack.Views.Get(t.Context(), projections.NameSecurityInfo, projections.Key{Tenant: tenant, ID: user}); ok || err != nil {
		t.Fatalf("the stopped read model holds the new user (%v)", err)
	}
	fromStream := s.must(http.StatusOK, "GET", userPath(tenant, user), rp, nil)
	if got, want := alike(t, fromStream.body), alike(t, fromModel.body); !reflect.DeepEqual(got, want) {
		t.Fatalf("folded from the stream:\n%v\nthe read model's for a user enrolled alike:\n%v", got, want)
	}
	// A user with no events at all is still not found, and reading stores nothing.
	s.refused(http.StatusNotFound, "not_found", "GET", userPath(tenant, "nobody"), rp, nil)
	if n := len(s.types(tenant, "nobody")); n != 0 {
		t.Fatalf("reading an unknown user stored %d events", n)
	}
}

// alike is a security info without what differs between two users enrolled
// the same way: the user, the authenticator ids and the times.
func alike(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "user")
	delete(m, "updated_at")
	delete(m, "default")
	list, _ := m["authenticators"].([]any)
	for _, a := range list {
		am, _ := a.(map[string]any)
		for _, k := range []string{"id", "created_at", "activated_at", "expires_at", "last_used_at"} {
			delete(am, k)
		}
	}
	return m
}
