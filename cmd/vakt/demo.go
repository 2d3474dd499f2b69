package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/qrterm"
)

// demoEpoch is where the simulated clock starts in a seeded run, so that the
// output is the same every time.
var demoEpoch = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// demoStep is how far the simulated clock moves between steps: one TOTP
// period, so every step sees a fresh code.
const demoStep = 30 * time.Second

func demoFlags(fs *flag.FlagSet) func(context.Context, *cmdEnv) error {
	var (
		seed   string
		seeded bool
	)
	fs.Func("seed", "seed the entropy with `text` and start the clock at "+demoEpoch.Format(time.RFC3339)+", for repeatable output", func(s string) error {
		seed, seeded = s, true
		return nil
	})
	showQR := fs.Bool("qr", true, "draw the enrolment QR codes in the terminal")
	return func(ctx context.Context, env *cmdEnv) error {
		if len(env.args) > 0 {
			return usagef("unexpected argument %q", env.args[0])
		}
		d := newDemo(env.stdout, *showQR)
		if seeded {
			d.seed(seed)
		}
		return d.run(ctx)
	}
}

// demo walks one user through the main flows on an in-memory store, with a
// simulated clock, and prints every event as it is stored.
type demo struct {
	out    io.Writer
	qr     bool
	seeded bool

	store  *events.Memory
	svc    *engine.Service
	now    time.Time
	stream events.Stream
	head   events.Head // the last event printed
	cmds   int
	desc   *describer
}

func newDemo(out io.Writer, qr bool) *demo {
	d := &demo{
		out:    out,
		qr:     qr,
		store:  events.NewMemory(),
		now:    time.Now().UTC().Truncate(time.Second),
		stream: events.Stream{Tenant: "demo", User: "ola.nordmann"},
		desc:   newDescriber(),
	}
	// The zero Rand of the service and the keyring is crypto/rand.
	d.svc = &engine.Service{
		Store: d.store,
		Keys:  &engine.MemoryKeyring{},
		Now:   func() time.Time { return d.now },
	}
	return d
}

// seed makes the run reproducible: seeded entropy for the engine and the data
// keys (from separate streams) and a fixed starting time.
func (d *demo) seed(s string) {
	d.seeded = true
	d.now = demoEpoch
	d.svc.Rand = engine.SeededRand([]byte("vakt demo service\x00" + s))
	d.svc.Keys = &engine.MemoryKeyring{Rand: engine.SeededRand([]byte("vakt demo keys\x00" + s))}
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

func (d *demo) step(n int, title string) {
	d.printf("\n%d. %s\n", n, title)
}

// advance moves the simulated clock.
func (d *demo) advance(dt time.Duration) {
	d.now = d.now.Add(dt)
	d.printf("     (%s later: %s)\n", human(dt), d.now.Format("15:04:05"))
}

// exec runs a command for the demo user and prints the events it stored,
// read back from the store.
func (d *demo) exec(ctx context.Context, actor string, cmd engine.Command) (engine.Result, error) {
	d.cmds++
	res, err := d.svc.Execute(ctx, engine.Request{
		Tenant: d.stream.Tenant, User: d.stream.User, Command: cmd,
		ID: fmt.Sprintf("demo-%d", d.cmds), Actor: actor,
	})
	if perr := d.printNew(ctx); perr != nil {
		return res, perr
	}
	return res, err
}

// must runs a command that has to succeed.
func (d *demo) must(ctx context.Context, actor string, cmd engine.Command) (engine.Reply, error) {
	res, err := d.exec(ctx, actor, cmd)
	if err != nil {
		return engine.Reply{}, fmt.Errorf("%s: %w", cmd.CommandType(), err)
	}
	return res.Reply, nil
}

// refused runs a command that has to be refused with code, and prints why.
func (d *demo) refused(ctx context.Context, actor string, cmd engine.Command, code vakt.Code) error {
	_, err := d.exec(ctx, actor, cmd)
	if err == nil {
		return fmt.Errorf("%s succeeded; it should have been refused with %s", cmd.CommandType(), code)
	}
	if vakt.CodeOf(err) != code {
		return fmt.Errorf("%s: got %w, want %s", cmd.CommandType(), err, code)
	}
	d.printf("     refused: %v\n", err)
	return nil
}

func (d *demo) printNew(ctx context.Context) error {
	recs, err := d.store.Load(ctx, d.stream, d.head)
	if err != nil {
		return fmt.Errorf("read back the events: %w", err)
	}
	for i := range recs {
		d.printf("%s\n", d.desc.line(&recs[i]))
		d.head = recs[i].Head()
	}
	return nil
}

// phone is an authenticator app: it reads the otpauth URI as a phone would
// and computes codes with pquerna/otp, independently of the engine's check.
type phone struct {
	secret string
	opts   totp.ValidateOpts
}

func newPhone(uri string) (phone, error) {
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return phone{}, fmt.Errorf("the app cannot read the otpauth URI: %w", err)
	}
	return phone{secret: k.Secret(), opts: totp.ValidateOpts{
		Period: uint(k.Period()), Digits: k.Digits(), Algorithm: k.Algorithm(),
	}}, nil
}

