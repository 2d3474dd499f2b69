package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vaktmfa/vakt/internal/qrterm"
)

var update = flag.Bool("update", false, "rewrite testdata/demo.golden from the current output")

// runVakt runs the command line in-process.
func runVakt(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// demoOK runs the demo and requires it to succeed quietly on stderr.
func demoOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runVakt(t, append([]string{"demo"}, args...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("vakt demo %v: exit %d, stderr:\n%s\nstdout:\n%s", args, code, errOut, out)
	}
	return out
}

// eventLine matches the demo's event lines: seq, time, type, description.
var eventLine = regexp.MustCompile(`^ +(\d+)  (\d\d:\d\d:\d\d)  ([a-z_]+\.[a-z_]+) +(.*)$`)

type printedEvent struct{ seq, time, typ, text string }

func printedEvents(out string) []printedEvent {
	var evs []printedEvent
	for _, line := range strings.Split(out, "\n") {
		if m := eventLine.FindStringSubmatch(line); m != nil {
			evs = append(evs, printedEvent{m[1], m[2], m[3], m[4]})
		}
	}
	return evs
}

func TestDemoWalksTheFlows(t *testing.T) {
	out := demoOK(t, "-seed", "test", "-qr=false")

	// The steps, in order.
	steps := []string{
		"1. Enrol an authenticator app",
		"2. Confirm it with the first code",
		"3. Sign in to app \"web\"",
		"4. Replay: the same code on a new challenge",
		"5. Add a new phone",
		"6. Remove the old phone",
		"7. Lost phone: helpdesk reset",
		"Summary",
	}
	rest := out
	for _, s := range steps {
		i := strings.Index(rest, "\n"+s)
		if i < 0 {
			t.Fatalf("step %q missing or out of order in:\n%s", s, out)
		}
		rest = rest[i+1:]
	}

	// Every event, in the order it was stored, one line each.
	want := []struct{ typ, text string }{
		{"authenticator.enrolment_started", `totp "iPhone 12"`},
		{"authenticator.activated", `"iPhone 12"`},
		{"authenticator.default_changed", `default is now "iPhone 12"`},
		{"challenge.issued", `app "web"`},
		{"challenge.succeeded", `"iPhone 12"`},
		{"challenge.issued", `app "web"`},
		{"challenge.attempt_failed", "code_reused"},
		{"challenge.succeeded", `"iPhone 12"`},
		{"authenticator.enrolment_started", `totp "Pixel 9"`},
		{"authenticator.activated", `"Pixel 9"`},
		{"challenge.issued", `app "web"`},
		{"challenge.succeeded", `"Pixel 9"`},
		{"authenticator.removed", `"iPhone 12"`},
		{"authenticator.default_changed", `default is now "Pixel 9"`},
		{"reset.completed", "helpdesk by kari.hansen on INC-4711; 1 authenticator(s) revoked"},
	}
	got := printedEvents(out)
	if len(got) != len(want) {
		t.Fatalf("printed %d events, want %d:\n%s", len(got), len(want), out)
	}
	for i, w := range want {
		g := got[i]
		if g.seq != strconv.Itoa(i+1) || g.typ != w.typ || !strings.Contains(g.text, w.text) {
			t.Errorf("event %d = %s %s %q, want %d %s containing %q", i+1, g.seq, g.typ, g.text, i+1, w.typ, w.text)
		}
	}
	if got[0].time != "09:00:00" || got[len(got)-1].time != "09:03:30" {
		t.Errorf("simulated clock: first event at %s, last at %s", got[0].time, got[len(got)-1].time)
	}

	for _, s := range []string{
		"refused: code_reused: ",
		"refused: enrolment_required: ",
		"hash chain verified",
		"15 events from 14 commands",
		`the default is "Pixel 9"`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}
}

// The only secrets printed are the otpauth URI (once per enrolment) and the
// codes the app shows, each labelled.
func TestDemoShowsOnlyLabelledSecrets(t *testing.T) {
	out := demoOK(t, "-seed", "test", "-qr=false")
	if strings.Contains(out, "[redacted]") {
		t.Error("a redacted secret was printed")
	}
	lines := strings.Split(out, "\n")
	uris := 0
	for i, line := range lines {
		if s := strings.TrimSpace(line); strings.HasPrefix(s, "otpauth://") {
			uris++
			if !strings.Contains(lines[i-1], "contains the secret; shown once") {
				t.Errorf("URI on line %d is not labelled: %q", i, lines[i-1])
			}
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			secret := u.Query().Get("secret")
			if len(secret) < 16 || strings.Count(out, secret) != 1 {
				t.Errorf("secret %q appears %d times", secret, strings.Count(out, secret))
			}
		}
	}
	if uris != 2 {
		t.Errorf("%d otpauth URIs printed, want 2", uris)
	}
	code := regexp.MustCompile(`\b\d{6}\b`)
	for _, line := range lines {
		if code.MatchString(line) && !strings.Contains(line, "[one-time code") && !strings.Contains(line, "tries it again") && eventLine.FindString(line) == "" {
			t.Errorf("unlabelled code in %q", line)
		}
	}
}

func TestDemoIsDeterministicWithASeed(t *testing.T) {
	a := demoOK(t, "-seed", "test", "-qr=false")
	b := demoOK(t, "-seed", "test", "-qr=false")
	if a != b {
		t.Fatal("two runs with the same seed differ")
	}
	if c := demoOK(t, "-seed", "other", "-qr=false"); c == a {
		t.Fatal("a different seed gave the same output")
	}
}

// Without -seed the demo runs on the real time and crypto/rand.
func TestDemoUnseeded(t *testing.T) {
	out := demoOK(t, "-qr=false")
	if !strings.Contains(out, "real entropy") || len(printedEvents(out)) != 15 {
		t.Fatalf("unseeded run:\n%s", out)
	}
}

// With QR codes on (the default), each URI is followed by its QR code.
func TestDemoDrawsQRCodes(t *testing.T) {
	out := demoOK(t, "-seed", "test")
	n := 0
	for _, line := range strings.Split(out, "\n") {
		uri := strings.TrimSpace(line)
		if !strings.HasPrefix(uri, "otpauth://") {
			continue
		}
		n++
		var qr bytes.Buffer
		if err := qrterm.Render(&qr, uri); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, uri+"\n     Scan it with") || !strings.Contains(out, qr.String()) {
			t.Errorf("no QR code for %s", uri)
		}
	}
	if n != 2 {
		t.Fatalf("%d URIs", n)
	}
	if plain := demoOK(t, "-seed", "test", "-qr=false"); strings.ContainsRune(plain, '█') {
		t.Error("-qr=false still drew a QR code")
	}
}

