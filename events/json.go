package events

import "github.com/vaktmfa/vakt/internal/jsonx"

type rawMessage = jsonx.RawMessage

func marshal(v any) ([]byte, error) { return jsonx.Marshal(v) }

func unmarshal(b []byte, v any) error { return jsonx.Unmarshal(b, v) }

func unmarshalOf[T any](b []byte, v *T) error { return jsonx.UnmarshalOf(b, v) }
