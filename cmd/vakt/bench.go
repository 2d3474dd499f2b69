package main

// vakt bench: a load generator for sign-ins (a challenge and its
// verification) against `vakt serve`, in this process or at --url.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/apikeys"
	vaktapp "github.com/vaktmfa/vakt/internal/app"
)

// The target of issue 4: sustained durable sign-ins at this rate, with the
// 99th percentile of a whole sign-in under this latency.
const (
	benchTargetRate = 2000.0
	benchTargetP99  = 25 * time.Millisecond
)

type benchOpts struct {
	url, key, data, tenant string
	noSync, json           bool
	engine                 string
	wasmInterrupt          bool
	duration, warmup       time.Duration
	concurrency, users     int
	cpuProfile             string
}

func benchFlags(fs *flag.FlagSet) func(context.Context, *cmdEnv) error {
	var o benchOpts
	fs.StringVar(&o.url, "url", "", "load the Vakt server at `url` (e.g. http://127.0.0.1:8080) instead of starting one in this process")
	fs.StringVar(&o.key, "key", "", "with --url: an admin, tenant_admin or relying_party API `key` for --tenant (default $"+apikeys.EnvVar+")")
	fs.StringVar(&o.data, "data", "", "without --url: keep the in-process server's data in `directory` (default a new temporary directory, removed afterwards)")
	fs.BoolVar(&o.noSync, "no-sync", false, "without --url: do not fsync appends (not durable; the result does not count against the target)")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "measure for `d`")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "run the load for `d` before measuring (not counted)")
	fs.IntVar(&o.concurrency, "concurrency", 64, "`n` workers, each signing in its own users one after the other")
	fs.IntVar(&o.users, "users", 200, "enrol `n` users (HOTP), spread over the workers")
	fs.StringVar(&o.tenant, "tenant", "bench.example", "the `tenant` of the bench users")
	fs.BoolVar(&o.json, "json", false, "write the result as JSON")
	fs.StringVar(&o.engine, "engine", "native", "without --url: the in-process server decides with the `native` engine or in the core WebAssembly module (wasm)")
	fs.BoolVar(&o.wasmInterrupt, "wasm-interrupt", false, "with --engine=wasm: keep wazero's interrupt checks on (see vakt serve)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured phase (server and load generator, when in process) to `file`")
	return func(ctx context.Context, env *cmdEnv) error {
		if len(env.args) > 0 {
			return usagef("unexpected argument %q", env.args[0])
		}
		switch {
		case o.duration <= 0:
			return usagef("--duration must be positive")
		case o.warmup < 0:
			return usagef("--warmup must not be negative")
		case o.concurrency < 1:
			return usagef("--concurrency must be at least 1")
		case o.users < o.concurrency:
			return usagef("--users (%d) must be at least --concurrency (%d): each worker signs in users of its own", o.users, o.concurrency)
		case o.tenant == "":
			return usagef("--tenant is empty")
		case o.url != "" && o.data != "":
			return usagef("--data is for the in-process server; with --url there is none")
		case o.url != "" && o.noSync:
			return usagef("--no-sync is for the in-process server; with --url the server decides")
		case o.engine != "native" && o.engine != "wasm":
			return usagef("--engine must be native or wasm")
		case o.url != "" && o.engine != "native":
			return usagef("--engine is for the in-process server; with --url the server decides")
		case o.wasmInterrupt && o.engine != "wasm":
			return usagef("--wasm-interrupt needs --engine=wasm")
		case o.url == "" && o.key != "":
			return usagef("--key is for --url; the in-process server uses its own admin key")
		}
		if o.url != "" {
			u, err := url.Parse(o.url)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usagef("--url must be an http:// or https:// URL")
			}
			o.url = strings.TrimRight(o.url, "/")
			if o.key == "" {
				o.key = strings.TrimSpace(os.Getenv(apikeys.EnvVar))
			}
			if o.key == "" {
				return usagef("--url needs an API key: --key or $%s", apikeys.EnvVar)
			}
		}
		return runBench(ctx, env, o)
	}
}

