package audit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Output formats.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatCSV   = "csv"
)

// Formats lists the output formats.
var Formats = []string{FormatTable, FormatJSON, FormatCSV}

// Write writes the report's chosen sections in a format. A table and JSON
// always carry the verification outcome and the breaks, first; CSV holds one
// section (the caller reports breaks elsewhere).
func Write(w io.Writer, rep *Report, format string, sections []string) error {
	switch format {
	case FormatTable:
		return writeTable(w, rep, sections)
	case FormatJSON:
		return writeJSON(w, rep, sections)
	case FormatCSV:
		if len(sections) != 1 {
			return fmt.Errorf("CSV holds one report; choose one of %s", strings.Join(Sections, ", "))
		}
		return writeCSV(w, rep, sections[0])
	}
	return fmt.Errorf("unknown format %q: choose %s", format, strings.Join(Formats, ", "))
}

// ---- JSON --------------------------------------------------------------------------

func writeJSON(w io.Writer, rep *Report, sections []string) error {
	out := struct {
		Source   Source      `json:"source"`
		Filter   Filter      `json:"filter"`
		Verified bool        `json:"verified"`
		Breaks   []Break     `json:"breaks"`
		Summary  *Summary    `json:"summary,omitempty"`
		Timeline *[]Timeline `json:"timeline,omitempty"`
		Resets   *[]Reset    `json:"resets,omitempty"`
		Lockouts *[]Lockout  `json:"lockouts,omitempty"`
		Fraud    *[]Fraud    `json:"fraud,omitempty"`
		Fatigue  *[]Fatigue  `json:"fatigue,omitempty"`
	}{Source: rep.Source, Filter: rep.Filter, Verified: rep.Verified, Breaks: nonNil(rep.Breaks)}
	for _, s := range sections {
		switch s {
		case SectionSummary:
			sum := rep.Summary
			sum.PerTenant = nonNil(sum.PerTenant)
			out.Summary = &sum
		case SectionTimeline:
			out.Timeline = ptr(nonNil(rep.Timeline))
		case SectionResets:
			out.Resets = ptr(nonNil(rep.Resets))
		case SectionLockouts:
			out.Lockouts = ptr(nonNil(rep.Lockouts))
		case SectionFraud:
			out.Fraud = ptr(nonNil(rep.Fraud))
		case SectionFatigue:
			out.Fatigue = ptr(nonNil(rep.Fatigue))
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// ---- CSV ---------------------------------------------------------------------------

func writeCSV(w io.Writer, rep *Report, section string) error {
	cw := csv.NewWriter(w)
	row := func(cells ...string) { cw.Write(cells) }
	// Text that came from users or operators is guarded against spreadsheet
	// formulas; numbers, times and booleans are written as they are.
	t := csvText
	switch section {
	case SectionSummary:
		row("tenant", "users", "events", "sign_ins", "succeeded", "skipped", "expired", "failed_attempts", "codes_reused",
			"push_denied", "push_fraud", "push_paused", "lockouts", "permanent_lockouts", "unlocks",
			"self_service_resets", "helpdesk_resets", "erasures", "policy_changes")
		for _, s := range rep.Summary.PerTenant {
			row(t(s.Tenant), itoa(s.Users), itoa(s.Events), itoa(s.SignIns), itoa(s.Succeeded), itoa(s.Skipped), itoa(s.Expired),
				itoa(s.FailedAttempts), itoa(s.CodesReused), itoa(s.PushDenied), itoa(s.PushFraud), itoa(s.PushPaused),
				itoa(s.Lockouts), itoa(s.PermanentLockouts), itoa(s.Unlocks), itoa(s.SelfServiceResets), itoa(s.HelpdeskResets),
				itoa(s.Erasures), itoa(s.PolicyChanges))
		}
	case SectionTimeline:
		row("tenant", "user", "seq", "position", "time", "type", "actor", "command", "summary", "authenticator_id", "label",
			"method", "challenge_id", "app", "application", "acr", "reason", "operator", "ticket", "verified")
		for _, tl := range rep.Timeline {
			for _, e := range tl.Entries {
				row(t(tl.Tenant), t(tl.User), utoa(e.Seq), utoa(e.Position), csvTime(e.Time), t(e.Type), t(e.Actor), t(e.Command),
					t(e.Summary), t(e.AuthenticatorID), t(e.Label), t(e.Method), t(e.ChallengeID), t(e.App), t(e.Application),
					t(e.ACR), t(e.Reason), t(e.Operator), t(e.Ticket), btoa(e.Verified))
			}
		}
	case SectionResets:
		row("time", "tenant", "user", "seq", "position", "kind", "proof_kind", "proof_level", "proof_reference",
			"operator", "ticket", "actor", "removed", "temporary_pass_until", "verified")
		for _, r := range rep.Resets {
			row(csvTime(r.Time), t(r.Tenant), t(r.User), utoa(r.Seq), utoa(r.Position), t(r.Kind), t(r.ProofKind), t(r.ProofLevel),
				t(r.ProofReference), t(r.Operator), t(r.Ticket), t(r.Actor), itoa(r.Removed), csvTime(r.TemporaryPassUntil), btoa(r.Verified))
		}
	case SectionLockouts:
		row("locked_at", "tenant", "user", "seq", "position", "reason", "level", "failures", "until", "permanent",
			"ended", "ended_at", "end_seq", "ended_by", "operator", "ticket", "verified")
		for _, l := range rep.Lockouts {
			row(csvTime(l.LockedAt), t(l.Tenant), t(l.User), utoa(l.Seq), utoa(l.Position), t(l.Reason), itoa(l.Level), itoa(l.Failures),
				csvTime(l.Until), btoa(l.Permanent), t(l.Ended), csvTime(l.EndedAt), zeroBlank(l.EndSeq), t(l.EndedBy),
				t(l.Operator), t(l.Ticket), btoa(l.Verified))
		}
	case SectionFraud:
		row("time", "tenant", "user", "seq", "position", "authenticator_id", "authenticator", "method", "application", "app",
			"challenge_id", "actor", "verified")
		for _, f := range rep.Fraud {
			row(csvTime(f.Time), t(f.Tenant), t(f.User), utoa(f.Seq), utoa(f.Position), t(f.AuthenticatorID), t(f.Authenticator),
				t(f.Method), t(f.Application), t(f.App), t(f.ChallengeID), t(f.Actor), btoa(f.Verified))
		}
	case SectionFatigue:
		row("tenant", "user", "pattern", "from", "to", "seq", "refusals", "denied", "wrong_number", "unanswered", "fraud",
			"paused_until", "verified")
		for _, f := range rep.Fatigue {
			row(t(f.Tenant), t(f.User), t(f.Pattern), csvTime(f.From), csvTime(f.To), utoa(f.Seq), itoa(f.Refusals), itoa(f.Denied),
				itoa(f.WrongNumber), itoa(f.Unanswered), itoa(f.Fraud), csvTime(f.PausedUntil), btoa(f.Verified))
		}
	default:
		return fmt.Errorf("unknown report %q", section)
	}
	cw.Flush()
	return cw.Error()
}

func zeroBlank(n uint64) string {
	if n == 0 {
		return ""
	}
	return utoa(n)
}

// csvText guards a text cell against formula injection: a cell that starts
// with = + - @ or a tab or carriage return gets a leading apostrophe, so that
// a spreadsheet shows it as text instead of running it.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ---- table -------------------------------------------------------------------------

// table is an aligned text table. Cells are cleaned of control characters,
// so that text from the events cannot steer the terminal.
type table struct {
	head  []string
	right []bool // right-aligned columns (numbers)
	rows  [][]string
}

func newTable(cols ...string) *table {
	t := &table{right: make([]bool, len(cols))}
	for i, c := range cols {
		if n, ok := strings.CutPrefix(c, ">"); ok {
			c, t.right[i] = n, true
		}
		t.head = append(t.head, c)
	}
	return t
}

func (t *table) add(cells ...string) {
	for i := range cells {
		cells[i] = clean(cells[i])
	}
	t.rows = append(t.rows, cells)
}

func (t *table) write(b *strings.Builder, indent string) {
	width := make([]int, len(t.head))
	for _, r := range append([][]string{t.head}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(r []string) {
		var l strings.Builder
		l.WriteString(indent)
		for i, c := range r {
			if i > 0 {
				l.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if t.right[i] {
				l.WriteString(pad + c)
			} else {
				l.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	line(t.head)
	for _, r := range t.rows {
		line(r)
	}
}

// clean escapes control, format and separator characters (and invalid
// UTF-8) as \u escapes.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if unsafeRune(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError
}

func quoted(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeTable(w io.Writer, rep *Report, sections []string) error {
	var b strings.Builder
	sum := rep.Summary
	b.WriteString("VAKT AUDIT REPLAY\n")
	fmt.Fprintf(&b, "Source:  %s\n", clean(rep.Source.String()))
	fmt.Fprintf(&b, "Filter:  %s\n", clean(rep.Filter.String()))
	fmt.Fprintf(&b, "Chains:  %s\n", chainsLine(rep))

	unverified := false
	if len(rep.Breaks) > 0 {
		fmt.Fprintf(&b, "\nCHAIN BREAKS (%d): the first break of each stream; later events of a broken stream are marked !\n", len(rep.Breaks))
		t := newTable("STREAM", ">SEQ", ">POSITION", "REASON")
		for _, br := range rep.Breaks {
			t.add(br.Where(), seqCell(br.Seq), seqCell(br.Position), br.Reason)
		}
		t.write(&b, "")
	}
	mark := func(s string, verified bool) string {
		if verified {
			return s
		}
		unverified = true
		return s + "!"
	}

	for _, sec := range sections {
		b.WriteByte('\n')
		switch sec {
		case SectionSummary:
			b.WriteString("SUMMARY\n")
			fmt.Fprintf(&b, "Read:      %s at positions %s", plural(sum.Messages, "event"), span(sum.FirstPosition, sum.LastPosition))
			if sum.OutsideFilter > 0 {
				fmt.Fprintf(&b, "; %d of the selected streams", sum.Events)
			}
			fmt.Fprintf(&b, "; %d in the time range\n", sum.EventsInRange)
			if !sum.FirstEvent.IsZero() {
				fmt.Fprintf(&b, "Time:      %s to %s UTC\n", tableTime(sum.FirstEvent), tableTime(sum.LastEvent))
			}
			fmt.Fprintf(&b, "Streams:   %d: %s in %s\n", sum.Streams, plural(sum.Users, "user"), plural(sum.Tenants, "tenant"))
			fmt.Fprintf(&b, "Found:     %s, %s, %s, %s\n", plural(sum.Resets, "reset"), plural(sum.Lockouts, "lockout"),
				plural(sum.FraudReports, "fraud report"), plural(sum.FatiguePatterns, "push-fatigue pattern"))
			if len(sum.PerTenant) > 0 {
				b.WriteByte('\n')
				t := newTable("TENANT", ">USERS", ">EVENTS", ">SIGN-INS", ">SUCCEEDED", ">FAILED CODES", ">REUSED",
					">PUSH DENIED", ">FRAUD", ">PAUSES", ">LOCKOUTS", ">UNLOCKS", ">SELF RESETS", ">HELPDESK RESETS", ">ERASURES")
				for _, s := range sum.PerTenant {
					t.add(s.Tenant, itoa(s.Users), itoa(s.Events), itoa(s.SignIns), itoa(s.Succeeded), itoa(s.FailedAttempts),
						itoa(s.CodesReused), itoa(s.PushDenied), itoa(s.PushFraud), itoa(s.PushPaused), itoa(s.Lockouts),
						itoa(s.Unlocks), itoa(s.SelfServiceResets), itoa(s.HelpdeskResets), itoa(s.Erasures))
				}
				t.write(&b, "")
			}
		case SectionTimeline:
			b.WriteString("TIMELINE\n")
			if len(rep.Timeline) == 0 {
				b.WriteString("(no events)\n")
			}
			for i, tl := range rep.Timeline {
				if i > 0 {
					b.WriteByte('\n')
				}
				state := "chain verified"
				switch {
				case tl.BrokenAt > 0:
					state = fmt.Sprintf("chain BROKEN at seq %d", tl.BrokenAt)
				case tl.VerifiedFrom > 0:
					state = fmt.Sprintf("chain verified from seq %d (the export starts there)", tl.VerifiedFrom)
				}
				fmt.Fprintf(&b, "%s: %s, %s\n", clean(streamName(tl.Tenant, tl.User)), plural(tl.Events, "event"), state)
				t := newTable("TIME", ">SEQ", "ACTOR", "EVENT", "SUMMARY")
				for _, e := range tl.Entries {
					t.add(tableTime(e.Time), mark(utoa(e.Seq), e.Verified), e.Actor, e.Type, e.Summary)
				}
				t.write(&b, "  ")
			}
		case SectionResets:
			fmt.Fprintf(&b, "RESETS (%d)\n", len(rep.Resets))
			if len(rep.Resets) > 0 {
				t := newTable("TIME", "TENANT", "USER", "KIND", "PROOF", "LEVEL", "REFERENCE", "OPERATOR", "TICKET", "ACTOR", ">REMOVED", "TEMPORARY PASS UNTIL")
				for _, r := range rep.Resets {
					t.add(mark(tableTime(r.Time), r.Verified), r.Tenant, r.User, r.Kind, quoted(r.ProofKind), quoted(r.ProofLevel),
						quoted(r.ProofReference), quoted(r.Operator), quoted(r.Ticket), r.Actor, itoa(r.Removed), tableTime(r.TemporaryPassUntil))
				}
				t.write(&b, "")
			}
		case SectionLockouts:
			fmt.Fprintf(&b, "LOCKOUTS (%d)\n", len(rep.Lockouts))
			if len(rep.Lockouts) > 0 {
				t := newTable("LOCKED AT", "TENANT", "USER", "REASON", ">LEVEL", ">FAILURES", "UNTIL", "ENDED", "ENDED AT", "BY", "OPERATOR", "TICKET")
				for _, l := range rep.Lockouts {
					until := tableTime(l.Until)
					if l.Permanent {
						until = "permanent"
					}
					level, failures := itoa(l.Level), itoa(l.Failures)
					if l.LockedAt.IsZero() {
						until, level, failures = "-", "-", "-"
					}
					t.add(mark(tableTime(l.LockedAt), l.Verified), l.Tenant, l.User, quoted(l.Reason), level, failures, until,
						quoted(l.Ended), tableTime(l.EndedAt), quoted(l.EndedBy), quoted(l.Operator), quoted(l.Ticket))
				}
				t.write(&b, "")
			}
		case SectionFraud:
			fmt.Fprintf(&b, "FRAUD REPORTS (%d)\n", len(rep.Fraud))
			if len(rep.Fraud) > 0 {
				t := newTable("TIME", "TENANT", "USER", "AUTHENTICATOR", "METHOD", "APPLICATION", "APP", "CHALLENGE")
				for _, f := range rep.Fraud {
					auth := f.Authenticator
					if auth == "" {
						auth = f.AuthenticatorID
					}
					t.add(mark(tableTime(f.Time), f.Verified), f.Tenant, f.User, quoted(auth), quoted(f.Method), quoted(f.Application), quoted(f.App), f.ChallengeID)
				}
				t.write(&b, "")
			}
		case SectionFatigue:
			fmt.Fprintf(&b, "PUSH FATIGUE (%d)\n", len(rep.Fatigue))
			if len(rep.Fatigue) > 0 {
				t := newTable("FROM", "TO", "TENANT", "USER", "PATTERN", ">REFUSED", ">DENIED", ">WRONG NUMBER", ">UNANSWERED", ">FRAUD", "PAUSED UNTIL")
				for _, f := range rep.Fatigue {
					pattern := "push paused"
					if f.Pattern == PatternUnpaused {
						pattern = "no pause"
					}
					t.add(tableTime(f.From), mark(tableTime(f.To), f.Verified), f.Tenant, f.User, pattern, itoa(f.Refusals), itoa(f.Denied),
						itoa(f.WrongNumber), itoa(f.Unanswered), itoa(f.Fraud), tableTime(f.PausedUntil))
				}
				t.write(&b, "")
			}
		}
	}
	if unverified {
		b.WriteString("\n! read after the first break of its stream: not verified\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// chainsLine is the verification outcome in one line.
func chainsLine(rep *Report) string {
	sum := rep.Summary
	if sum.Streams == 0 && len(rep.Breaks) == 0 {
		return "no events to verify"
	}
	head := fmt.Sprintf("%s, %s: ", plural(sum.Streams, "stream"), plural(sum.Events, "event"))
	problems := len(rep.Breaks) - sum.ChainsBroken
	if rep.Verified {
		s := head + "every chain verified"
		if sum.ChainsPartial > 0 {
			s += fmt.Sprintf(" (%d from their first exported event: the export starts at its --since)", sum.ChainsPartial)
		}
		return s
	}
	var parts []string
	if sum.ChainsBroken > 0 {
		parts = append(parts, fmt.Sprintf("%d BROKEN", sum.ChainsBroken))
	}
	parts = append(parts, fmt.Sprintf("%d verified", sum.ChainsVerified+sum.ChainsPartial))
	s := head + strings.Join(parts, ", ")
	if problems > 0 {
		s += fmt.Sprintf("; %s of the source", plural(problems, "problem"))
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
