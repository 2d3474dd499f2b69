package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vaktmfa/vakt/internal/app"
)

// An Open that fails after the embedded NATS server has started answers
// the error (it used to panic closing a nil App) and leaves nothing
// running: the same data directory opens again.
func TestOpenFailsCleanly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, cfg := range []app.Config{
		{WebhookURL: "http://127.0.0.1:1/codes"},                 // no secret
		{Engine: "wasm", WASMModule: dir + "/missing-core.wasm"}, // no module
	} {
		cfg.DataDir, cfg.PublicURL, cfg.NoSync = dir, "http://127.0.0.1:0", true
		a, err := app.Open(ctx, cfg)
		if err == nil || a != nil {
			t.Fatalf("Open(%+v) = %v, %v; want an error", cfg, a, err)
		}
		if strings.Contains(err.Error(), "nil pointer") {
			t.Fatal(err)
		}
	}
	a, err := app.Open(ctx, app.Config{DataDir: dir, PublicURL: "http://127.0.0.1:0", NoSync: true})
	if err != nil {
		t.Fatalf("the data directory does not open again: %v", err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