// benchResult is what a run measured; --json writes it as it is.
type benchResult struct {
	Server      string  `json:"server"` // "in-process" or the URL
	Durable     *bool   `json:"durable,omitempty"`
	Engine      string  `json:"engine,omitempty"` // in-process: native or wasm
	Interrupt   *bool   `json:"wasm_interrupt,omitempty"`
	DataDir     string  `json:"data_dir,omitempty"`
	CPUs        int     `json:"cpus"` // GOMAXPROCS of this process
	Tenant      string  `json:"tenant"`
	Users       int     `json:"users"`
	Concurrency int     `json:"concurrency"`
	Warmup      float64 `json:"warmup_s"`
	Duration    float64 `json:"duration_s"`

	Setup struct {
		Users       int     `json:"users"`
		Concurrency int     `json:"concurrency"`
		Seconds     float64 `json:"seconds"`
	} `json:"setup"`

	WarmupSignIns int `json:"warmup_sign_ins"`
	WarmupErrors  int `json:"warmup_errors"`

	// Elapsed is the measured time: from the end of the warm-up until the
	// last sign-in begun before the end has finished.
	Elapsed     float64           `json:"elapsed_s"`
	SignIns     int               `json:"sign_ins"`
	Rate        float64           `json:"sign_ins_per_s"`
	Errors      int               `json:"errors"`
	ErrorKinds  map[string]int    `json:"error_kinds,omitempty"`
	ErrorSample map[string]string `json:"error_samples,omitempty"`

	Latency struct {
		SignIn    benchPercentiles `json:"sign_in"`
		Challenge benchPercentiles `json:"challenge"`
		Verify    benchPercentiles `json:"verify"`
	} `json:"latency_ms"`

	// Store is what the in-process server's group committer did during
	// the measured time: appends per commit is how well group commit
	// worked (a commit of more than one append is an atomic batch).
	Store *benchStore `json:"store,omitempty"`

	Target struct {
		Rate      float64 `json:"sign_ins_per_s"`
		P99       float64 `json:"p99_ms"`
		RateRatio float64 `json:"rate_ratio"` // measured / target: at least 1 to meet
		P99Ratio  float64 `json:"p99_ratio"`  // measured / limit: under 1 to meet
		RateMet   bool    `json:"rate_met"`
		P99Met    bool    `json:"p99_met"`
		Met       bool    `json:"met"` // both, durable and without errors
	} `json:"target"`
}

type benchStore struct {
	Appends          int64   `json:"appends"`
	Commits          int64   `json:"commits"`
	Batches          int64   `json:"atomic_batches"`
	Pipelined        int64   `json:"pipelined"`
	AppendsPerCommit float64 `json:"appends_per_commit"`
	CommitsPerSecond float64 `json:"commits_per_s"`
}

// benchPercentiles are latencies in milliseconds, by nearest rank over every
// sample (nothing is sampled away).
type benchPercentiles struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

