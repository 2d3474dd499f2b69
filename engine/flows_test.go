package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
)

func TestTOTPEnrolmentAndSignIn(t *testing.T) {
	h := newHarness(t)
	res := h.ok(engine.StartEnrolment{Method: events.MethodTOTP, Label: "Phone"})
	r := res.Reply
	if r.Status != "pending" || !strings.HasPrefix(r.OTPAuthURI.Reveal(), "otpauth://totp/Vakt:ola.nordmann?") {
		t.Fatalf("reply = %+v uri %s", r, r.OTPAuthURI.Reveal())
	}
	if !r.ExpiresAt.Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("pending until %v, want 10 minutes", r.ExpiresAt)
	}
	app := appFromURI(t, r.OTPAuthURI.Reveal())
	// A wrong first code does not activate it.
	h.fail(engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, Code: "000000"}, vakt.CodeInvalidCode)
	first := app.code(t, h.now)
	h.ok(engine.ConfirmEnrolment{AuthenticatorID: r.AuthenticatorID, Code: first})
	u := h.state()
	if a := u.Authenticator(r.AuthenticatorID); a == nil || a.Status != engine.StatusActive || u.Default != a.ID {
		t.Fatalf("after confirm: %+v default %q", a, u.Default)
	}

	// The enrolment code counts as used: it cannot sign in.
	ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
	if ch.Status != "pending" || ch.Methods[0] != events.MethodTOTP {
		t.Fatalf("challenge = %+v", ch)
	}
	h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: first}, vakt.CodeCodeReused)

	// The next step's code signs in, once.
	h.advance(30 * time.Second)
	code := app.code(t, h.now)
	ok := h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: code[:3] + " " + code[3:]}).Reply
	if ok.Status != "succeeded" || ok.ACR != engine.ACRSubstantial || ok.AMR[0] != "otp" {
		t.Fatalf("verify = %+v", ok)
	}
	ch2 := h.ok(engine.IssueChallenge{App: "web"}).Reply
	h.fail(engine.VerifyCode{ChallengeID: ch2.ChallengeID, Code: code}, vakt.CodeCodeReused)
	// A second answer to the finished challenge is a conflict.
	h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: code}, vakt.CodeConflict)

	wantTypes(t, h.events(),
		"authenticator.enrolment_started", "authenticator.confirmation_failed", "authenticator.activated",
		"authenticator.default_changed", "challenge.issued", "challenge.attempt_failed",
		"challenge.succeeded", "challenge.issued", "challenge.attempt_failed")
}

func TestNewPhoneThenRemoveOld(t *testing.T) {
	h := newHarness(t)
	oldID, oldApp := h.enrolTOTP("Old phone")
	newID, newApp := h.enrolTOTP("New phone")
	u := h.state()
	if len(u.Active()) != 2 || u.Default != oldID {
		t.Fatalf("two phones: active %d default %s", len(u.Active()), u.Default)
	}
	// Both work while both are enrolled.
	for _, app := range []totpApp{oldApp, newApp} {
		h.advance(30 * time.Second)
		ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
		h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now)})
	}
	h.ok(engine.RemoveAuthenticator{AuthenticatorID: oldID})
	u = h.state()
	if u.Default != newID || len(u.Active()) != 1 {
		t.Fatalf("after removal: default %s, %d active", u.Default, len(u.Active()))
	}
	h.advance(30 * time.Second)
	ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
	h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: oldApp.code(t, h.now)}, vakt.CodeInvalidCode)
	h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: newApp.code(t, h.now)})
}

