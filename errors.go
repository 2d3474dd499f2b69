// Package vakt holds what every part of Vakt shares: the one typed error whose
// code crosses every boundary (Go, HTTP, the WASM ABI, Node and Python).
//
// The engine lives in [github.com/vaktmfa/vakt/engine], the event model and
// stores in [github.com/vaktmfa/vakt/events], and read models in
// [github.com/vaktmfa/vakt/projections]. docs/ARCHITECTURE.md shows how they fit.
package vakt

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error kind. The list is append-only: a
// code, once released, keeps its spelling and meaning forever, because hosts in
// other languages and stored HTTP clients switch on it.
type Code string

// The error codes. Keep in sync with wasm/ABI.md and docs/errors.md.
const (
	CodeInvalidArgument   Code = "invalid_argument"   // the request is malformed; fix it and retry
	CodeNotFound          Code = "not_found"          // no such user, authenticator, challenge or device
	CodeConflict          Code = "conflict"           // the state moved on (concurrent write, already answered)
	CodeInvalidCode       Code = "invalid_code"       // a one-time code or pass did not match
	CodeCodeReused        Code = "code_reused"        // the code matched a step that was already used
	CodeExpired           Code = "expired"            // the challenge, enrolment or pass is past its time
	CodeLockedOut         Code = "locked_out"         // too many failures; wait or ask the helpdesk
	CodeEnrolmentRequired Code = "enrolment_required" // the user has no usable authenticator
	CodeMethodNotAllowed  Code = "method_not_allowed" // the method is disabled or below the required acr
	CodeInsufficientProof Code = "insufficient_proof" // an identity proof below the policy's level
	CodePushPaused        Code = "push_paused"        // push is paused (fatigue protection); use a code
	CodeErased            Code = "erased"             // the user was erased
	CodeUnauthorized      Code = "unauthorized"       // bad credentials or signature
	CodeInternal          Code = "internal"           // a bug or an unavailable dependency
)

// Codes lists every code in the order they were introduced.
var Codes = []Code{
	CodeInvalidArgument, CodeNotFound, CodeConflict, CodeInvalidCode, CodeCodeReused,
	CodeExpired, CodeLockedOut, CodeEnrolmentRequired, CodeMethodNotAllowed,
	CodeInsufficientProof, CodePushPaused, CodeErased, CodeUnauthorized, CodeInternal,
}

// Valid reports whether c is one of the released codes.
func (c Code) Valid() bool {
	for _, k := range Codes {
		if k == c {
			return true
		}
	}
	return false
}

// Error is the error every Vakt package returns for an expected failure. Message
// is lowercase, safe to show to the caller (it never contains a secret, code or
// token) and says what to do. Err, when set, is the underlying cause; it is not
// part of the wire form.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Err     error  `json:"-"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, vakt.ErrNotFound) true for any *Error with that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Sentinels for errors.Is. They carry no message; compare, never return them.
var (
	ErrInvalidArgument   = &Error{Code: CodeInvalidArgument}
	ErrNotFound          = &Error{Code: CodeNotFound}
	ErrConflict          = &Error{Code: CodeConflict}
	ErrInvalidCode       = &Error{Code: CodeInvalidCode}
	ErrCodeReused        = &Error{Code: CodeCodeReused}
	ErrExpired           = &Error{Code: CodeExpired}
	ErrLockedOut         = &Error{Code: CodeLockedOut}
	ErrEnrolmentRequired = &Error{Code: CodeEnrolmentRequired}
	ErrMethodNotAllowed  = &Error{Code: CodeMethodNotAllowed}
	ErrInsufficientProof = &Error{Code: CodeInsufficientProof}
	ErrPushPaused        = &Error{Code: CodePushPaused}
	ErrErased            = &Error{Code: CodeErased}
	ErrUnauthorized      = &Error{Code: CodeUnauthorized}
	ErrInternal          = &Error{Code: CodeInternal}
)

// Errorf returns an *Error with the given code and a formatted message. A %w verb
// wraps the cause as Err.
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// CodeOf returns the code of err: the code of the first *Error in its chain,
// "" for nil and CodeInternal for any other error.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// As converts any error to an *Error: itself if it is one, otherwise an internal
// error with a generic message (the cause is kept in Err, not in the message,
// so that it never leaks across a boundary).
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error; see the server log", Err: err}
}
