// Package natsserver runs NATS (with JetStream) for Vakt: embedded in the
// process by default, with file storage under the data directory, or an
// external server or cluster named by URL. Either way the caller gets a
// connection and a JetStream context with the same behaviour.
package natsserver

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
)

// Config says how to reach NATS. The zero value is not usable: set DataDir
// (embedded) or URL (external).
type Config struct {
	// DataDir holds the embedded server's file store (DataDir/jetstream) and
	// the lock that keeps a second process out.
	DataDir string
	// Listen, if set, makes the embedded server accept clients on this
	// host:port (for `vakt device` and other processes); empty means
	// in-process connections only.
	Listen string
	// NoSync turns off fsync on every write. Only for tests and benchmarks:
	// without it an acknowledged event can be lost on power failure.
	NoSync bool
	// MaxStore bounds JetStream file storage in bytes (0: the disk).
	MaxStore int64
	// Name names the embedded server (default "vakt").
	Name string

	// URL names an external server or cluster ("nats://a:4222,nats://b:4222")
	// instead of the embedded one. Credentials (a .creds file) are optional.
	URL         string
	Credentials string

	// ConnectTimeout bounds waiting for the server (default 10s).
	ConnectTimeout time.Duration
}

// NATS is a running connection to NATS, and the embedded server if there is
// one.
type NATS struct {
	Conn      *nats.Conn
	JetStream jetstream.JetStream
	Server    *server.Server // nil for an external server

	lock *os.File
}

// Start starts the embedded server (or connects to the external one) and
// returns the connection. Close it with [NATS.Close].
func Start(ctx context.Context, cfg Config) (*NATS, error) {
	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.URL != "" {
		return connectExternal(ctx, cfg, timeout)
	}
	if cfg.DataDir == "" {
		// nats-server silently falls back to the temp directory for an empty
		// store dir; never let that happen.
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "natsserver: no data directory and no URL")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "natsserver: data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "natsserver: create data directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	n := &NATS{lock: lock}
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()
	name := cfg.Name
	if name == "" {
		name = "vakt"
	}
	opts := &server.Options{
		ServerName:        name,
		JetStream:         true,
		StoreDir:          filepath.Join(dir, "jetstream"),
		SyncAlways:        !cfg.NoSync,
		NoSigs:            true,
		NoLog:             true,
		JetStreamMaxStore: cfg.MaxStore,
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "natsserver: %w", err)
	}
	n.Server = s
	go s.Start()
	if !s.ReadyForConnections(timeout) {
		return nil, vakt.Errorf(vakt.CodeInternal, "natsserver: the embedded server did not start within %s (see %s)", timeout, dir)
	}
	nc, err := nats.Connect(nats.DefaultURL, nats.InProcessServer(s), nats.Name("vakt"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "natsserver: connect in process: %w", err)
	}
	n.Conn = nc
	if n.JetStream, err = jetstream.New(nc); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "natsserver: %w", err)
	}
	ok = true
	return n, nil
}

func connectExternal(ctx context.Context, cfg Config, timeout time.Duration) (*NATS, error) {
	opts := []nats.Option{nats.Name("vakt"), nats.Timeout(timeout), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false)}
	if cfg.Credentials != "" {
		if _, err := os.Stat(cfg.Credentials); err != nil {
			return nil, vakt.Errorf(vakt.CodeInvalidArgument, "natsserver: credentials file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(cfg.Credentials))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		// The client's own error can quote the URL (a parse error does), so
		// it is scrubbed of user info too; a parse error of a URL with user
		// info can quote a piece of the password on its own ("invalid port
		// \":se\"" for user:se/cret@host), so it is not shown at all.
		detail := scrub(err.Error(), cfg.URL)
		var ue *url.Error
		if errors.As(err, &ue) && redactURL(cfg.URL) != cfg.URL {
			detail = "a URL with user info does not parse (details hidden: they could show the password)"
		}
		return nil, vakt.Errorf(vakt.CodeInternal, "natsserver: cannot connect to %s: %s; check --nats-url and that the server runs", redactURL(cfg.URL), detail)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, vakt.Errorf(vakt.CodeInternal, "natsserver: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		nc.Close()
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return nil, vakt.Errorf(vakt.CodeInternal, "natsserver: JetStream is not enabled on %s; start the server with -js", redactURL(cfg.URL))
		}
		return nil, vakt.Errorf(vakt.CodeInternal, "natsserver: JetStream on %s: %s", redactURL(cfg.URL), scrub(err.Error(), cfg.URL))
	}
	return &NATS{Conn: nc, JetStream: js}, nil
}

// Close drains the connection and shuts the embedded server down, waiting for
// it (an unfinished shutdown can damage the file store), then releases the
// data directory.
func (n *NATS) Close() error {
	if n == nil {
		return nil
	}
	if n.Conn != nil {
		_ = n.Conn.Drain()
		deadline := time.Now().Add(5 * time.Second)
		for !n.Conn.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		n.Conn.Close()
	}
	if n.Server != nil {
		n.Server.Shutdown()
		n.Server.WaitForShutdown()
	}
	if n.lock != nil {
		err := unlockDir(n.lock)
		n.lock = nil
		return err
	}
	return nil
}

// ClientURL is where other processes reach the embedded server ("" when it
// does not listen).
func (n *NATS) ClientURL() string {
	if n.Server == nil || n.Server.Addr() == nil {
		return ""
	}
	return n.Server.ClientURL()
}

func splitHostPort(addr string) (string, int, error) {
	host, port, err := netSplit(addr)
	if err != nil {
		return "", 0, vakt.Errorf(vakt.CodeInvalidArgument, "natsserver: listen address %q: %v", addr, err)
	}
	return host, port, nil
}

// redactURL replaces the user info (user and password, or a token) of every
// URL in a comma-separated list with "***", for messages. It does not parse
// the URLs: a password that url.Parse refuses (a '/', '#' or bad '%' escape)
// must not slip through.
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if info := userInfo(p); info != "" {
			parts[i] = strings.Replace(p, info+"@", "***@", 1)
		}
	}
	return strings.Join(parts, ",")
}

// userInfo returns what lies between "scheme://" and the last '@' of one URL
// ("" if none).
func userInfo(u string) string {
	u = strings.TrimSpace(u)
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	at := strings.LastIndex(u, "@")
	if at <= 0 {
		return ""
	}
	return u[:at]
}

// scrub removes from msg the user info of every URL in list, as it is and
// as %q would quote it.
func scrub(msg, list string) string {
	for _, p := range strings.Split(list, ",") {
		info := userInfo(p)
		if info == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, info, "***")
		if q := strconv.Quote(info); len(q) > 2 {
			msg = strings.ReplaceAll(msg, q[1:len(q)-1], "***")
		}
		if esc := url.PathEscape(info); esc != info {
			msg = strings.ReplaceAll(msg, esc, "***")
		}
	}
	return msg
}
