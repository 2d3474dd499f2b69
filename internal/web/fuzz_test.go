package web

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vaktmfa/vakt/events"
)

// The boundaries of the form handlers: what people and relying parties
// type or send, parsed before anything else looks at it.

// FuzzNormalizeCode: the code typed, with spaces and dashes dropped, is
// never longer, holds none of them, and normalising again changes nothing.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"123 456", " 12-34-56 ", "12\u00a034\t56", "", "abc-def", "\xff\xfe", "٣٤٥"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := normalizeCode(s)
		if len(n) > len(s) && utf8.ValidString(s) {
			t.Fatalf("%q grew to %q", s, n)
		}
		if strings.ContainsAny(n, " -\u00a0\t") {
			t.Fatalf("%q kept a separator: %q", s, n)
		}
		if normalizeCode(n) != n {
			t.Fatalf("not idempotent on %q", s)
		}
	})
}

var fuzzRP = RelyingParty{ID: "rp", Tenant: "uio.no", ReturnURLs: []string{"https://app.uio.no/auth/", "https://other.uio.no/cb", "http://127.0.0.1:8000/cb"}}

// FuzzAllowedReturn: whatever is accepted is https (or http on loopback),
// on an allowed host, with no user info or fragment, and at or under an
// allowed path: never an open redirect.
func FuzzAllowedReturn(f *testing.F) {
	for _, s := range []string{"https://app.uio.no/auth/x", "https://app.uio.no/auth/../admin", "//evil.example/", "https://app.uio.no@evil.example/auth/",
		"https://app.uio.no%2F@evil/auth/", "https://APP.uio.no/auth/%2e%2e/x", "http://127.0.0.1:8000/cb", "https://other.uio.no/cb?x=1", "javascript:alert(1)", "https://app.uio.no\\@evil/auth/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !fuzzRP.allowedReturn(s) {
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.User != nil || u.Fragment != "" || u.Opaque != "" || !safeScheme(u) {
			t.Fatalf("accepted %q", s)
		}
		ok := false
		for _, a := range fuzzRP.ReturnURLs {
			au, _ := url.Parse(a)
			if au.Scheme == u.Scheme && strings.EqualFold(au.Host, u.Host) && (u.Path == au.Path || strings.HasSuffix(au.Path, "/") && strings.HasPrefix(u.Path, au.Path)) {
				ok = true
			}
		}
		if !ok || strings.Contains(u.Path, "/../") || strings.HasSuffix(u.Path, "/..") {
			t.Fatalf("accepted %q (host %q path %q)", s, u.Host, u.Path)
		}
	})
}

// FuzzParseChallengeID: an accepted challenge id names a valid user and an
// engine id.
func FuzzParseChallengeID(f *testing.F) {
	f.Add(apiChallengeID("ola@uio.no", "01a2092f-335d-773f-b07b-a5c395b4efa3"))
	f.Add("x~")
	f.Add("01a2092f-335d-773f-b07b-a5c395b4efa3~%%%")
	f.Fuzz(func(t *testing.T, s string) {
		user, id, err := parseChallengeID(s)
		if err != nil {
			return
		}
		if !events.IsID(id) || events.ValidateID("user", user) != nil {
			t.Fatalf("accepted %q: user %q id %q", s, user, id)
		}
	})
}

// FuzzStepUpParams: the step-up page's query; what is accepted has an
// allowed return address of a party of the tenant, a known level and a
// bounded age.
func FuzzStepUpParams(f *testing.F) {
	rp := fuzzRP
	rp.StepUp = &StepUp{Cookie: "vakt_session", App: "web"}
	w := &Web{cfg: Config{Options: Options{RelyingParties: []RelyingParty{rp}}}}
	f.Add("https://app.uio.no/auth/x", "high", "900", "uio.no")
	f.Add("https://evil.example/", "", "", "uio.no")
	f.Add("https://app.uio.no/auth/", "ultra", "-1", "ntnu.no")
	f.Fuzz(func(t *testing.T, returnTo, acr, maxAge, tenant string) {
		q, bad := w.parseStepUp(func(k string) string {
			return map[string]string{"return_to": returnTo, "required_acr": acr, "max_age": maxAge, "tenant": tenant}[k]
		})
		if bad != "" {
			return
		}
		if q.rp == nil || q.rp.Tenant != tenant || !q.rp.allowedReturn(returnTo) || (acr != "" && acrLevels[acr] == 0) ||
			q.MaxAge < 0 || time.Duration(q.MaxAge)*time.Second > maxStepUpAge {
			t.Fatalf("accepted %q %q %q %q", returnTo, acr, maxAge, tenant)
		}
	})
}

// FuzzAssertion: no input that was not signed with the party's key is
// accepted, and nothing panics.
func FuzzAssertion(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	w := &Web{cfg: Config{PublicURL: "https://mfa.uio.no", Now: func() time.Time { return now },
		Options: Options{RelyingParties: []RelyingParty{{ID: "rp", Tenant: "uio.no", PublicKey: pub}}}}, jti: newReplayCache(100)}
	sign := func(key ed25519.PrivateKey, c AssertionClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
		tok.Header["kid"] = "rp"
		s, _ := tok.SignedString(key)
		return s
	}
	c := AssertionClaims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "rp", Subject: "ola", Audience: jwt.ClaimStrings{"https://mfa.uio.no/ui/"},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)), ID: "j1"}, Tenant: "uio.no", Purpose: PurposeAccount}
	good := sign(priv, c)
	f.Add(sign(other, c))
	f.Add(strings.Replace(good, ".", ".x", 1))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJvbGEifQ.")
	f.Fuzz(func(t *testing.T, raw string) {
		if raw == good {
			return
		}
		if _, _, err := w.verifyAssertion(raw); err == nil {
			// Only a token the party's key signed may pass: check that it is one.
			p, _, perr := jwt.NewParser().ParseUnverified(raw, &AssertionClaims{})
			if perr != nil || !ed25519.Verify(pub, []byte(raw[:strings.LastIndex(raw, ".")]), p.Signature) {
				t.Fatalf("accepted %q", raw)
			}
		}
	})
}
