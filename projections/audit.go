package projections

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vaktmfa/vakt/events"
)

// AuditTrail is a user's timeline for audit teams and the helpdesk: one entry
// per event, with a sentence in plain English and the structured fields an
// auditor filters on (operator, ticket, proof, authenticator, challenge).
type AuditTrail struct {
	Tenant  string       `json:"tenant"`
	User    string       `json:"user"`
	Seq     uint64       `json:"seq"`
	Entries []AuditEntry `json:"entries,omitempty"`
	// Refs remembers what ids stand for (an authenticator's method and
	// label, the application of a pending challenge or a remembered
	// browser) so that later sentences can name them. It is bookkeeping,
	// kept in the model so that a stored copy can go on folding.
	Refs map[string]Ref `json:"refs,omitempty"`
}

// Ref is what an id in a user's stream stands for.
type Ref struct {
	Method string `json:"method,omitempty"`
	Label  string `json:"label,omitempty"`
	App    string `json:"app,omitempty"`
}

// AuditEntry is one event of the timeline.
type AuditEntry struct {
	ID      string    `json:"id"` // the event id
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Actor   string    `json:"actor"`
	Command string    `json:"command"`
	Summary string    `json:"summary"`

	AuthenticatorID string        `json:"authenticator_id,omitempty"`
	Label           string        `json:"label,omitempty"`
	ChallengeID     string        `json:"challenge_id,omitempty"`
	DeviceID        string        `json:"device_id,omitempty"`
	App             string        `json:"app,omitempty"`
	Method          string        `json:"method,omitempty"`
	ACR             string        `json:"acr,omitempty"`
	Reason          string        `json:"reason,omitempty"`
	Operator        string        `json:"operator,omitempty"`
	Ticket          string        `json:"ticket,omitempty"`
	Proof           *events.Proof `json:"proof,omitempty"`
	// Application is the relying party's name for the sign-in. The client
	// details (IP, user agent, location) are sealed in the events; ClientSealed
	// says they exist, for a screen that holds the user's key to open them
	// (engine.OpenClient).
	Application  string    `json:"application,omitempty"`
	ClientSealed bool      `json:"has_client_details,omitempty"`
	Until        time.Time `json:"until,omitzero"` // lockout, pause, pass or remembered browser end
	Failures     int       `json:"failures,omitempty"`
	Removed      int       `json:"removed,omitempty"` // authenticators a reset removed
}

// Apply folds one event into the trail. A zero AuditTrail takes the user of
// the first event it is given; events of other streams, of the tenant stream,
// and events already seen (by sequence) change nothing. Events of a type it
// does not know still get an entry, with a generic sentence.
func (a *AuditTrail) Apply(rec *events.Record) {
	if rec == nil || rec.User == "" {
		return
	}
	if a.Tenant == "" && a.User == "" {
		a.Tenant, a.User = rec.Tenant, rec.User
	}
	if rec.Tenant != a.Tenant || rec.User != a.User || rec.Seq <= a.Seq {
		return
	}
	a.Seq = rec.Seq
	e := AuditEntry{
		ID: rec.ID, Seq: rec.Seq, Time: rec.Time, Type: rec.Type,
		Actor: rec.Actor, Command: rec.Command,
	}
	a.describe(rec, &e)
	a.Entries = append(a.Entries, e)
	if len(a.Refs) == 0 {
		a.Refs = nil
	}
}

// unknownSummary is the sentence for an event type this package does not
// know; a test makes sure no registered user event gets it.
func unknownSummary(typ string) string { return "event " + typ }

