package events

import "time"

// Event is the data of one fact. Every type below is registered in the
// [Registry] under its Type name and current schema version. Never change what a
// stored field means: add a field, or bump the version and register an upcaster.
type Event interface {
	EventType() string
}

// Method names. They appear in events, policies and the API.
const (
	MethodTOTP          = "totp"
	MethodHOTP          = "hotp"
	MethodPush          = "push"
	MethodSMS           = "sms"
	MethodEmail         = "email"
	MethodRecoveryCode  = "recovery_code"
	MethodTemporaryPass = "temporary_pass"
)

// Sealed is a secret encrypted with AES-256-GCM under the user's data key. The
// stream keeps only ciphertext, so destroying the key erases the secret without
// touching the hash chain.
type Sealed struct {
	Nonce []byte `json:"n"`
	Box   []byte `json:"c"`
}

// IsZero reports whether nothing is sealed.
func (s Sealed) IsZero() bool { return len(s.Box) == 0 }

// PushRequest is the push part of a challenge: which device was asked, the
// numbers it shows (one of them is the number on the login screen) and when the
// push stops being answerable.
type PushRequest struct {
	AuthenticatorID string    `json:"authenticator_id"`
	Number          int       `json:"number"`
	Choices         []int     `json:"choices"`
	ExpiresAt       time.Time `json:"expires_at"`
}

// Context is what the relying party tells about the sign-in, shown on the
// push. In events the application name is kept as is; the IP address, user
// agent and location are personal data and are sealed (field client), so
// that erasing the user erases them too.
type Context struct {
	Application string `json:"application,omitempty"`
	IP          string `json:"ip,omitempty"`
	UserAgent   string `json:"user_agent,omitempty"`
	Location    string `json:"location,omitempty"`
}

// IsZero reports whether no context was given.
func (c Context) IsZero() bool { return c == Context{} }

// Proof is an identity proof presented for a self-service reset, such as an
// ID-porten login at idporten-loa-high (BankID).
type Proof struct {
	Kind      string `json:"kind"`
	ACR       string `json:"acr"`
	Reference string `json:"reference,omitempty"`
}

// CodeHash is one salted, keyed hash of a recovery code.
type CodeHash struct {
	Salt []byte `json:"salt"`
	Hash []byte `json:"hash"`
}

// ---- authenticators -------------------------------------------------------

// EnrolmentStarted: an authenticator is pending until its first code (TOTP,
// HOTP, SMS, e-mail) or a device signature (push) confirms it.
type EnrolmentStarted struct {
	AuthenticatorID string    `json:"authenticator_id"`
	Method          string    `json:"method"`
	Label           string    `json:"label"`
	ExpiresAt       time.Time `json:"expires_at"`
	Onboarding      bool      `json:"onboarding,omitempty"` // an activation link (days) rather than a screen (minutes)
	// Secret is the OTP seed (totp, hotp) or the activation nonce (push).
	Secret    Sealed `json:"secret,omitzero"`
	Algorithm string `json:"algorithm,omitempty"`
	Digits    int    `json:"digits,omitempty"`
	Period    int    `json:"period,omitempty"`
	// Address is the phone number or e-mail address (sms, email).
	Address Sealed `json:"address,omitzero"`
	// CodeHash is the keyed hash of the confirmation code sent to Address.
	CodeHash []byte `json:"code_hash,omitempty"`
}

func (EnrolmentStarted) EventType() string { return "authenticator.enrolment_started" }

// ConfirmationFailed: a wrong code or signature was given to confirm a pending
// authenticator.
type ConfirmationFailed struct {
	AuthenticatorID string `json:"authenticator_id"`
	Reason          string `json:"reason"`
	Attempts        int    `json:"attempts"`
}

func (ConfirmationFailed) EventType() string { return "authenticator.confirmation_failed" }

