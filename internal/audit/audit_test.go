package audit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/audit"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// log builds hash-chained events of several streams in store order.
type log struct {
	t     *testing.T
	heads map[events.Stream]events.Head
	msgs  []audit.Message
	cmds  int
}

func newLog(t *testing.T) *log { return &log{t: t, heads: map[events.Stream]events.Head{}} }

// add appends the events of one command at a time.
func (l *log) add(tenant, user string, at time.Time, evs ...events.Event) {
	l.t.Helper()
	st := events.Stream{Tenant: tenant, User: user}
	l.cmds++
	recs, err := events.Build(st, l.heads[st], events.Meta{Command: fmt.Sprintf("c%d", l.cmds), Actor: "user", Time: at},
		engine.SeededRand([]byte(fmt.Sprint(l.cmds))), evs)
	if err != nil {
		l.t.Fatal(err)
	}
	for _, r := range recs {
		pos := uint64(len(l.msgs) + 1)
		l.msgs = append(l.msgs, audit.Message{Position: pos, Subject: natsstore.Subject(st), Data: r.Raw, Hash: r.Hash.String()})
		l.heads[st] = events.Head{Seq: r.Seq, Position: pos, Hash: r.Hash}
	}
}

func (l *log) replay(opts audit.Options, msgs []audit.Message) *audit.Report {
	r := audit.New(opts)
	for _, m := range msgs {
		r.Add(m)
	}
	return r.Report()
}

func contiguous(msgs []audit.Message) audit.Options {
	return audit.Options{Contiguous: true, First: 1, Last: uint64(len(msgs)), Timeline: true}
}

// twoUsers is a small log: two users, interleaved.
func twoUsers(t *testing.T) *log {
	l := newLog(t)
	for i := range 4 {
		at := t0.Add(time.Duration(i) * time.Minute)
		l.add("uio.no", "ola", at, events.Renamed{AuthenticatorID: "a1", Label: fmt.Sprint("Phone ", i)})
		l.add("uio.no", "kari", at, events.Renamed{AuthenticatorID: "a2", Label: fmt.Sprint("Pad ", i)})
	}
	return l
}

func TestReplayVerifies(t *testing.T) {
	l := twoUsers(t)
	rep := l.replay(contiguous(l.msgs), l.msgs)
	if !rep.Verified || rep.Summary.ChainsVerified != 2 || rep.Summary.Events != 8 || len(rep.Timeline) != 2 {
		t.Fatalf("%+v", rep.Summary)
	}
}

func TestReplayFindsTheFirstBreak(t *testing.T) {
	clone := func(msgs []audit.Message) []audit.Message {
		out := make([]audit.Message, len(msgs))
		for i, m := range msgs {
			m.Data = bytes.Clone(m.Data)
			out[i] = m
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		tamper func([]audit.Message) []audit.Message
		user   string
		seq    uint64
		reason string
	}{
		{"altered", func(m []audit.Message) []audit.Message {
			m[2].Data = bytes.Replace(m[2].Data, []byte("Phone 1"), []byte("Phone 7"), 1)
			return m
		}, "ola", 2, "hash does not match the stored bytes (altered)"},
		{"removed", func(m []audit.Message) []audit.Message { return append(m[:2:2], m[3:]...) }, "ola", 3, "sequence 3 after 1: 1 event(s) missing"},
		{"swapped", func(m []audit.Message) []audit.Message {
			m[2], m[4] = m[4], m[2]
			return m
		}, "ola", 3, "sequence 3 after 1, and seq 2 comes later at position 3: events reordered"},
		{"duplicated", func(m []audit.Message) []audit.Message { return append(m[:3:3], m[2:]...) }, "ola", 2, "sequence 2 after 2: reordered or duplicated"},
		{"not an event", func(m []audit.Message) []audit.Message {
			m[3].Data = []byte(`{"hello":"world"}`)
			return m
		}, "kari", 2, "the stored bytes do not decode as an event"},
		{"moved to another subject", func(m []audit.Message) []audit.Message {
			m[3].Subject = m[2].Subject
			return m
		}, "ola", 2, `the event of tenant "uio.no" user "kari" is stored under the subject of tenant "uio.no" user "ola"`},
		{"bad hash", func(m []audit.Message) []audit.Message {
			m[5].Hash = "xyz"
			return m
		}, "kari", 3, "the stored hash is missing or is not 64 hex digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := twoUsers(t)
			msgs := tc.tamper(clone(l.msgs))
			rep := l.replay(contiguous(l.msgs), msgs)
			if rep.Verified || len(rep.Breaks) == 0 {
				t.Fatal("verified")
			}
			b := rep.Breaks[0]
			if b.Kind != audit.BreakChain || b.User != tc.user || b.Seq != tc.seq || !strings.Contains(b.Reason, tc.reason) {
				t.Errorf("first break %+v, want %s seq %d: %s", b, tc.user, tc.seq, tc.reason)
			}
		})
	}
}

