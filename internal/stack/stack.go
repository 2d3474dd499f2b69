// Package stack assembles Vakt on NATS: the embedded (or external) server,
// the event store with its snapshots and keyring, the engine service, and the
// read models kept in KV. `vakt serve` and the tests of the server open one
// Stack and close it on the way out.
package stack

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/masterkey"
	"github.com/vaktmfa/vakt/internal/natsserver"
	"github.com/vaktmfa/vakt/internal/natsviews"
	"github.com/vaktmfa/vakt/projections"
)

// Config says where the data lives and how to reach NATS.
type Config struct {
	// DataDir holds the embedded server's store, the master key file (unless
	// VAKT_MASTER_KEY is set) and the admin key file.
	DataDir string
	// NATSURL (and NATSCreds) name an external server or cluster instead of
	// the embedded one; Replicas is then the replication of streams and
	// buckets (default 1).
	NATSURL   string
	NATSCreds string
	Replicas  int
	// NATSListen makes the embedded server accept other processes
	// (host:port); empty: in-process only.
	NATSListen string
	// NoSync turns off fsync on every write (tests and benchmarks only).
	NoSync bool
	// MasterKey overrides the master key (tests); nil: VAKT_MASTER_KEY or
	// <data>/master.key.
	MasterKey []byte
	// Now and Rand override the clock and entropy of the service (tests).
	Now  func() time.Time
	Rand io.Reader
	// Logger for the stack's background work (default: discard).
	Logger *slog.Logger
}

// Stack is Vakt running on NATS.
type Stack struct {
	NATS      *natsserver.NATS
	Store     *natsstore.Store
	Snapshots *natsstore.Snapshots
	Keys      *natsstore.Keyring
	Service   *engine.Service
	Views     *natsviews.Runner
	Master    []byte

	SecurityInfos *projections.SecurityInfos
	Challenges    *projections.Challenges
	AuditTrails   *projections.AuditTrails
	TenantStats   *projections.StatsByTenant

	cancel context.CancelFunc
	done   chan struct{}
	log    *slog.Logger
}

// Open starts (or connects to) NATS and opens every part. The read models
// are brought up to date before it returns and then follow the stream in
// the background.
func Open(ctx context.Context, cfg Config) (st *Stack, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Stack{log: log}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	master := cfg.MasterKey
	if master == nil {
		if cfg.DataDir == "" {
			return nil, vakt.Errorf(vakt.CodeInvalidArgument, "stack: a data directory is needed for the master key (or set VAKT_MASTER_KEY)")
		}
		var src masterkey.Source
		if master, src, err = masterkey.Load(cfg.DataDir); err != nil {
			return nil, err
		}
		log.Info("master key", "source", string(src))
	}
	s.Master = master
	ncfg := natsserver.Config{DataDir: cfg.DataDir, URL: cfg.NATSURL, Credentials: cfg.NATSCreds, Listen: cfg.NATSListen, NoSync: cfg.NoSync}
	if s.NATS, err = natsserver.Start(ctx, ncfg); err != nil {
		return nil, err
	}
	js := s.NATS.JetStream
	if s.Store, err = natsstore.Open(ctx, js, natsstore.Options{Replicas: cfg.Replicas}); err != nil {
		return nil, err
	}
	if s.Snapshots, err = natsstore.OpenSnapshots(ctx, js, natsstore.SnapshotOptions{Replicas: cfg.Replicas}); err != nil {
		return nil, err
	}
	if s.Keys, err = natsstore.OpenKeyring(ctx, js, master, natsstore.KeyringOptions{Replicas: cfg.Replicas}); err != nil {
		return nil, err
	}
	s.Service = &engine.Service{Store: s.Store, Keys: s.Keys, Snapshots: s.Snapshots, Now: cfg.Now, Rand: cfg.Rand}
	s.SecurityInfos = projections.NewSecurityInfos()
	s.Challenges = projections.NewChallenges()
	s.AuditTrails = projections.NewAuditTrails()
	s.TenantStats = projections.NewTenantStats()
	if s.Views, err = natsviews.NewRunner(ctx, js, natsviews.Options{
		Projections: []projections.Projection{s.SecurityInfos, s.Challenges, s.AuditTrails, s.TenantStats},
		Views:       natsviews.ViewsOptions{Replicas: cfg.Replicas},
	}); err != nil {
		return nil, err
	}
	if _, err = s.Views.CatchUp(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.Views.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("read models stopped", "err", err)
		}
	}()
	return s, nil
}

// StopReadModels stops folding new events into the read models; they keep
// answering with what they hold. Tests use it to make the read models lag
// the stream for certain; Close stops them too.
func (s *Stack) StopReadModels() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
}

// Close stops the read models, waits for background snapshot writes, closes
// the store and stops (or disconnects from) NATS, in that order.
func (s *Stack) Close() error {
	if s == nil {
		return nil
	}
	s.StopReadModels()
	if s.Service != nil {
		s.Service.Close()
	}
	if s.Store != nil {
		s.Store.Close()
	}
	return s.NATS.Close()
}
