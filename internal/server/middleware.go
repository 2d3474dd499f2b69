package server

import (
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
)

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware logs every request by its route pattern (never the raw path,
// which holds user ids, and never a body or a header), counts it, and turns
// a panic into a 500 without taking the process down.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h := sw.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(r.Context(), "panic", "route", routeOf(r), "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.writeError(sw, r, vakt.Errorf(vakt.CodeInternal, "internal error; see the server log"))
				}
			}
			d := time.Since(start)
			route := routeOf(r)
			if s.cfg.Metrics != nil {
				s.cfg.Metrics.Request(route, sw.status, d)
			}
			s.log.InfoContext(r.Context(), "request", "method", r.Method, "route", route, "status", sw.status, "ms", float64(d.Microseconds())/1000)
		}()
		next.ServeHTTP(sw, r)
	})
}

// routeOf is the route pattern a request matched ("POST /v1/tenants/{t}/..."),
// or "unmatched".
func routeOf(r *http.Request) string {
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