func percentiles(d []time.Duration) benchPercentiles {
	if len(d) == 0 {
		return benchPercentiles{}
	}
	slices.Sort(d)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		i = min(max(i, 0), len(d)-1)
		return ms(d[i])
	}
	return benchPercentiles{N: len(d), P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999), Max: ms(d[len(d)-1])}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func runBench(ctx context.Context, env *cmdEnv, o benchOpts) (err error) {
	progress := func(format string, args ...any) {
		if !o.json {
			fmt.Fprintf(env.stderr, format+"\n", args...)
		}
	}
	res := &benchResult{Tenant: o.tenant, Users: o.users, Concurrency: o.concurrency, CPUs: runtime.GOMAXPROCS(0),
		Warmup: o.warmup.Seconds(), Duration: o.duration.Seconds()}
	base, key := o.url, o.key
	var storeStats func() natsstore.Stats
	if base == "" {
		res.Server = "in-process"
		durable := !o.noSync
		res.Durable = &durable
		res.Engine = o.engine
		if o.engine == "wasm" {
			res.Interrupt = &o.wasmInterrupt
		}
		stop, stats, err := benchServe(ctx, &o, res)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stop()) }()
		base, key, storeStats = o.url, o.key, stats
	} else {
		res.Server = base
	}

	client := &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        o.concurrency + 16,
			MaxIdleConnsPerHost: o.concurrency + 16,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout: 30 * time.Second,
	}
	defer client.CloseIdleConnections()
	b := &bencher{client: client, key: "Bearer " + key, run: benchRunID()}
	tenantURL := base + "/v1/tenants/" + url.PathEscape(o.tenant)

	// Setup: enrol and confirm every user, a few at a time.
	progress("vakt bench: enrolling %d users (HOTP) in %s ...", o.users, o.tenant)
	users := make([]*benchUser, o.users)
	for i := range users {
		id := fmt.Sprintf("bench-%s-%05d", b.run, i)
		users[i] = &benchUser{id: id, userURL: tenantURL + "/users/" + url.PathEscape(id), tenantURL: tenantURL}
	}
	res.Setup.Users, res.Setup.Concurrency = o.users, min(o.concurrency, 16)
	start := time.Now()
	if err := b.setup(ctx, users, res.Setup.Concurrency); err != nil {
		return err
	}
	res.Setup.Seconds = time.Since(start).Seconds()

	// The load: worker w signs in users w, w+c, w+2c, ... in turn, so that a
	// user's flows never overlap and its HOTP counter stays in order.
	progress("vakt bench: %d workers; warming up for %s, then measuring for %s ...", o.concurrency, o.warmup, o.duration)
	workers := make([]*benchWorker, o.concurrency)
	for w := range workers {
		bw := &benchWorker{b: b, errors: map[string]int{}, samples: map[string]string{}}
		for i := w; i < len(users); i += o.concurrency {
			bw.users = append(bw.users, users[i])
		}
		// Enough room for about 200 sign-ins/s per worker, so the
		// measurement rarely grows a slice.
		n := int(o.duration.Seconds()*200/float64(o.concurrency)) + 64
		bw.signIn, bw.challenge, bw.verify = make([]time.Duration, 0, n), make([]time.Duration, 0, n), make([]time.Duration, 0, n)
		workers[w] = bw
	}
	t0 := time.Now()
	measureFrom, measureTo := t0.Add(o.warmup), t0.Add(o.warmup+o.duration)
	var profErr error
	profDone := make(chan struct{})
	if o.cpuProfile != "" {
		go func() {
			defer close(profDone)
			select {
			case <-time.After(time.Until(measureFrom)):
			case <-ctx.Done():
				return
			}
			f, err := os.Create(o.cpuProfile)
			if err != nil {
				profErr = err
				return
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				profErr = err
				return
			}
			select {
			case <-time.After(time.Until(measureTo)):
			case <-ctx.Done():
			}
			pprof.StopCPUProfile()
			profErr = f.Close()
		}()
	} else {
		close(profDone)
	}
	var before natsstore.Stats
	if storeStats != nil {
		go func() {
			select {
			case <-time.After(time.Until(measureFrom)):
				before = storeStats()
			case <-ctx.Done():
			}
		}()
	}
	var wg sync.WaitGroup
	for _, bw := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bw.loop(ctx, measureFrom, measureTo)
		}()
	}
	wg.Wait()
	end := time.Now()
	if storeStats != nil {
		after := storeStats()
		st := &benchStore{Appends: after.Appends - before.Appends, Commits: after.Groups - before.Groups, Batches: after.Batches - before.Batches, Pipelined: after.Pipelined - before.Pipelined}
		if st.Commits > 0 {
			st.AppendsPerCommit = float64(st.Appends) / float64(st.Commits)
		}
		st.CommitsPerSecond = float64(st.Commits) / end.Sub(measureFrom).Seconds()
		res.Store = st
	}
	<-profDone
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	if profErr != nil {
		return fmt.Errorf("cpu profile: %w", profErr)
	}

	res.Elapsed = end.Sub(measureFrom).Seconds()
	var signIn, challenge, verify []time.Duration
	res.ErrorKinds, res.ErrorSample = map[string]int{}, map[string]string{}
	for _, bw := range workers {
		signIn, challenge, verify = append(signIn, bw.signIn...), append(challenge, bw.challenge...), append(verify, bw.verify...)
		res.WarmupSignIns += bw.warmSignIns
		res.WarmupErrors += bw.warmErrors
		for k, n := range bw.errors {
			res.ErrorKinds[k] += n
			res.Errors += n
			if _, ok := res.ErrorSample[k]; !ok {
				res.ErrorSample[k] = bw.samples[k]
			}
		}
	}
	res.SignIns = len(signIn)
	res.Rate = float64(res.SignIns) / res.Elapsed
	res.Latency.SignIn, res.Latency.Challenge, res.Latency.Verify = percentiles(signIn), percentiles(challenge), percentiles(verify)
	t := &res.Target
	t.Rate, t.P99 = benchTargetRate, ms(benchTargetP99)
	t.RateRatio, t.P99Ratio = res.Rate/benchTargetRate, res.Latency.SignIn.P99/t.P99
	t.RateMet, t.P99Met = res.Rate >= benchTargetRate, res.SignIns > 0 && res.Latency.SignIn.P99 < t.P99
	t.Met = t.RateMet && t.P99Met && (res.Durable == nil || *res.Durable) && res.Errors == 0

	if o.json {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		writeBenchText(env.stdout, res)
	}
	if n := res.Errors + res.WarmupErrors; n > 0 {
		return fmt.Errorf("%d sign-ins failed (%d during the warm-up); see the errors above", n, res.WarmupErrors)
	}
	if res.SignIns == 0 {
		return errors.New("no sign-in finished in the measured time")
	}
	return nil
}

