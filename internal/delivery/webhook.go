package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
)

// Headers sent with every webhook request.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body
	// under [Webhook].Secret (see [Sign] and [VerifySignature]).
	SignatureHeader = "X-Vakt-Signature"
	// DeliveryHeader carries an id that is unique per message and the same
	// on every retry of it: the provider's idempotency key.
	DeliveryHeader = "X-Vakt-Delivery"
)

// Defaults of a [Webhook]'s zero fields.
const (
	DefaultAttempts      = 4
	DefaultBackoff       = 200 * time.Millisecond
	DefaultTimeout       = 5 * time.Second
	DefaultMaxRetryAfter = 10 * time.Second
)

// Webhook delivers messages by POSTing them as JSON to a provider (or to a
// small adapter in front of one):
//
//	POST <URL>
//	Content-Type: application/json
//	X-Vakt-Delivery: <id, the same on every retry>
//	X-Vakt-Signature: sha256=<hex HMAC-SHA256 of the body under Secret>
//
//	{"tenant": "acme", "user": "ola", "method": "sms", "purpose": "challenge",
//	 "address": "+4791234567", "code": "123456", "challenge_id": "...",
//	 "authenticator_id": "...", "sent_at": "2025-01-02T03:04:05.123Z"}
//
// The body is the same on every retry, so its signature is too; a receiver
// that keeps the delivery ids it has seen for a few minutes, and refuses a
// sent_at older than that, turns a replayed request into a no-op.
//
// Any 2xx answer is success. Network errors, 5xx and 429 are retried, up to
// Attempts in all, waiting Backoff, then twice as long each time, or what a
// Retry-After header asks (at most MaxRetryAfter). Any other answer, a
// redirect included, is final: redirects are never followed, so that a code
// cannot be sent anywhere but URL.
//
// A Webhook is safe for concurrent use.
type Webhook struct {
	URL    string
	Secret []byte       // HMAC-SHA256 key for X-Vakt-Signature; required
	Client *http.Client // nil means a client with no overall timeout (Timeout applies per attempt)

	Attempts      int           // tries in all; 0 means DefaultAttempts
	Backoff       time.Duration // wait before the first retry, doubling; 0 means DefaultBackoff
	Timeout       time.Duration // per attempt; 0 means DefaultTimeout
	MaxRetryAfter time.Duration // cap on a Retry-After wait; 0 means DefaultMaxRetryAfter
}

// WebhookError is the cause (in [vakt.Error].Err) of a failed webhook
// delivery. It holds neither the code nor the address, nor the URL, which
// may carry a provider's credentials.
type WebhookError struct {
	Attempts int   // requests made
	Status   int   // the last HTTP status; 0 if the last attempt got no answer
	Err      error // the last transport error or the context's error, if any
}