func TestReplaySourceProblems(t *testing.T) {
	l := twoUsers(t)
	// Both events of a command of kari's removed at the end: her chain is
	// intact, the positions are not.
	msgs := l.msgs[:len(l.msgs)-1]
	rep := l.replay(contiguous(l.msgs), msgs)
	if rep.Verified || len(rep.Breaks) != 1 || rep.Breaks[0].Kind != audit.BreakSource || rep.Breaks[0].Reason != "position 8 is missing: an event was removed" {
		t.Errorf("breaks %+v", rep.Breaks)
	}
	rep = l.replay(contiguous(l.msgs), append(append([]audit.Message(nil), msgs...), audit.Message{Position: 9, Subject: "foo.bar", Data: []byte("{}"), Hash: ""}))
	reasons := fmt.Sprint(rep.Breaks)
	if !strings.Contains(reasons, "position 9 is outside the positions 1 to 8") || !strings.Contains(reasons, `subject "foo.bar" is not an event subject`) {
		t.Errorf("breaks %v", reasons)
	}
	// A filtered source needs only rising positions.
	rep = l.replay(audit.Options{}, msgs[2:])
	if !rep.Verified {
		// ola's chain lacks seq 1: a break, not a source problem.
		if len(rep.Breaks) != 2 || rep.Breaks[0].Kind != audit.BreakChain {
			t.Errorf("breaks %+v", rep.Breaks)
		}
	}
	r := audit.New(audit.Options{})
	r.Add(l.msgs[1])
	r.Add(l.msgs[0])
	if rep := r.Report(); !strings.Contains(fmt.Sprint(rep.Breaks), "position 1 comes after position 2: events out of order") {
		t.Errorf("breaks %+v", rep.Breaks)
	}
}

// An export made from a time on holds chains that start after seq 1: with
// Anchored they verify from their first event, and a break after that is
// still found.
func TestReplayAnchored(t *testing.T) {
	l := twoUsers(t)
	tail := l.msgs[4:]
	rep := l.replay(audit.Options{Anchored: true, Timeline: true}, tail)
	if !rep.Verified || rep.Summary.ChainsPartial != 2 || rep.Timeline[0].VerifiedFrom != 3 {
		t.Fatalf("breaks %+v summary %+v", rep.Breaks, rep.Summary)
	}
	rep = l.replay(audit.Options{}, tail)
	if rep.Verified || rep.Breaks[0].Reason != "sequence 3 after 0: 2 event(s) missing" {
		t.Errorf("without anchoring: %+v", rep.Breaks)
	}
	altered := append([]audit.Message(nil), tail...)
	altered[2].Data = bytes.Replace(altered[2].Data, []byte("Phone 3"), []byte("Phone 9"), 1)
	rep = l.replay(audit.Options{Anchored: true}, altered)
	if rep.Verified || rep.Breaks[0].User != "ola" || rep.Breaks[0].Seq != 4 {
		t.Errorf("altered: %+v", rep.Breaks)
	}
	// The first event of an anchored chain must hash to its stored hash.
	first := append([]audit.Message(nil), tail...)
	first[0].Data = bytes.Replace(first[0].Data, []byte("Phone 2"), []byte("Phone 8"), 1)
	rep = l.replay(audit.Options{Anchored: true}, first)
	if rep.Verified || rep.Breaks[0].Seq != 3 {
		t.Errorf("first altered: %+v", rep.Breaks)
	}
}