func TestLockoutLadder(t *testing.T) {
	h := newHarness(t)
	_, app := h.enrolTOTP("Phone")
	ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
	for i := 0; i < 4; i++ {
		h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"}, vakt.CodeInvalidCode)
	}
	res := h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"}, vakt.CodeInvalidCode)
	wantTypes(t, res.Records, "challenge.attempt_failed", "user.locked_out")
	lock := res.Records[1].Event.(events.LockedOut)
	if !lock.Until.Equal(h.now.Add(time.Minute)) || lock.Level != 1 {
		t.Fatalf("first lock = %+v", lock)
	}
	// While locked even the right code is refused, and nothing is recorded.
	n := len(h.events())
	h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now)}, vakt.CodeLockedOut)
	if len(h.events()) != n {
		t.Fatal("a refused attempt while locked was recorded")
	}
	// Five more failures double the wait.
	h.advance(time.Minute)
	ch = h.ok(engine.IssueChallenge{App: "web"}).Reply
	for i := 0; i < 4; i++ {
		h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000001"}, vakt.CodeInvalidCode)
	}
	res = h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000001"}, vakt.CodeInvalidCode)
	if lock := res.Records[1].Event.(events.LockedOut); !lock.Until.Equal(h.now.Add(2*time.Minute)) || lock.Level != 2 {
		t.Fatalf("second lock = %+v", lock)
	}
	// A success resets the count.
	h.advance(2 * time.Minute)
	ch = h.ok(engine.IssueChallenge{App: "web"}).Reply
	h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now)})
	if u := h.state(); u.Failures != 0 || !u.Lock.IsZero() {
		t.Fatalf("after success: failures %d lock %+v", u.Failures, u.Lock)
	}
}

func TestLockoutHardLimitAndHelpdeskUnlock(t *testing.T) {
	h := newHarness(t)
	_, app := h.enrolTOTP("Phone")
	dev := h.enrolPush("Push phone")
	h.ok(engine.SetDefault{AuthenticatorID: dev.id})
	var maxWait time.Duration
	for i := 1; i <= 100; i++ {
		ch := h.ok(engine.IssueChallenge{App: "web", Method: events.MethodTOTP}).Reply
		res := h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "999999"}, vakt.CodeInvalidCode)
		if i%5 == 0 {
			lock := res.Records[len(res.Records)-1].Event.(events.LockedOut)
			if i == 100 {
				if !lock.Permanent {
					t.Fatalf("100th failure: lock %+v, want permanent", lock)
				}
				break
			}
			wait := lock.Until.Sub(h.now)
			maxWait = max(maxWait, wait)
			h.advance(wait)
		}
	}
	if maxWait != time.Hour {
		t.Fatalf("longest lock %s, want the 1h cap", maxWait)
	}
	// Permanently locked: codes refused even much later...
	h.advance(48 * time.Hour)
	ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
	h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now)}, vakt.CodeLockedOut)
	// ...but a signed push approval still works (a user-name-only attacker
	// cannot lock the user out of push).
	if ch.NumberMatch == 0 {
		t.Fatalf("locked user's challenge offers no push: %+v", ch)
	}
	h.ok(h.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch))

	// Lock again and let the helpdesk unlock.
	for i := 0; i < 100; i++ {
		c := h.ok(engine.IssueChallenge{App: "web", Method: events.MethodTOTP}).Reply
		if _, err := h.exec(engine.VerifyCode{ChallengeID: c.ChallengeID, Code: "999999"}); vakt.CodeOf(err) == vakt.CodeLockedOut {
			h.advance(time.Hour)
		}
	}
	h.fail(engine.Unlock{Operator: "", Ticket: "INC-1"}, vakt.CodeInvalidArgument)
	res := h.ok(engine.Unlock{Operator: "kari@helpdesk", Ticket: "INC-4711"})
	wantTypes(t, res.Records, "user.unlocked")
	h.advance(30 * time.Second)
	ch = h.ok(engine.IssueChallenge{App: "web", Method: events.MethodTOTP}).Reply
	h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now)})
}

