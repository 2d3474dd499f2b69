package audit

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/projections"
)

// FatigueRule says what counts as a push-fatigue pattern besides a pause:
// at least Refusals denied, unanswered or fraud-reported pushes within Window.
type FatigueRule struct {
	Refusals int
	Window   time.Duration
}

// DefaultFatigue flags two refused pushes within an hour: one fewer than the
// default policy needs to pause push, so that an attack that stays just
// under the pause still shows.
var DefaultFatigue = FatigueRule{Refusals: 2, Window: time.Hour}

// Options configure a [Replay].
type Options struct {
	// Filter selects the streams to verify and report on (Tenant, User) and
	// the events to report on (Since, Until). Chains are verified from their
	// first event whatever the time range.
	Filter Filter
	// Anchored lets a chain start after seq 1 because the source holds only
	// the events from a time on (an export made with --since). Such a chain
	// is verified from its first event: that event's own hash, and every
	// link after it.
	Anchored bool
	// Contiguous says the source holds every position from First to Last,
	// once each and in order (a live stream, an unfiltered export); a gap is
	// reported as a problem of the source. Otherwise positions need only
	// rise.
	Contiguous  bool
	First, Last uint64
	// Fatigue flags refused pushes without a pause (default DefaultFatigue).
	Fatigue FatigueRule
	// Timeline keeps every event's timeline entry, for the timeline report.
	// Without it the timelines are not kept (they are the bulk of a replay's
	// memory).
	Timeline bool
	// Registry decodes the events (default events.Default).
	Registry *events.Registry
}

// maxProblems bounds the problems of a source that are listed one by one.
const maxProblems = 20

// Replay verifies and folds messages read in store order. Feed it with Add
// and get the report with Report.
type Replay struct {
	opts     Options
	reg      *events.Registry
	verifier *events.Verifier
	streams  map[events.Stream]*streamState
	stats    map[string]*projections.TenantStats

	problems     []Break
	moreProblems int
	prevPos      uint64
	seen         []uint64 // a bit per position of a contiguous source

	messages, outside, inScope, inRange int
	firstPos, lastPos                   uint64
	firstTime, lastTime                 time.Time

	resets []Reset
	fraud  []Fraud
}

// streamState is what the replay keeps per stream.
type streamState struct {
	stream   events.Stream
	events   int
	lastSeq  uint64
	brk      *Break
	gap      bool   // the break is a gap in the sequence after gapAfter
	gapAfter uint64 //
	anchored uint64 // > 0: the chain is verified from this seq on

	trail   projections.AuditTrail
	entries []Entry

	lockouts []*Lockout
	open     *Lockout

	reset    int // index in Replay.resets of the last reset, or -1
	resetCmd string

	marks      []mark
	pushExpiry map[string]time.Time
}

// mark is one moment of a user's push history.
type mark struct {
	at       time.Time
	seq      uint64
	kind     markKind
	reason   string // of a refusal: denied, wrong_number, unanswered, fraud
	until    time.Time
	refused  int
	verified bool
}

type markKind int

const (
	markRefusal markKind = iota
	markPause
	markClear // a reset or an erasure forgets earlier refusals
)

// New returns a replay with nothing read yet.
func New(opts Options) *Replay {
	if opts.Fatigue.Refusals <= 0 {
		opts.Fatigue.Refusals = DefaultFatigue.Refusals
	}
	if opts.Fatigue.Window <= 0 {
		opts.Fatigue.Window = DefaultFatigue.Window
	}
	reg := opts.Registry
	if reg == nil {
		reg = events.Default
	}
	r := &Replay{
		opts: opts, reg: reg, verifier: events.NewVerifier(),
		streams: map[events.Stream]*streamState{}, stats: map[string]*projections.TenantStats{},
	}
	if opts.Contiguous && opts.Last >= opts.First && opts.Last > 0 && opts.Last-opts.First < maxSeen {
		r.seen = make([]uint64, (opts.Last-opts.First)/64+1)
	}
	return r
}