// benchServe starts Vakt in this process as `vakt serve` does, on a
// loopback port, and points o at it. stop shuts it down and removes a
// temporary data directory.
func benchServe(ctx context.Context, o *benchOpts, res *benchResult) (stop func() error, stats func() natsstore.Stats, err error) {
	dir, temp := o.data, false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "vakt-bench-"); err != nil {
			return nil, nil, err
		}
		temp = true
	}
	res.DataDir = dir
	cleanup := func() error {
		if temp {
			return os.RemoveAll(dir)
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, errors.Join(err, cleanup())
	}
	pub := "http://" + ln.Addr().String()
	a, err := vaktapp.Open(ctx, vaktapp.Config{DataDir: dir, PublicURL: pub, NoSync: o.noSync, Engine: o.engine, WASMInterrupt: o.wasmInterrupt})
	if err != nil {
		ln.Close()
		return nil, nil, errors.Join(err, cleanup())
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- a.Serve(sctx, ln) }()
	o.url, o.key = pub, a.AdminKey
	return func() error {
		cancel()
		serr := <-served
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		return errors.Join(serr, a.Close(cctx), cleanup())
	}, a.Stack.Store.Stats, nil
}

// benchRunID tells this run's users apart from an earlier run's on the same
// server.
func benchRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type bencher struct {
	client *http.Client
	key    string // "Bearer <key>"
	run    string
}

type benchUser struct {
	id, userURL, tenantURL string
	secret                 string // Base32, as the otpauth URI has it
	opts                   hotp.ValidateOpts
	counter                uint64 // the next code's
	seq                    int    // sign-ins attempted, for idempotency keys
}

// benchAPIError is an answer other than the one expected.
type benchAPIError struct {
	status int
	code   string // the API's error code, if the body had one
	msg    string
}

func (e *benchAPIError) Error() string {
	if e.code == "" {
		return fmt.Sprintf("HTTP %d: %s", e.status, e.msg)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.status, e.code, e.msg)
}

// kind names an error for counting: the HTTP status and the API's error
// code, or "transport" when no answer came.
func benchErrKind(call string, err error) string {
	var ae *benchAPIError
	if errors.As(err, &ae) {
		if ae.code == "" {
			return fmt.Sprintf("%s: %d", call, ae.status)
		}
		return fmt.Sprintf("%s: %d %s", call, ae.status, ae.code)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return call + ": timeout"
	}
	return call + ": transport"
}

// post sends body as JSON and decodes a `want` answer into out.
func (b *bencher) post(ctx context.Context, u, idem string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header["Authorization"] = []string{b.key}
	req.Header["Content-Type"] = []string{"application/json"}
	// With an idempotency key the server carries a request out once, and
	// the client may resend it on a connection the server had closed.
	req.Header["Idempotency-Key"] = []string{idem}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		ae := &benchAPIError{status: resp.StatusCode, msg: strings.TrimSpace(string(data))}
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			ae.code, ae.msg = e.Error.Code, e.Error.Message
		}
		return ae
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("HTTP %d with an unreadable body: %v", resp.StatusCode, err)
	}
	return nil
}

func benchJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps and strings here
	}
	return b
}

// setup enrols every user with an HOTP token of a fresh secret and confirms
// it with the code of counter 0, n users at a time.
func (b *bencher) setup(ctx context.Context, users []*benchUser, n int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan *benchUser)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range next {
				if err := b.enrol(ctx, u); err != nil {
					cancel(fmt.Errorf("set up user %s: %w", u.id, err))
				}
			}
		}()
	}
