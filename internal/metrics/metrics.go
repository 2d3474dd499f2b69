// Package metrics is a small Prometheus registry for `vakt serve`'s
// /metrics: counters, gauges and histograms with labels, written in the text
// exposition format 0.0.4. It exists so that the server needs no client
// library (and its dependencies) for the few dozen series it exposes.
//
// Metrics are registered once, at start-up; a bad name, a bad label or a
// name registered twice is a programming error and panics, as do label
// values that do not match the labels in number. Updates are lock-free
// atomics, and neither they nor With allocate once a label set exists. With
// still encodes and looks up its values (some tens of nanoseconds), so a hot
// path that always uses the same labels can keep the *Counter, *Gauge or
// *Histogram that With returns. Keep label values to a bounded set (routes
// and status codes, not user ids): each new label set copies its family's
// index.
//
//	reg := metrics.NewRegistry()
//	requests := reg.Counter("vakt_http_requests_total", "HTTP requests by route and status.", "route", "code")
//	latency := reg.Histogram("vakt_http_request_duration_seconds", "HTTP request latency.", metrics.DefBuckets, "route")
//	...
//	requests.With("verify", "200").Inc()
//	latency.With("verify").Observe(time.Since(start).Seconds())
//	...
//	mux.Handle("GET /metrics", reg.Handler())
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ContentType is the media type of the text exposition format 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// DefBuckets are histogram bounds, in seconds, for request latencies: from
// half a millisecond (a cached read) to ten seconds (a long-poll or a stuck
// dependency).
var DefBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Registry holds metrics and writes them out. It is safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]family
}

// family is one metric name with its HELP and TYPE and its series.
type family interface {
	// write writes the family; nothing if it has no series.
	write(w *bufio.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{families: map[string]family{}}
}

func (r *Registry) register(name string, f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.families[name]; dup {
		panic(fmt.Sprintf("metrics: %s registered twice", name))
	}
	r.families[name] = f
}

// Counter registers a counter: a value that only goes up (name it
// ..._total). With no labels, its single series is exposed at 0 from the
// start; with labels, a series appears at its first With.
func (r *Registry) Counter(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{newVec(name, help, "counter", labels, "", func() *Counter { return new(Counter) })}
	r.register(name, c)
	return c
}

// Gauge registers a gauge: a value that goes up and down.
func (r *Registry) Gauge(name, help string, labels ...string) *GaugeVec {
	g := &GaugeVec{newVec(name, help, "gauge", labels, "", func() *Gauge { return new(Gauge) })}
	r.register(name, g)
	return g
}

// GaugeFunc registers a gauge without labels whose value f returns at each
// scrape (a queue's length, open connections). f must be safe to call from
// any goroutine and quick.
func (r *Registry) GaugeFunc(name, help string, f func() float64) {
	r.register(name, &funcFamily{desc: newDesc(name, help, "gauge", nil, ""), f: f})
}

// CounterFunc registers a counter without labels whose value f returns at
// each scrape, for a total kept elsewhere (a NATS connection's statistics).
func (r *Registry) CounterFunc(name, help string, f func() float64) {
	r.register(name, &funcFamily{desc: newDesc(name, help, "counter", nil, ""), f: f})
}

// Histogram registers a histogram with the given upper bounds (ascending;
// the +Inf bucket is implied, and nil means [DefBuckets]). Name it after
// its unit (..._seconds) and observe in that unit.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *HistogramVec {
	if buckets == nil {
		buckets = DefBuckets
	}
	upper := checkBuckets(name, buckets)
	les := make([]string, len(upper)+1)
	for i, b := range upper {
		les[i] = formatFloat(b)
	}
	les[len(upper)] = "+Inf"
	h := &HistogramVec{
		v: newVec(name, help, "histogram", labels, "le", func() *Histogram {
			return &Histogram{upper: upper, counts: make([]atomic.Uint64, len(upper)+1)}
		}),
		les: les,
	}
	r.register(name, h)
	return h
}

func checkBuckets(name string, buckets []float64) []float64 {
	b := slices.Clone(buckets)
	if n := len(b); n > 0 && math.IsInf(b[n-1], +1) {
		b = b[:n-1]
	}
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) || (i > 0 && v <= b[i-1]) {
			panic(fmt.Sprintf("metrics: %s: buckets must be finite and strictly ascending: %v", name, buckets))
		}
	}
	return b
}

// WriteText writes every metric in the Prometheus text exposition format
// 0.0.4: families sorted by name, series by label values, so that two
// scrapes of the same state are byte for byte the same.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	names := make([]string, 0, len(r.families))
	for name := range r.families {
		names = append(names, name)
	}
	fams := make([]family, len(names))
	slices.Sort(names)
	for i, name := range names {
		fams[i] = r.families[name]
	}
	r.mu.Unlock()
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		f.write(bw)
	}
	return bw.Flush()
}

