package engine

import (
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// Policy is a tenant's MFA policy. It is defined in the events package because
// it travels in the policy.set event; see [events.Policy] for every field.
type Policy = events.Policy

const day = 24 * time.Hour

// defaultPolicy is what Decide uses when the environment names no policy; it
// is never modified.
var defaultPolicy = DefaultPolicy()

// DefaultPolicy returns the policy of a tenant that never set one: the numbers
// of DESIGN.md section 3 (RFC 6238 SHA1/6/30 with one step of skew, NIST
// 800-63B lockout and out-of-band limits, push number matching and fatigue
// protection, web 20 days, office 90 days, rdp every login).
func DefaultPolicy() Policy {
	return Policy{
		Issuer:           "Vakt",
		Methods:          []string{events.MethodTOTP, events.MethodHOTP, events.MethodPush, events.MethodSMS, events.MethodEmail, events.MethodRecoveryCode, events.MethodTemporaryPass},
		TOTP:             events.OTPProfile{Algorithm: "SHA1", Digits: 6, Period: 30, Skew: 1},
		HOTPLookAhead:    10,
		HOTPResyncWindow: 100,
		EnrolmentTTL:     events.Duration(10 * time.Minute),
		ActivationTTL:    events.Duration(7 * day),
		ConfirmAttempts:  5,
		ChallengeTTL:     events.Duration(5 * time.Minute),

		MaxPendingChallenges: 10,
		PushTTL:              events.Duration(2 * time.Minute),
		MaxPendingPushes:     3,
		PushFatigue:          events.Fatigue{Refusals: 3, Window: events.Duration(time.Hour), Pause: events.Duration(15 * time.Minute)},
		OOB:                  events.OOBPolicy{CodeTTL: events.Duration(5 * time.Minute), Attempts: 3, Digits: 6},
		Lockout:              events.LockoutPolicy{Threshold: 5, Base: events.Duration(time.Minute), Max: events.Duration(time.Hour), HardLimit: 100},
		Apps: []events.AppPolicy{
			{Name: "web", RememberFor: events.Duration(20 * day)},
			{Name: "office", RememberFor: events.Duration(90 * day)},
			{Name: "rdp", RememberFor: 0},
		},
		MaxRememberedDevices: 20,
		MaxSnoozes:           3,
		ResetProofLevel:      ACRHigh,
		TemporaryPassTTL:     events.Duration(time.Hour),
		TemporaryPassMaxTTL:  events.Duration(30 * day),
		RecoveryCodes:        10,
		MaxAuthenticators:    10,
	}
}

// Complete fills every zero field of p with the default, so that a policy
// document may name only what it changes. Apps is replaced as a whole when
// given (a zero remember_for there means "every login", not "default").
func Complete(p Policy) Policy { return complete(p, false) }

// complete is Complete; exact keeps the zeros that mean something
// (totp.skew 0: only the current step; max_snoozes 0: no snoozing), for a
// policy whose absent fields already hold the defaults (SetPolicy.Exact).
func complete(p Policy, exact bool) Policy {
	d := DefaultPolicy()
	str := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	num := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	dur := func(v *events.Duration, def events.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	str(&p.Issuer, d.Issuer)
	if len(p.Methods) == 0 {
		p.Methods = d.Methods
	}
	str(&p.TOTP.Algorithm, d.TOTP.Algorithm)
	num(&p.TOTP.Digits, d.TOTP.Digits)
	num(&p.TOTP.Period, d.TOTP.Period)
	if !exact {
		num(&p.TOTP.Skew, d.TOTP.Skew)
	}
	num(&p.HOTPLookAhead, d.HOTPLookAhead)
	num(&p.HOTPResyncWindow, d.HOTPResyncWindow)
	dur(&p.EnrolmentTTL, d.EnrolmentTTL)
	dur(&p.ActivationTTL, d.ActivationTTL)
	num(&p.ConfirmAttempts, d.ConfirmAttempts)
	dur(&p.ChallengeTTL, d.ChallengeTTL)
	num(&p.MaxPendingChallenges, d.MaxPendingChallenges)
	dur(&p.PushTTL, d.PushTTL)
	num(&p.MaxPendingPushes, d.MaxPendingPushes)
	num(&p.PushFatigue.Refusals, d.PushFatigue.Refusals)
	dur(&p.PushFatigue.Window, d.PushFatigue.Window)
	dur(&p.PushFatigue.Pause, d.PushFatigue.Pause)
	dur(&p.OOB.CodeTTL, d.OOB.CodeTTL)
	num(&p.OOB.Attempts, d.OOB.Attempts)
	num(&p.OOB.Digits, d.OOB.Digits)
	num(&p.Lockout.Threshold, d.Lockout.Threshold)
	dur(&p.Lockout.Base, d.Lockout.Base)
	dur(&p.Lockout.Max, d.Lockout.Max)
	num(&p.Lockout.HardLimit, d.Lockout.HardLimit)
	if p.Apps == nil {
		p.Apps = d.Apps
	}
	num(&p.MaxRememberedDevices, d.MaxRememberedDevices)
	if !exact {
		num(&p.MaxSnoozes, d.MaxSnoozes)
	}
	str(&p.ResetProofLevel, d.ResetProofLevel)
	dur(&p.TemporaryPassTTL, d.TemporaryPassTTL)
	dur(&p.TemporaryPassMaxTTL, d.TemporaryPassMaxTTL)
	num(&p.RecoveryCodes, d.RecoveryCodes)
	num(&p.MaxAuthenticators, d.MaxAuthenticators)
	if !p.EnforceFrom.IsZero() {
		p.EnforceFrom = p.EnforceFrom.UTC()
	}
	return p
}

// ValidatePolicy rejects a complete policy with impossible or unsafe numbers.
func ValidatePolicy(p *Policy) error {
	bad := func(format string, args ...any) error {
		return vakt.Errorf(vakt.CodeInvalidArgument, "policy: "+format, args...)
	}
	between := func(name string, v, lo, hi int) error {
		if v < lo || v > hi {
			return bad("%s is %d; it must be from %d to %d", name, v, lo, hi)
		}
		return nil
	}
	durBetween := func(name string, v events.Duration, lo, hi time.Duration) error {
		if v.D() < lo || v.D() > hi {
			return bad("%s is %s; it must be from %s to %s", name, v, events.Duration(lo), events.Duration(hi))
		}
		return nil
	}
	if err := checkText("issuer", p.Issuer, 64); err != nil {
		return err
	}
	for _, c := range p.Issuer {
		if c == ':' {
			return bad("issuer must not contain ':' (authenticator apps split the label on it)")
		}
	}
	if len(p.Methods) == 0 {
		return bad("methods is empty; allow at least one method")
	}
	seen := map[string]bool{}
	for _, m := range p.Methods {
		if !knownMethod(m) {
			return bad("unknown method %q; known: totp, hotp, push, sms, email, recovery_code, temporary_pass", m)
		}
		if seen[m] {
			return bad("method %q is listed twice", m)
		}
		seen[m] = true
	}
	switch p.TOTP.Algorithm {
	case "SHA1", "SHA256", "SHA512":
	default:
		return bad("totp.algorithm %q; use SHA1, SHA256 or SHA512", p.TOTP.Algorithm)
	}
	if p.TOTP.Digits != 6 && p.TOTP.Digits != 8 {
		return bad("totp.digits is %d; use 6 or 8", p.TOTP.Digits)
	}
	if p.OOB.Digits != 6 && p.OOB.Digits != 8 {
		return bad("oob.digits is %d; use 6 or 8", p.OOB.Digits)
	}
	checks := []error{
		// NIST 800-63B: the time step changes at least every 2 minutes.
		between("totp.period", p.TOTP.Period, 15, 120),
		between("totp.skew", p.TOTP.Skew, 0, 3),
		between("hotp_look_ahead", p.HOTPLookAhead, 1, 50),
		between("hotp_resync_window", p.HOTPResyncWindow, p.HOTPLookAhead, 1000),
		durBetween("enrolment_ttl", p.EnrolmentTTL, time.Minute, time.Hour),
		durBetween("activation_ttl", p.ActivationTTL, time.Hour, 90*day),
		between("confirm_attempts", p.ConfirmAttempts, 1, 10),
		durBetween("challenge_ttl", p.ChallengeTTL, 30*time.Second, 30*time.Minute),
		between("max_pending_challenges", p.MaxPendingChallenges, 1, 50),
		// Never more than 10 minutes for an out-of-band secret (NIST 800-63B).
		durBetween("push_ttl", p.PushTTL, 10*time.Second, 10*time.Minute),
		between("max_pending_pushes", p.MaxPendingPushes, 1, 10),
		between("push_fatigue.refusals", p.PushFatigue.Refusals, 1, 20),
		durBetween("push_fatigue.window", p.PushFatigue.Window, time.Minute, 7*day),
		durBetween("push_fatigue.pause", p.PushFatigue.Pause, time.Minute, 7*day),
		durBetween("oob.code_ttl", p.OOB.CodeTTL, 30*time.Second, 10*time.Minute),
		between("oob.attempts", p.OOB.Attempts, 1, 10),
		between("lockout.threshold", p.Lockout.Threshold, 1, 100),
		durBetween("lockout.base", p.Lockout.Base, time.Second, 24*time.Hour),
		durBetween("lockout.max", p.Lockout.Max, p.Lockout.Base.D(), 7*day),
		// NIST 800-63B: no more than 100 consecutive failures.
		between("lockout.hard_limit", p.Lockout.HardLimit, p.Lockout.Threshold, 100),
		between("max_remembered_devices", p.MaxRememberedDevices, 1, 100),
		between("max_snoozes", p.MaxSnoozes, 0, 10),
		durBetween("temporary_pass_max_ttl", p.TemporaryPassMaxTTL, 10*time.Minute, 90*day),
		durBetween("temporary_pass_ttl", p.TemporaryPassTTL, 10*time.Minute, p.TemporaryPassMaxTTL.D()),
		between("recovery_codes", p.RecoveryCodes, 1, 20),
		between("max_authenticators", p.MaxAuthenticators, 1, 20),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if len(p.Apps) == 0 || len(p.Apps) > 50 {
		return bad("apps must list 1 to 50 applications")
	}
	apps := map[string]bool{}
	for _, a := range p.Apps {
		if err := checkName("app name", a.Name); err != nil {
			return err
		}
		if apps[a.Name] {
			return bad("app %q is listed twice", a.Name)
		}
		apps[a.Name] = true
		if err := durBetween("apps."+a.Name+".remember_for", a.RememberFor, 0, 365*day); err != nil {
			return err
		}
	}
	if level(p.ResetProofLevel) == 0 {
		return bad("reset_proof_level %q; use low, substantial or high", p.ResetProofLevel)
	}
	return nil
}

func knownMethod(m string) bool {
	switch m {
	case events.MethodTOTP, events.MethodHOTP, events.MethodPush, events.MethodSMS, events.MethodEmail, events.MethodRecoveryCode, events.MethodTemporaryPass:
		return true
	}
	return false
}
