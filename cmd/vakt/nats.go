package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/natsserver"
)

// defaultDataDir is where `vakt serve` keeps its data unless told otherwise.
const defaultDataDir = "vakt-data"

// connFlags say where the event stream is: the embedded server on a data
// directory (the default), or a running NATS server.
type connFlags struct {
	fs                       *flag.FlagSet
	data, url, creds, stream string
}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{fs: fs}
	fs.StringVar(&c.data, "data", defaultDataDir, "read the stream from the data `directory` of `vakt serve`, with an embedded server; it fails while `vakt serve` holds the directory (use --nats-url then)")
	fs.StringVar(&c.url, "nats-url", "", "read the stream from the running NATS server at `url` instead (such as the one `vakt serve` runs; comma-separated for a cluster)")
	fs.StringVar(&c.creds, "nats-creds", "", "NATS credentials `file` for --nats-url")
	fs.StringVar(&c.stream, "stream", natsstore.StreamName, "the event stream's `name`")
	return c
}

// set reports whether a flag was given on the command line.
func (c *connFlags) set(name string) bool { return flagSet(c.fs, name) }

func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// check refuses contradictory connection flags.
func (c *connFlags) check() error {
	switch {
	case c.url != "" && c.set("data"):
		return usagef("--data and --nats-url exclude each other: --data starts a server on a data directory, --nats-url reads from a running one")
	case c.creds != "" && c.url == "":
		return usagef("--nats-creds needs --nats-url")
	case c.url == "" && c.data == "":
		return usagef("--data is empty: name the data directory, or use --nats-url")
	case c.stream == "":
		return usagef("--stream is empty")
	}
	return nil
}

// eventStream is an open event stream to read.
type eventStream struct {
	nats  *natsserver.NATS
	store *natsstore.Store
	name  string
	where string // "data directory /x" or the server's URL (without credentials)
	// first and last are the stream's positions when it was opened; the
	// readers stop at last (0: the stream is empty).
	first, last uint64
}

// open connects (or starts the embedded server) and opens the event stream
// for reading. It never creates a stream: a missing one is an error.
func (c *connFlags) open(ctx context.Context) (*eventStream, error) {
	es := &eventStream{name: c.stream}
	cfg := natsserver.Config{URL: c.url, Credentials: c.creds}
	if c.url == "" {
		dir, err := filepath.Abs(c.data)
		if err != nil {
			return nil, fmt.Errorf("data directory %s: %v", c.data, err)
		}
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("no data directory %s: there is nothing to read (give the --data of `vakt serve`, or --nats-url for a running server)", dir)
		case err != nil:
			return nil, fmt.Errorf("data directory: %v", err)
		case !fi.IsDir():
			return nil, fmt.Errorf("%s is not a directory; --data names the data directory of `vakt serve`", dir)
		}
		es.where = "data directory " + dir
		// Without a JetStream store there is no stream to read; starting a
		// server would only litter the directory (it may not be Vakt's).
		if _, err := os.Stat(filepath.Join(dir, "jetstream")); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no event stream %s on %s: it holds no JetStream store (is it the --data of `vakt serve`?)", c.stream, es.where)
		}
		cfg = natsserver.Config{DataDir: dir}
	} else {
		es.where = redact(c.url)
	}
	n, err := natsserver.Start(ctx, cfg)
	if err != nil {
		if c.url == "" && vakt.CodeOf(err) == vakt.CodeConflict {
			return nil, fmt.Errorf("%s; while `vakt serve` runs on it, read through that server with --nats-url", message(err))
		}
		return nil, errors.New(message(err))
	}
	es.nats = n
	ok := false
	defer func() {
		if !ok {
			es.Close()
		}
	}()
	lookup, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := n.JetStream.Stream(lookup, c.stream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, fmt.Errorf("no event stream %s on %s: nothing was stored there yet, or --stream names another stream", c.stream, es.where)
	case err != nil:
		return nil, fmt.Errorf("look up stream %s on %s: %v", c.stream, es.where, err)
	}
	state := st.CachedInfo().State
	if state.LastSeq > 0 {
		es.first, es.last = max(state.FirstSeq, 1), state.LastSeq
	}
	// The stream exists, so Open only checks its settings.
	store, err := natsstore.Open(ctx, n.JetStream, natsstore.Options{Stream: c.stream})
	if err != nil {
		return nil, errors.New(message(err))
	}
	es.store = store
	ok = true
	return es, nil
}

// Close closes the store and the connection, and stops the embedded server.
func (es *eventStream) Close() {
	if es.store != nil {
		es.store.Close()
	}
	if es.nats != nil {
		es.nats.Close()
	}
}

// message is an error's text without a vakt error code in front and without
// the package prefix of natsserver.
func message(err error) string {
	msg := err.Error()
	var e *vakt.Error
	if errors.As(err, &e) && e.Message != "" {
		msg = e.Message
	}
	return strings.TrimPrefix(msg, "natsserver: ")
}

// redact replaces the user info of every URL in a comma-separated list.
func redact(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		rest := p
		if j := strings.Index(p, "://"); j >= 0 {
			rest = p[j+3:]
		}
		if at := strings.LastIndex(rest, "@"); at > 0 {
			p = strings.Replace(p, rest[:at]+"@", "***@", 1)
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}