func TestReplayFilterScopesVerification(t *testing.T) {
	l := twoUsers(t)
	msgs := append([]audit.Message(nil), l.msgs...)
	msgs[3].Data = []byte(`{"broken":true}`) // kari's seq 2
	rep := l.replay(audit.Options{Filter: audit.Filter{User: "ola"}, Timeline: true}, msgs)
	if !rep.Verified || rep.Summary.Streams != 1 || rep.Summary.OutsideFilter != 4 || rep.Timeline[0].User != "ola" {
		t.Errorf("user filter: %+v %+v", rep.Breaks, rep.Summary)
	}
	// The time range narrows the report, never the verification.
	rep = l.replay(audit.Options{Filter: audit.Filter{Since: t0.Add(2 * time.Minute)}, Timeline: true}, msgs)
	if rep.Verified || rep.Summary.EventsInRange != 4 || rep.Timeline[1].User != "ola" || len(rep.Timeline[1].Entries) != 2 {
		t.Errorf("time filter: %+v", rep.Summary)
	}
}

// ---- push fatigue and lockouts ---------------------------------------------------

func push(l *log, user string, at time.Time, id string, refuse events.Event) {
	l.add("uio.no", user, at, events.ChallengeIssued{ChallengeID: id, App: "web", RequiredACR: "substantial", Methods: []string{"push"},
		ExpiresAt: at.Add(5 * time.Minute), Push: &events.PushRequest{AuthenticatorID: "p", Number: 12, Choices: []int{12, 34, 56}, ExpiresAt: at.Add(2 * time.Minute)}})
	if refuse != nil {
		l.add("uio.no", user, at.Add(10*time.Second), refuse)
	}
}

func TestFatigue(t *testing.T) {
	l := newLog(t)
	// Refusals at 0, 50 and 70 minutes and an unanswered push at 100
	// (counted when it ran out, at 102): two runs of two within the hour.
	push(l, "ola", t0, "c1", events.ChallengeDenied{ChallengeID: "c1", AuthenticatorID: "p", Reason: "denied"})
	push(l, "ola", t0.Add(50*time.Minute), "c2", events.ChallengeDenied{ChallengeID: "c2", AuthenticatorID: "p", Reason: "wrong_number"})
	push(l, "ola", t0.Add(70*time.Minute), "c3", events.FraudReported{ChallengeID: "c3", AuthenticatorID: "p"})
	push(l, "ola", t0.Add(100*time.Minute), "c4", nil)
	l.add("uio.no", "ola", t0.Add(130*time.Minute), events.ChallengeExpired{ChallengeID: "c4", PushUnanswered: true})
	// Kari: three refusals and a pause; then a reset forgets one refusal.
	push(l, "kari", t0, "k1", events.ChallengeDenied{ChallengeID: "k1", AuthenticatorID: "p", Reason: "denied"})
	push(l, "kari", t0.Add(time.Minute), "k2", events.ChallengeDenied{ChallengeID: "k2", AuthenticatorID: "p", Reason: "denied"})
	push(l, "kari", t0.Add(2*time.Minute), "k3", events.ChallengeDenied{ChallengeID: "k3", AuthenticatorID: "p", Reason: "denied"})
	l.add("uio.no", "kari", t0.Add(2*time.Minute+10*time.Second), events.PushPaused{Until: t0.Add(17 * time.Minute), Refused: 3})
	push(l, "kari", t0.Add(30*time.Minute), "k4", events.ChallengeDenied{ChallengeID: "k4", AuthenticatorID: "p", Reason: "denied"})
	l.add("uio.no", "kari", t0.Add(31*time.Minute), events.ResetCompleted{Kind: "helpdesk", Operator: "o", Ticket: "T"})
	push(l, "kari", t0.Add(32*time.Minute), "k5", events.ChallengeDenied{ChallengeID: "k5", AuthenticatorID: "p", Reason: "denied"})

	rep := l.replay(audit.Options{}, l.msgs)
	got := ""
	for _, f := range rep.Fatigue {
		got += fmt.Sprintf("%s %s %s-%s %d d%d w%d u%d f%d\n", f.User, f.Pattern, f.From.Format("15:04"), f.To.Format("15:04"), f.Refusals, f.Denied, f.WrongNumber, f.Unanswered, f.Fraud)
	}
	want := "kari paused 09:00-09:02 3 d3 w0 u0 f0\n" +
		"ola unpaused 09:00-09:50 2 d1 w1 u0 f0\n" +
		"ola unpaused 10:10-10:42 2 d0 w0 u1 f1\n"
	if got != want {
		t.Errorf("fatigue:\n%s\nwant:\n%s", got, want)
	}
	// Three within the hour flag with the rule at three.
	rep = l.replay(audit.Options{Fatigue: audit.FatigueRule{Refusals: 3, Window: 2 * time.Hour}}, l.msgs)
	if len(rep.Fatigue) != 2 || rep.Fatigue[1].User != "ola" || rep.Fatigue[1].Refusals != 4 {
		t.Errorf("rule 3 in 2h: %+v", rep.Fatigue)
	}
}

