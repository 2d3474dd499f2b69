package audit

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	natsstore "github.com/vaktmfa/vakt/events/nats"
)

// The export file format, version 1: JSON Lines.
//
// The first line is the [Header]. Then one line per event, in store order:
//
//	{"position":12,"subject":"vakt.evt.uio=2Eno.ola","hash":"<64 hex>","event":{...}}
//
// where "event" is the stored bytes verbatim, embedded as JSON (never
// re-encoded: the hash chain covers those exact bytes). Stored bytes that
// cannot be embedded as they are (not a single-line JSON object; only a
// damaged store holds such a thing) are written as "event_base64" instead.
// The last line closes the export and counts its events:
//
//	{"format":"vakt-export-end","events":120}
//
// so that an export cut short, even at a line boundary, is recognised.
const (
	ExportFormat    = "vakt-export"
	ExportEndFormat = "vakt-export-end"
	ExportVersion   = 1
)

// MaxLine bounds one line of an export file (an event is at most 64 KiB;
// base64 and the line's own fields add a third).
const MaxLine = 1 << 20

// Header is the first line of an export.
type Header struct {
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	Stream     string    `json:"stream"`
	ExportedAt time.Time `json:"exported_at"`
	// FirstPosition and LastPosition bound the part of the stream that was
	// read: an unfiltered export holds every position between them.
	FirstPosition uint64 `json:"first_position"`
	LastPosition  uint64 `json:"last_position"`
	// Filtered is set when events were left out; Filter says how.
	Filtered bool    `json:"filtered"`
	Filter   *Filter `json:"filter,omitempty"`
}

// Trailer is the last line of an export.
type Trailer struct {
	Format string `json:"format"`
	Events int    `json:"events"`
}

// Message is one stored event as a store or an export holds it: its position,
// subject, exact bytes and the hash stored beside them (hex).
type Message struct {
	Position uint64
	Subject  string
	Data     []byte
	Hash     string
}

// ---- writing -------------------------------------------------------------------

// ExportWriter writes an export file.
type ExportWriter struct {
	w      *bufio.Writer
	events int
	last   uint64
	buf    []byte
}

