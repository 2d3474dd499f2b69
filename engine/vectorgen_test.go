package engine_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/engine/enginetest"
	"github.com/vaktmfa/vakt/events"
)

// The vectors in testdata/vectors are written by the scenarios below: each
// states its intent (the error code and the event types it must produce), the
// generator checks the engine against that intent, and then records the exact
// bytes. `go test ./engine -run TestGenerateVectors -update-vectors` rewrites
// them; without the flag the test fails if a file differs from what the
// engine produces now.
var updateVectors = flag.Bool("update-vectors", false, "rewrite testdata/vectors from the scenarios")

const vectorDir = "../testdata/vectors"

// vb builds the given events of one vector by running commands through the
// pure engine with a deterministic clock and entropy.
type vb struct {
	t      testing.TB
	name   string
	tenant string
	user   string
	policy *engine.Policy
	key    []byte
	now    time.Time
	recs   []events.Record
	u      *engine.User
	tn     *engine.Tenant
	step   int
}

func newVB(t testing.TB, name string) *vb {
	key := sha256.Sum256([]byte("vakt vector data key"))
	return &vb{
		t: t, name: name, tenant: "uio.no", user: "ola.nordmann", key: key[:], now: t0,
		u: engine.NewUser("uio.no", "ola.nordmann"), tn: engine.NewTenant("uio.no"),
	}
}

func (b *vb) entropy() []byte {
	b.step++
	h := sha256.Sum256([]byte(fmt.Sprintf("%s#%d", b.name, b.step)))
	return h[:]
}

func (b *vb) env(seed []byte) engine.Env {
	key, err := engine.NewDataKey(b.key)
	if err != nil {
		b.t.Fatal(err)
	}
	return engine.Env{Now: b.now, Rand: engine.SeededRand(seed), Policy: b.policy, DataKey: key}
}

func (b *vb) advance(d time.Duration) { b.now = b.now.Add(d) }

// try decides cmd now and appends whatever it decided, like the service does.
func (b *vb) try(cmd engine.Command) (engine.Reply, error) {
	b.t.Helper()
	env := b.env(b.entropy())
	var dec engine.Decision
	var err error
	stream := events.Stream{Tenant: b.tenant, User: b.user}
	head := b.u.Head
	if _, ok := cmd.(engine.SetPolicy); ok {
		stream, head = events.TenantStream(b.tenant), b.tn.Head
		dec, err = engine.DecideTenant(b.tn, cmd, env)
	} else {
		dec, err = engine.Decide(b.u, cmd, env)
	}
	if len(dec.Events) > 0 {
		recs, berr := events.Build(stream, head, events.Meta{Command: fmt.Sprintf("cmd-%d", b.step), Actor: "vector", Time: b.now}, env.Rand, dec.Events)
		if berr != nil {
			b.t.Fatal(berr)
		}
		for i := range recs {
			if stream.User == "" {
				if e := b.tn.Evolve(&recs[i]); e != nil {
					b.t.Fatal(e)
				}
				if ps, ok := recs[i].Event.(events.PolicySet); ok {
					p := ps.Policy
					b.policy = &p
				}
			} else if e := b.u.Evolve(&recs[i]); e != nil {
				b.t.Fatal(e)
			}
		}
		b.recs = append(b.recs, recs...)
	}
	return dec.Reply, err
}

func (b *vb) do(cmd engine.Command) engine.Reply {
	b.t.Helper()
	r, err := b.try(cmd)
	if err != nil {
		b.t.Fatalf("%s: given step %s: %v", b.name, cmd.CommandType(), err)
	}
	return r
}

func (b *vb) setPolicy(edit func(*engine.Policy)) {
	p := engine.DefaultPolicy()
	edit(&p)
	p = engine.Complete(p)
	b.policy = &p
}

type app struct {
	id     string
	secret string
	opts   totp.ValidateOpts
}

func (b *vb) totp(label string) app {
	b.t.Helper()
	r := b.do(engine.StartEnrolment{Method: events.MethodTOTP, Label: label})
	k, err := otp.NewKeyFromURL(r.OTPAuthURI.Reveal())
	if err != nil {
		b.t.Fatal(err)
	}
	a := app{id: r.AuthenticatorID, secret: k.Secret(), opts: totp.ValidateOpts{Period: uint(k.Period()), Digits: k.Digits(), Algorithm: k.Algorithm()}}
	b.do(engine.ConfirmEnrolment{AuthenticatorID: a.id, Code: b.code(a, 0)})
	b.advance(30 * time.Second)
	return a
}

