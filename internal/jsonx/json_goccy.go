//go:build !wasm && !vakt_stdjson

package jsonx

import (
	"bytes"
	"io"

	json "github.com/goccy/go-json"
)

// RawMessage is a raw encoded JSON value.
type RawMessage = json.RawMessage

// Marshal encodes v as encoding/json does.
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes b into v, ignoring unknown fields (stored events written
// by a newer minor version still read).
func Unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// UnmarshalOf is Unmarshal without the interface conversion.
func UnmarshalOf[T any](b []byte, v *T) error { return json.UnmarshalOf(b, v) }

// Strict decodes exactly one JSON value from b into v and refuses unknown
// fields: what callers send (commands, policies, ABI requests) must say only
// what is understood.
func Strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrTrailing
	}
	return nil
}
