package engine

import (
	"time"

	"github.com/vaktmfa/vakt/events"
)

// Command is an intent addressed to one user's stream. Decide turns it into
// events (facts) or a typed error. Each command has a stable type name used in
// JSON (test vectors, the WASM ABI).
type Command interface {
	CommandType() string
}

// StartEnrolment adds a pending authenticator. For totp and hotp the reply
// carries the otpauth URI (and secret) to show once; for push an activation
// code for the device; for sms and email a code is delivered to Address.
type StartEnrolment struct {
	Method string `json:"method"`
	Label  string `json:"label"`
	// Account names the user in the authenticator app (default: the user id).
	Account string `json:"account,omitempty"`
	// Address is the phone number (E.164, e.g. +4791234567) or e-mail address.
	Address string `json:"address,omitempty"`
	// Secret imports the Base32 seed of a hardware token (YubiKey OATH); empty
	// generates a fresh 160-bit seed.
	Secret string `json:"secret,omitempty"`
	// Onboarding makes the enrolment last as long as an activation link
	// (policy activation_ttl, 7 days) rather than a screen (10 minutes).
	Onboarding bool `json:"onboarding,omitempty"`
}

// ConfirmEnrolment activates a pending authenticator with its first code, or
// for push with the device's public key and its signature over
// [EnrolmentMessage].
type ConfirmEnrolment struct {
	AuthenticatorID  string `json:"authenticator_id"`
	Code             string `json:"code,omitempty"`
	PublicKey        []byte `json:"public_key,omitempty"`
	Signature        []byte `json:"signature,omitempty"`
	UserVerification bool   `json:"user_verification,omitempty"`
}

// RenameAuthenticator changes an authenticator's label.
type RenameAuthenticator struct {
	AuthenticatorID string `json:"authenticator_id"`
	Label           string `json:"label"`
}

// SetDefault makes an active authenticator the default.
type SetDefault struct {
	AuthenticatorID string `json:"authenticator_id"`
}

// RemoveAuthenticator removes an authenticator (pending or active). If it was
// the default, the oldest remaining active authenticator becomes the default.
type RemoveAuthenticator struct {
	AuthenticatorID string `json:"authenticator_id"`
}

// ResyncHOTP moves an HOTP counter that drifted past the look-ahead window,
// proven by two consecutive codes.
type ResyncHOTP struct {
	AuthenticatorID string `json:"authenticator_id"`
	Code1           string `json:"code1"`
	Code2           string `json:"code2"`
}

// IssueRecoveryCodes replaces the user's recovery codes with fresh ones, shown
// once in the reply.
type IssueRecoveryCodes struct{}

// IssueChallenge starts a sign-in challenge for an application. A valid
// remember token for the application skips it. If the preferred method (or the
// default authenticator) is push, a push with number matching is sent; if it
// is sms or email, a code is sent.
type IssueChallenge struct {
	App           string         `json:"app"`
	RequiredACR   string         `json:"required_acr,omitempty"`
	Method        string         `json:"method,omitempty"`
	RememberToken string         `json:"remember_token,omitempty"`
	Context       events.Context `json:"context,omitzero"`
}

// SendCode sends a one-time code by SMS or e-mail for a pending challenge.
type SendCode struct {
	ChallengeID     string `json:"challenge_id"`
	AuthenticatorID string `json:"authenticator_id"`
}

// SendPush sends a push for a pending challenge (the user chose push, or asks
// again after an unanswered one).
type SendPush struct {
	ChallengeID     string `json:"challenge_id"`
	AuthenticatorID string `json:"authenticator_id,omitempty"`
}

// VerifyCode answers a challenge with a TOTP, HOTP, SMS or e-mail code, a
// recovery code or a temporary pass. Spaces and dashes in the code are ignored.
type VerifyCode struct {
	ChallengeID    string `json:"challenge_id"`
	Code           string `json:"code"`
	RememberDevice bool   `json:"remember_device,omitempty"`
}

// Push decisions.
const (
	DecisionApprove = "approve"
	DecisionDeny    = "deny"
	DecisionFraud   = "fraud"
)

// RespondPush is a device's answer to a push, signed with its key over
// [PushMessage].
type RespondPush struct {
	ChallengeID      string `json:"challenge_id"`
	AuthenticatorID  string `json:"authenticator_id"`
	Decision         string `json:"decision"`
	Number           int    `json:"number,omitempty"`
	UserVerification bool   `json:"user_verification,omitempty"`
	Signature        []byte `json:"signature"`
}

// RememberDevice remembers the browser after a challenge that succeeded (for
// flows where the success came from elsewhere, such as a push). The reply
// carries the token, once.
type RememberDevice struct {
	ChallengeID string `json:"challenge_id"`
}

// ForgetDevice revokes one remembered browser, or all of them.
type ForgetDevice struct {
	DeviceID string `json:"device_id,omitempty"`
	All      bool   `json:"all,omitempty"`
}

// SnoozeEnrolment lets a user without an authenticator skip enrolment before
// the tenant's enforcement date, at most max_snoozes times.
type SnoozeEnrolment struct {
	App string `json:"app"`
}

// IssueTemporaryPass gives the user a single-use pass (from the helpdesk).
type IssueTemporaryPass struct {
	Operator string          `json:"operator"`
	Ticket   string          `json:"ticket"`
	TTL      events.Duration `json:"ttl,omitempty"`
}

// Helpdesk names who did an administrative action and on which ticket.
type Helpdesk struct {
	Operator string `json:"operator"`
	Ticket   string `json:"ticket"`
}