// Add reads one message. Nothing in a message stops the replay: what does
// not verify or decode becomes a break of its stream (or a problem of the
// source), and the replay goes on.
func (r *Replay) Add(m Message) {
	r.messages++
	r.checkPosition(m.Position)
	st, ok := natsstore.ParseSubject(m.Subject)
	if !ok {
		r.problem(Break{Position: m.Position, Reason: fmt.Sprintf("subject %q is not an event subject", m.Subject)})
		return
	}
	if !r.opts.Filter.Selects(st) {
		r.outside++
		return
	}
	r.inScope++
	s := r.state(st)
	rec, err := r.reg.Decode(m.Data)
	if err != nil {
		r.breakAt(s, s.lastSeq+1, m.Position, "the stored bytes do not decode as an event ("+plainError(err)+")")
		return
	}
	if rec.Stream() != st {
		r.breakAt(s, rec.Seq, m.Position, fmt.Sprintf("the event of %s is stored under the subject of %s", rec.Stream(), st))
		return
	}
	rec.Position = m.Position
	s.events++
	switch {
	case s.brk == nil:
		if !parseHash(m.Hash, &rec.Hash) {
			r.breakAt(s, rec.Seq, m.Position, "the stored hash is missing or is not 64 hex digits")
		} else if b := r.check(s, &rec); b != nil {
			r.breakAt(s, b.Seq, b.Position, b.Reason)
			if b.Seq > s.lastSeq+1 {
				s.gapAfter, s.gap = s.lastSeq, true
			}
		}
	case s.gap && rec.Seq > s.gapAfter && rec.Seq < s.brk.Seq:
		// An event "missing" at the break turns up later: the events were
		// reordered (swapped or moved), not removed.
		s.brk.Reason = fmt.Sprintf("sequence %d after %d, and seq %d comes later at position %d: events reordered", s.brk.Seq, s.gapAfter, rec.Seq, rec.Position)
		s.gap = false
	}
	if rec.Seq > s.lastSeq {
		s.lastSeq = rec.Seq
	}
	r.fold(s, &rec)
}

// check verifies rec's link with the events.Verifier; an anchored chain (an
// export that starts mid-stream) is trusted from the link its first event
// names.
func (r *Replay) check(s *streamState, rec *events.Record) *events.Break {
	if s.events == 1 && r.opts.Anchored && rec.Seq > 1 {
		s.anchored = rec.Seq
		r.verifier.Trust(s.stream, events.Head{Seq: rec.Seq - 1, Hash: rec.Prev})
	}
	return r.verifier.Check(rec)
}

func parseHash(s string, h *events.Hash) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.Decode(h[:], []byte(s))
	return err == nil
}

func (r *Replay) state(st events.Stream) *streamState {
	s := r.streams[st]
	if s == nil {
		s = &streamState{stream: st, reset: -1}
		r.streams[st] = s
	}
	return s
}

// breakAt records the first break of a stream.
func (r *Replay) breakAt(s *streamState, seq, pos uint64, reason string) {
	if s.brk != nil {
		return
	}
	s.brk = &Break{Kind: BreakChain, Tenant: s.stream.Tenant, User: s.stream.User, Seq: seq, Position: pos, Reason: reason}
}

// SourceProblem records a problem of the source as a whole, such as an
// export whose closing line counts other events than it holds.
func (r *Replay) SourceProblem(pos uint64, reason string) {
	r.problem(Break{Position: pos, Reason: reason})
}

// problem records a problem of the source as a whole.
func (r *Replay) problem(b Break) {
	b.Kind = BreakSource
	if len(r.problems) >= maxProblems {
		r.moreProblems++
		return
	}
	r.problems = append(r.problems, b)
}

// checkPosition checks that positions rise; for a contiguous source it also
// notes each position, so that the missing ones can be named at the end.
func (r *Replay) checkPosition(pos uint64) {
	if r.firstPos == 0 || pos < r.firstPos {
		r.firstPos = pos
	}
	r.lastPos = max(r.lastPos, pos)
	if r.opts.Contiguous && (pos < r.opts.First || pos > r.opts.Last) {
		r.problem(Break{Position: pos, Reason: fmt.Sprintf("position %d is outside the positions %s of the source", pos, span(r.opts.First, r.opts.Last))})
		return
	}
	if r.opts.Contiguous && r.seen != nil {
		i := pos - r.opts.First
		if r.seen[i/64]&(1<<(i%64)) != 0 {
			r.problem(Break{Position: pos, Reason: fmt.Sprintf("position %d appears twice", pos)})
			return
		}
		r.seen[i/64] |= 1 << (i % 64)
	}
	if r.prevPos != 0 && pos <= r.prevPos {
		r.problem(Break{Position: pos, Reason: fmt.Sprintf("position %d comes after position %d: events out of order", pos, r.prevPos)})
		return
	}
	r.prevPos = pos
}

