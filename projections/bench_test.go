package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/projections"
)

// benchWorld stores the events of many users: each enrols an app and a push
// phone, signs in a few times with codes and push, mistypes a code, and is
// remembered once; every tenth is reset by the helpdesk.
func benchWorld(b *testing.B, users int) *world {
	b.Helper()
	w := newWorld(b, "bench")
	for i := range users {
		p := w.user(fmt.Sprintf("user-%04d", i))
		_, app := p.enrolTOTP("Phone")
		dev := p.enrolPush("Push")
		for range 3 {
			w.advance(time.Minute)
			ch := p.ok(engine.IssueChallenge{App: "web", Method: events.MethodTOTP})
			if _, err := p.exec("user", engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"}); err == nil {
				b.Fatal("a wrong code was accepted")
			}
			p.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: w.code(app), RememberDevice: true})
			ch = p.ok(engine.IssueChallenge{App: "office", Method: events.MethodPush})
			p.ok(p.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch))
		}
		if i%10 == 0 {
			p.okAs("helpdesk:kari", engine.Reset{Helpdesk: &engine.Helpdesk{Operator: "kari", Ticket: "INC-1"}})
		}
	}
	return w
}

// BenchmarkFold folds pre-built records into each model and into all four,
// next to a plain read of the same records from the in-memory store (the
// floor) and a Runner catch-up (read, fold and checkpoint).
func BenchmarkFold(b *testing.B) {
	w := benchWorld(b, 100)
	recs := w.records()
	ctx := context.Background()
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N)*float64(len(recs))/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("read_only", func(b *testing.B) {
		for b.Loop() {
			n := 0
			for _, err := range w.store.All(ctx, 0) {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != len(recs) {
				b.Fatal(n)
			}
		}
		report(b)
	})
	one := map[string]func() projections.Projection{
		projections.NameSecurityInfo: func() projections.Projection { return projections.NewSecurityInfos() },
		projections.NameChallenges:   func() projections.Projection { return projections.NewChallenges() },
		projections.NameAuditTrail:   func() projections.Projection { return projections.NewAuditTrails() },
		projections.NameTenantStats:  func() projections.Projection { return projections.NewTenantStats() },
	}
	for _, name := range []string{projections.NameSecurityInfo, projections.NameChallenges, projections.NameAuditTrail, projections.NameTenantStats} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				p := one[name]()
				for i := range recs {
					if err := p.Apply(&recs[i]); err != nil {
						b.Fatal(err)
					}
				}
			}
			report(b)
		})
	}
	b.Run("all_four", func(b *testing.B) {
		for b.Loop() {
			for _, p := range newModels().list() {
				for i := range recs {
					if err := p.Apply(&recs[i]); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		report(b)
	})
	b.Run("runner_all_four", func(b *testing.B) {
		for b.Loop() {
			r := &projections.Runner{Store: w.store, Projections: newModels().list()}
			if _, err := r.CatchUp(ctx); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Logf("%d records, %d users", len(recs), 100)
}
