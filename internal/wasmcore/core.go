// Package wasmcore is the body of Vakt's core WebAssembly module
// (wasm/core): it answers one JSON request of ABI v1 (wasm/ABI.md) with one
// JSON answer. It is an ordinary Go package so that the same code runs
// natively too: in tests, in fuzzing, and as the "native through the ABI"
// baseline of the benchmarks. wasm/core only adds the exports and the
// memory handling around [Core.Call].
//
// A Core is one instance's state (caches of folded user states, decoded
// policies and prepared data keys); it is not safe for concurrent use,
// exactly like a module instance.
package wasmcore

import (
	"bytes"
	"container/list"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/edge"
	"github.com/vaktmfa/vakt/internal/jsonx"
	"github.com/vaktmfa/vakt/internal/wasmbuf"
	"github.com/vaktmfa/vakt/projections"
)

// ABIVersion is what vakt_abi_version returns.
const ABIVersion = 1

// MaxRequest bounds one request (4 MiB).
const MaxRequest = wasmbuf.MaxRequest

// MaxCachedStates bounds the user states one instance keeps.
const MaxCachedStates = 4096

// CodeStateUnknown is the ABI's own error code: a request named a cached
// state (after) that this instance does not hold.
const CodeStateUnknown vakt.Code = "state_unknown"

var opNames = []string{"decide", "evolve", "project", "edge_check", "info", "bench_hmac", "bench_ed25519"}

// Core is one module instance's state.
type Core struct {
	states  map[streamKey]*list.Element
	order   *list.List // of *cachedState, most recent first
	policy  []byte     // the raw policy of the last request that had one
	policyV *engine.Policy
	keys    map[string]*engine.DataKey
	hmacKey []byte
	// edge_check: the guard compiled from the last config, kept (with its
	// cache of verified tokens) while the config bytes stay the same.
	edgeConfig []byte
	guard      *edge.Guard
}

type streamKey struct{ tenant, user string }

type cachedState struct {
	key    streamKey
	user   *engine.User
	tenant *engine.Tenant
	head   events.Head
}

// New returns an instance with empty caches.
func New() *Core {
	c := &Core{}
	c.reset()
	return c
}

func (c *Core) reset() {
	c.states, c.order = map[streamKey]*list.Element{}, list.New()
	c.policy, c.policyV = nil, nil
	c.keys = map[string]*engine.DataKey{}
}

// Request is an ABI request: the union of every op's fields. Unknown keys
// are refused.
type Request struct {
	Op string `json:"op"`

	Tenant  *string            `json:"tenant"`
	User    *string            `json:"user"`
	Policy  jsonx.RawMessage   `json:"policy"`
	DataKey *string            `json:"data_key"`
	Given   []jsonx.RawMessage `json:"given"`
	Time    *string            `json:"time"`
	Entropy *string            `json:"entropy"`
	Command jsonx.RawMessage   `json:"command"`
	Keep    bool               `json:"keep"`
	After   *events.Head       `json:"after"`
	State   jsonx.RawMessage   `json:"state"`
	Model   string             `json:"model"`
	Events  []jsonx.RawMessage `json:"events"`
	N       int                `json:"n"`

	Config      jsonx.RawMessage `json:"config"`  // edge_check
	EdgeRequest *edge.Request    `json:"request"` // edge_check
}

