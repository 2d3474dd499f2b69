// Package server is Vakt's HTTP API v1 (DESIGN.md section 6): relying
// parties start and verify challenges, helpdesks reset and unlock, push
// devices answer, operators scrape metrics. It turns requests into engine
// commands on the stack (internal/stack) and replies into JSON; everything
// it does to a user goes through engine.Service, so every change is an
// event.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/internal/push"
	"github.com/vaktmfa/vakt/internal/stack"
)

// Action is something a caller may be allowed to do in a tenant.
type Action string

// The actions the API checks. Which scope holds which is the access
// policy's business (internal/apikeys).
const (
	ActEnrol     Action = "enrol"     // start and confirm enrolments, manage one's authenticators
	ActChallenge Action = "challenge" // issue, verify, poll, remember
	ActReadUser  Action = "read_user" // authenticators, security info
	ActAudit     Action = "audit"     // a user's event timeline
	ActHelpdesk  Action = "helpdesk"  // helpdesk reset, unlock, temporary pass
	ActSelfReset Action = "self_reset"
	ActErase     Action = "erase"
	ActPolicy    Action = "policy"
	ActStats     Action = "stats"
	ActKeys      Action = "keys"
)

// Caller is an authenticated API key.
type Caller interface {
	// Actor names the caller in the audit trail ("rp:<key id>", ...).
	Actor() string
	// Can reports whether the caller may do action in tenant ("" for actions
	// that are not about a tenant).
	Can(action Action, tenant string) bool
	// Tenant is the tenant the key belongs to ("" for the admin key).
	Tenant() string
}

// Access authenticates bearers and manages keys.
type Access interface {
	Authenticate(ctx context.Context, bearer string) (Caller, error)
	CreateKey(ctx context.Context, by Caller, scope, tenant, label string) (KeyInfo, string, error)
	RevokeKey(ctx context.Context, by Caller, id string) error
	ListKeys(ctx context.Context, by Caller, tenant string) ([]KeyInfo, error)
}

// KeyInfo describes an API key (never its secret).
type KeyInfo struct {
	ID      string    `json:"id"`
	Scope   string    `json:"scope"`
	Tenant  string    `json:"tenant,omitempty"`
	Label   string    `json:"label,omitempty"`
	Created time.Time `json:"created_at"`
}

// Session is what a session token asserts.
type Session struct {
	User, Tenant, ACR, App, ChallengeID string
	AMR                                 []string
	AuthTime                            time.Time
}

// Tokens signs session tokens and publishes their keys.
type Tokens interface {
	Sign(s Session) (token string, expires time.Time, err error)
	JWKS() []byte
}

// Deliverer sends codes by SMS or e-mail, asynchronously.
type Deliverer interface {
	Send(tenant, user, challengeID, authenticatorID string, d *engine.Delivery) error
}

// Pusher publishes pushes to devices and lets requests wait for pushes and
// for a user's events.
type Pusher interface {
	Publish(tenant string, n push.Notice) error
	WaitPush(ctx context.Context, tenant, authenticatorID string) (<-chan push.Notice, func(), error)
	WaitUser(ctx context.Context, tenant, user string) (<-chan struct{}, func(), error)
}

// Metrics is what the server counts (internal/metrics behind it).
type Metrics interface {
	Request(route string, status int, d time.Duration)
	Events(recs []string) // event types appended
}

// Config is everything the server needs. Stack, Access and Tokens are
// required.
type Config struct {
	Stack     *stack.Stack
	Access    Access
	Tokens    Tokens
	Deliverer Deliverer
	Pusher    Pusher
	Metrics   Metrics
	// MetricsHandler serves /metrics (nil: 404).
	MetricsHandler http.Handler
	// OpenAPI is served at /openapi.json.
	OpenAPI []byte
	// PublicURL is where devices reach this server (for activation links).
	PublicURL string
	Logger    *slog.Logger
	// Now is the clock for device request signatures (default time.Now).
	Now func() time.Time
}

// Server is the HTTP API.
type Server struct {
	cfg    Config
	svc    *engine.Service
	log    *slog.Logger
	mux    *http.ServeMux
	routes []string

	draining  chan struct{} // closed by Drain
	drainOnce sync.Once
}

