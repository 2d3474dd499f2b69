package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vaktmfa/vakt/internal/apikeys"
	vaktapp "github.com/vaktmfa/vakt/internal/app"
	"github.com/vaktmfa/vakt/internal/web"
)

// webhookSecretEnv holds the webhook deliverer's signing secret (kept out
// of the command line, where ps would show it).
const webhookSecretEnv = "VAKT_WEBHOOK_SECRET"

func serveFlags(fs *flag.FlagSet) func(context.Context, *cmdEnv) error {
	data := fs.String("data", defaultDataDir, "keep the event store, master.key and admin.key in `directory`")
	addr := fs.String("addr", "127.0.0.1:8080", "answer HTTP on `host:port`")
	natsURL := fs.String("nats-url", "", "use the NATS server or cluster at `url` (comma-separated) instead of the embedded one; --data still holds master.key and admin.key")
	creds := fs.String("nats-creds", "", "NATS credentials `file` for --nats-url")
	listen := fs.String("nats-listen", "", "let other processes reach the embedded NATS server at `host:port` (vakt export/replay --nats-url, a second vakt serve)")
	replicas := fs.Int("replicas", 1, "replicas of streams and buckets (3 on a cluster)")
	public := fs.String("public-url", "", "the `url` relying parties and devices reach this server at: the token issuer and the server in activation links (default http://<addr>)")
	dev := fs.Bool("dev", false, "development: write SMS and e-mail codes to the log in clear (never in production)")
	webhook := fs.String("webhook-url", "", "deliver SMS and e-mail codes by POSTing them to `url`, signed with $"+webhookSecretEnv)
	tokenTTL := fs.Duration("token-ttl", 0, "lifetime of session tokens (default 1h)")
	uiRPs := fs.String("ui-relying-parties", "", "JSON `file` of the relying parties that may send users to the pages under /ui/ with a signed assertion (docs/PAGES.md)")
	logFormat := fs.String("log-format", "text", "log as `text` or json")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	engineKind := fs.String("engine", "native", "decide with the `native` engine or in the core WebAssembly module (wasm, through wazero)")
	wasmModule := fs.String("wasm-module", "", "the core module `file` for --engine=wasm (default: build it from the source tree, see just wasm)")
	wasmInterrupt := fs.Bool("wasm-interrupt", false, "with --engine=wasm: stop a decision inside the module when its request ends (wazero's interrupt checks; decisions 2-3x slower)")
	return func(ctx context.Context, env *cmdEnv) error {
		if len(env.args) > 0 {
			return usagef("unexpected argument %q", env.args[0])
		}
		switch {
		case *data == "":
			return usagef("--data is empty: name the data directory")
		case *creds != "" && *natsURL == "":
			return usagef("--nats-creds needs --nats-url")
		case *listen != "" && *natsURL != "":
			return usagef("--nats-listen is for the embedded server; with --nats-url there is none")
		case *replicas < 1 || *replicas > 5:
			return usagef("--replicas must be 1 to 5")
		case *tokenTTL < 0 || *tokenTTL > 24*time.Hour:
			return usagef("--token-ttl must be at most 24h")
		case *engineKind != "native" && *engineKind != "wasm":
			return usagef("--engine must be native or wasm")
		case *wasmModule != "" && *engineKind != "wasm":
			return usagef("--wasm-module needs --engine=wasm")
		case *wasmInterrupt && *engineKind != "wasm":
			return usagef("--wasm-interrupt needs --engine=wasm")
		}
		var level slog.Level
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
			return usagef("--log-level: %v", err)
		}
		hopts := &slog.HandlerOptions{Level: level}
		var logger *slog.Logger
		switch *logFormat {
		case "text":
			logger = slog.New(slog.NewTextHandler(env.stderr, hopts))
		case "json":
			logger = slog.New(slog.NewJSONHandler(env.stderr, hopts))
		default:
			return usagef("--log-format must be text or json")
		}
		secret := os.Getenv(webhookSecretEnv)
		if *webhook != "" && secret == "" {
			return usagef("--webhook-url needs $%s, the secret that signs its requests", webhookSecretEnv)
		}

		var pages web.Options
		if *uiRPs != "" {
			rps, err := web.LoadRelyingParties(*uiRPs)
			if err != nil {
				return usagef("--ui-relying-parties: %v", err)
			}
			pages.RelyingParties = rps
		}

		// Listen first: a taken port fails before anything is opened.
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %v", *addr, err)
		}
		defer ln.Close()
		pub := *public
		if pub == "" {
			pub = "http://" + ln.Addr().String()
		}
		if !strings.HasPrefix(pub, "http://") && !strings.HasPrefix(pub, "https://") {
			return usagef("--public-url must start with http:// or https://")
		}

		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		a, err := vaktapp.Open(ctx, vaktapp.Config{
			DataDir: *data, NATSURL: *natsURL, NATSCreds: *creds, NATSListen: *listen, Replicas: *replicas,
			PublicURL: pub, Dev: *dev, WebhookURL: *webhook, WebhookSecret: []byte(secret), TokenTTL: *tokenTTL,
			Logger: logger, Web: pages, Engine: *engineKind, WASMModule: *wasmModule, WASMInterrupt: *wasmInterrupt,
		})
		if err != nil {
			return err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := a.Close(cctx); err != nil {
				logger.Error("shutdown", "err", err)
			}
		}()

		fmt.Fprintf(env.stdout, "Vakt is serving the API at %s (data in %s).\n", pub, *data)
		switch {
		case a.AdminKeyCreated:
			fmt.Fprintf(env.stdout, "\nA new admin API key (shown once; it is also in %s, mode 0600):\n\n    %s\n\n", apikeys.AdminKeyPath(*data), a.AdminKey)
		case os.Getenv(apikeys.EnvVar) != "":
			fmt.Fprintf(env.stdout, "The admin API key is the one in $%s.\n", apikeys.EnvVar)
		default:
			fmt.Fprintf(env.stdout, "The admin API key is in %s.\n", apikeys.AdminKeyPath(*data))
		}
		if *dev {
			fmt.Fprintln(env.stdout, "Development mode: SMS and e-mail codes appear in the log.")
			fmt.Fprintf(env.stdout, "Development login for the pages (anyone as anyone): %s/ui/dev\n", pub)
		}
		fmt.Fprintln(env.stdout, "Press Ctrl-C to stop.")
		logger.Info("serving", "addr", ln.Addr().String(), "public_url", pub)

		err = a.Serve(ctx, ln)
		logger.Info("stopped", "err", err)
		return err
	}
}