// Call answers one request. It never panics: a panic inside an op is
// recovered, the caches are cleared and the answer is an internal error.
func (c *Core) Call(req []byte) (out []byte) {
	defer func() {
		if p := recover(); p != nil {
			c.reset()
			out = ErrorAnswer(vakt.CodeInternal, fmt.Sprintf("internal error in the module (a bug: %v); the instance's caches were cleared", p))
		}
	}()
	if len(req) > MaxRequest {
		return ErrorAnswer(vakt.CodeInvalidArgument, fmt.Sprintf("the request is %d bytes; the limit is %d", len(req), MaxRequest))
	}
	var r Request
	if err := decodeRequest(req, &r); err != nil {
		return ErrorAnswer(vakt.CodeInvalidArgument, "the request is not a valid ABI request: "+err.Error())
	}
	var ok []byte
	var err error
	switch r.Op {
	case "decide":
		ok, err = c.decide(&r)
	case "evolve":
		ok, err = c.evolve(&r)
	case "project":
		ok, err = c.project(&r)
	case "info":
		ok, err = c.info()
	case "bench_hmac":
		ok, err = c.benchHMAC(r.N)
	case "bench_ed25519":
		ok, err = c.benchEd25519(r.N)
	case "edge_check":
		ok, err = c.edgeCheck(&r)
	case "":
		err = invalid("the request has no op; the ops are %s", strings.Join(opNames, ", "))
	default:
		err = invalid("unknown op %q; the ops are %s", r.Op, strings.Join(opNames, ", "))
	}
	if err != nil {
		e := vakt.As(err)
		return ErrorAnswer(e.Code, e.Message)
	}
	b := make([]byte, 0, len(ok)+7)
	b = append(b, `{"ok":`...)
	b = append(b, ok...)
	return append(b, '}')
}

func invalid(format string, args ...any) error {
	return vakt.Errorf(vakt.CodeInvalidArgument, format, args...)
}

// ErrorAnswer writes an error answer.
func ErrorAnswer(code vakt.Code, msg string) []byte {
	b := []byte(`{"error":{"code":`)
	b = appendJSONString(b, string(code))
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	return append(b, "}}"...)
}

func appendJSONString(b []byte, s string) []byte { return jsonx.AppendString(b, s) }

// ---- state ---------------------------------------------------------------------

// folded is a stream's state after the request's events.
type folded struct {
	user   *engine.User
	tenant *engine.Tenant
}

// fold builds the state a request names: the cached state (after), a given
// state, or an empty stream, plus the given events, checked as a hash chain.
func (c *Core) fold(r *Request) (folded, error) {
	if r.Tenant == nil || r.User == nil {
		return folded{}, invalid("tenant and user are required (user \"\" for the tenant stream)")
	}
	stream := events.Stream{Tenant: *r.Tenant, User: *r.User}
	if err := stream.Validate(); err != nil {
		return folded{}, err
	}
	key := streamKey{stream.Tenant, stream.User}
	var f folded
	var head events.Head
	switch {
	case r.After != nil:
		if r.State != nil {
			return folded{}, invalid("after and state exclude each other")
		}
		el, ok := c.states[key]
		cs, _ := elValue(el)
		if !ok || cs.head.Seq != r.After.Seq || cs.head.Hash != r.After.Hash {
			return folded{}, vakt.Errorf(CodeStateUnknown, "this instance holds no state of %s at seq %d; send the request again with all events", stream, r.After.Seq)
		}
		c.order.MoveToFront(el)
		if cs.user != nil {
			f.user = cs.user // cloned below before any event changes it
		} else {
			t := *cs.tenant
			f.tenant = &t
		}
		head = cs.head
	case len(r.State) > 0 && !bytes.Equal(r.State, []byte("null")):
		if stream.User == "" {
			var t engine.Tenant
			if err := jsonx.Unmarshal(r.State, &t); err != nil {
				return folded{}, invalid("state: %v", err)
			}
			if t.ID != stream.Tenant {
				return folded{}, invalid("state: it is tenant %q's, not %q's", t.ID, stream.Tenant)
			}
			f.tenant, head = &t, t.Head
		} else {
			var u engine.User
			if err := jsonx.Unmarshal(r.State, &u); err != nil {
				return folded{}, invalid("state: %v", err)
			}
			if u.Tenant != stream.Tenant || u.ID != stream.User {
				return folded{}, invalid("state: it is of tenant %q user %q, not of %s", u.Tenant, u.ID, stream)
			}
			f.user, head = &u, u.Head
		}
	default:
		if stream.User == "" {
			f.tenant = engine.NewTenant(stream.Tenant)
		} else {
			f.user = engine.NewUser(stream.Tenant, stream.User)
		}
	}
	if len(r.Given) > 0 {
		if f.user != nil && r.After != nil {
			f.user = f.user.Clone()
		}
		// While the events continue the stream in order, the chain is
		// checked here with one hash per event; at the first that does not,
		// a Verifier (trusting what was checked so far) takes over and words
		// the break, exactly as if it had checked every event.
		var ver *events.Verifier
		prev, seq := head.Hash, head.Seq
		for i, raw := range r.Given {
			rec, err := decodeEnvelope(raw)
			if err != nil {
				return folded{}, invalid("given[%d]: %v", i, vakt.As(err).Message)
			}
			rec.Hash = events.ChainHash(prev, rec.Raw)
			if ver == nil && (rec.Seq != seq+1 || rec.Prev != prev || rec.Stream() != stream) {
				ver = events.NewVerifier()
				ver.Trust(stream, events.Head{Seq: seq, Hash: prev})
			}
			if ver != nil {
				if brk := ver.Check(&rec); brk != nil {
					return folded{}, invalid("given[%d]: %v", i, brk)
				}
			}
			prev, seq = rec.Hash, rec.Seq
			if f.user != nil {
				err = f.user.Evolve(&rec)
			} else {
				err = f.tenant.Evolve(&rec)
			}
			if err != nil {
				return folded{}, invalid("given[%d]: %v", i, vakt.As(err).Message)
			}
		}
	}
	if r.Keep {
		var h events.Head
		if f.user != nil {
			h = f.user.Head
		} else {
			h = f.tenant.Head
		}
		c.keep(&cachedState{key: key, user: f.user, tenant: f.tenant, head: h})
	}
	return f, nil
}

