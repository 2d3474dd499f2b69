package events_test

import (
	"testing"

	"github.com/vaktmfa/vakt/events"
)

// typicalSuccess is what a TOTP sign-in writes most often.
func typicalSuccess() (events.Envelope, events.Event) {
	ev := events.ChallengeSucceeded{
		ChallengeID: chalID, AuthenticatorID: authID, Method: events.MethodTOTP, ACR: "substantial",
		AMR: []string{"otp", "mfa"}, Step: 59_000_001, Offset: -1,
	}
	env := events.Envelope{
		ID: "019ab00d-4e00-7001-8203-040506070809", Tenant: "uio.no", User: "ola.nordmann@uio.no", Seq: 57,
		Time: t0.UTC(), Type: ev.EventType(), Version: 1, Command: "cmd-0190a0a0-4e00-7001-8203-040506070809",
		Actor: "user", Prev: events.Hash{0xab, 0xcd},
	}
	return env, ev
}

func reportEventsPerSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkEncode(b *testing.B) {
	env, ev := typicalSuccess()
	raw, err := events.Encode(&env, ev)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := events.Encode(&env, ev); err != nil {
			b.Fatal(err)
		}
	}
	reportEventsPerSecond(b)
}

func BenchmarkDecode(b *testing.B) {
	env, ev := typicalSuccess()
	raw, err := events.Encode(&env, ev)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec, err := events.Decode(raw)
		if err != nil || rec.Seq != 57 {
			b.Fatal(err)
		}
	}
	reportEventsPerSecond(b)
}

// BenchmarkBuild is Encode plus the id and the chain hash: the whole cost of
// turning one decided event into a record.
func BenchmarkBuild(b *testing.B) {
	_, ev := typicalSuccess()
	evs := []events.Event{ev}
	head := events.Head{Seq: 56, Hash: events.Hash{0xab, 0xcd}}
	entropy := &counter{}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := events.Build(userStream, head, meta, entropy, evs); err != nil {
			b.Fatal(err)
		}
	}
	reportEventsPerSecond(b)
}

func BenchmarkChainHash(b *testing.B) {
	env, ev := typicalSuccess()
	raw, err := events.Encode(&env, ev)
	if err != nil {
		b.Fatal(err)
	}
	prev := env.Prev
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		prev = events.ChainHash(prev, raw)
	}
	reportEventsPerSecond(b)
}