// maxSeen bounds the positions a replay keeps a bit for (16 MiB of bits).
const maxSeen = 1 << 27

// missing reports the positions of a contiguous source that never came.
func (r *Replay) missing() {
	if !r.opts.Contiguous || r.opts.Last == 0 || r.opts.Last < r.opts.First {
		return
	}
	n := r.opts.Last - r.opts.First + 1
	if r.seen == nil {
		// Too long a source to keep a bit per position: only the end is
		// checked.
		if r.prevPos < r.opts.Last {
			r.gap(max(r.prevPos+1, r.opts.First), r.opts.Last)
		}
		return
	}
	for i := uint64(0); i < n; {
		if r.seen[i/64]&(1<<(i%64)) != 0 {
			i++
			continue
		}
		j := i
		for j+1 < n && r.seen[(j+1)/64]&(1<<((j+1)%64)) == 0 {
			j++
		}
		r.gap(r.opts.First+i, r.opts.First+j)
		i = j + 1
	}
}

func (r *Replay) gap(from, to uint64) {
	if from == to {
		r.problem(Break{Position: from, Reason: fmt.Sprintf("position %d is missing: an event was removed", from)})
		return
	}
	r.problem(Break{Position: from, Reason: fmt.Sprintf("positions %d to %d are missing: %d events were removed", from, to, to-from+1)})
}