func (p phone) code(at time.Time) (string, error) {
	c, err := totp.GenerateCodeCustom(p.secret, at, p.opts)
	if err != nil {
		return "", fmt.Errorf("the app cannot compute a code: %w", err)
	}
	return c, nil
}

// showCode prints what the app shows; the one one-time value the demo prints
// besides the otpauth URI.
func (d *demo) showCode(who string, code string) {
	d.printf("     %s shows %s   [one-time code, as on the phone's screen]\n", who, code)
}

const (
	asUser     = "user"
	asHelpdesk = "helpdesk:kari.hansen"
)

// startEnrol adds an authenticator app and shows its otpauth URI and QR code;
// the phone reads the URI.
func (d *demo) startEnrol(ctx context.Context, label string) (string, phone, error) {
	r, err := d.must(ctx, asUser, engine.StartEnrolment{Method: events.MethodTOTP, Label: label})
	if err != nil {
		return "", phone{}, err
	}
	uri := r.OTPAuthURI.Reveal()
	d.printf("     otpauth URI [contains the secret; shown once, on the enrolment screen only]:\n     %s\n", uri)
	if d.qr {
		d.printf("     Scan it with %s:\n", label)
		if err := qrterm.Render(d.out, uri); err != nil {
			return "", phone{}, err
		}
	}
	p, err := newPhone(uri)
	if err != nil {
		return "", phone{}, err
	}
	return r.AuthenticatorID, p, nil
}

// confirm activates a pending authenticator app with its first code.
func (d *demo) confirm(ctx context.Context, id, label string, p phone) error {
	code, err := p.code(d.now)
	if err != nil {
		return err
	}
	d.printf("     Ola types the first code from %s.\n", label)
	d.showCode(label, code)
	_, err = d.must(ctx, asUser, engine.ConfirmEnrolment{AuthenticatorID: id, Code: code})
	return err
}

// signIn issues a challenge for app web and answers it with the phone's
// current code; it returns the code.
func (d *demo) signIn(ctx context.Context, label string, p phone) (string, error) {
	ch, err := d.must(ctx, asUser, engine.IssueChallenge{App: "web"})
	if err != nil {
		return "", err
	}
	code, err := p.code(d.now)
	if err != nil {
		return "", err
	}
	d.showCode(label, code)
	ok, err := d.must(ctx, asUser, engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: code})
	if err != nil {
		return "", err
	}
	d.printf("     signed in: acr %s, amr %s\n", ok.ACR, strings.Join(ok.AMR, ","))
	return code, nil
}

