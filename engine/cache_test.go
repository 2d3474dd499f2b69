package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
)

// Two services on one store, as two server instances: each caches users'
// states, and must never decide on a stale cache.
func TestCacheAcrossInstances(t *testing.T) {
	h := newHarness(t)
	_, app := h.enrolTOTP("Phone")
	other := &engine.Service{Store: h.store, Keys: h.keys, Now: func() time.Time { return h.now }, Rand: engine.SeededRand([]byte("other"))}
	run := func(svc *engine.Service, id string, cmd engine.Command) (engine.Result, error) {
		return svc.Execute(context.Background(), engine.Request{Tenant: h.tenant, User: h.user, ID: id, Command: cmd})
	}
	// Both instances cache the user.
	if _, err := run(other, "o1", engine.Expire{}); err != nil {
		t.Fatal(err)
	}
	// The challenge is issued on this instance...
	ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
	// ...and verified on the other, whose cache knows nothing of it: the
	// refusal it would give is checked against the store first.
	res, err := run(other, "o2", engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now)})
	if err != nil || res.Reply.Status != "succeeded" {
		t.Fatalf("verify on the other instance: %+v %v", res.Reply, err)
	}
	// This instance's cache is now stale: its next append conflicts and is
	// decided again on a fresh load (the challenge is already answered).
	if _, err := h.exec(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now)}); vakt.CodeOf(err) != vakt.CodeConflict {
		t.Fatalf("second answer on the first instance: %v, want conflict (already answered)", err)
	}
	// And a replayed code is still refused on either instance.
	h.advance(time.Minute)
	ch2 := h.ok(engine.IssueChallenge{App: "web"}).Reply
	code := app.code(t, h.now)
	if _, err := run(other, "o3", engine.VerifyCode{ChallengeID: ch2.ChallengeID, Code: code}); err != nil {
		t.Fatal(err)
	}
	ch3, err := run(other, "o4", engine.IssueChallenge{App: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.exec(engine.VerifyCode{ChallengeID: ch3.Reply.ChallengeID, Code: code}); vakt.CodeOf(err) != vakt.CodeCodeReused {
		t.Fatalf("replay across instances: %v, want code_reused", err)
	}
}

// Clone is deep: evolving a copy never changes the original.
func TestCloneIsDeep(t *testing.T) {
	h := newHarness(t)
	_, app := h.enrolTOTP("Phone")
	dev := h.enrolPush("App")
	h.ok(engine.IssueRecoveryCodes{})
	h.ok(engine.IssueTemporaryPass{Operator: "k", Ticket: "t"})
	sms := h.ok(engine.StartEnrolment{Method: "sms", Label: "M", Address: "+4791234567"})
	h.ok(engine.ConfirmEnrolment{AuthenticatorID: sms.Reply.AuthenticatorID, Code: sms.Reply.Deliver.Code.Reveal()})
	ch := h.ok(engine.IssueChallenge{App: "web", Method: "push"}).Reply
	chs := h.ok(engine.IssueChallenge{App: "web", RequiredACR: "low", Method: "sms"}).Reply
	base := h.state()
	before := stateJSON(t, base)
	clone := base.Clone()
	// Drive the clone through events that touch every part of the state.
	for _, cmd := range []engine.Command{
		engine.VerifyCode{ChallengeID: chs.ChallengeID, Code: "000000"},
		h.answer(dev, ch.ChallengeID, engine.DecisionDeny, 0),
		engine.RenameAuthenticator{AuthenticatorID: dev.id, Label: "renamed"},
	} {
		res, _ := h.exec(cmd)
		for i := range res.Records {
			if err := clone.Evolve(&res.Records[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	issued := h.ok(engine.IssueChallenge{App: "web"})
	res := h.ok(engine.VerifyCode{ChallengeID: issued.Reply.ChallengeID, Code: app.code(t, h.now), RememberDevice: true})
	for _, recs := range [][]events.Record{issued.Records, res.Records} {
		for i := range recs {
			if err := clone.Evolve(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if stateJSON(t, base) != before {
		t.Fatal("evolving a clone changed the original")
	}
	if stateJSON(t, clone) != stateJSON(t, h.state()) {
		t.Fatal("the evolved clone differs from the stored state")
	}
}
