package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vaktmfa/vakt/internal/audit"
)

// wallClock is the time of day, for exported_at and for durations such as
// --since 36h; tests fix it.
var wallClock = time.Now

// filterFlags select tenants, users and a time range.
type filterFlags struct {
	tenant, user, since, until string
}

func addFilterFlags(fs *flag.FlagSet, what string) *filterFlags {
	f := &filterFlags{}
	fs.StringVar(&f.tenant, "tenant", "", "only the `tenant` with this id")
	fs.StringVar(&f.user, "user", "", "only the `user` with this id (in every tenant unless --tenant is given)")
	fs.StringVar(&f.since, "since", "", "only "+what+" at or after `time`: RFC 3339 (2026-11-23T09:00:00Z), a UTC date (2026-11-23) or date and time (2026-11-23T09:00), or a duration before now (36h, 7d)")
	fs.StringVar(&f.until, "until", "", "only "+what+" before `time` (the same forms as --since)")
	return f
}

func (f *filterFlags) parse() (audit.Filter, error) {
	filter := audit.Filter{Tenant: f.tenant, User: f.user}
	now := wallClock()
	var err error
	if f.since != "" {
		if filter.Since, err = audit.ParseTime(f.since, now); err != nil {
			return filter, usagef("--since: %v", err)
		}
	}
	if f.until != "" {
		if filter.Until, err = audit.ParseTime(f.until, now); err != nil {
			return filter, usagef("--until: %v", err)
		}
	}
	if err := filter.Check(); err != nil {
		return filter, usagef("%v", err)
	}
	return filter, nil
}

func exportFlags(fs *flag.FlagSet) func(context.Context, *cmdEnv) error {
	conn := addConnFlags(fs)
	out := fs.String("out", "", "write the export to `file` (default standard output); it appears only once complete, with mode 0600")
	filt := addFilterFlags(fs, "events")
	mode := addProgressFlag(fs)
	return func(ctx context.Context, env *cmdEnv) error {
		if len(env.args) > 0 {
			return usagef("unexpected argument %q", env.args[0])
		}
		filter, err := filt.parse()
		if err != nil {
			return err
		}
		if err := conn.check(); err != nil {
			return err
		}
		es, err := conn.open(ctx)
		if err != nil {
			return err
		}
		defer es.Close()

		toFile := *out != "" && *out != "-"
		w := env.stdout
		var tmp *os.File
		if toFile {
			// Write beside the target and rename when complete, so that a
			// failed or interrupted export leaves no partial file behind.
			tmp, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*.partial")
			if err != nil {
				return fmt.Errorf("create the export file: %v", err)
			}
			defer func() {
				if tmp != nil {
					tmp.Close()
					os.Remove(tmp.Name())
				}
			}()
			w = tmp
		}
		h := audit.Header{
			Stream: es.name, ExportedAt: wallClock(),
			FirstPosition: es.first, LastPosition: es.last,
			Filtered: !filter.IsZero(),
		}
		if h.Filtered {
			h.Filter = &filter
		}
		xw, err := audit.NewExportWriter(w, h)
		if err != nil {
			return writeErr(err)
		}
		// Auto progress stays off while the export itself goes to a terminal.
		pmode := *mode
		if pmode == progressAuto && !toFile && isTerminal(env.stdout) {
			pmode = progressNever
		}
		prog := newProgress(env.stderr, pmode, "export", int64(es.last-es.first+1), false)
		read := 0
		for m, err := range es.store.Raw(ctx, es.first-min(es.first, 1), es.last) {
			if err != nil {
				prog.finish(false)
				return errors.New(message(err))
			}
			read++
			prog.update(int64(read), read)
			msg := audit.Message{Position: m.Position, Subject: m.Subject, Data: m.Data, Hash: m.Hash}
			if !filter.Keeps(msg) {
				continue
			}
			if err := xw.Write(msg); err != nil {
				prog.finish(false)
				return writeErr(err)
			}
		}
		if ctx.Err() != nil {
			prog.finish(false)
			if toFile {
				return errors.New("interrupted before the export was complete; no file was written")
			}
			return errors.New("interrupted: the export on standard output is incomplete (it has no closing line)")
		}
		prog.finish(true)
		if err := xw.Close(); err != nil {
			return writeErr(err)
		}
		if !toFile {
			return nil
		}
		if err := tmp.Sync(); err != nil {
			return writeErr(err)
		}
		if err := tmp.Close(); err != nil {
			return writeErr(err)
		}
		if err := os.Rename(tmp.Name(), *out); err != nil {
			return fmt.Errorf("export file: %v", err)
		}
		tmp = nil
		what := "every event"
		if h.Filtered {
			what = fmt.Sprintf("%d of %d events (%s)", xw.Events(), read, filter)
		} else if read != 1 {
			what = fmt.Sprintf("all %d events", read)
		}
		fmt.Fprintf(env.stdout, "exported %s of stream %s (positions %s) to %s\n", what, es.name, positions(es.first, es.last), *out)
		return nil
	}
}

func positions(first, last uint64) string {
	if last == 0 {
		return "none: the stream is empty"
	}
	return fmt.Sprintf("%d to %d", first, last)
}

func writeErr(err error) error {
	if errors.Is(err, io.ErrShortWrite) {
		return fmt.Errorf("write the export: the disk may be full: %v", err)
	}
	return fmt.Errorf("write the export: %v", err)
}
