package engine

import (
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// Authenticator statuses.
const (
	StatusPending = "pending"
	StatusActive  = "active"
)

// User is the state of one user's stream: only what decisions need. Its size is
// bounded by the policy (authenticators, pending challenges, remembered
// devices), never by the number of sign-ins; history lives in the events and
// the projections. The zero value is not usable; start from [NewUser].
type User struct {
	Tenant string      `json:"tenant"`
	ID     string      `json:"id"`
	Head   events.Head `json:"head"`
	Erased bool        `json:"erased,omitempty"`

	Authenticators []Authenticator `json:"authenticators,omitempty"`
	Default        string          `json:"default,omitempty"`

	Challenges []Challenge `json:"challenges,omitempty"` // pending, oldest first
	Finished   []Finished  `json:"finished,omitempty"`   // the last few, newest last

	Failures int  `json:"failures,omitempty"` // consecutive failed codes
	Lock     Lock `json:"lock,omitzero"`

	PushRefusals    []time.Time `json:"push_refusals,omitempty"` // denied or unanswered pushes, newest last
	PushPausedUntil time.Time   `json:"push_paused_until,omitzero"`

	Devices       []Device       `json:"devices,omitempty"`
	RecoveryCodes []RecoveryCode `json:"recovery_codes,omitempty"`
	TemporaryPass *TemporaryPass `json:"temporary_pass,omitempty"`
	Snoozes       int            `json:"snoozes,omitempty"`
}

// Authenticator is one enrolled (or pending) method.
type Authenticator struct {
	ID        string    `json:"id"`
	Method    string    `json:"method"`
	Label     string    `json:"label"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	ACR       string    `json:"acr,omitempty"`

	// Pending only.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Attempts  int       `json:"attempts,omitempty"`
	CodeHash  []byte    `json:"code_hash,omitempty"`

	Secret    events.Sealed `json:"secret,omitzero"`
	Algorithm string        `json:"algorithm,omitempty"`
	Digits    int           `json:"digits,omitempty"`
	Period    int           `json:"period,omitempty"`
	Address   events.Sealed `json:"address,omitzero"`

	LastStep      int64  `json:"last_step,omitempty"`      // TOTP: last accepted time step
	Drift         int64  `json:"drift,omitempty"`          // TOTP: window centre offset in steps
	PendingOffset int64  `json:"pending_offset,omitempty"` // TOTP: last off-centre match, to confirm drift
	Counter       uint64 `json:"counter,omitempty"`        // HOTP: next expected counter

	PublicKey        []byte `json:"public_key,omitempty"`
	UserVerification bool   `json:"user_verification,omitempty"`
}

// Challenge is a pending sign-in challenge.
type Challenge struct {
	ID          string              `json:"id"`
	App         string              `json:"app"`
	RequiredACR string              `json:"required_acr"`
	Methods     []string            `json:"methods"`
	IssuedAt    time.Time           `json:"issued_at"`
	ExpiresAt   time.Time           `json:"expires_at"`
	Push        *events.PushRequest `json:"push,omitempty"`
	Code        *SentCode           `json:"code,omitempty"`
	Sends       int                 `json:"sends,omitempty"` // codes sent for this challenge
	Application string              `json:"application,omitempty"`
	Client      events.Sealed       `json:"client,omitzero"`
}

// SentCode is an SMS or e-mail code sent for a challenge.
type SentCode struct {
	AuthenticatorID string    `json:"authenticator_id"`
	Method          string    `json:"method"`
	Hash            []byte    `json:"hash"`
	ExpiresAt       time.Time `json:"expires_at"`
	Attempts        int       `json:"attempts,omitempty"`
}

// Finished remembers how a recent challenge ended, so that a second answer gets
// a clear conflict and a pushed success can still remember the browser.
type Finished struct {
	ID         string    `json:"id"`
	Outcome    string    `json:"outcome"` // succeeded, denied, fraud_reported, expired, skipped
	App        string    `json:"app,omitempty"`
	ACR        string    `json:"acr,omitempty"`
	Method     string    `json:"method,omitempty"`
	AMR        []string  `json:"amr,omitempty"`
	At         time.Time `json:"at"`
	Remembered bool      `json:"remembered,omitempty"`
}

// Lock is a lockout of the code-based methods (and of push too when Reason is
// fraud).
type Lock struct {
	Until     time.Time `json:"until,omitzero"`
	Permanent bool      `json:"permanent,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Level     int       `json:"level,omitempty"`
}

// IsZero reports whether there is no lock.
func (l Lock) IsZero() bool {
	return l.Until.IsZero() && !l.Permanent && l.Reason == "" && l.Level == 0
}

// Active reports whether the lock holds at now.
func (l Lock) Active(now time.Time) bool { return l.Permanent || now.Before(l.Until) }

// Device is a remembered browser.
type Device struct {
	ID        string    `json:"id"`
	TokenHash []byte    `json:"token_hash"`
	App       string    `json:"app"`
	ACR       string    `json:"acr"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RecoveryCode is one salted, keyed hash and whether it was used.
type RecoveryCode struct {
	events.CodeHash
	Used bool `json:"used,omitempty"`
}

// TemporaryPass is the hash of a pass issued by the helpdesk.
type TemporaryPass struct {
	Hash      []byte    `json:"hash"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Outcomes of finished challenges.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeDenied    = "denied"
	OutcomeFraud     = "fraud_reported"
	OutcomeExpired   = "expired"
	OutcomeSkipped   = "skipped"
)

const (
	maxFinished     = 8  // recent outcomes kept to answer repeats
	maxRefusalsKept = 20 // push refusals kept (policy allows at most 20)
)

// NewUser returns the state of a user with no events.
func NewUser(tenant, id string) *User { return &User{Tenant: tenant, ID: id} }

// Authenticator returns the authenticator with id, or nil.
func (u *User) Authenticator(id string) *Authenticator {
	for i := range u.Authenticators {
		if u.Authenticators[i].ID == id {
			return &u.Authenticators[i]
		}
	}
	return nil
}

// Challenge returns the pending challenge with id, or nil.
func (u *User) Challenge(id string) *Challenge {
	for i := range u.Challenges {
		if u.Challenges[i].ID == id {
			return &u.Challenges[i]
		}
	}
	return nil
}

func (u *User) finished(id string) *Finished {
	for i := range u.Finished {
		if u.Finished[i].ID == id {
			return &u.Finished[i]
		}
	}
	return nil
}

// Active returns the active authenticators, oldest first.
func (u *User) Active() []*Authenticator {
	var out []*Authenticator
	for i := range u.Authenticators {
		if u.Authenticators[i].Status == StatusActive {
			out = append(out, &u.Authenticators[i])
		}
	}
	return out
}

// Fold returns the state of a user from its records, in order.
func Fold(tenant, id string, recs []events.Record) (*User, error) {
	u := NewUser(tenant, id)
	for i := range recs {
		if err := u.Evolve(&recs[i]); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Evolve applies one stored event to the state. It checks that the event
// belongs to this stream and comes next; the fold itself is total (an event
// about an authenticator that is gone changes nothing).
func (u *User) Evolve(rec *events.Record) error {
	if rec.Tenant != u.Tenant || rec.User != u.ID {
		return vakt.Errorf(vakt.CodeInternal, "event of %s folded into tenant %q user %q", rec.Stream(), u.Tenant, u.ID)
	}
	if rec.Seq != u.Head.Seq+1 {
		return vakt.Errorf(vakt.CodeInternal, "%s: event seq %d after %d", rec.Stream(), rec.Seq, u.Head.Seq)
	}
	u.apply(rec.Event, rec.Time)
	u.Head = rec.Head()
	return nil
}

func (u *User) apply(ev events.Event, at time.Time) {
	switch e := ev.(type) {
	case events.EnrolmentStarted:
		u.Authenticators = append(u.Authenticators, Authenticator{
			ID: e.AuthenticatorID, Method: e.Method, Label: e.Label, Status: StatusPending,
			CreatedAt: at, ExpiresAt: e.ExpiresAt, Secret: e.Secret, Algorithm: e.Algorithm,
			Digits: e.Digits, Period: e.Period, Address: e.Address, CodeHash: e.CodeHash,
		})
	case events.ConfirmationFailed:
		if a := u.Authenticator(e.AuthenticatorID); a != nil {
			a.Attempts = e.Attempts
		}
	case events.Activated:
		if a := u.Authenticator(e.AuthenticatorID); a != nil {
			a.Status, a.ACR = StatusActive, e.ACR
			a.ExpiresAt, a.Attempts, a.CodeHash = time.Time{}, 0, nil
			a.LastStep, a.Counter = e.Step, e.Counter
			a.PublicKey, a.UserVerification = e.PublicKey, e.UserVerification
			if a.Method == events.MethodPush {
				a.Secret = events.Sealed{} // the activation nonce is spent
			}
		}
	case events.EnrolmentExpired:
		u.removeAuthenticator(e.AuthenticatorID)
	case events.Renamed:
		if a := u.Authenticator(e.AuthenticatorID); a != nil {
			a.Label = e.Label
		}
	case events.DefaultChanged:
		u.Default = e.AuthenticatorID
	case events.Removed:
		u.removeAuthenticator(e.AuthenticatorID)
	case events.CounterResynced:
		if a := u.Authenticator(e.AuthenticatorID); a != nil {
			a.Counter = e.Counter
		}
	case events.DriftAdjusted:
		if a := u.Authenticator(e.AuthenticatorID); a != nil {
			a.Drift, a.PendingOffset = e.Drift, 0
		}
	case events.RecoveryCodesIssued:
		u.RecoveryCodes = make([]RecoveryCode, len(e.Codes))
		for i, c := range e.Codes {
			u.RecoveryCodes[i] = RecoveryCode{CodeHash: c}
		}
	case events.RecoveryCodeUsed:
		if e.Index >= 0 && e.Index < len(u.RecoveryCodes) {
			u.RecoveryCodes[e.Index].Used = true
		}
	case events.TemporaryPassIssued:
		u.TemporaryPass = &TemporaryPass{Hash: e.Hash, ExpiresAt: e.ExpiresAt}
	case events.TemporaryPassUsed:
		u.TemporaryPass = nil
	case events.ChallengeIssued:
		u.Challenges = append(u.Challenges, Challenge{
			ID: e.ChallengeID, App: e.App, RequiredACR: e.RequiredACR, Methods: e.Methods,
			IssuedAt: at, ExpiresAt: e.ExpiresAt, Push: e.Push, Application: e.Application, Client: e.Client,
		})
	case events.CodeSent:
		if c := u.Challenge(e.ChallengeID); c != nil {
			c.Code = &SentCode{AuthenticatorID: e.AuthenticatorID, Method: e.Method, Hash: e.CodeHash, ExpiresAt: e.ExpiresAt}
			c.Sends++
		}
	case events.PushSent:
		if c := u.Challenge(e.ChallengeID); c != nil {
			if c.Push != nil {
				// The earlier push on this challenge ran out unanswered.
				u.refusePush(c.Push.ExpiresAt)
			}
			p := e.Push
			c.Push = &p
		}
	case events.ChallengeSkipped:
		u.finish(e.ChallengeID, Finished{Outcome: OutcomeSkipped, App: e.App, ACR: e.ACR, At: at})
	case events.AttemptFailed:
		u.Failures = e.Failures
		if c := u.Challenge(e.ChallengeID); c != nil && c.Code != nil && (e.Method == "" || e.Method == c.Code.Method) {
			c.Code.Attempts++
		}
	case events.ChallengeSucceeded:
		f := Finished{Outcome: OutcomeSucceeded, ACR: e.ACR, Method: e.Method, AMR: e.AMR, At: at}
		if c := u.Challenge(e.ChallengeID); c != nil {
			f.App = c.App
		}
		u.finish(e.ChallengeID, f)
		// A success resets the failure count and ends a timed lock; a lock
		// for good (the hard limit, fraud) waits for the helpdesk or a reset.
		u.Failures, u.PushRefusals = 0, nil
		if !u.Lock.Permanent {
			u.Lock = Lock{}
		}
		if a := u.Authenticator(e.AuthenticatorID); a != nil {
			switch a.Method {
			case events.MethodTOTP:
				a.LastStep, a.PendingOffset = e.Step, e.Offset
			case events.MethodHOTP:
				a.Counter = e.Counter
			}
		}
	case events.ChallengeDenied:
		if c := u.Challenge(e.ChallengeID); c != nil {
			u.finish(e.ChallengeID, Finished{Outcome: OutcomeDenied, App: c.App, At: at})
		}
		u.refusePush(at)
	case events.FraudReported:
		if c := u.Challenge(e.ChallengeID); c != nil {
			u.finish(e.ChallengeID, Finished{Outcome: OutcomeFraud, App: c.App, At: at})
		}
		u.refusePush(at)
	case events.ChallengeExpired:
		if c := u.Challenge(e.ChallengeID); c != nil {
			if e.PushUnanswered && c.Push != nil {
				u.refusePush(c.Push.ExpiresAt)
			}
			u.finish(e.ChallengeID, Finished{Outcome: OutcomeExpired, App: c.App, At: at})
		}
	case events.PushPaused:
		u.PushPausedUntil, u.PushRefusals = e.Until, nil
	case events.LockedOut:
		u.Lock = Lock{Until: e.Until, Permanent: e.Permanent, Reason: e.Reason, Level: e.Level}
	case events.Unlocked:
		u.Failures, u.Lock = 0, Lock{}
	case events.DeviceRemembered:
		u.Devices = append(u.Devices, Device{ID: e.DeviceID, TokenHash: e.TokenHash, App: e.App, ACR: e.ACR, CreatedAt: at, ExpiresAt: e.ExpiresAt})
		if f := u.finished(e.ChallengeID); f != nil {
			f.Remembered = true
		}
	case events.DeviceForgotten:
		for i := range u.Devices {
			if u.Devices[i].ID == e.DeviceID {
				u.Devices = append(u.Devices[:i:i], u.Devices[i+1:]...)
				break
			}
		}
	case events.EnrolmentSnoozed:
		u.Snoozes = e.Count
	case events.ResetCompleted:
		u.Authenticators, u.Default = nil, ""
		u.Challenges, u.Devices = nil, nil
		u.RecoveryCodes, u.TemporaryPass = nil, nil
		u.Failures, u.Lock = 0, Lock{}
		u.PushRefusals, u.PushPausedUntil = nil, time.Time{}
	case events.UserErased:
		// Keep nothing that came from the user; the data key is destroyed too.
		*u = User{Tenant: u.Tenant, ID: u.ID, Head: u.Head, Erased: true}
	}
}

func (u *User) removeAuthenticator(id string) {
	for i := range u.Authenticators {
		if u.Authenticators[i].ID == id {
			u.Authenticators = append(u.Authenticators[:i:i], u.Authenticators[i+1:]...)
			break
		}
	}
	if u.Default == id {
		u.Default = ""
	}
}

// finish moves a pending challenge to the recent outcomes (bounded).
func (u *User) finish(id string, f Finished) {
	for i := range u.Challenges {
		if u.Challenges[i].ID == id {
			u.Challenges = append(u.Challenges[:i:i], u.Challenges[i+1:]...)
			break
		}
	}
	f.ID = id
	u.Finished = append(u.Finished, f)
	if n := len(u.Finished); n > maxFinished {
		u.Finished = append([]Finished(nil), u.Finished[n-maxFinished:]...)
	}
}

func (u *User) refusePush(at time.Time) {
	u.PushRefusals = append(u.PushRefusals, at)
	if n := len(u.PushRefusals); n > maxRefusalsKept {
		u.PushRefusals = append([]time.Time(nil), u.PushRefusals[n-maxRefusalsKept:]...)
	}
}

// Tenant is the state of a tenant's stream: its policy.
type Tenant struct {
	ID     string      `json:"id"`
	Head   events.Head `json:"head"`
	Policy Policy      `json:"policy"`
	Set    bool        `json:"set,omitempty"` // false: the defaults apply
}

// NewTenant returns a tenant with the default policy.
func NewTenant(id string) *Tenant { return &Tenant{ID: id, Policy: DefaultPolicy()} }

// Evolve applies one event of the tenant stream.
func (t *Tenant) Evolve(rec *events.Record) error {
	if rec.Tenant != t.ID || rec.User != "" {
		return vakt.Errorf(vakt.CodeInternal, "event of %s folded into tenant %q", rec.Stream(), t.ID)
	}
	if rec.Seq != t.Head.Seq+1 {
		return vakt.Errorf(vakt.CodeInternal, "%s: event seq %d after %d", rec.Stream(), rec.Seq, t.Head.Seq)
	}
	if e, ok := rec.Event.(events.PolicySet); ok {
		t.Policy, t.Set = e.Policy, true
	}
	t.Head = rec.Head()
	return nil
}
