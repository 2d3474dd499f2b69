package nats_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/natsserver"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
	"github.com/vaktmfa/vakt/projections"
)

// Every benchmark here comes in pairs: Vakt's operation and the raw JetStream
// operation it is built on, with the same server settings, in the same run
// (BENCHMARKS.md; `just bench-nats`).

var bt0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// snapTail is how many events follow the snapshot in the load benchmarks.
const snapTail = 8

// challengeEvent is a typical event (a challenge with a push), about 400
// bytes stored.
func challengeEvent(i int) events.Event {
	return events.ChallengeIssued{
		ChallengeID: "01937a6e-0000-7000-8000-" + fmt.Sprintf("%012d", i), App: "web", RequiredACR: "substantial",
		Methods: []string{"push", "totp"}, ExpiresAt: bt0.Add(5 * time.Minute), Application: "Canvas",
		Push: &events.PushRequest{AuthenticatorID: "01937a6e-0000-7000-8000-000000000001", Number: 42, Choices: []int{17, 42, 93}, ExpiresAt: bt0.Add(2 * time.Minute)},
	}
}

func firstRecord(b testing.TB, st events.Stream, i int) []events.Record {
	recs, err := events.Build(st, events.Head{}, events.Meta{Command: "c" + strconv.Itoa(i), Time: bt0}, rand.Reader, []events.Event{challengeEvent(i)})
	if err != nil {
		b.Fatal(err)
	}
	return recs
}

var userCounter atomic.Int64

func freshUser() events.Stream {
	return events.Stream{Tenant: "bench", User: "u" + strconv.FormatInt(userCounter.Add(1), 10)}
}

// BenchmarkAppendDurable: appends with the expected-sequence check and fsync
// on every write (SyncAlways).
func BenchmarkAppendDurable(b *testing.B) {
	n := natstest.Start(b, natstest.Durable())
	ctx := context.Background()
	store, err := natsstore.Open(ctx, n.JetStream, natsstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	commandsPerSec := func(b *testing.B, ops int64) {
		b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "commands/s")
	}

	// One writer, one event per command: Append against a lone synchronous
	// publish with the same header.
	b.Run("single/raw", func(b *testing.B) {
		var ops int64
		for b.Loop() {
			st := freshUser()
			recs := firstRecord(b, st, int(ops))
			m := natsgo.NewMsg(natsstore.Subject(st))
			m.Data = recs[0].Raw
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
			if _, err := n.JetStream.PublishMsg(ctx, m); err != nil {
				b.Fatal(err)
			}
			ops++
		}
		commandsPerSec(b, ops)
	})
	b.Run("single/vakt", func(b *testing.B) {
		var ops int64
		for b.Loop() {
			st := freshUser()
			if _, err := store.Append(ctx, st, events.Head{}, firstRecord(b, st, int(ops))); err != nil {
				b.Fatal(err)
			}
			ops++
		}
		commandsPerSec(b, ops)
	})

	// The same committer that always writes a group of more than one
	// append as an atomic batch (PipelineMax -1), to see where publishes in
	// flight together stop paying.
	batched, err := natsstore.Open(ctx, n.JetStream, natsstore.Options{PipelineMax: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer batched.Close()

	// Many concurrent commands for different users: group commit against
	// raw atomic batches of 100 messages published back to back.
	type run struct {
		name    string
		writers int
		store   *natsstore.Store
	}
	var runs []run
	for _, writers := range []int{4, 16, 64} {
		runs = append(runs, run{fmt.Sprintf("group-%d/vakt-batched", writers), writers, batched})
	}
	for _, writers := range []int{4, 16, 64, 256} {
		runs = append(runs, run{fmt.Sprintf("group-%d/vakt", writers), writers, store})
	}
	for _, r := range runs {
		writers, store := r.writers, r.store
		b.Run(r.name, func(b *testing.B) {
			var ops atomic.Int64
			b.SetParallelism(max(1, writers/max(1, runtimeProcs())))
			before := store.Stats()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					st := freshUser()
					if _, err := store.Append(ctx, st, events.Head{}, firstRecord(b, st, int(ops.Load()))); err != nil {
						b.Error(err)
						return
					}
					ops.Add(1)
				}
			})
			commandsPerSec(b, ops.Load())
			after := store.Stats()
			if g := after.Groups - before.Groups; g > 0 {
				b.ReportMetric(float64(after.Appends-before.Appends)/float64(g), "commands/commit")
			}
		})
	}
	b.Run("group/raw-batch-100", func(b *testing.B) {
		var ops int64
		for b.Loop() {
			msgs := make([]*natsgo.Msg, 100)
			for i := range msgs {
				st := freshUser()
				recs := firstRecord(b, st, i)
				m := natsgo.NewMsg(natsstore.Subject(st))
				m.Data = recs[0].Raw
				m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
				m.Header.Set(jetstream.MsgIDHeader, recs[0].Command+st.User)
				msgs[i] = m
			}
			if _, err := jetstreamext.PublishMsgBatch(ctx, n.JetStream, msgs, jetstreamext.BatchFlowControl{AckFirst: false}); err != nil {
				b.Fatal(err)
			}
			ops += 100
		}
		commandsPerSec(b, ops)
	})
}

