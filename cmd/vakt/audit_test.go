package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/audit"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
)

// fixClock makes exported_at (and durations such as --since 36h) fixed.
func fixClock(t *testing.T) {
	saved := wallClock
	wallClock = func() time.Time { return worldExportedAt }
	t.Cleanup(func() { wallClock = saved })
}

// exportWorld builds the world and exports it; it returns the data directory
// and the export file.
func exportWorld(t *testing.T, args ...string) (dir, file string) {
	t.Helper()
	fixClock(t)
	dir = buildWorld(t)
	file = filepath.Join(t.TempDir(), "export.jsonl")
	code, out, errOut := runVakt(t, append([]string{"export", "--data", dir, "--out", file}, args...)...)
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "exported ") {
		t.Fatalf("vakt export: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	return dir, file
}

// replayOK runs vakt replay, which must verify and print nothing on stderr.
func replayOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runVakt(t, append([]string{"replay"}, args...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("vakt replay %q: exit %d\nstderr:\n%s\nstdout:\n%s", args, code, errOut, out)
	}
	return out
}

// replayJSON replays into the JSON report.
func replayJSON(t *testing.T, args ...string) audit.Report {
	t.Helper()
	out := replayOK(t, append(args, "--format", "json", "--report", "all")...)
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	return rep
}

// normalise replaces what differs from run to run (the temporary paths) in
// a report.
func normalise(out string, paths map[string]string) string {
	for from, to := range paths {
		out = strings.ReplaceAll(out, from, to)
	}
	return out
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "replay", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update if the change is intended)\n%s", path, diff(string(want), got))
	}
}

// exportLine is an event line of an export, as the tests read it.
type exportLine struct {
	Position uint64          `json:"position"`
	Subject  string          `json:"subject"`
	Hash     string          `json:"hash"`
	Event    json.RawMessage `json:"event"`
}

// readExport returns the lines of an export file.
func readExport(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("export has %d lines", len(lines))
	}
	return lines
}

