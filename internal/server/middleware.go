package server

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
)

// StatusWriter remembers the status a handler wrote.
type StatusWriter struct {
	http.ResponseWriter
	status int
}

func (w *StatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Written reports whether the handler has written a status yet.
func (w *StatusWriter) Written() bool { return w.status != 0 }

// Observe serves a request with serve and then logs and counts it (m may
// be nil) by its route pattern, never the raw path, which holds user ids,
// and never a query, a body or a header, so no code, token or key: method,
// route, status and time. The API and the pages (internal/web) both serve
// through it.
func Observe(log *slog.Logger, m Metrics, w http.ResponseWriter, r *http.Request, serve func(*StatusWriter, *http.Request)) {
	start := time.Now()
	sw := &StatusWriter{ResponseWriter: w}
	defer func() {
		d := time.Since(start)
		status := sw.status
		if status == 0 {
			status = http.StatusOK // what net/http sends for a handler that wrote nothing
		}
		route := RouteOf(r)
		if m != nil {
			m.Request(route, status, d)
		}
		log.InfoContext(r.Context(), "request", "method", r.Method, "route", route, "status", status, "ms", float64(d.Microseconds())/1000)
	}()
	serve(sw, r)
}

// middleware adds the API's headers, turns a panic into a 500 without
// taking the process down, and observes every request.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		Observe(s.log, s.cfg.Metrics, w, r, func(sw *StatusWriter, r *http.Request) {
			defer func() {
				if p := recover(); p != nil {
					s.log.ErrorContext(r.Context(), "panic", "route", RouteOf(r), "panic", p, "stack", string(debug.Stack()))
					if !sw.Written() {
						s.writeError(sw, r, vakt.Errorf(vakt.CodeInternal, "internal error; see the server log"))
					}
				}
			}()
			next.ServeHTTP(sw, r)
		})
	})
}

// RouteOf is the route pattern a request matched ("POST /v1/tenants/{t}/..."),
// or "unmatched".
func RouteOf(r *http.Request) string {
	if r.Pattern == "" || r.Pattern == "/" {
		return "unmatched"
	}
	return r.Pattern
}

// forUser reads a user route's tenant and user and checks that the caller
// may do one of actions for the tenant. On failure it has answered the
// request and ok is false.
func (s *Server) forUser(w http.ResponseWriter, r *http.Request, actions ...Action) (tenant, user string, c Caller, ok bool) {
	tenant, user, err := pathIDs(r)
	if err == nil {
		c, err = s.caller(r, tenant, actions...)
	}
	if err != nil {
		s.writeError(w, r, err)
		return "", "", nil, false
	}
	return tenant, user, c, true
}

// forChallenge is forUser for the routes that name a challenge: it also
// returns the engine's challenge id.
func (s *Server) forChallenge(w http.ResponseWriter, r *http.Request, actions ...Action) (tenant, user, id string, c Caller, ok bool) {
	tenant, user, id, err := challengeOf(r)
	if err == nil {
		c, err = s.caller(r, tenant, actions...)
	}
	if err != nil {
		s.writeError(w, r, err)
		return "", "", "", nil, false
	}
	return tenant, user, id, c, true
}

// caller authenticates the request's bearer key and checks that it may do
// one of actions in tenant.
func (s *Server) caller(r *http.Request, tenant string, actions ...Action) (Caller, error) {
	auth := r.Header.Get("Authorization")
	bearer, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || bearer == "" {
		return nil, vakt.Errorf(vakt.CodeUnauthorized, "send an API key as Authorization: Bearer <key>")
	}
	c, err := s.cfg.Access.Authenticate(r.Context(), bearer)
	if err != nil {
		return nil, err
	}
	for _, a := range actions {
		if c.Can(a, tenant) {
			return c, nil
		}
	}
	if tenant == "" {
		return nil, vakt.Errorf(vakt.CodeUnauthorized, "this API key may not do that")
	}
	return nil, vakt.Errorf(vakt.CodeUnauthorized, "this API key may not do that for tenant %q", tenant)
}