// code is the app's code at now+offset.
func (b *vb) code(a app, offset time.Duration) string {
	b.t.Helper()
	c, err := totp.GenerateCodeCustom(a.secret, b.now.Add(offset), a.opts)
	if err != nil {
		b.t.Fatal(err)
	}
	return c
}

const rfcSeed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // RFC 4226 "12345678901234567890"

func hotpAt(t testing.TB, counter uint64) string {
	c, err := hotp.GenerateCodeCustom(rfcSeed, counter, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (b *vb) hotp(label string) string {
	r := b.do(engine.StartEnrolment{Method: events.MethodHOTP, Label: label, Secret: rfcSeed})
	b.do(engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, Code: hotpAt(b.t, 0)})
	return r.AuthenticatorID
}

type pushDev struct {
	id   string
	priv ed25519.PrivateKey
}

func (b *vb) push(label string, uv bool) pushDev {
	b.t.Helper()
	r := b.do(engine.StartEnrolment{Method: events.MethodPush, Label: label})
	pub, priv, _ := ed25519.GenerateKey(engine.SeededRand([]byte("device " + label)))
	msg := engine.EnrolmentMessage(b.tenant, b.user, r.AuthenticatorID, r.Activation.Reveal(), pub, uv)
	b.do(engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, PublicKey: pub, Signature: ed25519.Sign(priv, msg), UserVerification: uv})
	return pushDev{id: r.AuthenticatorID, priv: priv}
}

func (b *vb) answer(d pushDev, chID, decision string, number int, uv bool) engine.RespondPush {
	msg := engine.PushMessage(b.tenant, b.user, chID, d.id, decision, number, uv)
	return engine.RespondPush{ChallengeID: chID, AuthenticatorID: d.id, Decision: decision, Number: number, UserVerification: uv, Signature: ed25519.Sign(d.priv, msg)}
}

func wrongNumber(r engine.Reply) int {
	for _, n := range r.Push.Choices {
		if n != r.NumberMatch {
			return n
		}
	}
	return 0
}

func (b *vb) sms(label string) string {
	r := b.do(engine.StartEnrolment{Method: events.MethodSMS, Label: label, Address: "+4791234567"})
	b.do(engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, Code: r.Deliver.Code.Reveal()})
	return r.AuthenticatorID
}

func (b *vb) challenge(c engine.IssueChallenge) engine.Reply {
	if c.App == "" {
		c.App = "web"
	}
	return b.do(c)
}

// fail records a failed code attempt for the lockout counters.
func (b *vb) failCodes(n int) {
	for i := 0; i < n; i++ {
		ch := b.challenge(engine.IssueChallenge{Method: events.MethodTOTP})
		if _, err := b.try(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"}); vakt.CodeOf(err) == vakt.CodeLockedOut {
			b.advance(time.Hour)
			i--
		}
	}
}

type vcase struct {
	name  string
	desc  string
	given func(b *vb)
	when  func(b *vb) engine.Command
	raw   func(b *vb) string // a command in wire form, for malformed input
	err   vakt.Code
	types []string
	noKey bool
}

// id is a well-formed id that names nothing.
const unknownID = "01937a6e-0000-7000-8000-000000000000"

func TestGenerateVectors(t *testing.T) {
	cases := vectorCases()
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate vector name %s", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			v := buildVector(t, c)
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			path := filepath.Join(vectorDir, c.name+".json")
			if *updateVectors {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			old, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update-vectors to write it)", err)
			}
			if !bytes.Equal(old, b) {
				t.Fatalf("%s differs from what the engine decides now; review and run with -update-vectors", path)
			}
		})
	}
	if *updateVectors {
		// Remove vectors whose scenario is gone.
		vs, _ := enginetest.Load(vectorDir)
		for _, v := range vs {
			if !seen[v.Name] {
				os.Remove(filepath.Join(vectorDir, v.Name+".json"))
			}
		}
	}
}

