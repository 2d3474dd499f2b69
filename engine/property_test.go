package engine_test

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
)

// sim plays a user, a relying party and a helpdesk at random: it knows the
// secrets a real user would (app seeds, device keys, codes it received) and
// mixes right answers with wrong, replayed, foreign and malformed ones.
type sim struct {
	r       *rand.Rand
	tenant  string
	user    string
	now     time.Time
	apps    map[string]string // authenticator id -> base32 seed
	devices map[string]ed25519.PrivateKey
	pending map[string]string // authenticator id -> confirmation code (sms/email) or activation
	oob     map[string]string // challenge id -> sent code
	codes   []string          // recovery codes and passes
	tokens  []string          // remember tokens
	numbers map[string]int    // challenge id -> number on the login screen
	late    bool              // erasure only near the end, so that runs stay busy
}

func (s *sim) pick(ids []string) string {
	if len(ids) == 0 || s.r.IntN(10) == 0 {
		return []string{"01937a6e-0000-7000-8000-000000000000", "a.*", "", "ÿ", "01937A6E-0000-7000-8000-000000000000"}[s.r.IntN(5)]
	}
	return ids[s.r.IntN(len(ids))]
}

func (s *sim) totpCode(seed string, skew time.Duration) string {
	c, _ := totp.GenerateCodeCustom(seed, s.now.Add(skew), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	return c
}

func (s *sim) command(u *engine.User) engine.Command {
	var auths, chs, devs []string
	for _, a := range u.Authenticators {
		auths = append(auths, a.ID)
	}
	for _, c := range u.Challenges {
		chs = append(chs, c.ID)
	}
	for _, f := range u.Finished {
		if s.r.IntN(4) == 0 {
			chs = append(chs, f.ID)
		}
	}
	for _, d := range u.Devices {
		devs = append(devs, d.ID)
	}
	apps := []string{"web", "office", "rdp", "nope"}
	switch s.r.IntN(24) {
	case 0, 1:
		m := []string{"totp", "totp", "hotp", "push", "sms", "email", "fax"}[s.r.IntN(7)]
		c := engine.StartEnrolment{Method: m, Label: fmt.Sprintf("label %d", s.r.IntN(100))}
		switch m {
		case "sms":
			c.Address = "+4791234567"
		case "email":
			c.Address = "ola@uio.no"
		}
		if s.r.IntN(8) == 0 {
			c.Label = ""
		}
		return c
	case 2, 3:
		id := s.pick(auths)
		for _, a := range u.Authenticators {
			if a.Status == engine.StatusPending && s.r.IntN(2) == 0 {
				id = a.ID
			}
		}
		c := engine.ConfirmEnrolment{AuthenticatorID: id}
		if seed, ok := s.apps[id]; ok {
			c.Code = s.totpCode(seed, 0)
		} else if code, ok := s.pending[id]; ok {
			c.Code = code
		}
		if priv, ok := s.devices[id]; ok {
			pub := priv.Public().(ed25519.PublicKey)
			c.PublicKey = pub
			c.Signature = ed25519.Sign(priv, engine.EnrolmentMessage(s.tenant, s.user, id, s.pending[id], pub, false))
		}
		if s.r.IntN(5) == 0 {
			c.Code = "000000"
		}
		return c
	case 4:
		return engine.RenameAuthenticator{AuthenticatorID: s.pick(auths), Label: fmt.Sprintf("renamed %d", s.r.IntN(3))}
	case 5:
		return engine.SetDefault{AuthenticatorID: s.pick(auths)}
	case 6:
		return engine.RemoveAuthenticator{AuthenticatorID: s.pick(auths)}
	case 7, 8, 9:
		c := engine.IssueChallenge{App: apps[s.r.IntN(len(apps))], RequiredACR: []string{"", "low", "substantial", "high"}[s.r.IntN(4)]}
		if s.r.IntN(3) == 0 {
			c.Method = []string{"push", "totp", "sms"}[s.r.IntN(3)]
		}
		if len(s.tokens) > 0 && s.r.IntN(2) == 0 {
			c.RememberToken = s.tokens[s.r.IntN(len(s.tokens))]
		}
		return c
	case 10, 11, 12:
		ch := s.pick(chs)
		c := engine.VerifyCode{ChallengeID: ch, RememberDevice: s.r.IntN(3) == 0}
		switch s.r.IntN(5) {
		case 0:
			c.Code = "123456"
		case 1:
			if code, ok := s.oob[ch]; ok {
				c.Code = code
			}
		case 2:
			if len(s.codes) > 0 {
				c.Code = s.codes[s.r.IntN(len(s.codes))]
			}
		default:
			// A user types the code of an app that is active.
			for _, a := range u.Active() {
				if seed, ok := s.apps[a.ID]; ok {
					c.Code = s.totpCode(seed, time.Duration(s.r.IntN(3)-1)*30*time.Second)
				}
			}
		}
		return c
	case 13, 14:
		ch := s.pick(chs)
		id := s.pick(auths)
		for _, c := range u.Challenges {
			if c.Push != nil && s.r.IntN(4) != 0 {
				ch, id = c.ID, c.Push.AuthenticatorID
			}
		}
		decision := []string{"approve", "approve", "deny", "fraud"}[s.r.IntN(4)]
		n := 0
		if decision == "approve" {
			n = s.numbers[ch]
			if s.r.IntN(4) == 0 {
				n = 10 + s.r.IntN(90)
			}
		}
		c := engine.RespondPush{ChallengeID: ch, AuthenticatorID: id, Decision: decision, Number: n, Signature: make([]byte, 64)}
		if priv, ok := s.devices[id]; ok {
			c.Signature = ed25519.Sign(priv, engine.PushMessage(s.tenant, s.user, ch, id, decision, n, false))
		}
		return c
	case 15:
		return engine.SendPush{ChallengeID: s.pick(chs)}
	case 16:
		return engine.SendCode{ChallengeID: s.pick(chs), AuthenticatorID: s.pick(auths)}
	case 17:
		return engine.RememberDevice{ChallengeID: s.pick(chs)}
	case 18:
		return engine.ForgetDevice{DeviceID: s.pick(devs), All: s.r.IntN(5) == 0}
	case 19:
		return engine.IssueRecoveryCodes{}
	case 20:
		if s.r.IntN(2) == 0 {
			return engine.IssueTemporaryPass{Operator: "kari", Ticket: "INC-1"}
		}
		return engine.Unlock{Operator: "kari", Ticket: "INC-2"}
	case 21:
		if s.r.IntN(12) == 0 {
			return engine.Reset{Helpdesk: &engine.Helpdesk{Operator: "kari", Ticket: "INC-3"}, TemporaryPass: s.r.IntN(2) == 0}
		}
		return engine.Expire{}
	case 22:
		if s.late && s.r.IntN(5) == 0 {
			return engine.Erase{Operator: "dpo"}
		}
		return engine.SnoozeEnrolment{App: "web"}
	default:
		return engine.ResyncHOTP{AuthenticatorID: s.pick(auths), Code1: "123456", Code2: "654321"}
	}
}

// learn records what the simulated people saw in a reply.
func (s *sim) learn(cmd engine.Command, r engine.Reply) {
	switch cmd.(type) {
	case engine.StartEnrolment:
		switch {
		case r.Secret != "":
			s.apps[r.AuthenticatorID] = r.Secret.Reveal()
		case r.Activation != "":
			_, priv, _ := ed25519.GenerateKey(engine.SeededRand([]byte(r.AuthenticatorID)))
			s.devices[r.AuthenticatorID] = priv
			s.pending[r.AuthenticatorID] = r.Activation.Reveal()
		case r.Deliver != nil:
			s.pending[r.AuthenticatorID] = r.Deliver.Code.Reveal()
		}
	}
	if r.Deliver != nil && r.ChallengeID != "" {
		s.oob[r.ChallengeID] = r.Deliver.Code.Reveal()
	}
	if r.NumberMatch != 0 {
		s.numbers[r.ChallengeID] = r.NumberMatch
	}
	for _, c := range r.RecoveryCodes {
		s.codes = append(s.codes, c.Reveal())
	}
	if r.TemporaryPass != "" {
		s.codes = append(s.codes, r.TemporaryPass.Reveal())
	}
	if r.RememberToken != "" {
		s.tokens = append(s.tokens, r.RememberToken.Reveal())
	}
}

func stateJSON(t testing.TB, u *engine.User) string {
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFoldReproducesState runs random command sequences and checks, after
// every command, that:
//   - Decide did not modify the state it was given;
//   - every error is a typed error with a released code;
//   - folding all stored events from scratch (through the codec) gives the
//     same state as applying each decision's events incrementally;
//   - the state respects the policy's bounds.
func TestFoldReproducesState(t *testing.T) {
	key, _ := engine.NewDataKey(make([]byte, 32))
	seen := map[string]int{}
	defer func() {
		// The random runs must reach the interesting states, or they prove little.
		for _, typ := range []string{"authenticator.activated", "challenge.succeeded", "challenge.attempt_failed",
			"user.locked_out", "challenge.denied", "challenge.fraud_reported", "device.remembered", "recovery_code.used",
			"reset.completed", "challenge.expired", "authenticator.removed", "temporary_pass.used", "user.erased"} {
			if seen[typ] == 0 {
				t.Errorf("no random run produced %s", typ)
			}
		}
		t.Logf("event types produced: %v", seen)
	}()
	policy := engine.DefaultPolicy()
	policy.EnforceFrom = t0.Add(2 * 24 * time.Hour)
	// A short ladder so that random runs reach lockouts.
	policy.Lockout = events.LockoutPolicy{Threshold: 2, Base: events.Duration(time.Minute), Max: events.Duration(time.Hour), HardLimit: 8}
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := &sim{
				r: rand.New(rand.NewPCG(seed, 7)), tenant: "t", user: "u", now: t0,
				apps: map[string]string{}, devices: map[string]ed25519.PrivateKey{}, pending: map[string]string{},
				oob: map[string]string{}, numbers: map[string]int{},
			}
			u := engine.NewUser("t", "u")
			var stored [][]byte
			for step := 0; step < 300; step++ {
				s.now = s.now.Add(time.Duration(s.r.IntN(90)) * time.Second)
				s.late = step > 280
				cmd := s.command(u)
				before := stateJSON(t, u)
				env := engine.Env{Now: s.now, Rand: engine.SeededRand([]byte(fmt.Sprint(seed, step))), Policy: &policy, DataKey: key}
				dec, err := engine.Decide(u, cmd, env)
				if after := stateJSON(t, u); after != before {
					t.Fatalf("step %d: Decide(%T) modified its input state", step, cmd)
				}
				if err != nil {
					var ve *vakt.Error
					if !errorsAs(err, &ve) || !ve.Code.Valid() || ve.Code == vakt.CodeInternal {
						t.Fatalf("step %d: %T: untyped or internal error %v", step, cmd, err)
					}
				}
				if len(dec.Events) == 0 {
					continue
				}
				recs, berr := events.Build(events.Stream{Tenant: "t", User: "u"}, u.Head, events.Meta{Command: fmt.Sprint("c", step), Time: s.now}, env.Rand, dec.Events)
				if berr != nil {
					t.Fatalf("step %d: build: %v", step, berr)
				}
				for i := range recs {
					if err := u.Evolve(&recs[i]); err != nil {
						t.Fatal(err)
					}
					stored = append(stored, recs[i].Raw)
					seen[recs[i].Type]++
				}
				s.learn(cmd, dec.Reply)
				checkBounds(t, step, u, &policy)
			}
			// Rebuild from the stored bytes alone.
			var recs []events.Record
			prev := events.Hash{}
			for _, raw := range stored {
				rec, err := events.Decode(raw)
				if err != nil {
					t.Fatal(err)
				}
				rec.Hash = events.ChainHash(prev, raw)
				prev = rec.Hash
				recs = append(recs, rec)
			}
			folded, err := engine.Fold("t", "u", recs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(t, folded), normalize(t, u)) {
				t.Fatalf("fold from stored events differs from the incremental state:\n fold %s\n incr %s", stateJSON(t, folded), stateJSON(t, u))
			}
			if len(stored) < 60 {
				t.Fatalf("only %d events in 300 steps; the simulation is not exercising the engine", len(stored))
			}
		})
	}
}

