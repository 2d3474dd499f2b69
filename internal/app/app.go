// Package app wires `vakt serve` together: the stack on NATS
// (internal/stack), API keys (internal/apikeys), session tokens
// (internal/tokens), code delivery (internal/delivery), pushes
// (internal/push), metrics (internal/metrics) and the HTTP API
// (internal/server). Open builds it, Serve runs it on a listener until its
// context ends, Close takes it down in order.
//
// The adapters here are the only place that knows both the server's small
// interfaces and the packages behind them, so that each side can be tested
// alone.
package app

import (
	"context"
	_ "embed"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
	wazerohost "github.com/vaktmfa/vakt/hosts/wazero"
	"github.com/vaktmfa/vakt/internal/apikeys"
	"github.com/vaktmfa/vakt/internal/delivery"
	"github.com/vaktmfa/vakt/internal/metrics"
	"github.com/vaktmfa/vakt/internal/push"
	"github.com/vaktmfa/vakt/internal/server"
	"github.com/vaktmfa/vakt/internal/stack"
	"github.com/vaktmfa/vakt/internal/tokens"
	"github.com/vaktmfa/vakt/internal/web"
)

// OpenAPI is the API's description, served at /openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// Config is what `vakt serve` takes from its flags and environment.
type Config struct {
	// DataDir holds the embedded NATS store, master.key and admin.key.
	DataDir string
	// NATSURL, NATSCreds, NATSListen and Replicas: see stack.Config.
	NATSURL, NATSCreds, NATSListen string
	Replicas                       int
	// PublicURL is where relying parties and devices reach this server: the
	// issuer of session tokens and the server of activation links.
	PublicURL string
	// Dev shows codes in the log (the log delivery sink) and says so.
	Dev bool
	// WebhookURL, when set, delivers SMS and e-mail codes by POSTing them
	// there, signed with WebhookSecret.
	WebhookURL    string
	WebhookSecret []byte
	// TokenTTL is the lifetime of session tokens (default tokens.DefaultTTL).
	TokenTTL time.Duration
	// Logger (default: discard).
	Logger *slog.Logger
	// Engine is "native" (the default, also "") or "wasm": every decision
	// then runs in the core WebAssembly module through hosts/wazero.
	Engine string
	// WASMModule is the core module's path for Engine "wasm"; empty builds
	// it from the source tree that holds the working directory
	// (internal/wasmbuild).
	WASMModule string
	// WASMCacheDir keeps wazero's compiled code (default: the user's cache
	// directory, vakt/wasm/compiled).
	WASMCacheDir string
	// WASMInterrupt keeps wazero's interrupt checks on, so that a decision
	// whose request ends is stopped inside the module. Off (the default), a
	// decision runs 2-3x faster; a request that ends is still answered at
	// once, and the decision, bounded by what the server sends, finishes
	// in the background on an instance that is then replaced
	// (hosts/wazero Config.NoInterrupt; RATIONALE.md).
	WASMInterrupt bool
	// Web configures the pages under /ui/ (internal/web); Dev turns on
	// their development login too.
	Web web.Options

	// Tests and benchmarks only.
	NoSync    bool
	MasterKey []byte
	Now       func() time.Time
	Rand      io.Reader
	// Deliverer replaces the log sink and the webhook (tests record codes).
	Deliverer delivery.Deliverer
}

// App is Vakt serving HTTP.
type App struct {
	Stack   *stack.Stack
	Keys    *apikeys.Keys
	Tokens  *tokens.Issuer
	Queue   *delivery.Queue
	Metrics *metrics.Registry
	Server  *server.Server
	Web     *web.Web
	// AdminKey is the admin key's secret and AdminKeyCreated whether it was
	// made just now (print it once).
	AdminKey        string
	AdminKeyCreated bool

	log     *slog.Logger
	handler http.Handler
	wasm    *wazerohost.Host // Engine "wasm"
}

