package engine_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
)

// Decide is a pure function: the same state, command and environment give the
// same events everywhere.
func ExampleDecide() {
	key, _ := engine.NewDataKey(make([]byte, engine.DataKeySize))
	env := engine.Env{
		Now:     time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		Rand:    engine.SeededRand([]byte("example")),
		DataKey: key,
	}
	u := engine.NewUser("uio.no", "ola.nordmann")
	dec, err := engine.Decide(u, engine.StartEnrolment{Method: "totp", Label: "Phone"}, env)
	if err != nil {
		panic(err)
	}
	for _, ev := range dec.Events {
		fmt.Println(ev.EventType())
	}
	fmt.Println(dec.Reply.Status, dec.Reply.ExpiresAt.Format(time.TimeOnly))
	fmt.Println("the reply prints its secrets as", dec.Reply.OTPAuthURI)

	// Bad input is a typed error and decides nothing.
	dec, err = engine.Decide(u, engine.StartEnrolment{Method: "carrier-pigeon", Label: "x"}, env)
	fmt.Println(len(dec.Events), vakt.CodeOf(err))
	// Output:
	// authenticator.enrolment_started
	// pending 09:10:00
	// the reply prints its secrets as [redacted]
	// 0 invalid_argument
}

// The Service loads, decides, appends and retries; here over the in-memory
// store with a fixed clock.
func ExampleService() {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	svc := &engine.Service{
		Store: events.NewMemory(),
		Keys:  &engine.MemoryKeyring{},
		Now:   func() time.Time { return now },
	}
	ctx := context.Background()
	n := 0
	do := func(cmd engine.Command) (engine.Result, error) {
		n++
		return svc.Execute(ctx, engine.Request{Tenant: "uio.no", User: "ola.nordmann", Command: cmd, ID: fmt.Sprint("cmd-", n)})
	}

	res, _ := do(engine.StartEnrolment{Method: "totp", Label: "Phone"})
	secret := res.Reply.Secret.Reveal() // what the app reads from the QR code
	code, _ := totp.GenerateCode(secret, now)
	res, _ = do(engine.ConfirmEnrolment{AuthenticatorID: res.Reply.AuthenticatorID, Code: code})
	fmt.Println("enrolment:", res.Reply.Status)

	now = now.Add(30 * time.Second)
	res, _ = do(engine.IssueChallenge{App: "web"})
	code, _ = totp.GenerateCode(secret, now)
	challenge := res.Reply.ChallengeID
	res, _ = do(engine.VerifyCode{ChallengeID: challenge, Code: code})
	fmt.Println("sign-in:", res.Reply.Status, res.Reply.ACR)

	res, _ = do(engine.IssueChallenge{App: "web"})
	_, err := do(engine.VerifyCode{ChallengeID: res.Reply.ChallengeID, Code: code})
	fmt.Println("same code again:", vakt.CodeOf(err))
	// Output:
	// enrolment: active
	// sign-in: succeeded substantial
	// same code again: code_reused
}
