package delivery_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/delivery"
)

var testKey = []byte("webhook signing key")

// request is what a test provider saw.
type request struct {
	header http.Header
	body   []byte
}

// provider is a test webhook receiver that answers with statuses[i] on the
// i-th request (the last one thereafter) and records what it got.
type provider struct {
	mu       sync.Mutex
	statuses []int
	headers  []map[string]string // extra response headers per request, optional
	got      []request
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	i := len(p.got)
	p.got = append(p.got, request{r.Header.Clone(), body})
	status := p.statuses[min(i, len(p.statuses)-1)]
	var extra map[string]string
	if i < len(p.headers) {
		extra = p.headers[i]
	}
	p.mu.Unlock()
	for k, v := range extra {
		w.Header().Set(k, v)
	}
	w.WriteHeader(status)
	// An error body that echoes the request, as some providers do.
	w.Write(body)
}

func (p *provider) requests() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]request(nil), p.got...)
}

func newProvider(t *testing.T, statuses ...int) (*provider, *httptest.Server) {
	p := &provider{statuses: statuses}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

func webhook(url string) *delivery.Webhook {
	return &delivery.Webhook{URL: url, Secret: testKey, Backoff: time.Millisecond}
}

// checkError checks that err is an internal *vakt.Error carrying a
// *WebhookError and that neither the code nor the address shows in it.
func checkError(t *testing.T, err error, attempts, status int) *delivery.WebhookError {
	t.Helper()
	if vakt.CodeOf(err) != vakt.CodeInternal {
		t.Fatalf("err = %v, want internal", err)
	}
	we, ok := errors.AsType[*delivery.WebhookError](err)
	if !ok {
		t.Fatalf("err = %#v, no *WebhookError in the chain", err)
	}
	if we.Attempts != attempts || we.Status != status {
		t.Errorf("attempts, status = %d, %d, want %d, %d (%v)", we.Attempts, we.Status, attempts, status, err)
	}
	for _, s := range []string{err.Error(), we.Error(), vakt.As(err).Message} {
		if strings.Contains(s, testCode) || strings.Contains(s, "91234567") {
			t.Errorf("secret in error text %q", s)
		}
	}
	return we
}

func TestWebhookSuccess(t *testing.T) {
	p, srv := newProvider(t, http.StatusAccepted)
	before := time.Now()
	if err := webhook(srv.URL).Deliver(t.Context(), smsMessage()); err != nil {
		t.Fatal(err)
	}
	got := p.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	r := got[0]
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var body map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	sentAt, err := time.Parse(time.RFC3339Nano, body["sent_at"])
	if err != nil || sentAt.Before(before.Add(-time.Second)) || sentAt.After(time.Now().Add(time.Second)) {
		t.Errorf("sent_at = %q (%v)", body["sent_at"], err)
	}
	delete(body, "sent_at")
	want := map[string]string{
		"tenant": "acme", "user": "ola", "method": "sms", "purpose": "challenge",
		"address": testPhone, "code": testCode,
		"challenge_id":     "0194f3a0-0000-7000-8000-000000000001",
		"authenticator_id": "0194f3a0-0000-7000-8000-000000000002",
	}
	if len(body) != len(want) {
		t.Errorf("body = %v, want %v", body, want)
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("body[%q] = %q, want %q", k, body[k], v)
		}
	}
	if r.header.Get(delivery.DeliveryHeader) == "" {
		t.Error("no delivery id")
	}
}

