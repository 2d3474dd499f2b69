package engine_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/engine/enginetest"
	"github.com/vaktmfa/vakt/events"
)

// fuzzUser is a user with one of everything: apps, a push device, SMS,
// recovery codes, pending challenges (with a push and a sent code), a
// remembered browser and a failure count.
func fuzzUser(t testing.TB) (*engine.User, engine.Env) {
	b := newVB(t, "fuzz")
	a := b.totp("Phone")
	dev := b.push("App", false)
	b.sms("Mobile")
	b.do(engine.IssueRecoveryCodes{})
	c := b.challenge(engine.IssueChallenge{})
	b.do(engine.VerifyCode{ChallengeID: c.ChallengeID, Code: b.code(a, 0), RememberDevice: true})
	b.challenge(engine.IssueChallenge{Method: "push"})
	b.challenge(engine.IssueChallenge{RequiredACR: "low", Method: "sms"})
	b.try(engine.VerifyCode{ChallengeID: c.ChallengeID, Code: "000000"})
	b.do(engine.StartEnrolment{Method: "totp", Label: "Pending"})
	_ = dev
	return b.u, b.env([]byte("fuzz"))
}

// FuzzDecide feeds arbitrary bytes as a command to Decide on a busy user. It
// must never panic, every error must be typed (and never internal: bad input
// is the caller's fault), and the state must not change.
func FuzzDecide(f *testing.F) {
	vs, err := enginetest.Load(vectorDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range vs {
		f.Add([]byte(v.When.Command))
	}
	u, env := fuzzUser(f)
	before := stateJSON(f, u)
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := engine.DecodeCommand(data)
		if err != nil {
			if vakt.CodeOf(err) != vakt.CodeInvalidArgument {
				t.Fatalf("decode error %v is not invalid_argument", err)
			}
			return
		}
		env.Rand = engine.SeededRand(data)
		for _, at := range []time.Duration{0, 3 * time.Minute, 40 * 24 * time.Hour} {
			e := env
			e.Now = env.Now.Add(at)
			var dec engine.Decision
			if _, ok := cmd.(engine.SetPolicy); ok {
				dec, err = engine.DecideTenant(engine.NewTenant("uio.no"), cmd, e)
			} else {
				dec, err = engine.Decide(u, cmd, e)
			}
			if err != nil {
				var ve *vakt.Error
				if !errors.As(err, &ve) || !ve.Code.Valid() || ve.Code == vakt.CodeInternal {
					t.Fatalf("%s: %v", data, err)
				}
			}
			// Whatever was decided must be storable.
			if len(dec.Events) > 0 {
				if _, err := events.Build(events.Stream{Tenant: "uio.no", User: "ola.nordmann"}, u.Head,
					events.Meta{Command: "fuzz", Time: e.Now}, e.Rand, dec.Events); err != nil {
					t.Fatalf("%s: decided events do not build: %v", data, err)
				}
			}
		}
		if stateJSON(t, u) != before {
			t.Fatalf("%s: Decide modified the state", data)
		}
	})
}

// The fuzz corpus found by `just fuzz` lives in testdata/fuzz; make sure the
// directory exists so that new findings are kept.
func TestFuzzCorpusDir(t *testing.T) {
	if _, err := os.Stat(filepath.Join("testdata", "fuzz")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}