func writeExport(t *testing.T, lines []string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "tampered.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// lineOf finds the export line of a user's event by seq.
func lineOf(t *testing.T, lines []string, user string, seq uint64) int {
	t.Helper()
	subject := natsstore.Subject(events.Stream{Tenant: "uio.no", User: user})
	for i, l := range lines[1 : len(lines)-1] {
		var el exportLine
		if err := json.Unmarshal([]byte(l), &el); err != nil {
			t.Fatal(err)
		}
		var env events.Envelope
		if err := json.Unmarshal(el.Event, &env); err != nil {
			t.Fatal(err)
		}
		if el.Subject == subject && env.Seq == seq {
			return i + 1
		}
	}
	t.Fatalf("no line for %s seq %d", user, seq)
	return 0
}

// ---- the export --------------------------------------------------------------------

func TestExportFormat(t *testing.T) {
	dir, file := exportWorld(t)
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("export mode %v, want 0600", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*partial")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	lines := readExport(t, file)

	var h audit.Header
	if err := json.Unmarshal([]byte(lines[0]), &h); err != nil {
		t.Fatal(err)
	}
	evLines := lines[1 : len(lines)-1]
	want := audit.Header{Format: "vakt-export", Version: 1, Stream: "VAKT_EVENTS", ExportedAt: worldExportedAt,
		FirstPosition: 1, LastPosition: uint64(len(evLines))}
	if h != want {
		t.Errorf("header %+v, want %+v", h, want)
	}
	if !strings.Contains(lines[0], `"filtered":false`) {
		t.Errorf("header does not say filtered false: %s", lines[0])
	}
	if got := lines[len(lines)-1]; got != `{"format":"vakt-export-end","events":`+itoaTest(len(evLines))+`}` {
		t.Errorf("closing line %s", got)
	}

	// Every event line holds the stored bytes verbatim: the hash chain over
	// them holds, and they are the bytes the stream holds.
	stored := storedMessages(t, dir)
	prev := map[string]events.Hash{}
	for i, l := range evLines {
		var el exportLine
		if err := json.Unmarshal([]byte(l), &el); err != nil {
			t.Fatal(err)
		}
		m := stored[i]
		if el.Position != uint64(i+1) || el.Position != m.Position || el.Subject != m.Subject || el.Hash != m.Hash {
			t.Fatalf("line %d: %d %s %s, stored %d %s %s", i+2, el.Position, el.Subject, el.Hash, m.Position, m.Subject, m.Hash)
		}
		if !bytes.Equal(el.Event, m.Data) {
			t.Fatalf("line %d: event bytes differ from the stored ones", i+2)
		}
		if !strings.Contains(l, `"event":`+string(m.Data)+"}") {
			t.Fatalf("line %d does not embed the stored bytes as they are", i+2)
		}
		h := events.ChainHash(prev[el.Subject], el.Event)
		if hex.EncodeToString(h[:]) != el.Hash {
			t.Fatalf("line %d: hash does not chain", i+2)
		}
		prev[el.Subject] = h
	}
}

func itoaTest(n int) string { b, _ := json.Marshal(n); return string(b) }

// storedMessages reads the stream of a data directory with the store.
func storedMessages(t *testing.T, dir string) []audit.Message {
	t.Helper()
	n := natstest.Start(t, natstest.Dir(dir))
	store, err := natsstore.Open(t.Context(), n.JetStream, natsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	last, err := store.LastPosition(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Message
	for m, err := range store.Raw(t.Context(), 0, last) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, audit.Message{Position: m.Position, Subject: m.Subject, Data: m.Data, Hash: m.Hash})
	}
	store.Close()
	n.Close()
	return out
}

func TestExportToStandardOutput(t *testing.T) {
	dir, file := exportWorld(t)
	code, out, errOut := runVakt(t, "export", "--data", dir)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want, _ := os.ReadFile(file)
	if out != string(want) {
		t.Error("the export on standard output differs from the one written to a file")
	}
}

// ---- replay: the reports -------------------------------------------------------------

func TestReplayGolden(t *testing.T) {
	_, file := exportWorld(t)
	paths := map[string]string{file: "export.jsonl"}
	checkGolden(t, "all.table.golden", normalise(replayOK(t, "--from", file, "--report", "all"), paths))
	checkGolden(t, "all.json.golden", normalise(replayOK(t, "--from", file, "--report", "all", "--format", "json"), paths))
	checkGolden(t, "summary.table.golden", normalise(replayOK(t, "--from", file), paths))
	for _, s := range audit.Sections {
		checkGolden(t, s+".csv.golden", replayOK(t, "--from", file, "--report", s, "--format", "csv"))
	}
}

func TestReplayLiveStreamGivesTheSameReport(t *testing.T) {
	dir, file := exportWorld(t)
	for _, format := range []string{"table", "json"} {
		fromFile := replayOK(t, "--from", file, "--report", "all", "--format", format)
		live := replayOK(t, "--data", dir, "--report", "all", "--format", format)
		if format == "table" {
			if !strings.Contains(live, "Source:  stream VAKT_EVENTS on data directory "+dir+" (positions 1 to ") {
				t.Errorf("live source line:\n%s", live)
			}
			fromFile, live = dropLine(fromFile, "Source:"), dropLine(live, "Source:")
		} else {
			fromFile, live = dropJSONSource(t, fromFile), dropJSONSource(t, live)
		}
		if fromFile != live {
			t.Errorf("%s: the live replay differs from the export's\n%s", format, diff(fromFile, live))
		}
	}
}

func dropLine(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func dropJSONSource(t *testing.T, s string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "source")
	b, _ := json.MarshalIndent(m, "", "  ")
	return string(b)
}

func TestReplayReports(t *testing.T) {
	_, file := exportWorld(t)
	rep := replayJSON(t, "--from", file)
	if !rep.Verified || len(rep.Breaks) != 0 {
		t.Fatalf("verified %v, breaks %v", rep.Verified, rep.Breaks)
	}
	sum := rep.Summary
	if sum.Streams != 6 || sum.Users != 4 || sum.Tenants != 2 || sum.ChainsVerified != 6 || sum.Events != sum.Messages {
		t.Errorf("summary %+v", sum)
	}

	// Resets: who reset whose MFA, when, on what proof.
	if len(rep.Resets) != 2 {
		t.Fatalf("resets %+v", rep.Resets)
	}
	self, help := rep.Resets[0], rep.Resets[1]
	if self.User != "ola.nordmann" || self.Kind != "self_service" || self.ProofKind != "idporten" || self.ProofLevel != "idporten-loa-high" ||
		self.ProofReference != "sid-2" || self.TemporaryPassUntil.IsZero() || self.Removed != 2 || !self.Verified {
		t.Errorf("self-service reset %+v", self)
	}
	if help.Kind != "helpdesk" || help.Operator != "kari" || help.Ticket != "INC-1" || help.Actor != "helpdesk:kari" ||
		!help.Time.Equal(worldStart.Add(48*time.Hour)) && help.Time.Before(self.Time) {
		t.Errorf("helpdesk reset %+v", help)
	}

	// Lockouts: Ola's after five failures, unlocked by kari; Nina's for
	// fraud, unlocked by ole.
	if len(rep.Lockouts) != 2 {
		t.Fatalf("lockouts %+v", rep.Lockouts)
	}
	ola, nina := rep.Lockouts[0], rep.Lockouts[1]
	if ola.User != "ola.nordmann" || ola.Reason != "failures" || ola.Level != 1 || ola.Failures != 5 || ola.Permanent ||
		ola.Until.IsZero() || ola.Ended != "unlocked" || ola.Operator != "kari" || ola.Ticket != "INC-4711" || ola.EndedBy != "helpdesk:kari" {
		t.Errorf("ola's lockout %+v", ola)
	}
	if nina.Tenant != "ntnu.no" || nina.Reason != "fraud" || !nina.Permanent || nina.Ended != "unlocked" || nina.Operator != "ole" || nina.Ticket != "NTNU-9" ||
		nina.EndedAt.Sub(nina.LockedAt) != 30*time.Minute {
		t.Errorf("nina's lockout %+v", nina)
	}

	// Fraud reports: time, user, authenticator, application.
	if len(rep.Fraud) != 2 {
		t.Fatalf("fraud %+v", rep.Fraud)
	}
	if f := rep.Fraud[0]; f.User != "ola.nordmann" || f.Authenticator != "Push phone" || f.Method != "push" || f.Application != "Canvas" || f.App != "web" {
		t.Errorf("ola's fraud report %+v", f)
	}
	if f := rep.Fraud[1]; f.User != "nina" || f.Authenticator != "iPad" || f.Application != "Blackboard" {
		t.Errorf("nina's fraud report %+v", f)
	}

	// Push fatigue: Ola's and Kari's pauses, and Per's two denials without
	// a pause.
	if len(rep.Fatigue) != 3 {
		t.Fatalf("fatigue %+v", rep.Fatigue)
	}
	fo, fk, fp := rep.Fatigue[0], rep.Fatigue[1], rep.Fatigue[2]
	if fo.User != "ola.nordmann" || fo.Pattern != "paused" || fo.Refusals != 3 || fo.Denied != 1 || fo.WrongNumber != 1 || fo.Unanswered != 1 || fo.PausedUntil.IsZero() {
		t.Errorf("ola's pause %+v", fo)
	}
	if fk.User != "kari.hansen" || fk.Pattern != "paused" || fk.Refusals != 3 || fk.Denied != 3 || fk.To.Sub(fk.From) != 2*time.Minute {
		t.Errorf("kari's pause %+v", fk)
	}
	if fp.User != "per.hansen" || fp.Pattern != "unpaused" || fp.Refusals != 2 || fp.Denied != 2 || !fp.PausedUntil.IsZero() {
		t.Errorf("per's refusals %+v", fp)
	}

	// Timelines: the projections.AuditTrail sentences.
	byUser := map[string]audit.Timeline{}
	for _, tl := range rep.Timeline {
		byUser[tl.Tenant+"/"+tl.User] = tl
	}
	if len(byUser) != 6 {
		t.Fatalf("timelines for %v", byUser)
	}
	for key, sentence := range map[string]string{
		"uio.no/ola.nordmann": `reset by helpdesk operator "kari", ticket "INC-1"`,
		"uio.no/kari.hansen":  `erased by "dpo", ticket "PRIV-7" (GDPR art. 17); the data key is destroyed`,
		"uio.no/per.hansen":   `sign-in to web denied on push app "Galaxy"`,
		"ntnu.no/nina":        `unlocked by helpdesk operator "ole", ticket "NTNU-9"`,
		"uio.no/":             `tenant policy set: push paused after 3 refused pushes within 1h0m0s, for 15m0s; fraud lock off`,
		"ntnu.no/":            `fraud lock on`,
	} {
		found := false
		for _, e := range byUser[key].Entries {
			found = found || strings.Contains(e.Summary, sentence)
		}
		if !found {
			t.Errorf("%s: no entry says %q", key, sentence)
		}
	}
	tl := byUser["uio.no/ola.nordmann"]
	if len(tl.Entries) != tl.Events || tl.Entries[0].Seq != 1 || tl.Entries[len(tl.Entries)-1].Seq != tl.LastSeq {
		t.Errorf("ola's timeline: %d entries of %d events", len(tl.Entries), tl.Events)
	}
	for _, e := range tl.Entries {
		if !e.Verified || e.Position == 0 {
			t.Errorf("entry %+v", e)
		}
	}
}

// ---- tampering -------------------------------------------------------------------

// replayBroken replays a tampered export: exit 1, the report on stdout with
// the breaks first, one line on stderr naming the first break.
func replayBroken(t *testing.T, file string) (audit.Report, string) {
	t.Helper()
	code, out, errOut := runVakt(t, "replay", "--from", file, "--format", "json", "--report", "all")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", code, errOut)
	}
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	if rep.Verified || len(rep.Breaks) == 0 {
		t.Fatalf("the report says verified %v with breaks %v", rep.Verified, rep.Breaks)
	}
	code, table, _ := runVakt(t, "replay", "--from", file)
	if code != 1 || !strings.Contains(table, "\nCHAIN BREAKS (") || strings.Index(table, "CHAIN BREAKS") > strings.Index(table, "SUMMARY") {
		t.Errorf("the table does not list the breaks first:\n%s", table)
	}
	return rep, errOut
}

func TestReplayTamperedExport(t *testing.T) {
	_, file := exportWorld(t)
	lines := readExport(t, file)
	for _, tc := range []struct {
		name   string
		tamper func([]string) []string
		seq    uint64
		reason string
	}{
		{"one byte changed", func(l []string) []string {
			i := lineOf(t, l, "ola.nordmann", 5)
			l[i] = strings.Replace(l[i], `"actor":"user"`, `"actor":"usex"`, 1)
			return l
		}, 5, "hash does not match the stored bytes (altered)"},
		{"event removed", func(l []string) []string {
			i := lineOf(t, l, "ola.nordmann", 10)
			return append(l[:i:i], l[i+1:]...)
		}, 11, "sequence 11 after 9: 1 event(s) missing"},
		{"events swapped", func(l []string) []string {
			i, j := lineOf(t, l, "ola.nordmann", 10), lineOf(t, l, "ola.nordmann", 11)
			l[i], l[j] = l[j], l[i]
			return l
		}, 11, "sequence 11 after 9, and seq 10 comes later at position"},
		{"hash header changed", func(l []string) []string {
			i := lineOf(t, l, "ola.nordmann", 7)
			var el exportLine
			json.Unmarshal([]byte(l[i]), &el)
			l[i] = strings.Replace(l[i], el.Hash, strings.Repeat("0", 64), 1)
			return l
		}, 7, "hash does not match the stored bytes (altered)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, errOut := replayBroken(t, writeExport(t, tc.tamper(append([]string(nil), lines...))))
			b := rep.Breaks[0]
			if b.Kind != "chain" || b.Tenant != "uio.no" || b.User != "ola.nordmann" || b.Seq != tc.seq || b.Position == 0 || !strings.Contains(b.Reason, tc.reason) {
				t.Errorf("first break %+v, want ola.nordmann seq %d: %s", b, tc.seq, tc.reason)
			}
			if rep.Summary.ChainsBroken != 1 || rep.Summary.ChainsVerified != 5 {
				t.Errorf("summary %+v", rep.Summary)
			}
			if !strings.Contains(errOut, "vakt: replay: the events do not verify: 1 hash chain(s) broken (the first: uio.no / ola.nordmann at seq "+itoaTest(int(tc.seq))+")") {
				t.Errorf("stderr: %s", errOut)
			}
			// Events from the break on are marked unverified in the timeline.
			for _, tl := range rep.Timeline {
				if tl.User != "ola.nordmann" {
					continue
				}
				if tl.BrokenAt != tc.seq {
					t.Errorf("timeline broken at %d", tl.BrokenAt)
				}
				for _, e := range tl.Entries {
					if e.Verified != (e.Seq < tc.seq) && e.Seq != 10 {
						t.Errorf("seq %d verified %v", e.Seq, e.Verified)
					}
				}
			}
		})
	}
}

