//go:build wasm || vakt_stdjson

package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
)

// RawMessage is a raw encoded JSON value.
type RawMessage = json.RawMessage

// Marshal encodes v with encoding/json.
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes b into v, ignoring unknown fields (stored events written
// by a newer minor version still read).
func Unmarshal(b []byte, v any) error { return like(json.Unmarshal(b, v), v) }

// UnmarshalOf is Unmarshal (encoding/json has no faster typed form).
func UnmarshalOf[T any](b []byte, v *T) error { return like(json.Unmarshal(b, v), v) }

// Strict decodes exactly one JSON value from b into v and refuses unknown
// fields: what callers send (commands, policies, ABI requests) must say only
// what is understood.
func Strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return like(err, v)
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrTrailing
	}
	return nil
}

// like makes a type error read as goccy/go-json writes it, so that error
// messages (which reach the decision vectors) do not depend on the build:
// goccy names the root type being decoded where encoding/json names the
// struct that holds the field.
func like(err error, v any) error {
	var te *json.UnmarshalTypeError
	if err == nil || !errors.As(err, &te) || te.Field == "" {
		return err
	}
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Struct && t.Name() != "" {
		te.Struct = t.Name()
	}
	return err
}
