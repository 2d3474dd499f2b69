// Command vakt is the Vakt binary: one executable for running, inspecting and
// trying out the Vakt MFA engine.
//
// Usage:
//
//	vakt <command> [flags]
//	vakt help [command]
//
// The commands are:
//
//	bench   a load generator: sustained sign-ins (challenge and HOTP
//	        verification) against `vakt serve` in this process or at --url,
//	        reporting throughput and latency percentiles against the target
//	demo    walk through enrolment, sign-in, a replayed code, a new phone,
//	        removing the old one and a helpdesk reset, printing every event
//	        as it is stored (in memory; nothing is kept)
//	device  a push authenticator in the terminal: `device enrol <link>`
//	        confirms an activation link with a new device key, `device
//	        listen` waits for sign-ins to approve, deny or report
//	export  write the event stream (or a tenant's, a user's, a time range)
//	        as JSON Lines with the stored bytes verbatim
//	replay  verify every hash chain of a live stream or an export, name the
//	        first broken event of each stream, and report timelines, resets,
//	        lockouts, fraud reports and push-fatigue patterns
//	serve   run the HTTP API (DESIGN.md section 6) with an embedded NATS
//	        server on --data (or a running one with --nats-url)
//
// `vakt help <command>` shows a command's flags. Errors are written to
// standard error as "vakt: <message>"; the exit code is 0 on success, 1 when
// a command fails and 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

// command is one subcommand. flags declares its flags on fs and returns the
// function that runs it once they are parsed.
type command struct {
	name    string
	args    string // the synopsis after the flags, if any
	summary string
	flags   func(fs *flag.FlagSet) func(ctx context.Context, env *cmdEnv) error
}

// commands lists the subcommands in the order help shows them.
var commands = []command{
	{name: "bench", summary: "load a Vakt server with sign-ins and report throughput and latency percentiles", flags: benchFlags},
	{name: "demo", summary: "walk through the main MFA flows on an in-memory store", flags: demoFlags},
	{name: "device", args: "enrol <activation link | -> | listen", summary: "a push authenticator in the terminal: enrol with a device key, then approve, deny or report sign-ins", flags: deviceFlags},
	{name: "export", summary: "write the event stream, or part of it, to a JSON Lines file", flags: exportFlags},
	{name: "replay", summary: "verify the hash chains and report timelines, resets, lockouts, fraud and push fatigue", flags: replayFlags},
	{name: "serve", summary: "run the HTTP API on the embedded NATS server (or --nats-url)", flags: serveFlags},
}

// cmdEnv is what a running command may use besides its flags.
type cmdEnv struct {
	stdout, stderr io.Writer
	args           []string // positional arguments after the flags
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it runs the command line args (without
// the program name) and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "vakt: no command given")
		usage(stderr, false)
		return 2
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		if name == "help" && len(args) > 1 {
			c := lookup(args[1])
			if c == nil {
				fmt.Fprintf(stderr, "vakt: unknown command %q\n", args[1])
				usage(stderr, false)
				return 2
			}
			fs, _ := c.flagSet()
			c.usage(fs, stdout)
			return 0
		}
		usage(stdout, true)
		return 0
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "vakt: unknown command %q\n", args[0])
		usage(stderr, false)
		return 2
	}
	fs, runCmd := c.flagSet()
	// The flag package's own messages lack the "vakt:" prefix; report here.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(fs, stdout)
			return 0
		}
		fmt.Fprintf(stderr, "vakt: %s: %v\n", c.name, err)
		c.usage(fs, stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := runCmd(ctx, &cmdEnv{stdout: stdout, stderr: stderr, args: fs.Args()})
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "vakt: %s: %v\n", c.name, err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "run 'vakt help %s' for usage\n", c.name)
		return 2
	}
	return 1
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// flagSet returns the command's flags and the function that runs it.
func (c *command) flagSet() (*flag.FlagSet, func(context.Context, *cmdEnv) error) {
	fs := flag.NewFlagSet("vakt "+c.name, flag.ContinueOnError)
	fs.Usage = func() {} // run prints the usage itself
	return fs, c.flags(fs)
}

// usage writes the command's synopsis and flags.
func (c *command) usage(fs *flag.FlagSet, w io.Writer) {
	synopsis := "vakt " + c.name + " [flags]"
	if c.args != "" {
		synopsis += " " + c.args
	}
	fmt.Fprintf(w, "usage: %s\n\n%s.\n\nflags:\n", synopsis, capitalise(c.summary))
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// usage lists the commands; after an error the introduction is left out.
func usage(w io.Writer, intro bool) {
	var b strings.Builder
	if intro {
		b.WriteString("vakt is the Vakt MFA engine's command-line tool.\n\n")
	}
	b.WriteString("usage: vakt <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'vakt help <command>' for a command's flags.\n")
	io.WriteString(w, b.String())
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