func elValue(el *list.Element) (*cachedState, bool) {
	if el == nil {
		return nil, false
	}
	return el.Value.(*cachedState), true
}

// keep caches a state. A cached user is never changed afterwards (a fold on
// top of it works on a clone), so the same pointer may be decided on.
func (c *Core) keep(cs *cachedState) {
	if cs.tenant != nil {
		t := *cs.tenant
		cs.tenant = &t
	}
	if el, ok := c.states[cs.key]; ok {
		el.Value = cs
		c.order.MoveToFront(el)
		return
	}
	c.states[cs.key] = c.order.PushFront(cs)
	for c.order.Len() > MaxCachedStates {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.states, last.Value.(*cachedState).key)
	}
}

// decodeEnvelope decodes one envelope of a request: whitespace is removed
// first (the stored bytes are compact), then events.Decode.
func decodeEnvelope(raw []byte) (events.Record, error) {
	b := raw
	if needsCompact(raw) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return events.Record{}, err
		}
		b = buf.Bytes()
	} else {
		b = bytes.Clone(raw)
	}
	return events.Decode(b)
}

// needsCompact reports whether raw may hold insignificant whitespace.
func needsCompact(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\n', '\r', '\t':
			return true
		}
	}
	return false
}

// ---- decide --------------------------------------------------------------------

func (c *Core) env(r *Request) (engine.Env, error) {
	var env engine.Env
	if r.Time == nil {
		return env, invalid("time is required (RFC 3339)")
	}
	t, err := time.Parse(time.RFC3339Nano, *r.Time)
	if err != nil {
		return env, invalid("time: %v", err)
	}
	env.Now = t
	if r.Entropy == nil {
		return env, invalid("entropy is required (a hex seed)")
	}
	seed, err := hex.DecodeString(*r.Entropy)
	if err != nil {
		return env, invalid("entropy: %v", err)
	}
	env.Rand = engine.SeededRand(seed)
	if len(r.Policy) > 0 && !bytes.Equal(r.Policy, []byte("null")) {
		if !bytes.Equal(r.Policy, c.policy) {
			var p engine.Policy
			if err := jsonx.Unmarshal(r.Policy, &p); err != nil {
				return env, invalid("policy: %v", err)
			}
			c.policy, c.policyV = bytes.Clone(r.Policy), &p
		}
		p := *c.policyV // Decide does not change it; a copy keeps the cache safe anyway
		env.Policy = &p
	}
	if r.DataKey != nil && *r.DataKey != "" {
		k, ok := c.keys[*r.DataKey]
		if !ok {
			raw, err := hex.DecodeString(*r.DataKey)
			if err != nil {
				return env, invalid("data_key: %v", err)
			}
			if k, err = engine.NewDataKey(raw); err != nil {
				return env, invalid("data_key: %v", vakt.As(err).Message)
			}
			if len(c.keys) >= 256 {
				clear(c.keys)
			}
			c.keys[*r.DataKey] = k
		}
		env.DataKey = k
	}
	return env, nil
}

