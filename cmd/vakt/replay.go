package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/vaktmfa/vakt/internal/audit"
)

// stdin is where `--from -` reads; tests replace it.
var stdin io.Reader = os.Stdin

func replayFlags(fs *flag.FlagSet) func(context.Context, *cmdEnv) error {
	conn := addConnFlags(fs)
	from := fs.String("from", "", "read the export `file` written by `vakt export` (- for standard input) instead of a live stream")
	filt := addFilterFlags(fs, "report on events")
	report := fs.String("report", audit.SectionSummary, "the `reports` to show, comma-separated: "+strings.Join(audit.Sections, ", ")+", or all. The chain breaks always come first; the exit status is 0 when every chain verifies, 1 when one does not (the report is still written) and 2 for a usage error")
	format := fs.String("format", audit.FormatTable, "output `format`: table, json or csv (csv holds one report; its breaks go to standard error)")
	refusals := fs.Int("fatigue-refusals", audit.DefaultFatigue.Refusals, "flag a push-fatigue pattern at `n` refused pushes (denied, wrong number, unanswered, fraud) within --fatigue-window, even without a pause")
	window := fs.Duration("fatigue-window", audit.DefaultFatigue.Window, "the `window` of --fatigue-refusals")
	mode := addProgressFlag(fs)
	return func(ctx context.Context, env *cmdEnv) error {
		if len(env.args) > 0 {
			return usagef("unexpected argument %q", env.args[0])
		}
		sections, err := audit.ParseSections(*report)
		if err != nil {
			return usagef("--report: %v", err)
		}
		switch *format {
		case audit.FormatTable, audit.FormatJSON:
		case audit.FormatCSV:
			if len(sections) != 1 {
				return usagef("--format csv holds one report; choose one with --report (%s)", strings.Join(audit.Sections, ", "))
			}
		default:
			return usagef("--format: unknown format %q: choose table, json or csv", *format)
		}
		if *refusals < 1 || *window <= 0 {
			return usagef("--fatigue-refusals must be at least 1 and --fatigue-window positive")
		}
		filter, err := filt.parse()
		if err != nil {
			return err
		}
		if *from != "" {
			for _, name := range []string{"data", "nats-url", "nats-creds", "stream"} {
				if conn.set(name) {
					return usagef("--from reads an export file; --%s is for reading a live stream", name)
				}
			}
		} else if err := conn.check(); err != nil {
			return err
		}

		opts := audit.Options{
			Filter:   filter,
			Fatigue:  audit.FatigueRule{Refusals: *refusals, Window: *window},
			Timeline: slices.Contains(sections, audit.SectionTimeline),
		}
		var rep *audit.Report
		if *from != "" {
			rep, err = replayExport(ctx, *from, opts, env.stderr, *mode)
		} else {
			rep, err = replayLive(ctx, conn, opts, env.stderr, *mode)
		}
		if err != nil {
			return err
		}

		out := bufio.NewWriter(env.stdout)
		if err := audit.Write(out, rep, *format, sections); err != nil {
			return err
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("write the report: %v", err)
		}
		if rep.Verified {
			return nil
		}
		if *format == audit.FormatCSV {
			for _, b := range rep.Breaks {
				fmt.Fprintf(env.stderr, "vakt: replay: %s\n", describeBreak(b))
			}
		}
		return brokenError(rep)
	}
}

// replayExport replays an export file.
func replayExport(ctx context.Context, path string, opts audit.Options, stderr io.Writer, mode string) (*audit.Report, error) {
	var (
		r    io.Reader = stdin
		size int64
	)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open the export: %v", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		r = f
	}
	name := path
	if path == "-" {
		name = "standard input"
	}
	xr, err := audit.ReadExport(r, name)
	if err != nil {
		return nil, err
	}
	h := xr.Header
	// A filtered export holds a selection of positions; one made from a
	// time on holds chains that start after their first event.
	opts.Contiguous = !h.Filtered
	opts.First, opts.Last = h.FirstPosition, h.LastPosition
	opts.Anchored = h.Filter != nil && !h.Filter.Since.IsZero()
	rp := audit.New(opts)
	prog := newProgress(stderr, mode, "replay", size, size > 0)
	n := 0
	for {
		m, err := xr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			prog.finish(false)
			return nil, err
		}
		rp.Add(m)
		n++
		prog.update(xr.BytesRead(), n)
		if n%4096 == 0 && ctx.Err() != nil {
			prog.finish(false)
			return nil, errors.New("interrupted before the end of the export; no report")
		}
	}
	prog.finish(true)
	if closing, held := xr.Counted(); closing != held {
		rp.SourceProblem(0, fmt.Sprintf("the closing line of the export counts %d events but the file holds %d: event lines were removed or added", closing, held))
	}
	rep := rp.Report()
	rep.Source = audit.Source{
		Kind: audit.SourceExport, File: path, Stream: h.Stream, ExportedAt: h.ExportedAt,
		FirstPosition: h.FirstPosition, LastPosition: h.LastPosition, ExportFilter: h.Filter,
	}
	return rep, nil
}

// replayLive replays the stream as it stands when the replay starts.
func replayLive(ctx context.Context, conn *connFlags, opts audit.Options, stderr io.Writer, mode string) (*audit.Report, error) {
	es, err := conn.open(ctx)
	if err != nil {
		return nil, err
	}
	defer es.Close()
	opts.Contiguous = true
	opts.First, opts.Last = es.first, es.last
	rp := audit.New(opts)
	prog := newProgress(stderr, mode, "replay", int64(es.last-es.first+1), false)
	n := 0
	for m, err := range es.store.Raw(ctx, es.first-min(es.first, 1), es.last) {
		if err != nil {
			prog.finish(false)
			return nil, errors.New(message(err))
		}
		rp.Add(audit.Message{Position: m.Position, Subject: m.Subject, Data: m.Data, Hash: m.Hash})
		n++
		prog.update(int64(n), n)
	}
	if ctx.Err() != nil {
		prog.finish(false)
		return nil, errors.New("interrupted before the end of the stream; no report")
	}
	prog.finish(true)
	rep := rp.Report()
	rep.Source = audit.Source{Kind: audit.SourceStream, Stream: es.name, Server: es.where, FirstPosition: es.first, LastPosition: es.last}
	return rep, nil
}

// brokenError is the exit-1 error of a replay that found breaks.
func brokenError(rep *audit.Report) error {
	chains, source := 0, 0
	first := ""
	for _, b := range rep.Breaks {
		if b.Kind == audit.BreakChain {
			if chains == 0 {
				first = fmt.Sprintf(" (the first: %s at seq %d)", b.Where(), b.Seq)
			}
			chains++
		} else {
			source++
		}
	}
	var parts []string
	if chains > 0 {
		parts = append(parts, fmt.Sprintf("%d hash chain(s) broken%s", chains, first))
	}
	if source > 0 {
		parts = append(parts, fmt.Sprintf("%d problem(s) with the source", source))
	}
	return fmt.Errorf("the events do not verify: %s; the report lists the breaks first", strings.Join(parts, " and "))
}

func describeBreak(b audit.Break) string {
	if b.Kind == audit.BreakSource {
		return fmt.Sprintf("source problem at position %d: %s", b.Position, b.Reason)
	}
	return fmt.Sprintf("chain broken: %s at seq %d (position %d): %s", b.Where(), b.Seq, b.Position, b.Reason)
}
