package edge

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
)

// Config is the guard's configuration, as JSON. Keys are matched without
// regard to case (encoding/json), so Traefik's camelCase and a hand-written
// document both work. Durations are Go duration strings ("15m", "1h30m") or
// whole seconds (900 or "900"); booleans may be true/false or the strings
// "true"/"false" (Traefik passes label values as strings).
type Config struct {
	// Tenant is the tenant whose tokens pass (the tid claim). Required:
	// a token of another tenant is refused.
	Tenant string `json:"tenant"`
	// Issuer is the iss the tokens must carry: the public URL of the Vakt
	// server (its -issuer / VAKT_ISSUER). Required.
	Issuer string `json:"issuer"`
	// Audience, if set, must be one of the token's aud values. Vakt's
	// session tokens carry no aud today: leave it empty unless the issuer
	// sets one.
	Audience string `json:"audience,omitempty"`
	// JWKS is the key set that verifies tokens: the document served at
	// <issuer>/.well-known/jwks.json, inline as a JSON object or as a
	// string holding one. Only Ed25519 (OKP) keys with a kid are accepted.
	JWKS json.RawMessage `json:"jwks"`
	// Leeway is the clock skew tolerated on exp, iat and nbf (default
	// 30s, as tokens.Leeway; at most 5m).
	Leeway Duration `json:"leeway,omitempty"`
	// Routes are the per-route policies. The longest matching prefix
	// whose methods match wins.
	Routes []Route `json:"routes"`
	// Default applies to paths no route matches (default: a valid token of
	// the tenant, any acr, any age). Set {"public": true} to let unmatched
	// paths through.
	Default *Policy `json:"default,omitempty"`
	// Token says where the token is read.
	Token TokenSource `json:"token,omitempty"`
	// StepUp says where people are sent to authenticate again.
	StepUp StepUp `json:"stepUp,omitempty"`
	// CacheSize bounds the verified-token cache (default 1024 entries;
	// at most 1<<20).
	CacheSize int `json:"cacheSize,omitempty"`
}

// Policy is what a request must present.
type Policy struct {
	// ACR is the minimum assurance ("low", "substantial", "high"; the
	// engine's order). Empty: any acr, including none.
	ACR string `json:"acr,omitempty"`
	// MaxAge is the longest time since auth_time (0: no limit). A token
	// without auth_time fails a route with a MaxAge.
	MaxAge Duration `json:"maxAge,omitempty"`
	// Public lets every request through without looking at a token.
	Public Bool `json:"public,omitempty"`
}

// Route is a policy for a path prefix and, optionally, some methods.
type Route struct {
	// Prefix is a path prefix, matched like Traefik's PathPrefix: "/admin"
	// matches "/admin", "/admin/users" and also "/administrator"; write
	// "/admin/" to match "/admin" and what is below it only. Paths are
	// compared after percent-decoding and resolving dot segments and
	// repeated slashes.
	Prefix string `json:"prefix"`
	// Methods limit the route to these methods (any when empty).
	Methods []string `json:"methods,omitempty"`
	Policy
}

// TokenSource says where a request carries its token.
type TokenSource struct {
	// From lists the sources in the order they are tried: "bearer" (the
	// Authorization: Bearer header) and "cookie". Default: ["bearer"],
	// or ["bearer", "cookie"] when Cookie is set.
	From []string `json:"from,omitempty"`
	// Cookie is the name of the cookie holding the token.
	Cookie string `json:"cookie,omitempty"`
}

// StepUp configures the answer when a token is missing or not good enough.
type StepUp struct {
	// URL is the step-up page browsers are redirected to: absolute
	// (http or https) or a path on the same origin ("/mfa/step-up"). Its
	// own query is kept. Without it, browsers get the 401 that API
	// clients get.
	URL string `json:"url,omitempty"`
	// ReturnOrigin ("https://app.example.org"), if set, makes the return
	// address absolute; otherwise it is the request's path and query.
	// The request's Host header is never used, so a forged Host cannot
	// send people elsewhere.
	ReturnOrigin string `json:"returnOrigin,omitempty"`
	// ReturnParam names the return address parameter (default
	// "return_to").
	ReturnParam string `json:"returnParam,omitempty"`
	// APIPrefixes are path prefixes whose requests always get a 401 with
	// WWW-Authenticate (RFC 9470) rather than a redirect; so does every
	// request whose Accept does not include text/html.
	APIPrefixes []string `json:"apiPrefixes,omitempty"`
	// Realm is the realm of the WWW-Authenticate challenge (default
	// "vakt").
	Realm string `json:"realm,omitempty"`
}

// Duration is a time.Duration that reads "15m", 900 or "900".
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(100*365*24*time.Hour/time.Second) {
			return vakt.Errorf(vakt.CodeInvalidArgument, "duration %d seconds is out of range", n)
		}
		*d = Duration(time.Duration(n) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return vakt.Errorf(vakt.CodeInvalidArgument, "%q is not a duration: give \"15m\", \"1h\" or whole seconds", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the Go form ("15m0s").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Bool is a bool that also reads "true" and "false".
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true", `"true"`:
		*v = true
	case "false", `"false"`, "null":
		*v = false
	default:
		return vakt.Errorf(vakt.CodeInvalidArgument, "%s is not true or false", b)
	}
	return nil
}