func TestPushNumberMatchingDenyFraudAndFatigue(t *testing.T) {
	h := newHarness(t)
	dev := h.enrolPush("Phone")
	ch := h.ok(engine.IssueChallenge{App: "web", Context: events.Context{Application: "Canvas", IP: "192.0.2.7"}}).Reply
	if ch.Push == nil || ch.NumberMatch < 10 || ch.NumberMatch > 99 || len(ch.Push.Choices) != 3 {
		t.Fatalf("push challenge = %+v", ch)
	}
	found := false
	for _, n := range ch.Push.Choices {
		found = found || n == ch.NumberMatch
	}
	if !found {
		t.Fatalf("choices %v lack the number %d", ch.Push.Choices, ch.NumberMatch)
	}
	// A forged signature changes nothing.
	forged := h.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch)
	forged.Signature[0] ^= 1
	h.fail(forged, vakt.CodeUnauthorized)
	// A signature over another decision does not verify.
	other := h.answer(dev, ch.ChallengeID, engine.DecisionDeny, 0)
	other.Decision = engine.DecisionApprove
	other.Number = ch.NumberMatch
	h.fail(other, vakt.CodeUnauthorized)
	res := h.ok(h.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch))
	if res.Reply.Status != "succeeded" || res.Reply.ACR != engine.ACRSubstantial {
		t.Fatalf("approve = %+v", res.Reply)
	}
	h.fail(h.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch), vakt.CodeConflict)

	// Wrong number, deny, unanswered: the third refusal pauses push.
	ch = h.ok(engine.IssueChallenge{App: "web"}).Reply
	wrong := 10
	for _, n := range ch.Push.Choices {
		if n != ch.NumberMatch {
			wrong = n
		}
	}
	if r := h.ok(h.answer(dev, ch.ChallengeID, engine.DecisionApprove, wrong)); r.Reply.Status != "denied" {
		t.Fatalf("wrong number = %+v", r.Reply)
	}
	ch = h.ok(engine.IssueChallenge{App: "web"}).Reply
	h.ok(h.answer(dev, ch.ChallengeID, engine.DecisionDeny, 0))
	h.ok(engine.IssueChallenge{App: "web"})
	h.advance(6 * time.Minute)
	res = h.ok(engine.Expire{})
	wantTypes(t, res.Records, "challenge.expired", "push.paused")
	h.fail(engine.IssueChallenge{App: "web"}, vakt.CodePushPaused)
	h.advance(15 * time.Minute)
	ch = h.ok(engine.IssueChallenge{App: "web", Context: events.Context{Application: "Canvas", IP: "192.0.2.7"}}).Reply
	// Fraud report.
	res = h.ok(h.answer(dev, ch.ChallengeID, engine.DecisionFraud, 0))
	wantTypes(t, res.Records, "challenge.fraud_reported")
	fr := res.Records[0].Event.(events.FraudReported)
	if fr.Application != "Canvas" || fr.Client.IsZero() || strings.Contains(string(res.Records[0].Raw), "192.0.2.7") {
		t.Fatalf("fraud report: %+v %s", fr, res.Records[0].Raw)
	}
	key, _ := h.keys.DataKey(t.Context(), h.tenant, h.user, false)
	if c, err := engine.OpenClient(key, h.tenant, h.user, fr.ChallengeID, fr.Application, fr.Client); err != nil || c.IP != "192.0.2.7" {
		t.Fatalf("open client details: %+v %v", c, err)
	}
}

func TestRememberedBrowserPerApplication(t *testing.T) {
	h := newHarness(t)
	_, app := h.enrolTOTP("Phone")
	ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
	ok := h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now), RememberDevice: true}).Reply
	token := ok.RememberToken.Reveal()
	if token == "" || ok.DeviceID == "" {
		t.Fatalf("no remember token: %+v", ok)
	}
	h.advance(19 * 24 * time.Hour)
	if r := h.ok(engine.IssueChallenge{App: "web", RememberToken: token}).Reply; r.Status != "skipped" {
		t.Fatalf("web within 20 days: %+v", r)
	}
	if r := h.ok(engine.IssueChallenge{App: "rdp", RememberToken: token}).Reply; r.Status != "pending" {
		t.Fatalf("rdp must ask every time: %+v", r)
	}
	if r := h.ok(engine.IssueChallenge{App: "web", RememberToken: token + "x"}).Reply; r.Status != "pending" {
		t.Fatalf("wrong token skipped: %+v", r)
	}
	h.advance(2 * 24 * time.Hour)
	if r := h.ok(engine.IssueChallenge{App: "web", RememberToken: token}).Reply; r.Status != "pending" {
		t.Fatalf("web after 21 days: %+v", r)
	}
	// rdp never remembers.
	h.advance(time.Minute)
	ch = h.ok(engine.IssueChallenge{App: "rdp"}).Reply
	if r := h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now), RememberDevice: true}).Reply; r.RememberToken != "" {
		t.Fatalf("rdp remembered a browser")
	}
}

