// Package audit is what `vakt export` and `vakt replay` share: the export
// file format (JSON Lines with a header and a closing line), and the replay
// that verifies every hash chain it reads and folds the events into the
// reports audit teams ask for: per-user timelines, resets, lockouts, fraud
// reports and push-fatigue patterns, written as a table, JSON or CSV.
//
// It does no I/O of its own beyond the readers and writers it is given, and
// reads no clock: the same input always gives the same report.
package audit

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vaktmfa/vakt/events"
)

// Filter selects what a report covers (and what an export holds). Tenant and
// User select streams: a user filter selects that user's stream (in every
// tenant unless Tenant is set) and no tenant stream. Since and Until select
// events by their time, Since inclusive and Until exclusive. The zero Filter
// selects everything.
type Filter struct {
	Tenant string    `json:"tenant,omitempty"`
	User   string    `json:"user,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	Until  time.Time `json:"until,omitzero"`
}

// IsZero reports whether the filter selects everything.
func (f Filter) IsZero() bool {
	return f.Tenant == "" && f.User == "" && f.Since.IsZero() && f.Until.IsZero()
}

// Selects reports whether the filter's tenant and user select stream s.
func (f Filter) Selects(s events.Stream) bool {
	if f.Tenant != "" && s.Tenant != f.Tenant {
		return false
	}
	if f.User != "" && s.User != f.User {
		return false
	}
	return true
}

// InRange reports whether t lies in the filter's time range.
func (f Filter) InRange(t time.Time) bool {
	return (f.Since.IsZero() || !t.Before(f.Since)) && (f.Until.IsZero() || t.Before(f.Until))
}

// Check refuses a range that ends before it starts.
func (f Filter) Check() error {
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return fmt.Errorf("--until %s is not after --since %s", formatRFC(f.Until), formatRFC(f.Since))
	}
	return nil
}

// String describes the filter for a report: `tenant "uio.no", since ...`.
func (f Filter) String() string {
	var parts []string
	if f.Tenant != "" {
		parts = append(parts, "tenant "+strconv.Quote(f.Tenant))
	}
	if f.User != "" {
		parts = append(parts, "user "+strconv.Quote(f.User))
	}
	if !f.Since.IsZero() {
		parts = append(parts, "since "+formatRFC(f.Since))
	}
	if !f.Until.IsZero() {
		parts = append(parts, "until "+formatRFC(f.Until))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// timeLayouts are the forms ParseTime accepts besides durations; the ones
// without a zone are UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	time.DateOnly,
}

// ParseTime reads a --since or --until value: an RFC 3339 time
// (2026-11-23T09:00:00Z), a UTC date and time without a zone
// (2026-11-23T09:00, 2026-11-23 09:00:00), a UTC date (2026-11-23, its
// midnight), or a duration before now (90m, 36h, 7d).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if d, ok := parseAgo(s); ok {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use RFC 3339 (2026-11-23T09:00:00Z), a UTC date (2026-11-23) or date and time (2026-11-23T09:00), or a duration before now (90m, 36h, 7d)", s)
}

// parseAgo reads a positive Go duration or a whole number of days ("7d").
func parseAgo(s string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 100*366 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, false
	}
	return d, true
}

func formatRFC(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