// Activated: the authenticator is usable. For TOTP, Step is the time step of the
// confirming code, which counts as used; for HOTP, Counter is the next counter.
type Activated struct {
	AuthenticatorID  string `json:"authenticator_id"`
	Method           string `json:"method"`
	ACR              string `json:"acr"`
	Active           int    `json:"active"` // the user's active authenticators, this one included
	Step             int64  `json:"step,omitempty"`
	Counter          uint64 `json:"counter,omitempty"`
	PublicKey        []byte `json:"public_key,omitempty"`
	UserVerification bool   `json:"user_verification,omitempty"`
}

func (Activated) EventType() string { return "authenticator.activated" }

// EnrolmentExpired: a pending authenticator was not confirmed in time, or too
// many confirmations failed.
type EnrolmentExpired struct {
	AuthenticatorID string `json:"authenticator_id"`
	Reason          string `json:"reason"`
}

func (EnrolmentExpired) EventType() string { return "authenticator.enrolment_expired" }

// Renamed gives an authenticator a new label.
type Renamed struct {
	AuthenticatorID string `json:"authenticator_id"`
	Label           string `json:"label"`
}

func (Renamed) EventType() string { return "authenticator.renamed" }

// DefaultChanged makes an active authenticator the one offered first. An empty
// AuthenticatorID means the user has no default any more.
type DefaultChanged struct {
	AuthenticatorID string `json:"authenticator_id"`
	Previous        string `json:"previous,omitempty"`
}

func (DefaultChanged) EventType() string { return "authenticator.default_changed" }

// Removed deletes an authenticator.
type Removed struct {
	AuthenticatorID string `json:"authenticator_id"`
	Method          string `json:"method"`
	Reason          string `json:"reason,omitempty"`
	WasActive       bool   `json:"was_active,omitempty"` // false: a pending enrolment was cancelled
	Active          int    `json:"active"`               // the user's active authenticators left
}

func (Removed) EventType() string { return "authenticator.removed" }

// CounterResynced moves an HOTP authenticator's counter after two consecutive
// codes were found beyond the look-ahead window.
type CounterResynced struct {
	AuthenticatorID string `json:"authenticator_id"`
	Counter         uint64 `json:"counter"`
}

func (CounterResynced) EventType() string { return "authenticator.counter_resynced" }

// DriftAdjusted records that an authenticator's clock is consistently off and
// its window is now centred Drift steps from the server's time step.
type DriftAdjusted struct {
	AuthenticatorID string `json:"authenticator_id"`
	Drift           int64  `json:"drift"`
}

func (DriftAdjusted) EventType() string { return "authenticator.drift_adjusted" }

// ---- recovery codes and temporary passes -----------------------------------

// RecoveryCodesIssued replaces the user's recovery codes. Only salted, keyed
// hashes are stored; the codes are shown once.
type RecoveryCodesIssued struct {
	Codes []CodeHash `json:"codes"`
}

func (RecoveryCodesIssued) EventType() string { return "recovery_codes.issued" }

// RecoveryCodeUsed spends one recovery code.
type RecoveryCodeUsed struct {
	Index       int    `json:"index"`
	ChallengeID string `json:"challenge_id"`
	Remaining   int    `json:"remaining"`
}

func (RecoveryCodeUsed) EventType() string { return "recovery_code.used" }

// TemporaryPassIssued: the helpdesk (or a proofed reset) gave the user a short
// lived, single-use pass to sign in and enrol again.
type TemporaryPassIssued struct {
	Hash      []byte    `json:"hash"`
	ExpiresAt time.Time `json:"expires_at"`
	Operator  string    `json:"operator,omitempty"`
	Ticket    string    `json:"ticket,omitempty"`
}

func (TemporaryPassIssued) EventType() string { return "temporary_pass.issued" }

// TemporaryPassUsed spends the temporary pass.
type TemporaryPassUsed struct {
	ChallengeID string `json:"challenge_id"`
}

func (TemporaryPassUsed) EventType() string { return "temporary_pass.used" }

// ---- challenges ---------------------------------------------------------------