func runtimeProcs() int { return 2 }

// ---- a big stream for loads and replays ------------------------------------------

type bigFixture struct {
	nats    *natsserver.NATS
	store   *natsstore.Store
	snaps   *natsstore.Snapshots
	users   int
	perUser int
	target  events.Stream
	snap    engine.Snapshot
	total   int
}

var (
	bigOnce sync.Once
	bigFix  *bigFixture
	bigErr  error
	bigDir  string
)

// bigStream builds (once per process) a stream of BIG_EVENTS events (default
// 1,000,000): users × 20 events, written round-robin so that every user's
// events are scattered through the whole stream, as they are in production.
func bigStream(b *testing.B) *bigFixture {
	bigOnce.Do(func() {
		total := 1_000_000
		if v, err := strconv.Atoi(os.Getenv("BIG_EVENTS")); err == nil && v > 0 {
			total = v
		}
		bigDir, bigErr = os.MkdirTemp("", "vakt-bench-big")
		if bigErr != nil {
			return
		}
		ctx := context.Background()
		n, err := natsserver.Start(ctx, natsserver.Config{DataDir: bigDir, NoSync: true})
		if err != nil {
			bigErr = err
			return
		}
		store, err := natsstore.Open(ctx, n.JetStream, natsstore.Options{})
		if err != nil {
			bigErr = err
			return
		}
		snaps, err := natsstore.OpenSnapshots(ctx, n.JetStream, natsstore.SnapshotOptions{})
		if err != nil {
			bigErr = err
			return
		}
		f := &bigFixture{nats: n, store: store, snaps: snaps, perUser: 20}
		f.users = total / f.perUser
		heads := make([]events.Head, f.users)
		var pending []jetstream.PubAckFuture
		flush := func() {
			for _, p := range pending {
				select {
				case <-p.Ok():
				case err := <-p.Err():
					bigErr = err
				}
			}
			pending = pending[:0]
		}
		for r := 0; r < f.perUser && bigErr == nil; r++ {
			for u := 0; u < f.users; u++ {
				st := events.Stream{Tenant: "uio.no", User: "user-" + strconv.Itoa(u)}
				recs, err := events.Build(st, heads[u], events.Meta{Command: fmt.Sprint("b", r, "-", u), Time: bt0.Add(time.Duration(r) * time.Minute)}, rand.Reader, []events.Event{challengeEvent(r)})
				if err != nil {
					bigErr = err
					return
				}
				m := natsgo.NewMsg(natsstore.Subject(st))
				m.Data = recs[0].Raw
				m.Header.Set(natsstore.HeaderHash, recs[0].Hash.String())
				fut, err := n.JetStream.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute))
				if err != nil {
					bigErr = err
					return
				}
				pending = append(pending, fut)
				heads[u] = recs[0].Head()
				f.total++
				if len(pending) >= 4096 {
					flush()
				}
			}
		}
		flush()
		// The user whose load is measured, and a snapshot of it at seq 12
		// (the service writes one every 16 events: 8 events follow a snapshot
		// on average).
		f.target = events.Stream{Tenant: "uio.no", User: "user-" + strconv.Itoa(f.users/2)}
		recs, err := store.Load(ctx, f.target, events.Head{})
		if err != nil || len(recs) != f.perUser {
			bigErr = fmt.Errorf("target user has %d events: %v", len(recs), err)
			return
		}
		u, _ := engine.Fold(f.target.Tenant, f.target.User, recs[:f.perUser-snapTail])
		f.snap, _ = engine.TakeSnapshot(u)
		if err := snaps.Put(ctx, f.target, f.snap); err != nil {
			bigErr = err
			return
		}
		bigFix = f
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigFix
}

