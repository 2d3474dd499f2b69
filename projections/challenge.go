package projections

import (
	"slices"
	"time"

	"github.com/vaktmfa/vakt/events"
)

// Challenge statuses.
const (
	ChallengePending   = "pending"
	ChallengeSucceeded = "succeeded"
	ChallengeDenied    = "denied"
	ChallengeFraud     = "fraud_reported"
	ChallengeExpired   = "expired"
	ChallengeSkipped   = "skipped"
)

// ChallengeStatus is what a relying party polls while a person signs in, and
// what it needs for the session token afterwards (acr, amr, auth_time). It
// holds no secret: not the number shown at the login screen (the device must
// not learn it from anywhere but the screen), no code hash.
type ChallengeStatus struct {
	Tenant      string   `json:"tenant"`
	User        string   `json:"user"`
	ChallengeID string   `json:"challenge_id"`
	App         string   `json:"app"`
	RequiredACR string   `json:"required_acr,omitempty"`
	Methods     []string `json:"methods,omitempty"`
	Status      string   `json:"status"`

	// Set by success (and by a skip, from the remembered device).
	Method          string    `json:"method,omitempty"`
	AuthenticatorID string    `json:"authenticator_id,omitempty"`
	ACR             string    `json:"acr,omitempty"`
	AMR             []string  `json:"amr,omitempty"`
	AuthTime        time.Time `json:"auth_time,omitzero"`

	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// EndedAt is when the challenge left pending, whatever the outcome.
	EndedAt time.Time `json:"ended_at,omitzero"`
	// Reason says why it was denied (denied, wrong_number), skipped
	// (remembered, snoozed) or expired (push_unanswered, reset, erased).
	Reason         string      `json:"reason,omitempty"`
	FailedAttempts int         `json:"failed_attempts,omitempty"`
	Push           *PushStatus `json:"push,omitempty"`
	Code           *CodeStatus `json:"code,omitempty"`
	// RememberedDeviceID is the browser remembered after this success, or
	// the remembered browser that skipped it.
	RememberedDeviceID string `json:"remembered_device_id,omitempty"`

	// Seq is the sequence number, in the user's stream, of the last event
	// that changed this challenge.
	Seq uint64 `json:"seq"`
}

// PushStatus is the push sent for a challenge: to which device and until when.
type PushStatus struct {
	AuthenticatorID string    `json:"authenticator_id"`
	ExpiresAt       time.Time `json:"expires_at"`
	Sent            int       `json:"sent"`
}

// CodeStatus is the last SMS or e-mail code sent for a challenge.
type CodeStatus struct {
	AuthenticatorID string    `json:"authenticator_id"`
	Method          string    `json:"method"`
	ExpiresAt       time.Time `json:"expires_at"`
	Sent            int       `json:"sent"`
}

