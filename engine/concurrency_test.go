package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
)

// TestParallelVerificationsOneCodeOnce hammers one user with the same code on
// several challenges at once. Optimistic concurrency serialises them: exactly
// one succeeds, every other one is refused (code_reused, or conflict if the
// store kept moving), and the stream holds exactly one success.
func TestParallelVerificationsOneCodeOnce(t *testing.T) {
	for round := 0; round < 20; round++ {
		h := newHarness(t)
		_, app := h.enrolTOTP("Phone")
		const n = 8
		var chs []string
		for i := 0; i < n; i++ {
			chs = append(chs, h.ok(engine.IssueChallenge{App: "web"}).Reply.ChallengeID)
		}
		code := app.code(t, h.now)
		var wg sync.WaitGroup
		results := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = h.svc.Execute(context.Background(), engine.Request{
					Tenant: h.tenant, User: h.user, ID: fmt.Sprintf("par-%d-%d", round, i),
					Command: engine.VerifyCode{ChallengeID: chs[i], Code: code},
				})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range results {
			switch vakt.CodeOf(err) {
			case "":
				ok++
			case vakt.CodeCodeReused, vakt.CodeConflict, vakt.CodeLockedOut:
				// Refused: a replay counts as a failure, so enough of them lock.
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		succeeded := 0
		for _, r := range h.events() {
			if r.Type == "challenge.succeeded" {
				succeeded++
			}
		}
		if ok != 1 || succeeded != 1 {
			t.Fatalf("round %d: %d requests succeeded, %d successes stored; want exactly one", round, ok, succeeded)
		}
	}
}

// TestParallelCommandsConverge runs mixed commands for one user from many
// goroutines; the service must retry conflicts until every command is decided
// on the latest state, and the stream must fold back to a consistent state.
func TestParallelCommandsConverge(t *testing.T) {
	h := newHarness(t)
	h.svc.Attempts = 100 // 16 writers on one stream: a writer may lose many rounds
	h.enrolTOTP("Phone")
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := engine.Command(engine.IssueChallenge{App: "web"})
			if i%4 == 0 {
				cmd = engine.RenameAuthenticator{AuthenticatorID: h.state().Authenticators[0].ID, Label: fmt.Sprint("label ", i)}
			}
			if _, err := h.svc.Execute(context.Background(), engine.Request{Tenant: h.tenant, User: h.user, ID: fmt.Sprint("mix-", i), Command: cmd}); err != nil {
				t.Errorf("command %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	u := h.state()
	if len(u.Challenges) != 10 { // max_pending_challenges: the oldest gave way
		t.Fatalf("%d pending challenges, want 10", len(u.Challenges))
	}
}

// A retry after a lost reply, however late, is answered from the stream and
// never decided again (a second challenge would be issued otherwise).
func TestRetryIsNotDecidedAgain(t *testing.T) {
	h := newHarness(t)
	h.enrolTOTP("Phone")
	req := engine.Request{Tenant: h.tenant, User: h.user, ID: "rp-req-42", Command: engine.IssueChallenge{App: "web"}}
	first, err := h.svc.Execute(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	h.advance(time.Hour)
	again, err := h.svc.Execute(context.Background(), req)
	if err != nil || !again.Duplicate || len(again.Records) != 1 || again.Records[0].ID != first.Records[0].ID {
		t.Fatalf("retry: %+v %v", again, err)
	}
	if n := len(h.state().Challenges); n != 1 {
		t.Fatalf("%d challenges pending after a retried request, want 1", n)
	}
}