// Open starts everything but the listener. On error, what was opened is
// closed again.
func Open(ctx context.Context, cfg Config) (a *App, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PublicURL == "" {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "app: PublicURL is required (the issuer of session tokens)")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	opened := &App{log: cfg.Logger}
	a = opened
	defer func() {
		if err != nil { // every error return has set a to nil by now
			opened.Close(context.Background())
		}
	}()
	if a.AdminKey, a.AdminKeyCreated, err = apikeys.LoadAdminKey(cfg.DataDir); err != nil {
		return nil, err
	}
	a.Stack, err = stack.Open(ctx, stack.Config{
		DataDir: cfg.DataDir, NATSURL: cfg.NATSURL, NATSCreds: cfg.NATSCreds, NATSListen: cfg.NATSListen,
		Replicas: cfg.Replicas, NoSync: cfg.NoSync, MasterKey: cfg.MasterKey, Now: cfg.Now, Rand: cfg.Rand, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	js := a.Stack.NATS.JetStream
	if a.Keys, err = apikeys.Open(ctx, js, apikeys.Options{Replicas: cfg.Replicas, Admin: a.AdminKey, Now: cfg.Now, Rand: cfg.Rand}); err != nil {
		return nil, err
	}
	ttl := cfg.TokenTTL
	if ttl <= 0 {
		ttl = tokens.DefaultTTL
	}
	if a.Tokens, err = tokens.Open(ctx, js, a.Stack.Master, tokens.Options{
		Replicas: cfg.Replicas, Issuer: cfg.PublicURL, TTL: ttl, Now: cfg.Now, Rand: cfg.Rand, Logger: cfg.Logger,
	}); err != nil {
		return nil, err
	}

	var sink delivery.Deliverer = delivery.LogDeliverer{Logger: cfg.Logger, Development: cfg.Dev}
	switch {
	case cfg.Deliverer != nil:
		sink = cfg.Deliverer
	case cfg.WebhookURL != "":
		if len(cfg.WebhookSecret) == 0 {
			return nil, vakt.Errorf(vakt.CodeInvalidArgument, "a webhook deliverer needs a secret to sign its requests (VAKT_WEBHOOK_SECRET)")
		}
		sink = &delivery.Webhook{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret}
	}
	m := newMeters(a.Stack)
	a.Metrics = m.reg
	a.Queue = delivery.NewQueue(sink, 0, 0, func(msg delivery.Message, err error) {
		m.deliveryFailures.With(msg.Method).Inc()
		cfg.Logger.Error("code not delivered", "message", msg, "err", err)
	})
	if err := a.useEngine(ctx, cfg); err != nil {
		return nil, err
	}
	// Appends are timed where they happen.
	a.Stack.Service.Store = timedStore{Store: a.Stack.Service.Store, h: m.appendLatency}

	a.Server, err = server.New(server.Config{
		Stack:          a.Stack,
		Access:         access{a.Keys},
		Tokens:         issuer{a.Tokens, ttl, cfg.Now},
		Deliverer:      queue{a.Queue},
		Pusher:         push.Conn{NC: a.Stack.NATS.Conn},
		Metrics:        m,
		MetricsHandler: m.handler(a.Stack),
		OpenAPI:        OpenAPI,
		PublicURL:      cfg.PublicURL,
		Logger:         cfg.Logger,
		Now:            cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	wopts := cfg.Web
	wopts.DevLogin = wopts.DevLogin || cfg.Dev
	a.Web, err = web.New(web.Config{
		Options: wopts, Stack: a.Stack, Access: access{a.Keys}, Tokens: issuer{a.Tokens, ttl, cfg.Now},
		Deliverer: queue{a.Queue}, Pusher: push.Conn{NC: a.Stack.NATS.Conn}, PublicURL: cfg.PublicURL,
		Secret: a.Stack.Master, Logger: cfg.Logger, Metrics: m, Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	// The pages live beside the API, not in it: Routes() and openapi.json
	// describe the API alone.
	mux := http.NewServeMux()
	mux.Handle(web.Prefix, a.Web)
	mux.Handle("/", a.Server.Handler())
	a.handler = mux
	return a, nil
}

// Handler is the HTTP API.
func (a *App) Handler() http.Handler { return a.handler }

// ShutdownTimeout bounds how long Serve waits for requests in flight once
// its context ends (long polls answer at once: see server.Drain).
const ShutdownTimeout = 30 * time.Second

// Serve answers HTTP on ln until ctx ends, then stops accepting, has long
// polls answer with where things stand, lets the requests in flight finish
// (up to ShutdownTimeout) and returns. It does not
// Close the app.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long polls wait up to a minute (?wait=60s) before they answer.
		WriteTimeout:   75 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.Server.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Close delivers the codes still queued, then closes keys, tokens and the
// stack, in that order. It is safe on a partly opened App.
func (a *App) Close(ctx context.Context) error {
	var errs []error
	if a.Queue != nil {
		errs = append(errs, a.Queue.Close(ctx))
	}
	if a.Keys != nil {
		errs = append(errs, a.Keys.Close())
	}
	if a.Tokens != nil {
		errs = append(errs, a.Tokens.Close())
	}
	if a.Stack != nil {
		errs = append(errs, a.Stack.Close())
	}
	if a.wasm != nil {
		errs = append(errs, a.wasm.Close(ctx))
	}
	return errors.Join(errs...)
}