// Reset revokes every authenticator and remembered device after an identity
// proof (self-service) or by the helpdesk; exactly one of Proof and Helpdesk.
// With TemporaryPass the reply carries a pass to sign in and enrol again.
type Reset struct {
	Proof         *events.Proof `json:"proof,omitempty"`
	Helpdesk      *Helpdesk     `json:"helpdesk,omitempty"`
	TemporaryPass bool          `json:"temporary_pass,omitempty"`
}

// Unlock clears a lockout.
type Unlock struct {
	Operator string `json:"operator"`
	Ticket   string `json:"ticket"`
}

// Erase erases the user (crypto-shredding: the shell destroys the data key).
type Erase struct {
	Operator string `json:"operator,omitempty"`
	Ticket   string `json:"ticket,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Expire records what has run out: challenges, pending enrolments and
// remembered devices past their time. The shell runs it now and then; other
// commands also expire what they touch.
type Expire struct{}

// SetPolicy sets a tenant's policy (zero fields take the defaults, unless
// Exact). It is the one command on the tenant stream; see [DecideTenant].
type SetPolicy struct {
	Policy Policy `json:"policy"`
	// Exact says the policy's zeros are meant where a zero is allowed
	// (totp.skew, max_snoozes): a policy document laid over DefaultPolicy,
	// as `PUT /v1/tenants/{t}/policy` does, names every number. Without
	// it every zero field takes its default, so that a policy built in Go
	// may name only what it changes.
	Exact bool `json:"exact,omitempty"`
}

func (StartEnrolment) CommandType() string      { return "start_enrolment" }
func (ConfirmEnrolment) CommandType() string    { return "confirm_enrolment" }
func (RenameAuthenticator) CommandType() string { return "rename_authenticator" }
func (SetDefault) CommandType() string          { return "set_default" }
func (RemoveAuthenticator) CommandType() string { return "remove_authenticator" }
func (ResyncHOTP) CommandType() string          { return "resync_hotp" }
func (IssueRecoveryCodes) CommandType() string  { return "issue_recovery_codes" }
func (IssueChallenge) CommandType() string      { return "issue_challenge" }
func (SendCode) CommandType() string            { return "send_code" }
func (SendPush) CommandType() string            { return "send_push" }
func (VerifyCode) CommandType() string          { return "verify_code" }
func (RespondPush) CommandType() string         { return "respond_push" }
func (RememberDevice) CommandType() string      { return "remember_device" }
func (ForgetDevice) CommandType() string        { return "forget_device" }
func (SnoozeEnrolment) CommandType() string     { return "snooze_enrolment" }
func (IssueTemporaryPass) CommandType() string  { return "issue_temporary_pass" }
func (Reset) CommandType() string               { return "reset" }
func (Unlock) CommandType() string              { return "unlock" }
func (Erase) CommandType() string               { return "erase" }
func (Expire) CommandType() string              { return "expire" }
func (SetPolicy) CommandType() string           { return "set_policy" }

// Reply is what a decision tells its caller beyond the events. It carries the
// values that must reach the caller once and are never stored: the otpauth
// URI, recovery codes, a temporary pass, a remember token, a code to deliver.
// Those fields are [Secret]s, which never print.
type Reply struct {
	Status          string    `json:"status,omitempty"`
	AuthenticatorID string    `json:"authenticator_id,omitempty"`
	Method          string    `json:"method,omitempty"`
	ChallengeID     string    `json:"challenge_id,omitempty"`
	ExpiresAt       time.Time `json:"expires_at,omitzero"`
	Methods         []string  `json:"methods,omitempty"`
	// NumberMatch is the number the login screen shows; the device must pick it.
	NumberMatch int `json:"number_match,omitempty"`

	OTPAuthURI Secret `json:"otpauth_uri,omitempty"`
	Secret     Secret `json:"secret,omitempty"`     // the Base32 seed, for manual entry
	Activation Secret `json:"activation,omitempty"` // push: the activation code for the device

	ACR           string   `json:"acr,omitempty"`
	AMR           []string `json:"amr,omitempty"`
	DeviceID      string   `json:"device_id,omitempty"`
	RememberToken Secret   `json:"remember_token,omitempty"`
	RecoveryCodes []Secret `json:"recovery_codes,omitempty"`
	TemporaryPass Secret   `json:"temporary_pass,omitempty"`

	// Deliver asks the shell to send a code by SMS or e-mail.
	Deliver *Delivery `json:"deliver,omitempty"`
	// Push asks the shell to publish a push to a device.
	Push *PushNotice `json:"push,omitempty"`
}

// Delivery is a code to send to a phone or mailbox.
type Delivery struct {
	Method  string `json:"method"`
	Address Secret `json:"address"`
	Code    Secret `json:"code"`
	Purpose string `json:"purpose"` // "enrolment" or "challenge"
}

// PushNotice is what a device is shown: the application, the context and the
// numbers to choose from. It holds no secret; the correct number is on the
// login screen only.
type PushNotice struct {
	AuthenticatorID string         `json:"authenticator_id"`
	ChallengeID     string         `json:"challenge_id"`
	App             string         `json:"app"`
	Choices         []int          `json:"choices"`
	Context         events.Context `json:"context,omitzero"`
	ExpiresAt       time.Time      `json:"expires_at"`
}

// Secret is a one-time value for the caller. It marshals to JSON as itself
// (the caller must see it) but prints and logs as [redacted].
type Secret string

func (s Secret) String() string   { return "[redacted]" }
func (s Secret) GoString() string { return `"[redacted]"` }

// Reveal returns the value.
func (s Secret) Reveal() string { return string(s) }
