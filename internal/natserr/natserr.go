// Package natserr turns errors from the NATS client into Vakt's typed errors
// with messages an operator can act on.
package natserr

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
)

// Wrap describes a failed NATS operation (what) as an internal *vakt.Error:
// a closed connection, a server that does not answer, or a timeout (whose
// outcome, for a write, is unknown). A cancelled context is returned as is.
func Wrap(what string, err error) error {
	switch {
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return vakt.Errorf(vakt.CodeInternal, "%s: the connection to NATS is closed", what)
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		return vakt.Errorf(vakt.CodeInternal, "%s: NATS JetStream does not answer (server down or not reachable); retry when it is back", what)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return vakt.Errorf(vakt.CodeInternal, "%s: NATS did not answer in time (the outcome of a write is unknown; retry with the same command id)", what)
	case errors.Is(err, context.Canceled):
		return err
	}
	return vakt.Errorf(vakt.CodeInternal, "%s: %v", what, err)
}
