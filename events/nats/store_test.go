package nats_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/natsserver"

	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/events/eventstest"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
)

func openStore(t testing.TB, opts natsstore.Options) *natsstore.Store {
	t.Helper()
	n := natstest.Start(t)
	s, err := natsstore.Open(context.Background(), n.JetStream, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	eventstest.Run(t, func(t *testing.T) events.Store { return openStore(t, natsstore.Options{}) })
}

func TestStreamWithOtherSettings(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	cfg := natsstore.StreamConfig(natsstore.StreamName, 1)
	cfg.DenyPurge, cfg.AllowAtomicPublish = false, false
	if _, err := n.JetStream.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	_, err := natsstore.Open(ctx, n.JetStream, natsstore.Options{})
	if err == nil || !strings.Contains(err.Error(), "exists with other settings") || !strings.Contains(err.Error(), "delete or purge allowed") {
		t.Fatalf("err = %v", err)
	}
}

func TestLostConnection(t *testing.T) {
	srv := natstest.Start(t, natstest.Listen("127.0.0.1:-1"))
	ctx := context.Background()
	n, err := natsserver.Start(ctx, natsserver.Config{URL: srv.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	s, err := natsstore.Open(ctx, n.JetStream, natsstore.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := events.Stream{Tenant: "t", User: "u"}
	recs, _ := events.Build(st, events.Head{}, events.Meta{Command: "c1", Time: time.Now()}, rand.Reader, []events.Event{events.Renamed{AuthenticatorID: "a", Label: "x"}})
	if _, err := s.Append(ctx, st, events.Head{}, recs); err != nil {
		t.Fatal(err)
	}
	srv.Server.Shutdown()
	srv.Server.WaitForShutdown()
	start := time.Now()
	recs2, _ := events.Build(st, recs[0].Head(), events.Meta{Command: "c2", Time: time.Now()}, rand.Reader, []events.Event{events.Renamed{AuthenticatorID: "a", Label: "y"}})
	_, err = s.Append(ctx, st, recs[0].Head(), recs2)
	if err == nil || vakt.CodeOf(err) != vakt.CodeInternal || !strings.Contains(err.Error(), "NATS") {
		t.Fatalf("append without a server: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the append took %s to fail", d)
	}
	if _, err := s.Load(ctx, st, events.Head{}); err == nil || !strings.Contains(err.Error(), "NATS") {
		t.Fatalf("load without a server: %v", err)
	}
}
