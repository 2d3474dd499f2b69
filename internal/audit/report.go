package audit

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vaktmfa/vakt/projections"
)

// Report is what a replay found. The sections a writer shows are chosen when
// it is written; Breaks are always shown, first.
type Report struct {
	Source   Source     `json:"source"`
	Filter   Filter     `json:"filter"`
	Verified bool       `json:"verified"` // no break and no problem of the source
	Breaks   []Break    `json:"breaks"`
	Summary  Summary    `json:"summary"`
	Timeline []Timeline `json:"timeline"`
	Resets   []Reset    `json:"resets"`
	Lockouts []Lockout  `json:"lockouts"`
	Fraud    []Fraud    `json:"fraud"`
	Fatigue  []Fatigue  `json:"fatigue"`
}

// Source says where the events came from.
type Source struct {
	Kind          string    `json:"kind"`           // SourceExport or SourceStream
	File          string    `json:"file,omitempty"` // an export's file ("-" for standard input)
	Stream        string    `json:"stream"`
	Server        string    `json:"server,omitempty"` // a live stream's server or data directory
	ExportedAt    time.Time `json:"exported_at,omitzero"`
	FirstPosition uint64    `json:"first_position"`
	LastPosition  uint64    `json:"last_position"`
	ExportFilter  *Filter   `json:"export_filter,omitempty"` // what a filtered export left out
}

// Source kinds.
const (
	SourceExport = "export"
	SourceStream = "stream"
)

func (s Source) String() string {
	var b strings.Builder
	if s.Kind == SourceExport {
		file := s.File
		if file == "-" {
			file = "standard input"
		}
		fmt.Fprintf(&b, "export %s (stream %s, positions %s, exported %s", file, s.Stream, span(s.FirstPosition, s.LastPosition), tableTime(s.ExportedAt))
		if s.ExportFilter != nil {
			fmt.Fprintf(&b, ", filtered: %s", s.ExportFilter)
		}
		b.WriteString(")")
		return b.String()
	}
	fmt.Fprintf(&b, "stream %s on %s (positions %s)", s.Stream, s.Server, span(s.FirstPosition, s.LastPosition))
	return b.String()
}

func span(first, last uint64) string {
	if last == 0 {
		return "none"
	}
	return fmt.Sprintf("%d to %d", first, last)
}

// Break kinds.
const (
	BreakChain  = "chain"  // a stream's hash chain does not hold
	BreakSource = "source" // the source as a whole: a missing position, a bad subject
)

// Break is the first break of a stream's chain, or a problem of the source.
type Break struct {
	Kind     string `json:"kind"`
	Tenant   string `json:"tenant,omitempty"`
	User     string `json:"user,omitempty"`
	Seq      uint64 `json:"seq,omitempty"`
	Position uint64 `json:"position,omitempty"`
	Reason   string `json:"reason"`
}

// Where names the stream of a break: "uio.no / ola", "uio.no (tenant)" or
// "(source)".
func (b Break) Where() string {
	if b.Kind == BreakSource {
		return "(source)"
	}
	return streamName(b.Tenant, b.User)
}

func streamName(tenant, user string) string {
	if user == "" {
		return tenant + " (tenant)"
	}
	return tenant + " / " + user
}

// Summary counts what was read and found.
type Summary struct {
	Messages        int             `json:"messages"`       // read from the source
	OutsideFilter   int             `json:"outside_filter"` // of streams the filter leaves out
	Events          int             `json:"events"`         // of the selected streams
	EventsInRange   int             `json:"events_in_range"`
	FirstPosition   uint64          `json:"first_position"`
	LastPosition    uint64          `json:"last_position"`
	FirstEvent      time.Time       `json:"first_event,omitzero"` // in the time range
	LastEvent       time.Time       `json:"last_event,omitzero"`
	Streams         int             `json:"streams"`
	Tenants         int             `json:"tenants"`
	Users           int             `json:"users"`
	ChainsVerified  int             `json:"chains_verified"`
	ChainsPartial   int             `json:"chains_verified_from_first_exported"` // anchored: the export starts at --since
	ChainsBroken    int             `json:"chains_broken"`
	Resets          int             `json:"resets"`
	Lockouts        int             `json:"lockouts"`
	FraudReports    int             `json:"fraud_reports"`
	FatiguePatterns int             `json:"fatigue_patterns"`
	PerTenant       []TenantSummary `json:"per_tenant"`
}

