package engine_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
)

// harness drives a Service over the in-memory store with a settable clock
// and deterministic entropy.
type harness struct {
	t      testing.TB
	svc    *engine.Service
	store  *events.Memory
	keys   *engine.MemoryKeyring
	now    time.Time
	tenant string
	user   string
	cmds   atomic.Int64
}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func newHarness(t testing.TB) *harness {
	h := &harness{t: t, store: events.NewMemory(), now: t0, tenant: "uio.no", user: "ola.nordmann"}
	h.keys = &engine.MemoryKeyring{Rand: engine.SeededRand([]byte("keys"))}
	h.svc = &engine.Service{
		Store: h.store, Keys: h.keys,
		Now:  func() time.Time { return h.now },
		Rand: engine.SeededRand([]byte(t.Name())),
	}
	return h
}

func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

func (h *harness) exec(cmd engine.Command) (engine.Result, error) {
	h.t.Helper()
	return h.svc.Execute(context.Background(), engine.Request{
		Tenant: h.tenant, User: h.user, Command: cmd,
		ID: fmt.Sprintf("cmd-%d", h.cmds.Add(1)), Actor: "test",
	})
}

// ok runs a command that must succeed.
func (h *harness) ok(cmd engine.Command) engine.Result {
	h.t.Helper()
	res, err := h.exec(cmd)
	if err != nil {
		h.t.Fatalf("%s: %v", cmd.CommandType(), err)
	}
	return res
}

// fail runs a command that must fail with code and returns the result.
func (h *harness) fail(cmd engine.Command, code vakt.Code) engine.Result {
	h.t.Helper()
	res, err := h.exec(cmd)
	if vakt.CodeOf(err) != code {
		h.t.Fatalf("%s: err = %v, want %s", cmd.CommandType(), err, code)
	}
	return res
}

func (h *harness) state() *engine.User {
	h.t.Helper()
	u, err := h.svc.User(context.Background(), h.tenant, h.user)
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

func (h *harness) events() []events.Record {
	h.t.Helper()
	recs, err := h.store.Load(context.Background(), events.Stream{Tenant: h.tenant, User: h.user}, events.Head{})
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

func types(recs []events.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Type
	}
	return out
}

func wantTypes(t testing.TB, recs []events.Record, want ...string) {
	t.Helper()
	got := types(recs)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
}

// totpApp is an authenticator app: it reads the otpauth URI and computes codes
// with pquerna/otp, independently of the engine's own check.
type totpApp struct {
	secret string
	opts   totp.ValidateOpts
}

func appFromURI(t testing.TB, uri string) totpApp {
	t.Helper()
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	return totpApp{secret: k.Secret(), opts: totp.ValidateOpts{Period: uint(k.Period()), Digits: k.Digits(), Algorithm: k.Algorithm()}}
}

func (a totpApp) code(t testing.TB, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(a.secret, at, a.opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hotpCode(t testing.TB, uri string, counter uint64) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	c, err := hotp.GenerateCodeCustom(u.Query().Get("secret"), counter, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP enrols and confirms an authenticator app; it returns its id and app.
func (h *harness) enrolTOTP(label string) (string, totpApp) {
	h.t.Helper()
	res := h.ok(engine.StartEnrolment{Method: events.MethodTOTP, Label: label})
	app := appFromURI(h.t, res.Reply.OTPAuthURI.Reveal())
	h.ok(engine.ConfirmEnrolment{AuthenticatorID: res.Reply.AuthenticatorID, Code: app.code(h.t, h.now)})
	// The confirming code's step is used; move to the next step.
	h.advance(30 * time.Second)
	return res.Reply.AuthenticatorID, app
}

// device is a push authenticator app with its Ed25519 key.
type device struct {
	id   string
	priv ed25519.PrivateKey
}

func (h *harness) enrolPush(label string) device {
	h.t.Helper()
	res := h.ok(engine.StartEnrolment{Method: events.MethodPush, Label: label})
	pub, priv, err := ed25519.GenerateKey(engine.SeededRand([]byte(label)))
	if err != nil {
		h.t.Fatal(err)
	}
	msg := engine.EnrolmentMessage(h.tenant, h.user, res.Reply.AuthenticatorID, res.Reply.Activation.Reveal(), pub, false)
	h.ok(engine.ConfirmEnrolment{AuthenticatorID: res.Reply.AuthenticatorID, PublicKey: pub, Signature: ed25519.Sign(priv, msg)})
	return device{id: res.Reply.AuthenticatorID, priv: priv}
}

func (h *harness) answer(dev device, challengeID, decision string, number int) engine.RespondPush {
	msg := engine.PushMessage(h.tenant, h.user, challengeID, dev.id, decision, number, false)
	return engine.RespondPush{ChallengeID: challengeID, AuthenticatorID: dev.id, Decision: decision, Number: number, Signature: ed25519.Sign(dev.priv, msg)}
}

var _ = base64.StdEncoding
