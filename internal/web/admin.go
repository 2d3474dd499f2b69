package web

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vaktmfa/vakt/internal/jsonx"
	"github.com/vaktmfa/vakt/projections"
)

// The tenant dashboard: the TenantStats read model as numbers and inline
// SVG charts drawn here (no chart library, no script), each with a table of
// the same numbers for screen readers and keyboard users.

type dashData struct {
	Tenant string
	Stats  projections.TenantStats
	Days   []string // the days charted, oldest first
	// Charts, drawn server-side.
	Enrolments, Outcomes, Lockouts, Fraud template.HTML
	Methods                               []string
	Rows                                  []dayRow
}

type dayRow struct {
	Day          string
	Enrolments   []int // by Methods
	Succeeded    int
	Denied       int
	Fraud        int // challenges ended by a fraud report
	Expired      int
	Lockouts     int
	FraudReports int
}

// chartDays is how many days the charts cover.
const chartDays = 14

func (w *Web) dashboard(rw http.ResponseWriter, r *http.Request) {
	s := w.requireStaff(rw, r, false)
	if s == nil {
		return
	}
	if !s.Stats {
		w.fail(rw, r, http.StatusForbidden, "err.key_scope")
		return
	}
	w.touch(rw, s)
	var st projections.TenantStats
	b, ok, err := w.cfg.Stack.Views.Get(r.Context(), projections.NameTenantStats, projections.Key{Tenant: s.Tenant})
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	if ok {
		if err := jsonx.Unmarshal(b, &st); err != nil {
			w.log.ErrorContext(r.Context(), "web: stats read model", "err", err)
		}
	}
	st.Tenant = s.Tenant
	p := w.newPage(rw, r, "title.dashboard")
	p.Sess = s
	p.Data = buildDash(p, st, w.cfg.Now())
	w.render(p, http.StatusOK, "dashboard")
}

func buildDash(p *page, st projections.TenantStats, now time.Time) *dashData {
	d := &dashData{Tenant: st.Tenant, Stats: st}
	for i := chartDays - 1; i >= 0; i-- {
		d.Days = append(d.Days, now.UTC().AddDate(0, 0, -i).Format("2006-01-02"))
	}
	methods := map[string]bool{}
	for _, day := range st.Daily {
		for m := range day.Enrolments {
			methods[m] = true
		}
	}
	for m := range methods {
		d.Methods = append(d.Methods, m)
	}
	slices.Sort(d.Methods)
	var enrol, outcomes [][]int
	var locks, fraud []int
	for _, day := range d.Days {
		ds := st.Daily[day]
		c := ds.Challenges
		row := dayRow{Day: day, Succeeded: c.Succeeded, Denied: c.Denied, Fraud: c.FraudReported, Expired: c.Expired,
			Lockouts: ds.Lockouts, FraudReports: ds.FraudReports}
		var e []int
		for _, m := range d.Methods {
			e = append(e, ds.Enrolments[m])
		}
		row.Enrolments = e
		d.Rows = append(d.Rows, row)
		enrol = append(enrol, e)
		outcomes = append(outcomes, []int{row.Succeeded, row.Denied, row.Fraud, row.Expired})
		locks, fraud = append(locks, row.Lockouts), append(fraud, row.FraudReports)
	}
	labels := make([]string, len(d.Methods))
	for i, m := range d.Methods {
		labels[i] = p.T("method." + m)
	}
	d.Enrolments = stackedBars(p.T("chart.enrolments"), d.Days, d.Methods, labels, enrol)
	d.Outcomes = stackedBars(p.T("chart.outcomes"), d.Days, outcomeSeries,
		[]string{p.T("chart.succeeded"), p.T("chart.denied"), p.T("chart.fraud_ended"), p.T("chart.expired")}, outcomes)
	d.Lockouts = stackedBars(p.T("chart.lockouts"), d.Days, []string{"lockouts"}, []string{p.T("chart.lockouts_series")}, column(locks))
	d.Fraud = stackedBars(p.T("chart.fraud"), d.Days, []string{"fraud_reports"}, []string{p.T("chart.fraud_series")}, column(fraud))
	return d
}

// outcomeSeries name the outcome chart's series in its data-series
// attributes (the engine's outcome names).
var outcomeSeries = []string{"succeeded", "denied", "fraud_reported", "expired"}

func column(v []int) [][]int {
	out := make([][]int, len(v))
	for i, x := range v {
		out[i] = []int{x}
	}
	return out
}

// palette has colours with at least 3:1 contrast against white (WCAG 1.4.11
// non-text contrast), told apart also by the legend's order and the table.
var palette = []string{"#1f5fa8", "#b3261e", "#2e7d32", "#6a3d9a", "#8a5a00", "#00695c", "#444444"}

// stackedBars draws one bar per day, stacked by series, as an SVG with a
// title; values[i][j] is day i, series j. keys are the series' stable names:
// every bar segment carries data-day, data-series (a key) and data-value,
// so that a test (or a script) reads the figures without parsing text.
func stackedBars(title string, days, keys, series []string, values [][]int) template.HTML {
	const w, h, left, bottom, top = 560.0, 200.0, 36.0, 28.0, 10.0
	maxV := 1
	for _, row := range values {
		sum := 0
		for _, v := range row {
			sum += v
		}
		maxV = max(maxV, sum)
	}
	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" focusable="false" xmlns="http://www.w3.org/2000/svg">`, w, h+22*float64((len(series)+2)/3), esc(title))
	fmt.Fprintf(&b, `<title>%s</title>`, esc(title))
	plotH := h - bottom - top
	// Axis and the maximum.
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#444" />`, left, top, left, h-bottom)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#444" />`, left, h-bottom, w, h-bottom)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end" font-size="11" fill="#222">%d</text>`, left-4, top+8, maxV)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end" font-size="11" fill="#222">0</text>`, left-4, h-bottom)
	slot := (w - left - 8) / float64(len(days))
	for i, row := range values {
		x := left + 4 + float64(i)*slot
		y := h - bottom
		for j, v := range row {
			if v == 0 {
				continue
			}
			bh := plotH * float64(v) / float64(maxV)
			y -= bh
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" data-day="%s" data-series="%s" data-value="%d"><title>%s %s: %d</title></rect>`,
				x, y, slot*0.7, bh, palette[j%len(palette)], esc(days[i]), esc(keys[j]), v, esc(days[i]), esc(series[j]), v)
		}
		if i%2 == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="10" fill="#222">%s</text>`, x, h-bottom+14, esc(days[i][5:]))
		}
	}
	for j, name := range series {
		lx := left + float64(j%3)*170
		ly := h + 4 + float64(j/3)*20
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s" />`, lx, ly, palette[j%len(palette)])
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" fill="#222">%s</text>`, lx+16, ly+11, esc(name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