func TestWebhookSignature(t *testing.T) {
	p, srv := newProvider(t, http.StatusOK)
	if err := webhook(srv.URL).Deliver(t.Context(), emailMessage()); err != nil {
		t.Fatal(err)
	}
	r := p.requests()[0]
	sig := r.header.Get(delivery.SignatureHeader)
	// Computed here independently of Sign.
	mac := hmac.New(sha256.New, testKey)
	mac.Write(r.body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); sig != want {
		t.Errorf("signature = %q, want %q", sig, want)
	}
	if !delivery.VerifySignature(testKey, r.body, sig) {
		t.Error("VerifySignature refuses a good signature")
	}
	if delivery.Sign(testKey, r.body) != sig {
		t.Error("Sign differs from the header")
	}
	tampered := append([]byte(nil), r.body...)
	tampered[len(tampered)/2] ^= 1
	for name, ok := range map[string]bool{
		"tampered body": delivery.VerifySignature(testKey, tampered, sig),
		"wrong key":     delivery.VerifySignature([]byte("other"), r.body, sig),
		"no prefix":     delivery.VerifySignature(testKey, r.body, strings.TrimPrefix(sig, "sha256=")),
		"not hex":       delivery.VerifySignature(testKey, r.body, "sha256=zz"),
		"empty":         delivery.VerifySignature(testKey, r.body, ""),
	} {
		if ok {
			t.Errorf("VerifySignature accepts a %s", name)
		}
	}
}

func TestWebhookRetriesThenSucceeds(t *testing.T) {
	p, srv := newProvider(t, 503, 500, 429, 200)
	if err := webhook(srv.URL).Deliver(t.Context(), smsMessage()); err != nil {
		t.Fatal(err)
	}
	got := p.requests()
	if len(got) != 4 {
		t.Fatalf("%d requests, want 4", len(got))
	}
	// The idempotency id, the body and so the signature are the same on
	// every retry.
	for i, r := range got {
		if r.header.Get(delivery.DeliveryHeader) != got[0].header.Get(delivery.DeliveryHeader) {
			t.Errorf("request %d: delivery id %q, first was %q", i, r.header.Get(delivery.DeliveryHeader), got[0].header.Get(delivery.DeliveryHeader))
		}
		if string(r.body) != string(got[0].body) || r.header.Get(delivery.SignatureHeader) != got[0].header.Get(delivery.SignatureHeader) {
			t.Errorf("request %d differs from the first", i)
		}
	}
}