func TestLockoutEndings(t *testing.T) {
	l := newLog(t)
	l.add("uio.no", "ola", t0, events.LockedOut{Reason: "failures", Level: 1, Failures: 5, Until: t0.Add(time.Minute)})
	l.add("uio.no", "ola", t0.Add(2*time.Minute), events.LockedOut{Reason: "failures", Level: 2, Failures: 10, Until: t0.Add(4 * time.Minute)})
	l.add("uio.no", "ola", t0.Add(3*time.Minute), events.LockedOut{Reason: "failures", Level: 3, Failures: 15, Until: t0.Add(10 * time.Minute)})
	l.add("uio.no", "ola", t0.Add(4*time.Minute), events.ResetCompleted{Kind: "helpdesk", Operator: "kari", Ticket: "T-1"})
	l.add("uio.no", "ola", t0.Add(5*time.Minute), events.LockedOut{Reason: "fraud", Permanent: true})
	l.add("uio.no", "ola", t0.Add(6*time.Minute), events.UserErased{Operator: "dpo"})
	l.add("uio.no", "per", t0, events.Unlocked{Operator: "ole", Ticket: "T-2"})
	l.add("uio.no", "nina", t0, events.LockedOut{Reason: "failures", Level: 20, Failures: 100, Permanent: true})

	rep := l.replay(audit.Options{}, l.msgs)
	got := ""
	for _, x := range rep.Lockouts {
		got += fmt.Sprintf("%s L%d %s %s %s\n", x.User, x.Level, x.Ended, x.EndedAt.Format("15:04"), x.Operator)
	}
	want := "nina L20  00:00 \n" +
		"ola L1 expired 09:01 \n" +
		"per L0 unlocked 09:00 ole\n" +
		"ola L2 superseded 09:03 \n" +
		"ola L3 reset 09:04 kari\n" +
		"ola L0 erased 09:06 dpo\n"
	if got != want {
		t.Errorf("lockouts:\n%s\nwant:\n%s", got, want)
	}
}

// ---- the export format -------------------------------------------------------------