// normalize compares states through JSON, where times compare by instant.
func normalize(t testing.TB, u *engine.User) any {
	var v any
	if err := json.Unmarshal([]byte(stateJSON(t, u)), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func checkBounds(t *testing.T, step int, u *engine.User, p *engine.Policy) {
	t.Helper()
	if u.Erased {
		return
	}
	if len(u.Authenticators) > p.MaxAuthenticators {
		t.Fatalf("step %d: %d authenticators > %d", step, len(u.Authenticators), p.MaxAuthenticators)
	}
	if len(u.Challenges) > p.MaxPendingChallenges {
		t.Fatalf("step %d: %d pending challenges > %d", step, len(u.Challenges), p.MaxPendingChallenges)
	}
	if len(u.Devices) > p.MaxRememberedDevices {
		t.Fatalf("step %d: %d devices > %d", step, len(u.Devices), p.MaxRememberedDevices)
	}
	if u.Default != "" {
		a := u.Authenticator(u.Default)
		if a == nil || a.Status != engine.StatusActive {
			t.Fatalf("step %d: default %s is not an active authenticator", step, u.Default)
		}
	}
	if len(u.Finished) > 8 {
		t.Fatalf("step %d: %d finished challenges kept", step, len(u.Finished))
	}
}

func errorsAs(err error, target **vakt.Error) bool { return errors.As(err, target) }