func TestDemoGolden(t *testing.T) {
	out := demoOK(t, "-seed", "test", "-qr=false")
	path := filepath.Join("testdata", "demo.golden")
	if *update {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if out != string(want) {
		t.Errorf("demo output differs from %s (run go test -update if the change is intended)\n%s", path, diff(string(want), out))
	}
}

// diff shows the first differing line.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return ""
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		code       int
		out, err   string // substrings of stdout and stderr
		quietOut   bool
		quietError bool
	}{
		{args: []string{"help"}, code: 0, out: "  demo ", quietError: true},
		{args: []string{"-h"}, code: 0, out: "usage: vakt <command>", quietError: true},
		{args: []string{"--help"}, code: 0, out: "usage: vakt <command>", quietError: true},
		{args: []string{"help", "demo"}, code: 0, out: "-seed text", quietError: true},
		{args: nil, code: 2, err: "vakt: no command given", quietOut: true},
		{args: []string{"bogus"}, code: 2, err: "vakt: unknown command \"bogus\"\nusage: vakt <command>", quietOut: true},
		{args: []string{"help", "bogus"}, code: 2, err: "vakt: unknown command \"bogus\"", quietOut: true},
		{args: []string{"demo", "-nope"}, code: 2, err: "vakt: demo: flag provided but not defined: -nope\nusage: vakt demo [flags]", quietOut: true},
		{args: []string{"demo", "-qr=maybe"}, code: 2, err: "vakt: demo: invalid boolean value", quietOut: true},
		{args: []string{"demo", "extra"}, code: 2, err: "vakt: demo: unexpected argument \"extra\"\nrun 'vakt help demo' for usage", quietOut: true},
		{args: []string{"demo", "-h"}, code: 0, out: "usage: vakt demo [flags]", quietError: true},
	} {
		code, out, errOut := runVakt(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) ||
			(tc.quietOut && out != "") || (tc.quietError && errOut != "") {
			t.Errorf("vakt %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.code, out, errOut)
		}
	}
}

// Help lists only the commands that exist.
func TestHelpListsImplementedCommands(t *testing.T) {
	_, out, _ := runVakt(t, "help")
	listed := regexp.MustCompile(`(?m)^  (\S+) `).FindAllStringSubmatch(out, -1)
	if len(listed) != len(commands) {
		t.Fatalf("help lists %v, want %d commands:\n%s", listed, len(commands), out)
	}
	for i, m := range listed {
		if m[1] != commands[i].name {
			t.Errorf("help lists %q, want %q", m[1], commands[i].name)
		}
	}
	if !strings.Contains(out, "\n  demo ") || !strings.Contains(out, "\n  serve ") {
		t.Errorf("demo or serve is not listed:\n%s", out)
	}
}

// A command that fails exits 1 with "vakt: <command>: <message>".
func TestCommandFailureExitsOne(t *testing.T) {
	saved := commands
	t.Cleanup(func() { commands = saved })
	commands = append(commands[:len(commands):len(commands)], command{
		name: "fail", summary: "fail",
		flags: func(*flag.FlagSet) func(context.Context, *cmdEnv) error {
			return func(context.Context, *cmdEnv) error { return errors.New("the store is unreachable") }
		},
	})
	code, out, errOut := runVakt(t, "fail")
	if code != 1 || out != "" || errOut != "vakt: fail: the store is unreachable\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
