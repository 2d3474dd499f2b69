package projections

import (
	"slices"
	"time"

	"github.com/vaktmfa/vakt/events"
)

// Authenticator statuses in read models (the same words as the engine's).
const (
	StatusPending = "pending"
	StatusActive  = "active"
)

// SecurityInfo is what a user's "security info" page and the helpdesk show:
// the authenticators, the default, remembered browsers, recovery codes left,
// lockout, push pause and reset history. It holds no secret: no seed, sealed
// box, hash, token or code.
//
// Times that end something (LockedUntil, PushPausedUntil, a device's
// ExpiresAt) are facts as recorded; a fold reads no clock, so use
// [SecurityInfo.LockedAt] and friends to ask about a moment.
type SecurityInfo struct {
	Tenant string `json:"tenant"`
	User   string `json:"user"`
	// Seq is the sequence number of the last event of the user's stream
	// folded in; the model is current when it equals the stream's head.
	Seq       uint64    `json:"seq"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`

	Authenticators    []AuthenticatorInfo `json:"authenticators,omitempty"`
	Default           string              `json:"default,omitempty"`
	RememberedDevices []RememberedDevice  `json:"remembered_devices,omitempty"`
	RecoveryCodesLeft int                 `json:"recovery_codes_left"`
	// TemporaryPassExpiresAt is set while a temporary pass is unused.
	TemporaryPassExpiresAt time.Time `json:"temporary_pass_expires_at,omitzero"`
	LastSignInAt           time.Time `json:"last_sign_in_at,omitzero"`

	// FailedAttempts counts consecutive failed codes (a success or an unlock
	// clears it).
	FailedAttempts int `json:"failed_attempts,omitempty"`
	// Locked is set by a lockout and cleared by a success, an unlock or a
	// reset. A lockout that is not Permanent also ends at LockedUntil.
	Locked          bool      `json:"locked"`
	LockedUntil     time.Time `json:"locked_until,omitzero"`
	Permanent       bool      `json:"permanent,omitempty"`
	LockReason      string    `json:"lock_reason,omitempty"` // failures or fraud
	PushPausedUntil time.Time `json:"push_paused_until,omitzero"`
	Snoozes         int       `json:"snoozes,omitempty"`

	Resets        int       `json:"resets,omitempty"`
	LastResetAt   time.Time `json:"last_reset_at,omitzero"`
	LastResetKind string    `json:"last_reset_kind,omitempty"`

	Erased   bool      `json:"erased,omitempty"`
	ErasedAt time.Time `json:"erased_at,omitzero"`
}

// AuthenticatorInfo is one authenticator as the user sees it.
type AuthenticatorInfo struct {
	ID          string    `json:"id"`
	Method      string    `json:"method"`
	Label       string    `json:"label"`
	Status      string    `json:"status"` // pending or active
	Default     bool      `json:"default,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"` // while pending
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	LastUsedAt  time.Time `json:"last_used_at,omitzero"`
	ACR         string    `json:"acr,omitempty"`
}

