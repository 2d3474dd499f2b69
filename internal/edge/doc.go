// Package edge decides, at the edge of an application, whether a request
// carries a Vakt session token good enough for its route: the tenant, the
// assurance level (acr) and the age of the authentication (auth_time). It
// is the logic of the http-wasm middleware in wasm/edge and of the core
// module's edge_check op, and it runs natively as well.
//
// The package is pure: no network, no files, no clock and no global
// randomness, so it builds for GOOS=wasip1 and gives the same answer on
// every host. The caller passes the time.
//
// # Configuration
//
// [Compile] takes a JSON [Config]:
//
//	{
//	  "tenant": "uio.no",
//	  "issuer": "https://mfa.uio.no",
//	  "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "...", "kid": "..."}]},
//	  "routes": [
//	    {"prefix": "/static/", "public": true},
//	    {"prefix": "/admin/", "acr": "high", "maxAge": "15m"},
//	    {"prefix": "/payments/", "methods": ["POST"], "acr": "substantial", "maxAge": "5m"}
//	  ],
//	  "token": {"cookie": "vakt_session"},
//	  "stepUp": {"url": "https://mfa.uio.no/step-up", "returnOrigin": "https://app.uio.no", "apiPrefixes": ["/api/"]}
//	}
//
// The keys are inline because an http-wasm guest cannot fetch: copy the
// document served at <issuer>/.well-known/jwks.json, and reload the
// configuration when it changes. Vakt publishes a period's key up to a day
// before it signs anything, so refreshing the copy at least daily keeps
// every token verifiable (docs/EDGE.md).
//
// # Checking a request
//
// [Guard.Check] takes a [Request] (method, target, and the Authorization,
// Cookie and Accept headers) and the time, and returns a [Decision]: let
// it through with the token's [Claims], or answer. A browser (Accept with
// text/html, outside the API prefixes) is redirected to the step-up page
// with the return address, the required acr, max_age and the tenant; an
// API client gets 401 with a WWW-Authenticate Bearer challenge as RFC 6750
// and RFC 9470 describe (error="insufficient_user_authentication",
// acr_values, max_age). Every decision carries a [Reason] for the log;
// the token itself is never logged or returned.
//
// Tokens are verified as internal/tokens makes them: a compact JWS with
// alg EdDSA and a kid of the key set (alg none, HMAC and RSA are refused
// before any key is looked up), an Ed25519 signature, and the claims sub,
// tid, exp and iat; exp, iat and nbf are checked with a leeway (30s by
// default). A verified token's claims are kept in a bounded cache until it
// expires, found by a SHA-512/256 of its signature and compared with the
// signed part of the token (the token itself is never kept), so a token
// seen before costs a short hash and a map lookup rather than an Ed25519
// verification.
//
// Request, Decision and Claims have JSON tags, so that a host can call the
// guard across a JSON boundary (the core module's edge_check op).
package edge