// Removing a whole stream leaves every chain intact; the gap in positions
// and the closing line's count give it away.
func TestReplayExportWithAStreamRemoved(t *testing.T) {
	_, file := exportWorld(t)
	lines := readExport(t, file)
	per := natsstore.Subject(events.Stream{Tenant: "uio.no", User: "per.hansen"})
	var kept []string
	for _, l := range lines {
		if !strings.Contains(l, `"subject":"`+per+`"`) {
			kept = append(kept, l)
		}
	}
	rep, errOut := replayBroken(t, writeExport(t, kept))
	if rep.Summary.ChainsBroken != 0 || !strings.Contains(errOut, "problem(s) with the source") {
		t.Errorf("summary %+v, stderr %s", rep.Summary, errOut)
	}
	reasons := ""
	for _, b := range rep.Breaks {
		reasons += b.Reason + "\n"
	}
	if !strings.Contains(reasons, "are missing") || !strings.Contains(reasons, "the closing line of the export counts") {
		t.Errorf("breaks:\n%s", reasons)
	}
}

func TestReplayMalformedExport(t *testing.T) {
	_, file := exportWorld(t)
	lines := readExport(t, file)
	whole := strings.Join(lines, "\n") + "\n"
	mid := len(lines) / 2
	for _, tc := range []struct {
		name, content, want string
	}{
		{"truncated last line", whole[:len(whole)-len(lines[len(lines)-1])-1-len(lines[len(lines)-2])/2],
			"line " + itoaTest(len(lines)-1) + ": the file ends in the middle of this line: the export is truncated"},
		{"cut at a line boundary", strings.Join(lines[:mid], "\n") + "\n",
			"ends after line " + itoaTest(mid) + " without the closing {\"format\":\"vakt-export-end\"} line: the export is incomplete"},
		{"a line that is not JSON", strings.Join(append(append(append([]string(nil), lines[:mid]...), "this is not json"), lines[mid:]...), "\n") + "\n",
			"line " + itoaTest(mid+1) + ": not JSON"},
		{"not an export", "{\"hello\":1}\n", "line 1: not a vakt export"},
		{"empty", "", "the file is empty; it is not a vakt export"},
		{"a newer version", strings.Replace(whole, `"version":1`, `"version":2`, 1), "export format version 2; this vakt reads version 1"},
		{"text after the end", whole + "more\n", "text after the closing line"},
		{"an event line without its event", strings.Join(append(append(append([]string(nil), lines[:mid]...), `{"position":3,"subject":"vakt.evt.x","hash":"00"}`), lines[mid:]...), "\n") + "\n",
			"not an event line: position, subject, hash and event are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "bad.jsonl")
			os.WriteFile(f, []byte(tc.content), 0o600)
			code, out, errOut := runVakt(t, "replay", "--from", f)
			if code != 1 || out != "" || !strings.HasPrefix(errOut, "vakt: replay: "+f) || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant %q", code, out, errOut, tc.want)
			}
		})
	}
}

