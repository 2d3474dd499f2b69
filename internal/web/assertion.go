package web

import (
	"crypto/ed25519"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// RelyingParty is an application that may send its users to the pages with
// an assertion signed by its Ed25519 key (docs/PAGES.md).
type RelyingParty struct {
	// ID is the key id (the JWT's kid and iss).
	ID string `json:"id"`
	// Tenant is the only tenant whose users the party may send.
	Tenant string `json:"tenant"`
	// PublicKey is the party's Ed25519 public key; in the file, "x" as in a
	// JWK (base64url, no padding).
	PublicKey ed25519.PublicKey `json:"-"`
	X         string            `json:"x"`
	// ReturnURLs are the addresses a sign-in may return to: an entry
	// matches a URL with the same scheme and host and a path equal to the
	// entry's, or under it when the entry's path ends in "/".
	ReturnURLs []string `json:"return_urls"`
	// StepUp, if set, lets the edge guard in front of the party send
	// people to /ui/step-up with a return_to among ReturnURLs.
	StepUp *StepUp `json:"step_up,omitempty"`
}

func (rp *RelyingParty) validate() error {
	if rp.PublicKey == nil && rp.X != "" {
		b, err := base64.RawURLEncoding.DecodeString(rp.X)
		if err != nil {
			return vakt.Errorf(vakt.CodeInvalidArgument, "relying party %q: x is not base64url", rp.ID)
		}
		rp.PublicKey = b
	}
	switch {
	case rp.ID == "" || len(rp.ID) > 64:
		return vakt.Errorf(vakt.CodeInvalidArgument, "a relying party needs an id of 1 to 64 characters")
	case len(rp.PublicKey) != ed25519.PublicKeySize:
		return vakt.Errorf(vakt.CodeInvalidArgument, "relying party %q: the public key must be 32 bytes of Ed25519", rp.ID)
	}
	if err := events.ValidateID("tenant", rp.Tenant); err != nil {
		return vakt.Errorf(vakt.CodeInvalidArgument, "relying party %q: %s", rp.ID, vakt.As(err).Message)
	}
	for _, u := range rp.ReturnURLs {
		p, err := url.Parse(u)
		if err != nil || !safeScheme(p) || p.Host == "" || p.User != nil || p.Fragment != "" {
			return vakt.Errorf(vakt.CodeInvalidArgument, "relying party %q: return url %q must be https (http only on loopback), with a host and no user or fragment", rp.ID, u)
		}
	}
	if rp.StepUp != nil {
		return rp.StepUp.validate(rp)
	}
	return nil
}

// LoadRelyingParties reads the relying parties of the pages from a JSON
// file: {"relying_parties": [{"id", "tenant", "x", "return_urls"}]}.
func LoadRelyingParties(path string) ([]RelyingParty, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "read the relying parties file: %v", err)
	}
	var f struct {
		RelyingParties []RelyingParty `json:"relying_parties"`
	}
	if err := jsonx.Strict(b, &f); err != nil {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "the relying parties file %s is not valid: %v", path, err)
	}
	for i := range f.RelyingParties {
		if err := f.RelyingParties[i].validate(); err != nil {
			return nil, err
		}
	}
	return f.RelyingParties, nil
}

func safeScheme(u *url.URL) bool {
	if u.Scheme == "https" {
		return true
	}
	if u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
}

// allowedReturn reports whether target is one of rp's return addresses.
func (rp *RelyingParty) allowedReturn(target string) bool {
	if len(target) > 2048 {
		return false
	}
	t, err := url.Parse(target)
	if err != nil || !safeScheme(t) || t.User != nil || t.Fragment != "" || t.Host == "" || t.Opaque != "" {
		return false
	}
	// Dot segments, also escaped (%2e%2e, which a browser resolves too),
	// would climb out of an allowed path.
	if strings.Contains(t.EscapedPath(), "..") || strings.Contains(t.Path, "..") {
		return false
	}
	for _, a := range rp.ReturnURLs {
		au, err := url.Parse(a)
		if err != nil || au.Scheme != t.Scheme || !strings.EqualFold(au.Host, t.Host) {
			continue
		}
		if t.Path == au.Path || (strings.HasSuffix(au.Path, "/") && strings.HasPrefix(t.Path, au.Path)) {
			return true
		}
	}
	return false
}

// Purposes of an assertion: what the pages open.
const (
	PurposeAccount = "security_info"
	PurposeSignIn  = "sign_in"
	PurposeReset   = "reset"
)

// AssertionClaims is what a relying party signs (docs/PAGES.md).
type AssertionClaims struct {
	jwt.RegisteredClaims
	Tenant  string `json:"tenant"`
	Purpose string `json:"purpose"`
	// Sign-in only: the challenge the party started (the API's id), where
	// to return, and the party's state to return with the token.
	Challenge string `json:"challenge,omitempty"`
	ReturnTo  string `json:"return_to,omitempty"`
	State     string `json:"state,omitempty"`
}

