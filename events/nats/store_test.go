package nats_test

import (
	"context"
	"testing"

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