// ---- filters ---------------------------------------------------------------------

func TestReplayFilters(t *testing.T) {
	_, file := exportWorld(t)
	all := replayJSON(t, "--from", file)

	rep := replayJSON(t, "--from", file, "--tenant", "ntnu.no")
	if len(rep.Timeline) != 2 || rep.Summary.Streams != 2 || rep.Summary.OutsideFilter != all.Summary.Events-rep.Summary.Events ||
		len(rep.Resets) != 0 || len(rep.Fraud) != 1 || rep.Fraud[0].User != "nina" || len(rep.Lockouts) != 1 {
		t.Errorf("--tenant ntnu.no: %+v", rep.Summary)
	}
	for _, tl := range rep.Timeline {
		if tl.Tenant != "ntnu.no" {
			t.Errorf("timeline of %s", tl.Tenant)
		}
	}

	rep = replayJSON(t, "--from", file, "--user", "kari.hansen")
	if len(rep.Timeline) != 1 || rep.Timeline[0].User != "kari.hansen" || len(rep.Fatigue) != 1 || rep.Fatigue[0].User != "kari.hansen" ||
		len(rep.Resets)+len(rep.Lockouts)+len(rep.Fraud) != 0 || len(rep.Summary.PerTenant) != 1 || rep.Summary.PerTenant[0].Erasures != 1 {
		t.Errorf("--user kari.hansen: %+v", rep)
	}

	// Day 2 only: the self-service reset, not the helpdesk reset of day 3
	// or the lockout of day 1.
	since, until := worldStart.Add(24*time.Hour).Format(time.RFC3339), worldStart.Add(48*time.Hour).Format("2006-01-02")
	rep = replayJSON(t, "--from", file, "--since", since, "--until", until)
	if len(rep.Resets) != 1 || rep.Resets[0].Kind != "self_service" || len(rep.Lockouts) != 0 || len(rep.Fraud) != 0 {
		t.Errorf("day 2: resets %+v lockouts %+v fraud %+v", rep.Resets, rep.Lockouts, rep.Fraud)
	}
	lo, hi := worldStart.Add(24*time.Hour), worldStart.Add(48*time.Hour).Truncate(24*time.Hour)
	n := 0
	for _, tl := range rep.Timeline {
		for _, e := range tl.Entries {
			n++
			if e.Time.Before(lo) || !e.Time.Before(hi) {
				t.Errorf("entry at %v outside the range", e.Time)
			}
		}
	}
	if n == 0 || n != rep.Summary.EventsInRange || rep.Summary.Events != all.Summary.Events || rep.Summary.ChainsVerified != 6 {
		t.Errorf("%d entries, summary %+v", n, rep.Summary)
	}

	// A duration before now, with the clock fixed.
	rep = replayJSON(t, "--from", file, "--since", "1h")
	if rep.Filter.Since != worldExportedAt.Add(-time.Hour) || rep.Summary.EventsInRange != 0 {
		t.Errorf("--since 1h: %+v", rep.Filter)
	}
}

