package natsviews_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/natsserver"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
	"github.com/vaktmfa/vakt/projections"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// world drives real flows through engine.Service on the JetStream event
// store of an embedded server, with a settable clock and seeded entropy.
type world struct {
	t     testing.TB
	nats  *natsserver.NATS
	store *natsstore.Store
	svc   *engine.Service
	now   time.Time
	cmds  int
	users []*person
}

func newWorld(t testing.TB, opts ...natstest.Option) *world {
	t.Helper()
	n := natstest.Start(t, opts...)
	store, err := natsstore.Open(context.Background(), n.JetStream, natsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w := &world{t: t, nats: n, store: store, now: t0}
	w.svc = &engine.Service{
		Store: store,
		Keys:  &engine.MemoryKeyring{Rand: engine.SeededRand([]byte("keys"))},
		Now:   func() time.Time { return w.now },
		Rand:  engine.SeededRand([]byte("service")),
	}
	return w
}

func (w *world) advance(d time.Duration) { w.now = w.now.Add(d) }

// position is the event stream's last position.
func (w *world) position() uint64 {
	w.t.Helper()
	pos, err := w.store.LastPosition(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return pos
}

func (w *world) policy(tenant string) {
	w.t.Helper()
	w.cmds++
	pol := engine.DefaultPolicy()
	pol.EnforceFrom = t0.Add(30 * 24 * time.Hour)
	if _, err := w.svc.SetPolicy(context.Background(), tenant, engine.SetPolicy{Policy: pol}, fmt.Sprintf("policy-%d", w.cmds), "admin:it"); err != nil {
		w.t.Fatal(err)
	}
}

// person is one user, with the authenticators it holds.
type person struct {
	w          *world
	tenant, id string
	app        *otp.Key
	appID      string
	dev        ed25519.PrivateKey
	devID      string
	pending    []string // challenges left open
}

func (w *world) user(tenant, id string) *person {
	p := &person{w: w, tenant: tenant, id: id}
	w.users = append(w.users, p)
	return p
}

func (p *person) exec(actor string, cmd engine.Command) (engine.Result, error) {
	p.w.cmds++
	return p.w.svc.Execute(context.Background(), engine.Request{
		Tenant: p.tenant, User: p.id, Command: cmd,
		ID: fmt.Sprintf("cmd-%d", p.w.cmds), Actor: actor,
	})
}

func (p *person) ok(actor string, cmd engine.Command) engine.Reply {
	p.w.t.Helper()
	res, err := p.exec(actor, cmd)
	if err != nil {
		p.w.t.Fatalf("%s/%s %s: %v", p.tenant, p.id, cmd.CommandType(), err)
	}
	return res.Reply
}

func (p *person) fail(cmd engine.Command, code vakt.Code) {
	p.w.t.Helper()
	if _, err := p.exec("user", cmd); vakt.CodeOf(err) != code {
		p.w.t.Fatalf("%s/%s %s: err = %v, want %s", p.tenant, p.id, cmd.CommandType(), err, code)
	}
}

func (p *person) code() string {
	p.w.t.Helper()
	c, err := totp.GenerateCodeCustom(p.app.Secret(), p.w.now, totp.ValidateOpts{Period: uint(p.app.Period()), Digits: p.app.Digits(), Algorithm: p.app.Algorithm()})
	if err != nil {
		p.w.t.Fatal(err)
	}
	return c
}

// enrol gives the user an authenticator app and a push phone.
func (p *person) enrol() {
	p.w.t.Helper()
	r := p.ok("user", engine.StartEnrolment{Method: events.MethodTOTP, Label: "Phone"})
	k, err := otp.NewKeyFromURL(r.OTPAuthURI.Reveal())
	if err != nil {
		p.w.t.Fatal(err)
	}
	p.app, p.appID = k, r.AuthenticatorID
	p.ok("user", engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, Code: p.code()})
	p.w.advance(31 * time.Second)

	r = p.ok("user", engine.StartEnrolment{Method: events.MethodPush, Label: "Push"})
	pub, priv, err := ed25519.GenerateKey(engine.SeededRand([]byte(p.tenant + "/" + p.id + "/" + r.AuthenticatorID)))
	if err != nil {
		p.w.t.Fatal(err)
	}
	msg := engine.EnrolmentMessage(p.tenant, p.id, r.AuthenticatorID, r.Activation.Reveal(), pub, false)
	p.ok("user", engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, PublicKey: pub, Signature: ed25519.Sign(priv, msg)})
	p.dev, p.devID = priv, r.AuthenticatorID
}