// Handler serves the registry for a Prometheus scrape.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		_ = r.WriteText(w) // a scraper gone away; nothing to do
	})
}

// desc is what a family is registered with.
type desc struct {
	name, help, typ string
	labels          []string
}

func newDesc(name, help, typ string, labels []string, reserved string) desc {
	if !validName(name, true) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	for i, l := range labels {
		if !validName(l, false) || strings.HasPrefix(l, "__") || l == reserved || slices.Contains(labels[:i], l) {
			panic(fmt.Sprintf("metrics: %s: invalid or repeated label name %q", name, l))
		}
	}
	return desc{name: name, help: help, typ: typ, labels: slices.Clone(labels)}
}

func (d *desc) writeHeader(w *bufio.Writer) {
	w.WriteString("# HELP ")
	w.WriteString(d.name)
	w.WriteByte(' ')
	w.WriteString(helpEscaper.Replace(strings.ToValidUTF8(d.help, "\uFFFD")))
	w.WriteString("\n# TYPE ")
	w.WriteString(d.name)
	w.WriteByte(' ')
	w.WriteString(d.typ)
	w.WriteByte('\n')
}

// validName checks a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or, without
// colons, a label name.
func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (colon && c == ':') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// vec is the series of one family, by label values.
type vec[T any] struct {
	desc
	newChild func() *T
	only     *T // the one series of a family without labels

	// children maps appendKey(values) to the series. The map is never
	// modified once published: add copies it, so that With finds an existing
	// series without a lock (a read lock's shared counter is what limits a
	// hot path on many cores). Families have few series, as Prometheus
	// advises, so the copies cost little.
	children atomic.Pointer[map[string]*series[T]]

	mu     sync.Mutex   // serialises add
	sorted []*series[T] // by values, for writing; guarded by mu
}

// series is one label set and its value.
type series[T any] struct {
	values []string
	labels string // `a="x",b="y"`, escaped, ready to write
	child  *T
}

func newVec[T any](name, help, typ string, labels []string, reserved string, newChild func() *T) *vec[T] {
	v := &vec[T]{desc: newDesc(name, help, typ, labels, reserved), newChild: newChild}
	children := map[string]*series[T]{}
	if len(labels) == 0 {
		v.only = newChild()
		s := &series[T]{child: v.only}
		children[""] = s
		v.sorted = []*series[T]{s}
	}
	v.children.Store(&children)
	return v
}

func (v *vec[T]) with(values []string) *T {
	if v.only != nil && len(values) == 0 {
		return v.only
	}
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s has labels %q, got %d values", v.name, v.labels, len(values)))
	}
	var buf [128]byte
	key := appendKey(buf[:0], values)
	s := (*v.children.Load())[string(key)] // no allocation: the compiler looks up with the bytes
	if s != nil {
		return s.child
	}
	return v.add(string(key), values)
}

func (v *vec[T]) add(key string, values []string) *T {
	v.mu.Lock()
	defer v.mu.Unlock()
	old := *v.children.Load()
	if s := old[key]; s != nil {
		return s.child
	}
	s := &series[T]{values: slices.Clone(values), child: v.newChild()}
	var b strings.Builder
	for i, l := range v.labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l)
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(strings.ToValidUTF8(values[i], "\uFFFD")))
		b.WriteByte('"')
	}
	s.labels = b.String()
	children := maps.Clone(old)
	children[key] = s
	v.children.Store(&children)
	i := sort.Search(len(v.sorted), func(i int) bool { return slices.Compare(v.sorted[i].values, s.values) > 0 })
	v.sorted = slices.Insert(v.sorted, i, s)
	return s.child
}

// snapshot returns the series in order; the slice is the caller's.
func (v *vec[T]) snapshot() []*series[T] {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.sorted)
}