func (e *WebhookError) Error() string {
	s := fmt.Sprintf("webhook: %d attempt(s)", e.Attempts)
	if e.Status != 0 {
		s += ", last status " + strconv.Itoa(e.Status)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *WebhookError) Unwrap() error { return e.Err }

// payload is the JSON body of a webhook request.
type payload struct {
	Tenant          string `json:"tenant"`
	User            string `json:"user"`
	Method          string `json:"method"`
	Purpose         string `json:"purpose"`
	Address         string `json:"address"`
	Code            string `json:"code"`
	ChallengeID     string `json:"challenge_id,omitempty"`
	AuthenticatorID string `json:"authenticator_id,omitempty"`
	SentAt          string `json:"sent_at"`
}

// Sign returns the X-Vakt-Signature value for body: "sha256=" and the hex
// HMAC-SHA256 of body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header is the X-Vakt-Signature of body
// under secret, comparing in constant time. Receivers written in Go can use
// it as is.
func VerifySignature(secret, body []byte, header string) bool {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// noRedirect keeps a request (and the code in its body) from following a
// redirect to a host the operator did not configure.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

var defaultClient = &http.Client{CheckRedirect: noRedirect}

// Deliver posts m to w.URL, retrying as described on [Webhook]. It returns
// nil once the provider has accepted the message, and otherwise an internal
// *vakt.Error whose cause is a *[WebhookError]; a cancelled ctx stops the
// retries (errors.Is(err, context.Canceled) then holds).
func (w *Webhook) Deliver(ctx context.Context, m Message) error {
	if err := check(m); err != nil {
		return err
	}
	if err := w.validate(); err != nil {
		return err
	}
	body, err := json.Marshal(payload{
		Tenant: m.Tenant, User: m.User, Method: m.Method, Purpose: m.Purpose,
		Address: m.Address.Reveal(), Code: m.Code.Reveal(),
		ChallengeID: m.ChallengeID, AuthenticatorID: m.AuthenticatorID,
		SentAt: time.Now().UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return vakt.Errorf(vakt.CodeInternal, "%s delivery: encoding the webhook body: %w", m.Method, err)
	}
	id := rand.Text()
	sig := Sign(w.Secret, body)

	client := defaultClient
	if w.Client != nil {
		c := *w.Client
		c.CheckRedirect = noRedirect
		client = &c
	}
	attempts := orDefault(w.Attempts, DefaultAttempts)
	backoff := orDefault(w.Backoff, DefaultBackoff)
	maxWait := orDefault(w.MaxRetryAfter, DefaultMaxRetryAfter)

	last := &WebhookError{}
	for attempt := 1; ; attempt++ {
		status, retryAfter, err := w.post(ctx, client, body, id, sig)
		last.Attempts, last.Status, last.Err = attempt, status, err
		if err == nil && status >= 200 && status < 300 {
			return nil
		}
		if ctx.Err() != nil {
			last.Err = ctx.Err()
			return fail(last, "%s delivery cancelled after %d attempt(s)", m.Method, attempt)
		}
		if err == nil && !retryable(status) {
			return fail(last, "%s delivery refused: the provider answered %d", m.Method, status)
		}
		if attempt >= attempts {
			break
		}
		wait := backoff
		if retryAfter >= 0 {
			wait = min(retryAfter, maxWait)
		}
		backoff *= 2
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			last.Err = ctx.Err()
			return fail(last, "%s delivery cancelled after %d attempt(s)", m.Method, attempt)
		case <-t.C:
		}
	}
	if last.Status != 0 {
		return fail(last, "%s delivery failed: the provider answered %d after %d attempts", m.Method, last.Status, last.Attempts)
	}
	return fail(last, "%s delivery failed: the provider could not be reached in %d attempts", m.Method, last.Attempts)
}

func (w *Webhook) validate() error {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return vakt.Errorf(vakt.CodeInternal, "the delivery webhook url is not an http or https url")
	}
	if len(w.Secret) == 0 {
		return vakt.Errorf(vakt.CodeInternal, "the delivery webhook has no signing secret")
	}
	return nil
}

// post makes one attempt. It returns the status (0 without an answer), the
// Retry-After wait the answer asked for (-1 if none) and a transport error.
func (w *Webhook) post(ctx context.Context, client *http.Client, body []byte, id, sig string) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, orDefault(w.Timeout, DefaultTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, -1, stripURL(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vakt-delivery/1")
	req.Header.Set(DeliveryHeader, id)
	req.Header.Set(SignatureHeader, sig)
	resp, err := client.Do(req)
	if err != nil {
		return 0, -1, stripURL(err)
	}
	// Drain a little so that the connection can be reused; the body itself is
	// never kept, as a provider's error text may echo the number or the code.
	_, _ = io.CopyN(io.Discard, resp.Body, 16<<10)
	resp.Body.Close()
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After")), nil
}

func retryable(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests
}

// retryAfter parses a Retry-After value, delay-seconds or an HTTP date; -1
// if absent or unreadable.
func retryAfter(v string) time.Duration {
	if v == "" {
		return -1
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return -1
		}
		return time.Duration(min(s, 1<<20)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return -1
}

// stripURL drops the URL from a transport error: it may hold a provider's
// credentials, and the error ends up in logs.
func stripURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// fail returns an internal error whose message says what happened and whose
// cause is last (kept out of the message: a transport error names hosts).
func fail(last *WebhookError, format string, args ...any) error {
	return &vakt.Error{Code: vakt.CodeInternal, Message: fmt.Sprintf(format, args...), Err: last}
}

// orDefault returns v, or def if v is zero or negative.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
