package projections_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
)

// t0 is a Monday morning; the flows below run over five days.
var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

const tenant = "uio.no"

// world drives real flows through engine.Service on an in-memory store with a
// settable clock and seeded entropy, so that every run stores the same bytes.
// It collects every secret the engine hands out, for the no-secrets test.
type world struct {
	t     testing.TB
	store *events.Memory
	keys  *engine.MemoryKeyring
	svc   *engine.Service
	now   time.Time
	cmds  int

	secrets []secret
	// marks are store positions after named steps, for folding a prefix.
	marks map[string]uint64
	// ids are authenticator, challenge and device ids by name, for asserts.
	ids map[string]string
}

// secret is a value that must never reach a read model, in the forms it
// could take there.
type secret struct {
	what  string
	forms []string
}

func newWorld(t testing.TB, seed string) *world {
	w := &world{t: t, store: events.NewMemory(), now: t0, marks: map[string]uint64{}, ids: map[string]string{}}
	w.keys = &engine.MemoryKeyring{Rand: engine.SeededRand([]byte("keys/" + seed))}
	w.svc = &engine.Service{
		Store: w.store, Keys: w.keys,
		Now:  func() time.Time { return w.now },
		Rand: engine.SeededRand([]byte("service/" + seed)),
	}
	return w
}

func (w *world) advance(d time.Duration) { w.now = w.now.Add(d) }

// mark remembers the store position after the last event as name.
func (w *world) mark(name string) { w.marks[name] = w.position() }

func (w *world) position() uint64 {
	var last uint64
	for rec, err := range w.store.All(context.Background(), 0) {
		if err != nil {
			w.t.Fatal(err)
		}
		last = rec.Position
	}
	return last
}

func (w *world) records() []events.Record {
	w.t.Helper()
	var out []events.Record
	for rec, err := range w.store.All(context.Background(), 0) {
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// upTo returns the records up to and including a mark.
func (w *world) upTo(name string) []events.Record {
	w.t.Helper()
	pos, ok := w.marks[name]
	if !ok {
		w.t.Fatalf("no mark %q", name)
	}
	var out []events.Record
	for _, r := range w.records() {
		if r.Position <= pos {
			out = append(out, r)
		}
	}
	return out
}

func (w *world) addSecret(what string, values ...string) {
	for _, v := range values {
		if v != "" {
			w.secrets = append(w.secrets, secret{what: what, forms: []string{v}})
		}
	}
}

func (w *world) addSecretBytes(what string, b []byte) {
	if len(b) == 0 {
		return
	}
	w.secrets = append(w.secrets, secret{what: what, forms: []string{
		base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		hex.EncodeToString(b), base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b),
	}})
}

// collect notes the secrets of a reply and of the stored events.
func (w *world) collect(res engine.Result) {
	r := res.Reply
	w.addSecret("otpauth uri", r.OTPAuthURI.Reveal())
	w.addSecret("base32 seed", r.Secret.Reveal())
	w.addSecret("push activation code", r.Activation.Reveal())
	w.addSecret("remember token", r.RememberToken.Reveal())
	w.addSecret("temporary pass", r.TemporaryPass.Reveal())
	for _, c := range r.RecoveryCodes {
		w.addSecret("recovery code", c.Reveal())
	}
	if d := r.Deliver; d != nil {
		w.addSecret("delivered code", `"`+d.Code.Reveal()+`"`)
		w.addSecret("address", d.Address.Reveal())
	}
	for _, rec := range res.Records {
		switch e := rec.Event.(type) {
		case events.EnrolmentStarted:
			w.addSecretBytes("sealed seed", e.Secret.Box)
			w.addSecretBytes("sealed address", e.Address.Box)
			w.addSecretBytes("enrolment code hash", e.CodeHash)
		case events.Activated:
			w.addSecretBytes("device public key", e.PublicKey)
		case events.CodeSent:
			w.addSecretBytes("code hash", e.CodeHash)
		case events.DeviceRemembered:
			w.addSecretBytes("remember token hash", e.TokenHash)
		case events.TemporaryPassIssued:
			w.addSecretBytes("temporary pass hash", e.Hash)
		case events.RecoveryCodesIssued:
			for _, c := range e.Codes {
				w.addSecretBytes("recovery code hash", c.Hash)
				w.addSecretBytes("recovery code salt", c.Salt)
			}
		}
	}
}

// person is one user of the tenant.
type person struct {
	w  *world
	id string
}

func (w *world) user(id string) *person { return &person{w: w, id: id} }

func (p *person) exec(actor string, cmd engine.Command) (engine.Result, error) {
	p.w.t.Helper()
	p.w.cmds++
	// The data key exists from the first enrolment until erasure; note it
	// while it does.
	if key, _ := p.w.keys.DataKey(context.Background(), tenant, p.id, false); key != nil {
		p.w.addSecretBytes("data key", key.Bytes())
	}
	res, err := p.w.svc.Execute(context.Background(), engine.Request{
		Tenant: tenant, User: p.id, Command: cmd,
		ID: fmt.Sprintf("cmd-%d", p.w.cmds), Actor: actor,
	})
	p.w.collect(res)
	if key, _ := p.w.keys.DataKey(context.Background(), tenant, p.id, false); key != nil {
		p.w.addSecretBytes("data key", key.Bytes())
	}
	return res, err
}

// ok runs a command the user gives, which must succeed.
func (p *person) ok(cmd engine.Command) engine.Reply { return p.okAs("user", cmd) }

func (p *person) okAs(actor string, cmd engine.Command) engine.Reply {
	p.w.t.Helper()
	res, err := p.exec(actor, cmd)
	if err != nil {
		p.w.t.Fatalf("%s %s: %v", p.id, cmd.CommandType(), err)
	}
	return res.Reply
}

// fail runs a command that must fail with code.
func (p *person) fail(cmd engine.Command, code vakt.Code) {
	p.w.t.Helper()
	if _, err := p.exec("user", cmd); vakt.CodeOf(err) != code {
		p.w.t.Fatalf("%s %s: err = %v, want %s", p.id, cmd.CommandType(), err, code)
	}
}

// totpApp is an authenticator app: it reads the otpauth URI and computes
// codes with pquerna/otp, independently of the engine.
type totpApp struct {
	secret string
	opts   totp.ValidateOpts
}

func (w *world) app(uri string) totpApp {
	w.t.Helper()
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		w.t.Fatal(err)
	}
	return totpApp{secret: k.Secret(), opts: totp.ValidateOpts{Period: uint(k.Period()), Digits: k.Digits(), Algorithm: k.Algorithm()}}
}