// appendKey encodes label values unambiguously: each value's length, then
// its bytes.
func appendKey(b []byte, values []string) []byte {
	for _, s := range values {
		b = strconv.AppendUint(b, uint64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	return b
}

// writeSample writes `name{labels,extra} value`; the braces only if there
// are labels.
func writeSample(w *bufio.Writer, name, suffix, labels, extra, value string) {
	w.WriteString(name)
	w.WriteString(suffix)
	if labels != "" || extra != "" {
		w.WriteByte('{')
		w.WriteString(labels)
		if labels != "" && extra != "" {
			w.WriteByte(',')
		}
		w.WriteString(extra)
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(value)
	w.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, +1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// addFloat adds d to the float64 whose bits are in u.
func addFloat(u *atomic.Uint64, d float64) {
	for {
		old := u.Load()
		if u.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// CounterVec is a counter family; With picks a series.
type CounterVec struct{ v *vec[Counter] }

// With returns the series for the given label values, in the order the
// labels were registered, creating it at 0 the first time.
func (c *CounterVec) With(values ...string) *Counter { return c.v.with(values) }

func (c *CounterVec) write(w *bufio.Writer) {
	ss := c.v.snapshot()
	if len(ss) == 0 {
		return
	}
	c.v.writeHeader(w)
	for _, s := range ss {
		writeSample(w, c.v.name, "", s.labels, "", formatFloat(s.child.Value()))
	}
}

// Counter is one counter series.
type Counter struct {
	n    atomic.Uint64 // whole increments, the usual case: one atomic add
	bits atomic.Uint64 // float64 bits of fractional additions
}

// Inc adds 1.
func (c *Counter) Inc() { c.n.Add(1) }

// Add adds v, which must not be negative or NaN (a counter only goes up).
func (c *Counter) Add(v float64) {
	if v < 0 || math.IsNaN(v) {
		panic(fmt.Sprintf("metrics: counter Add(%v): a counter only goes up", v))
	}
	if v < 1<<53 && v == math.Trunc(v) {
		c.n.Add(uint64(v))
		return
	}
	addFloat(&c.bits, v)
}

// Value returns the current value.
func (c *Counter) Value() float64 {
	return float64(c.n.Load()) + math.Float64frombits(c.bits.Load())
}

// GaugeVec is a gauge family; With picks a series.
type GaugeVec struct{ v *vec[Gauge] }

// With returns the series for the given label values, creating it at 0 the
// first time.
func (g *GaugeVec) With(values ...string) *Gauge { return g.v.with(values) }

func (g *GaugeVec) write(w *bufio.Writer) {
	ss := g.v.snapshot()
	if len(ss) == 0 {
		return
	}
	g.v.writeHeader(w)
	for _, s := range ss {
		writeSample(w, g.v.name, "", s.labels, "", formatFloat(s.child.Value()))
	}
}

// Gauge is one gauge series.
type Gauge struct{ bits atomic.Uint64 }

// Set sets the value.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Add adds v (which may be negative).
func (g *Gauge) Add(v float64) { addFloat(&g.bits, v) }

// Inc adds 1.
func (g *Gauge) Inc() { g.Add(1) }

// Dec subtracts 1.
func (g *Gauge) Dec() { g.Add(-1) }

// Value returns the current value.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }

// funcFamily is a GaugeFunc or CounterFunc.
type funcFamily struct {
	desc
	f func() float64
}

func (f *funcFamily) write(w *bufio.Writer) {
	f.writeHeader(w)
	writeSample(w, f.name, "", "", "", formatFloat(f.f()))
}

// HistogramVec is a histogram family; With picks a series.
type HistogramVec struct {
	v   *vec[Histogram]
	les []string // formatted upper bounds, "+Inf" last
}

// With returns the series for the given label values, creating it empty the
// first time.
func (h *HistogramVec) With(values ...string) *Histogram { return h.v.with(values) }

func (h *HistogramVec) write(w *bufio.Writer) {
	ss := h.v.snapshot()
	if len(ss) == 0 {
		return
	}
	h.v.writeHeader(w)
	var num []byte
	for _, s := range ss {
		// The count is the sum of the buckets as read here, so that the
		// +Inf bucket and _count always agree; _sum may lag an observation
		// that is under way.
		var cum uint64
		for i, le := range h.les {
			cum += s.child.counts[i].Load()
			num = strconv.AppendUint(num[:0], cum, 10)
			writeSample(w, h.v.name, "_bucket", s.labels, `le="`+le+`"`, string(num))
		}
		writeSample(w, h.v.name, "_sum", s.labels, "", formatFloat(math.Float64frombits(s.child.sum.Load())))
		writeSample(w, h.v.name, "_count", s.labels, "", string(num))
	}
}

// Histogram is one histogram series.
type Histogram struct {
	upper  []float64       // bucket upper bounds, without +Inf
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomic.Uint64   // float64 bits
}

// Observe records v (in the histogram's unit, usually seconds).
func (h *Histogram) Observe(v float64) {
	// The first bucket whose upper bound is >= v; len(upper), +Inf, for a
	// larger v or NaN.
	lo, hi := 0, len(h.upper)
	if math.IsNaN(v) {
		lo = hi
	}
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if h.upper[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	h.counts[lo].Add(1)
	addFloat(&h.sum, v)
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Sum returns the sum of the observations.
func (h *Histogram) Sum() float64 { return math.Float64frombits(h.sum.Load()) }
