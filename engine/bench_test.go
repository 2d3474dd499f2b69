package engine_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt/engine"
)

// Benchmarks come in pairs: the engine's work and the limit it is measured
// against, in the same run (see BENCHMARKS.md and `just bench`).
//
//	Limit/HMACFloor      three HMAC-SHA1 over an 8-byte counter, key prepared:
//	                     the least a TOTP check with one step of skew must do
//	Limit/PquernaTOTP*   pquerna/otp totp.ValidateCustom with skew 1: a current
//	                     code, a code from the step it tries last, a wrong code
//	Limit/Ed25519Verify  one signature check, the least a push answer must do

var benchSeed = []byte("12345678901234567890")

func BenchmarkLimit(b *testing.B) {
	b.Run("HMACFloor", func(b *testing.B) {
		b.ReportAllocs()
		m := hmac.New(sha1.New, benchSeed)
		var ctr [8]byte
		var out [sha1.Size]byte
		var sink byte
		for i := 0; b.Loop(); i++ {
			for s := uint64(0); s < 3; s++ {
				binary.BigEndian.PutUint64(ctr[:], uint64(i)+s)
				m.Reset()
				m.Write(ctr[:])
				sink ^= m.Sum(out[:0])[0]
			}
		}
		_ = sink
	})
	// pquerna/otp tries the steps t, t+1, t-1 and stops at the first match:
	// a current code costs one HMAC, a code from t-1 three, a wrong code three.
	pquerna := func(name string, offset time.Duration, want bool) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			secret := base32.StdEncoding.EncodeToString(benchSeed)
			at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
			opts := totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
			code, _ := totp.GenerateCodeCustom(secret, at.Add(offset), opts)
			if !want {
				code = "000000"
			}
			for b.Loop() {
				if ok, _ := totp.ValidateCustom(code, secret, at, opts); ok != want {
					b.Fatal("unexpected result")
				}
			}
		})
	}
	pquerna("PquernaTOTP", 0, true)
	pquerna("PquernaTOTPLastStep", -30*time.Second, true)
	pquerna("PquernaTOTPWrong", 0, false)
	b.Run("Ed25519Verify", func(b *testing.B) {
		b.ReportAllocs()
		pub, priv, _ := ed25519.GenerateKey(engine.SeededRand([]byte("bench")))
		msg := engine.PushMessage("uio.no", "ola.nordmann", "01937a6e-0000-7000-8000-000000000000", "01937a6e-0000-7000-8000-000000000001", "approve", 42, false)
		sig := ed25519.Sign(priv, msg)
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("bad signature")
			}
		}
	})
}

// benchUser builds a user with a TOTP app, a push device and a pending
// challenge with a push, through the vector builder.
func benchUser(b *testing.B) (*vb, app, pushDev, engine.Reply) {
	v := newVB(b, "bench")
	a := v.totp("Phone")
	dev := v.push("App", false)
	v.do(engine.SetDefault{AuthenticatorID: dev.id})
	ch := v.challenge(engine.IssueChallenge{})
	return v, a, dev, ch
}

func BenchmarkDecide(b *testing.B) {
	b.Run("VerifyTOTP", func(b *testing.B) {
		v, a, _, ch := benchUser(b)
		cmd := engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: v.code(a, 0)}
		env := v.env([]byte("bench"))
		b.ReportAllocs()
		for b.Loop() {
			dec, err := engine.Decide(v.u, cmd, env)
			if err != nil || len(dec.Events) != 1 {
				b.Fatal(err)
			}
		}
	})
	// The worst case for a success: the code is from the step after the
	// centre, which is tried last, so all three steps are computed.
	b.Run("VerifyTOTPNextStep", func(b *testing.B) {
		v, a, _, ch := benchUser(b)
		cmd := engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: v.code(a, 30*time.Second)}
		env := v.env([]byte("bench"))
		b.ReportAllocs()
		for b.Loop() {
			dec, err := engine.Decide(v.u, cmd, env)
			if err != nil || len(dec.Events) != 1 {
				b.Fatal(err)
			}
		}
	})
	// A wrong code: every step computed, attempt_failed recorded.
	b.Run("VerifyTOTPWrong", func(b *testing.B) {
		v, _, _, ch := benchUser(b)
		cmd := engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"}
		env := v.env([]byte("bench"))
		b.ReportAllocs()
		for b.Loop() {
			dec, err := engine.Decide(v.u, cmd, env)
			if err == nil || len(dec.Events) != 1 {
				b.Fatal("000000 did not fail")
			}
		}
	})
	b.Run("IssueChallenge", func(b *testing.B) {
		v, _, _, _ := benchUser(b)
		cmd := engine.IssueChallenge{App: "web", Method: "totp"}
		env := v.env([]byte("bench"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := engine.Decide(v.u, cmd, env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RespondPush", func(b *testing.B) {
		v, _, dev, ch := benchUser(b)
		cmd := v.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch, false)
		env := v.env([]byte("bench"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := engine.Decide(v.u, cmd, env); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCodeCheck is the code check alone for a code that does not match
// (every step of the window is computed), with a prepared key: it must not
// allocate.
func BenchmarkCodeCheck(b *testing.B) { engine.BenchCodeCheck(b) }

// BenchmarkEvolve folds a realistic stream with Evolve: enrolment, then sign-ins with
// successes, failures, pushes and remembered browsers.
func BenchmarkEvolve(b *testing.B) {
	v := newVB(b, "fold")
	a := v.totp("Phone")
	dev := v.push("App", false)
	for len(v.recs) < 5000 {
		v.advance(30 * time.Second)
		ch := v.challenge(engine.IssueChallenge{Method: "totp"})
		v.try(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"})
		v.do(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: v.code(a, 0), RememberDevice: len(v.recs)%7 == 0})
		ch = v.challenge(engine.IssueChallenge{Method: "push"})
		v.do(v.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch, false))
	}
	recs := v.recs
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		u := engine.NewUser(v.tenant, v.user)
		for i := range recs {
			if err := u.Evolve(&recs[i]); err != nil {
				b.Fatal(err)
			}
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
