package app

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/metrics"
	"github.com/vaktmfa/vakt/internal/natsviews"
	"github.com/vaktmfa/vakt/internal/stack"
)

// meters are the series `vakt serve` exposes at /metrics.
type meters struct {
	reg              *metrics.Registry
	requests         *metrics.CounterVec
	latency          *metrics.HistogramVec
	appended         *metrics.CounterVec
	outcomes         *metrics.CounterVec
	lockouts         *metrics.Counter
	appendLatency    *metrics.Histogram
	projectionLag    *metrics.GaugeVec
	checkpointLag    *metrics.GaugeVec
	deliveryFailures *metrics.CounterVec
}

// appendBuckets resolve the append latency more finely than requests: an
// append is one fsync'ed group commit, a millisecond or so.
var appendBuckets = []float64{0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// outcomeOf maps the events that end a challenge to the outcome label.
var outcomeOf = map[string]string{
	"challenge.succeeded":      "succeeded",
	"challenge.skipped":        "skipped",
	"challenge.denied":         "denied",
	"challenge.fraud_reported": "fraud_reported",
	"challenge.expired":        "expired",
	"challenge.attempt_failed": "attempt_failed",
}

func newMeters(st *stack.Stack) *meters {
	reg := metrics.NewRegistry()
	m := &meters{
		reg:      reg,
		requests: reg.Counter("vakt_http_requests_total", "HTTP requests by route and status code.", "route", "code"),
		latency:  reg.Histogram("vakt_http_request_duration_seconds", "HTTP request latency by route (long polls included).", metrics.DefBuckets, "route"),
		appended: reg.Counter("vakt_events_appended_total", "Events appended to the event stream, by type.", "type"),
		outcomes: reg.Counter("vakt_challenge_outcomes_total", "Sign-in challenge outcomes (attempt_failed counts wrong codes).", "outcome"),
		lockouts: reg.Counter("vakt_lockouts_total", "Users locked out after too many failed attempts.").With(),
		appendLatency: reg.Histogram("vakt_append_duration_seconds", "Latency of appends to the event store (one command's events).",
			appendBuckets).With(),
		projectionLag:    reg.Gauge("vakt_projection_lag_events", "Events stored but not yet folded into each read model: how stale its answers are (read at scrape time).", "projection"),
		checkpointLag:    reg.Gauge("vakt_projection_checkpoint_lag_events", "Events stored after each read model's last checkpoint in KV: what a restart folds again.", "projection"),
		deliveryFailures: reg.Counter("vakt_code_delivery_failures_total", "Codes that could not be delivered after retries, by method.", "method"),
	}
	reg.GaugeFunc("vakt_event_stream_position", "The last position of the event stream.", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		pos, err := st.Store.LastPosition(ctx)
		if err != nil {
			return -1
		}
		return float64(pos)
	})
	// The group committer: appends per commit is how well group commit
	// works; a commit of more than one append is a JetStream atomic batch.
	reg.CounterFunc("vakt_store_appends_total", "Appends (one command's events each) committed by the event store's group committer.", func() float64 {
		return float64(st.Store.Stats().Appends)
	})
	reg.CounterFunc("vakt_store_commits_total", "Commits of the group committer (a plain publish or an atomic batch).", func() float64 {
		return float64(st.Store.Stats().Groups)
	})
	reg.CounterFunc("vakt_store_batches_total", "Commits written as JetStream atomic batches.", func() float64 {
		return float64(st.Store.Stats().Batches)
	})
	reg.CounterFunc("vakt_store_pipelined_total", "Commits written as one-event publishes in flight together.", func() float64 {
		return float64(st.Store.Stats().Pipelined)
	})
	return m
}

// Request implements server.Metrics.
func (m *meters) Request(route string, status int, d time.Duration) {
	m.requests.With(route, strconv.Itoa(status)).Inc()
	m.latency.With(route).Observe(d.Seconds())
}

// Events implements server.Metrics: types are the event types one command
// appended.
func (m *meters) Events(types []string) {
	for _, t := range types {
		m.appended.With(t).Inc()
		if o, ok := outcomeOf[t]; ok {
			m.outcomes.With(o).Inc()
		}
		if t == "user.locked_out" {
			m.lockouts.Inc()
		}
	}
}

// handler serves /metrics, reading the read models' lag first.
func (m *meters) handler(st *stack.Stack) http.Handler {
	reg := m.reg.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		end, err := st.Store.LastPosition(ctx)
		var status []natsviews.Status
		if err == nil {
			status, err = st.Views.Status(ctx)
		}
		cancel()
		if err == nil {
			for _, s := range status {
				m.projectionLag.With(s.Name).Set(float64(end - min(end, s.Applied)))
				m.checkpointLag.With(s.Name).Set(float64(s.Lag))
			}
		}
		reg.ServeHTTP(w, r)
	})
}

// timedStore times appends.
type timedStore struct {
	events.Store
	h *metrics.Histogram
}

func (s timedStore) Append(ctx context.Context, st events.Stream, expected events.Head, recs []events.Record) (events.AppendResult, error) {
	start := time.Now()
	res, err := s.Store.Append(ctx, st, expected, recs)
	s.h.Observe(time.Since(start).Seconds())
	return res, err
}