// New checks the configuration and builds the routes.
func New(cfg Config) (*Server, error) {
	if cfg.Stack == nil || cfg.Access == nil || cfg.Tokens == nil {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "server: Stack, Access and Tokens are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, svc: cfg.Stack.Service, log: cfg.Logger, mux: http.NewServeMux(), draining: make(chan struct{})}
	s.register()
	return s, nil
}

// Drain makes every long poll answer now, with where things stand, so that a
// shutdown does not wait out their wait. Call it before http.Server.Shutdown.
func (s *Server) Drain() { s.drainOnce.Do(func() { close(s.draining) }) }

// Handler is the API with its middleware (logging, metrics, recovery).
func (s *Server) Handler() http.Handler { return s.middleware(s.mux) }

func (s *Server) register() {
	m := routeRecorder{s}
	// Users and their authenticators.
	m.HandleFunc("POST /v1/tenants/{t}/users/{u}/authenticators", s.enrol)
	m.HandleFunc("GET /v1/tenants/{t}/users/{u}/authenticators", s.listAuthenticators)
	m.HandleFunc("POST /v1/tenants/{t}/users/{u}/authenticators/{id}/confirm", s.confirm)
	m.HandleFunc("PATCH /v1/tenants/{t}/users/{u}/authenticators/{id}", s.rename)
	m.HandleFunc("DELETE /v1/tenants/{t}/users/{u}/authenticators/{id}", s.remove)
	m.HandleFunc("POST /v1/tenants/{t}/users/{u}/authenticators/{id}/resync", s.resync)
	m.HandleFunc("GET /v1/tenants/{t}/users/{u}/authenticators/{id}/pushes", s.pushes)
	m.HandleFunc("PUT /v1/tenants/{t}/users/{u}/default-authenticator", s.setDefault)
	m.HandleFunc("POST /v1/tenants/{t}/users/{u}/recovery-codes", s.recoveryCodes)
	m.HandleFunc("GET /v1/tenants/{t}/users/{u}", s.securityInfo)
	m.HandleFunc("DELETE /v1/tenants/{t}/users/{u}", s.erase)
	m.HandleFunc("GET /v1/tenants/{t}/users/{u}/events", s.timeline)
	m.HandleFunc("DELETE /v1/tenants/{t}/users/{u}/devices/{id}", s.forgetDevice)
	m.HandleFunc("DELETE /v1/tenants/{t}/users/{u}/devices", s.forgetDevices)
	// Sign-in.
	m.HandleFunc("POST /v1/tenants/{t}/users/{u}/challenges", s.issue)
	m.HandleFunc("POST /v1/tenants/{t}/users/{u}/snooze", s.snooze)
	m.HandleFunc("GET /v1/tenants/{t}/challenges/{id}", s.challengeStatus)
	m.HandleFunc("POST /v1/tenants/{t}/challenges/{id}/verify", s.verify)
	m.HandleFunc("POST /v1/tenants/{t}/challenges/{id}/respond", s.respond)
	m.HandleFunc("POST /v1/tenants/{t}/challenges/{id}/send", s.send)
	m.HandleFunc("POST /v1/tenants/{t}/challenges/{id}/remember", s.remember)
	// Helpdesk.
	m.HandleFunc("POST /v1/tenants/{t}/users/{u}/reset", s.reset)
	m.HandleFunc("POST /v1/tenants/{t}/users/{u}/unlock", s.unlock)
	m.HandleFunc("POST /v1/tenants/{t}/users/{u}/temporary-pass", s.temporaryPass)
	// Tenant administration.
	m.HandleFunc("PUT /v1/tenants/{t}/policy", s.setPolicy)
	m.HandleFunc("GET /v1/tenants/{t}/policy", s.getPolicy)
	m.HandleFunc("GET /v1/tenants/{t}/stats", s.stats)
	m.HandleFunc("POST /v1/keys", s.createKey)
	m.HandleFunc("GET /v1/keys", s.listKeys)
	m.HandleFunc("DELETE /v1/keys/{id}", s.revokeKey)
	// Public.
	m.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /openapi.json", s.openapi)
	if s.cfg.MetricsHandler != nil {
		m.Handle("GET /metrics", s.cfg.MetricsHandler)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, vakt.Errorf(vakt.CodeNotFound, "no such call: %s %s; see /openapi.json", r.Method, truncate(r.URL.Path, 200)))
	})
}

// Routes lists the API's route patterns ("POST /v1/keys", ...) in the order
// they were registered, for the OpenAPI document's test.
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

// routeRecorder registers routes on the mux and remembers their patterns.
type routeRecorder struct{ s *Server }

func (m routeRecorder) HandleFunc(pattern string, h http.HandlerFunc) {
	m.s.routes = append(m.s.routes, pattern)
	m.s.mux.HandleFunc(pattern, h)
}

func (m routeRecorder) Handle(pattern string, h http.Handler) {
	m.s.routes = append(m.s.routes, pattern)
	m.s.mux.Handle(pattern, h)
}