func TestExportRoundTrip(t *testing.T) {
	l := twoUsers(t)
	msgs := append([]audit.Message(nil), l.msgs...)
	// Bytes that are not a one-line JSON object travel as base64, unchanged.
	msgs = append(msgs,
		audit.Message{Position: 9, Subject: msgs[0].Subject, Data: []byte("{\"a\":\n1}"), Hash: "00"},
		audit.Message{Position: 10, Subject: msgs[0].Subject, Data: []byte(" {} "), Hash: "00"},
		audit.Message{Position: 11, Subject: msgs[0].Subject, Data: []byte{0xff, 0, '{'}, Hash: "\"odd\""},
		audit.Message{Position: 12, Subject: msgs[0].Subject, Data: []byte(`{ "spaced" : [1, 2] }`), Hash: "00"},
	)
	var buf bytes.Buffer
	h := audit.Header{Stream: "VAKT_EVENTS", ExportedAt: t0, FirstPosition: 1, LastPosition: 12}
	w, err := audit.NewExportWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Write(msgs[0]); err == nil {
		t.Error("a position out of order was written")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if strings.Count(text, "\n") != len(msgs)+2 || strings.Count(text, `"event_base64"`) != 3 || !strings.Contains(text, `"event":{ "spaced" : [1, 2] }}`) {
		t.Errorf("export:\n%s", text)
	}
	// CRLF line ends and blank lines are tolerated.
	text = strings.ReplaceAll(text, "\n", "\r\n")
	text = strings.Replace(text, "\r\n", "\r\n\r\n", 3)
	r, err := audit.ReadExport(strings.NewReader(text), "x.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Format != audit.ExportFormat || r.Header.Version != 1 || r.Header.Filtered || r.Header.LastPosition != 12 {
		t.Errorf("header %+v", r.Header)
	}
	for i := 0; ; i++ {
		m, err := r.Next()
		if err == io.EOF {
			if i != len(msgs) {
				t.Errorf("read %d messages", i)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Position != msgs[i].Position || m.Subject != msgs[i].Subject || m.Hash != msgs[i].Hash || !bytes.Equal(m.Data, msgs[i].Data) {
			t.Errorf("message %d: %+v, want %+v", i, m, msgs[i])
		}
	}
	if c, n := r.Counted(); c != n || n != len(msgs) {
		t.Errorf("counted %d, held %d", c, n)
	}
}

func TestExportReaderErrors(t *testing.T) {
	header := `{"format":"vakt-export","version":1,"stream":"S","exported_at":"2026-11-23T09:00:00Z","first_position":1,"last_position":1,"filtered":false}`
	event := `{"position":1,"subject":"vakt.evt.t.u","hash":"00","event":{"x":1}}`
	long := `{"position":1,"subject":"vakt.evt.t.u","hash":"00","event":{"x":"` + strings.Repeat("a", audit.MaxLine) + `"}}`
	for _, tc := range []struct{ content, want string }{
		{"", "f: the file is empty"},
		{header, "f: the file ends after line 1 without the closing"},
		{header[:20], "f line 1: the file ends in the middle of its first line"},
		{"[1,2]\n", "f line 1: not a vakt export"},
		{`{"format":"vakt-export","version":1}` + "\n", "f line 1: the header names no stream"},
		{header + "\n" + event[:30], "f line 2: the file ends in the middle of this line: the export is truncated"},
		{header + "\n" + long + "\n", "f line 2: the line is longer than"},
		{header + "\n" + `{"format":"vakt-export-end"}` + "\n", "f line 2: the closing line has no event count"},
		{header + "\n" + `{"format":"other"}` + "\n", `f line 2: unexpected line of format "other"`},
		{header + "\n" + `{"position":1,"subject":"s","hash":"00","event":{},"event_base64":"e30="}` + "\n", "f line 2: an event line has both"},
	} {
		r, err := audit.ReadExport(strings.NewReader(tc.content), "f")
		for err == nil {
			_, err = r.Next()
		}
		var fe *audit.FormatError
		if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%.40q: %v, want %q", tc.content, err, tc.want)
		}
	}
}

func TestFilter(t *testing.T) {
	f := audit.Filter{Tenant: "uio.no", User: "ola"}
	if !f.Selects(events.Stream{Tenant: "uio.no", User: "ola"}) || f.Selects(events.Stream{Tenant: "uio.no"}) || f.Selects(events.Stream{Tenant: "x", User: "ola"}) {
		t.Error("Selects")
	}
	if !(audit.Filter{User: "ola"}).Selects(events.Stream{Tenant: "any", User: "ola"}) || !(audit.Filter{Tenant: "t"}).Selects(events.Stream{Tenant: "t"}) {
		t.Error("Selects without tenant or user")
	}
	r := audit.Filter{Since: t0, Until: t0.Add(time.Hour)}
	if !r.InRange(t0) || r.InRange(t0.Add(time.Hour)) || r.InRange(t0.Add(-time.Nanosecond)) {
		t.Error("InRange")
	}
	if err := (audit.Filter{Since: t0, Until: t0}).Check(); err == nil {
		t.Error("an empty range passed")
	}
	if s := (audit.Filter{Tenant: "uio.no", Since: t0}).String(); s != `tenant "uio.no", since 2026-11-23T09:00:00Z` {
		t.Errorf("String %q", s)
	}
	m := audit.Message{Subject: natsstore.Subject(events.Stream{Tenant: "uio.no", User: "ola"}), Data: []byte(`{"time":"2026-11-23T09:30:00Z"}`)}
	if !f.Keeps(m) || !r.Keeps(m) || (audit.Filter{User: "kari"}).Keeps(m) || (audit.Filter{Since: t0.Add(time.Hour)}).Keeps(m) {
		t.Error("Keeps")
	}
	if !(audit.Filter{Since: t0}).Keeps(audit.Message{Subject: m.Subject, Data: []byte("not json")}) {
		t.Error("an event whose time cannot be read was left out")
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-11-23T09:00:00Z":      t0,
		"2026-11-23T10:00:00+01:00": t0,
		"2026-11-23T09:00:00.5Z":    t0.Add(500 * time.Millisecond),
		"2026-11-23T09:00":          t0,
		"2026-11-23 09:00:00":       t0,
		"2026-11-23":                t0.Truncate(24 * time.Hour),
		"36h":                       now.Add(-36 * time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"7d":                        now.Add(-7 * 24 * time.Hour),
	} {
		got, err := audit.ParseTime(in, now)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "-5h", "0d", "2026-13-01", "5x"} {
		if _, err := audit.ParseTime(in, now); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestParseSections(t *testing.T) {
	for in, want := range map[string]string{
		"all":             "summary timeline resets lockouts fraud fatigue",
		"fraud,summary":   "summary fraud",
		"timeline, fraud": "timeline fraud",
		"resets,all":      "summary timeline resets lockouts fraud fatigue",
	} {
		got, err := audit.ParseSections(in)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := audit.ParseSections("summary,nope"); err == nil || !strings.Contains(err.Error(), `unknown report "nope"`) {
		t.Errorf("nope: %v", err)
	}
}

// Text from the events cannot steer a terminal or run as a spreadsheet
// formula.
func TestWriteEscapes(t *testing.T) {
	l := newLog(t)
	l.add("uio.no", "ola", t0, events.ResetCompleted{Kind: "helpdesk", Operator: "=HYPERLINK(\"x\")", Ticket: "\x1b[2Jgone"})
	rep := l.replay(audit.Options{}, l.msgs)
	var table, csv bytes.Buffer
	if err := audit.Write(&table, rep, audit.FormatTable, []string{audit.SectionResets}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(table.String(), "\x1b") || !strings.Contains(table.String(), `\u001b[2Jgone`) {
		t.Errorf("table:\n%s", table.String())
	}
	if err := audit.Write(&csv, rep, audit.FormatCSV, []string{audit.SectionResets}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), `"'=HYPERLINK(""x"")"`) {
		t.Errorf("csv:\n%s", csv.String())
	}
	if err := audit.Write(&csv, rep, audit.FormatCSV, []string{audit.SectionResets, audit.SectionFraud}); err == nil {
		t.Error("CSV of two sections")
	}
	var js bytes.Buffer
	if err := audit.Write(&js, rep, audit.FormatJSON, []string{audit.SectionFraud}); err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	json.Unmarshal(js.Bytes(), &m)
	if string(m["fraud"]) != "[]" || m["resets"] != nil || string(m["breaks"]) != "[]" {
		t.Errorf("json sections: %s", js.String())
	}
}

// Lines in another layout than the writer's (keys reordered, spaces,
// escapes) are read by the general decoder to the same messages.
func TestExportReaderOtherLayouts(t *testing.T) {
	header := `{"format":"vakt-export","version":1,"stream":"S","exported_at":"2026-11-23T09:00:00Z","first_position":1,"last_position":3,"filtered":false}`
	text := header + "\n" +
		`{"position":1,"subject":"vakt.evt.t.u","hash":"ab","event":{"x":1}}` + "\n" +
		`{"hash":"ab","event":{"x":1},"subject":"vakt.evt.t.u","position":2}` + "\n" +
		`{ "position": 3, "subject": "vakt.evt.t\u002eu", "hash": "ab", "event": {"x":1} }` + "\n" +
		`{"format":"vakt-export-end","events":3}` + "\n"
	r, err := audit.ReadExport(strings.NewReader(text), "f")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		m, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Position != uint64(i) || m.Subject != "vakt.evt.t.u" || m.Hash != "ab" || string(m.Data) != `{"x":1}` {
			t.Errorf("line %d: %+v", i+1, m)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("end: %v", err)
	}
}
