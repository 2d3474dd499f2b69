package engine

import (
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// Decision is what Decide returns: the events to append, in order, and the
// reply for the caller.
type Decision struct {
	Events []events.Event
	Reply  Reply
}

// Decide is the engine: it decides what a command does to a user, as events.
// It is pure (time and entropy come from env) and does not modify u.
//
// It returns one of three things:
//   - events and no error: the command succeeded; append the events;
//   - no events and an error: the command was refused and changes nothing;
//   - events and an error: a recorded rejection (a wrong or replayed code
//     counts towards lockout): append the events, then report the error.
func Decide(u *User, cmd Command, env Env) (Decision, error) {
	var dv decider
	d := &dv
	d.u, d.env, d.now, d.p = u, env, env.Now.UTC(), env.Policy
	if d.p == nil {
		d.p = &defaultPolicy
	}
	if env.Rand == nil {
		return Decision{}, vakt.Errorf(vakt.CodeInternal, "no entropy source in the environment")
	}
	if cmd == nil {
		return Decision{}, vakt.Errorf(vakt.CodeInvalidArgument, "no command")
	}
	if u.Erased {
		return Decision{}, vakt.Errorf(vakt.CodeErased, "this user was erased; create a new user id to start again")
	}
	var err error
	switch c := cmd.(type) {
	case StartEnrolment:
		err = d.startEnrolment(c)
	case ConfirmEnrolment:
		err = d.confirmEnrolment(c)
	case RenameAuthenticator:
		err = d.rename(c)
	case SetDefault:
		err = d.setDefault(c)
	case RemoveAuthenticator:
		err = d.remove(c)
	case ResyncHOTP:
		err = d.resyncHOTP(c)
	case IssueRecoveryCodes:
		err = d.issueRecoveryCodes()
	case IssueChallenge:
		err = d.issueChallenge(c)
	case SendCode:
		err = d.sendCode(c)
	case SendPush:
		err = d.sendPush(c)
	case VerifyCode:
		err = d.verifyCode(c)
	case RespondPush:
		err = d.respondPush(c)
	case RememberDevice:
		err = d.rememberDevice(c)
	case ForgetDevice:
		err = d.forgetDevice(c)
	case SnoozeEnrolment:
		err = d.snooze(c)
	case IssueTemporaryPass:
		err = d.issueTemporaryPass(c)
	case Reset:
		err = d.reset(c)
	case Unlock:
		err = d.unlock(c)
	case Erase:
		err = d.erase(c)
	case Expire:
		err = d.expireStale()
	default:
		return Decision{}, vakt.Errorf(vakt.CodeInvalidArgument, "unknown command %q for a user", cmd.CommandType())
	}
	if d.buf != nil {
		clear(d.buf.seed[:])
		scratchPool.Put(d.buf)
		d.buf = nil
	}
	if err != nil && !d.recorded {
		return Decision{}, err
	}
	return Decision{Events: d.evs, Reply: d.reply}, err
}

// decider carries one decision. The state it reads is u as given plus what
// the events emitted so far in this decision change; helpers that look at
// state take the emitted events into account explicitly (see gone).
type decider struct {
	u     *User
	env   Env
	p     *Policy
	now   time.Time
	evs   []events.Event
	reply Reply
	// recorded marks an error whose events must be kept (a recorded rejection).
	recorded bool
	// gone lists the challenges, authenticators and devices this decision
	// already ended (a handful at most).
	gone goneSet
	// buf holds additional data and opened seeds without allocating; taken
	// from a pool on first use, returned when the decision ends.
	buf *scratch
}

type scratch struct {
	aad  [512]byte
	seed [maxImportSeed + 16]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (d *decider) scratch() *scratch {
	if d.buf == nil {
		d.buf = scratchPool.Get().(*scratch)
	}
	return d.buf
}

type goneSet []string

func (g goneSet) has(id string) bool {
	for _, v := range g {
		if v == id {
			return true
		}
	}
	return false
}

func (d *decider) emit(evs ...events.Event) { d.evs = append(d.evs, evs...) }

func (d *decider) end(id string) { d.gone = append(d.gone, id) }

// reject keeps the events emitted so far and returns err with them.
func (d *decider) reject(err error) error {
	d.recorded = true
	return err
}

func (d *decider) newID() (string, error) { return events.NewID(d.now, d.env.Rand) }

// ---- input checks ---------------------------------------------------------------

func invalid(format string, args ...any) error {
	return vakt.Errorf(vakt.CodeInvalidArgument, format, args...)
}

// checkID checks an id that Vakt generated and the caller sends back.
func checkID(field, id string) error {
	if !events.IsID(id) {
		return invalid("%s must be an id that vakt returned (a lowercase UUID)", field)
	}
	return nil
}

// checkText checks free text such as labels, operators and tickets: 1 to max
// characters of valid UTF-8 without control characters.
func checkText(field, s string, max int) error {
	switch {
	case s == "":
		return invalid("%s is empty", field)
	case !utf8.ValidString(s):
		return invalid("%s is not valid UTF-8", field)
	case utf8.RuneCountInString(s) > max:
		return invalid("%s is longer than %d characters", field, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid("%s contains a control character", field)
		}
	}
	return nil
}

func checkOptionalText(field, s string, max int) error {
	if s == "" {
		return nil
	}
	return checkText(field, s, max)
}

// checkName checks a short machine name (applications): lowercase letters,
// digits, '-', '_' and '.'.
func checkName(field, s string) error {
	if s == "" || len(s) > 64 {
		return invalid("%s must be 1 to 64 characters", field)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return invalid("%s %q may hold only lowercase letters, digits, '-', '_' and '.'", field, s)
		}
	}
	return nil
}

func checkContext(c events.Context) error {
	for _, f := range []struct{ name, v string }{
		{"context.application", c.Application}, {"context.ip", c.IP},
		{"context.user_agent", c.UserAgent}, {"context.location", c.Location},
	} {
		if err := checkOptionalText(f.name, f.v, 256); err != nil {
			return err
		}
	}
	return nil
}

func checkOperator(operator, ticket string) error {
	if err := checkText("operator", operator, 128); err != nil {
		return err
	}
	return checkText("ticket", ticket, 128)
}

// ---- shared state questions ------------------------------------------------------

// codeLock returns the lock on code-based methods in force now, if any.
func (d *decider) codeLocked() (Lock, bool) {
	l := d.u.Lock
	return l, l.Active(d.now)
}

// pushLocked reports whether push is refused: a fraud lock stops it; other
// locks do not (an attacker who knows only a user name cannot lock the user
// out of push).
func (d *decider) pushLocked() bool {
	l := d.u.Lock
	return l.Reason == lockFraud && l.Active(d.now)
}

func (d *decider) pushPaused() bool { return d.now.Before(d.u.PushPausedUntil) }

func lockedErr(l Lock) error {
	if l.Permanent {
		return vakt.Errorf(vakt.CodeLockedOut, "too many failed attempts; ask the helpdesk to unlock the account")
	}
	return vakt.Errorf(vakt.CodeLockedOut, "too many failed attempts; try again after %s", l.Until.Format(time.RFC3339))
}

// pendingChallenge finds a challenge the caller may still answer, with the
// errors people meet: unknown (or someone else's), already answered, expired.
func (d *decider) pendingChallenge(id string) (*Challenge, error) {
	if err := checkID("challenge_id", id); err != nil {
		return nil, err
	}
	c := d.u.Challenge(id)
	if c == nil || d.gone.has(id) {
		if f := d.u.finished(id); f != nil {
			if f.Outcome == OutcomeExpired {
				return nil, vakt.Errorf(vakt.CodeExpired, "the challenge expired; start a new sign-in")
			}
			return nil, vakt.Errorf(vakt.CodeConflict, "the challenge was already answered (%s)", f.Outcome)
		}
		return nil, vakt.Errorf(vakt.CodeNotFound, "no such challenge for this user")
	}
	if !d.now.Before(c.ExpiresAt) {
		return nil, vakt.Errorf(vakt.CodeExpired, "the challenge expired; start a new sign-in")
	}
	return c, nil
}

func (d *decider) activeAuthenticator(id string) (*Authenticator, error) {
	if err := checkID("authenticator_id", id); err != nil {
		return nil, err
	}
	a := d.u.Authenticator(id)
	if a == nil || d.gone.has(id) {
		return nil, vakt.Errorf(vakt.CodeNotFound, "no such authenticator for this user")
	}
	if a.Status != StatusActive {
		return nil, vakt.Errorf(vakt.CodeConflict, "the authenticator is not active yet; confirm it first")
	}
	return a, nil
}

// refusals counts push refusals inside the fatigue window ending now,
// including extra ones this decision adds.
func (d *decider) refusals(extra ...time.Time) int {
	from := d.now.Add(-d.p.PushFatigue.Window.D())
	n := 0
	for _, t := range append(append([]time.Time(nil), d.u.PushRefusals...), extra...) {
		if t.After(from) {
			n++
		}
	}
	return n
}

// maybePause emits push.paused when the refusals reach the policy's limit.
func (d *decider) maybePause(extra ...time.Time) {
	if n := d.refusals(extra...); n >= d.p.PushFatigue.Refusals {
		d.emit(events.PushPaused{Until: d.now.Add(d.p.PushFatigue.Pause.D()), Refused: n})
	}
}

// expireStale ends whatever has run out: challenges (an unanswered push counts
// towards the fatigue pause), pending enrolments and remembered devices.
func (d *decider) expireStale() error {
	var unanswered []time.Time
	for i := range d.u.Challenges {
		c := &d.u.Challenges[i]
		if !d.now.Before(c.ExpiresAt) && !d.gone.has(c.ID) {
			d.emit(events.ChallengeExpired{ChallengeID: c.ID, PushUnanswered: c.Push != nil})
			d.end(c.ID)
			if c.Push != nil {
				unanswered = append(unanswered, c.Push.ExpiresAt)
			}
		}
	}
	for i := range d.u.Authenticators {
		a := &d.u.Authenticators[i]
		if a.Status == StatusPending && !d.now.Before(a.ExpiresAt) && !d.gone.has(a.ID) {
			d.emit(events.EnrolmentExpired{AuthenticatorID: a.ID, Reason: "expired"})
			d.end(a.ID)
		}
	}
	for i := range d.u.Devices {
		dev := &d.u.Devices[i]
		if !d.now.Before(dev.ExpiresAt) && !d.gone.has(dev.ID) {
			d.emit(events.DeviceForgotten{DeviceID: dev.ID, Reason: "expired"})
			d.end(dev.ID)
		}
	}
	if len(unanswered) > 0 && !d.pushPaused() {
		d.maybePause(unanswered...)
	}
	return nil
}

// ---- lockout -----------------------------------------------------------------------

const (
	lockFailures = "failures"
	lockFraud    = "fraud"
)

// failAttempt records a failed code (invalid or reused) and the lockout it
// triggers, and returns err as a recorded rejection.
func (d *decider) failAttempt(c *Challenge, a *Authenticator, reason string, err *vakt.Error) error {
	failures := d.u.Failures + 1
	ev := events.AttemptFailed{ChallengeID: c.ID, Reason: reason, Failures: failures}
	if a != nil {
		ev.AuthenticatorID, ev.Method = a.ID, a.Method
	}
	d.emit(ev)
	lp := d.p.Lockout
	switch {
	case failures >= lp.HardLimit:
		d.emit(events.LockedOut{Reason: lockFailures, Level: failures / lp.Threshold, Failures: failures, Permanent: true})
		err = vakt.Errorf(vakt.CodeOf(err), "%s; after %d failed attempts codes are locked until the helpdesk unlocks the account", err.Message, failures)
	case failures%lp.Threshold == 0:
		level := failures / lp.Threshold
		wait := lp.Base.D()
		for i := 1; i < level && wait < lp.Max.D(); i++ {
			wait *= 2
		}
		wait = min(wait, lp.Max.D())
		until := d.now.Add(wait)
		d.emit(events.LockedOut{Reason: lockFailures, Level: level, Failures: failures, Until: until})
		err = vakt.Errorf(vakt.CodeOf(err), "%s; after %d failed attempts codes are locked until %s", err.Message, failures, until.Format(time.RFC3339))
	}
	return d.reject(err)
}