// TenantSummary is one tenant's counts over the time range (from
// projections.TenantStats).
type TenantSummary struct {
	Tenant            string `json:"tenant"`
	Users             int    `json:"users"`
	Events            int    `json:"events"`
	SignIns           int    `json:"sign_ins"`
	Succeeded         int    `json:"succeeded"`
	Skipped           int    `json:"skipped"`
	Expired           int    `json:"expired"`
	FailedAttempts    int    `json:"failed_attempts"`
	CodesReused       int    `json:"codes_reused"`
	PushDenied        int    `json:"push_denied"`
	PushFraud         int    `json:"push_fraud"`
	PushPaused        int    `json:"push_paused"`
	Lockouts          int    `json:"lockouts"`
	PermanentLockouts int    `json:"permanent_lockouts"`
	Unlocks           int    `json:"unlocks"`
	SelfServiceResets int    `json:"self_service_resets"`
	HelpdeskResets    int    `json:"helpdesk_resets"`
	Erasures          int    `json:"erasures"`
	PolicyChanges     int    `json:"policy_changes"`
}

// Timeline is one stream's events in the time range, with the sentences of
// projections.AuditTrail.
type Timeline struct {
	Tenant       string  `json:"tenant"`
	User         string  `json:"user,omitempty"`
	Events       int     `json:"events"`   // of the stream, at any time
	LastSeq      uint64  `json:"last_seq"` //
	VerifiedFrom uint64  `json:"verified_from_seq,omitempty"`
	BrokenAt     uint64  `json:"broken_at_seq,omitempty"`
	Entries      []Entry `json:"entries"`
}

// Entry is one event of a timeline. Verified is false for events read after
// the first break of their stream.
type Entry struct {
	projections.AuditEntry
	Position uint64 `json:"position"`
	Verified bool   `json:"verified"`
}

// KindTemporaryPass is the kind of a Reset row for a temporary pass the
// helpdesk issued without a reset.
const KindTemporaryPass = "temporary_pass"

// Reset is one MFA reset: who reset whose MFA, when, on what proof. A
// temporary pass issued on its own is listed too, as kind temporary_pass.
type Reset struct {
	Time               time.Time `json:"time"`
	Tenant             string    `json:"tenant"`
	User               string    `json:"user"`
	Seq                uint64    `json:"seq"`
	Position           uint64    `json:"position"`
	Kind               string    `json:"kind"` // self_service, helpdesk, temporary_pass
	ProofKind          string    `json:"proof_kind,omitempty"`
	ProofLevel         string    `json:"proof_level,omitempty"` // the proof's acr
	ProofReference     string    `json:"proof_reference,omitempty"`
	Operator           string    `json:"operator,omitempty"`
	Ticket             string    `json:"ticket,omitempty"`
	Actor              string    `json:"actor"`
	Removed            int       `json:"removed"` // authenticators revoked
	TemporaryPassUntil time.Time `json:"temporary_pass_until,omitzero"`
	Verified           bool      `json:"verified"`
}

// How a lockout ended.
const (
	EndedUnlocked   = "unlocked"   // by the helpdesk
	EndedReset      = "reset"      // by a reset
	EndedErased     = "erased"     // the user was erased
	EndedExpired    = "expired"    // its time ran out
	EndedSuperseded = "superseded" // a new lockout replaced it
)