func (d *demo) run(ctx context.Context) error {
	const (
		oldLabel = "iPhone 12"
		newLabel = "Pixel 9"
	)
	mode := "real entropy; run with -seed for a repeatable run"
	if d.seeded {
		mode = "seeded: the same output every run"
	}
	d.printf("Vakt demo: the MFA life of user %q in tenant %q, on an in-memory event store.\n", d.stream.User, d.stream.Tenant)
	d.printf("Simulated clock from %s UTC (%s).\n", clock(d.now), mode)
	d.printf("Every stored event is printed as: seq  time  type  what it records.\n")

	d.step(1, "Enrol an authenticator app")
	oldID, oldPhone, err := d.startEnrol(ctx, oldLabel)
	if err != nil {
		return err
	}

	d.step(2, "Confirm it with the first code")
	if err := d.confirm(ctx, oldID, oldLabel, oldPhone); err != nil {
		return err
	}

	d.step(3, "Sign in to app \"web\" with the next code")
	d.advance(demoStep)
	used, err := d.signIn(ctx, oldLabel, oldPhone)
	if err != nil {
		return err
	}

	d.step(4, "Replay: the same code on a new challenge")
	d.advance(demoStep)
	ch, err := d.must(ctx, asUser, engine.IssueChallenge{App: "web"})
	if err != nil {
		return err
	}
	d.printf("     An attacker who saw %s tries it again.\n", used)
	if err := d.refused(ctx, asUser, engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: used}, vakt.CodeCodeReused); err != nil {
		return err
	}
	d.printf("     The challenge stays open; Ola answers it with the app's next code.\n")
	d.advance(demoStep)
	code, err := oldPhone.code(d.now)
	if err != nil {
		return err
	}
	d.showCode(oldLabel, code)
	if _, err := d.must(ctx, asUser, engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: code}); err != nil {
		return err
	}

	d.step(5, "Add a new phone while the old one still works, and sign in with it")
	d.advance(demoStep)
	newID, newPhone, err := d.startEnrol(ctx, newLabel)
	if err != nil {
		return err
	}
	if err := d.confirm(ctx, newID, newLabel, newPhone); err != nil {
		return err
	}
	d.advance(demoStep)
	if _, err := d.signIn(ctx, newLabel, newPhone); err != nil {
		return err
	}

	d.step(6, "Remove the old phone")
	d.advance(demoStep)
	if _, err := d.must(ctx, asUser, engine.RemoveAuthenticator{AuthenticatorID: oldID}); err != nil {
		return err
	}
	u, err := d.svc.User(ctx, d.stream.Tenant, d.stream.User)
	if err != nil {
		return err
	}
	if u.Default != newID {
		return fmt.Errorf("after removing %s the default is %s, want %s", oldLabel, d.desc.auth(u.Default), d.desc.auth(newID))
	}
	d.printf("     Security info now lists %d authenticator(s); the default is %s.\n", len(u.Active()), d.desc.auth(u.Default))

	d.step(7, "Lost phone: helpdesk reset")
	d.advance(demoStep)
	d.printf("     Ola calls the service desk; kari.hansen checks Ola's ID and resets MFA on ticket INC-4711.\n")
	if _, err := d.must(ctx, asHelpdesk, engine.Reset{Helpdesk: &engine.Helpdesk{Operator: "kari.hansen", Ticket: "INC-4711"}}); err != nil {
		return err
	}
	d.printf("     Ola signs in again:\n")
	if err := d.refused(ctx, asUser, engine.IssueChallenge{App: "web"}, vakt.CodeEnrolmentRequired); err != nil {
		return err
	}
	d.printf("     Ola must enrol again before signing in.\n")

	return d.summary(ctx)
}

// summary reads the whole stream back, verifies its hash chain and counts
// what happened.
func (d *demo) summary(ctx context.Context) error {
	recs, err := d.store.Load(ctx, d.stream, events.Head{})
	if err != nil {
		return err
	}
	v := events.NewVerifier()
	var ok, failed, enrolled, removed int
	for i := range recs {
		if brk := v.Check(&recs[i]); brk != nil {
			return fmt.Errorf("verify the hash chain: %w", brk)
		}
		switch e := recs[i].Event.(type) {
		case events.ChallengeSucceeded:
			ok++
		case events.AttemptFailed:
			failed++
		case events.Activated:
			enrolled++
		case events.Removed:
			removed++
		case events.ResetCompleted:
			removed += e.Removed
		}
	}
	head := v.Heads()[d.stream]
	d.printf("\nSummary\n")
	d.printf("     %d events from %d commands on %s; hash chain verified, head %s…\n", len(recs), d.cmds, d.stream, head.Hash.String()[:16])
	d.printf("     %d authenticator(s) enrolled, %d removed or revoked; %d sign-in(s) succeeded, %d code(s) rejected.\n", enrolled, removed, ok, failed)
	d.printf("     Nothing was kept: the store lived in memory.\n")
	return nil
}