const (
	defaultLeeway    = 30 * time.Second
	maxLeeway        = 5 * time.Minute
	defaultCacheSize = 1024
	maxCacheSize     = 1 << 20
	maxConfig        = 1 << 20
	maxRoutes        = 1000
)

// levels orders the acr values: the engine's order (engine/acr.go; a test
// checks that the two agree). Unknown values are level 0.
var levels = map[string]int{"low": 1, "substantial": 2, "high": 3}

// acrsFrom lists the acr values at level lvl and above, lowest first.
func acrsFrom(lvl int) []string {
	all := []string{"low", "substantial", "high"}
	return all[max(lvl-1, 0):]
}

// route is a compiled Route.
type route struct {
	prefix  string
	methods []string
	policy
}

type policy struct {
	public bool
	level  int
	acr    string
	maxAge time.Duration
}

func badConfig(format string, args ...any) error {
	return vakt.Errorf(vakt.CodeInvalidArgument, "edge config: "+format, args...)
}

// Compile parses and validates a JSON [Config] and returns the [Guard] that
// enforces it. Every problem is a *vakt.Error with code invalid_argument
// whose message names the field, so that a host can refuse to start with
// a clear message.
func Compile(config []byte) (*Guard, error) {
	if len(config) > maxConfig {
		return nil, badConfig("longer than %d bytes", maxConfig)
	}
	if len(bytes.TrimSpace(config)) == 0 {
		return nil, badConfig("empty: give at least tenant, issuer, jwks and routes")
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, badConfig("not valid JSON for the guard: %v", err)
	}
	if dec.More() {
		return nil, badConfig("trailing data after the JSON object")
	}
	g := &Guard{tenant: c.Tenant, issuer: c.Issuer, audience: c.Audience}
	if err := checkName("tenant", c.Tenant); err != nil {
		return nil, err
	}
	if c.Issuer == "" {
		return nil, badConfig("no issuer: give the iss of the tokens (the Vakt server's public URL)")
	}
	keys, err := parseJWKS(c.JWKS)
	if err != nil {
		return nil, err
	}
	g.keys = keys
	switch {
	case c.Leeway == 0:
		g.leeway = defaultLeeway
	case time.Duration(c.Leeway) > maxLeeway:
		return nil, badConfig("leeway %s is longer than %s", time.Duration(c.Leeway), maxLeeway)
	default:
		g.leeway = time.Duration(c.Leeway)
	}
	if len(c.Routes) > maxRoutes {
		return nil, badConfig("%d routes; at most %d", len(c.Routes), maxRoutes)
	}
	seen := map[string]bool{}
	for i, r := range c.Routes {
		field := "routes[" + strconv.Itoa(i) + "]"
		if !strings.HasPrefix(r.Prefix, "/") || strings.ContainsAny(r.Prefix, "?#") {
			return nil, badConfig("%s.prefix %q must be a path starting with /", field, r.Prefix)
		}
		cr := route{prefix: cleanPrefix(r.Prefix)}
		for _, m := range r.Methods {
			m = strings.ToUpper(strings.TrimSpace(m))
			if m == "" || strings.ContainsFunc(m, func(c rune) bool { return c < 'A' || c > 'Z' }) {
				return nil, badConfig("%s.methods: %q is not an HTTP method", field, m)
			}
			cr.methods = append(cr.methods, m)
		}
		if cr.policy, err = compilePolicy(field, r.Policy); err != nil {
			return nil, err
		}
		ms := cr.methods
		if len(ms) == 0 {
			ms = []string{"*"}
		}
		for _, m := range ms {
			k := cr.prefix + " " + m
			if seen[k] {
				return nil, badConfig("%s: another route has the prefix %q for the same methods", field, r.Prefix)
			}
			seen[k] = true
		}
		g.routes = append(g.routes, cr)
	}
	if c.Default != nil {
		if g.fallback, err = compilePolicy("default", *c.Default); err != nil {
			return nil, err
		}
	}
	if err := g.compileToken(c.Token); err != nil {
		return nil, err
	}
	if err := g.compileStepUp(c.StepUp); err != nil {
		return nil, err
	}
	switch {
	case c.CacheSize == 0:
		g.cache = newCache(defaultCacheSize)
	case c.CacheSize < 0 || c.CacheSize > maxCacheSize:
		return nil, badConfig("cacheSize %d: give 1 to %d", c.CacheSize, maxCacheSize)
	default:
		g.cache = newCache(c.CacheSize)
	}
	return g, nil
}