func buildVector(t *testing.T, c vcase) *enginetest.Vector {
	b := newVB(t, c.name)
	if c.given != nil {
		c.given(b)
	}
	// when may itself add given events (a challenge to answer), so it runs
	// before the given events are collected.
	var cmd engine.Command
	if c.raw == nil {
		cmd = c.when(b)
	}
	v := &enginetest.Vector{Name: c.name, Description: c.desc, Tenant: b.tenant, User: b.user, Policy: b.policy}
	if !c.noKey {
		v.DataKey = hex.EncodeToString(b.key)
	}
	v.Given = []json.RawMessage{}
	for _, r := range b.recs {
		v.Given = append(v.Given, json.RawMessage(r.Raw))
	}
	seed := b.entropy()
	v.When = enginetest.When{Time: b.now, Entropy: hex.EncodeToString(seed)}
	if c.raw != nil {
		v.When.Command = json.RawMessage(c.raw(b))
	} else {
		raw, err := engine.EncodeCommand(cmd)
		if err != nil {
			t.Fatal(err)
		}
		v.When.Command = raw
		if _, ok := cmd.(engine.SetPolicy); ok {
			v.User = ""
			v.Given = []json.RawMessage{}
			for _, r := range b.recs {
				if r.User == "" {
					v.Given = append(v.Given, json.RawMessage(r.Raw))
				}
			}
		}
	}
	// Round-trip through the file form so the generator checks what the
	// runners will read.
	enc, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var fv enginetest.Vector
	if err := json.Unmarshal(enc, &fv); err != nil {
		t.Fatal(err)
	}
	out, err := enginetest.Native(&fv)
	if err != nil {
		t.Fatal(err)
	}
	// The scenario's intent.
	if got := vakt.Code(""); out.Error != nil {
		got = out.Error.Code
		if got != c.err {
			t.Fatalf("error %v, want %q", out.Error, c.err)
		}
	} else if c.err != "" {
		t.Fatalf("no error, want %s", c.err)
	}
	var types []string
	for _, e := range out.Events {
		types = append(types, e.Type)
	}
	if fmt.Sprint(types) != fmt.Sprint(c.types) {
		t.Fatalf("events %v, want %v", types, c.types)
	}
	v.Then = enginetest.Then{Events: out.Events, Error: out.Error}
	if out.Events == nil {
		v.Then.Events = []enginetest.Event{}
	}
	if out.Reply != nil {
		r := json.RawMessage(out.Reply)
		v.Then.Reply = &r
	}
	return v
}

func TestVectorsNative(t *testing.T) {
	enginetest.Run(t, vectorDir, enginetest.Native)
}

// TestVectorCoverage holds the vectors to their promise: every command, every
// error code and every event type appears.
func TestVectorCoverage(t *testing.T) {
	vs, err := enginetest.Load(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) < 80 {
		t.Fatalf("%d vectors; the suite promises at least 80", len(vs))
	}
	cmds, codes, types := map[string]bool{}, map[vakt.Code]bool{}, map[string]bool{}
	for _, v := range vs {
		if c, err := engine.DecodeCommand(v.When.Command); err == nil {
			cmds[c.CommandType()] = true
		}
		if v.Then.Error != nil {
			codes[v.Then.Error.Code] = true
		}
		for _, e := range v.Then.Events {
			types[e.Type] = true
		}
	}
	all := []engine.Command{
		engine.StartEnrolment{}, engine.ConfirmEnrolment{}, engine.RenameAuthenticator{}, engine.SetDefault{},
		engine.RemoveAuthenticator{}, engine.ResyncHOTP{}, engine.IssueRecoveryCodes{}, engine.IssueChallenge{},
		engine.SendCode{}, engine.SendPush{}, engine.VerifyCode{}, engine.RespondPush{}, engine.RememberDevice{},
		engine.ForgetDevice{}, engine.SnoozeEnrolment{}, engine.IssueTemporaryPass{}, engine.Reset{},
		engine.Unlock{}, engine.Erase{}, engine.Expire{}, engine.SetPolicy{},
	}
	for _, c := range all {
		if !cmds[c.CommandType()] {
			t.Errorf("no vector for command %s", c.CommandType())
		}
	}
	for _, c := range vakt.Codes {
		if !codes[c] {
			t.Errorf("no vector for error code %s", c)
		}
	}
	for _, typ := range events.Default.Types() {
		if !types[typ] {
			t.Errorf("no vector produces event %s", typ)
		}
	}
}

func totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
}

func ed25519GenerateKey(label string) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(engine.SeededRand([]byte("device key " + label)))
}

func ed25519Sign(priv ed25519.PrivateKey, msg []byte) []byte { return ed25519.Sign(priv, msg) }