func TestSMSCode(t *testing.T) {
	h := newHarness(t)
	res := h.ok(engine.StartEnrolment{Method: events.MethodSMS, Label: "Mobile", Address: "+47 912 34 567"})
	d := res.Reply.Deliver
	if d == nil || d.Address.Reveal() != "+4791234567" || len(d.Code.Reveal()) != 6 {
		t.Fatalf("delivery = %+v", d)
	}
	for _, r := range res.Records {
		if strings.Contains(string(r.Raw), "91234567") || strings.Contains(string(r.Raw), d.Code.Reveal()) {
			t.Fatalf("phone number or code stored in clear: %s", r.Raw)
		}
	}
	h.ok(engine.ConfirmEnrolment{AuthenticatorID: res.Reply.AuthenticatorID, Code: d.Code.Reveal()})
	// SMS gives only low assurance: a substantial challenge refuses it.
	h.fail(engine.IssueChallenge{App: "web"}, vakt.CodeMethodNotAllowed)
	ch := h.ok(engine.IssueChallenge{App: "web", RequiredACR: engine.ACRLow}).Reply
	if ch.Deliver == nil {
		t.Fatalf("default sms authenticator got no code: %+v", ch)
	}
	code := ch.Deliver.Code.Reveal()
	// Three wrong attempts burn the code.
	for i := 0; i < 3; i++ {
		h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"}, vakt.CodeInvalidCode)
	}
	h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: code}, vakt.CodeInvalidCode)
	sent := h.ok(engine.SendCode{ChallengeID: ch.ChallengeID, AuthenticatorID: res.Reply.AuthenticatorID}).Reply
	if r := h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: sent.Deliver.Code.Reveal()}).Reply; r.ACR != engine.ACRLow {
		t.Fatalf("sms success acr %s", r.ACR)
	}
}

func TestRecoveryCodes(t *testing.T) {
	h := newHarness(t)
	h.fail(engine.IssueRecoveryCodes{}, vakt.CodeEnrolmentRequired)
	h.enrolTOTP("Phone")
	codes := h.ok(engine.IssueRecoveryCodes{}).Reply.RecoveryCodes
	if len(codes) != 10 {
		t.Fatalf("%d codes", len(codes))
	}
	ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
	res := h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: strings.ToUpper(codes[3].Reveal())})
	wantTypes(t, res.Records, "recovery_code.used", "challenge.succeeded")
	ch = h.ok(engine.IssueChallenge{App: "web"}).Reply
	h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: codes[3].Reveal()}, vakt.CodeInvalidCode)
}

func TestResets(t *testing.T) {
	h := newHarness(t)
	h.enrolTOTP("Phone")
	h.fail(engine.Reset{Proof: &events.Proof{Kind: "idporten", ACR: "idporten-loa-substantial", Reference: "sid-1"}}, vakt.CodeInsufficientProof)
	h.fail(engine.Reset{Proof: &events.Proof{Kind: "idporten", ACR: "made-up"}}, vakt.CodeInsufficientProof)
	h.fail(engine.Reset{}, vakt.CodeInvalidArgument)
	res := h.ok(engine.Reset{Proof: &events.Proof{Kind: "idporten", ACR: "idporten-loa-high", Reference: "sid-2"}, TemporaryPass: true})
	wantTypes(t, res.Records, "reset.completed", "temporary_pass.issued")
	pass := res.Reply.TemporaryPass.Reveal()
	u := h.state()
	if len(u.Authenticators) != 0 || u.TemporaryPass == nil {
		t.Fatalf("after reset: %+v", u)
	}
	// The pass signs in once, to enrol again ("reactivate").
	ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
	if len(ch.Methods) != 1 || ch.Methods[0] != events.MethodTemporaryPass {
		t.Fatalf("methods after reset: %v", ch.Methods)
	}
	h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: pass})
	h.fail(engine.IssueChallenge{App: "web"}, vakt.CodeEnrolmentRequired)
	h.enrolTOTP("New phone")
	res = h.ok(engine.Reset{Helpdesk: &engine.Helpdesk{Operator: "kari", Ticket: "INC-1"}})
	if rc := res.Records[0].Event.(events.ResetCompleted); rc.Kind != "helpdesk" || rc.Ticket != "INC-1" || rc.Removed != 1 {
		t.Fatalf("helpdesk reset = %+v", rc)
	}
}