// fold adds a verified (or, after a break, unverified) event to the reports.
func (r *Replay) fold(s *streamState, rec *events.Record) {
	verified := s.brk == nil
	inRange := r.opts.Filter.InRange(rec.Time)
	if inRange {
		r.inRange++
		if r.firstTime.IsZero() || rec.Time.Before(r.firstTime) {
			r.firstTime = rec.Time
		}
		if rec.Time.After(r.lastTime) {
			r.lastTime = rec.Time
		}
		ts := r.stats[rec.Tenant]
		if ts == nil {
			ts = &projections.TenantStats{}
			r.stats[rec.Tenant] = ts
		}
		ts.Apply(rec)
	}
	if rec.User == "" {
		if inRange && r.opts.Timeline {
			s.entries = append(s.entries, Entry{
				AuditEntry: projections.AuditEntry{
					ID: rec.ID, Seq: rec.Seq, Time: rec.Time, Type: rec.Type,
					Actor: rec.Actor, Command: rec.Command, Summary: tenantSummary(rec),
				},
				Position: rec.Position, Verified: verified,
			})
		}
		return
	}

	// A lock for a while ends by itself; note it before what follows.
	if l := s.open; l != nil && !l.Permanent && !l.Until.IsZero() && !rec.Time.Before(l.Until) {
		l.Ended, l.EndedAt = EndedExpired, l.Until
		s.open = nil
	}

	n := len(s.trail.Entries)
	s.trail.Apply(rec)
	if len(s.trail.Entries) == n {
		return // an event the trail had already seen (by seq): a reordered stream
	}
	e := s.trail.Entries[len(s.trail.Entries)-1]
	// The trail needs only its last entry (a temporary pass looks back at
	// the reset of the same command); the replay keeps its own.
	s.trail.Entries = append(s.trail.Entries[:0], e)
	if inRange && r.opts.Timeline {
		s.entries = append(s.entries, Entry{AuditEntry: e, Position: rec.Position, Verified: verified})
	}

	switch ev := rec.Event.(type) {
	case events.ResetCompleted:
		r.endLock(s, rec, EndedReset, ev.Operator, ev.Ticket, verified)
		s.marks = append(s.marks, mark{at: rec.Time, seq: rec.Seq, kind: markClear})
		s.pushExpiry = nil
		s.reset, s.resetCmd = -1, rec.Command
		if inRange {
			x := Reset{
				Time: rec.Time, Tenant: rec.Tenant, User: rec.User, Seq: rec.Seq, Position: rec.Position,
				Kind: ev.Kind, Operator: ev.Operator, Ticket: ev.Ticket, Actor: rec.Actor, Removed: ev.Removed, Verified: verified,
			}
			if p := ev.Proof; p != nil {
				x.ProofKind, x.ProofLevel, x.ProofReference = p.Kind, p.ACR, p.Reference
			}
			s.reset = len(r.resets)
			r.resets = append(r.resets, x)
		}
	case events.TemporaryPassIssued:
		switch {
		case rec.Command == s.resetCmd && s.reset >= 0:
			r.resets[s.reset].TemporaryPassUntil = ev.ExpiresAt
			r.resets[s.reset].Verified = r.resets[s.reset].Verified && verified
		case rec.Command == s.resetCmd:
			// The reset of this command is outside the time range.
		case inRange:
			r.resets = append(r.resets, Reset{
				Time: rec.Time, Tenant: rec.Tenant, User: rec.User, Seq: rec.Seq, Position: rec.Position,
				Kind: KindTemporaryPass, Operator: ev.Operator, Ticket: ev.Ticket, Actor: rec.Actor,
				TemporaryPassUntil: ev.ExpiresAt, Verified: verified,
			})
		}
	case events.LockedOut:
		if l := s.open; l != nil {
			l.Ended, l.EndedAt = EndedSuperseded, rec.Time
		}
		l := &Lockout{
			Tenant: rec.Tenant, User: rec.User, Seq: rec.Seq, Position: rec.Position, LockedAt: rec.Time,
			Reason: ev.Reason, Level: ev.Level, Failures: ev.Failures, Until: ev.Until, Permanent: ev.Permanent,
			Verified: verified,
		}
		s.lockouts = append(s.lockouts, l)
		s.open = l
	case events.Unlocked:
		if s.open == nil {
			// An unlock with no lock seen: listed on its own.
			l := &Lockout{Tenant: rec.Tenant, User: rec.User, Seq: rec.Seq, Position: rec.Position, Verified: verified}
			s.lockouts = append(s.lockouts, l)
			s.open = l
		}
		r.endLock(s, rec, EndedUnlocked, ev.Operator, ev.Ticket, verified)
	case events.UserErased:
		r.endLock(s, rec, EndedErased, ev.Operator, ev.Ticket, verified)
		s.marks = append(s.marks, mark{at: rec.Time, seq: rec.Seq, kind: markClear})
		s.pushExpiry = nil
	case events.ChallengeIssued:
		if ev.Push != nil {
			s.expiry(ev.ChallengeID, ev.Push.ExpiresAt)
		}
	case events.PushSent:
		s.expiry(ev.ChallengeID, ev.Push.ExpiresAt)
	case events.ChallengeDenied:
		reason := "denied"
		if ev.Reason == "wrong_number" {
			reason = "wrong_number"
		}
		s.refusal(rec, rec.Time, reason, verified)
		delete(s.pushExpiry, ev.ChallengeID)
	case events.FraudReported:
		s.refusal(rec, rec.Time, "fraud", verified)
		delete(s.pushExpiry, ev.ChallengeID)
		if inRange {
			app := e.App
			r.fraud = append(r.fraud, Fraud{
				Time: rec.Time, Tenant: rec.Tenant, User: rec.User, Seq: rec.Seq, Position: rec.Position,
				AuthenticatorID: ev.AuthenticatorID, Authenticator: e.Label, Method: e.Method,
				Application: ev.Application, App: app, ChallengeID: ev.ChallengeID, Actor: rec.Actor,
				Verified: verified,
			})
		}
	case events.ChallengeExpired:
		if ev.PushUnanswered {
			// The engine counts an unanswered push when it ran out.
			at, ok := s.pushExpiry[ev.ChallengeID]
			if !ok {
				at = rec.Time
			}
			s.refusal(rec, at, "unanswered", verified)
		}
		delete(s.pushExpiry, ev.ChallengeID)
	case events.ChallengeSucceeded:
		delete(s.pushExpiry, ev.ChallengeID)
	case events.PushPaused:
		s.marks = append(s.marks, mark{at: rec.Time, seq: rec.Seq, kind: markPause, until: ev.Until, refused: ev.Refused, verified: verified})
	}
}