// Apply folds one event into the model. A zero ChallengeStatus takes the
// challenge of the first challenge.issued or challenge.skipped it is given;
// events about other challenges, and events already seen, change nothing. A
// reset or an erasure of the user ends a pending challenge (as expired, with
// that reason, unless it had run out already), because nobody can answer it
// any more.
func (c *ChallengeStatus) Apply(rec *events.Record) {
	if rec == nil || rec.User == "" {
		return
	}
	if c.ChallengeID == "" {
		c.start(rec)
		return
	}
	if rec.Tenant != c.Tenant || rec.User != c.User || rec.Seq <= c.Seq {
		return
	}
	at := rec.Time
	switch e := rec.Event.(type) {
	case events.CodeSent:
		if e.ChallengeID != c.ChallengeID || !c.pending() {
			return
		}
		sent := 1
		if c.Code != nil {
			sent = c.Code.Sent + 1
		}
		c.Code = &CodeStatus{AuthenticatorID: e.AuthenticatorID, Method: e.Method, ExpiresAt: e.ExpiresAt, Sent: sent}
	case events.PushSent:
		if e.ChallengeID != c.ChallengeID || !c.pending() {
			return
		}
		sent := 1
		if c.Push != nil {
			sent = c.Push.Sent + 1
		}
		c.Push = &PushStatus{AuthenticatorID: e.Push.AuthenticatorID, ExpiresAt: e.Push.ExpiresAt, Sent: sent}
	case events.AttemptFailed:
		if e.ChallengeID != c.ChallengeID || !c.pending() {
			return
		}
		c.FailedAttempts++
	case events.ChallengeSucceeded:
		if e.ChallengeID != c.ChallengeID || !c.pending() {
			return
		}
		c.end(ChallengeSucceeded, "", at)
		c.Method, c.AuthenticatorID, c.ACR = e.Method, e.AuthenticatorID, e.ACR
		c.AMR, c.AuthTime = cloneStrings(e.AMR), at
	case events.ChallengeDenied:
		if e.ChallengeID != c.ChallengeID || !c.pending() {
			return
		}
		c.end(ChallengeDenied, e.Reason, at)
		c.AuthenticatorID = e.AuthenticatorID
	case events.FraudReported:
		if e.ChallengeID != c.ChallengeID || !c.pending() {
			return
		}
		c.end(ChallengeFraud, "", at)
		c.AuthenticatorID = e.AuthenticatorID
	case events.ChallengeExpired:
		if e.ChallengeID != c.ChallengeID || !c.pending() {
			return
		}
		reason := ""
		if e.PushUnanswered {
			reason = "push_unanswered"
		}
		c.end(ChallengeExpired, reason, at)
	case events.DeviceRemembered:
		if e.ChallengeID != c.ChallengeID || c.Status != ChallengeSucceeded {
			return
		}
		c.RememberedDeviceID = e.DeviceID
	case events.ResetCompleted:
		if !c.pending() {
			return
		}
		c.cancel("reset", at)
	case events.UserErased:
		if !c.pending() {
			return
		}
		c.cancel("erased", at)
	default:
		return
	}
	c.Seq = rec.Seq
}

func (c *ChallengeStatus) start(rec *events.Record) {
	switch e := rec.Event.(type) {
	case events.ChallengeIssued:
		*c = ChallengeStatus{
			Tenant: rec.Tenant, User: rec.User, ChallengeID: e.ChallengeID, App: e.App,
			RequiredACR: e.RequiredACR, Methods: cloneStrings(e.Methods), Status: ChallengePending,
			IssuedAt: rec.Time, ExpiresAt: e.ExpiresAt, Seq: rec.Seq,
		}
		if p := e.Push; p != nil {
			c.Push = &PushStatus{AuthenticatorID: p.AuthenticatorID, ExpiresAt: p.ExpiresAt, Sent: 1}
		}
	case events.ChallengeSkipped:
		*c = ChallengeStatus{
			Tenant: rec.Tenant, User: rec.User, ChallengeID: e.ChallengeID, App: e.App,
			Status: ChallengeSkipped, Reason: e.Reason, ACR: e.ACR, RememberedDeviceID: e.DeviceID,
			IssuedAt: rec.Time, AuthTime: rec.Time, EndedAt: rec.Time, Seq: rec.Seq,
		}
	}
}

// cloneStrings copies s, giving nil for an empty list (see deleteFirst).
func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// cancel ends a pending challenge that a reset or an erasure took away. If
// it had run out before, it simply expired then (nobody recorded it yet).
func (c *ChallengeStatus) cancel(reason string, at time.Time) {
	if !c.ExpiresAt.IsZero() && !at.Before(c.ExpiresAt) {
		c.end(ChallengeExpired, "", c.ExpiresAt)
		return
	}
	c.end(ChallengeExpired, reason, at)
}

func (c *ChallengeStatus) pending() bool { return c.Status == ChallengePending }

func (c *ChallengeStatus) end(status, reason string, at time.Time) {
	c.Status, c.Reason, c.EndedAt = status, reason, at
}

// Settled implements [Settler]: only a pending challenge can still be ended
// by a reset or an erasure.
func (c *ChallengeStatus) Settled() bool { return c.ChallengeID != "" && !c.pending() }

// StatusAt returns the status at now: a pending challenge past its expiry is
// expired even before the engine records it.
func (c *ChallengeStatus) StatusAt(now time.Time) string {
	if c.pending() && !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt) {
		return ChallengeExpired
	}
	return c.Status
}

// Clone returns a deep copy.
func (c *ChallengeStatus) Clone() ChallengeStatus {
	o := *c
	o.Methods = slices.Clone(c.Methods)
	o.AMR = slices.Clone(c.AMR)
	if c.Push != nil {
		p := *c.Push
		o.Push = &p
	}
	if c.Code != nil {
		k := *c.Code
		o.Code = &k
	}
	return o
}
