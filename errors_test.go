package vakt_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/vaktmfa/vakt"
)

func TestCodesAreStable(t *testing.T) {
	// The list is append-only: these spellings are part of the wire contract
	// (HTTP, the WASM ABI, Node and Python). Never change or reorder them.
	want := []string{"invalid_argument", "not_found", "conflict", "invalid_code", "code_reused", "expired",
		"locked_out", "enrolment_required", "method_not_allowed", "insufficient_proof", "push_paused",
		"erased", "unauthorized", "internal"}
	if len(vakt.Codes) < len(want) {
		t.Fatalf("%d codes, want at least %d", len(vakt.Codes), len(want))
	}
	for i, w := range want {
		if string(vakt.Codes[i]) != w || !vakt.Codes[i].Valid() {
			t.Errorf("code %d = %q, want %q", i, vakt.Codes[i], w)
		}
	}
	if vakt.Code("oops").Valid() {
		t.Error("an unknown code is valid")
	}
}

func TestErrorIsAndAs(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	err := fmt.Errorf("decide: %w", vakt.Errorf(vakt.CodeNotFound, "no such challenge: %w", cause))
	if !errors.Is(err, vakt.ErrNotFound) || errors.Is(err, vakt.ErrConflict) {
		t.Fatal("errors.Is does not match by code")
	}
	if !errors.Is(err, cause) {
		t.Fatal("the cause is not wrapped")
	}
	if vakt.CodeOf(err) != vakt.CodeNotFound || vakt.CodeOf(nil) != "" || vakt.CodeOf(io.EOF) != vakt.CodeInternal {
		t.Fatal("CodeOf")
	}
	// A foreign error becomes internal without leaking its text.
	e := vakt.As(errors.New("dial tcp 10.0.0.7:4222: secret-ish detail"))
	if e.Code != vakt.CodeInternal || e.Message != "internal error; see the server log" {
		t.Fatalf("As = %+v", e)
	}
	b, _ := json.Marshal(vakt.As(err))
	if string(b) != `{"code":"not_found","message":"no such challenge: unexpected EOF"}` {
		t.Fatalf("wire form = %s", b)
	}
}

func ExampleErrorf() {
	err := vakt.Errorf(vakt.CodeLockedOut, "too many failed attempts; try again after %s", "09:01")
	fmt.Println(err)
	fmt.Println(errors.Is(err, vakt.ErrLockedOut), vakt.CodeOf(err))
	// Output:
	// locked_out: too many failed attempts; try again after 09:01
	// true locked_out
}
