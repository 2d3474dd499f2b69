package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vaktmfa/vakt"
	wazerohost "github.com/vaktmfa/vakt/hosts/wazero"
	"github.com/vaktmfa/vakt/internal/wasmbuild"
)

// useEngine sets the service's decider: nil for the native engine, the core
// module in wazero for "wasm".
func (a *App) useEngine(ctx context.Context, cfg Config) error {
	switch cfg.Engine {
	case "", "native":
		return nil
	case "wasm":
	default:
		return vakt.Errorf(vakt.CodeInvalidArgument, "engine %q: use native or wasm", cfg.Engine)
	}
	var mod []byte
	var err error
	if cfg.WASMModule != "" {
		mod, err = os.ReadFile(cfg.WASMModule)
	} else {
		mod, err = wasmbuild.Module(ctx)
	}
	if err != nil {
		return fmt.Errorf("the wasm engine needs the core module: %w", err)
	}
	cache := cfg.WASMCacheDir
	if cache == "" {
		dir, err := wasmbuild.CacheDir()
		if err != nil {
			return err
		}
		cache = filepath.Join(dir, "compiled")
	}
	if a.wasm, err = wazerohost.Open(ctx, mod, wazerohost.Config{CacheDir: cache, NoInterrupt: !cfg.WASMInterrupt}); err != nil {
		return err
	}
	a.Stack.Service.Decider = a.wasm
	a.log.Info("decisions run in the core WebAssembly module", "engine", "wasm", "bytes", len(mod), "interrupt", cfg.WASMInterrupt)
	return nil
}