func checkName(field, v string) error {
	if v == "" {
		return badConfig("no %s", field)
	}
	if len(v) > 256 || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return badConfig("%s %q: at most 256 characters, no spaces or control characters", field, v)
	}
	return nil
}

func compilePolicy(field string, p Policy) (policy, error) {
	cp := policy{public: bool(p.Public), acr: p.ACR, maxAge: time.Duration(p.MaxAge)}
	if p.ACR != "" {
		cp.level = levels[p.ACR]
		if cp.level == 0 {
			return cp, badConfig("%s.acr %q: give low, substantial or high", field, p.ACR)
		}
	}
	if cp.public && (cp.level != 0 || cp.maxAge != 0) {
		return cp, badConfig("%s: a public route takes no acr or maxAge", field)
	}
	if cp.maxAge != 0 && cp.maxAge < time.Second {
		return cp, badConfig("%s.maxAge %s: at least a second", field, cp.maxAge)
	}
	return cp, nil
}

func (g *Guard) compileToken(t TokenSource) error {
	if t.Cookie != "" {
		if strings.ContainsFunc(t.Cookie, func(r rune) bool {
			return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r)
		}) {
			return badConfig("token.cookie %q is not a cookie name", t.Cookie)
		}
		g.cookie = t.Cookie
	}
	from := t.From
	if len(from) == 0 {
		from = []string{"bearer"}
		if t.Cookie != "" {
			from = append(from, "cookie")
		}
	}
	for _, f := range from {
		switch f {
		case "bearer":
			g.sources = append(g.sources, sourceBearer)
		case "cookie":
			if t.Cookie == "" {
				return badConfig("token.from lists cookie but token.cookie names none")
			}
			g.sources = append(g.sources, sourceCookie)
		default:
			return badConfig("token.from: %q is not bearer or cookie", f)
		}
	}
	return nil
}

func (g *Guard) compileStepUp(s StepUp) error {
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		switch {
		case err != nil || u.Fragment != "" || u.User != nil:
			return badConfig("stepUp.url %q is not a URL without fragment or user info", s.URL)
		case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(s.URL, "//"):
		case (u.Scheme == "https" || u.Scheme == "http") && u.Host != "":
		default:
			return badConfig("stepUp.url %q: give an http(s) URL or a path starting with /", s.URL)
		}
		g.stepUp = u
	}
	if s.ReturnOrigin != "" {
		u, err := url.Parse(s.ReturnOrigin)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return badConfig("stepUp.returnOrigin %q: give scheme and host only, such as https://app.example.org", s.ReturnOrigin)
		}
		g.returnOrigin = u.Scheme + "://" + u.Host
	}
	g.returnParam = s.ReturnParam
	if g.returnParam == "" {
		g.returnParam = "return_to"
	}
	for i, p := range s.APIPrefixes {
		if !strings.HasPrefix(p, "/") {
			return badConfig("stepUp.apiPrefixes[%d] %q must start with /", i, p)
		}
		g.apiPrefixes = append(g.apiPrefixes, cleanPrefix(p))
	}
	g.realm = s.Realm
	if g.realm == "" {
		g.realm = "vakt"
	}
	if strings.ContainsAny(g.realm, "\"\\\r\n") {
		return badConfig("stepUp.realm %q may not hold quotes, backslashes or line breaks", g.realm)
	}
	return nil
}

// cleanPrefix normalises a configured prefix like a request path, keeping a
// trailing slash.
func cleanPrefix(p string) string {
	c, _ := normalisePath(p)
	if strings.HasSuffix(p, "/") && !strings.HasSuffix(c, "/") {
		c += "/"
	}
	return c
}

// jwk is one key of a JWKS document.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

func parseJWKS(raw json.RawMessage) (map[string]ed25519.PublicKey, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, badConfig("no jwks: copy the document served at <issuer>/.well-known/jwks.json")
	}
	if raw[0] == '"' { // a JSON document inside a string
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badConfig("jwks: %v", err)
		}
		raw = []byte(s)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, badConfig("jwks is not a JWK set: %v", err)
	}
	if len(set.Keys) == 0 {
		return nil, badConfig("jwks has no keys")
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for i, k := range set.Keys {
		field := "jwks.keys[" + strconv.Itoa(i) + "]"
		switch {
		case k.Kty != "OKP" || k.Crv != "Ed25519":
			return nil, badConfig("%s: kty %q crv %q; only Ed25519 (OKP) keys verify Vakt tokens", field, k.Kty, k.Crv)
		case k.Alg != "" && k.Alg != "EdDSA":
			return nil, badConfig("%s: alg %q; only EdDSA", field, k.Alg)
		case k.Use != "" && k.Use != "sig":
			return nil, badConfig("%s: use %q is not sig", field, k.Use)
		case k.Kid == "":
			return nil, badConfig("%s has no kid", field)
		case keys[k.Kid] != nil:
			return nil, badConfig("%s: kid %q appears twice", field, k.Kid)
		}
		x, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, badConfig("%s: x is not a base64url Ed25519 public key", field)
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	return keys, nil
}