// ChallengeIssued starts a sign-in challenge. Methods are the ones the user may
// answer with, given the required acr and the user's state.
type ChallengeIssued struct {
	ChallengeID string       `json:"challenge_id"`
	App         string       `json:"app"`
	RequiredACR string       `json:"required_acr"`
	Methods     []string     `json:"methods"`
	ExpiresAt   time.Time    `json:"expires_at"`
	Push        *PushRequest `json:"push,omitempty"`
	// Application is the relying party's display name for the sign-in.
	Application string `json:"application,omitempty"`
	// Client seals the IP address, user agent and location.
	Client Sealed `json:"client,omitzero"`
}

func (ChallengeIssued) EventType() string { return "challenge.issued" }

// CodeSent: a one-time code was sent by SMS or e-mail for a challenge. Only its
// keyed hash is kept.
type CodeSent struct {
	ChallengeID     string    `json:"challenge_id"`
	AuthenticatorID string    `json:"authenticator_id"`
	Method          string    `json:"method"`
	CodeHash        []byte    `json:"code_hash"`
	ExpiresAt       time.Time `json:"expires_at"`
}

func (CodeSent) EventType() string { return "challenge.code_sent" }

// PushSent: a push was sent for a challenge that was issued without one.
type PushSent struct {
	ChallengeID string      `json:"challenge_id"`
	Push        PushRequest `json:"push"`
}

func (PushSent) EventType() string { return "challenge.push_sent" }

// ChallengeSkipped: no second factor was asked, because the browser is
// remembered or the user snoozed enrolment before the enforcement date.
type ChallengeSkipped struct {
	ChallengeID string `json:"challenge_id"`
	App         string `json:"app"`
	Reason      string `json:"reason"`
	DeviceID    string `json:"device_id,omitempty"`
	ACR         string `json:"acr,omitempty"`
}

func (ChallengeSkipped) EventType() string { return "challenge.skipped" }

// AttemptFailed: a code did not match or was reused. Failures is the count of
// consecutive failures after this one.
type AttemptFailed struct {
	ChallengeID     string `json:"challenge_id"`
	AuthenticatorID string `json:"authenticator_id,omitempty"`
	Method          string `json:"method,omitempty"`
	Reason          string `json:"reason"`
	Failures        int    `json:"failures"`
}

func (AttemptFailed) EventType() string { return "challenge.attempt_failed" }

// ChallengeSucceeded: the user proved the second factor.
type ChallengeSucceeded struct {
	ChallengeID      string   `json:"challenge_id"`
	AuthenticatorID  string   `json:"authenticator_id,omitempty"`
	Method           string   `json:"method"`
	ACR              string   `json:"acr"`
	AMR              []string `json:"amr"`
	Step             int64    `json:"step,omitempty"`
	Offset           int64    `json:"offset,omitempty"`
	Counter          uint64   `json:"counter,omitempty"`
	UserVerification bool     `json:"user_verification,omitempty"`
}

func (ChallengeSucceeded) EventType() string { return "challenge.succeeded" }

// ChallengeDenied: the device said no, or chose the wrong number.
type ChallengeDenied struct {
	ChallengeID     string `json:"challenge_id"`
	AuthenticatorID string `json:"authenticator_id"`
	Reason          string `json:"reason"`
}

func (ChallengeDenied) EventType() string { return "challenge.denied" }

// FraudReported: the user pressed "this wasn't me".
type FraudReported struct {
	ChallengeID     string `json:"challenge_id"`
	AuthenticatorID string `json:"authenticator_id"`
	Application     string `json:"application,omitempty"`
	// Client is the challenge's sealed client details (IP, user agent,
	// location), repeated here so a fraud report stands on its own.
	Client Sealed `json:"client,omitzero"`
}

func (FraudReported) EventType() string { return "challenge.fraud_reported" }

