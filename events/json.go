package events

import json "github.com/goccy/go-json"

// The events package reads and writes JSON through these three names only, so
// that a build for a size-constrained target can swap the library in one file.

type rawMessage = json.RawMessage

func marshal(v any) ([]byte, error) { return json.Marshal(v) }

func unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func unmarshalOf[T any](b []byte, v *T) error { return json.UnmarshalOf(b, v) }
