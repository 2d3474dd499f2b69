package projections_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/projections"
)

// exampleFlow runs a short, deterministic story for user "ola" of tenant
// "uio.no": an authenticator app is enrolled, a sign-in succeeds, five wrong
// codes lock the account, and the helpdesk unlocks and then resets it. It
// returns the store and the challenge id of the sign-in.
func exampleFlow() (*events.Memory, string) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	store := events.NewMemory()
	svc := &engine.Service{
		Store: store,
		Keys:  &engine.MemoryKeyring{Rand: engine.SeededRand([]byte("example keys"))},
		Now:   func() time.Time { return now },
		Rand:  engine.SeededRand([]byte("example")),
	}
	n := 0
	run := func(actor string, cmd engine.Command) engine.Reply {
		n++
		res, err := svc.Execute(ctx, engine.Request{
			Tenant: "uio.no", User: "ola", Command: cmd, ID: fmt.Sprintf("cmd-%d", n), Actor: actor,
		})
		if err != nil && len(res.Records) == 0 {
			panic(err)
		}
		return res.Reply
	}
	code := func(key *otp.Key) string {
		c, err := totp.GenerateCode(key.Secret(), now)
		if err != nil {
			panic(err)
		}
		return c
	}

	// Enrol an authenticator app; the first code confirms it.
	r := run("user", engine.StartEnrolment{Method: events.MethodTOTP, Label: "Phone"})
	key, err := otp.NewKeyFromURL(r.OTPAuthURI.Reveal())
	if err != nil {
		panic(err)
	}
	run("user", engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, Code: code(key)})

	// Sign in a minute later.
	now = now.Add(time.Minute)
	ch := run("user", engine.IssueChallenge{App: "web"})
	run("user", engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: code(key)})

	// Someone guesses codes: five wrong ones lock the code methods.
	now = now.Add(time.Hour)
	guess := run("user", engine.IssueChallenge{App: "web"})
	for range 5 {
		run("user", engine.VerifyCode{ChallengeID: guess.ChallengeID, Code: "000000"})
	}

	// The helpdesk unlocks, and later resets the user, who lost the phone.
	now = now.Add(10 * time.Second)
	run("helpdesk:kari", engine.Unlock{Operator: "kari", Ticket: "INC-4711"})
	now = now.Add(24 * time.Hour)
	run("helpdesk:kari", engine.Reset{Helpdesk: &engine.Helpdesk{Operator: "kari", Ticket: "INC-1"}})
	return store, ch.ChallengeID
}

// Fold one user's events into a SecurityInfo.
func ExampleSecurityInfo() {
	store, _ := exampleFlow()
	recs, err := store.Load(context.Background(), events.Stream{Tenant: "uio.no", User: "ola"}, events.Head{})
	if err != nil {
		panic(err)
	}
	var info projections.SecurityInfo
	for i := range recs {
		info.Apply(&recs[i])
		if recs[i].Type == "user.locked_out" {
			fmt.Printf("locked until %s (permanent %v)\n", info.LockedUntil.Format(time.TimeOnly), info.Permanent)
			fmt.Println("locked at 10:01:30:", info.LockedAt(info.LockedUntil.Add(-30*time.Second)))
			fmt.Println("locked at 10:02:30:", info.LockedAt(info.LockedUntil.Add(30*time.Second)))
		}
		if recs[i].Type == "challenge.succeeded" {
			a := info.Authenticators[0]
			fmt.Printf("%s %q: %s, default %v, acr %s, last used %s\n", a.Method, a.Label, a.Status, a.Default, a.ACR, a.LastUsedAt.Format(time.TimeOnly))
		}
	}
	fmt.Printf("after the reset: %d authenticators, %d reset (%s), locked %v, seq %d\n",
		len(info.Authenticators), info.Resets, info.LastResetKind, info.Locked, info.Seq)
	// Output:
	// totp "Phone": active, default true, acr substantial, last used 09:01:00
	// locked until 10:02:00 (permanent false)
	// locked at 10:01:30: true
	// locked at 10:02:30: false
	// after the reset: 0 authenticators, 1 reset (helpdesk), locked false, seq 14
}

// Keep the four read models current with a Runner, then read them.
func ExampleRunner() {
	store, challengeID := exampleFlow()
	ctx := context.Background()
	infos, challenges := projections.NewSecurityInfos(), projections.NewChallenges()
	audit, stats := projections.NewAuditTrails(), projections.NewTenantStats()
	r := &projections.Runner{
		Store:       store,
		Checkpoints: &projections.MemoryCheckpoints{},
		Projections: []projections.Projection{infos, challenges, audit, stats},
	}
	applied, err := r.CatchUp(ctx)
	if err != nil {
		panic(err)
	}
	pos, _ := r.Position(projections.NameAuditTrail)
	fmt.Printf("applied %d, audit trail at position %d\n", applied, pos)

	c, _ := challenges.Get("uio.no", challengeID)
	fmt.Printf("challenge: %s with %s, acr %s, amr %v, auth_time %s\n", c.Status, c.Method, c.ACR, c.AMR, c.AuthTime.Format(time.RFC3339))

	trail, _ := audit.Get("uio.no", "ola")
	for _, e := range trail.Entries {
		fmt.Printf("%2d %s %-13s %s\n", e.Seq, e.Time.Format("01-02 15:04"), e.Actor, e.Summary)
	}

	s, _ := stats.Get("uio.no")
	fmt.Printf("users %d, enrolled %d, issued %d, succeeded %d, failed attempts %d, lockouts %d, unlocks %d, resets %v\n",
		s.Users, s.UsersEnrolled, s.ChallengesByOutcome.Issued, s.ChallengesByOutcome.Succeeded,
		s.AttemptsFailed, s.Lockouts, s.Unlocks, s.ResetsByKind)
	// Output:
	// applied 56, audit trail at position 14
	// challenge: succeeded with totp, acr substantial, amr [otp], auth_time 2026-11-23T09:01:00Z
	//  1 11-23 09:00 user          enrolled authenticator app "Phone" (totp), pending
	//  2 11-23 09:00 user          activated authenticator app "Phone" (totp, acr substantial)
	//  3 11-23 09:00 user          made authenticator app "Phone" the default
	//  4 11-23 09:01 user          sign-in to web started, offering totp (acr substantial)
	//  5 11-23 09:01 user          sign-in to web succeeded with totp (acr substantial)
	//  6 11-23 10:01 user          sign-in to web started, offering totp (acr substantial)
	//  7 11-23 10:01 user          sign-in to web: wrong code (1 failure in a row)
	//  8 11-23 10:01 user          sign-in to web: wrong code (2 failures in a row)
	//  9 11-23 10:01 user          sign-in to web: wrong code (3 failures in a row)
	// 10 11-23 10:01 user          sign-in to web: wrong code (4 failures in a row)
	// 11 11-23 10:01 user          sign-in to web: wrong code (5 failures in a row)
	// 12 11-23 10:01 user          locked out for 1m0s after 5 failed attempts
	// 13 11-23 10:01 helpdesk:kari unlocked by helpdesk operator "kari", ticket "INC-4711"
	// 14 11-24 10:01 helpdesk:kari reset by helpdesk operator "kari", ticket "INC-1"
	// users 1, enrolled 0, issued 2, succeeded 1, failed attempts 5, lockouts 1, unlocks 1, resets map[helpdesk:1]
}
