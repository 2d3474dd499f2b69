package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress modes.
const (
	progressAuto   = "auto"
	progressAlways = "always"
	progressNever  = "never"
)

func addProgressFlag(fs *flag.FlagSet) *string {
	mode := progressAuto
	fs.Func("progress", "show a progress bar on standard error: `auto` (when it is a terminal and the run takes a while), always or never", func(s string) error {
		switch s {
		case progressAuto, progressAlways, progressNever:
			mode = s
			return nil
		}
		return fmt.Errorf("choose auto, always or never")
	})
	return &mode
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws a bar on one line of standard error while events are read.
// In auto mode it appears only on a terminal and only once the run has taken
// half a second; it is erased before anything else is written, so that it
// never mixes with the report.
type progress struct {
	w        io.Writer
	label    string
	total    int64 // in units: positions, or bytes of a file
	bytes    bool  // units are bytes
	terminal bool
	delay    time.Duration
	start    time.Time
	last     time.Time
	shown    bool
	done     int64
	events   int
	width    int
}

// newProgress returns nil (which draws nothing) when the mode says no bar.
func newProgress(w io.Writer, mode, label string, total int64, bytes bool) *progress {
	terminal := isTerminal(w)
	p := &progress{w: w, label: label, total: total, bytes: bytes, terminal: terminal, start: time.Now()}
	switch mode {
	case progressNever:
		return nil
	case progressAlways:
	default:
		if !terminal {
			return nil
		}
		p.delay = 500 * time.Millisecond
	}
	return p
}

// update notes how far the run is: done units, events read.
func (p *progress) update(done int64, events int) {
	if p == nil {
		return
	}
	p.done, p.events = done, events
	if events%256 != 0 {
		return
	}
	now := time.Now()
	if now.Sub(p.start) < p.delay || now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	p.draw()
}

func (p *progress) draw() {
	const barWidth = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.done)/float64(p.total), 1)
	}
	filled := int(frac * barWidth)
	line := fmt.Sprintf("%s [%s%s] %3d%%  %d events", p.label, strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), int(frac*100), p.events)
	if p.bytes {
		line += fmt.Sprintf("  %s of %s", megabytes(p.done), megabytes(p.total))
	}
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.shown = true
}

// finish shows the end state: complete, or stopped by an error. On a
// terminal the bar is erased; elsewhere (--progress always into a file) it
// ends with a line break.
func (p *progress) finish(complete bool) {
	if p == nil {
		return
	}
	if !p.shown && time.Since(p.start) < p.delay {
		return
	}
	if complete && p.total > 0 {
		p.done = p.total
	}
	p.draw()
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
	} else {
		fmt.Fprintln(p.w)
	}
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