// describe fills the entry's sentence and fields, and keeps Refs current.
func (a *AuditTrail) describe(rec *events.Record, e *AuditEntry) {
	switch ev := rec.Event.(type) {
	case events.EnrolmentStarted:
		a.ref(ev.AuthenticatorID, Ref{Method: ev.Method, Label: ev.Label})
		e.AuthenticatorID, e.Method, e.Label, e.Until = ev.AuthenticatorID, ev.Method, ev.Label, ev.ExpiresAt
		if ev.Onboarding {
			e.Summary = fmt.Sprintf("sent an activation link for %s %q (%s), pending", methodNoun(ev.Method), ev.Label, ev.Method)
		} else {
			e.Summary = fmt.Sprintf("enrolled %s %q (%s), pending", methodNoun(ev.Method), ev.Label, ev.Method)
		}
	case events.ConfirmationFailed:
		a.authFields(e, ev.AuthenticatorID)
		e.Reason, e.Failures = ev.Reason, ev.Attempts
		e.Summary = fmt.Sprintf("wrong code confirming %s (attempt %d)", a.authName(ev.AuthenticatorID), ev.Attempts)
	case events.Activated:
		a.authFields(e, ev.AuthenticatorID)
		e.Method, e.ACR = ev.Method, ev.ACR
		e.Summary = fmt.Sprintf("activated %s (%s, acr %s)", a.authName(ev.AuthenticatorID), ev.Method, ev.ACR)
	case events.EnrolmentExpired:
		a.authFields(e, ev.AuthenticatorID)
		e.Reason = ev.Reason
		name := a.authName(ev.AuthenticatorID)
		switch ev.Reason {
		case "expired":
			e.Summary = fmt.Sprintf("enrolment of %s expired unconfirmed", name)
		case "too_many_attempts":
			e.Summary = fmt.Sprintf("enrolment of %s cancelled after too many wrong codes", name)
		default:
			e.Summary = fmt.Sprintf("enrolment of %s ended (%s)", name, ev.Reason)
		}
		delete(a.Refs, ev.AuthenticatorID)
	case events.Renamed:
		a.authFields(e, ev.AuthenticatorID)
		e.Summary = fmt.Sprintf("renamed %s to %q", a.authName(ev.AuthenticatorID), ev.Label)
		if r, ok := a.Refs[ev.AuthenticatorID]; ok {
			r.Label = ev.Label
			a.Refs[ev.AuthenticatorID] = r
		}
		e.Label = ev.Label
	case events.DefaultChanged:
		if ev.AuthenticatorID == "" {
			e.Summary = "no default authenticator any more"
			break
		}
		a.authFields(e, ev.AuthenticatorID)
		e.Summary = fmt.Sprintf("made %s the default", a.authName(ev.AuthenticatorID))
	case events.Removed:
		a.authFields(e, ev.AuthenticatorID)
		e.Method, e.Reason = ev.Method, ev.Reason
		e.Summary = fmt.Sprintf("removed %s (%s)", a.authName(ev.AuthenticatorID), ev.Method)
		delete(a.Refs, ev.AuthenticatorID)
	case events.CounterResynced:
		a.authFields(e, ev.AuthenticatorID)
		e.Summary = fmt.Sprintf("resynchronised %s at counter %d", a.authName(ev.AuthenticatorID), ev.Counter)
	case events.DriftAdjusted:
		a.authFields(e, ev.AuthenticatorID)
		switch {
		case ev.Drift < 0:
			e.Summary = fmt.Sprintf("moved the code window of %s to %s behind the server's clock", a.authName(ev.AuthenticatorID), plural(int(-ev.Drift), "step"))
		case ev.Drift > 0:
			e.Summary = fmt.Sprintf("moved the code window of %s to %s ahead of the server's clock", a.authName(ev.AuthenticatorID), plural(int(ev.Drift), "step"))
		default:
			e.Summary = fmt.Sprintf("re-centred the code window of %s on the server's clock", a.authName(ev.AuthenticatorID))
		}
	case events.RecoveryCodesIssued:
		e.Method = events.MethodRecoveryCode
		e.Summary = fmt.Sprintf("issued %s", plural(len(ev.Codes), "recovery code"))
	case events.RecoveryCodeUsed:
		e.Method, e.ChallengeID = events.MethodRecoveryCode, ev.ChallengeID
		e.App = a.Refs[ev.ChallengeID].App
		e.Summary = fmt.Sprintf("used a recovery code, %d left", ev.Remaining)
	case events.TemporaryPassIssued:
		e.Method, e.Operator, e.Ticket, e.Until = events.MethodTemporaryPass, ev.Operator, ev.Ticket, ev.ExpiresAt
		until := formatTime(ev.ExpiresAt)
		selfService := false
		if n := len(a.Entries); n > 0 {
			prev := a.Entries[n-1]
			selfService = prev.Type == "reset.completed" && prev.Command == rec.Command && prev.Proof != nil
		}
		switch {
		case selfService:
			e.Summary = fmt.Sprintf("issued a temporary pass after a self-service reset, valid until %s", until)
		case ev.Operator == "":
			e.Summary = fmt.Sprintf("issued a temporary pass, valid until %s", until)
		default:
			e.Summary = fmt.Sprintf("helpdesk operator %q issued a temporary pass, ticket %q, valid until %s", ev.Operator, ev.Ticket, until)
		}
	case events.TemporaryPassUsed:
		e.Method, e.ChallengeID = events.MethodTemporaryPass, ev.ChallengeID
		e.App = a.Refs[ev.ChallengeID].App
		e.Summary = "used the temporary pass"
	case events.ChallengeIssued:
		a.ref(ev.ChallengeID, Ref{App: ev.App})
		e.ChallengeID, e.App, e.ACR, e.Until = ev.ChallengeID, ev.App, ev.RequiredACR, ev.ExpiresAt
		e.Application, e.ClientSealed = ev.Application, !ev.Client.IsZero()
		e.Summary = fmt.Sprintf("sign-in to %s started, offering %s (acr %s)", ev.App, strings.Join(ev.Methods, ", "), ev.RequiredACR)
		if ev.Push != nil {
			e.AuthenticatorID = ev.Push.AuthenticatorID
			e.Summary += fmt.Sprintf("; push sent to %s", a.authName(ev.Push.AuthenticatorID))
		}
	case events.CodeSent:
		a.authFields(e, ev.AuthenticatorID)
		e.ChallengeID, e.Method, e.Until = ev.ChallengeID, ev.Method, ev.ExpiresAt
		e.App = a.Refs[ev.ChallengeID].App
		e.Summary = fmt.Sprintf("sent a one-time code by %s to %s for sign-in to %s", channel(ev.Method), a.authName(ev.AuthenticatorID), orUnknown(e.App))
	case events.PushSent:
		a.authFields(e, ev.Push.AuthenticatorID)
		e.ChallengeID, e.Method, e.Until = ev.ChallengeID, events.MethodPush, ev.Push.ExpiresAt
		e.App = a.Refs[ev.ChallengeID].App
		e.Summary = fmt.Sprintf("sent a push to %s for sign-in to %s", a.authName(ev.Push.AuthenticatorID), orUnknown(e.App))
	case events.ChallengeSkipped:
		e.ChallengeID, e.App, e.Reason, e.DeviceID, e.ACR = ev.ChallengeID, ev.App, ev.Reason, ev.DeviceID, ev.ACR
		switch ev.Reason {
		case "remembered":
			e.Summary = fmt.Sprintf("sign-in to %s skipped: remembered browser (acr %s)", ev.App, ev.ACR)
		case "snoozed":
			e.Summary = fmt.Sprintf("sign-in to %s skipped: enrolment snoozed", ev.App)
		default:
			e.Summary = fmt.Sprintf("sign-in to %s skipped (%s)", ev.App, ev.Reason)
		}
	case events.AttemptFailed:
		a.authFields(e, ev.AuthenticatorID)
		e.ChallengeID, e.Reason, e.Failures = ev.ChallengeID, ev.Reason, ev.Failures
		if ev.Method != "" {
			e.Method = ev.Method
		}
		e.App = a.Refs[ev.ChallengeID].App
		what := "wrong code"
		switch ev.Reason {
		case "code_reused":
			what = "code already used"
			if ev.AuthenticatorID != "" {
				what += " on " + a.authName(ev.AuthenticatorID)
			}
		case "invalid_code":
		default:
			what = "failed attempt (" + ev.Reason + ")"
		}
		e.Summary = fmt.Sprintf("sign-in to %s: %s (%s in a row)", orUnknown(e.App), what, plural(ev.Failures, "failure"))
	case events.ChallengeSucceeded:
		a.authFields(e, ev.AuthenticatorID)
		e.ChallengeID, e.Method, e.ACR = ev.ChallengeID, ev.Method, ev.ACR
		e.App = a.Refs[ev.ChallengeID].App
		e.Summary = fmt.Sprintf("sign-in to %s succeeded with %s (acr %s)", orUnknown(e.App), ev.Method, ev.ACR)
		delete(a.Refs, ev.ChallengeID)
	case events.ChallengeDenied:
		a.authFields(e, ev.AuthenticatorID)
		e.ChallengeID, e.Method, e.Reason = ev.ChallengeID, events.MethodPush, ev.Reason
		e.App = a.Refs[ev.ChallengeID].App
		e.Summary = fmt.Sprintf("sign-in to %s denied on %s", orUnknown(e.App), a.authName(ev.AuthenticatorID))
		if ev.Reason == "wrong_number" {
			e.Summary += ": wrong number chosen"
		}
		delete(a.Refs, ev.ChallengeID)
	case events.FraudReported:
		a.authFields(e, ev.AuthenticatorID)
		e.ChallengeID, e.Method = ev.ChallengeID, events.MethodPush
		e.Application, e.ClientSealed = ev.Application, !ev.Client.IsZero()
		e.App = a.Refs[ev.ChallengeID].App
		e.Summary = fmt.Sprintf("fraud reported (\"this wasn't me\") on %s for sign-in to %s", a.authName(ev.AuthenticatorID), orUnknown(e.App))
		if ev.Application != "" {
			e.Summary += " (" + ev.Application + ")"
		}
		delete(a.Refs, ev.ChallengeID)
	case events.ChallengeExpired:
		e.ChallengeID = ev.ChallengeID
		e.App = a.Refs[ev.ChallengeID].App
		if ev.PushUnanswered {
			e.Reason = "push_unanswered"
			e.Summary = fmt.Sprintf("sign-in to %s expired; the push was not answered", orUnknown(e.App))
		} else {
			e.Summary = fmt.Sprintf("sign-in to %s expired unanswered", orUnknown(e.App))
		}
		delete(a.Refs, ev.ChallengeID)
	case events.PushPaused:
		e.Method, e.Until, e.Failures = events.MethodPush, ev.Until, ev.Refused
		e.Summary = fmt.Sprintf("push paused for %s after %s", ev.Until.Sub(rec.Time), plural(ev.Refused, "denied or unanswered push"))
	case events.LockedOut:
		e.Reason, e.Until, e.Failures = ev.Reason, ev.Until, ev.Failures
		switch {
		case ev.Reason == "fraud":
			e.Summary = "locked out after a fraud report, until a helpdesk unlock or a reset"
		case ev.Permanent:
			e.Summary = fmt.Sprintf("locked out until a helpdesk unlock or a reset after %s", plural(ev.Failures, "failed attempt"))
		default:
			e.Summary = fmt.Sprintf("locked out for %s after %s", ev.Until.Sub(rec.Time), plural(ev.Failures, "failed attempt"))
		}
	case events.Unlocked:
		e.Operator, e.Ticket = ev.Operator, ev.Ticket
		e.Summary = fmt.Sprintf("unlocked by helpdesk operator %q, ticket %q", ev.Operator, ev.Ticket)
	case events.DeviceRemembered:
		a.ref(ev.DeviceID, Ref{App: ev.App})
		e.DeviceID, e.ChallengeID, e.App, e.ACR, e.Until = ev.DeviceID, ev.ChallengeID, ev.App, ev.ACR, ev.ExpiresAt
		e.Summary = fmt.Sprintf("remembered the browser for %s until %s (acr %s)", ev.App, formatTime(ev.ExpiresAt), ev.ACR)
	case events.DeviceForgotten:
		e.DeviceID, e.Reason = ev.DeviceID, ev.Reason
		e.App = a.Refs[ev.DeviceID].App
		app := orUnknown(e.App)
		switch ev.Reason {
		case "expired":
			e.Summary = fmt.Sprintf("remembered browser for %s expired", app)
		case "evicted":
			e.Summary = fmt.Sprintf("forgot the remembered browser for %s to make room for a newer one", app)
		case "forgotten":
			e.Summary = fmt.Sprintf("forgot the remembered browser for %s", app)
		default:
			e.Summary = fmt.Sprintf("forgot the remembered browser for %s (%s)", app, ev.Reason)
		}
		delete(a.Refs, ev.DeviceID)
	case events.EnrolmentSnoozed:
		e.ChallengeID, e.App = ev.ChallengeID, ev.App
		e.Summary = fmt.Sprintf("snoozed enrolment at sign-in to %s (snooze %d)", ev.App, ev.Count)
	case events.ResetCompleted:
		e.Reason, e.Operator, e.Ticket, e.Removed = ev.Kind, ev.Operator, ev.Ticket, ev.Removed
		switch {
		case ev.Kind == "helpdesk":
			e.Summary = fmt.Sprintf("reset by helpdesk operator %q, ticket %q", ev.Operator, ev.Ticket)
		case ev.Proof != nil:
			p := *ev.Proof
			e.Proof = &p
			e.Summary = fmt.Sprintf("self-service reset after identity proof %s at %s", p.Kind, p.ACR)
			if p.Reference != "" {
				e.Summary += fmt.Sprintf(" (reference %q)", p.Reference)
			}
		default:
			e.Summary = fmt.Sprintf("reset (%s)", ev.Kind)
		}
		// A reset revokes every authenticator, challenge and remembered
		// browser: nothing later refers to them.
		a.Refs = nil
	case events.UserErased:
		e.Operator, e.Ticket, e.Reason = ev.Operator, ev.Ticket, ev.Reason
		e.Summary = "erased"
		if ev.Operator != "" {
			e.Summary += fmt.Sprintf(" by %q", ev.Operator)
		}
		if ev.Ticket != "" {
			e.Summary += fmt.Sprintf(", ticket %q", ev.Ticket)
		}
		if ev.Reason != "" {
			e.Summary += fmt.Sprintf(" (%s)", ev.Reason)
		}
		e.Summary += "; the data key is destroyed"
		a.Refs = nil
	default:
		e.Summary = unknownSummary(rec.Type)
	}
}

