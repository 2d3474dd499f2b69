package natsviews_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
	pnats "github.com/vaktmfa/vakt/internal/natsviews"
	"github.com/vaktmfa/vakt/projections"
)

// BenchmarkCatchUp folds a few thousand events of real flows into the four
// read models from an empty bucket (a fresh bucket and consumer per
// iteration): consume, decode, apply, write documents and checkpoints in
// atomic batches. For comparison, the in-memory runner of package
// projections over the same store (an ordered consumer, no writes).
func BenchmarkCatchUp(b *testing.B) {
	b.Run("nosync", func(b *testing.B) { benchCatchUp(b, newWorld(b)) })
	b.Run("fsync", func(b *testing.B) { benchCatchUp(b, newWorld(b, natstest.Durable())) })
}

func benchCatchUp(b *testing.B, w *world) {
	w.story("a", 120)
	w.more(6)
	pos := w.position()
	ctx := context.Background()
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N)*float64(pos)/b.Elapsed().Seconds(), "events/s")
	}
	for _, cache := range []int{0, 64} {
		name := "kv/cache=default"
		if cache > 0 {
			name = fmt.Sprintf("kv/cache=%d", cache)
		}
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				r, err := pnats.NewRunner(ctx, w.nats.JetStream, pnats.Options{
					Projections: newModels().list(),
					Views:       pnats.ViewsOptions{Bucket: fmt.Sprintf("BENCH_%d_%d", cache, i)},
					Consumer:    fmt.Sprintf("bench-%d-%d", cache, i),
					Cache:       cache,
				})
				if err != nil {
					b.Fatal(err)
				}
				if n, err := r.CatchUp(ctx); err != nil || n != 4*int(pos) {
					b.Fatal(n, err)
				}
			}
			report(b)
		})
	}
	b.Run("memory_runner", func(b *testing.B) {
		for b.Loop() {
			if _, err := (&projections.Runner{Store: w.store, Projections: newModels().list()}).CatchUp(ctx); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Logf("%d events, %d users", pos, len(w.users))
}