func (c *Core) decide(r *Request) ([]byte, error) {
	f, err := c.fold(r)
	if err != nil {
		return nil, err
	}
	if len(r.Command) == 0 {
		return nil, invalid("command is required")
	}
	cmd, cerr := engine.DecodeCommand(r.Command)
	env, err := c.env(r)
	if err != nil {
		return nil, err
	}
	if cerr != nil {
		return appendThen(nil, engine.Decision{}, cerr, false)
	}
	var dec engine.Decision
	var derr error
	if f.user != nil {
		dec, derr = engine.Decide(f.user, cmd, env)
	} else {
		dec, derr = engine.DecideTenant(f.tenant, cmd, env)
	}
	return appendThen(nil, dec, derr, derr == nil || len(dec.Events) > 0)
}

// appendThen writes a decision exactly as a vector's then object, compact:
// {"events":[{"type","v","data"}...],"reply":...,"error":{"code","message"}}.
func appendThen(b []byte, dec engine.Decision, derr error, withReply bool) ([]byte, error) {
	b = append(b, `{"events":[`...)
	for i, ev := range dec.Events {
		data, err := events.MarshalData(ev)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b = appendJSONString(b, ev.EventType())
		b = append(b, `,"v":`...)
		b = strconv.AppendInt(b, int64(events.Default.Version(ev.EventType())), 10)
		b = append(b, `,"data":`...)
		b = append(b, data...)
		b = append(b, '}')
	}
	b = append(b, ']')
	if withReply {
		var err error
		if b, err = dec.Reply.AppendJSON(append(b, `,"reply":`...)); err != nil {
			return nil, err
		}
	}
	if derr != nil {
		e := vakt.As(derr)
		b = append(b, `,"error":{"code":`...)
		b = appendJSONString(b, string(e.Code))
		b = append(b, `,"message":`...)
		b = appendJSONString(b, e.Message)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// ---- evolve, project, info -------------------------------------------------------

func (c *Core) evolve(r *Request) ([]byte, error) {
	f, err := c.fold(r)
	if err != nil {
		return nil, err
	}
	var st []byte
	if f.user != nil {
		st, err = jsonx.Marshal(f.user)
	} else {
		st, err = jsonx.Marshal(f.tenant)
	}
	if err != nil {
		return nil, err
	}
	b := []byte(`{"v":`)
	b = strconv.AppendInt(b, engine.StateVersion, 10)
	b = append(b, `,"state":`...)
	b = append(b, st...)
	return append(b, '}'), nil
}

// model is a read model of package projections.
type model interface {
	Apply(*events.Record)
}

func (c *Core) project(r *Request) ([]byte, error) {
	var m model
	switch r.Model {
	case "security_info":
		m = &projections.SecurityInfo{}
	case "challenge_status":
		m = &projections.ChallengeStatus{}
	case "audit_trail":
		m = &projections.AuditTrail{}
	case "tenant_stats":
		m = &projections.TenantStats{}
	case "":
		return nil, invalid("model is required: security_info, challenge_status, audit_trail or tenant_stats")
	default:
		return nil, invalid("unknown model %q: security_info, challenge_status, audit_trail or tenant_stats", r.Model)
	}
	if len(r.State) > 0 && !bytes.Equal(r.State, []byte("null")) {
		if err := jsonx.Unmarshal(r.State, m); err != nil {
			return nil, invalid("state: %v", err)
		}
	}
	for i, raw := range r.Events {
		rec, err := decodeEnvelope(raw)
		if err != nil {
			return nil, invalid("events[%d]: %v", i, vakt.As(err).Message)
		}
		m.Apply(&rec)
	}
	st, err := jsonx.Marshal(m)
	if err != nil {
		return nil, err
	}
	b := []byte(`{"model":`)
	b = appendJSONString(b, r.Model)
	b = append(b, `,"state":`...)
	b = append(b, st...)
	return append(b, '}'), nil
}

func (c *Core) info() ([]byte, error) {
	b := []byte(`{"abi":`)
	b = strconv.AppendInt(b, ABIVersion, 10)
	b = append(b, `,"state_version":`...)
	b = strconv.AppendInt(b, engine.StateVersion, 10)
	b = append(b, `,"max_request":`...)
	b = strconv.AppendInt(b, MaxRequest, 10)
	b = append(b, `,"ops":`...)
	b = jsonx.AppendStrings(b, opNames)
	return append(b, '}'), nil
}

// nAnswer is the answer of the bench ops: {"n":n}.
func nAnswer(n int) []byte {
	return append(strconv.AppendInt([]byte(`{"n":`), int64(n), 10), '}')
}

// ---- raw crypto floors -------------------------------------------------------------

// BenchHMAC is the raw HMAC floor: n times three HMAC-SHA1 of an 8-byte
// counter with a prepared key, as the native Limit/HMACFloor benchmark.
func (c *Core) benchHMAC(n int) ([]byte, error) {
	if n < 1 || n > 10_000_000 {
		return nil, invalid("n must be 1 to 10,000,000")
	}
	if c.hmacKey == nil {
		c.hmacKey = []byte("12345678901234567890")
	}
	HMACFloor(c.hmacKey, n)
	return nAnswer(n), nil
}

// HMACFloor computes n times three HMAC-SHA1 over an 8-byte counter with one
// prepared hash; exported so that the native benchmark runs the same code.
func HMACFloor(key []byte, n int) byte {
	m := hmac.New(sha1.New, key)
	var ctr [8]byte
	var sum [sha1.Size]byte
	var acc byte
	for i := 0; i < n; i++ {
		for s := uint64(0); s < 3; s++ {
			binary.BigEndian.PutUint64(ctr[:], uint64(59847482)+s)
			m.Reset()
			m.Write(ctr[:])
			acc ^= m.Sum(sum[:0])[0]
		}
	}
	return acc
}

var benchKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

var benchMsg = []byte("vakt push v1 uio.no ola.nordmann 01937a6e-0000-7000-8000-000000000000 approve 42")

var benchSig = ed25519.Sign(benchKey, benchMsg)

func (c *Core) benchEd25519(n int) ([]byte, error) {
	if n < 1 || n > 1_000_000 {
		return nil, invalid("n must be 1 to 1,000,000")
	}
	if !Ed25519Floor(n) {
		return nil, vakt.Errorf(vakt.CodeInternal, "ed25519 verification failed")
	}
	return nAnswer(n), nil
}

// Ed25519Floor verifies one push-sized signature n times.
func Ed25519Floor(n int) bool {
	pub := benchKey.Public().(ed25519.PublicKey)
	ok := true
	for i := 0; i < n; i++ {
		ok = ed25519.Verify(pub, benchMsg, benchSig) && ok
	}
	return ok
}

// ---- edge_check ----------------------------------------------------------------------

// edgeCheck runs the edge guard (internal/edge) on one request. The guard
// compiled from a config is kept while the next requests send the same
// config bytes, so its cache of verified tokens makes a token seen before
// cost a hash instead of an Ed25519 verification.
func (c *Core) edgeCheck(r *Request) ([]byte, error) {
	if len(r.Config) == 0 {
		return nil, invalid("config is required: the edge guard's configuration (internal/edge)")
	}
	if r.EdgeRequest == nil {
		return nil, invalid("request is required: {\"method\", \"uri\", \"authorization\", \"cookie\", \"accept\"}")
	}
	if r.Time == nil {
		return nil, invalid("time is required (RFC 3339)")
	}
	now, err := time.Parse(time.RFC3339Nano, *r.Time)
	if err != nil {
		return nil, invalid("time: %v", err)
	}
	if c.guard == nil || !bytes.Equal(r.Config, c.edgeConfig) {
		g, err := edge.Compile(r.Config)
		if err != nil {
			c.guard, c.edgeConfig = nil, nil
			return nil, invalid("config: %v", vakt.As(err).Message)
		}
		c.guard, c.edgeConfig = g, bytes.Clone(r.Config)
	}
	return jsonx.Marshal(c.guard.Check(*r.EdgeRequest, now))
}