func TestFilteredExport(t *testing.T) {
	dir, _ := exportWorld(t)
	export := func(args ...string) (audit.Header, []exportLine, string) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "part.jsonl")
		code, out, errOut := runVakt(t, append([]string{"export", "--data", dir, "--out", file}, args...)...)
		if code != 0 || errOut != "" {
			t.Fatalf("export %v: exit %d: %s", args, code, errOut)
		}
		if !strings.Contains(out, " events (") {
			t.Errorf("export %v said %q", args, out)
		}
		lines := readExport(t, file)
		var h audit.Header
		json.Unmarshal([]byte(lines[0]), &h)
		var els []exportLine
		for _, l := range lines[1 : len(lines)-1] {
			var el exportLine
			json.Unmarshal([]byte(l), &el)
			els = append(els, el)
		}
		return h, els, file
	}

	// A user's export is that user's whole stream, and verifies.
	h, els, file := export("--user", "ola.nordmann")
	if !h.Filtered || h.Filter == nil || h.Filter.User != "ola.nordmann" {
		t.Errorf("header %+v", h)
	}
	subject := natsstore.Subject(events.Stream{Tenant: "uio.no", User: "ola.nordmann"})
	for i, el := range els {
		var env events.Envelope
		json.Unmarshal(el.Event, &env)
		if el.Subject != subject || env.Seq != uint64(i+1) {
			t.Fatalf("line %d: %s seq %d", i+2, el.Subject, env.Seq)
		}
	}
	rep := replayJSON(t, "--from", file)
	if rep.Summary.Streams != 1 || rep.Summary.ChainsVerified != 1 || rep.Timeline[0].LastSeq != uint64(len(els)) || rep.Source.ExportFilter == nil {
		t.Errorf("replay of a user's export: %+v", rep.Summary)
	}
	// A filtered export that lost a user's first event does not verify.
	lines := readExport(t, file)
	_, errOut := replayBroken(t, writeExport(t, append(lines[:1:1], lines[2:]...)))
	if !strings.Contains(errOut, "at seq 2") {
		t.Errorf("stderr %s", errOut)
	}

	// A tenant's export.
	h, els, file = export("--tenant", "ntnu.no")
	for _, el := range els {
		if !strings.HasPrefix(el.Subject, "vakt.evt.ntnu=2Eno") {
			t.Errorf("subject %s in a ntnu.no export", el.Subject)
		}
	}
	if rep := replayJSON(t, "--from", file); rep.Summary.Streams != 2 || rep.Summary.ChainsVerified != 2 {
		t.Errorf("tenant export: %+v", rep.Summary)
	}

	// From day 2 on: chains start after seq 1 and verify from there.
	since := worldStart.Add(24 * time.Hour).Format(time.RFC3339)
	h, els, file = export("--since", since)
	if h.Filter == nil || h.Filter.Since.IsZero() || len(els) == 0 {
		t.Fatalf("header %+v", h)
	}
	rep = replayJSON(t, "--from", file)
	if !rep.Verified || rep.Summary.ChainsPartial == 0 {
		t.Errorf("since export: %+v", rep.Summary)
	}
	for _, tl := range rep.Timeline {
		if tl.User == "ola.nordmann" && tl.VerifiedFrom <= 1 {
			t.Errorf("ola's timeline verified from %d", tl.VerifiedFrom)
		}
	}
	table := replayOK(t, "--from", file, "--report", "timeline")
	if !strings.Contains(table, "from their first exported event") || !strings.Contains(table, "chain verified from seq") {
		t.Errorf("table:\n%s", table)
	}
	// Removing the first event of such a chain is not noticed (it could
	// be before --since), but a removal in the middle is.
	lines = readExport(t, file)
	i := 1
	for ; i < len(lines)-1 && !strings.Contains(lines[i], subject); i++ {
	}
	_, errOut = replayBroken(t, writeExport(t, append(lines[:i+1:i+1], lines[i+2:]...)))
	if !strings.Contains(errOut, "uio.no / ola.nordmann") {
		t.Errorf("stderr %s", errOut)
	}
}

