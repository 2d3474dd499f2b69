// Package events is Vakt's event model: every event type, the envelope, the
// canonical JSON codec, schema versions with upcasters, the hash chain, and
// the [Store] interface with an in-memory implementation.
//
// # Streams and envelopes
//
// Each user has one stream (tenant and user id) and each tenant has one (its
// policy). An event is stored as canonical bytes: the [Envelope] (a UUIDv7 id,
// tenant, user, a 1-based sequence within the stream, the time, the type, the
// schema version, the command id, the actor, and the previous event's hash)
// followed by the data. [Encode] writes these bytes once; stores keep them
// verbatim, and [Decode] reads them back.
//
// # Hash chain
//
// An event's hash is SHA-256 over the previous event's hash and its stored
// bytes ([ChainHash]). Secrets inside events are sealed (see [Sealed]), so the
// chain covers ciphertext: destroying a user's key (erasure) leaves every chain
// intact. [Verifier] checks chains in store order and names the first break.
//
// # Schema versions
//
// [Registry] maps a type name to its Go type and current version. Older
// versions are read through [Upcaster] steps; stored bytes never change. Never
// change what a field of a stored event means: add a field, or bump the
// version and register an upcaster.
//
// # Stores
//
// [Store] appends with optimistic concurrency (the expected [Head]), treats a
// retry of the same command id as a duplicate, loads a stream from a sequence,
// and yields all events in store order. [Memory] implements it in memory; the
// package eventstest is the conformance suite every store passes.
//
// The package is part of Vakt's pure core: it reads no clock and no global
// randomness (time and entropy are arguments) and builds for GOOS=wasip1.
package events
