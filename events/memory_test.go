package events_test

import (
	"testing"

	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/events/eventstest"
)

func TestMemoryConformance(t *testing.T) {
	eventstest.Run(t, func(t *testing.T) events.Store { return events.NewMemory() })
}