// RememberedDevice is a browser that may skip the challenge.
type RememberedDevice struct {
	ID        string    `json:"id"`
	App       string    `json:"app"`
	ACR       string    `json:"acr"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Apply folds one event into the model. A zero SecurityInfo takes the user of
// the first event it is given; events of other streams, of the tenant stream,
// and events it has already seen (by sequence) change nothing.
func (s *SecurityInfo) Apply(rec *events.Record) {
	if rec == nil || rec.User == "" {
		return
	}
	if s.Tenant == "" && s.User == "" {
		s.Tenant, s.User = rec.Tenant, rec.User
	}
	if rec.Tenant != s.Tenant || rec.User != s.User || rec.Seq <= s.Seq {
		return
	}
	s.Seq, s.UpdatedAt = rec.Seq, rec.Time
	at := rec.Time
	switch e := rec.Event.(type) {
	case events.EnrolmentStarted:
		s.Authenticators = append(s.Authenticators, AuthenticatorInfo{
			ID: e.AuthenticatorID, Method: e.Method, Label: e.Label, Status: StatusPending,
			CreatedAt: at, ExpiresAt: e.ExpiresAt,
		})
	case events.Activated:
		if a := s.authenticator(e.AuthenticatorID); a != nil {
			a.Status, a.ACR, a.ActivatedAt, a.ExpiresAt = StatusActive, e.ACR, at, time.Time{}
		}
	case events.EnrolmentExpired:
		s.removeAuthenticator(e.AuthenticatorID)
	case events.Removed:
		s.removeAuthenticator(e.AuthenticatorID)
	case events.Renamed:
		if a := s.authenticator(e.AuthenticatorID); a != nil {
			a.Label = e.Label
		}
	case events.DefaultChanged:
		s.Default = e.AuthenticatorID
		for i := range s.Authenticators {
			s.Authenticators[i].Default = s.Authenticators[i].ID == e.AuthenticatorID
		}
	case events.RecoveryCodesIssued:
		s.RecoveryCodesLeft = len(e.Codes)
	case events.RecoveryCodeUsed:
		s.RecoveryCodesLeft = max(e.Remaining, 0)
	case events.TemporaryPassIssued:
		s.TemporaryPassExpiresAt = e.ExpiresAt
	case events.TemporaryPassUsed:
		s.TemporaryPassExpiresAt = time.Time{}
	case events.AttemptFailed:
		s.FailedAttempts = e.Failures
	case events.ChallengeSucceeded:
		s.LastSignInAt = at
		if a := s.authenticator(e.AuthenticatorID); a != nil {
			a.LastUsedAt = at
		}
		s.FailedAttempts = 0
		s.clearLock()
	case events.LockedOut:
		s.Locked, s.LockedUntil, s.Permanent, s.LockReason = true, e.Until, e.Permanent, e.Reason
	case events.Unlocked:
		s.FailedAttempts = 0
		s.clearLock()
	case events.PushPaused:
		s.PushPausedUntil = e.Until
	case events.DeviceRemembered:
		s.RememberedDevices = append(s.RememberedDevices, RememberedDevice{
			ID: e.DeviceID, App: e.App, ACR: e.ACR, CreatedAt: at, ExpiresAt: e.ExpiresAt,
		})
	case events.DeviceForgotten:
		s.RememberedDevices = deleteFirst(s.RememberedDevices, func(d RememberedDevice) bool { return d.ID == e.DeviceID })
	case events.EnrolmentSnoozed:
		s.Snoozes = e.Count
	case events.ResetCompleted:
		s.Authenticators, s.Default, s.RememberedDevices = nil, "", nil
		s.RecoveryCodesLeft, s.TemporaryPassExpiresAt = 0, time.Time{}
		s.FailedAttempts, s.PushPausedUntil = 0, time.Time{}
		s.clearLock()
		s.Resets++
		s.LastResetAt, s.LastResetKind = at, e.Kind
	case events.UserErased:
		// Keep nothing the user gave (labels, devices); keep the identity,
		// the reset history and when the erasure happened.
		*s = SecurityInfo{
			Tenant: s.Tenant, User: s.User, Seq: s.Seq, UpdatedAt: s.UpdatedAt,
			Resets: s.Resets, LastResetAt: s.LastResetAt, LastResetKind: s.LastResetKind,
			Erased: true, ErasedAt: at,
		}
	}
}

func (s *SecurityInfo) authenticator(id string) *AuthenticatorInfo {
	if id == "" {
		return nil
	}
	for i := range s.Authenticators {
		if s.Authenticators[i].ID == id {
			return &s.Authenticators[i]
		}
	}
	return nil
}

func (s *SecurityInfo) removeAuthenticator(id string) {
	s.Authenticators = deleteFirst(s.Authenticators, func(a AuthenticatorInfo) bool { return a.ID == id })
	if s.Default == id {
		s.Default = ""
	}
}

func (s *SecurityInfo) clearLock() {
	s.Locked, s.LockedUntil, s.Permanent, s.LockReason = false, time.Time{}, false, ""
}

// LockedAt reports whether the code-based methods are locked at now.
func (s *SecurityInfo) LockedAt(now time.Time) bool {
	return s.Locked && (s.Permanent || now.Before(s.LockedUntil))
}

// PushPausedAt reports whether push is paused at now.
func (s *SecurityInfo) PushPausedAt(now time.Time) bool { return now.Before(s.PushPausedUntil) }

// Active returns the active authenticators.
func (s *SecurityInfo) Active() []AuthenticatorInfo {
	var out []AuthenticatorInfo
	for _, a := range s.Authenticators {
		if a.Status == StatusActive {
			out = append(out, a)
		}
	}
	return out
}

// Clone returns a deep copy. Apply changes slices in place, so keep a copy
// made with Clone, not by assignment.
func (s *SecurityInfo) Clone() SecurityInfo {
	c := *s
	c.Authenticators = slices.Clone(s.Authenticators)
	c.RememberedDevices = slices.Clone(s.RememberedDevices)
	return c
}

// deleteFirst removes the first element matching del. It returns nil rather
// than an empty slice, so that a model survives a JSON round trip unchanged
// (omitempty writes nothing for both).
func deleteFirst[S ~[]E, E any](s S, del func(E) bool) S {
	if i := slices.IndexFunc(s, del); i >= 0 {
		s = slices.Delete(s, i, i+1)
	}
	if len(s) == 0 {
		return nil
	}
	return s
}