// MaxAssertionAge is the longest an assertion may live (exp - iat).
const MaxAssertionAge = 5 * time.Minute

// enter takes a relying party's assertion and opens what it names.
func (w *Web) enter(rw http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("assertion")
	if raw == "" || len(raw) > 8192 {
		w.fail(rw, r, http.StatusBadRequest, "err.assertion")
		return
	}
	c, rp, err := w.verifyAssertion(raw)
	if err != nil {
		w.log.InfoContext(r.Context(), "web: assertion refused", "reason", err.Error())
		w.fail(rw, r, http.StatusForbidden, "err.assertion")
		return
	}
	switch c.Purpose {
	case PurposeAccount, PurposeReset:
		w.startSession(rw, session{Kind: kindUser, Tenant: c.Tenant, User: c.Subject, Actor: "user", Via: "assertion:" + rp.ID})
		if c.Purpose == PurposeReset {
			redirect(rw, r, Prefix+"reset")
			return
		}
		redirect(rw, r, Prefix+"account")
	case PurposeSignIn:
		if !rp.allowedReturn(c.ReturnTo) {
			w.fail(rw, r, http.StatusForbidden, "err.return_url")
			return
		}
		user, id, err := parseChallengeID(c.Challenge)
		if err != nil || user != c.Subject {
			w.fail(rw, r, http.StatusBadRequest, "err.assertion")
			return
		}
		w.startFlow(rw, r, flow{Tenant: c.Tenant, User: user, Challenge: id, ReturnTo: c.ReturnTo, State: c.State, RP: rp.ID})
	default:
		w.fail(rw, r, http.StatusBadRequest, "err.assertion")
	}
}

// verifyAssertion checks an assertion's signature, audience, times, tenant
// and single use.
func (w *Web) verifyAssertion(raw string) (*AssertionClaims, *RelyingParty, error) {
	var rp *RelyingParty
	var c AssertionClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		for i := range w.cfg.RelyingParties {
			if w.cfg.RelyingParties[i].ID == kid {
				rp = &w.cfg.RelyingParties[i]
				return rp.PublicKey, nil
			}
		}
		return nil, vakt.Errorf(vakt.CodeUnauthorized, "unknown kid")
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience(w.audience()), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(w.cfg.Now), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return nil, nil, err
	}
	switch {
	case c.Issuer != rp.ID:
		return nil, nil, vakt.Errorf(vakt.CodeUnauthorized, "iss is not the kid")
	case c.Tenant != rp.Tenant:
		return nil, nil, vakt.Errorf(vakt.CodeUnauthorized, "the party may not send users of this tenant")
	case c.IssuedAt == nil || c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxAssertionAge:
		return nil, nil, vakt.Errorf(vakt.CodeUnauthorized, "the assertion lives longer than %s", MaxAssertionAge)
	case c.ID == "" || len(c.ID) > 128:
		return nil, nil, vakt.Errorf(vakt.CodeUnauthorized, "no jti")
	case len(c.State) > 512:
		return nil, nil, vakt.Errorf(vakt.CodeUnauthorized, "state is longer than 512 bytes")
	}
	if err := events.ValidateID("user", c.Subject); err != nil {
		return nil, nil, err
	}
	if !w.jti.add(rp.ID+"\x00"+c.ID, c.ExpiresAt.Add(time.Minute), w.cfg.Now()) {
		return nil, nil, vakt.Errorf(vakt.CodeUnauthorized, "the assertion was used before")
	}
	return &c, rp, nil
}

// audience is what an assertion's aud must name: the pages' address.
func (w *Web) audience() string { return strings.TrimRight(w.cfg.PublicURL, "/") + Prefix }

// replayCache remembers the assertions used until they expire. It is per
// process: with several instances behind a balancer, an assertion could be
// used once on each within its five minutes (docs/PAGES.md).
type replayCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]time.Time
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: map[string]time.Time{}}
}

// add records key until exp; false if it was there, or if the cache is full
// of live entries (fail closed).
func (c *replayCache) add(key string, exp, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.seen[key]; ok && now.Before(t) {
		return false
	}
	if len(c.seen) >= c.max {
		for k, t := range c.seen {
			if !now.Before(t) {
				delete(c.seen, k)
			}
		}
		if len(c.seen) >= c.max {
			return false
		}
	}
	c.seen[key] = exp
	return true
}

// ---- challenge ids (the API's form) ----------------------------------------

// The API names a challenge "<engine id>~<base64url(user)>" (see
// internal/server); a relying party hands the pages that id.
func apiChallengeID(user, id string) string {
	return id + "~" + base64.RawURLEncoding.EncodeToString([]byte(user))
}

func parseChallengeID(s string) (user, id string, err error) {
	id, enc, ok := strings.Cut(s, "~")
	bad := vakt.Errorf(vakt.CodeInvalidArgument, "not a challenge id vakt returned")
	if !ok || !events.IsID(id) {
		return "", "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", "", bad
	}
	if err := events.ValidateID("user", string(b)); err != nil {
		return "", "", bad
	}
	return string(b), id, nil
}