// signIn signs in with a code, after one mistyped code.
func (p *person) signIn() {
	p.w.t.Helper()
	p.w.advance(31 * time.Second)
	ch := p.ok("user", engine.IssueChallenge{App: "web", Method: events.MethodTOTP})
	p.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: wrong(p.code())}, vakt.CodeInvalidCode)
	p.ok("user", engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: p.code()})
}

func wrong(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// push answers a push sign-in.
func (p *person) push(decision string) {
	p.w.t.Helper()
	p.w.advance(time.Minute)
	ch := p.ok("user", engine.IssueChallenge{App: "office", Method: events.MethodPush})
	number := 0
	if decision == engine.DecisionApprove {
		number = ch.NumberMatch
	}
	msg := engine.PushMessage(p.tenant, p.id, ch.ChallengeID, p.devID, decision, number, false)
	p.ok("user", engine.RespondPush{ChallengeID: ch.ChallengeID, AuthenticatorID: p.devID, Decision: decision, Number: number, Signature: ed25519.Sign(p.dev, msg)})
}

// leaveOpen starts a sign-in that nobody finishes.
func (p *person) leaveOpen() {
	p.w.t.Helper()
	ch := p.ok("user", engine.IssueChallenge{App: "web", Method: events.MethodTOTP})
	p.pending = append(p.pending, ch.ChallengeID)
}

// reset has the helpdesk reset the user, which ends its open sign-ins
// (a Broadcast to the challenges), and enrols again.
func (p *person) reset() {
	p.w.t.Helper()
	p.w.advance(time.Minute)
	p.ok("helpdesk:kari", engine.Reset{Helpdesk: &engine.Helpdesk{Operator: "kari", Ticket: "INC-1"}})
	p.pending = nil
	p.enrol()
}

// lockout locks the user with five wrong codes; the helpdesk unlocks.
func (p *person) lockout() {
	p.w.t.Helper()
	p.w.advance(31 * time.Second)
	ch := p.ok("user", engine.IssueChallenge{App: "web", Method: events.MethodTOTP})
	for range 5 {
		p.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: wrong(p.code())}, vakt.CodeInvalidCode)
	}
	p.w.advance(10 * time.Second)
	p.ok("helpdesk:kari", engine.Unlock{Operator: "kari", Ticket: "INC-2"})
}

// story runs the flows the read models care about for n users of two
// tenants (ids with dots, '@' and non-ASCII letters, to exercise the key
// encoding). Users are named by prefix, so a later story adds new ones.
func (w *world) story(prefix string, n int) []*person {
	w.t.Helper()
	tenants := []string{"uio.no", "ntnu.no"}
	if prefix == "a" {
		for _, t := range tenants {
			w.policy(t)
		}
	}
	var ps []*person
	for i := range n {
		p := w.user(tenants[i%2], fmt.Sprintf("%s.user-%03d@ø", prefix, i))
		ps = append(ps, p)
		p.enrol()
		p.signIn()
		p.push(engine.DecisionApprove)
		if i%3 == 0 {
			p.push(engine.DecisionDeny)
		}
		if i%2 == 0 {
			p.leaveOpen()
		}
	}
	for i, p := range ps {
		switch i % 4 {
		case 0:
			p.reset() // ends the open sign-in left above
		case 1:
			p.lockout()
		case 2:
			p.ok("user", engine.IssueRecoveryCodes{})
		}
	}
	return ps
}

// more gives every user another round of sign-ins, resets the users with
// open sign-ins, and erases one.
func (w *world) more(rounds int) {
	w.t.Helper()
	for range rounds {
		for _, p := range w.users {
			p.signIn()
		}
	}
	for i, p := range w.users {
		if len(p.pending) > 0 {
			p.reset()
		} else if i%5 == 1 {
			p.leaveOpen()
		}
	}
	erase := w.users[len(w.users)-1]
	erase.ok("admin:dpo", engine.Erase{Operator: "dpo", Ticket: "PRIV-7", Reason: "GDPR art. 17"})
	w.users = slices.Delete(w.users, len(w.users)-1, len(w.users))
}

// models are the four ready-made projections.
type models struct {
	infos      *projections.SecurityInfos
	challenges *projections.Challenges
	audit      *projections.AuditTrails
	stats      *projections.StatsByTenant
}

func newModels() models {
	return models{projections.NewSecurityInfos(), projections.NewChallenges(), projections.NewAuditTrails(), projections.NewTenantStats()}
}

func (m models) list() []projections.Projection {
	return []projections.Projection{m.infos, m.challenges, m.audit, m.stats}
}

// oracle folds every stored event into in-memory models with the plain
// runner of package projections.
func (w *world) oracle() models {
	w.t.Helper()
	m := newModels()
	if _, err := (&projections.Runner{Store: w.store, Projections: m.list()}).CatchUp(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	return m
}