feed:
	for _, u := range users {
		select {
		case next <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

func (b *bencher) enrol(ctx context.Context, u *benchUser) error {
	seed := make([]byte, 20)
	rand.Read(seed)
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed)
	var started struct {
		AuthenticatorID string `json:"authenticator_id"`
		Status          string `json:"status"`
		OTPAuthURI      string `json:"otpauth_uri"`
	}
	body := benchJSON(map[string]string{"method": "hotp", "label": "bench", "secret": secret})
	if err := b.post(ctx, u.userURL+"/authenticators", "bench-"+b.run+"-enrol-"+u.id, body, http.StatusCreated, &started); err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	if started.Status != "pending" || started.AuthenticatorID == "" {
		return fmt.Errorf("enrol: status %q, authenticator %q; want a pending authenticator", started.Status, started.AuthenticatorID)
	}
	// The server's profile (digits, algorithm) is in the URI.
	u.secret, u.opts = secret, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	if started.OTPAuthURI != "" {
		k, err := otp.NewKeyFromURL(started.OTPAuthURI)
		if err != nil {
			return fmt.Errorf("enrol: the otpauth URI: %w", err)
		}
		u.secret, u.opts = k.Secret(), hotp.ValidateOpts{Digits: k.Digits(), Algorithm: k.Algorithm()}
	}
	code, err := hotp.GenerateCodeCustom(u.secret, 0, u.opts)
	if err != nil {
		return err
	}
	var confirmed struct {
		Status string `json:"status"`
	}
	body = benchJSON(map[string]string{"code": code})
	u.counter = 1
	if err := b.post(ctx, u.userURL+"/authenticators/"+url.PathEscape(started.AuthenticatorID)+"/confirm",
		"bench-"+b.run+"-confirm-"+u.id, body, http.StatusOK, &confirmed); err != nil {
		return fmt.Errorf("confirm: %w", err)
	}
	if confirmed.Status != "active" {
		return fmt.Errorf("confirm: status %q, want active", confirmed.Status)
	}
	return nil
}

// benchWorker signs in its users in turn and records what happened.
type benchWorker struct {
	b     *bencher
	users []*benchUser

	signIn, challenge, verify []time.Duration // measured sign-ins only
	warmSignIns, warmErrors   int
	errors                    map[string]int    // measured, by kind
	samples                   map[string]string // a message per kind
}

var benchIssueBody = []byte(`{"app":"web"}`)

func (w *benchWorker) loop(ctx context.Context, from, to time.Time) {
	for i := 0; ; i++ {
		u := w.users[i%len(w.users)]
		start := time.Now()
		if !start.Before(to) || ctx.Err() != nil {
			return
		}
		measured := !start.Before(from)
		dc, dv, kind, err := w.signInOnce(ctx, u)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && measured:
			w.errors[kind]++
			if _, ok := w.samples[kind]; !ok {
				w.samples[kind] = err.Error()
			}
		case err != nil:
			w.warmErrors++
		case measured:
			w.signIn = append(w.signIn, time.Since(start))
			w.challenge = append(w.challenge, dc)
			w.verify = append(w.verify, dv)
		default:
			w.warmSignIns++
		}
	}
}

// signInOnce issues a challenge for u and verifies it with u's next HOTP
// code, and returns the two calls' latencies.
func (w *benchWorker) signInOnce(ctx context.Context, u *benchUser) (dc, dv time.Duration, kind string, err error) {
	b := w.b
	u.seq++
	idem := "bench-" + b.run + "-" + u.id + "-" + strconv.Itoa(u.seq)
	var ch struct {
		ChallengeID string `json:"challenge_id"`
		Status      string `json:"status"`
	}
	t := time.Now()
	err = b.post(ctx, u.userURL+"/challenges", idem+"-c", benchIssueBody, http.StatusCreated, &ch)
	dc = time.Since(t)
	if err != nil {
		return 0, 0, benchErrKind("challenge", err), err
	}
	if ch.Status != "pending" || ch.ChallengeID == "" {
		return 0, 0, "challenge: status " + ch.Status, fmt.Errorf("challenge: status %q, id %q; want a pending challenge", ch.Status, ch.ChallengeID)
	}
	code, err := hotp.GenerateCodeCustom(u.secret, u.counter, u.opts)
	if err != nil {
		return 0, 0, "code", err
	}
	// Whatever the answer, the next sign-in uses the next counter: a code
	// the server did not take is skipped within its look-ahead window.
	u.counter++
	var ok struct {
		Status string `json:"status"`
		Token  string `json:"token"`
	}
	body := make([]byte, 0, 32)
	body = append(append(append(body, `{"code":"`...), code...), `"}`...)
	t = time.Now()
	err = b.post(ctx, u.tenantURL+"/challenges/"+url.PathEscape(ch.ChallengeID)+"/verify", idem+"-v", body, http.StatusOK, &ok)
	dv = time.Since(t)
	if err != nil {
		return 0, 0, benchErrKind("verify", err), err
	}
	if ok.Status != "succeeded" || ok.Token == "" {
		return 0, 0, "verify: status " + ok.Status, fmt.Errorf("verify: status %q, token %t; want succeeded with a token", ok.Status, ok.Token != "")
	}
	return dc, dv, "", nil
}

