// Package edgetest signs session tokens the way internal/tokens does (a
// compact JWS, EdDSA, kid = RFC 7638 thumbprint), including broken ones, for
// the tests of internal/edge and wasm/edge.
package edgetest

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Key is an Ed25519 signing key and its kid.
type Key struct {
	Priv ed25519.PrivateKey
	Kid  string
}

// NewKey derives a key from a seed byte, so tests are repeatable.
func NewKey(seed byte) Key {
	s := sha256.Sum256([]byte{seed})
	priv := ed25519.NewKeyFromSeed(s[:])
	return Key{Priv: priv, Kid: Thumbprint(priv.Public().(ed25519.PublicKey))}
}

// Thumbprint is the RFC 7638 thumbprint of an Ed25519 key (as
// tokens.Thumbprint).
func Thumbprint(pub ed25519.PublicKey) string {
	h := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// JWKS returns the key set of keys as /.well-known/jwks.json serves it.
func JWKS(keys ...Key) []byte {
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		Alg string `json:"alg"`
	}
	set := struct {
		Keys []jwk `json:"keys"`
	}{}
	for _, k := range keys {
		pub := k.Priv.Public().(ed25519.PublicKey)
		set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: k.Kid, Use: "sig", Alg: "EdDSA"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

// Claims are a token's payload; nil fields are left out.
type Claims map[string]any

// Sign returns header.payload.signature with the header
// {"alg":"EdDSA","kid":...,"typ":"JWT"}.
func (k Key) Sign(c Claims) string {
	return k.SignHeader(map[string]any{"alg": "EdDSA", "kid": k.Kid, "typ": "JWT"}, c)
}

// SignHeader signs with Ed25519 under any header.
func (k Key) SignHeader(h map[string]any, c Claims) string {
	in := Encode(h) + "." + Encode(c)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.Priv, []byte(in)))
}

// Unsigned returns a token with alg none and an empty signature.
func Unsigned(kid string, c Claims) string {
	return Encode(map[string]any{"alg": "none", "kid": kid, "typ": "JWT"}) + "." + Encode(c) + "."
}

// HS256 returns a token MACed with secret (such as the public key, the
// classic algorithm-confusion attack).
func HS256(kid string, secret []byte, c Claims) string {
	in := Encode(map[string]any{"alg": "HS256", "kid": kid, "typ": "JWT"}) + "." + Encode(c)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Encode is base64url(JSON(v)).
func Encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Tamper flips a bit of the signature.
func Tamper(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) == 0 {
		return tok + "x"
	}
	sig[0] ^= 1
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}