func TestEnforcementAndSnooze(t *testing.T) {
	h := newHarness(t)
	h.fail(engine.IssueChallenge{App: "web"}, vakt.CodeEnrolmentRequired)
	h.fail(engine.SnoozeEnrolment{App: "web"}, vakt.CodeEnrolmentRequired)
	p := engine.DefaultPolicy()
	p.EnforceFrom = t0.Add(30 * 24 * time.Hour)
	if _, err := h.svc.SetPolicy(t.Context(), h.tenant, engine.SetPolicy{Policy: p}, "pol-1", "admin"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		r := h.ok(engine.SnoozeEnrolment{App: "web"})
		wantTypes(t, r.Records, "enrolment.snoozed", "challenge.skipped")
	}
	h.fail(engine.SnoozeEnrolment{App: "web"}, vakt.CodeEnrolmentRequired)
}

func TestErasure(t *testing.T) {
	h := newHarness(t)
	h.enrolTOTP("Phone")
	h.ok(engine.Erase{Operator: "dpo", Reason: "GDPR art. 17"})
	h.fail(engine.IssueChallenge{App: "web"}, vakt.CodeErased)
	h.fail(engine.StartEnrolment{Method: "totp", Label: "x"}, vakt.CodeErased)
	if key, _ := h.keys.DataKey(t.Context(), h.tenant, h.user, false); key != nil {
		t.Fatal("data key survived erasure")
	}
	v := events.NewVerifier()
	for _, r := range h.events() {
		if brk := v.Check(&r); brk != nil {
			t.Fatalf("chain after erasure: %v", brk)
		}
	}
}

func TestHOTP(t *testing.T) {
	h := newHarness(t)
	res := h.ok(engine.StartEnrolment{Method: events.MethodHOTP, Label: "YubiKey", Secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"})
	uri := res.Reply.OTPAuthURI.Reveal()
	if !strings.Contains(uri, "counter=0") {
		t.Fatalf("hotp uri lacks counter: %s", uri)
	}
	// RFC 4226 Appendix D: counter 2 is 359152 (presses 0 and 1 were lost).
	h.ok(engine.ConfirmEnrolment{AuthenticatorID: res.Reply.AuthenticatorID, Code: "359152"})
	ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
	h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "359152"}, vakt.CodeInvalidCode)
	h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: hotpCode(t, uri, 5)})
	// Far ahead of the window: resync with two consecutive codes.
	ch = h.ok(engine.IssueChallenge{App: "web"}).Reply
	h.fail(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: hotpCode(t, uri, 40)}, vakt.CodeInvalidCode)
	h.fail(engine.ResyncHOTP{AuthenticatorID: res.Reply.AuthenticatorID, Code1: hotpCode(t, uri, 41), Code2: hotpCode(t, uri, 43)}, vakt.CodeInvalidCode)
	h.ok(engine.ResyncHOTP{AuthenticatorID: res.Reply.AuthenticatorID, Code1: hotpCode(t, uri, 41), Code2: hotpCode(t, uri, 42)})
	h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: hotpCode(t, uri, 43)})
}

func TestDriftShiftsWindow(t *testing.T) {
	h := newHarness(t)
	id, app := h.enrolTOTP("Slow phone")
	// The phone runs 30 s behind: each code is from the previous step.
	for i := 0; i < 2; i++ {
		h.advance(60 * time.Second)
		ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
		h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now.Add(-30*time.Second))})
	}
	if a := h.state().Authenticator(id); a.Drift != -1 {
		t.Fatalf("drift = %d, want -1 after two successes one step behind", a.Drift)
	}
	// Now the phone falls 60 s behind, still inside the shifted window.
	h.advance(60 * time.Second)
	ch := h.ok(engine.IssueChallenge{App: "web"}).Reply
	h.ok(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: app.code(t, h.now.Add(-60*time.Second))})
}