func (s *streamState) expiry(challenge string, at time.Time) {
	if s.pushExpiry == nil {
		s.pushExpiry = map[string]time.Time{}
	}
	s.pushExpiry[challenge] = at
}

func (s *streamState) refusal(rec *events.Record, at time.Time, reason string, verified bool) {
	s.marks = append(s.marks, mark{at: at, seq: rec.Seq, kind: markRefusal, reason: reason, verified: verified})
}

// endLock ends the open lock, if any.
func (r *Replay) endLock(s *streamState, rec *events.Record, how, operator, ticket string, verified bool) {
	l := s.open
	if l == nil {
		return
	}
	l.Ended, l.EndedAt, l.Operator, l.Ticket, l.EndedBy = how, rec.Time, operator, ticket, rec.Actor
	l.EndSeq = rec.Seq
	l.Verified = l.Verified && verified
	s.open = nil
}

// tenantSummary is the timeline sentence of an event on a tenant's stream.
func tenantSummary(rec *events.Record) string {
	if ev, ok := rec.Event.(events.PolicySet); ok {
		p := ev.Policy
		lock := "off"
		if p.FraudLock {
			lock = "on"
		}
		return fmt.Sprintf("tenant policy set: push paused after %d refused pushes within %s, for %s; fraud lock %s; self-service reset needs identity proof at level %s",
			p.PushFatigue.Refusals, p.PushFatigue.Window.D(), p.PushFatigue.Pause.D(), lock, orDash(p.ResetProofLevel))
	}
	return "event " + rec.Type
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// plainError is an error's message without a vakt error code in front.
func plainError(err error) string {
	var e *vakt.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return err.Error()
}

// ---- the report ------------------------------------------------------------------

// Report finishes the replay and returns what it found. Call it once, after
// the last Add.
func (r *Replay) Report() *Report {
	r.missing()
	rep := &Report{Filter: r.opts.Filter, Verified: true}

	keys := make([]events.Stream, 0, len(r.streams))
	for k := range r.streams {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b events.Stream) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.User, b.User))
	})

	sum := &rep.Summary
	sum.Messages, sum.Events, sum.EventsInRange = r.messages, r.inScope, r.inRange
	sum.OutsideFilter = r.outside
	sum.FirstPosition, sum.LastPosition = r.firstPos, r.lastPos
	sum.FirstEvent, sum.LastEvent = r.firstTime, r.lastTime
	tenants := map[string]bool{}
	for _, k := range keys {
		s := r.streams[k]
		tenants[k.Tenant] = true
		sum.Streams++
		if k.User != "" {
			sum.Users++
		}
		switch {
		case s.brk != nil:
			sum.ChainsBroken++
			rep.Breaks = append(rep.Breaks, *s.brk)
		case s.anchored > 0:
			sum.ChainsPartial++
		default:
			sum.ChainsVerified++
		}
		if len(s.entries) > 0 {
			tl := Timeline{Tenant: k.Tenant, User: k.User, Events: s.events, LastSeq: s.lastSeq, VerifiedFrom: s.anchored, Entries: s.entries}
			if s.brk != nil {
				tl.BrokenAt = s.brk.Seq
			}
			rep.Timeline = append(rep.Timeline, tl)
		}
		for _, l := range s.lockouts {
			if r.opts.Filter.InRange(l.LockedAt) && !l.LockedAt.IsZero() || l.Ended == EndedUnlocked && r.opts.Filter.InRange(l.EndedAt) {
				rep.Lockouts = append(rep.Lockouts, *l)
			}
		}
		for _, f := range r.fatigue(s) {
			if r.opts.Filter.InRange(f.To) {
				rep.Fatigue = append(rep.Fatigue, f)
			}
		}
	}
	sum.Tenants = len(tenants)
	// Breaks in store order, then the problems of the source.
	slices.SortStableFunc(rep.Breaks, func(a, b Break) int { return cmp.Compare(a.Position, b.Position) })
	rep.Breaks = append(rep.Breaks, r.problems...)
	if r.moreProblems > 0 {
		rep.Breaks = append(rep.Breaks, Break{Kind: BreakSource, Reason: fmt.Sprintf("%d more problems of the same kind are not listed", r.moreProblems)})
	}
	rep.Verified = len(rep.Breaks) == 0

	rep.Resets = r.resets
	rep.Fraud = r.fraud
	slices.SortStableFunc(rep.Resets, func(a, b Reset) int { return a.Time.Compare(b.Time) })
	slices.SortStableFunc(rep.Fraud, func(a, b Fraud) int { return a.Time.Compare(b.Time) })
	slices.SortStableFunc(rep.Lockouts, func(a, b Lockout) int { return a.sortTime().Compare(b.sortTime()) })
	slices.SortStableFunc(rep.Fatigue, func(a, b Fatigue) int { return a.To.Compare(b.To) })

	sum.Resets, sum.Lockouts, sum.FraudReports, sum.FatiguePatterns = len(rep.Resets), len(rep.Lockouts), len(rep.Fraud), len(rep.Fatigue)
	names := make([]string, 0, len(r.stats))
	for t := range r.stats {
		names = append(names, t)
	}
	slices.Sort(names)
	for _, t := range names {
		sum.PerTenant = append(sum.PerTenant, tenantSummaryOf(r.stats[t]))
	}
	return rep
}

