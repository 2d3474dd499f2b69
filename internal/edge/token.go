package edge

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxToken bounds the length of a token the guard parses at all (as
// tokens.Verify does).
const maxToken = 8 << 10

// Claims are what a verified token says, as the guard passes them on.
type Claims struct {
	Subject   string   `json:"sub"`
	Tenant    string   `json:"tid"`
	ACR       string   `json:"acr,omitempty"`
	AMR       []string `json:"amr,omitempty"`
	AuthTime  int64    `json:"auth_time,omitempty"` // Unix seconds; 0 when the token has none
	IssuedAt  int64    `json:"iat"`                 // Unix seconds
	ExpiresAt int64    `json:"exp"`                 // Unix seconds
	ID        string   `json:"jti,omitempty"`       // the challenge's id
	KeyID     string   `json:"kid"`                 // the key that signed it
}

// verified is a token whose signature checked out: what the cache keeps.
type verified struct {
	claims   Claims
	issuer   string
	audience []string
	exp      time.Time
	iat      time.Time
	nbf      time.Time // zero when absent
	authTime time.Time // zero when absent
	until    time.Time // exp + leeway: when the cache entry dies
	level    int       // the acr's place in levels (0: unknown or none)
	signed   string    // header.payload, what the signature covers (see cache)
	slot     int       // its place in the cache ring
}

// header is the JOSE header. Only alg EdDSA and a kid are accepted; crit
// (extensions the verifier must understand) is refused.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// payload is the JWT claims set Vakt signs (internal/tokens).
type payload struct {
	Iss      string       `json:"iss"`
	Sub      string       `json:"sub"`
	Aud      audience     `json:"aud"`
	Exp      *numericDate `json:"exp"`
	Nbf      *numericDate `json:"nbf"`
	Iat      *numericDate `json:"iat"`
	Jti      string       `json:"jti"`
	Tid      string       `json:"tid"`
	ACR      string       `json:"acr"`
	AMR      []string     `json:"amr"`
	AuthTime *numericDate `json:"auth_time"`
}

// numericDate is a JWT NumericDate (seconds since the epoch, possibly with
// a fraction).
type numericDate struct{ t time.Time }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	// strconv rather than json.Unmarshal: the decoder has already checked
	// that b is a JSON value, and a second scan costs in the wasm build.
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	if math.IsNaN(f) || f < 0 || f > 1e11 {
		return errBadDate
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

// audience is aud: a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

type dateError struct{}

func (dateError) Error() string { return "a date out of range" }

var errBadDate error = dateError{}

var b64 = base64.RawURLEncoding.Strict()

// verify checks a compact JWS: the format, alg EdDSA, a kid of the key set
// and the Ed25519 signature, and reads the claims that must be there (sub,
// tid, exp, iat). It checks nothing that depends on the time or the route.
func (g *Guard) verify(token string) (*verified, Reason) {
	if len(token) > maxToken {
		return nil, ReasonMalformed
	}
	h64, rest, ok1 := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || h64 == "" || p64 == "" || strings.Contains(s64, ".") {
		return nil, ReasonMalformed
	}
	hb, err := b64.DecodeString(h64)
	if err != nil {
		return nil, ReasonMalformed
	}
	var h header
	if err := decodeHeader(hb, &h); err != nil {
		return nil, ReasonMalformed
	}
	if h.Alg != "EdDSA" {
		return nil, ReasonBadAlg
	}
	if len(h.Crit) != 0 || (h.Typ != "" && !strings.EqualFold(h.Typ, "JWT")) {
		return nil, ReasonMalformed
	}
	key := g.keys[h.Kid]
	if key == nil {
		return nil, ReasonUnknownKey
	}
	sig, err := b64.DecodeString(s64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, ReasonBadSignature
	}
	if !ed25519.Verify(key, []byte(token[:len(h64)+1+len(p64)]), sig) {
		return nil, ReasonBadSignature
	}
	pb, err := b64.DecodeString(p64)
	if err != nil {
		return nil, ReasonMalformed
	}
	var p payload
	if !decodePayload(pb, &p) {
		return nil, ReasonMalformed
	}
	if p.Sub == "" || p.Tid == "" || p.Exp == nil || p.Iat == nil {
		return nil, ReasonMissingClaim
	}
	v := &verified{
		claims: Claims{
			Subject: p.Sub, Tenant: p.Tid, ACR: p.ACR, AMR: p.AMR, ID: p.Jti, KeyID: h.Kid,
			IssuedAt: p.Iat.t.Unix(), ExpiresAt: p.Exp.t.Unix(),
		},
		issuer: p.Iss, audience: p.Aud, exp: p.Exp.t, iat: p.Iat.t,
		until: p.Exp.t.Add(g.leeway), level: levels[p.ACR],
		// A copy: a substring would keep the whole token, signature and
		// all, alive in the cache.
		signed: strings.Clone(token[:len(h64)+1+len(p64)]),
	}
	if p.Nbf != nil {
		v.nbf = p.Nbf.t
	}
	if p.AuthTime != nil {
		v.authTime = p.AuthTime.t
		v.claims.AuthTime = p.AuthTime.t.Unix()
	}
	return v, ""
}

// cache keeps verified tokens, so that a token seen before skips the
// signature. An entry is found by the SHA-512/256 of the token's signature
// (its base64url form) and holds what that signature covers (header.payload,
// the claims in base64url: no credential without the signature); a token
// hits only when both are those of the token that was verified, that is when
// it is that token byte for byte. The token itself, or its signature, is
// never kept. Hashing the 86-byte signature rather than the whole token
// takes one SHA-512 block instead of four.
//
// It is bounded: when full, the oldest entry goes (first in, first out;
// tokens live about as long as each other). Entries die with their token.
type cache struct {
	mu   sync.Mutex
	m    map[[sha512.Size256]byte]*verified
	ring [][sha512.Size256]byte
	used []bool
	next int
}

// sigLen is the length of an Ed25519 signature in unpadded base64url.
const sigLen = (ed25519.SignatureSize*8 + 5) / 6

// cacheKey splits a token at its last dot and returns the SHA-512/256 of the
// signature and the signed part. ok is false when the signature part cannot
// be an Ed25519 signature (verify refuses such a token), so the token is
// not looked up.
func cacheKey(token string) (key [sha512.Size256]byte, signed string, ok bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 || len(token)-i-1 != sigLen {
		return key, "", false
	}
	var sig [sigLen]byte // on the stack: []byte(token[i+1:]) would allocate
	copy(sig[:], token[i+1:])
	return sha512.Sum512_256(sig[:]), token[:i], true
}

func newCache(n int) *cache {
	return &cache{m: make(map[[sha512.Size256]byte]*verified, n), ring: make([][sha512.Size256]byte, n), used: make([]bool, n)}
}

// get returns the entry for key unless it is missing, for another signed
// part, or past its time. The comparison need not be constant-time: it is
// reached only with the right signature, and the signed part is no secret.
func (c *cache) get(key [sha512.Size256]byte, signed string, now time.Time) *verified {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.m[key]
	if v == nil || v.signed != signed {
		return nil
	}
	if !now.Before(v.until) {
		delete(c.m, key)
		c.used[v.slot] = false
		return nil
	}
	return v
}

func (c *cache) put(key [sha512.Size256]byte, v *verified) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return
	}
	if c.used[c.next] {
		delete(c.m, c.ring[c.next])
	}
	v.slot = c.next
	c.ring[c.next], c.used[c.next] = key, true
	c.m[key] = v
	c.next = (c.next + 1) % len(c.ring)
}
