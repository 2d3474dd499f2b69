package app_test

// These tests keep openapi.json true to the server: its operations are the
// routes the server registers, its security and scope claims hold against
// real keys, every answer the server gives in them is documented and fits
// its schema, and its request schemas accept what the server accepts and
// refuse what it refuses (unknown fields). The scenario tests in cmd/vakt
// cover behaviour; these cover the description.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/app"
	"github.com/vaktmfa/vakt/internal/apptest"
)

// anonymous lists the operations that take no credentials at the HTTP
// level: the public endpoints, and a push device's answer, whose signature
// in the body is its credential.
var anonymous = map[string]bool{
	"GET /healthz":               true,
	"GET /metrics":               true,
	"GET /openapi.json":          true,
	"GET /.well-known/jwks.json": true,
	"POST /v1/tenants/{t}/challenges/{id}/respond": true,
}

var methods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// operation is one method and path of the document.
type operation struct {
	method, path string // "POST", "/v1/keys"
	id           string
	op           map[string]any
}

func (o operation) key() string { return o.method + " " + o.path }

// spec is the parsed document.
type spec struct {
	root map[string]any
	ops  []operation
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(app.OpenAPI, &root); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	s := &spec{root: root}
	paths, _ := root["paths"].(map[string]any)
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		item, _ := paths[p].(map[string]any)
		for _, m := range methods {
			if op, ok := item[m].(map[string]any); ok {
				id, _ := op["operationId"].(string)
				s.ops = append(s.ops, operation{method: strings.ToUpper(m), path: p, id: id, op: op})
			}
		}
	}
	return s
}

func (s *spec) op(t *testing.T, id string) operation {
	t.Helper()
	for _, o := range s.ops {
		if o.id == id {
			return o
		}
	}
	t.Fatalf("no operation %s in openapi.json", id)
	return operation{}
}

// resolve follows a local $ref ("#/components/schemas/Error").
func (s *spec) resolve(ref string) (any, error) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = s.root
	for _, tok := range strings.Split(p, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
		}
	}
	return cur, nil
}

// deref returns v, or what its $ref points to.
func (s *spec) deref(t *testing.T, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	if r, ok := m["$ref"].(string); ok {
		target, err := s.resolve(r)
		if err != nil {
			t.Fatal(err)
		}
		m, _ = target.(map[string]any)
	}
	return m
}

// params lists an operation's parameters (path-level and its own).
func (s *spec) params(t *testing.T, o operation) []map[string]any {
	t.Helper()
	var out []map[string]any
	item, _ := s.root["paths"].(map[string]any)[o.path].(map[string]any)
	for _, list := range []any{item["parameters"], o.op["parameters"]} {
		ps, _ := list.([]any)
		for _, p := range ps {
			out = append(out, s.deref(t, p))
		}
	}
	return out
}

// security is an operation's effective security requirements.
func (s *spec) security(o operation) []any {
	if sec, ok := o.op["security"].([]any); ok {
		return sec
	}
	sec, _ := s.root["security"].([]any)
	return sec
}

// allows reports whether the operation's security lets scheme through;
// scheme "" asks whether it may be called with no credentials at all.
func (s *spec) allows(o operation, scheme string) bool {
	sec := s.security(o)
	if scheme == "" && len(sec) == 0 {
		return true
	}
	for _, req := range sec {
		r, _ := req.(map[string]any)
		if _, ok := r[scheme]; ok || scheme == "" && len(r) == 0 {
			return true
		}
	}
	return false
}

func (s *spec) scopes(o operation) []string {
	list, _ := o.op["x-vakt-scopes"].([]any)
	var out []string
	for _, v := range list {
		out = append(out, v.(string))
	}
	return out
}

// ---- the document alone -----------------------------------------------------

