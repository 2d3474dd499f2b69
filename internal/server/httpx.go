package server

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// MaxBody bounds a request body; every body Vakt takes is far smaller.
const MaxBody = 64 << 10

// statusOf maps the stable error codes to HTTP statuses.
func statusOf(code vakt.Code) int {
	switch code {
	case vakt.CodeInvalidArgument:
		return http.StatusBadRequest
	case vakt.CodeUnauthorized:
		return http.StatusUnauthorized
	case vakt.CodeInvalidCode, vakt.CodeCodeReused, vakt.CodeInsufficientProof:
		return http.StatusForbidden
	case vakt.CodeNotFound:
		return http.StatusNotFound
	case vakt.CodeConflict, vakt.CodeEnrolmentRequired:
		return http.StatusConflict
	case vakt.CodeExpired, vakt.CodeErased:
		return http.StatusGone
	case vakt.CodeMethodNotAllowed:
		return http.StatusUnprocessableEntity
	case vakt.CodeLockedOut:
		return http.StatusLocked
	case vakt.CodePushPaused:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error *vakt.Error `json:"error"`
}

// writeError answers with the typed error. An error that is not a
// *vakt.Error is internal, and its text is logged, never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := vakt.As(err)
	if e.Code == vakt.CodeInternal {
		s.log.ErrorContext(r.Context(), "internal error", "route", RouteOf(r), "err", err)
	}
	out := &vakt.Error{Code: e.Code, Message: e.Message}
	if out.Message == "" {
		out.Message = string(e.Code)
	}
	writeJSON(w, statusOf(e.Code), errorBody{Error: out})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := jsonx.Marshal(v)
	if err != nil {
		b = []byte(`{"error":{"code":"internal","message":"internal error; see the server log"}}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// decode reads a JSON body into v: at most MaxBody bytes, one value, no
// unknown fields. An empty body decodes as {} for commands without fields.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return vakt.Errorf(vakt.CodeInvalidArgument, "send the body as application/json")
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return vakt.Errorf(vakt.CodeInvalidArgument, "read the body: %v", err)
	}
	if len(b) > MaxBody {
		return vakt.Errorf(vakt.CodeInvalidArgument, "the body is larger than %d bytes", MaxBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	if err := jsonx.Strict(b, v); err != nil {
		return vakt.Errorf(vakt.CodeInvalidArgument, "the body is not valid JSON for this call: %s", jsonProblem(err))
	}
	return nil
}

// jsonProblem describes a decoding error without quoting the input (which
// may hold a code or a secret).
func jsonProblem(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unknown field"):
		if i := strings.Index(msg, "unknown field"); i >= 0 {
			return msg[i:]
		}
	case strings.Contains(msg, "cannot unmarshal"):
		if i := strings.Index(msg, "cannot unmarshal"); i >= 0 {
			return "a field has the wrong type (" + msg[i:] + ")"
		}
	case errors.Is(err, jsonx.ErrTrailing):
		return "more than one JSON value"
	}
	return "malformed JSON"
}

// pathIDs reads and checks the tenant and user of a route.
func pathIDs(r *http.Request) (tenant, user string, err error) {
	tenant = r.PathValue("t")
	if err := events.ValidateID("tenant", tenant); err != nil {
		return "", "", err
	}
	user = r.PathValue("u")
	if user != "" {
		if err := events.ValidateID("user", user); err != nil {
			return "", "", err
		}
	}
	return tenant, user, nil
}

// commandID is the idempotency key of a request: the Idempotency-Key header
// if the caller sent one (a retry with the same key is answered, not applied
// twice), a fresh random id otherwise.
func commandID(r *http.Request) (string, error) {
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		if err := events.ValidateCommandID(k); err != nil {
			return "", vakt.Errorf(vakt.CodeInvalidArgument, "Idempotency-Key: %s", vakt.As(err).Message)
		}
		return k, nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", vakt.Errorf(vakt.CodeInternal, "random: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ---- challenge ids ------------------------------------------------------------

// The API names a challenge by the engine's id and the user it belongs to,
// "<uuid>~<base64url(user)>", so that the routes that name only a tenant and
// a challenge (verify, respond, status) find the user's stream without an
// index: nothing to write, nothing to look up, and nothing to lose.
const challengeSep = "~"

func apiChallengeID(user, id string) string {
	return id + challengeSep + base64.RawURLEncoding.EncodeToString([]byte(user))
}

func parseChallengeID(s string) (user, id string, err error) {
	id, enc, ok := strings.Cut(s, challengeSep)
	bad := vakt.Errorf(vakt.CodeInvalidArgument, "challenge id %q is not one vakt returned", truncate(s, 80))
	if !ok || !events.IsID(id) {
		return "", "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", "", bad
	}
	user = string(b)
	if err := events.ValidateID("user", user); err != nil {
		return "", "", bad
	}
	return user, id, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// waitParam reads ?wait=30s (at most a minute).
func waitParam(r *http.Request) (d int, err error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	v = strings.TrimSuffix(v, "s")
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 60 {
		return 0, vakt.Errorf(vakt.CodeInvalidArgument, "wait must be 0s to 60s")
	}
	return n, nil
}