func writeBenchText(w io.Writer, r *benchResult) {
	fmt.Fprintf(w, "vakt bench: %d workers, %d users in %s, measured %.1fs after a %gs warm-up\n", r.Concurrency, r.Users, r.Tenant, r.Elapsed, r.Warmup)
	switch {
	case r.Durable == nil:
		fmt.Fprintf(w, "server:   %s (durability as that server is configured)\n", r.Server)
	case *r.Durable:
		fmt.Fprintf(w, "server:   in this process, data in %s, durable (fsync on every append)\n", r.DataDir)
	default:
		fmt.Fprintf(w, "server:   in this process, data in %s, NOT durable (--no-sync)\n", r.DataDir)
	}
	if r.Durable != nil {
		fmt.Fprintf(w, "          the load generator and the server share this machine's %d CPUs\n", r.CPUs)
	}
	switch {
	case r.Interrupt == nil:
	case *r.Interrupt:
		fmt.Fprintln(w, "engine:   the core WebAssembly module (wazero), interrupt checks on")
	default:
		fmt.Fprintln(w, "engine:   the core WebAssembly module (wazero), no interrupt checks")
	}
	fmt.Fprintf(w, "setup:    %d users enrolled with HOTP and confirmed in %.2fs (%d at a time)\n", r.Setup.Users, r.Setup.Seconds, r.Setup.Concurrency)
	fmt.Fprintf(w, "warm-up:  %d sign-ins, %d errors\n\n", r.WarmupSignIns, r.WarmupErrors)
	fmt.Fprintf(w, "sign-ins: %d in %.2fs = %.0f/s, %d errors\n", r.SignIns, r.Elapsed, r.Rate, r.Errors)
	if r.Errors > 0 {
		kinds := make([]string, 0, len(r.ErrorKinds))
		for k := range r.ErrorKinds {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(w, "  %6d  %s (e.g. %s)\n", r.ErrorKinds[k], k, r.ErrorSample[k])
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-12s %7s %8s %8s %8s %8s %8s\n", "latency (ms)", "n", "p50", "p90", "p99", "p99.9", "max")
	for _, row := range []struct {
		name string
		p    benchPercentiles
	}{{"sign-in", r.Latency.SignIn}, {"  challenge", r.Latency.Challenge}, {"  verify", r.Latency.Verify}} {
		p := row.p
		fmt.Fprintf(w, "%-12s %7d %8.2f %8.2f %8.2f %8.2f %8.2f\n", row.name, p.N, p.P50, p.P90, p.P99, p.P999, p.Max)
	}
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "not met"
	}
	t := r.Target
	if st := r.Store; st != nil {
		fmt.Fprintf(w, "\nstore:    %d appends in %d commits (%.0f/s; %d atomic batches, %d pipelined): %.1f appends per commit\n",
			st.Appends, st.Commits, st.CommitsPerSecond, st.Batches, st.Pipelined, st.AppendsPerCommit)
	}
	fmt.Fprintf(w, "\ntarget:   %.0f sign-ins/s with a sign-in p99 under %.0f ms\n", t.Rate, t.P99)
	fmt.Fprintf(w, "  throughput %8.0f/s  = %.2fx the target  %s\n", r.Rate, t.RateRatio, met(t.RateMet))
	fmt.Fprintf(w, "  p99        %8.2f ms = %.2fx the limit   %s\n", r.Latency.SignIn.P99, t.P99Ratio, met(t.P99Met))
	switch {
	case r.Durable != nil && !*r.Durable:
		fmt.Fprintln(w, "  not durable (--no-sync): this run does not count against the target")
	case r.Errors > 0:
		fmt.Fprintln(w, "  the run had errors: it does not count against the target")
	default:
		fmt.Fprintf(w, "  target %s\n", met(t.Met))
	}
}