func TestOpenAPIDocument(t *testing.T) {
	s := loadSpec(t)
	if s.root["openapi"] != "3.1.0" {
		t.Errorf("openapi is %v, want 3.1.0", s.root["openapi"])
	}
	info, _ := s.root["info"].(map[string]any)
	if info["title"] != "Vakt HTTP API" || info["version"] != "1" {
		t.Errorf("info: title %v, version %v", info["title"], info["version"])
	}
	if len(s.ops) == 0 {
		t.Fatal("no operations")
	}

	// Every $ref resolves inside the document.
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				if _, err := s.resolve(r); err != nil {
					t.Errorf("%s: %v", at, err)
				}
			}
			for k, x := range v {
				walk(x, at+"/"+k)
			}
		case []any:
			for i, x := range v {
				walk(x, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(s.root, "#")

	schemes, _ := s.root["components"].(map[string]any)["securitySchemes"].(map[string]any)
	ids := map[string]bool{}
	template := regexp.MustCompile(`\{([^}]+)\}`)
	for _, o := range s.ops {
		if o.id == "" || ids[o.id] {
			t.Errorf("%s: operationId %q is missing or not unique", o.key(), o.id)
		}
		ids[o.id] = true
		if o.op["summary"] == nil {
			t.Errorf("%s: no summary", o.key())
		}

		// Path parameters are exactly the template's, and required.
		want := map[string]bool{}
		for _, m := range template.FindAllStringSubmatch(o.path, -1) {
			want[m[1]] = true
		}
		got := map[string]bool{}
		for _, p := range s.params(t, o) {
			if p["in"] == "path" {
				name, _ := p["name"].(string)
				got[name] = true
				if p["required"] != true {
					t.Errorf("%s: path parameter %s is not required", o.key(), name)
				}
			}
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: path parameters %v, want %v", o.key(), slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}

		// A success, and a 400 wherever ids or a body can be wrong.
		responses, _ := o.op["responses"].(map[string]any)
		ok := false
		for code := range responses {
			ok = ok || strings.HasPrefix(code, "2")
		}
		if !ok {
			t.Errorf("%s: no 2xx response", o.key())
		}
		if _, hasBody := o.op["requestBody"]; (hasBody || len(want) > 0) && responses["400"] == nil {
			t.Errorf("%s: takes a body or ids but documents no 400", o.key())
		}

		// Security: the anonymous operations say so (security: []); every
		// other declares requirements that name known schemes; bearer
		// operations list their scopes and document 401.
		sec := s.security(o)
		if anonymous[o.key()] {
			if list, ok := o.op["security"].([]any); !ok || len(list) != 0 {
				t.Errorf("%s: an operation without credentials must declare security: []", o.key())
			}
		} else if len(sec) == 0 {
			t.Errorf("%s: declares no security", o.key())
		}
		for _, req := range sec {
			for name := range req.(map[string]any) {
				if schemes[name] == nil {
					t.Errorf("%s: security names an unknown scheme %q", o.key(), name)
				}
			}
		}
		if s.allows(o, "apiKey") != (o.op["x-vakt-scopes"] != nil) {
			t.Errorf("%s: x-vakt-scopes must be given exactly when an API key is accepted", o.key())
		}
		if !anonymous[o.key()] && responses["401"] == nil {
			t.Errorf("%s: needs credentials but documents no 401", o.key())
		}
	}

	// Request bodies are closed, as the server refuses unknown fields, and
	// their examples fit them.
	v := &validator{s: s}
	for _, o := range s.ops {
		rb, ok := o.op["requestBody"]
		if !ok {
			continue
		}
		mt, _ := s.deref(t, rb)["content"].(map[string]any)["application/json"].(map[string]any)
		if mt == nil {
			t.Errorf("%s: the request body is not application/json", o.key())
			continue
		}
		checkClosed(t, s, mt["schema"], o.key()+" request", map[string]bool{})
		examples, _ := mt["examples"].(map[string]any)
		for name, ex := range examples {
			value := s.deref(t, ex)["value"]
			if errs := v.validate(mt["schema"], value, "body"); len(errs) > 0 {
				t.Errorf("%s: example %q does not fit the schema: %v", o.key(), name, errs)
			}
		}
	}

	// The error codes are vakt.Codes, and each belongs to one status.
	comps, _ := s.root["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	var enum []vakt.Code
	for _, c := range schemas["ErrorCode"].(map[string]any)["enum"].([]any) {
		enum = append(enum, vakt.Code(c.(string)))
	}
	if !slices.Equal(enum, vakt.Codes) {
		t.Errorf("ErrorCode is %v, want vakt.Codes %v", enum, vakt.Codes)
	}
	seen := map[string]string{}
	for name, r := range comps["responses"].(map[string]any) {
		codes, _ := r.(map[string]any)["x-vakt-error-codes"].([]any)
		for _, c := range codes {
			if other, dup := seen[c.(string)]; dup {
				t.Errorf("error code %s is in both %s and %s", c, other, name)
			}
			seen[c.(string)] = name
		}
	}
	for _, c := range vakt.Codes {
		if seen[string(c)] == "" {
			t.Errorf("error code %s is in no response's x-vakt-error-codes", c)
		}
	}
}

// checkClosed fails unless every object schema reachable from v says
// additionalProperties: false.
func checkClosed(t *testing.T, s *spec, v any, at string, seen map[string]bool) {
	t.Helper()
	m, _ := v.(map[string]any)
	if m == nil {
		return
	}
	if r, ok := m["$ref"].(string); ok {
		if seen[r] {
			return
		}
		seen[r] = true
		target, err := s.resolve(r)
		if err != nil {
			t.Fatal(err)
		}
		checkClosed(t, s, target, at+" "+r, seen)
	}
	if m["type"] == "object" && m["additionalProperties"] != false {
		t.Errorf("%s: an object in a request body without additionalProperties: false", at)
	}
	props, _ := m["properties"].(map[string]any)
	for name, p := range props {
		checkClosed(t, s, p, at+"."+name, seen)
	}
	for _, key := range []string{"items", "additionalProperties"} {
		checkClosed(t, s, m[key], at, seen)
	}
	for _, key := range []string{"oneOf", "anyOf", "allOf"} {
		list, _ := m[key].([]any)
		for _, x := range list {
			checkClosed(t, s, x, at, seen)
		}
	}
}

// ---- the document against the server -------------------------------------------

const tenant = "example.org"

type harness struct {
	t     *testing.T
	s     *spec
	v     *validator
	a     *app.App
	clock *apptest.Clock // the app's; the test moves it to the next TOTP step
}

func openHarness(t *testing.T) *harness {
	t.Helper()
	// A set VAKT_API_KEY (even empty) changes where the admin key comes
	// from; unset, the app makes one in the data directory.
	if v, ok := os.LookupEnv("VAKT_API_KEY"); ok {
		os.Unsetenv("VAKT_API_KEY")
		t.Cleanup(func() { os.Setenv("VAKT_API_KEY", v) })
	}
	c := &apptest.Clock{}
	ctx := context.Background()
	a, err := app.Open(ctx, app.Config{DataDir: t.TempDir(), PublicURL: "http://127.0.0.1:0", NoSync: true, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	s := loadSpec(t)
	return &harness{t: t, s: s, v: &validator{s: s, strict: true}, a: a, clock: c}
}

// answer is a reply from the server.
type answer struct {
	status int
	body   []byte
	ctype  string
	m      map[string]any
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body)) }

func (a answer) str(k string) string { s, _ := a.m[k].(string); return s }

// fill puts values into a path template.
func fill(path string, vals map[string]string) string {
	for k, v := range vals {
		path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v))
	}
	return path
}

// call sends a request to the app's handler; auth is the whole
// Authorization header ("" for none), body nil for none.
func (h *harness) call(method, path, auth string, body any) answer {
	h.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		req = httptest.NewRequest(method, path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.a.Handler().ServeHTTP(rec, req)
	a := answer{status: rec.Code, body: rec.Body.Bytes(), ctype: rec.Header().Get("Content-Type")}
	if strings.HasPrefix(a.ctype, "application/json") && len(a.body) > 0 {
		json.Unmarshal(a.body, &a.m)
	}
	return a
}

// checkAnswer fails unless the operation documents the answer's status and
// the body fits what it documents there.
func (h *harness) checkAnswer(o operation, a answer) {
	h.t.Helper()
	responses, _ := o.op["responses"].(map[string]any)
	r, ok := responses[strconv.Itoa(a.status)]
	if !ok {
		h.t.Errorf("%s: answered %s; the document has no %d for it", o.key(), a, a.status)
		return
	}
	resp := h.s.deref(h.t, r)
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		if len(a.body) > 0 {
			h.t.Errorf("%s: answered %s; the document says no content", o.key(), a)
		}
		return
	}
	mediaType, _, _ := strings.Cut(a.ctype, ";")
	if mediaType == "text/plain" {
		if content["text/plain"] == nil {
			h.t.Errorf("%s: answered text/plain; documented %v", o.key(), slices.Sorted(maps.Keys(content)))
		}
		return
	}
	mt, _ := content[mediaType].(map[string]any)
	if mt == nil {
		h.t.Errorf("%s: answered %s with Content-Type %q; documented %v", o.key(), a, a.ctype, slices.Sorted(maps.Keys(content)))
		return
	}
	var v any
	if err := json.Unmarshal(a.body, &v); err != nil {
		h.t.Errorf("%s: the answer is not JSON: %v: %s", o.key(), err, a)
		return
	}
	if errs := h.v.validate(mt["schema"], v, "answer"); len(errs) > 0 {
		h.t.Errorf("%s: %s does not fit the document: %v", o.key(), a, errs)
	}
	if codes, ok := resp["x-vakt-error-codes"].([]any); ok {
		e, _ := a.m["error"].(map[string]any)
		if !slices.Contains(codes, e["code"]) {
			h.t.Errorf("%s: answered %s; the document's %d lists codes %v", o.key(), a, a.status, codes)
		}
	}
}

// request sends body (which must fit the operation's request schema) to the
// operation and checks that the server answers want.
func (h *harness) request(id, auth string, vals map[string]string, body any, want int) answer {
	h.t.Helper()
	o := h.s.op(h.t, id)
	if body != nil {
		if errs := h.v.validate(h.bodySchema(o), roundTrip(h.t, body), "body"); len(errs) > 0 {
			h.t.Fatalf("%s: the test's body does not fit the document: %v", id, errs)
		}
	}
	a := h.call(o.method, fill(o.path, vals), auth, body)
	h.checkAnswer(o, a)
	if a.status != want {
		h.t.Fatalf("%s %s: %s, want %d", o.method, fill(o.path, vals), a, want)
	}
	return a
}

// refuse checks that both the document and the server refuse body.
func (h *harness) refuse(id, auth string, vals map[string]string, body any) {
	h.t.Helper()
	o := h.s.op(h.t, id)
	if errs := h.v.validate(h.bodySchema(o), roundTrip(h.t, body), "body"); len(errs) == 0 {
		h.t.Errorf("%s: the document accepts %v", id, body)
	}
	a := h.call(o.method, fill(o.path, vals), auth, body)
	h.checkAnswer(o, a)
	if e, _ := a.m["error"].(map[string]any); a.status != http.StatusBadRequest || e["code"] != "invalid_argument" {
		h.t.Errorf("%s with %v: %s, want 400 invalid_argument", id, body, a)
	}
}

func (h *harness) bodySchema(o operation) any {
	rb := h.s.deref(h.t, o.op["requestBody"])
	return rb["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
}

// roundTrip turns a Go value into what JSON decoding gives.
func roundTrip(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}

// key makes an API key of scope for the test tenant.
func (h *harness) key(scope string) string {
	h.t.Helper()
	a := h.request("createKey", "Bearer "+h.a.AdminKey, nil, map[string]any{"scope": scope, "tenant": tenant, "label": scope}, http.StatusCreated)
	return a.str("key")
}

func TestOpenAPIMatchesServer(t *testing.T) {
	h := openHarness(t)

	t.Run("routes", func(t *testing.T) {
		routes := map[string]bool{}
		for _, r := range h.a.Server.Routes() {
			routes[r] = true
		}
		doc := map[string]bool{}
		for _, o := range h.s.ops {
			doc[o.key()] = true
		}
		for r := range routes {
			if !doc[r] {
				t.Errorf("the server registers %q; openapi.json does not describe it", r)
			}
		}
		for r := range doc {
			if !routes[r] {
				t.Errorf("openapi.json describes %q; the server does not register it", r)
			}
		}
	})

	t.Run("served", func(t *testing.T) {
		a := h.call("GET", "/openapi.json", "", nil)
		if a.status != http.StatusOK || !bytes.Equal(a.body, app.OpenAPI) {
			t.Errorf("GET /openapi.json: %d, %d bytes; want the embedded document", a.status, len(a.body))
		}
	})

	// Every operation, called with no credentials and with a key of each
	// scope, answers only what it documents; bearer operations refuse the
	// scopes they do not list, and the admin key is refused nowhere.
	t.Run("credentials", func(t *testing.T) {
		h := *h
		h.t = t
		keys := []struct{ scope, auth string }{
			{"", ""},
			{"relying_party", "Bearer " + h.key("relying_party")},
			{"helpdesk", "Bearer " + h.key("helpdesk")},
			{"tenant_admin", "Bearer " + h.key("tenant_admin")},
			{"admin", "Bearer " + h.a.AdminKey},
		}
		for _, o := range h.s.ops {
			user := "sweep-" + o.id // a fresh user each, so that one call's effects do not reach another's
			id := "01900000-0000-7000-8000-000000000001"
			switch {
			case strings.Contains(o.path, "/challenges/{id}"):
				id += "~" + base64.RawURLEncoding.EncodeToString([]byte(user))
			case strings.HasPrefix(o.path, "/v1/keys/"):
				id = "AAAAAAAAAAAAAAAAAAAAAA"
			}
			path := fill(o.path, map[string]string{"t": tenant, "u": user, "id": id})
			bearer, device := h.s.allows(o, "apiKey"), h.s.allows(o, "device")
			for _, k := range keys {
				a := h.call(o.method, path, k.auth, nil)
				h.checkAnswer(o, a)
				who := k.scope
				if who == "" {
					who = "no credentials"
				}
				switch {
				case anonymous[o.key()] && strings.HasPrefix(o.path, "/v1/"):
					// A device's answer: the engine checks its body.
				case anonymous[o.key()]:
					if a.status != http.StatusOK {
						t.Errorf("%s with %s: %s, want 200", o.key(), who, a)
					}
				case device && !bearer:
					if a.status != http.StatusUnauthorized {
						t.Errorf("%s with %s (not a device signature): %s, want 401", o.key(), who, a)
					}
				case k.auth == "" && !h.s.allows(o, ""):
					if a.status != http.StatusUnauthorized {
						t.Errorf("%s without credentials: %s, want 401", o.key(), a)
					}
				case k.scope != "" && !slices.Contains(h.s.scopes(o), k.scope):
					if a.status != http.StatusUnauthorized {
						t.Errorf("%s with a %s key, a scope x-vakt-scopes does not list: %s, want 401", o.key(), k.scope, a)
					}
				case k.scope == "admin" && a.status == http.StatusUnauthorized:
					t.Errorf("%s with the admin key: %s", o.key(), a)
				}
			}
		}
	})

	// A sign-in, with bodies that fit the document: the server accepts
	// them, answers as documented, and refuses each with a field added.
	t.Run("requests", func(t *testing.T) {
		h := *h
		h.t = t
		admin := "Bearer " + h.a.AdminKey
		h.refuse("createKey", admin, nil, map[string]any{"scope": "relying_party", "tenant": tenant, "expires": "never"})
		rp := "Bearer " + h.key("relying_party")
		ids := map[string]string{"t": tenant, "u": "ola"}

		enrol := map[string]any{"method": "totp", "label": "Phone"}
		h.refuse("enrolAuthenticator", rp, ids, with(enrol, "issuer", "Evil"))
		e := h.request("enrolAuthenticator", rp, ids, enrol, http.StatusCreated)
		ids["id"] = e.str("authenticator_id")
		h.refuse("confirmAuthenticator", rp, ids, map[string]any{"code": "123456", "device": "x"})
		h.request("confirmAuthenticator", rp, ids, map[string]any{"code": totp(t, e.str("secret"), h.clock.Now())}, http.StatusOK)
		h.request("listAuthenticators", rp, ids, nil, http.StatusOK)

		h.clock.Advance(30 * time.Second) // the confirming code's step is used
		issue := map[string]any{"app": "web", "required_acr": "substantial",
			"context": map[string]any{"application": "Portal", "ip": "192.0.2.1", "user_agent": "Go", "location": "Oslo"}}
		h.refuse("issueChallenge", rp, ids, with(issue, "user", "kari"))
		h.refuse("issueChallenge", rp, ids, with(issue, "context", with(issue["context"].(map[string]any), "browser", "x")))
		c := h.request("issueChallenge", rp, ids, issue, http.StatusCreated)
		if c.str("status") != "pending" {
			t.Fatalf("challenge: %s", c)
		}
		ids["id"] = c.str("challenge_id")
		verify := map[string]any{"code": totp(t, e.str("secret"), h.clock.Now()), "remember_device": true}
		h.refuse("verifyChallenge", rp, ids, with(verify, "remember", true))
		if v := h.request("verifyChallenge", rp, ids, verify, http.StatusOK); v.str("token") == "" || v.str("remember_token") == "" {
			t.Errorf("verify: %s", v)
		}
		h.request("getChallenge", rp, ids, nil, http.StatusOK)

		policy := map[string]any{"issuer": "Example", "totp": map[string]any{"digits": 6}, "apps": []any{map[string]any{"name": "web", "remember_for": "20d"}}}
		h.refuse("setPolicy", admin, ids, with(policy, "mode", "strict"))
		h.refuse("setPolicy", admin, ids, with(policy, "totp", map[string]any{"digest": "SHA1"}))
		h.request("setPolicy", admin, ids, policy, http.StatusOK)
	})
}

// with returns a copy of m with k set to v.
func with(m map[string]any, k string, v any) map[string]any {
	out := maps.Clone(m)
	out[k] = v
	return out
}

// totp is RFC 6238 with SHA-1, 6 digits and 30-second steps (the default
// policy).
func totp(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(strings.ToUpper(secret), "="))
	if err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:])&0x7fffffff)%1000000)
}