func (w *world) code(a totpApp) string {
	w.t.Helper()
	c, err := totp.GenerateCodeCustom(a.secret, w.now, a.opts)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// enrolTOTP enrols and confirms an authenticator app and moves the clock to
// the next time step (the confirming code counts as used).
func (p *person) enrolTOTP(label string) (string, totpApp) {
	p.w.t.Helper()
	r := p.ok(engine.StartEnrolment{Method: events.MethodTOTP, Label: label})
	app := p.w.app(r.OTPAuthURI.Reveal())
	p.ok(engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, Code: p.w.code(app)})
	p.w.advance(30 * time.Second)
	return r.AuthenticatorID, app
}

// device is a push authenticator app with its Ed25519 key.
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
	msg := engine.EnrolmentMessage(tenant, p.id, r.AuthenticatorID, r.Activation.Reveal(), pub, false)
	p.ok(engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, PublicKey: pub, Signature: ed25519.Sign(priv, msg)})
	return device{id: r.AuthenticatorID, priv: priv}
}

func (p *person) answer(dev device, challengeID, decision string, number int) engine.RespondPush {
	msg := engine.PushMessage(tenant, p.id, challengeID, dev.id, decision, number, false)
	return engine.RespondPush{ChallengeID: challengeID, AuthenticatorID: dev.id, Decision: decision, Number: number, Signature: ed25519.Sign(dev.priv, msg)}
}

// wrongNumber returns one of the push's choices that is not the right one.
func wrongNumber(r engine.Reply) int {
	for _, n := range r.Push.Choices {
		if n != r.NumberMatch {
			return n
		}
	}
	return 0
}

const phone = "+47 912 34 567"