// ---- connecting ------------------------------------------------------------------

func TestReplayMissingStream(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", "--data", empty}, "no event stream VAKT_EVENTS on data directory " + empty + ": it holds no JetStream store"},
		{[]string{"export", "--data", empty}, "no event stream VAKT_EVENTS on data directory " + empty},
		{[]string{"replay", "--data", filepath.Join(empty, "nope")}, "no data directory " + filepath.Join(empty, "nope")},
	} {
		code, out, errOut := runVakt(t, tc.args...)
		if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("vakt %q: exit %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, out, errOut)
		}
	}
	if left, _ := os.ReadDir(empty); len(left) > 0 {
		t.Errorf("reading left %v in the directory", left)
	}

	// A server's store without the stream: reading does not create it.
	dir := buildWorld(t)
	for range 2 {
		code, _, errOut := runVakt(t, "replay", "--data", dir, "--stream", "OTHER")
		if code != 1 || !strings.Contains(errOut, "no event stream OTHER on data directory "+dir+": nothing was stored there yet, or --stream names another stream") {
			t.Errorf("--stream OTHER: exit %d: %s", code, errOut)
		}
	}
}

func TestReplayDataDirectoryInUse(t *testing.T) {
	dir := buildWorld(t)
	natstest.Start(t, natstest.Dir(dir)) // holds the directory, as `vakt serve` would
	for _, cmd := range []string{"replay", "export"} {
		code, out, errOut := runVakt(t, cmd, "--data", dir)
		if code != 1 || out != "" || !strings.Contains(errOut, "the data directory "+dir+" is in use by vakt pid") ||
			!strings.Contains(errOut, "read through that server with --nats-url") {
			t.Errorf("%s: exit %d\nstderr: %s", cmd, code, errOut)
		}
	}
}

