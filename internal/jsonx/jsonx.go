// Package jsonx is the one place where Vakt's core chooses its JSON library
// (goccy/go-json, compatible with encoding/json). Keeping every call behind
// these few functions lets a size-constrained build (the WASM guest) swap the
// library in one file: under GOARCH=wasm (or the build tag vakt_stdjson) the
// standard library's encoding/json is used instead (json_std.go), which keeps
// the core module under 4 MB (goccy/go-json adds about 4.5 MB). The output
// is byte-identical; the decision vectors, run natively and through the
// module, prove it.
package jsonx

import "errors"

// ErrTrailing is returned by Strict when data follows the JSON value.
var ErrTrailing = errors.New("unexpected data after the JSON value")