// buildWorld runs every flow the read models care about, for four users of
// one tenant over five days.
func buildWorld(t testing.TB) *world {
	w := newWorld(t, "flows")
	ctx := context.Background()

	// The tenant lets users without an authenticator snooze for a month.
	pol := engine.DefaultPolicy()
	pol.EnforceFrom = t0.Add(30 * 24 * time.Hour)
	res, err := w.svc.SetPolicy(ctx, tenant, engine.SetPolicy{Policy: pol}, "policy-1", "admin:it")
	if err != nil {
		t.Fatal(err)
	}
	w.collect(res)

	// ---- Ola: authenticator app, sign-in, replay, new phone ---------------
	ola := w.user("ola.nordmann")
	r := ola.ok(engine.StartEnrolment{Method: events.MethodTOTP, Label: "Phone"})
	w.ids["phone"] = r.AuthenticatorID
	w.mark("ola-enrolment-started")
	phoneApp := w.app(r.OTPAuthURI.Reveal())
	ola.fail(engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, Code: "000000"}, vakt.CodeInvalidCode)
	ola.ok(engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, Code: w.code(phoneApp)})
	w.mark("ola-activated")
	w.advance(30 * time.Second)

	ch := ola.ok(engine.IssueChallenge{App: "web"})
	w.ids["first-sign-in"] = ch.ChallengeID
	w.advance(5 * time.Second)
	used := w.code(phoneApp)
	ola.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: used})
	w.mark("ola-first-sign-in")

	// The same code again, on a new sign-in: refused as reused.
	w.advance(10 * time.Second)
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	w.ids["replayed"] = ch.ChallengeID
	ola.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: used}, vakt.CodeCodeReused)
	w.advance(30 * time.Second)
	ola.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: w.code(phoneApp)})
	w.mark("ola-replayed")

	// A new phone joins while the old one still works; then the old goes.
	w.advance(time.Hour)
	newID, newApp := ola.enrolTOTP("New phone")
	w.ids["new-phone"] = newID
	ch = ola.ok(engine.IssueChallenge{App: "office"})
	ola.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: w.code(newApp)})
	ola.ok(engine.SetDefault{AuthenticatorID: newID})
	ola.ok(engine.RemoveAuthenticator{AuthenticatorID: w.ids["phone"]})
	ola.ok(engine.RenameAuthenticator{AuthenticatorID: newID, Label: "iPhone 17"})
	w.mark("ola-new-phone")

	// Push: approve, deny, wrong number, unanswered (push pauses), fraud.
	w.advance(time.Hour)
	dev := ola.enrolPush("Push phone")
	w.ids["push-phone"] = dev.id
	ola.ok(engine.SetDefault{AuthenticatorID: dev.id})
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	w.ids["push-approved"] = ch.ChallengeID
	w.advance(7 * time.Second)
	ola.ok(ola.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch))
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	w.ids["push-denied"] = ch.ChallengeID
	ola.ok(ola.answer(dev, ch.ChallengeID, engine.DecisionDeny, 0))
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	w.ids["push-wrong-number"] = ch.ChallengeID
	ola.ok(ola.answer(dev, ch.ChallengeID, engine.DecisionApprove, wrongNumber(ch)))
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	w.ids["push-unanswered"] = ch.ChallengeID
	w.advance(6 * time.Minute)
	ola.okAs("system", engine.Expire{})
	w.mark("ola-push-paused")
	w.advance(15 * time.Minute)
	ch = ola.ok(engine.IssueChallenge{App: "web", Context: events.Context{Application: "Canvas", IP: "192.0.2.7", Location: "Oslo"}})
	w.ids["push-fraud"] = ch.ChallengeID
	ola.ok(ola.answer(dev, ch.ChallengeID, engine.DecisionFraud, 0))
	w.mark("ola-push")

	// Remembered browser: remembered after a code, then skips the next day.
	w.advance(time.Hour)
	ch = ola.ok(engine.IssueChallenge{App: "web", Method: events.MethodTOTP})
	w.ids["remembered-at"] = ch.ChallengeID
	ok := ola.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: w.code(newApp), RememberDevice: true})
	w.ids["browser"] = ok.DeviceID
	w.mark("ola-remembered")
	w.advance(24 * time.Hour) // day 2
	sk := ola.ok(engine.IssueChallenge{App: "web", RememberToken: ok.RememberToken.Reveal()})
	w.ids["skipped"] = sk.ChallengeID

	// Recovery codes: issued, one used.
	codes := ola.ok(engine.IssueRecoveryCodes{}).RecoveryCodes
	ch = ola.ok(engine.IssueChallenge{App: "web", Method: events.MethodTOTP})
	w.ids["recovery"] = ch.ChallengeID
	ola.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: codes[3].Reveal()})
	w.mark("ola-recovery")

	// Lockout after five wrong codes; the helpdesk unlocks.
	w.advance(time.Hour)
	ch = ola.ok(engine.IssueChallenge{App: "web", Method: events.MethodTOTP})
	w.ids["locked"] = ch.ChallengeID
	for range 5 {
		ola.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"}, vakt.CodeInvalidCode)
	}
	ola.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: w.code(newApp)}, vakt.CodeLockedOut)
	w.mark("ola-locked")
	w.advance(10 * time.Second)
	ola.okAs("helpdesk:kari", engine.Unlock{Operator: "kari", Ticket: "INC-4711"})
	w.mark("ola-unlocked")

	// Day 3: lost phone. Self-service reset after ID-porten at high, with a
	// temporary pass to sign in and enrol again.
	w.advance(24 * time.Hour)
	pass := ola.ok(engine.Reset{Proof: &events.Proof{Kind: "idporten", ACR: "idporten-loa-high", Reference: "sid-2"}, TemporaryPass: true}).TemporaryPass
	w.mark("ola-self-service-reset")
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	ola.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: pass.Reveal()})
	w.ids["reactivated"], _ = ola.enrolTOTP("Reactivated phone")
	w.mark("ola-reactivated")

	// Day 4: the helpdesk resets Ola while a sign-in is waiting.
	w.advance(24 * time.Hour)
	ch = ola.ok(engine.IssueChallenge{App: "web"})
	w.ids["cancelled-by-reset"] = ch.ChallengeID
	w.advance(time.Minute)
	ola.okAs("helpdesk:kari", engine.Reset{Helpdesk: &engine.Helpdesk{Operator: "kari", Ticket: "INC-1"}})
	w.mark("ola-helpdesk-reset")

	// ---- Kari: push fatigue, then erasure ----------------------------------
	w.advance(time.Hour)
	kari := w.user("kari.hansen")
	pixel := kari.enrolPush("Pixel")
	for range 3 {
		ch = kari.ok(engine.IssueChallenge{App: "web"})
		kari.ok(kari.answer(pixel, ch.ChallengeID, engine.DecisionDeny, 0))
		w.advance(time.Minute)
	}
	kari.fail(engine.IssueChallenge{App: "web"}, vakt.CodePushPaused)
	w.mark("kari-paused")
	w.advance(20 * time.Minute)
	ch = kari.ok(engine.IssueChallenge{App: "office"})
	kari.ok(kari.answer(pixel, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch))
	w.advance(24 * time.Hour)
	kari.okAs("admin:dpo", engine.Erase{Operator: "dpo", Ticket: "PRIV-7", Reason: "GDPR art. 17"})
	w.mark("kari-erased")

	// ---- Per: SMS codes at low assurance ------------------------------------
	w.advance(time.Hour)
	per := w.user("per.hansen")
	r = per.ok(engine.StartEnrolment{Method: events.MethodSMS, Label: "Mobile", Address: phone})
	per.ok(engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, Code: r.Deliver.Code.Reveal()})
	ch = per.ok(engine.IssueChallenge{App: "web", RequiredACR: engine.ACRLow})
	w.ids["sms"] = ch.ChallengeID
	per.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: ch.Deliver.Code.Reveal()})

	// ---- Nina: snoozes, then lets an enrolment lapse ------------------------
	w.advance(time.Hour)
	nina := w.user("nina")
	sk = nina.ok(engine.SnoozeEnrolment{App: "web"})
	w.ids["snoozed"] = sk.ChallengeID
	nina.ok(engine.StartEnrolment{Method: events.MethodTOTP, Label: "Tablet"})
	w.advance(11 * time.Minute)
	nina.okAs("system", engine.Expire{})
	w.mark("end")
	return w
}