// latency reports the median and the 99th percentile of samples.
func latency(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkLoad: loading one user (20 events scattered through the stream),
// with and without a snapshot, against the raw direct gets it is built on.
func BenchmarkLoad(b *testing.B) {
	f := bigStream(b)
	ctx := context.Background()
	subject := natsstore.Subject(f.target)
	rawGet := func(b *testing.B, from uint64) int {
		msgs, err := jetstreamext.GetBatch(ctx, f.nats.JetStream, natsstore.StreamName, 512, jetstreamext.GetBatchSubject(subject), jetstreamext.GetBatchSeq(from))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, err := range msgs {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		return n
	}
	stream, _ := f.nats.JetStream.Stream(ctx, natsstore.StreamName)
	b.Run("full/raw", func(b *testing.B) {
		var samples []time.Duration
		for b.Loop() {
			t := time.Now()
			if n := rawGet(b, 1); n != f.perUser {
				b.Fatalf("%d messages", n)
			}
			samples = append(samples, time.Since(t))
		}
		latency(b, samples)
	})
	b.Run("full/vakt", func(b *testing.B) {
		var samples []time.Duration
		for b.Loop() {
			t := time.Now()
			recs, err := f.store.Load(ctx, f.target, events.Head{})
			if err != nil || len(recs) != f.perUser {
				b.Fatal(err)
			}
			if _, err := engine.Fold(f.target.Tenant, f.target.User, recs); err != nil {
				b.Fatal(err)
			}
			samples = append(samples, time.Since(t))
		}
		latency(b, samples)
	})
	kv, err := f.nats.JetStream.KeyValue(ctx, natsstore.SnapshotBucket)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("snapshot/raw", func(b *testing.B) {
		// The same reads without Vakt: the snapshot entry, the subject's last
		// message, and the messages between the snapshot's position and it
		// (next-by-subject direct gets).
		var samples []time.Duration
		for b.Loop() {
			t := time.Now()
			if _, err := kv.Get(ctx, natsstore.Key(f.target)); err != nil {
				b.Fatal(err)
			}
			last, err := stream.GetLastMsgForSubject(ctx, subject)
			if err != nil {
				b.Fatal(err)
			}
			pos := f.snap.Head.Position + 1
			for {
				m, err := stream.GetMsg(ctx, pos, jetstream.WithGetMsgSubject(subject))
				if err != nil {
					b.Fatal(err)
				}
				if m.Sequence >= last.Sequence {
					break
				}
				pos = m.Sequence + 1
			}
			samples = append(samples, time.Since(t))
		}
		latency(b, samples)
	})
	b.Run("snapshot/raw-batch", func(b *testing.B) {
		// For the record: one batched direct get from the snapshot's position,
		// which the server serves ten times slower than from position 1.
		var samples []time.Duration
		for b.Loop() {
			t := time.Now()
			if n := rawGet(b, f.snap.Head.Position+1); n != snapTail {
				b.Fatalf("%d messages", n)
			}
			samples = append(samples, time.Since(t))
		}
		latency(b, samples)
	})
	b.Run("snapshot/vakt", func(b *testing.B) {
		var samples []time.Duration
		for b.Loop() {
			t := time.Now()
			snap, ok, err := f.snaps.Get(ctx, f.target)
			if err != nil || !ok {
				b.Fatal(err)
			}
			u, good := engine.FromSnapshot(snap, f.target.Tenant, f.target.User)
			if !good {
				b.Fatal("snapshot unusable")
			}
			recs, err := f.store.Load(ctx, f.target, snap.Head)
			if err != nil || len(recs) != snapTail {
				b.Fatal(err)
			}
			for i := range recs {
				if err := u.Evolve(&recs[i]); err != nil {
					b.Fatal(err)
				}
			}
			samples = append(samples, time.Since(t))
		}
		latency(b, samples)
	})
}

// BenchmarkReplay: the whole stream with decoding, chain verification and
// projection folding, against a raw ordered consumer.
func BenchmarkReplay(b *testing.B) {
	f := bigStream(b)
	ctx := context.Background()
	rate := func(b *testing.B, n int64) { b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s") }
	b.Run("raw", func(b *testing.B) {
		var n int64
		for b.Loop() {
			cons, err := f.nats.JetStream.OrderedConsumer(ctx, natsstore.StreamName, jetstream.OrderedConsumerConfig{})
			if err != nil {
				b.Fatal(err)
			}
			it, err := cons.Messages(jetstream.PullMaxMessages(1000))
			if err != nil {
				b.Fatal(err)
			}
			for got := 0; got < f.total; got++ {
				m, err := it.Next()
				if err != nil {
					b.Fatal(err)
				}
				_ = m.Data()
				n++
			}
			it.Stop()
		}
		rate(b, n)
	})
	b.Run("vakt", func(b *testing.B) {
		var n int64
		for b.Loop() {
			v := events.NewVerifier()
			infos := projections.NewSecurityInfos()
			stats := projections.NewTenantStats()
			for rec, err := range f.store.All(ctx, 0) {
				if err != nil {
					b.Fatal(err)
				}
				if brk := v.Check(&rec); brk != nil {
					b.Fatal(brk)
				}
				if err := infos.Apply(&rec); err != nil {
					b.Fatal(err)
				}
				if err := stats.Apply(&rec); err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
		rate(b, n)
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigFix != nil {
		bigFix.store.Close()
		bigFix.nats.Close()
	}
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}