func TestWebhookDeliveryIDUnique(t *testing.T) {
	p, srv := newProvider(t, 200)
	w := webhook(srv.URL)
	for range 3 {
		if err := w.Deliver(t.Context(), smsMessage()); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, r := range p.requests() {
		id := r.header.Get(delivery.DeliveryHeader)
		if id == "" || seen[id] {
			t.Errorf("delivery id %q empty or repeated across messages", id)
		}
		seen[id] = true
	}
}

func TestWebhookGivesUp(t *testing.T) {
	p, srv := newProvider(t, 502)
	w := webhook(srv.URL)
	w.Attempts = 3
	err := w.Deliver(t.Context(), smsMessage())
	checkError(t, err, 3, 502)
	if n := len(p.requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if !strings.Contains(err.Error(), "502") {
		t.Errorf("the last status is not in %q", err)
	}
}

func TestWebhookDefaultAttempts(t *testing.T) {
	p, srv := newProvider(t, 500)
	checkError(t, webhook(srv.URL).Deliver(t.Context(), smsMessage()), delivery.DefaultAttempts, 500)
	if n := len(p.requests()); n != delivery.DefaultAttempts {
		t.Errorf("%d requests, want %d", n, delivery.DefaultAttempts)
	}
}

func TestWebhookClientErrorNotRetried(t *testing.T) {
	for _, status := range []int{400, 401, 404, 422, 301, 307} {
		p, srv := newProvider(t, status)
		p.headers = []map[string]string{{"Location": "http://127.0.0.1:1/elsewhere"}}
		checkError(t, webhook(srv.URL).Deliver(t.Context(), smsMessage()), 1, status)
		if n := len(p.requests()); n != 1 {
			t.Errorf("status %d: %d requests, want 1", status, n)
		}
	}
}

func TestWebhookNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook?api_key=provider-credential"
	srv.Close() // nothing listens there any more
	w := webhook(url)
	w.Attempts = 2
	err := w.Deliver(t.Context(), smsMessage())
	we := checkError(t, err, 2, 0)
	if we.Err == nil {
		t.Error("no transport error kept")
	}
	if strings.Contains(we.Error(), "provider-credential") || strings.Contains(err.Error(), "provider-credential") {
		t.Errorf("url in error text: %v", we)
	}
}

func TestWebhookTimeoutPerAttempt(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		if n.Add(1) == 1 {
			select { // the first attempt hangs
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	w := webhook(srv.URL)
	w.Timeout = 50 * time.Millisecond
	if err := w.Deliver(t.Context(), smsMessage()); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2", n.Load())
	}
}

func TestWebhookRetryAfter(t *testing.T) {
	p, srv := newProvider(t, 429, 200)
	p.headers = []map[string]string{{"Retry-After": "1"}}
	w := webhook(srv.URL)
	w.MaxRetryAfter = 150 * time.Millisecond // caps the 1 s asked for
	start := time.Now()
	if err := w.Deliver(t.Context(), smsMessage()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 900*time.Millisecond {
		t.Errorf("took %v: Retry-After not honoured (150 ms, capped) ", d)
	}
	if n := len(p.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestWebhookRetryAfterDate(t *testing.T) {
	p, srv := newProvider(t, 503, 200)
	p.headers = []map[string]string{{"Retry-After": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}
	w := webhook(srv.URL)
	w.MaxRetryAfter = 100 * time.Millisecond
	start := time.Now()
	if err := w.Deliver(t.Context(), smsMessage()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("took %v, want the 100 ms cap", d)
	}
}

func TestWebhookBackoffDoubles(t *testing.T) {
	_, srv := newProvider(t, 500)
	w := webhook(srv.URL)
	w.Attempts, w.Backoff = 4, 20*time.Millisecond
	start := time.Now()
	checkError(t, w.Deliver(t.Context(), smsMessage()), 4, 500)
	// 20 + 40 + 80 ms between the four attempts.
	if d := time.Since(start); d < 140*time.Millisecond || d > 2*time.Second {
		t.Errorf("took %v, want about 140 ms", d)
	}
}

func TestWebhookCancelStopsRetries(t *testing.T) {
	p, srv := newProvider(t, 503)
	w := webhook(srv.URL)
	w.Attempts, w.Backoff = 10, time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- w.Deliver(ctx, smsMessage()) }()
	for len(p.requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		checkError(t, err, 1, 503)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(%v, context.Canceled) = false", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Deliver did not return after cancel")
	}
	if n := len(p.requests()); n != 1 {
		t.Errorf("%d requests after cancel, want 1", n)
	}
}

func TestWebhookCancelDuringRequest(t *testing.T) {
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // the server notices a client going away only once the body is read
		close(started)
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-started; cancel() }()
	err := webhook(srv.URL).Deliver(ctx, smsMessage())
	checkError(t, err, 1, 0)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) = false", err)
	}
}

func TestWebhookMisconfigured(t *testing.T) {
	for name, w := range map[string]*delivery.Webhook{
		"no url":    {Secret: testKey},
		"ftp url":   {URL: "ftp://example.com/", Secret: testKey},
		"no host":   {URL: "https:///x", Secret: testKey},
		"no secret": {URL: "https://example.com/"},
	} {
		if err := w.Deliver(t.Context(), smsMessage()); vakt.CodeOf(err) != vakt.CodeInternal {
			t.Errorf("%s: err = %v, want internal", name, err)
		}
	}
}

func TestWebhookOwnClientNoRedirect(t *testing.T) {
	var hit atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit.Store(true) }))
	t.Cleanup(elsewhere.Close)
	p, srv := newProvider(t, http.StatusTemporaryRedirect)
	p.headers = []map[string]string{{"Location": elsewhere.URL}}
	w := webhook(srv.URL)
	w.Client = &http.Client{} // follows redirects by default; Deliver must not
	checkError(t, w.Deliver(t.Context(), smsMessage()), 1, http.StatusTemporaryRedirect)
	if hit.Load() {
		t.Error("the redirect was followed, the code went elsewhere")
	}
	if w.Client.CheckRedirect != nil {
		t.Error("the caller's client was modified")
	}
}