// ---- a small JSON Schema validator ---------------------------------------------

// validator checks values against the document's schemas: the keywords the
// document uses ($ref, type, const, enum, properties, required,
// additionalProperties, items, oneOf, anyOf, allOf, if/then, pattern,
// lengths, bounds, and the uuid and date-time formats). With strict, an
// object schema that lists properties and says nothing of others refuses
// the others too, so that answers cannot carry undocumented fields.
type validator struct {
	s      *spec
	strict bool
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func (v *validator) validate(schema, x any, at string) []string {
	m, ok := schema.(map[string]any)
	if !ok {
		return nil
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if r, ok := m["$ref"].(string); ok {
		target, err := v.s.resolve(r)
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		errs = append(errs, v.validate(target, x, at)...)
	}
	if t, ok := m["type"]; ok {
		types, ok := t.([]any)
		if !ok {
			types = []any{t}
		}
		if !slices.ContainsFunc(types, func(t any) bool { return isType(x, t.(string)) }) {
			return append(errs, at+": "+fmt.Sprintf("%s is not of type %v", short(x), t))
		}
	}
	if c, ok := m["const"]; ok && !reflect.DeepEqual(c, x) {
		bad("%s is not %v", short(x), c)
	}
	if list, ok := m["enum"].([]any); ok && !slices.ContainsFunc(list, func(e any) bool { return reflect.DeepEqual(e, x) }) {
		bad("%s is not one of %v", short(x), list)
	}
	switch x := x.(type) {
	case string:
		n := float64(utf8.RuneCountInString(x))
		if min, ok := m["minLength"].(float64); ok && n < min {
			bad("shorter than %v", min)
		}
		if max, ok := m["maxLength"].(float64); ok && n > max {
			bad("longer than %v", max)
		}
		if p, ok := m["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			bad("%q does not match %s", x, p)
		}
		switch m["format"] {
		case "uuid":
			if !uuidRE.MatchString(x) {
				bad("%q is not a lowercase UUID", x)
			}
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				bad("%q is not an RFC 3339 time", x)
			}
		}
	case float64:
		if min, ok := m["minimum"].(float64); ok && x < min {
			bad("%v is below %v", x, min)
		}
		if max, ok := m["maximum"].(float64); ok && x > max {
			bad("%v is above %v", x, max)
		}
	case []any:
		if min, ok := m["minItems"].(float64); ok && float64(len(x)) < min {
			bad("fewer than %v items", min)
		}
		if max, ok := m["maxItems"].(float64); ok && float64(len(x)) > max {
			bad("more than %v items", max)
		}
		for i, e := range x {
			errs = append(errs, v.validate(m["items"], e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case map[string]any:
		req, _ := m["required"].([]any)
		for _, k := range req {
			if _, ok := x[k.(string)]; !ok {
				bad("%q is missing", k)
			}
		}
		props, _ := m["properties"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if p, ok := props[k]; ok {
				errs = append(errs, v.validate(p, x[k], at+"."+k)...)
				continue
			}
			switch ap := m["additionalProperties"].(type) {
			case bool:
				if !ap {
					bad("unknown property %q", k)
				}
			case map[string]any:
				errs = append(errs, v.validate(ap, x[k], at+"."+k)...)
			case nil:
				if v.strict && m["type"] == "object" && props != nil {
					bad("property %q is not documented", k)
				}
			}
		}
	}
	if list, ok := m["allOf"].([]any); ok {
		for _, s := range list {
			errs = append(errs, v.validate(s, x, at)...)
		}
	}
	if list, ok := m["anyOf"].([]any); ok && !slices.ContainsFunc(list, func(s any) bool { return len(v.validate(s, x, at)) == 0 }) {
		bad("fits none of anyOf")
	}
	if list, ok := m["oneOf"].([]any); ok {
		n := 0
		var why []string
		for _, s := range list {
			e := v.validate(s, x, at)
			if len(e) == 0 {
				n++
			}
			why = append(why, e...)
		}
		if n != 1 {
			bad("fits %d of oneOf, want 1 (%v)", n, why)
		}
	}
	if cond, ok := m["if"]; ok && len(v.validate(cond, x, at)) == 0 {
		errs = append(errs, v.validate(m["then"], x, at)...)
	}
	return errs
}

func isType(x any, t string) bool {
	switch x := x.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case float64:
		return t == "number" || t == "integer" && x == float64(int64(x))
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	}
	return false
}

func short(x any) string {
	b, _ := json.Marshal(x)
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}
