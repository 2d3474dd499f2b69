package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/vaktmfa/vakt/events"
)

// describer turns stored events into one-line, human-readable summaries. It
// never shows a secret: sealed seeds and addresses, code hashes and token
// hashes are mentioned, not printed. It remembers authenticator labels from
// the enrolments it has seen, so later events can name the authenticator.
type describer struct {
	labels map[string]string // authenticator id -> label
}

func newDescriber() *describer { return &describer{labels: map[string]string{}} }

// shortID is the tail of a UUIDv7: its leading digits are the timestamp and
// alike for ids made close together, the tail is random.
func shortID(id string) string {
	if len(id) > 6 {
		return id[len(id)-6:]
	}
	return id
}

// auth names an authenticator: its label and short id.
func (d *describer) auth(id string) string {
	if id == "" {
		return "none"
	}
	if l, ok := d.labels[id]; ok {
		return fmt.Sprintf("%q (%s)", l, shortID(id))
	}
	return "authenticator " + shortID(id)
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// until formats a deadline relative to the event, as a person would say it.
func until(at, t time.Time) string {
	return fmt.Sprintf("until %s (%s)", t.UTC().Format("15:04:05"), human(t.Sub(at)))
}

// human writes a duration the way the policy states it: "30 s", "10 min",
// "20 d", falling back to Go's form for odd values.
func human(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d <= 0:
		return "0 s"
	case d%day == 0:
		return fmt.Sprintf("%d d", d/day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	case d%time.Second == 0 && d < time.Minute:
		return fmt.Sprintf("%d s", d/time.Second)
	}
	return d.Round(time.Second).String()
}

// line is one event as printed by the demo: sequence, time, type and what it
// says.
func (d *describer) line(r *events.Record) string {
	return fmt.Sprintf("  %3d  %s  %-31s  %s", r.Seq, r.Time.UTC().Format("15:04:05"), r.Type, d.describe(r))
}

// describe summarises an event's data.
func (d *describer) describe(r *events.Record) string {
	at := r.Time
	switch e := r.Event.(type) {
	case events.EnrolmentStarted:
		d.labels[e.AuthenticatorID] = e.Label
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s, pending %s", e.Method, d.auth(e.AuthenticatorID), until(at, e.ExpiresAt))
		if e.Digits > 0 {
			fmt.Fprintf(&b, "; %s, %d digits", e.Algorithm, e.Digits)
			if e.Period > 0 {
				fmt.Fprintf(&b, ", %d s", e.Period)
			}
		}
		if !e.Secret.IsZero() {
			b.WriteString("; secret sealed")
		}
		if !e.Address.IsZero() {
			b.WriteString("; address sealed")
		}
		return b.String()
	case events.ConfirmationFailed:
		return fmt.Sprintf("%s: %s (attempt %d)", d.auth(e.AuthenticatorID), e.Reason, e.Attempts)
	case events.Activated:
		s := fmt.Sprintf("%s %s is active, acr %s", e.Method, d.auth(e.AuthenticatorID), e.ACR)
		if e.Step != 0 {
			s += fmt.Sprintf("; its first code's step %d counts as used", e.Step)
		}
		if e.Method == events.MethodHOTP {
			s += fmt.Sprintf("; next counter %d", e.Counter)
		}
		if len(e.PublicKey) > 0 {
			s += "; device key registered"
		}
		return s
	case events.EnrolmentExpired:
		return fmt.Sprintf("%s: %s", d.auth(e.AuthenticatorID), e.Reason)
	case events.Renamed:
		s := fmt.Sprintf("%s is now called %q", d.auth(e.AuthenticatorID), e.Label)
		d.labels[e.AuthenticatorID] = e.Label
		return s
	case events.DefaultChanged:
		return fmt.Sprintf("default is now %s (was %s)", d.auth(e.AuthenticatorID), d.auth(e.Previous))
	case events.Removed:
		s := fmt.Sprintf("%s %s removed", e.Method, d.auth(e.AuthenticatorID))
		if e.Reason != "" && e.Reason != "removed" {
			s += " (" + e.Reason + ")"
		}
		return s
	case events.CounterResynced:
		return fmt.Sprintf("%s: counter moved to %d", d.auth(e.AuthenticatorID), e.Counter)
	case events.DriftAdjusted:
		return fmt.Sprintf("%s: window centred %+d steps off", d.auth(e.AuthenticatorID), e.Drift)
	case events.RecoveryCodesIssued:
		return fmt.Sprintf("%d recovery codes (stored hashed)", len(e.Codes))
	case events.RecoveryCodeUsed:
		return fmt.Sprintf("code #%d used for challenge %s; %d left", e.Index+1, shortID(e.ChallengeID), e.Remaining)
	case events.TemporaryPassIssued:
		return fmt.Sprintf("by %s on %s, valid %s (stored hashed)", e.Operator, e.Ticket, until(at, e.ExpiresAt))
	case events.TemporaryPassUsed:
		return fmt.Sprintf("for challenge %s", shortID(e.ChallengeID))
	case events.ChallengeIssued:
		s := fmt.Sprintf("challenge %s for app %q, acr %s, methods %s, open %s",
			shortID(e.ChallengeID), e.App, e.RequiredACR, strings.Join(e.Methods, ","), until(at, e.ExpiresAt))
		if e.Push != nil {
			s += fmt.Sprintf("; push to %s", d.auth(e.Push.AuthenticatorID))
		}
		return s
	case events.CodeSent:
		return fmt.Sprintf("challenge %s: %s code to %s (stored hashed), valid %s", shortID(e.ChallengeID), e.Method, d.auth(e.AuthenticatorID), until(at, e.ExpiresAt))
	case events.PushSent:
		return fmt.Sprintf("challenge %s: push to %s", shortID(e.ChallengeID), d.auth(e.Push.AuthenticatorID))
	case events.ChallengeSkipped:
		return fmt.Sprintf("challenge %s for app %q skipped: %s", shortID(e.ChallengeID), e.App, e.Reason)
	case events.AttemptFailed:
		s := fmt.Sprintf("challenge %s: %s", shortID(e.ChallengeID), e.Reason)
		if e.AuthenticatorID != "" {
			s += " (" + d.auth(e.AuthenticatorID) + ")"
		}
		return s + fmt.Sprintf("; %d consecutive failure(s)", e.Failures)
	case events.ChallengeSucceeded:
		s := fmt.Sprintf("challenge %s: %s", shortID(e.ChallengeID), e.Method)
		if e.AuthenticatorID != "" {
			s += " " + d.auth(e.AuthenticatorID)
		}
		s += fmt.Sprintf(", acr %s, amr %s", e.ACR, strings.Join(e.AMR, ","))
		if e.Step != 0 {
			s += fmt.Sprintf(", step %d", e.Step)
			if e.Offset != 0 {
				s += fmt.Sprintf(" (%+d)", e.Offset)
			}
		}
		return s
	case events.ChallengeDenied:
		return fmt.Sprintf("challenge %s: %s (%s)", shortID(e.ChallengeID), e.Reason, d.auth(e.AuthenticatorID))
	case events.FraudReported:
		return fmt.Sprintf("challenge %s: \"this wasn't me\" on %s", shortID(e.ChallengeID), d.auth(e.AuthenticatorID))
	case events.ChallengeExpired:
		if e.PushUnanswered {
			return fmt.Sprintf("challenge %s: push unanswered", shortID(e.ChallengeID))
		}
		return "challenge " + shortID(e.ChallengeID)
	case events.PushPaused:
		return fmt.Sprintf("after %d refused pushes, %s", e.Refused, until(at, e.Until))
	case events.LockedOut:
		if e.Permanent {
			return fmt.Sprintf("%s after %d failures, until a helpdesk unlock or reset", e.Reason, e.Failures)
		}
		return fmt.Sprintf("%s after %d failures, level %d, %s", e.Reason, e.Failures, e.Level, until(at, e.Until))
	case events.Unlocked:
		return fmt.Sprintf("by %s on %s", e.Operator, e.Ticket)
	case events.DeviceRemembered:
		return fmt.Sprintf("browser %s for app %q at acr %s, %s (token stored hashed)", shortID(e.DeviceID), e.App, e.ACR, until(at, e.ExpiresAt))
	case events.DeviceForgotten:
		return fmt.Sprintf("browser %s: %s", shortID(e.DeviceID), e.Reason)
	case events.EnrolmentSnoozed:
		return fmt.Sprintf("app %q, snooze %d", e.App, e.Count)
	case events.ResetCompleted:
		s := e.Kind
		if e.Proof != nil {
			s += fmt.Sprintf(" with proof %s at %s", e.Proof.Kind, e.Proof.ACR)
			if e.Proof.Reference != "" {
				s += " (" + e.Proof.Reference + ")"
			}
		}
		if e.Operator != "" || e.Ticket != "" {
			s += fmt.Sprintf(" by %s on %s", e.Operator, e.Ticket)
		}
		return s + fmt.Sprintf("; %d authenticator(s) revoked", e.Removed)
	case events.UserErased:
		return fmt.Sprintf("data key destroyed; by %s on %s: %s", e.Operator, e.Ticket, e.Reason)
	case events.PolicySet:
		return "policy replaced (issuer " + e.Policy.Issuer + ")"
	}
	return fmt.Sprintf("(%T)", r.Event)
}
