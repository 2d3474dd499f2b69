package metrics_test

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vaktmfa/vakt/internal/metrics"
)

func text(t *testing.T, r *metrics.Registry) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	parse(t, b.String())
	return b.String()
}

func TestGolden(t *testing.T) {
	r := metrics.NewRegistry()
	req := r.Counter("vakt_http_requests_total", "HTTP requests.", "route", "code")
	req.With("verify", "200").Add(3)
	req.With("enrol", "201").Inc()
	req.With("verify", "401").Inc()
	r.Counter("vakt_unused_total", "Never used, so not written.", "x")
	r.Counter("vakt_starts_total", "Starts.")
	r.Gauge("vakt_inflight", "Requests in flight.").With().Set(2.5)
	r.GaugeFunc("vakt_queue_length", "Messages waiting.", func() float64 { return 7 })
	r.CounterFunc("vakt_nats_in_msgs_total", "Messages received.", func() float64 { return 1e6 })
	h := r.Histogram("vakt_latency_seconds", "Latency.", []float64{0.1, 0.5, 1}, "route")
	h.With("verify").Observe(0.0625)
	h.With("verify").Observe(0.5) // on a bound: counted in that bucket (le)
	h.With("verify").Observe(2)
	h.With("enrol").Observe(0.25)
	r.Counter("a_first_total", "Sorted first.").With().Add(0.5)

	const want = `# HELP a_first_total Sorted first.
# TYPE a_first_total counter
a_first_total 0.5
# HELP vakt_http_requests_total HTTP requests.
# TYPE vakt_http_requests_total counter
vakt_http_requests_total{route="enrol",code="201"} 1
vakt_http_requests_total{route="verify",code="200"} 3
vakt_http_requests_total{route="verify",code="401"} 1
# HELP vakt_inflight Requests in flight.
# TYPE vakt_inflight gauge
vakt_inflight 2.5
# HELP vakt_latency_seconds Latency.
# TYPE vakt_latency_seconds histogram
vakt_latency_seconds_bucket{route="enrol",le="0.1"} 0
vakt_latency_seconds_bucket{route="enrol",le="0.5"} 1
vakt_latency_seconds_bucket{route="enrol",le="1"} 1
vakt_latency_seconds_bucket{route="enrol",le="+Inf"} 1
vakt_latency_seconds_sum{route="enrol"} 0.25
vakt_latency_seconds_count{route="enrol"} 1
vakt_latency_seconds_bucket{route="verify",le="0.1"} 1
vakt_latency_seconds_bucket{route="verify",le="0.5"} 2
vakt_latency_seconds_bucket{route="verify",le="1"} 2
vakt_latency_seconds_bucket{route="verify",le="+Inf"} 3
vakt_latency_seconds_sum{route="verify"} 2.5625
vakt_latency_seconds_count{route="verify"} 3
# HELP vakt_nats_in_msgs_total Messages received.
# TYPE vakt_nats_in_msgs_total counter
vakt_nats_in_msgs_total 1e+06
# HELP vakt_queue_length Messages waiting.
# TYPE vakt_queue_length gauge
vakt_queue_length 7
# HELP vakt_starts_total Starts.
# TYPE vakt_starts_total counter
vakt_starts_total 0
`
	if got := text(t, r); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := text(t, r); got != want {
		t.Error("a second scrape of the same state differs")
	}
}

func TestDefBuckets(t *testing.T) {
	r := metrics.NewRegistry()
	r.Histogram("d_seconds", "d", nil).With().Observe(0.003)
	out := text(t, r)
	for _, le := range []string{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"} {
		if !strings.Contains(out, `d_seconds_bucket{le="`+le+`"}`) {
			t.Errorf("no bucket le=%q in\n%s", le, out)
		}
	}
	if !strings.Contains(out, `d_seconds_bucket{le="0.0025"} 0`) || !strings.Contains(out, `d_seconds_bucket{le="0.005"} 1`) {
		t.Errorf("0.003 in the wrong bucket:\n%s", out)
	}
	if metrics.DefBuckets[0] != 0.0005 || metrics.DefBuckets[len(metrics.DefBuckets)-1] != 10 {
		t.Errorf("DefBuckets = %v", metrics.DefBuckets)
	}
}