// NewExportWriter writes the header and returns the writer. The header's
// Format and Version are filled in.
func NewExportWriter(w io.Writer, h Header) (*ExportWriter, error) {
	h.Format, h.Version = ExportFormat, ExportVersion
	h.ExportedAt = h.ExportedAt.UTC()
	if h.Filter != nil && h.Filter.IsZero() {
		h.Filter = nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	x := &ExportWriter{w: bufio.NewWriterSize(w, 256<<10)}
	x.w.Write(b)
	if err := x.w.WriteByte('\n'); err != nil {
		return nil, err
	}
	return x, nil
}

// Write writes one event line. Messages must come in store order.
func (x *ExportWriter) Write(m Message) error {
	if m.Position <= x.last {
		return fmt.Errorf("export: position %d after %d", m.Position, x.last)
	}
	b := x.buf[:0]
	b = append(b, `{"position":`...)
	b = strconv.AppendUint(b, m.Position, 10)
	b = append(b, `,"subject":`...)
	b = appendJSONString(b, m.Subject)
	b = append(b, `,"hash":`...)
	b = appendJSONString(b, m.Hash)
	if embeddable(m.Data) {
		b = append(b, `,"event":`...)
		b = append(b, m.Data...)
	} else {
		b = append(b, `,"event_base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, m.Data)
		b = append(b, '"')
	}
	b = append(b, "}\n"...)
	x.buf = b
	if _, err := x.w.Write(b); err != nil {
		return err
	}
	x.events++
	x.last = m.Position
	return nil
}

// Events is how many event lines were written.
func (x *ExportWriter) Events() int { return x.events }

// Close writes the closing line and flushes. It does not close the
// underlying writer.
func (x *ExportWriter) Close() error {
	b, _ := json.Marshal(Trailer{Format: ExportEndFormat, Events: x.events})
	x.w.Write(b)
	x.w.WriteByte('\n')
	return x.w.Flush()
}

// embeddable reports whether stored bytes can stand in a line as they are and
// come back byte for byte: one JSON object without surrounding space or line
// breaks.
func embeddable(b []byte) bool {
	return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}' &&
		bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 && json.Valid(b)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// ---- reading -------------------------------------------------------------------

// FormatError is a problem with an export file that stops reading it: not
// an export, a line that is not JSON, a file cut short.
type FormatError struct {
	File string
	Line int // 0 when it concerns the file as a whole
	Msg  string
}

func (e *FormatError) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Msg)
}

// ExportReader reads an export file line by line.
type ExportReader struct {
	Header Header

	r       *bufio.Reader
	name    string
	line    int
	events  int
	bytes   int64
	done    bool
	trailer int
	buf     []byte
}

// eventLine is the decoded shape of an event line (or, with Format set, of
// the closing line).
type eventLine struct {
	Format      string          `json:"format"`
	Events      *int            `json:"events"`
	Position    uint64          `json:"position"`
	Subject     string          `json:"subject"`
	Hash        *string         `json:"hash"`
	Event       json.RawMessage `json:"event"`
	EventBase64 []byte          `json:"event_base64"`
}

// ReadExport reads the header of an export; name is the file's name for
// messages.
func ReadExport(r io.Reader, name string) (*ExportReader, error) {
	x := &ExportReader{r: bufio.NewReaderSize(r, 64<<10), name: name}
	line, complete, err := x.readLine()
	if err == io.EOF {
		return nil, x.errf(0, "the file is empty; it is not a vakt export")
	}
	if err != nil {
		return nil, err
	}
	var h Header
	if jerr := json.Unmarshal(line, &h); jerr != nil || h.Format != ExportFormat {
		if !complete && jerr != nil {
			return nil, x.errf(1, "the file ends in the middle of its first line; it is not a complete vakt export")
		}
		return nil, x.errf(1, "not a vakt export: the first line must be the header {\"format\":\"vakt-export\",...}")
	}
	if h.Version != ExportVersion {
		return nil, x.errf(1, "export format version %d; this vakt reads version %d", h.Version, ExportVersion)
	}
	if h.Stream == "" {
		return nil, x.errf(1, "the header names no stream")
	}
	x.Header = h
	return x, nil
}

// Next returns the next event. It returns io.EOF after the closing line, and
// a *FormatError for anything that is not a well-formed export.
func (x *ExportReader) Next() (Message, error) {
	for {
		if x.done {
			// Nothing but blank lines may follow the closing line.
			line, _, err := x.readLine()
			if err == io.EOF {
				return Message{}, io.EOF
			}
			if err != nil {
				return Message{}, err
			}
			if len(bytes.TrimSpace(line)) > 0 {
				return Message{}, x.errf(x.line, "text after the closing line of the export")
			}
			continue
		}
		line, complete, err := x.readLine()
		if err == io.EOF {
			return Message{}, x.errf(0, "the file ends after line %d without the closing {\"format\":\"vakt-export-end\"} line: the export is incomplete (cut short, or still being written)", x.line)
		}
		if err != nil {
			return Message{}, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if complete {
			if m, ok := fastLine(line); ok {
				x.events++
				return m, nil
			}
		}
		var l eventLine
		if err := json.Unmarshal(line, &l); err != nil {
			if !complete {
				return Message{}, x.errf(x.line, "the file ends in the middle of this line: the export is truncated")
			}
			return Message{}, x.errf(x.line, "not JSON (%v)", err)
		}
		if l.Format == ExportEndFormat {
			if l.Events == nil {
				return Message{}, x.errf(x.line, "the closing line has no event count")
			}
			x.trailer = *l.Events
			x.done = true
			continue
		}
		if l.Format != "" {
			return Message{}, x.errf(x.line, "unexpected line of format %q", l.Format)
		}
		m := Message{Position: l.Position, Subject: l.Subject}
		switch {
		case len(l.Event) > 0 && len(l.EventBase64) > 0:
			return Message{}, x.errf(x.line, "an event line has both event and event_base64")
		case len(l.Event) > 0:
			// The bytes of the line itself, as they were stored
			// (RawMessage keeps its own copy).
			m.Data = l.Event
		case len(l.EventBase64) > 0:
			m.Data = l.EventBase64
		}
		if m.Position == 0 || m.Subject == "" || l.Hash == nil || len(m.Data) == 0 {
			return Message{}, x.errf(x.line, "not an event line: position, subject, hash and event are required")
		}
		m.Hash = *l.Hash
		x.events++
		return m, nil
	}
}

// Counted returns the number of events the closing line counts and the
// number the file holds; they differ when event lines were removed or added.
// It is valid once Next has returned io.EOF.
func (x *ExportReader) Counted() (closing, held int) { return x.trailer, x.events }

// fastLine reads an event line in exactly the layout ExportWriter writes,
// without a general JSON decoder (which would scan each line three times);
// anything else goes to the general decoder.
func fastLine(b []byte) (Message, bool) {
	var m Message
	rest, ok := bytes.CutPrefix(b, []byte(`{"position":`))
	if !ok {
		return m, false
	}
	n := 0
	for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
		n++
	}
	if n == 0 || n > 19 || rest[0] == '0' {
		return m, false
	}
	pos, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil {
		return m, false
	}
	subject, rest, ok := plainString(rest[n:], `,"subject":"`)
	if !ok || len(subject) == 0 {
		return m, false
	}
	hash, rest, ok := plainString(rest, `,"hash":"`)
	if !ok {
		return m, false
	}
	ev, ok := bytes.CutPrefix(rest, []byte(`,"event":`))
	if !ok || len(ev) < 3 || ev[0] != '{' || ev[len(ev)-1] != '}' {
		return m, false
	}
	ev = ev[:len(ev)-1]
	if ev[len(ev)-1] != '}' || !json.Valid(ev) {
		return m, false
	}
	return Message{Position: pos, Subject: string(subject), Hash: string(hash), Data: bytes.Clone(ev)}, true
}

// plainString reads prefix (ending in a quote) and a string without escapes
// or control bytes up to its closing quote.
func plainString(b []byte, prefix string) (s, rest []byte, ok bool) {
	b, ok = bytes.CutPrefix(b, []byte(prefix))
	if !ok {
		return nil, nil, false
	}
	for i, c := range b {
		switch {
		case c == '"':
			return b[:i], b[i+1:], true
		case c == '\\' || c < 0x20:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// Line is the number of the line read last.
func (x *ExportReader) Line() int { return x.line }

// BytesRead is how far into the file the reader is.
func (x *ExportReader) BytesRead() int64 { return x.bytes }

// readLine returns the next line without its line break; complete is false
// for a last line that ends without one.
func (x *ExportReader) readLine() (line []byte, complete bool, err error) {
	x.buf = x.buf[:0]
	for {
		chunk, err := x.r.ReadSlice('\n')
		x.buf = append(x.buf, chunk...)
		x.bytes += int64(len(chunk))
		if len(x.buf) > MaxLine {
			return nil, false, x.errf(x.line+1, "the line is longer than %d bytes; no event is that long", MaxLine)
		}
		switch {
		case err == nil:
			x.line++
			return bytes.TrimRight(x.buf, "\r\n"), true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if len(x.buf) == 0 {
				return nil, false, io.EOF
			}
			x.line++
			return x.buf, false, nil
		default:
			return nil, false, fmt.Errorf("%s: read: %w", x.name, err)
		}
	}
}

func (x *ExportReader) errf(line int, format string, args ...any) error {
	return &FormatError{File: x.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Keeps reports whether an export made with this filter holds m: a message
// of a selected stream whose time is in the range. A message whose time
// cannot be read is kept, so that the replay reports it.
func (f Filter) Keeps(m Message) bool {
	if f.Tenant != "" || f.User != "" {
		st, ok := natsstore.ParseSubject(m.Subject)
		if !ok || !f.Selects(st) {
			return false
		}
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		var e struct {
			Time time.Time `json:"time"`
		}
		if json.Unmarshal(m.Data, &e) == nil && !e.Time.IsZero() && !f.InRange(e.Time) {
			return false
		}
	}
	return true
}