func TestReplayThroughNATSURL(t *testing.T) {
	dir, file := exportWorld(t)
	n := natstest.Start(t, natstest.Dir(dir), natstest.Listen("127.0.0.1:-1"))
	live := replayOK(t, "--nats-url", n.ClientURL(), "--report", "all")
	if !strings.Contains(live, "Source:  stream VAKT_EVENTS on "+n.ClientURL()) {
		t.Errorf("source:\n%s", live)
	}
	if a, b := dropLine(live, "Source:"), dropLine(replayOK(t, "--from", file, "--report", "all"), "Source:"); a != b {
		t.Errorf("differs from the export's report\n%s", diff(b, a))
	}
	code, out, errOut := runVakt(t, "export", "--nats-url", n.ClientURL())
	want, _ := os.ReadFile(file)
	if code != 0 || out != string(want) {
		t.Errorf("export through --nats-url: exit %d: %s", code, errOut)
	}
	code, _, errOut = runVakt(t, "replay", "--nats-url", n.ClientURL(), "--stream", "OTHER")
	if code != 1 || !strings.Contains(errOut, "no event stream OTHER on "+n.ClientURL()) {
		t.Errorf("--stream OTHER: exit %d: %s", code, errOut)
	}
	if _, err := n.JetStream.Stream(t.Context(), "OTHER"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("reading created the stream: %v", err)
	}
}

// ---- the command line ------------------------------------------------------------

func TestReplayUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", "--report", "nope"}, `--report: unknown report "nope"`},
		{[]string{"replay", "--format", "xml"}, `--format: unknown format "xml"`},
		{[]string{"replay", "--format", "csv", "--report", "all"}, "--format csv holds one report"},
		{[]string{"replay", "--format", "csv", "--report", "resets,fraud"}, "--format csv holds one report"},
		{[]string{"replay", "--since", "yesterday"}, `--since: invalid time "yesterday"`},
		{[]string{"replay", "--since", "2026-11-24", "--until", "2026-11-23"}, "--until 2026-11-23T00:00:00Z is not after --since 2026-11-24T00:00:00Z"},
		{[]string{"replay", "--from", "x.jsonl", "--data", "d"}, "--from reads an export file; --data is for reading a live stream"},
		{[]string{"replay", "--data", "d", "--nats-url", "nats://localhost:4222"}, "--data and --nats-url exclude each other"},
		{[]string{"replay", "--nats-creds", "x.creds"}, "--nats-creds needs --nats-url"},
		{[]string{"replay", "extra"}, `unexpected argument "extra"`},
		{[]string{"export", "--until", "soon"}, `--until: invalid time "soon"`},
		{[]string{"replay", "--fatigue-refusals", "0"}, "--fatigue-refusals must be at least 1"},
	} {
		code, out, errOut := runVakt(t, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "run 'vakt help "+tc.args[0]+"' for usage") {
			t.Errorf("vakt %q: exit %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, out, errOut)
		}
	}
	code, _, errOut := runVakt(t, "replay", "--progress", "sometimes")
	if code != 2 || !strings.Contains(errOut, "choose auto, always or never") {
		t.Errorf("--progress sometimes: exit %d: %s", code, errOut)
	}
}