// fatigue finds a user's push-fatigue patterns: every pause, with the
// refusals that led to it, and every run of at least Fatigue.Refusals
// refusals within Fatigue.Window that no pause followed.
func (r *Replay) fatigue(s *streamState) []Fatigue {
	if len(s.marks) == 0 {
		return nil
	}
	marks := slices.Clone(s.marks)
	slices.SortStableFunc(marks, func(a, b mark) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq)) })
	var out []Fatigue
	var run []mark
	flush := func() {
		if len(run) >= r.opts.Fatigue.Refusals {
			f := r.pattern(s, run)
			f.Pattern = PatternUnpaused
			out = append(out, f)
		}
		run = nil
	}
	for _, m := range marks {
		switch m.kind {
		case markRefusal:
			if len(run) > 0 && m.at.Sub(run[0].at) > r.opts.Fatigue.Window {
				flush()
			}
			run = append(run, m)
		case markPause:
			// The refusals that led to the pause: those within the window.
			var led []mark
			for _, x := range run {
				if m.at.Sub(x.at) <= r.opts.Fatigue.Window {
					led = append(led, x)
				}
			}
			f := r.pattern(s, led)
			f.Pattern, f.Seq, f.To, f.PausedUntil, f.Refusals = PatternPaused, m.seq, m.at, m.until, m.refused
			if len(led) == 0 {
				f.From = m.at
			}
			f.Verified = f.Verified && m.verified
			out = append(out, f)
			run = nil
		case markClear:
			flush()
		}
	}
	flush()
	return out
}

func (r *Replay) pattern(s *streamState, run []mark) Fatigue {
	f := Fatigue{Tenant: s.stream.Tenant, User: s.stream.User, Refusals: len(run), Verified: true}
	for i, m := range run {
		if i == 0 {
			f.From = m.at
		}
		f.To, f.Seq = m.at, m.seq
		f.Verified = f.Verified && m.verified
		switch m.reason {
		case "denied":
			f.Denied++
		case "wrong_number":
			f.WrongNumber++
		case "unanswered":
			f.Unanswered++
		case "fraud":
			f.Fraud++
		}
	}
	return f
}

func tenantSummaryOf(ts *projections.TenantStats) TenantSummary {
	return TenantSummary{
		Tenant: ts.Tenant, Users: ts.Users, Events: ts.Events,
		SignIns: ts.ChallengesByOutcome.Issued, Succeeded: ts.ChallengesByOutcome.Succeeded,
		Skipped: ts.ChallengesByOutcome.Skipped, Expired: ts.ChallengesByOutcome.Expired,
		FailedAttempts: ts.AttemptsFailed, CodesReused: ts.CodesReused,
		PushDenied: ts.PushDenied, PushFraud: ts.PushFraud, PushPaused: ts.PushPaused,
		Lockouts: ts.Lockouts, PermanentLockouts: ts.PermanentLockouts, Unlocks: ts.Unlocks,
		SelfServiceResets: ts.ResetsByKind["self_service"], HelpdeskResets: ts.ResetsByKind["helpdesk"],
		Erasures: ts.Erasures, PolicyChanges: ts.PolicyChanges,
	}
}
