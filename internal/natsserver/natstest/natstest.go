// Package natstest starts real NATS servers for tests: an embedded server
// with JetStream on a temporary directory, or a cluster on loopback.
package natstest

import (
	"context"
	"testing"

	"github.com/vaktmfa/vakt/internal/natsserver"
)

// Option changes the test server's configuration. Cluster uses NoSync,
// MaxStore and Name (a prefix of the node names) and ignores the rest.
type Option func(*natsserver.Config)

// Durable keeps fsync on every write (the production setting). Tests run
// without it unless they test durability.
func Durable() Option { return func(c *natsserver.Config) { c.NoSync = false } }

// Dir uses dir as the data directory instead of a fresh temporary one.
func Dir(dir string) Option { return func(c *natsserver.Config) { c.DataDir = dir } }

// Listen makes the server accept TCP clients on addr ("127.0.0.1:0" or
// "127.0.0.1:-1" picks a free port; see NATS.ClientURL).
func Listen(addr string) Option { return func(c *natsserver.Config) { c.Listen = addr } }

// Start starts an embedded server for t and stops it when t ends.
func Start(t testing.TB, opts ...Option) *natsserver.NATS {
	t.Helper()
	cfg := natsserver.Config{DataDir: t.TempDir(), NoSync: true}
	for _, o := range opts {
		o(&cfg)
	}
	n, err := natsserver.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start NATS: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}