func TestHelpDocumentsTheAuditCommands(t *testing.T) {
	_, out, _ := runVakt(t, "help")
	for _, s := range []string{"  export   write the event stream", "  replay   verify the hash chains"} {
		if !strings.Contains(out, s) {
			t.Errorf("help lacks %q:\n%s", s, out)
		}
	}
	_, out, _ = runVakt(t, "help", "replay")
	for _, f := range []string{"-from file", "-tenant", "-user", "-since time", "-until time", "-report reports", "-format format", "-progress auto", "-data directory", "-nats-url url", "-nats-creds file", "-stream name"} {
		if !strings.Contains(out, f) {
			t.Errorf("vakt help replay lacks %q", f)
		}
	}
	_, out, _ = runVakt(t, "help", "export")
	for _, f := range []string{"-out file", "-tenant", "-user", "-since time", "-until time", "-data directory", "-nats-url url"} {
		if !strings.Contains(out, f) {
			t.Errorf("vakt help export lacks %q", f)
		}
	}
}

func TestReplayFromStandardInput(t *testing.T) {
	_, file := exportWorld(t)
	b, _ := os.ReadFile(file)
	saved := stdin
	stdin = bytes.NewReader(b)
	t.Cleanup(func() { stdin = saved })
	out := replayOK(t, "--from", "-")
	if !strings.Contains(out, "Source:  export standard input (stream VAKT_EVENTS") || !strings.Contains(out, "every chain verified") {
		t.Errorf("replay of standard input:\n%s", out)
	}
}

// The progress bar goes to standard error only when asked (the tests' stderr
// is no terminal), and never touches the report.
func TestReplayProgress(t *testing.T) {
	dir, file := exportWorld(t)
	quiet := replayOK(t, "--from", file, "--report", "all")
	for _, args := range [][]string{{"--from", file}, {"--data", dir}} {
		code, out, errOut := runVakt(t, append([]string{"replay", "--report", "all", "--progress", "always"}, args...)...)
		if code != 0 || !regexp.MustCompile(`^\rreplay \[#{30}\] 100%  \d+ events`).MatchString(errOut) || !strings.HasSuffix(errOut, "\n") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
		if dropLine(out, "Source:") != dropLine(quiet, "Source:") {
			t.Errorf("%v: the progress bar changed the report", args)
		}
	}
	if _, _, errOut := runVakt(t, "replay", "--from", file, "--progress", "never"); errOut != "" {
		t.Errorf("--progress never wrote %q", errOut)
	}
	if _, _, errOut := runVakt(t, "export", "--data", dir, "--out", filepath.Join(t.TempDir(), "x"), "--progress", "always"); !strings.Contains(errOut, "100%") {
		t.Errorf("export progress %q", errOut)
	}
}

// CSV reports keep breaks off standard output.
func TestReplayCSVWithBreaks(t *testing.T) {
	_, file := exportWorld(t)
	lines := readExport(t, file)
	i := lineOf(t, lines, "kari.hansen", 3)
	lines[i] = strings.Replace(lines[i], `"actor":"user"`, `"actor":"usex"`, 1)
	code, out, errOut := runVakt(t, "replay", "--from", writeExport(t, lines), "--report", "resets", "--format", "csv")
	if code != 1 || !strings.HasPrefix(out, "time,tenant,user,seq,") {
		t.Fatalf("exit %d\nstdout:\n%s", code, out)
	}
	if !strings.Contains(errOut, "vakt: replay: chain broken: uio.no / kari.hansen at seq 3 (position ") {
		t.Errorf("stderr:\n%s", errOut)
	}
	r := bufio.NewScanner(strings.NewReader(out))
	for r.Scan() {
		if strings.Contains(r.Text(), "broken") {
			t.Errorf("a break on stdout: %s", r.Text())
		}
	}
}

// TestHoldDataDirectory is not a test: run by
// TestReplayDataDirectoryHeldByAnotherProcess in a child process, it holds a
// data directory with an embedded server until its standard input closes.
func TestHoldDataDirectory(t *testing.T) {
	dir := os.Getenv("VAKT_TEST_HOLD_DIR")
	if dir == "" {
		t.Skip("run by TestReplayDataDirectoryHeldByAnotherProcess")
	}
	n := natstest.Start(t, natstest.Dir(dir))
	defer n.Close()
	os.Stdout.WriteString("holding\n")
	io.Copy(io.Discard, os.Stdin)
}

func TestReplayDataDirectoryHeldByAnotherProcess(t *testing.T) {
	dir := buildWorld(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldDataDirectory$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VAKT_TEST_HOLD_DIR="+dir)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer in.Close()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "holding\n" {
		t.Fatalf("the child did not take the directory: %q %v", line, err)
	}
	code, stdout, errOut := runVakt(t, "replay", "--data", dir)
	want := fmt.Sprintf("vakt: replay: the data directory %s is in use by vakt pid %d; ", dir, cmd.Process.Pid)
	if code != 1 || stdout != "" || !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, "read through that server with --nats-url") {
		t.Errorf("exit %d\nstderr: %s\nwant prefix: %s", code, errOut, want)
	}
}