// ChallengeExpired: nobody answered in time. PushUnanswered is set when a push
// went unanswered, which counts towards the push-fatigue pause.
type ChallengeExpired struct {
	ChallengeID    string `json:"challenge_id"`
	PushUnanswered bool   `json:"push_unanswered,omitempty"`
}

func (ChallengeExpired) EventType() string { return "challenge.expired" }

// PushPaused: too many pushes were denied or left unanswered; push is not
// offered until Until, and the user is asked for a code instead.
type PushPaused struct {
	Until   time.Time `json:"until"`
	Refused int       `json:"refused"`
}

func (PushPaused) EventType() string { return "push.paused" }

// ---- lockout ------------------------------------------------------------------

// LockedOut locks the code-based methods until Until, or for good (until a
// helpdesk unlock or a reset) when Permanent. A lock for fraud also stops push.
type LockedOut struct {
	Reason    string    `json:"reason"`
	Level     int       `json:"level"`
	Failures  int       `json:"failures"`
	Until     time.Time `json:"until,omitzero"`
	Permanent bool      `json:"permanent,omitempty"`
}

func (LockedOut) EventType() string { return "user.locked_out" }

// Unlocked clears a lockout and the failure count.
type Unlocked struct {
	Operator string `json:"operator"`
	Ticket   string `json:"ticket"`
}

func (Unlocked) EventType() string { return "user.unlocked" }

// ---- remembered devices -----------------------------------------------------

// DeviceRemembered: a browser may skip the challenge for applications whose
// policy allows its age. Only the token's hash is stored.
type DeviceRemembered struct {
	DeviceID    string    `json:"device_id"`
	TokenHash   []byte    `json:"token_hash"`
	App         string    `json:"app"`
	ACR         string    `json:"acr"`
	ChallengeID string    `json:"challenge_id"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func (DeviceRemembered) EventType() string { return "device.remembered" }

// DeviceForgotten revokes a remembered device.
type DeviceForgotten struct {
	DeviceID string `json:"device_id"`
	Reason   string `json:"reason"`
}

func (DeviceForgotten) EventType() string { return "device.forgotten" }

// ---- enrolment enforcement, reset, erasure -----------------------------------

// EnrolmentSnoozed: a user without an authenticator chose "not now" before the
// tenant's enforcement date.
type EnrolmentSnoozed struct {
	ChallengeID string `json:"challenge_id"`
	App         string `json:"app"`
	Count       int    `json:"count"`
}

func (EnrolmentSnoozed) EventType() string { return "enrolment.snoozed" }

// ResetCompleted revokes every authenticator, remembered device, recovery code
// and lockout; the user enrols again. Kind is "self_service" (with Proof) or
// "helpdesk" (with Operator and Ticket).
type ResetCompleted struct {
	Kind     string `json:"kind"`
	Proof    *Proof `json:"proof,omitempty"`
	Operator string `json:"operator,omitempty"`
	Ticket   string `json:"ticket,omitempty"`
	Removed  int    `json:"removed"`
	// ActiveMethods lists the methods of the active authenticators revoked
	// (pending ones are only counted in Removed), so that read models can
	// follow enrolment without keeping per-user state.
	ActiveMethods []string `json:"active_methods,omitempty"`
}

func (ResetCompleted) EventType() string { return "reset.completed" }

// UserErased: the user's data key is destroyed; the stream keeps only
// ciphertext and hashes, and every later command answers erased.
type UserErased struct {
	Operator string `json:"operator,omitempty"`
	Ticket   string `json:"ticket,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// ActiveMethods lists the methods of the active authenticators the user
	// had (see ResetCompleted).
	ActiveMethods []string `json:"active_methods,omitempty"`
}

func (UserErased) EventType() string { return "user.erased" }

// ---- tenant -------------------------------------------------------------------

// PolicySet replaces the tenant's policy. Policy is the complete effective
// policy, defaults filled in, so the audit shows every number in force.
type PolicySet struct {
	Policy Policy `json:"policy"`
}

func (PolicySet) EventType() string { return "policy.set" }