// Lockout is one lockout and how it ended. An unlock with no lockout before
// it in the source has a zero LockedAt.
type Lockout struct {
	Tenant    string    `json:"tenant"`
	User      string    `json:"user"`
	Seq       uint64    `json:"seq"`
	Position  uint64    `json:"position"`
	LockedAt  time.Time `json:"locked_at,omitzero"`
	Reason    string    `json:"reason,omitempty"` // failures, fraud
	Level     int       `json:"level"`
	Failures  int       `json:"failures"`
	Until     time.Time `json:"until,omitzero"`
	Permanent bool      `json:"permanent"`
	Ended     string    `json:"ended,omitempty"` // empty: still locked at the end of the source
	EndedAt   time.Time `json:"ended_at,omitzero"`
	EndSeq    uint64    `json:"end_seq,omitempty"`
	EndedBy   string    `json:"ended_by,omitempty"` // the actor of the unlock, reset or erasure
	Operator  string    `json:"operator,omitempty"`
	Ticket    string    `json:"ticket,omitempty"`
	Verified  bool      `json:"verified"`
}

func (l Lockout) sortTime() time.Time {
	if l.LockedAt.IsZero() {
		return l.EndedAt
	}
	return l.LockedAt
}

// Fraud is one "this wasn't me" on a push.
type Fraud struct {
	Time            time.Time `json:"time"`
	Tenant          string    `json:"tenant"`
	User            string    `json:"user"`
	Seq             uint64    `json:"seq"`
	Position        uint64    `json:"position"`
	AuthenticatorID string    `json:"authenticator_id"`
	Authenticator   string    `json:"authenticator,omitempty"` // its label
	Method          string    `json:"method,omitempty"`
	Application     string    `json:"application,omitempty"` // the relying party's name for the sign-in
	App             string    `json:"app,omitempty"`         // the application policy it signed in to
	ChallengeID     string    `json:"challenge_id"`
	Actor           string    `json:"actor"`
	Verified        bool      `json:"verified"`
}

// Fatigue patterns.
const (
	PatternPaused   = "paused"   // push was paused
	PatternUnpaused = "unpaused" // refusals within the window, no pause
)

// Fatigue is a push-fatigue pattern: refused pushes (denied, wrong number,
// unanswered, reported as fraud) from From to To, and the pause if there was
// one.
type Fatigue struct {
	Tenant      string    `json:"tenant"`
	User        string    `json:"user"`
	Pattern     string    `json:"pattern"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Seq         uint64    `json:"seq"` // of the pause or the last refusal
	Refusals    int       `json:"refusals"`
	Denied      int       `json:"denied"`
	WrongNumber int       `json:"wrong_number"`
	Unanswered  int       `json:"unanswered"`
	Fraud       int       `json:"fraud"`
	PausedUntil time.Time `json:"paused_until,omitzero"`
	Verified    bool      `json:"verified"`
}

// ---- sections ----------------------------------------------------------------------

// Report sections, in the order "all" shows them.
const (
	SectionSummary  = "summary"
	SectionTimeline = "timeline"
	SectionResets   = "resets"
	SectionLockouts = "lockouts"
	SectionFraud    = "fraud"
	SectionFatigue  = "fatigue"
)

// Sections lists every section in order.
var Sections = []string{SectionSummary, SectionTimeline, SectionResets, SectionLockouts, SectionFraud, SectionFatigue}

// ParseSections reads a --report value: "all" or a comma-separated list of
// sections. The result is in the order of Sections.
func ParseSections(s string) ([]string, error) {
	want := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "all":
			for _, x := range Sections {
				want[x] = true
			}
		case isSection(p):
			want[p] = true
		default:
			return nil, fmt.Errorf("unknown report %q: choose %s or all", p, strings.Join(Sections, ", "))
		}
	}
	var out []string
	for _, x := range Sections {
		if want[x] {
			out = append(out, x)
		}
	}
	return out, nil
}

func isSection(s string) bool {
	for _, x := range Sections {
		if x == s {
			return true
		}
	}
	return false
}

// ---- cell formatting ----------------------------------------------------------------

// tableTime writes a time for a table: UTC to the second.
func tableTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func itoa(n int) string    { return strconv.Itoa(n) }
func utoa(n uint64) string { return strconv.FormatUint(n, 10) }
func btoa(b bool) string   { return strconv.FormatBool(b) }
func seqCell(n uint64) string {
	if n == 0 {
		return "-"
	}
	return utoa(n)
}
