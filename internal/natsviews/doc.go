// Package natsviews keeps Vakt's read models in a NATS KV bucket, current from
// the JetStream event stream: a durable consumer feeds the projections of
// package projections, and their documents and checkpoints are written to
// the bucket VAKT_VIEWS ([Views] describes the key layout).
//
//	r, err := natsviews.NewRunner(ctx, js, natsviews.Options{
//		Projections: []projections.Projection{infos, challenges, audit, stats},
//	})
//	go r.Run(ctx)                                   // follow the stream
//	doc, ok, err := r.Get(ctx, projections.NameSecurityInfo, key)
//	lag, err := r.Lag(ctx)                          // events not yet stored, by projection
//	n, err := r.Rebuild(ctx, projections.NameTenantStats)
//
// # How it stays exact
//
// Each projection applies an event only if its position is past the
// projection's own position; an event is never counted twice by a runner.
// Across crashes the argument is this:
//
//   - A flush writes every document changed since the last one and every
//     checkpoint in one atomic batch (the bucket's stream allows atomic
//     publish), then acknowledges the consumer. A crash before the batch
//     commits loses nothing that is stored; a crash after it leaves
//     documents and checkpoints in agreement. Checkpoints, not the
//     consumer, are the truth.
//   - On start, and whenever a projection must go back (a retry after a
//     failure, a rebuild), the durable consumer is reused only if it stands
//     exactly at the lowest applied position with nothing unacknowledged or
//     pending; otherwise it is recreated to start right after that
//     position. A consumer with outstanding deliveries would redeliver them
//     after its ack wait, behind newer events, and a projection would skip
//     them as seen. Should that happen anyway (a pull that went away, a
//     second runner), the runner sees the gap in positions, checks with the
//     stream that events lie in it, and recreates the consumer.
//   - A flush too large for one batch (more than 1000 documents, which a
//     single event can cause only by reaching many models) is split:
//     documents first, checkpoints with the last part. A crash in between
//     leaves documents ahead of their checkpoint; the events after the
//     checkpoint are applied to them again, and the models ignore what they
//     have seen (by stream sequence). Models created by an event
//     ([projections.Create]) start from scratch instead of reading the
//     bucket, which is safe for the same reason.
//
// # Memory and reads
//
// A collection keeps the documents changed since the last flush and, beside
// them, a bounded number of recently written ones ([Options.Cache]); the
// rest are read from the bucket when an event needs them. [Runner.Get] reads
// memory first, so that a document is never older than the last flush, and
// the bucket otherwise; other processes read the bucket with [Views.Get].
//
// # Choices
//
// One consumer feeds every projection: the stream is read and decoded once,
// and a projection that has to go back costs the others only a skip of
// what they have seen (no decoding). A consumer per projection would let a
// rebuild run beside the others, at the price of reading the stream once per
// projection.
//
// Atomic batches rather than plain writes: besides keeping documents and
// checkpoints together, they are a group commit. With fsync on every write
// (the production setting) a catch-up of 2.3k events writing its documents
// with asynchronous publishes managed about 1.7k events/s, with atomic
// batches about 18k events/s; without fsync the two are within a factor of
// two (BenchmarkCatchUp, and a variant of it that published asynchronously).
//
// Run one runner per bucket: two would share the consumer's messages.
package natsviews
