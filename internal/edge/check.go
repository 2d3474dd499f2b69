package edge

import (
	"crypto/ed25519"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// Guard enforces a compiled [Config]. It is safe for concurrent use; its
// only mutable state is the verified-token cache.
type Guard struct {
	tenant, issuer, audience string
	keys                     map[string]ed25519.PublicKey
	leeway                   time.Duration
	routes                   []route
	fallback                 policy
	sources                  []source
	cookie                   string
	stepUp                   *url.URL
	returnOrigin             string
	returnParam              string
	apiPrefixes              []string
	realm                    string
	cache                    *cache
}

type source int

const (
	sourceBearer source = iota
	sourceCookie
)

// Request is what the guard needs of an HTTP request. Header fields hold
// every value of the header, joined as HTTP allows (", " for Accept, "; "
// for Cookie); the guard never logs or returns the token they carry.
type Request struct {
	// Method is the HTTP method ("GET").
	Method string `json:"method"`
	// URI is the request target: the path, escaped as received, and the
	// query ("/admin/users?page=2").
	URI string `json:"uri"`
	// Authorization is the Authorization header ("Bearer eyJ...").
	Authorization string `json:"authorization,omitempty"`
	// Cookie is the Cookie header.
	Cookie string `json:"cookie,omitempty"`
	// Accept is the Accept header; text/html marks a browser.
	Accept string `json:"accept,omitempty"`
}

// Reason says why a request passed or not, for logs and metrics. The list
// only grows.
type Reason string

// The reasons.
const (
	ReasonOK            Reason = "ok"             // a good token for the route
	ReasonPublic        Reason = "public"         // a public route; no token looked at
	ReasonNoToken       Reason = "no_token"       // no token where the config says to look
	ReasonMalformed     Reason = "malformed"      // not a compact JWS Vakt could have made
	ReasonBadAlg        Reason = "bad_alg"        // alg is not EdDSA (none, HS256, RS256, ...)
	ReasonUnknownKey    Reason = "unknown_kid"    // no key of the JWKS has this kid
	ReasonBadSignature  Reason = "bad_signature"  // the signature is not the key's
	ReasonMissingClaim  Reason = "missing_claim"  // no sub, tid, exp or iat
	ReasonExpired       Reason = "expired"        // past exp (with leeway)
	ReasonNotYetValid   Reason = "not_yet_valid"  // iat or nbf in the future (with leeway)
	ReasonWrongIssuer   Reason = "wrong_issuer"   // iss is not the configured issuer
	ReasonWrongAudience Reason = "wrong_audience" // aud lacks the configured audience
	ReasonWrongTenant   Reason = "wrong_tenant"   // tid is another tenant
	ReasonACRTooLow     Reason = "acr_too_low"    // acr below the route's
	ReasonTooOld        Reason = "too_old"        // auth_time older than the route's maxAge
	ReasonNoAuthTime    Reason = "no_auth_time"   // the route has a maxAge and the token no auth_time
	ReasonBadPath       Reason = "bad_path"       // the path does not decode
)

// Decision is the guard's answer. When Allow is true the request goes on
// (with Claims, unless the route is public); otherwise the caller answers
// with Status and, when set, the Location or WWW-Authenticate header.
type Decision struct {
	Allow  bool   `json:"allow"`
	Reason Reason `json:"reason"`
	// Status is 0 when allowed; otherwise 302 or 303 (a browser sent to
	// the step-up page), 401 (an API client, or no step-up page) or 400
	// (a path that does not decode).
	Status int `json:"status,omitempty"`
	// Location is the step-up URL with the return address, the required
	// acr, max_age and the tenant (for 302/303).
	Location string `json:"location,omitempty"`
	// WWWAuthenticate is the Bearer challenge (RFC 6750, RFC 9470) for 401.
	WWWAuthenticate string `json:"www_authenticate,omitempty"`
	// Route is the prefix of the route that applied ("" for the default).
	Route string `json:"route,omitempty"`
	// Claims of the token, when one was verified and the request allowed.
	Claims *Claims `json:"claims,omitempty"`
	// Cached tells that the token's signature was checked on an earlier
	// request.
	Cached bool `json:"cached,omitempty"`
}

// Check decides whether req may pass at the time now. It reads no clock
// and does no I/O: the caller passes the time.
func (g *Guard) Check(req Request, now time.Time) Decision {
	p, ok := normalisePath(pathOf(req.URI))
	if !ok {
		return Decision{Reason: ReasonBadPath, Status: 400}
	}
	pol, prefix := g.match(p, req.Method)
	if pol.public {
		return Decision{Allow: true, Reason: ReasonPublic, Route: prefix}
	}
	tok := g.token(req)
	if tok == "" {
		return g.refuse(req, p, pol, prefix, ReasonNoToken)
	}
	key, signed, keyed := cacheKey(tok)
	var v *verified
	if keyed {
		v = g.cache.get(key, signed, now)
	}
	cached := v != nil
	if v == nil {
		var why Reason
		if v, why = g.verify(tok); why != "" {
			return g.refuse(req, p, pol, prefix, why)
		}
	}
	if why := g.valid(v, now); why != "" {
		return g.refuse(req, p, pol, prefix, why)
	}
	if !cached && keyed {
		g.cache.put(key, v)
	}
	if why := authorize(v, pol, now); why != "" {
		return g.refuse(req, p, pol, prefix, why)
	}
	c := v.claims
	return Decision{Allow: true, Reason: ReasonOK, Route: prefix, Claims: &c, Cached: cached}
}

// valid checks what does not depend on the route: the time, iss, aud and
// tid.
func (g *Guard) valid(v *verified, now time.Time) Reason {
	switch {
	case !now.Before(v.exp.Add(g.leeway)):
		return ReasonExpired
	case now.Add(g.leeway).Before(v.iat), !v.nbf.IsZero() && now.Add(g.leeway).Before(v.nbf):
		return ReasonNotYetValid
	case v.issuer != g.issuer:
		return ReasonWrongIssuer
	case g.audience != "" && !contains(v.audience, g.audience):
		return ReasonWrongAudience
	case v.claims.Tenant != g.tenant:
		return ReasonWrongTenant
	}
	return ""
}

// authorize checks the route's acr and maximum age.
func authorize(v *verified, pol policy, now time.Time) Reason {
	if pol.level > 0 && v.level < pol.level {
		return ReasonACRTooLow
	}
	if pol.maxAge > 0 {
		if v.authTime.IsZero() {
			return ReasonNoAuthTime
		}
		if now.Sub(v.authTime) > pol.maxAge {
			return ReasonTooOld
		}
	}
	return ""
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// match returns the policy of the longest prefix that matches the path and
// method; at equal prefixes a route that names the method wins.
func (g *Guard) match(p, method string) (policy, string) {
	best, bestLen, named := -1, -1, false
	for i, r := range g.routes {
		if !strings.HasPrefix(p, r.prefix) && !slashed(p, r.prefix) {
			continue
		}
		if len(r.methods) > 0 && !contains(r.methods, method) {
			continue
		}
		n := len(r.prefix)
		if n > bestLen || (n == bestLen && len(r.methods) > 0 && !named) {
			best, bestLen, named = i, n, len(r.methods) > 0
		}
	}
	if best < 0 {
		return g.fallback, ""
	}
	return g.routes[best].policy, g.routes[best].prefix
}

// slashed reports whether prefix is p+"/" (without building that string).
func slashed(p, prefix string) bool {
	return len(prefix) == len(p)+1 && prefix[len(p)] == '/' && prefix[:len(p)] == p
}

// token finds the token in the configured sources, in order.
func (g *Guard) token(req Request) string {
	for _, s := range g.sources {
		switch s {
		case sourceBearer:
			if scheme, t, ok := strings.Cut(strings.TrimSpace(req.Authorization), " "); ok && strings.EqualFold(scheme, "Bearer") {
				if t = strings.TrimSpace(t); t != "" {
					return t
				}
			}
		case sourceCookie:
			if t := cookie(req.Cookie, g.cookie); t != "" {
				return t
			}
		}
	}
	return ""
}

// cookie returns the value of the first cookie called name in a Cookie
// header (RFC 6265 section 5.4).
func cookie(header, name string) string {
	for header != "" {
		var pair string
		pair, header, _ = strings.Cut(header, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || k != name {
			continue
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v
	}
	return ""
}

// pathOf returns the path of a request target, without the query.
func pathOf(uri string) string {
	p, _, _ := strings.Cut(uri, "?")
	p, _, _ = strings.Cut(p, "#")
	return p
}

// normalisePath decodes percent escapes and resolves dot segments and
// repeated slashes, so that /a/../admin, //admin and /%61dmin all match a
// route for /admin. A path that does not decode, or holds a NUL or a
// backslash, fails.
func normalisePath(raw string) (string, bool) {
	if !strings.HasPrefix(raw, "/") {
		if raw == "" || raw == "*" {
			return "/", true
		}
		return "", false
	}
	if plainPath(raw) {
		return raw, true // what the general case below gives for it
	}
	return normaliseEscaped(raw)
}

// plainPath reports whether a path that starts with a slash is already
// normal: no percent escape, NUL or backslash, no empty segment but the
// last (a trailing slash, which normalisePath keeps), no dot segment.
func plainPath(p string) bool {
	seg := 0 // the slash before the current segment
	for i := 1; i <= len(p); i++ {
		if i < len(p) {
			switch p[i] {
			case '%', '\\', 0:
				return false
			case '/':
			default:
				continue
			}
		}
		if s := p[seg+1 : i]; s == "" && i < len(p) || s == "." || s == ".." {
			return false
		}
		seg = i
	}
	return true
}

// normaliseEscaped is normalisePath for a path that starts with a slash
// and is not plain.
func normaliseEscaped(raw string) (string, bool) {
	p, err := url.PathUnescape(raw)
	if err != nil || strings.ContainsAny(p, "\x00\\") {
		return "", false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c, true
}

// refuse builds the answer to a request that may not pass.
func (g *Guard) refuse(req Request, p string, pol policy, prefix string, why Reason) Decision {
	d := Decision{Reason: why, Route: prefix}
	if g.stepUp != nil && g.browser(req, p) {
		d.Status = 302
		if req.Method != "GET" && req.Method != "HEAD" {
			d.Status = 303 // the step-up page is fetched with GET
		}
		d.Location = g.location(req, pol)
		return d
	}
	d.Status = 401
	d.WWWAuthenticate = g.challenge(pol, why)
	return d
}

// browser reports whether the request comes from a browser that can follow
// a redirect to the step-up page: it accepts text/html and is not under an
// API prefix.
func (g *Guard) browser(req Request, p string) bool {
	for _, a := range g.apiPrefixes {
		if strings.HasPrefix(p, a) || slashed(p, a) {
			return false
		}
	}
	for part := range strings.SplitSeq(req.Accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
			return true
		}
	}
	return false
}

// location is the step-up URL with return_to (or the configured name),
// required_acr, max_age (seconds) and tenant.
func (g *Guard) location(req Request, pol policy) string {
	u := *g.stepUp
	q := u.Query()
	q.Set(g.returnParam, g.returnTo(req.URI))
	if pol.acr != "" {
		q.Set("required_acr", pol.acr)
	}
	if pol.maxAge > 0 {
		q.Set("max_age", strconv.FormatInt(int64(pol.maxAge/time.Second), 10))
	}
	q.Set("tenant", g.tenant)
	u.RawQuery = q.Encode()
	return u.String()
}

// returnTo is where the step-up page sends the person back: the request's
// path and query, after the configured origin. A target that is not a plain
// path (//host, a scheme, a backslash) becomes /, so the parameter cannot
// point at another site.
func (g *Guard) returnTo(uri string) string {
	uri, _, _ = strings.Cut(uri, "#")
	if !strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "//") || strings.ContainsAny(uri, "\\\r\n\x00") {
		uri = "/"
	}
	return g.returnOrigin + uri
}

// challenge is the WWW-Authenticate value: no error when there was no token
// (RFC 6750 section 3.1), invalid_token for a token that does not verify,
// insufficient_user_authentication with acr_values and max_age for one
// that is not strong or recent enough (RFC 9470 section 3).
func (g *Guard) challenge(pol policy, why Reason) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(g.realm)
	b.WriteByte('"')
	switch why {
	case ReasonNoToken:
	case ReasonACRTooLow, ReasonTooOld, ReasonNoAuthTime:
		b.WriteString(`, error="insufficient_user_authentication", error_description="`)
		if why == ReasonACRTooLow {
			b.WriteString(`A different authentication level is required"`)
		} else {
			b.WriteString(`More recent authentication is required"`)
		}
		if pol.level > 0 {
			b.WriteString(`, acr_values="`)
			b.WriteString(strings.Join(acrsFrom(pol.level), " "))
			b.WriteByte('"')
		}
		if pol.maxAge > 0 {
			b.WriteString(`, max_age="`)
			b.WriteString(strconv.FormatInt(int64(pol.maxAge/time.Second), 10))
			b.WriteByte('"')
		}
	default:
		b.WriteString(`, error="invalid_token", error_description="`)
		b.WriteString(string(why))
		b.WriteByte('"')
	}
	return b.String()
}
