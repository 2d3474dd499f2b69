// Package projections folds Vakt's events into the read models that screens,
// relying parties and auditors need, and keeps them current from an event
// store with checkpoints.
//
// # Read models
//
// Each read model is a plain value with an Apply method that folds one stored
// event into it:
//
//   - [SecurityInfo], per user: authenticators (pending or active, the
//     default, when each was created, activated and last used), remembered
//     browsers, recovery codes left, lockout, push pause, resets, erasure.
//   - [ChallengeStatus], per challenge: pending until it succeeds, is
//     denied, reported as fraud, expires or is skipped; with the acr, amr and
//     auth_time a session token needs.
//   - [AuditTrail], per user: one entry per event with a sentence such as
//     `reset by helpdesk operator "kari", ticket "INC-1"` and the structured
//     fields auditors filter on.
//   - [TenantStats], per tenant: enrolment, sign-in, failure, lockout, reset
//     and erasure counts, and daily buckets for charts.
//
// Apply is deterministic, pure and total: it reads no clock, draws no
// randomness, ignores events it has no use for and events it has already
// seen (by stream sequence, so a redelivered event is not counted twice). The
// same fold therefore runs in the server, in `vakt replay` and, compiled to
// WebAssembly, behind the `project` operation of the ABI. A model holds no
// secret: no seed, sealed box, hash, token or code ever reaches it.
//
// Every model marshals to JSON with snake_case names and survives a JSON
// round trip unchanged, including the bookkeeping it needs to go on folding
// (a stored copy plus the later events gives the same model as a fold from
// the start). Copy a model with its Clone method: Apply changes slices and
// maps in place.
//
// A fold reads no clock, so facts that end by time are stored as times:
// LockedUntil, PushPausedUntil, a challenge's ExpiresAt. Ask about a moment
// with [SecurityInfo.LockedAt] or [ChallengeStatus.StatusAt].
//
// # Collections and the runner
//
// A [Projection] is anything with a name that applies events. [Collection]
// turns a read model into one, keeping many models in memory by [Key] and
// handing out copies; it is safe for concurrent use. [NewSecurityInfos],
// [NewChallenges], [NewAuditTrails] and [NewTenantStats] are the four
// ready-made ones.
//
// A [Runner] keeps projections current from an [events.Store]:
//
//	r := &projections.Runner{
//		Store:       store,
//		Checkpoints: checkpoints, // NATS KV in the server; MemoryCheckpoints here
//		Projections: []projections.Projection{infos, challenges, audit, stats},
//	}
//	n, err := r.CatchUp(ctx) // after start, and whenever new events arrive
//
// It reads the store once from the oldest checkpoint, gives each projection
// the events after its own checkpoint, and saves checkpoints every BatchSize
// events and at the end. A projection whose Apply fails stops at that event;
// the others go on. [Runner.Rebuild] resets one projection and folds it again
// from the first event, and [Runner.Position] tells how far each one is, so
// that the shell can show lag.
//
// # Persistence
//
// [Collection.Persist] turns a collection into a cache in front of a
// [Backing] that holds its documents (the NATS KV bucket, in package
// internal/natsviews): Apply loads the documents an event needs, the host
// writes [Collection.Changes] with its checkpoint and hands them back to
// [Collection.Flushed], and only a bounded number of unchanged documents
// stay in memory. Besides the models, a collection of [Settler] models keeps
// one document per stream listing the unsettled ones, so that a [Broadcast]
// reaches them after a restart. The package stays free of I/O: the backing
// is an interface.
package projections