func (a *AuditTrail) ref(id string, r Ref) {
	if id == "" {
		return
	}
	if a.Refs == nil {
		a.Refs = map[string]Ref{}
	}
	a.Refs[id] = r
}

// authFields sets the entry's authenticator id, method and label.
func (a *AuditTrail) authFields(e *AuditEntry, id string) {
	if id == "" {
		return
	}
	e.AuthenticatorID = id
	if r, ok := a.Refs[id]; ok {
		e.Method, e.Label = r.Method, r.Label
	}
}

// authName names an authenticator in a sentence: `authenticator app "Phone"`.
func (a *AuditTrail) authName(id string) string {
	if r, ok := a.Refs[id]; ok && r.Method != "" {
		return fmt.Sprintf("%s %q", methodNoun(r.Method), r.Label)
	}
	if id == "" {
		return "an authenticator"
	}
	return "authenticator " + id
}

func methodNoun(method string) string {
	switch method {
	case events.MethodTOTP:
		return "authenticator app"
	case events.MethodHOTP:
		return "hardware token"
	case events.MethodPush:
		return "push app"
	case events.MethodSMS:
		return "phone"
	case events.MethodEmail:
		return "e-mail address"
	}
	return "authenticator"
}

func channel(method string) string {
	switch method {
	case events.MethodSMS:
		return "SMS"
	case events.MethodEmail:
		return "e-mail"
	}
	return method
}

func orUnknown(app string) string {
	if app == "" {
		return "an application"
	}
	return app
}

// plural writes "1 step", "2 steps"; nouns ending in "sh" take "es".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	if strings.HasSuffix(noun, "sh") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// formatTime writes a moment for a sentence, in UTC to the minute.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// Clone returns a deep copy.
func (a *AuditTrail) Clone() AuditTrail {
	c := *a
	c.Entries = slices.Clone(a.Entries)
	for i := range c.Entries {
		if p := c.Entries[i].Proof; p != nil {
			q := *p
			c.Entries[i].Proof = &q
		}
	}
	c.Refs = maps.Clone(a.Refs)
	return c
}
