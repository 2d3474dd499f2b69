package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
)

// worldStart is a Monday morning; the flows below run over four days.
var worldStart = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// worldExportedAt is the wall clock of the export commands in these tests.
var worldExportedAt = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// world drives real flows through engine.Service on the JetStream store of an
// embedded server, with a settable clock and seeded entropy, so that every
// run stores the same bytes at the same positions.
type world struct {
	t    testing.TB
	dir  string // the data directory
	svc  *engine.Service
	now  time.Time
	cmds map[string]int
}

// buildWorld stores the flows the audit reports care about in a fresh data
// directory, stops the server and returns the directory.
//
//   - uio.no / ola.nordmann: enrolment (a wrong confirmation first),
//     sign-in, a replayed code, push approve / deny / wrong number /
//     unanswered (push pauses), a fraud report, a lockout after five wrong
//     codes and a helpdesk unlock, a self-service reset at
//     idporten-loa-high with a temporary pass, a new enrolment, a
//     helpdesk reset.
//   - uio.no / kari.hansen: three denied pushes (push pauses), an approval,
//     erasure.
//   - uio.no / per.hansen: two denied pushes within the hour, no pause.
//   - ntnu.no (fraud lock on) / nina: a fraud report locks her out; the
//     helpdesk unlocks her.
func buildWorld(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	n := natstest.Start(t, natstest.Dir(dir))
	ctx := context.Background()
	store, err := natsstore.Open(ctx, n.JetStream, natsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, dir: dir, now: worldStart, cmds: map[string]int{}}
	w.svc = &engine.Service{
		Store: store,
		Keys:  &engine.MemoryKeyring{Rand: engine.SeededRand([]byte("audit keys"))},
		Now:   func() time.Time { return w.now },
		Rand:  engine.SeededRand([]byte("audit service")),
	}
	w.flows()
	store.Close()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (w *world) advance(d time.Duration) { w.now = w.now.Add(d) }

func (w *world) policy(tenant string, fraudLock bool) {
	w.t.Helper()
	p := engine.DefaultPolicy()
	p.FraudLock = fraudLock
	if _, err := w.svc.SetPolicy(context.Background(), tenant, engine.SetPolicy{Policy: p}, "policy-1", "admin:it"); err != nil {
		w.t.Fatal(err)
	}
}

// person is one user.
type person struct {
	w      *world
	tenant string
	id     string
}

func (w *world) user(tenant, id string) *person { return &person{w: w, tenant: tenant, id: id} }

func (p *person) exec(actor string, cmd engine.Command) (engine.Result, error) {
	key := p.tenant + "/" + p.id
	p.w.cmds[key]++
	return p.w.svc.Execute(context.Background(), engine.Request{
		Tenant: p.tenant, User: p.id, Command: cmd,
		ID: fmt.Sprintf("cmd-%d", p.w.cmds[key]), Actor: actor,
	})
}

func (p *person) ok(cmd engine.Command) engine.Reply { return p.okAs("user", cmd) }

func (p *person) okAs(actor string, cmd engine.Command) engine.Reply {
	p.w.t.Helper()
	res, err := p.exec(actor, cmd)
	if err != nil {
		p.w.t.Fatalf("%s %s: %v", p.id, cmd.CommandType(), err)
	}
	return res.Reply
}

func (p *person) fail(cmd engine.Command, code vakt.Code) {
	p.w.t.Helper()
	if _, err := p.exec("user", cmd); vakt.CodeOf(err) != code {
		p.w.t.Fatalf("%s %s: err = %v, want %s", p.id, cmd.CommandType(), err, code)
	}
}

// app is an authenticator app computing codes with pquerna/otp.
type app struct {
	secret string
	opts   totp.ValidateOpts
}

func (w *world) code(a app) string {
	w.t.Helper()
	c, err := totp.GenerateCodeCustom(a.secret, w.now, a.opts)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// startTOTP starts an enrolment and returns its id and the app that scanned
// the QR code.
func (p *person) startTOTP(label string) (string, app) {
	p.w.t.Helper()
	r := p.ok(engine.StartEnrolment{Method: events.MethodTOTP, Label: label})
	k, err := otp.NewKeyFromURL(r.OTPAuthURI.Reveal())
	if err != nil {
		p.w.t.Fatal(err)
	}
	return r.AuthenticatorID, app{secret: k.Secret(), opts: totp.ValidateOpts{Period: uint(k.Period()), Digits: k.Digits(), Algorithm: k.Algorithm()}}
}

func (p *person) enrolTOTP(label string) (string, app) {
	p.w.t.Helper()
	id, a := p.startTOTP(label)
	p.ok(engine.ConfirmEnrolment{AuthenticatorID: id, Code: p.w.code(a)})
	p.w.advance(30 * time.Second)
	return id, a
}

type device struct {
	id   string
	priv ed25519.PrivateKey
}

func (p *person) enrolPush(label string) device {
	p.w.t.Helper()
	r := p.ok(engine.StartEnrolment{Method: events.MethodPush, Label: label})
	pub, priv, err := ed25519.GenerateKey(engine.SeededRand([]byte(p.id + "/" + label)))
	if err != nil {
		p.w.t.Fatal(err)
	}
	msg := engine.EnrolmentMessage(p.tenant, p.id, r.AuthenticatorID, r.Activation.Reveal(), pub, false)
	p.ok(engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, PublicKey: pub, Signature: ed25519.Sign(priv, msg)})
	return device{id: r.AuthenticatorID, priv: priv}
}

func (p *person) answer(dev device, challengeID, decision string, number int) engine.RespondPush {
	msg := engine.PushMessage(p.tenant, p.id, challengeID, dev.id, decision, number, false)
	return engine.RespondPush{ChallengeID: challengeID, AuthenticatorID: dev.id, Decision: decision, Number: number, Signature: ed25519.Sign(dev.priv, msg)}
}

func wrongNumber(r engine.Reply) int {
	for _, n := range r.Push.Choices {
		if n != r.NumberMatch {
			return n
		}
	}
	return 0
}

func (w *world) flows() {
	w.policy("uio.no", false)

	// ---- Ola --------------------------------------------------------------
	ola := w.user("uio.no", "ola.nordmann")
	phoneID, phone := ola.startTOTP("Phone")
	ola.fail(engine.ConfirmEnrolment{AuthenticatorID: phoneID, Code: "000000"}, vakt.CodeInvalidCode)
	ola.ok(engine.ConfirmEnrolment{AuthenticatorID: phoneID, Code: w.code(phone)})
	w.advance(30 * time.Second)

	ch := ola.ok(engine.IssueChallenge{App: "web"})
	w.advance(5 * time.Second)
	used := w.code(phone)
	ola.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: used})

	// The same code on a new sign-in is refused as reused.
	w.advance(10 * time.Second)
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	ola.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: used}, vakt.CodeCodeReused)
	w.advance(30 * time.Second)
	ola.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: w.code(phone)})

	// Push: approved, denied, wrong number, unanswered: push pauses.
	w.advance(time.Hour)
	dev := ola.enrolPush("Push phone")
	ola.ok(engine.SetDefault{AuthenticatorID: dev.id})
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	w.advance(7 * time.Second)
	ola.ok(ola.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch))
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	ola.ok(ola.answer(dev, ch.ChallengeID, engine.DecisionDeny, 0))
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	ola.ok(ola.answer(dev, ch.ChallengeID, engine.DecisionApprove, wrongNumber(ch)))
	ola.ok(engine.IssueChallenge{App: "web"})
	w.advance(6 * time.Minute)
	ola.okAs("system", engine.Expire{})

	// After the pause, a push he did not start: "this wasn't me".
	w.advance(15 * time.Minute)
	ch = ola.ok(engine.IssueChallenge{App: "web", Context: events.Context{Application: "Canvas", IP: "192.0.2.7", Location: "Oslo"}})
	ola.ok(ola.answer(dev, ch.ChallengeID, engine.DecisionFraud, 0))

	// Five wrong codes lock him out; the helpdesk unlocks him.
	w.advance(time.Hour)
	ch = ola.ok(engine.IssueChallenge{App: "web", Method: events.MethodTOTP})
	for range 5 {
		ola.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"}, vakt.CodeInvalidCode)
	}
	ola.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: w.code(phone)}, vakt.CodeLockedOut)
	w.advance(10 * time.Second)
	ola.okAs("helpdesk:kari", engine.Unlock{Operator: "kari", Ticket: "INC-4711"})

	// Day 2: lost phone. A self-service reset after ID-porten at high, with
	// a temporary pass to sign in and enrol again.
	w.advance(24 * time.Hour)
	pass := ola.ok(engine.Reset{Proof: &events.Proof{Kind: "idporten", ACR: "idporten-loa-high", Reference: "sid-2"}, TemporaryPass: true}).TemporaryPass
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	ola.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: pass.Reveal()})
	ola.enrolTOTP("Reactivated phone")

	// Day 3: the helpdesk resets him.
	w.advance(24 * time.Hour)
	ola.okAs("helpdesk:kari", engine.Reset{Helpdesk: &engine.Helpdesk{Operator: "kari", Ticket: "INC-1"}})

	// ---- Kari: push fatigue, then erasure ----------------------------------
	w.advance(time.Hour)
	kari := w.user("uio.no", "kari.hansen")
	pixel := kari.enrolPush("Pixel")
	for range 3 {
		ch = kari.ok(engine.IssueChallenge{App: "web"})
		kari.ok(kari.answer(pixel, ch.ChallengeID, engine.DecisionDeny, 0))
		w.advance(time.Minute)
	}
	kari.fail(engine.IssueChallenge{App: "web"}, vakt.CodePushPaused)
	w.advance(20 * time.Minute)
	ch = kari.ok(engine.IssueChallenge{App: "office"})
	kari.ok(kari.answer(pixel, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch))
	w.advance(24 * time.Hour) // day 4
	kari.okAs("admin:dpo", engine.Erase{Operator: "dpo", Ticket: "PRIV-7", Reason: "GDPR art. 17"})

	// ---- Per: two denied pushes within the hour, no pause ------------------
	w.advance(time.Hour)
	per := w.user("uio.no", "per.hansen")
	galaxy := per.enrolPush("Galaxy")
	for range 2 {
		ch = per.ok(engine.IssueChallenge{App: "web"})
		per.ok(per.answer(galaxy, ch.ChallengeID, engine.DecisionDeny, 0))
		w.advance(20 * time.Minute)
	}
	w.advance(2 * time.Hour)
	ch = per.ok(engine.IssueChallenge{App: "web"})
	per.ok(per.answer(galaxy, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch))

	// ---- NTNU: fraud lock ----------------------------------------------------
	w.policy("ntnu.no", true)
	w.advance(time.Hour)
	nina := w.user("ntnu.no", "nina")
	ipad := nina.enrolPush("iPad")
	ch = nina.ok(engine.IssueChallenge{App: "web", Context: events.Context{Application: "Blackboard"}})
	nina.ok(nina.answer(ipad, ch.ChallengeID, engine.DecisionFraud, 0))
	w.advance(30 * time.Minute)
	nina.okAs("helpdesk:ole", engine.Unlock{Operator: "ole", Ticket: "NTNU-9"})
}