func TestEscaping(t *testing.T) {
	r := metrics.NewRegistry()
	r.Counter("esc_total", "Help with a back\\slash\nand a new line.", "v").With("a\\b\"c\nd\xffe").Inc()
	got := text(t, r)
	want := `# HELP esc_total Help with a back\\slash\nand a new line.
# TYPE esc_total counter
esc_total{v="a\\b\"c\nd` + "\uFFFD" + `e"} 1
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	fams := parse(t, got)
	if v := fams["esc_total"].samples[0].labels["v"]; v != "a\\b\"c\nd\uFFFDe" {
		t.Errorf("label value read back as %q", v)
	}
}

// Label values that would collide if they were simply joined stay apart.
func TestLabelKeyUnambiguous(t *testing.T) {
	r := metrics.NewRegistry()
	c := r.Counter("k_total", "k", "a", "b")
	c.With("x,y", "z").Inc()
	c.With("x", "y,z").Add(2)
	c.With("1:x", "").Add(3)
	c.With("", "1:x").Add(4)
	if a, b := c.With("x,y", "z").Value(), c.With("x", "y,z").Value(); a != 1 || b != 2 {
		t.Errorf("values %v, %v", a, b)
	}
	if a, b := c.With("1:x", "").Value(), c.With("", "1:x").Value(); a != 3 || b != 4 {
		t.Errorf("values %v, %v", a, b)
	}
	if n := len(parse(t, text(t, r))["k_total"].samples); n != 4 {
		t.Errorf("%d series, want 4", n)
	}
}

func TestSpecialValues(t *testing.T) {
	r := metrics.NewRegistry()
	g := r.Gauge("g", "g", "k")
	g.With("inf").Set(math.Inf(1))
	g.With("neginf").Set(math.Inf(-1))
	g.With("nan").Set(math.NaN())
	g.With("small").Set(1e-9)
	g.With("neg").Add(-3)
	h := r.Histogram("h", "h", []float64{1, math.Inf(1)}) // a trailing +Inf is implied anyway
	h.With().Observe(math.NaN())
	h.With().Observe(math.Inf(-1))
	out := text(t, r)
	for _, want := range []string{`g{k="inf"} +Inf`, `g{k="neginf"} -Inf`, `g{k="nan"} NaN`, `g{k="small"} 1e-09`, `g{k="neg"} -3`,
		`h_bucket{le="1"} 1`, `h_bucket{le="+Inf"} 2`, `h_sum NaN`, `h_count 2`} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("%q missing from\n%s", want, out)
		}
	}
}

func TestCounterAndGauge(t *testing.T) {
	r := metrics.NewRegistry()
	c := r.Counter("c_total", "c").With()
	c.Inc()
	c.Add(2)
	c.Add(0.25)
	c.Add(1e300) // beyond the integer path
	if c.Value() != 3.25+1e300 {
		t.Errorf("counter = %v", c.Value())
	}
	g := r.Gauge("g", "g").With()
	g.Set(10)
	g.Add(-2.5)
	g.Inc()
	g.Dec()
	g.Dec()
	if g.Value() != 6.5 {
		t.Errorf("gauge = %v", g.Value())
	}
}

func TestPanics(t *testing.T) {
	for name, f := range map[string]func(r *metrics.Registry){
		"twice":             func(r *metrics.Registry) { r.Counter("x_total", ""); r.Gauge("x_total", "") },
		"bad name":          func(r *metrics.Registry) { r.Counter("1x", "") },
		"name with dash":    func(r *metrics.Registry) { r.Counter("x-y", "") },
		"empty name":        func(r *metrics.Registry) { r.GaugeFunc("", "", func() float64 { return 0 }) },
		"bad label":         func(r *metrics.Registry) { r.Counter("x", "", "a:b") },
		"reserved label":    func(r *metrics.Registry) { r.Counter("x", "", "__name") },
		"repeated label":    func(r *metrics.Registry) { r.Counter("x", "", "a", "a") },
		"le on histogram":   func(r *metrics.Registry) { r.Histogram("x", "", nil, "le") },
		"too few values":    func(r *metrics.Registry) { r.Counter("x", "", "a", "b").With("1") },
		"too many values":   func(r *metrics.Registry) { r.Counter("x", "").With("1") },
		"negative add":      func(r *metrics.Registry) { r.Counter("x", "").With().Add(-1) },
		"NaN add":           func(r *metrics.Registry) { r.Counter("x", "").With().Add(math.NaN()) },
		"unsorted buckets":  func(r *metrics.Registry) { r.Histogram("x", "", []float64{1, 0.5}) },
		"repeated buckets":  func(r *metrics.Registry) { r.Histogram("x", "", []float64{1, 1}) },
		"NaN bucket":        func(r *metrics.Registry) { r.Histogram("x", "", []float64{math.NaN()}) },
		"-Inf bucket":       func(r *metrics.Registry) { r.Histogram("x", "", []float64{math.Inf(-1), 1}) },
		"histogram wrong n": func(r *metrics.Registry) { r.Histogram("x", "", nil, "a").With() },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f(metrics.NewRegistry())
		}()
	}
	// "le" is fine on a counter; colons are fine in metric names.
	r := metrics.NewRegistry()
	r.Counter("job:x_total", "", "le").With("1").Inc()
	parse(t, text(t, r))
}

func TestBucketsCopied(t *testing.T) {
	b := []float64{1, 2}
	r := metrics.NewRegistry()
	h := r.Histogram("h", "h", b)
	b[0] = 100
	h.With().Observe(1.5)
	if out := text(t, r); !strings.Contains(out, `h_bucket{le="1"} 0`) || !strings.Contains(out, `h_bucket{le="2"} 1`) {
		t.Errorf("the caller's bucket slice was kept:\n%s", out)
	}
}

func TestHandler(t *testing.T) {
	r := metrics.NewRegistry()
	r.Counter("x_total", "x").With().Inc()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if body := rec.Body.String(); !strings.Contains(body, "x_total 1\n") {
		t.Errorf("body = %q", body)
	}
}

// Many goroutines update, add series and scrape at once; the totals must be
// exact and every scrape well-formed.
func TestConcurrent(t *testing.T) {
	r := metrics.NewRegistry()
	c := r.Counter("c_total", "c", "worker", "kind")
	g := r.Gauge("g", "g", "worker")
	h := r.Histogram("h_seconds", "h", metrics.DefBuckets, "worker")
	plain := r.Counter("plain_total", "p")
	const workers, n = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		id := strconv.Itoa(w % 4) // two goroutines share each label set
		wg.Go(func() {
			for i := range n {
				c.With(id, "a").Inc()
				c.With(id, strconv.Itoa(i%5)).Add(0.5)
				g.With(id).Add(1)
				h.With(id).Observe(float64(i%100) / 1000)
				plain.With().Inc()
			}
		})
	}
	stop := make(chan struct{})
	var scrapes sync.WaitGroup
	scrapes.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				text(t, r)
			}
		}
	})
	wg.Wait()
	close(stop)
	scrapes.Wait()

	fams := parse(t, text(t, r))
	if v := plain.With().Value(); v != workers*n {
		t.Errorf("plain = %v, want %v", v, workers*n)
	}
	var totalA, totalHalf, gauge, count float64
	for _, s := range fams["c_total"].samples {
		if s.labels["kind"] == "a" {
			totalA += s.value
		} else {
			totalHalf += s.value
		}
	}
	for _, s := range fams["g"].samples {
		gauge += s.value
	}
	for _, s := range fams["h_seconds"].samples {
		if s.name == "h_seconds_count" {
			count += s.value
		}
	}
	if totalA != workers*n || totalHalf != workers*n/2 || gauge != workers*n || count != workers*n {
		t.Errorf("counter a %v, counter halves %v, gauge %v, histogram count %v; want %v, %v, %v, %v",
			totalA, totalHalf, gauge, count, workers*n, workers*n/2, workers*n, workers*n)
	}
	if n := len(fams["c_total"].samples); n != 4*6 {
		t.Errorf("%d counter series, want 24", n)
	}
}

func TestNoAllocations(t *testing.T) {
	r := metrics.NewRegistry()
	c := r.Counter("c_total", "c", "route", "code")
	h := r.Histogram("h_seconds", "h", metrics.DefBuckets, "route")
	p := r.Counter("p_total", "p")
	g := r.Gauge("g", "g", "k")
	c.With("verify", "200").Inc()
	h.With("verify").Observe(0.1)
	g.With("x").Set(1)
	for name, f := range map[string]func(){
		"counter With.Inc":       func() { c.With("verify", "200").Inc() },
		"counter With.Add":       func() { c.With("verify", "200").Add(0.5) },
		"histogram With.Observe": func() { h.With("verify").Observe(0.003) },
		"gauge With.Add":         func() { g.With("x").Add(1) },
		"plain counter":          func() { p.With().Inc() },
	} {
		if a := testing.AllocsPerRun(1000, f); a != 0 {
			t.Errorf("%s: %v allocations per call", name, a)
		}
	}
}

func BenchmarkCounterInc(b *testing.B) {
	c := metrics.NewRegistry().Counter("c_total", "c").With()
	for b.Loop() {
		c.Inc()
	}
}

func BenchmarkCounterWithInc(b *testing.B) {
	c := metrics.NewRegistry().Counter("c_total", "c", "route", "code")
	b.ReportAllocs()
	for b.Loop() {
		c.With("verify", "200").Inc()
	}
}

func BenchmarkCounterWithIncParallel(b *testing.B) {
	c := metrics.NewRegistry().Counter("c_total", "c", "route", "code")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.With("verify", "200").Inc()
		}
	})
}

func BenchmarkHistogramObserve(b *testing.B) {
	h := metrics.NewRegistry().Histogram("h_seconds", "h", metrics.DefBuckets).With()
	for b.Loop() {
		h.Observe(0.003)
	}
}

func BenchmarkHistogramWithObserve(b *testing.B) {
	h := metrics.NewRegistry().Histogram("h_seconds", "h", metrics.DefBuckets, "route")
	b.ReportAllocs()
	for b.Loop() {
		h.With("verify").Observe(0.003)
	}
}

func BenchmarkHistogramWithObserveParallel(b *testing.B) {
	h := metrics.NewRegistry().Histogram("h_seconds", "h", metrics.DefBuckets, "route")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.With("verify").Observe(0.003)
		}
	})
}

func BenchmarkWriteText(b *testing.B) {
	r := metrics.NewRegistry()
	c := r.Counter("c_total", "c", "route", "code")
	h := r.Histogram("h_seconds", "h", metrics.DefBuckets, "route")
	for i := range 20 {
		c.With(fmt.Sprint("route", i), "200").Inc()
		h.With(fmt.Sprint("route", i)).Observe(0.01)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		r.WriteText(&buf)
	}
}
