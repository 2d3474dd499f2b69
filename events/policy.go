package events

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Policy is a tenant's MFA policy: every number the engine decides with. It is
// data here because it travels inside the policy.set event; the defaults and
// the validation live in the engine ([github.com/vaktmfa/vakt/engine.DefaultPolicy]).
type Policy struct {
	// Issuer names the service in authenticator apps (the otpauth issuer).
	Issuer string `json:"issuer"`
	// Methods that may be enrolled and used.
	Methods []string `json:"methods"`
	// TOTP is the profile of new TOTP authenticators and the verification skew.
	TOTP OTPProfile `json:"totp"`
	// HOTPLookAhead is how many counters past the expected one a code may match.
	HOTPLookAhead int `json:"hotp_look_ahead"`
	// HOTPResyncWindow is how far two consecutive codes are searched to resync.
	HOTPResyncWindow int `json:"hotp_resync_window"`

	EnrolmentTTL    Duration `json:"enrolment_ttl"`    // a pending enrolment on a screen
	ActivationTTL   Duration `json:"activation_ttl"`   // an onboarding activation link
	ConfirmAttempts int      `json:"confirm_attempts"` // wrong confirmations before a pending enrolment is dropped

	ChallengeTTL         Duration `json:"challenge_ttl"`
	MaxPendingChallenges int      `json:"max_pending_challenges"`
	PushTTL              Duration `json:"push_ttl"`
	MaxPendingPushes     int      `json:"max_pending_pushes"`
	PushFatigue          Fatigue  `json:"push_fatigue"`
	// FraudLock locks every method, push included, when the user reports fraud,
	// until the helpdesk unlocks or resets the user.
	FraudLock bool `json:"fraud_lock"`

	OOB     OOBPolicy     `json:"oob"` // SMS and e-mail codes
	Lockout LockoutPolicy `json:"lockout"`

	// Apps lists the applications and how long each lets a remembered browser
	// skip the challenge (0: every login).
	Apps                 []AppPolicy `json:"apps"`
	MaxRememberedDevices int         `json:"max_remembered_devices"`

	// EnforceFrom: before it, a user without an authenticator may snooze
	// enrolment MaxSnoozes times; from it, the challenge answers
	// enrolment_required. The zero time enforces from the start.
	EnforceFrom time.Time `json:"enforce_from,omitzero"`
	MaxSnoozes  int       `json:"max_snoozes"`

	// ResetProofLevel is the eIDAS level (low, substantial, high) that an
	// identity proof must reach for a self-service reset.
	ResetProofLevel string `json:"reset_proof_level"`

	TemporaryPassTTL    Duration `json:"temporary_pass_ttl"`
	TemporaryPassMaxTTL Duration `json:"temporary_pass_max_ttl"`

	RecoveryCodes     int `json:"recovery_codes"`
	MaxAuthenticators int `json:"max_authenticators"`
}

// OTPProfile is the algorithm, length and period of OTP codes.
type OTPProfile struct {
	Algorithm string `json:"algorithm"` // SHA1, SHA256 or SHA512
	Digits    int    `json:"digits"`    // 6 or 8
	Period    int    `json:"period"`    // seconds
	Skew      int    `json:"skew"`      // steps accepted either side
}

// Fatigue is the push-fatigue rule: Refusals denied or unanswered pushes within
// Window pause push for Pause.
type Fatigue struct {
	Refusals int      `json:"refusals"`
	Window   Duration `json:"window"`
	Pause    Duration `json:"pause"`
}

// OOBPolicy governs codes sent by SMS or e-mail.
type OOBPolicy struct {
	CodeTTL  Duration `json:"code_ttl"`
	Attempts int      `json:"attempts"`
	Digits   int      `json:"digits"`
}

// LockoutPolicy is the lockout ladder: after Threshold consecutive failures the
// code-based methods lock for Base, doubling with every further Threshold
// failures up to Max; HardLimit consecutive failures lock until a helpdesk
// unlock or a reset.
type LockoutPolicy struct {
	Threshold int      `json:"threshold"`
	Base      Duration `json:"base"`
	Max       Duration `json:"max"`
	HardLimit int      `json:"hard_limit"`
}

// AppPolicy is one application's remembered-browser rule.
type AppPolicy struct {
	Name        string   `json:"name"`
	RememberFor Duration `json:"remember_for"`
}

// App returns the named application's policy.
func (p *Policy) App(name string) (AppPolicy, bool) {
	for _, a := range p.Apps {
		if a.Name == name {
			return a, true
		}
	}
	return AppPolicy{}, false
}

// Allows reports whether the method may be used in this tenant.
func (p *Policy) Allows(method string) bool {
	for _, m := range p.Methods {
		if m == method {
			return true
		}
	}
	return false
}

// Duration is a time.Duration written in JSON as "90s", "10m", "1h30m" or "20d".
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d with the largest whole units: 20d, 1h30m, 2m, 500ms.
func (d Duration) String() string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	mag := uint64(d)
	if d < 0 {
		b.WriteByte('-')
		mag = -mag // two's complement: right for math.MinInt64 too
	}
	units := []struct {
		n string
		d uint64
	}{{"d", uint64(24 * time.Hour)}, {"h", uint64(time.Hour)}, {"m", uint64(time.Minute)}, {"s", uint64(time.Second)},
		{"ms", uint64(time.Millisecond)}, {"us", uint64(time.Microsecond)}, {"ns", 1}}
	for _, u := range units {
		if mag >= u.d {
			b.WriteString(strconv.FormatUint(mag/u.d, 10))
			b.WriteString(u.n)
			mag %= u.d
		}
	}
	return b.String()
}

// MarshalText writes the duration as in String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what String writes and what Go's time.ParseDuration
// reads (except -2^63 ns written without days, which String never writes):
// an optional sign, then optional whole days "<n>d", then the rest ("1d12h",
// "-3d", "90s").
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	bad := fmt.Errorf("duration %q: write it like 90s, 10m, 1h30m or 20d", s)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	if s == "" {
		return bad
	}
	var mag uint64 // nanoseconds
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		if i == 0 || s[0] == '+' || s[0] == '-' {
			return bad
		}
		n, err := strconv.ParseUint(s[:i], 10, 64)
		if err != nil || n > (1<<63)/uint64(24*time.Hour) {
			return bad
		}
		mag, s = n*uint64(24*time.Hour), s[i+1:]
	}
	if s != "" {
		if s[0] == '-' || s[0] == '+' {
			return bad
		}
		v, err := time.ParseDuration(s)
		if err != nil || uint64(v) > 1<<63-mag {
			return bad
		}
		mag += uint64(v)
	}
	switch {
	case neg:
		*d = Duration(-int64(mag-1) - 1) // -(1<<63) included
	case mag > math.MaxInt64:
		return bad
	default:
		*d = Duration(mag)
	}
	return nil
}
