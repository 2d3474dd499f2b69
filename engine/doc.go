// Package engine is Vakt's decision core: what happens when a person enrols
// an authenticator, answers a sign-in challenge, loses a phone or gets a
// reset. Every decision is a list of events.
//
// # Decide and Evolve
//
// The core is two pure functions per aggregate:
//
//	Decide(state, command, env) -> (events, reply, error)
//	(*User).Evolve(event)          // state <- state + event
//
// [Decide] reads no clock and no global randomness: [Env] carries the time,
// an entropy source, the tenant's [Policy] and the user's [DataKey]. The
// same inputs give the same events on every host, which is what lets the
// WASM build, Node and Python make byte-identical decisions (the vectors in
// testdata/vectors prove it). Decide never modifies the state it is given;
// [Fold] rebuilds a state from stored events.
//
// A decision ends one of three ways: events and no error (append them);
// an error and no events (refused, nothing changes); or events and an error:
// a recorded rejection, such as a wrong code that counts towards lockout.
//
// # Commands
//
// Commands are intents ([StartEnrolment], [ConfirmEnrolment],
// [IssueChallenge], [VerifyCode], [RespondPush], [Reset], ...); events
// (package events) are facts. Commands have a JSON wire form
// ([EncodeCommand], [DecodeCommand]) for the WASM ABI and the vectors.
//
// # Rules
//
// The defaults are in [DefaultPolicy]: TOTP (RFC 6238, SHA1/6/30, one step
// of skew, each step accepted once, the enrolment code included, drift
// followed), HOTP (RFC 4226, look-ahead 10, resync with two codes), push
// with Ed25519 device keys and number matching (2 minutes, at most 3
// waiting, paused for 15 minutes after 3 refusals in an hour), SMS and
// e-mail codes (5 minutes, 3 attempts, acr low), recovery codes, temporary
// passes, a lockout ladder (5 failures: 1 minute, doubling to 1 hour; 100:
// until the helpdesk unlocks) that never blocks a signed push, remembered
// browsers per application (web 20 days, office 90, rdp never), an
// enforcement date with snoozes, self-service resets after identity
// proofing at a level and helpdesk resets with operator and ticket, and
// erasure by destroying the data key.
//
// Secrets never leave the engine in the clear except once, in the [Reply]
// to the caller who must show or deliver them ([Secret] values print as
// [redacted]). Seeds, addresses and client details are sealed with
// AES-256-GCM under the user's data key; codes, passes and tokens are kept
// only as keyed hashes; codes are compared in constant time.
//
// # Service
//
// [Service] is the thin shell: it loads the tenant's policy and the user's
// events from an [events.Store], decides, appends with the expected
// sequence, and retries on conflict, so parallel requests for one user are
// serialised and a code can never succeed twice. The system clock and
// crypto/rand are its defaults, supplied in system.go and nowhere else.
package engine
