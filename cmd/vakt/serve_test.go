package main

// Scenario tests of `vakt serve`: one per flow people know from Microsoft
// Authenticator, Okta Verify and MinID, through HTTP, each checking the
// events it stored and the read models they produced.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"image/png"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/apptest"
)

const tenant = "uio.no"

func TestServeFirstActivationWithQR(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	user := "ola.nordmann@uio.no"

	r := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/authenticators", rp, map[string]any{"method": "totp", "label": "Phone"})
	if r.str("status") != "pending" || r.str("method") != "totp" || r.str("expires_at") == "" {
		t.Fatalf("enrolment: %s", r)
	}
	uri := r.str("otpauth_uri")
	if !strings.HasPrefix(uri, "otpauth://totp/") {
		t.Fatalf("otpauth_uri %q", uri)
	}
	// The QR code is a PNG that decodes, and (where zbarimg is installed,
	// as in CI) reads back as the otpauth URI exactly.
	qr := r.str("qr_png")
	b64, ok := strings.CutPrefix(qr, "data:image/png;base64,")
	if !ok {
		t.Fatalf("qr_png is not a PNG data URL: %.40s", qr)
	}
	pngBytes, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(pngBytes)); err != nil {
		t.Fatalf("qr_png: %v", err)
	}
	if zbar, err := exec.LookPath("zbarimg"); err == nil {
		cmd := exec.Command(zbar, "--quiet", "--raw", "-")
		cmd.Stdin = bytes.NewReader(pngBytes)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("zbarimg: %v", err)
		}
		if got := strings.TrimSpace(string(out)); got != uri {
			t.Fatalf("zbarimg read %q, want %q", got, uri)
		}
	}
	id := r.str("authenticator_id")
	k := totpKey(t, uri)
	path := userPath(tenant, user) + "/authenticators/" + id + "/confirm"

	// Without the relying party's key nobody confirms it, or spends its
	// attempts: only a push device confirms with a signature alone.
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", path, "", map[string]any{"code": "000000"})
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", path, "", map[string]any{"code": "000000", "signature": "AAAA"})
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", path, "", map[string]any{"public_key": "AAAA", "signature": "AAAA"})
	if got := s.types(tenant, user); len(got) != 1 {
		t.Fatalf("key-less confirmations stored events: %v", got)
	}
	// A wrong first code is refused and changes nothing.
	s.refused(http.StatusForbidden, "invalid_code", "POST", path, rp, map[string]any{"code": "000000"})
	s.nextStep()
	if got := s.must(http.StatusOK, "POST", path, rp, map[string]any{"code": s.code(k)}); got.str("status") != "active" {
		t.Fatalf("confirm: %s", got)
	}
	// The wrong code counted against the pending enrolment; the right one
	// activated it and, as the first, made it the default.
	if got, want := s.types(tenant, user), []string{"authenticator.enrolment_started", "authenticator.confirmation_failed", "authenticator.activated", "authenticator.default_changed"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	// The read model shows the authenticator active and default.
	info := s.infoWhere(rp, tenant, user, "an active default authenticator", func(m map[string]any) bool {
		return authenticatorsIn(m)[id] == "active" && m["default"] == id
	})
	if info["user"] != user || info["tenant"] != tenant {
		t.Errorf("security info: %v", info)
	}
	list := s.must(http.StatusOK, "GET", userPath(tenant, user)+"/authenticators", rp, nil)
	if list.str("default") != id {
		t.Errorf("authenticators: default is %q, want %q: %s", list.str("default"), id, list)
	}
}

func TestServeTOTPSignInAndReplay(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	user := "kari"
	_, k := s.enrolTOTP(rp, tenant, user, "Phone")

	ch := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web", "context": map[string]any{"ip": "192.0.2.10", "user_agent": "Firefox"}})
	if ch.str("status") != "pending" || !slices.Contains(toStrings(ch.m["methods"]), "totp") {
		t.Fatalf("challenge: %s", ch)
	}
	code := s.code(k)
	ok := s.must(http.StatusOK, "POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": code})
	if ok.str("status") != "succeeded" || ok.str("acr") != "substantial" {
		t.Fatalf("verify: %s", ok)
	}
	claims := s.checkToken(ok.str("token"), tenant, user)
	if claims["acr"] != "substantial" || !slices.Equal(amr(claims), []string{"otp"}) {
		t.Errorf("token claims: %v", claims)
	}
	s.wantTail(tenant, user, "challenge.issued", "challenge.succeeded")

	// The same code again, on a new challenge: refused as reused.
	ch2 := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	s.refused(http.StatusForbidden, "code_reused", "POST", challengePath(tenant, ch2.str("challenge_id"))+"/verify", rp, map[string]any{"code": code})
	// A second answer to the finished challenge: refused, nothing stored.
	before := len(s.types(tenant, user))
	r := s.do("POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": code})
	if r.status < 400 || r.status >= 500 {
		t.Fatalf("a second verify of a finished challenge: %s", r)
	}
	if after := len(s.types(tenant, user)); after != before {
		t.Errorf("the refused second answer stored %d events", after-before)
	}
	// The next step's code works.
	s.nextStep()
	s.must(http.StatusOK, "POST", challengePath(tenant, ch2.str("challenge_id"))+"/verify", rp, map[string]any{"code": s.code(k)})
	// The audit timeline and the read models saw it all.
	tl := s.timeline(s.admin, tenant, user)
	if !slices.Contains(tl, "challenge.succeeded") || !slices.Contains(tl, "challenge.attempt_failed") {
		t.Errorf("timeline: %v", tl)
	}
	s.infoWhere(rp, tenant, user, "the last sign-in", func(m map[string]any) bool {
		list, _ := m["authenticators"].([]any)
		return m["last_sign_in_at"] != nil && len(list) == 1 && list[0].(map[string]any)["last_used_at"] != nil
	})
	s.statsWhere(tenant, "two sign-ins and a reused code", func(n func(string) float64) bool {
		return n("challenges_by_outcome.succeeded") == 2 && n("codes_reused") == 1 && n("succeeded_by_method.totp") == 2
	})
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestServeNewPhoneThenRemoveOld(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	user := "per"
	old, oldKey := s.enrolTOTP(rp, tenant, user, "Old phone")
	// The new phone is added while the old one still works.
	nw, newKey := s.enrolTOTP(rp, tenant, user, "New phone")
	signIn := func(k any) apiReply {
		ch := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
		var code string
		switch k := k.(type) {
		case string:
			code = k
		default:
			code = s.code(newKey)
			if k == oldKey {
				code = s.code(oldKey)
			}
		}
		r := s.do("POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": code})
		s.nextStep()
		return r
	}
	if r := signIn(oldKey); r.status != http.StatusOK {
		t.Fatalf("the old phone stopped working when the new one was added: %s", r)
	}
	if r := signIn(newKey); r.status != http.StatusOK {
		t.Fatalf("the new phone does not work: %s", r)
	}
	// The new phone becomes the default, then the old one is removed.
	s.must(http.StatusOK, "PUT", userPath(tenant, user)+"/default-authenticator", rp, map[string]any{"authenticator_id": nw})
	s.must(http.StatusNoContent, "DELETE", userPath(tenant, user)+"/authenticators/"+old, rp, nil)
	s.wantTail(tenant, user, "authenticator.default_changed", "authenticator.removed")
	if r := signIn(s.code(oldKey)); r.status != http.StatusForbidden || r.errCode() != "invalid_code" {
		t.Fatalf("the removed phone's code: %s", r)
	}
	if r := signIn(newKey); r.status != http.StatusOK {
		t.Fatalf("the new phone after the old one was removed: %s", r)
	}
	list := s.must(http.StatusOK, "GET", userPath(tenant, user)+"/authenticators", rp, nil)
	if list.str("default") != nw || len(list.m["authenticators"].([]any)) != 1 {
		t.Fatalf("authenticators: %s", list)
	}
	s.infoWhere(rp, tenant, user, "only the new phone", func(m map[string]any) bool {
		a := authenticatorsIn(m)
		return len(a) == 1 && a[nw] == "active" && m["default"] == nw
	})
	// Removing it again: not found, nothing stored.
	n := len(s.types(tenant, user))
	s.refused(http.StatusNotFound, "not_found", "DELETE", userPath(tenant, user)+"/authenticators/"+old, rp, nil)
	if len(s.types(tenant, user)) != n {
		t.Error("a refused removal stored events")
	}
}

func TestServePushWithVaktDevice(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	user := "ingrid"
	// A TOTP app too, so that sign-in goes on while push is paused.
	_, k := s.enrolTOTP(rp, tenant, user, "App")

	r := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/authenticators", rp, map[string]any{"method": "push", "label": "Terminal"})
	link := r.str("activation_url")
	if !strings.HasPrefix(link, "vakt://activate?") || r.str("qr_png") == "" {
		t.Fatalf("push enrolment: %s", r)
	}
	auth := r.str("authenticator_id")
	keyFile := deviceKeyFile(t)
	if out, errOut, code := runDevice(t, "enrol", link, "--key", keyFile); code != 0 {
		t.Fatalf("vakt device enrol: exit %d: %s%s", code, out, errOut)
	}
	s.wantTail(tenant, user, "authenticator.enrolment_started", "authenticator.activated")
	// The activation code is spent: enrolling again with it fails.
	if _, _, code := runDevice(t, "enrol", link, "--key", deviceKeyFile(t)); code == 0 {
		t.Fatal("an activation link worked twice")
	}
	s.must(http.StatusOK, "PUT", userPath(tenant, user)+"/default-authenticator", rp, map[string]any{"authenticator_id": auth})

	issue := func() apiReply {
		t.Helper()
		return s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{
			"app": "web", "context": map[string]any{"application": "Canvas", "ip": "192.0.2.7", "location": "Oslo, Norway", "user_agent": "Firefox on Linux"},
		})
	}
	// listen answers one push with the device and returns what it printed.
	listen := func(args ...string) string {
		t.Helper()
		out, errOut, code := runDevice(t, append([]string{"listen", "--key", keyFile, "--once"}, args...)...)
		if code != 0 {
			t.Fatalf("vakt device listen %v: exit %d: %s%s", args, code, out, errOut)
		}
		return out
	}
	wrongOf := func(ch apiReply) int {
		for _, n := range []int{11, 22, 33, 44, 55, 66, 77, 88, 99} {
			if n != int(ch.m["number_match"].(float64)) {
				return n
			}
		}
		return 0
	}

	// 1. Approved with the number shown at the login screen, while the
	// relying party long-polls the challenge.
	ch := issue()
	number := int(ch.m["number_match"].(float64))
	if number < 10 || number > 99 || ch.m["push_sent"] != true {
		t.Fatalf("push challenge: %s", ch)
	}
	polled := make(chan apiReply, 1)
	go func() { polled <- s.do("GET", challengePath(tenant, ch.str("challenge_id"))+"?wait=30s", rp, nil) }()
	out := listen("--auto", "approve", "--number", strconv.Itoa(number))
	for _, want := range []string{"Canvas", "192.0.2.7", "Oslo, Norway"} {
		if !strings.Contains(out, want) {
			t.Errorf("the device did not show %q:\n%s", want, out)
		}
	}
	var p apiReply
	select {
	case p = <-polled:
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll did not answer after the approval")
	}
	if p.status != http.StatusOK || p.str("status") != "succeeded" || p.str("token") == "" {
		t.Fatalf("long poll: %s", p)
	}
	claims := s.checkToken(p.str("token"), tenant, user)
	if claims["acr"] != "substantial" || !slices.Equal(amr(claims), []string{"pop", "swk"}) || claims["jti"] == "" {
		t.Errorf("push token claims: %v", claims)
	}
	s.wantTail(tenant, user, "challenge.issued", "challenge.succeeded")

	// 2. Denied.
	ch = issue()
	listen("--auto", "deny")
	if st := s.must(http.StatusOK, "GET", challengePath(tenant, ch.str("challenge_id")), rp, nil); st.str("status") != "denied" || st.str("token") != "" {
		t.Fatalf("after deny: %s", st)
	}
	s.wantTail(tenant, user, "challenge.denied")

	// 3. Reported as fraud ("this wasn't me").
	ch = issue()
	listen("--auto", "fraud")
	if st := s.must(http.StatusOK, "GET", challengePath(tenant, ch.str("challenge_id")), rp, nil); st.str("status") != "fraud_reported" {
		t.Fatalf("after fraud: %s", st)
	}
	s.wantTail(tenant, user, "challenge.fraud_reported")
	s.eventually(func() string {
		tl := s.timeline(s.admin, tenant, user)
		if !slices.Contains(tl, "challenge.fraud_reported") {
			return fmt.Sprintf("timeline %v", tl)
		}
		return ""
	})

	// 4. Push fatigue: refusals (a denial, a fraud report, a wrong number)
	// pause push.
	ch = issue()
	listen("--auto", "approve", "--number", strconv.Itoa(wrongOf(ch)))
	// Denied, fraud reported, wrong number: three refusals within the hour.
	s.wantTail(tenant, user, "challenge.denied", "push.paused")
	s.refused(http.StatusTooManyRequests, "push_paused", "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web", "method": "push"})
	// Without naming a method, the sign-in goes on with the app's code.
	ch = s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	if slices.Contains(toStrings(ch.m["methods"]), "push") || ch.m["number_match"] != nil {
		t.Fatalf("a challenge offered push while paused: %s", ch)
	}
	s.must(http.StatusOK, "POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": s.code(k)})
	s.infoWhere(rp, tenant, user, "push paused", func(m map[string]any) bool { return m["push_paused_until"] != nil })
	s.statsWhere(tenant, "push outcomes", func(n func(string) float64) bool {
		return n("push_denied") == 2 && n("push_fraud") == 1 && n("push_paused") == 1 && n("succeeded_by_method.push") == 1
	})
}

func TestServeSMSCode(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	user := "nils"
	r := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/authenticators", rp, map[string]any{"method": "sms", "label": "Mobile", "address": "+4791234567"})
	if r.str("code_sent_to") != "sms" {
		t.Fatalf("sms enrolment: %s", r)
	}
	if strings.Contains(string(r.body), "91234567") {
		t.Errorf("the enrolment answer shows the phone number: %s", r)
	}
	m := s.box.Nth(t, 1)
	if m.Method != "sms" || m.Purpose != "enrolment" || m.Address.Reveal() != "+4791234567" {
		t.Fatalf("enrolment message: %+v", m)
	}
	s.must(http.StatusOK, "POST", userPath(tenant, user)+"/authenticators/"+r.str("authenticator_id")+"/confirm", rp, map[string]any{"code": m.Code.Reveal()})

	// SMS is at acr low: a challenge at the default (substantial) has no
	// method for this user, one at low sends a code.
	s.refused(http.StatusUnprocessableEntity, "method_not_allowed", "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	ch := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web", "required_acr": "low"})
	if ch.str("code_sent_by") != "sms" {
		t.Fatalf("sms challenge: %s", ch)
	}
	m = s.box.Nth(t, 2)
	if m.Purpose != "challenge" || m.ChallengeID == "" {
		t.Fatalf("challenge message: %+v", m)
	}
	s.wantTail(tenant, user, "challenge.issued", "challenge.code_sent")
	path := challengePath(tenant, ch.str("challenge_id")) + "/verify"
	s.refused(http.StatusForbidden, "invalid_code", "POST", path, rp, map[string]any{"code": "000000"})
	ok := s.must(http.StatusOK, "POST", path, rp, map[string]any{"code": m.Code.Reveal()})
	if ok.str("acr") != "low" {
		t.Fatalf("sms verify: %s", ok)
	}
	c := s.checkToken(ok.str("token"), tenant, user)
	if c["acr"] != "low" || !slices.Contains(amr(c), "sms") {
		t.Errorf("sms token: %v", c)
	}
	s.wantTail(tenant, user, "challenge.attempt_failed", "challenge.succeeded")
	s.infoWhere(rp, tenant, user, "an active sms authenticator used once", func(m map[string]any) bool {
		list, _ := m["authenticators"].([]any)
		return len(list) == 1 && list[0].(map[string]any)["method"] == "sms" && list[0].(map[string]any)["last_used_at"] != nil
	})
	s.statsWhere(tenant, "an sms sign-in", func(n func(string) float64) bool { return n("succeeded_by_method.sms") == 1 })
	// Asking for a new code on a finished challenge is refused.
	r = s.do("POST", challengePath(tenant, ch.str("challenge_id"))+"/send", rp, map[string]any{"method": "sms"})
	if r.status < 400 || r.status >= 500 {
		t.Fatalf("send on a finished challenge: %s", r)
	}
}

func TestServeLockoutLadderAndHelpdeskUnlock(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	hd := s.key("helpdesk", tenant)
	user := "lise"
	_, k := s.enrolTOTP(rp, tenant, user, "Phone")
	ch := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	path := challengePath(tenant, ch.str("challenge_id")) + "/verify"
	fail5 := func() {
		t.Helper()
		for i := 0; i < 5; i++ {
			r := s.do("POST", path, rp, map[string]any{"code": "000000"})
			if r.status != http.StatusForbidden && r.status != http.StatusLocked {
				t.Fatalf("wrong code %d: %s", i+1, r)
			}
		}
	}
	fail5()
	s.wantTail(tenant, user, "challenge.attempt_failed", "user.locked_out")
	// Locked: even the right code is refused.
	s.refused(http.StatusLocked, "locked_out", "POST", path, rp, map[string]any{"code": s.code(k)})
	s.infoWhere(hd, tenant, user, "locked", func(m map[string]any) bool { return m["locked"] == true })
	// The ladder: a minute, then two.
	s.clock.Advance(61 * time.Second)
	s.nextStep()
	fail5()
	ladder := lockDurations(t, s.records(tenant, user))
	if len(ladder) != 2 || ladder[0] != time.Minute || ladder[1] != 2*time.Minute {
		t.Fatalf("lockout ladder %v, want [1m 2m]", ladder)
	}
	// A relying party may not unlock; the helpdesk may, with a ticket.
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", userPath(tenant, user)+"/unlock", rp, map[string]any{"operator": "anne", "ticket": "RT#1"})
	s.refused(http.StatusBadRequest, "invalid_argument", "POST", userPath(tenant, user)+"/unlock", hd, map[string]any{"operator": "anne"})
	s.must(http.StatusOK, "POST", userPath(tenant, user)+"/unlock", hd, map[string]any{"operator": "anne", "ticket": "RT#4711"})
	s.wantTail(tenant, user, "user.unlocked")
	s.must(http.StatusOK, "POST", path, rp, map[string]any{"code": s.code(k)})
	s.infoWhere(hd, tenant, user, "unlocked", func(m map[string]any) bool { return m["locked"] == false })
	s.statsWhere(tenant, "two lockouts and an unlock", func(n func(string) float64) bool {
		return n("lockouts") == 2 && n("unlocks") == 1 && n("attempts_failed") == 10
	})
}

// lockDurations lists how long each lockout in recs lasts.
func lockDurations(t *testing.T, recs []events.Record) []time.Duration {
	t.Helper()
	var out []time.Duration
	for _, r := range recs {
		if e, ok := r.Event.(events.LockedOut); ok {
			out = append(out, e.Until.Sub(r.Time).Round(time.Second))
		}
	}
	return out
}

func TestServeSelfServiceResetNeedsHighProof(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	user := "arne"
	s.enrolTOTP(rp, tenant, user, "Lost phone")
	n := len(s.types(tenant, user))
	r := s.refused(http.StatusForbidden, "insufficient_proof", "POST", userPath(tenant, user)+"/reset", rp,
		map[string]any{"proof": map[string]any{"kind": "idporten", "acr": "idporten-loa-substantial", "reference": "idp-session-1"}})
	if !strings.Contains(r.str("message")+string(r.body), "high") {
		t.Errorf("the refusal does not say what level is needed: %s", r)
	}
	if len(s.types(tenant, user)) != n {
		t.Fatal("a refused reset stored events")
	}
	s.must(http.StatusOK, "POST", userPath(tenant, user)+"/reset", rp,
		map[string]any{"proof": map[string]any{"kind": "idporten", "acr": "idporten-loa-high", "reference": "idp-session-2"}})
	recs := s.records(tenant, user)
	last := recs[len(recs)-1]
	if last.Type != "reset.completed" || !strings.Contains(string(last.Raw), "idporten-loa-high") || !strings.Contains(string(last.Raw), "idp-session-2") {
		t.Fatalf("reset event: %s %s", last.Type, last.Raw)
	}
	// Every authenticator is gone: the user must enrol again.
	s.refused(http.StatusConflict, "enrolment_required", "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	s.infoWhere(rp, tenant, user, "no active authenticator", func(m map[string]any) bool {
		for _, st := range authenticatorsIn(m) {
			if st == "active" {
				return false
			}
		}
		return true
	})
	s.infoWhere(rp, tenant, user, "a self-service reset", func(m map[string]any) bool {
		return m["resets"] == float64(1) && m["last_reset_kind"] == "self_service"
	})
	s.enrolTOTP(rp, tenant, user, "New phone")
}

func TestServeHelpdeskResetWithTicket(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	hd := s.key("helpdesk", tenant)
	user := "siri"
	s.enrolTOTP(rp, tenant, user, "Lost phone")
	body := map[string]any{"helpdesk": map[string]any{"operator": "anne", "ticket": "RT#4712"}, "temporary_pass": true}
	// Only the helpdesk (or a tenant admin) may, and only with a ticket.
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", userPath(tenant, user)+"/reset", rp, body)
	s.refused(http.StatusBadRequest, "invalid_argument", "POST", userPath(tenant, user)+"/reset", hd, map[string]any{"helpdesk": map[string]any{"operator": "anne"}})
	r := s.must(http.StatusOK, "POST", userPath(tenant, user)+"/reset", hd, body)
	pass := r.str("temporary_pass")
	if pass == "" {
		t.Fatalf("no temporary pass: %s", r)
	}
	types := s.types(tenant, user)
	if !slices.Contains(types, "reset.completed") || !slices.Contains(types, "temporary_pass.issued") {
		t.Fatalf("events %v", types)
	}
	for _, rec := range s.records(tenant, user) {
		if rec.Type == "reset.completed" && (!strings.Contains(string(rec.Raw), "RT#4712") || !strings.Contains(string(rec.Raw), "anne")) {
			t.Errorf("the reset does not record operator and ticket: %s", rec.Raw)
		}
		if strings.Contains(string(rec.Raw), pass) {
			t.Errorf("the temporary pass is stored in clear in %s", rec.Type)
		}
	}
	// The pass signs the user in once, to enrol a new phone.
	ch := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	if !slices.Contains(toStrings(ch.m["methods"]), "temporary_pass") {
		t.Fatalf("methods after a reset with a pass: %s", ch)
	}
	s.must(http.StatusOK, "POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": pass})
	s.wantTail(tenant, user, "temporary_pass.used", "challenge.succeeded")
	// Spent: the next sign-in needs an authenticator again.
	s.refused(http.StatusConflict, "enrolment_required", "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	s.infoWhere(hd, tenant, user, "a helpdesk reset", func(m map[string]any) bool {
		return m["last_reset_kind"] == "helpdesk" && len(authenticatorsIn(m)) == 0
	})
	s.statsWhere(tenant, "a helpdesk reset", func(n func(string) float64) bool { return n("resets_by_kind.helpdesk") == 1 })
	s.enrolTOTP(rp, tenant, user, "New phone")
}

func TestServeRememberedBrowser(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	user := "eva"
	_, k := s.enrolTOTP(rp, tenant, user, "Phone")
	ch := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	ok := s.must(http.StatusOK, "POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": s.code(k), "remember_device": true})
	token := ok.str("remember_token")
	if token == "" {
		t.Fatalf("no remember token: %s", ok)
	}
	s.wantTail(tenant, user, "challenge.succeeded", "device.remembered")
	s.infoWhere(rp, tenant, user, "one remembered browser", func(m map[string]any) bool {
		list, _ := m["remembered_devices"].([]any)
		return len(list) == 1
	})
	for _, rec := range s.records(tenant, user) {
		if strings.Contains(string(rec.Raw), token) {
			t.Fatalf("the remember token is stored in clear in %s", rec.Type)
		}
	}
	skip := func(app string) apiReply {
		return s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": app, "remember_token": token})
	}
	// Within 20 days, web skips the challenge and gets a token at once.
	s.clock.Advance(19 * 24 * time.Hour)
	r := skip("web")
	if r.str("status") != "skipped" || r.str("token") == "" {
		t.Fatalf("web within 20 days: %s", r)
	}
	c := s.checkToken(r.str("token"), tenant, user)
	if !slices.Equal(amr(c), []string{"remembered"}) {
		t.Errorf("remembered token amr %v", amr(c))
	}
	s.wantTail(tenant, user, "challenge.skipped")
	// rdp asks every time.
	if r := skip("rdp"); r.str("status") != "pending" {
		t.Fatalf("rdp with a remembered browser: %s", r)
	}
	// After 20 days, web asks again.
	s.clock.Advance(2 * 24 * time.Hour)
	if r := skip("web"); r.str("status") != "pending" {
		t.Fatalf("web after 21 days: %s", r)
	}
	s.statsWhere(tenant, "a skipped challenge", func(n func(string) float64) bool { return n("challenges_by_outcome.skipped") == 1 })
	// Past its age the browser is forgotten (device.forgotten on the
	// stream, gone from the security info).
	if !slices.Contains(s.types(tenant, user), "device.forgotten") {
		t.Errorf("no device.forgotten after the browser's age: %v", s.types(tenant, user))
	}
	s.infoWhere(rp, tenant, user, "no remembered browser", func(m map[string]any) bool {
		list, _ := m["remembered_devices"].([]any)
		return len(list) == 0
	})
	// A forged token is just not remembered.
	if r := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web", "remember_token": token + "x"}); r.str("status") != "pending" {
		t.Fatalf("a forged remember token: %s", r)
	}
}

func TestServeRecoveryCode(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	user := "jon"
	s.enrolTOTP(rp, tenant, user, "Phone")
	r := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/recovery-codes", rp, nil)
	codes := toStrings(r.m["codes"])
	if len(codes) != 10 {
		t.Fatalf("recovery codes: %s", r)
	}
	for _, rec := range s.records(tenant, user) {
		for _, c := range codes {
			if strings.Contains(string(rec.Raw), c) {
				t.Fatalf("a recovery code is stored in clear in %s", rec.Type)
			}
		}
	}
	ch := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	if !slices.Contains(toStrings(ch.m["methods"]), "recovery_code") {
		t.Fatalf("methods: %s", ch)
	}
	ok := s.must(http.StatusOK, "POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": codes[3]})
	if ok.str("method") != "recovery_code" {
		t.Fatalf("verify with a recovery code: %s", ok)
	}
	s.wantTail(tenant, user, "recovery_code.used", "challenge.succeeded")
	ch = s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	if r := s.do("POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": codes[3]}); r.status != http.StatusForbidden {
		t.Fatalf("a recovery code worked twice: %s", r)
	}
	s.infoWhere(rp, tenant, user, "nine codes left", func(m map[string]any) bool { return m["recovery_codes_left"] == float64(9) })
}

func TestServeErasure(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	ta := s.key("tenant_admin", tenant)
	user := "gone"
	s.enrolTOTP(rp, tenant, user, "Phone")
	s.refused(http.StatusUnauthorized, "unauthorized", "DELETE", userPath(tenant, user), rp, nil)
	s.must(http.StatusNoContent, "DELETE", userPath(tenant, user), ta, map[string]any{"operator": "dpo", "ticket": "GDPR-17", "reason": "article 17 request"})
	s.wantTail(tenant, user, "user.erased")
	// The data key is gone: nothing sealed for this user can be read again.
	if k, err := s.app.Stack.Keys.DataKey(context.Background(), tenant, user, false); k != nil || err != nil {
		t.Error("the erased user's data key still opens")
	}
	s.refused(http.StatusGone, "erased", "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	s.refused(http.StatusGone, "erased", "POST", userPath(tenant, user)+"/authenticators", rp, map[string]any{"method": "totp", "label": "Phone"})
	s.infoWhere(ta, tenant, user, "erased", func(m map[string]any) bool {
		return m["erased"] == true && len(authenticatorsIn(m)) == 0
	})
	s.statsWhere(tenant, "an erasure", func(n func(string) float64) bool { return n("erasures") == 1 })
	n := len(s.types(tenant, user))
	s.do("DELETE", userPath(tenant, user), ta, nil)
	if len(s.types(tenant, user)) != n {
		t.Error("erasing twice stored events")
	}
}

func TestServeKeysAndScopes(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	other := s.key("relying_party", "ntnu.no")
	hd := s.key("helpdesk", tenant)
	ta := s.key("tenant_admin", tenant)
	user := "scoped"
	s.enrolTOTP(rp, tenant, user, "Phone")
	path := userPath(tenant, user) + "/challenges"
	n := len(s.types(tenant, user))

	s.refused(http.StatusUnauthorized, "unauthorized", "POST", path, "", map[string]any{"app": "web"})
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", path, "vakt_forged_"+strings.Repeat("A", 43), map[string]any{"app": "web"})
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", path, rp+"x", map[string]any{"app": "web"})
	// A key of another tenant.
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", path, other, map[string]any{"app": "web"})
	s.refused(http.StatusUnauthorized, "unauthorized", "GET", userPath(tenant, user)+"/events", other, nil)
	// The helpdesk reads and unlocks but does not sign users in.
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", path, hd, map[string]any{"app": "web"})
	s.must(http.StatusOK, "GET", userPath(tenant, user)+"/events", hd, nil)
	// A relying party reads no audit trail and changes no policy.
	s.refused(http.StatusUnauthorized, "unauthorized", "GET", userPath(tenant, user)+"/events", rp, nil)
	s.refused(http.StatusUnauthorized, "unauthorized", "PUT", "/v1/tenants/"+tenant+"/policy", rp, map[string]any{"issuer": "Evil"})
	if len(s.types(tenant, user)) != n {
		t.Fatal("refused calls stored events")
	}

	// Keys: a relying party or the helpdesk makes none; a tenant admin makes
	// lower keys for its own tenant only; the admin any.
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", "/v1/keys", rp, map[string]any{"scope": "relying_party", "tenant": tenant})
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", "/v1/keys", hd, map[string]any{"scope": "helpdesk", "tenant": tenant})
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", "/v1/keys", ta, map[string]any{"scope": "relying_party", "tenant": "ntnu.no"})
	r := s.must(http.StatusCreated, "POST", "/v1/keys", ta, map[string]any{"scope": "relying_party", "tenant": tenant, "label": "portal"})
	made := r.str("key")
	s.must(http.StatusCreated, "POST", path, made, map[string]any{"app": "web"})
	s.refused(http.StatusBadRequest, "invalid_argument", "POST", "/v1/keys", s.admin, map[string]any{"scope": "root", "tenant": tenant})
	// Listed without secrets; revoked at once.
	list := s.must(http.StatusOK, "GET", "/v1/keys?tenant="+tenant, ta, nil)
	if strings.Contains(string(list.body), made) || !strings.Contains(string(list.body), r.str("id")) {
		t.Fatalf("key list: %s", list)
	}
	s.must(http.StatusNoContent, "DELETE", "/v1/keys/"+r.str("id"), ta, nil)
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", path, made, map[string]any{"app": "web"})
	// Keys are stored only as hashes: no secret in the bucket.
	for _, k := range []string{rp, hd, ta, made} {
		if bucketHolds(t, s, k) {
			t.Fatalf("a key's secret is stored in clear")
		}
	}
	// The policy: a tenant admin sets it, and the change is an event.
	s.must(http.StatusOK, "PUT", "/v1/tenants/"+tenant+"/policy", ta, map[string]any{"issuer": "UiO"})
	if p := s.must(http.StatusOK, "GET", "/v1/tenants/"+tenant+"/policy", hd, nil); p.str("issuer") != "UiO" {
		t.Fatalf("policy: %s", p)
	}
}

// bucketHolds reports whether any value in the API key bucket contains the
// key's secret part.
func bucketHolds(t *testing.T, s *served, key string) bool {
	t.Helper()
	secret := key[strings.LastIndex(key, "_")+1:]
	kv, err := s.app.Stack.NATS.JetStream.KeyValue(context.Background(), "VAKT_APIKEYS")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		e, err := kv.Get(context.Background(), k)
		if err == nil && strings.Contains(string(e.Value()), secret) {
			return true
		}
	}
	return false
}

func TestServeBadInput(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	user := "ola"
	_, k := s.enrolTOTP(rp, tenant, user, "Phone")
	enrol := userPath(tenant, user) + "/authenticators"
	n := len(s.types(tenant, user))

	for name, body := range map[string]string{
		"malformed":     `{"method": "totp", "label": `,
		"unknown field": `{"method": "totp", "label": "x", "admin": true}`,
		"wrong type":    `{"method": 5, "label": "x"}`,
		"two values":    `{"method": "totp", "label": "x"} {}`,
		"not an object": `["totp"]`,
		"oversized":     `{"method": "totp", "label": "` + strings.Repeat("x", 70<<10) + `"}`,
		"long label":    `{"method": "totp", "label": "` + strings.Repeat("x", 500) + `"}`,
		"bad method":    `{"method": "carrier-pigeon", "label": "x"}`,
	} {
		r := s.do("POST", enrol, rp, body)
		if r.status != http.StatusBadRequest || r.errCode() != "invalid_argument" {
			t.Errorf("%s: %s", name, r)
		}
	}
	s.refused(http.StatusBadRequest, "invalid_argument", "POST", enrol, rp, "method=totp", "Content-Type", "application/x-www-form-urlencoded")
	if len(s.types(tenant, user)) != n {
		t.Fatal("bad input stored events")
	}
	// A secret in a bad body is not echoed.
	ch := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	verify := challengePath(tenant, ch.str("challenge_id")) + "/verify"
	r := s.do("POST", verify, rp, `{"code": "SECRET-4242", "remember": true}`)
	if r.status != http.StatusBadRequest || strings.Contains(string(r.body), "SECRET-4242") {
		t.Errorf("unknown field with a code: %s", r)
	}
	r = s.do("POST", verify, rp, `{"code": 4242}`)
	if r.status != http.StatusBadRequest || strings.Contains(string(r.body), "4242") {
		t.Errorf("wrong type with a code: %s", r)
	}
	r = s.do("POST", verify, rp, map[string]any{"code": "999999"})
	if r.status != http.StatusForbidden || strings.Contains(string(r.body), "999999") {
		t.Errorf("a wrong code: %s", r)
	}

	// Ids with subject wildcards and dots are ids like any other: they
	// reach no other user's stream.
	for _, id := range []string{"*", ">", "ola.*", "ola.>", "ola nordmann", "ola.nordmann", "øyvind"} {
		r := s.must(http.StatusOK, "GET", userPath(tenant, id)+"/authenticators", rp, nil)
		if list, _ := r.m["authenticators"].([]any); len(list) != 0 {
			t.Errorf("user %q sees authenticators: %s", id, r)
		}
		s.refused(http.StatusConflict, "enrolment_required", "POST", userPath(tenant, id)+"/challenges", rp, map[string]any{"app": "web"})
	}
	for _, id := range []string{"", "a\x00b", "a\nb", strings.Repeat("x", 300)} {
		r := s.do("GET", userPath(tenant, id)+"/authenticators", rp, nil)
		if r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
			t.Errorf("user id %q: %s", id, r)
		}
	}
	// A key for uio.no is not a key for a wildcard tenant.
	s.refused(http.StatusUnauthorized, "unauthorized", "GET", userPath("*", user)+"/authenticators", rp, nil)
	s.refused(http.StatusUnauthorized, "unauthorized", "GET", userPath("uio.>", user)+"/authenticators", rp, nil)

	// Challenge ids: malformed, of another user, of another tenant.
	for _, id := range []string{"nope", "x~y", ch.str("challenge_id") + "x", strings.Replace(ch.str("challenge_id"), "~", "~b3R0bw", 1)} {
		r := s.do("POST", challengePath(tenant, id)+"/verify", rp, map[string]any{"code": s.code(k)})
		if r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
			t.Errorf("challenge id %q: %s", id, r)
		}
	}
	other := s.key("relying_party", "ntnu.no")
	s.refused(http.StatusNotFound, "not_found", "POST", challengePath("ntnu.no", ch.str("challenge_id"))+"/verify", other, map[string]any{"code": s.code(k)})
	// An expired challenge.
	s.clock.Advance(6 * time.Minute)
	s.refused(http.StatusGone, "expired", "POST", verify, rp, map[string]any{"code": s.code(k)})
	// An unknown route and a wrong method.
	s.refused(http.StatusNotFound, "not_found", "GET", "/v1/nothing", rp, nil)
	if r := s.do("PATCH", "/v1/keys", rp, nil); r.status < 400 || r.status >= 500 {
		t.Errorf("PATCH /v1/keys: %s", r)
	}
}

// A device may answer only its own user's pushes, over exactly the bytes it
// was sent, once, and in time.
func TestServeDeviceAnswersAreChecked(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	enrolPush := func(user string) (string, deviceKey) {
		t.Helper()
		r := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/authenticators", rp, map[string]any{"method": "push", "label": "Terminal"})
		file := deviceKeyFile(t)
		if out, errOut, code := runDevice(t, "enrol", r.str("activation_url"), "--key", file); code != 0 {
			t.Fatalf("enrol: %s%s", out, errOut)
		}
		k, err := loadDeviceKey(file)
		if err != nil {
			t.Fatal(err)
		}
		return r.str("authenticator_id"), *k
	}
	authA, devA := enrolPush("alice")
	authB, devB := enrolPush("bob")
	ch := s.must(http.StatusCreated, "POST", userPath(tenant, "alice")+"/challenges", rp, map[string]any{"app": "web"})
	apiID := ch.str("challenge_id")
	rawID, _, _ := strings.Cut(apiID, "~")
	number := int(ch.m["number_match"].(float64))
	respond := challengePath(tenant, apiID) + "/respond"
	answer := func(dev deviceKey, user, auth, decision string, number int) map[string]any {
		msg := engine.PushMessage(tenant, user, rawID, auth, decision, number, false)
		return map[string]any{"authenticator_id": auth, "decision": decision, "number": number, "signature": ed25519.Sign(dev.priv, msg)}
	}
	n := len(s.types(tenant, "alice"))
	// Bob's device answers Alice's challenge: with its own id, or posing as
	// Alice's authenticator.
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", respond, "", answer(devB, "bob", authB, "approve", number))
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", respond, "", answer(devB, "alice", authA, "approve", number))
	// Alice's device, signing other bytes: another number, another decision.
	forged := answer(devA, "alice", authA, "approve", number+1)
	forged["number"] = number
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", respond, "", forged)
	forged = answer(devA, "alice", authA, "deny", 0)
	forged["decision"], forged["number"] = "approve", number
	s.refused(http.StatusUnauthorized, "unauthorized", "POST", respond, "", forged)
	// Polling another authenticator's pushes with one's own key.
	unix := time.Now().Unix()
	sig := ed25519.Sign(devB.priv, engine.DeviceMessage(tenant, "alice", authA, unix))
	s.refused(http.StatusUnauthorized, "unauthorized", "GET", userPath(tenant, "alice")+"/authenticators/"+authA+"/pushes", "", nil,
		"Authorization", "Vakt-Device "+base64.StdEncoding.EncodeToString(sig), "X-Vakt-Time", strconv.FormatInt(unix, 10))
	if len(s.types(tenant, "alice")) != n {
		t.Fatalf("refused answers stored events: %v", s.types(tenant, "alice"))
	}
	// The real answer, then a second one.
	if r := s.must(http.StatusOK, "POST", respond, "", answer(devA, "alice", authA, "approve", number)); r.str("status") != "succeeded" || r.str("token") != "" {
		t.Fatalf("approve: %s", r)
	}
	n = len(s.types(tenant, "alice"))
	s.refused(http.StatusConflict, "conflict", "POST", respond, "", answer(devA, "alice", authA, "deny", 0))
	// An expired push.
	ch = s.must(http.StatusCreated, "POST", userPath(tenant, "alice")+"/challenges", rp, map[string]any{"app": "web"})
	apiID = ch.str("challenge_id")
	rawID, _, _ = strings.Cut(apiID, "~")
	s.clock.Advance(3 * time.Minute)
	s.refused(http.StatusGone, "expired", "POST", challengePath(tenant, apiID)+"/respond", "", answer(devA, "alice", authA, "approve", int(ch.m["number_match"].(float64))))
	if got := s.types(tenant, "alice"); len(got) != n+1 {
		t.Fatalf("after refused answers: %v", got[n:])
	}
}

// A retried request with the same Idempotency-Key is answered, not applied
// twice; one-time values are not shown again.
func TestServeIdempotentRetries(t *testing.T) {
	s := serveForTest(t)
	rp := s.key("relying_party", tenant)
	ta := s.key("tenant_admin", tenant)
	_, _ = s.enrolTOTP(rp, tenant, "retry", "Phone")
	body := map[string]any{"app": "web"}
	first := s.must(http.StatusCreated, "POST", userPath(tenant, "retry")+"/challenges", rp, body, "Idempotency-Key", "login-4711")
	again := s.must(http.StatusOK, "POST", userPath(tenant, "retry")+"/challenges", rp, body, "Idempotency-Key", "login-4711")
	if again.str("challenge_id") != first.str("challenge_id") || again.str("status") != "pending" {
		t.Fatalf("a retried challenge: first %s, again %s", first, again)
	}
	if n := countOf(s.types(tenant, "retry"), "challenge.issued"); n != 1 {
		t.Fatalf("%d challenges issued for one retried request", n)
	}
	metrics := string(s.must(http.StatusOK, "GET", "/metrics", "", nil).body)
	if v, found := metricValue(metrics, `vakt_events_appended_total{type="challenge.issued"}`); !found || v != 1 {
		t.Fatalf("the metrics count %v challenge.issued events (found %v) for one retried request", v, found)
	}
	s.refused(http.StatusBadRequest, "invalid_argument", "POST", userPath(tenant, "retry")+"/challenges", rp, body, "Idempotency-Key", "bad key")
	s.refused(http.StatusBadRequest, "invalid_argument", "POST", userPath(tenant, "retry")+"/challenges", rp, body, "Idempotency-Key", strings.Repeat("k", 1000))

	// Snoozing enrolment before the tenant enforces MFA: the token comes
	// once; the retry says it was done.
	enforce := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	s.must(http.StatusOK, "PUT", "/v1/tenants/"+tenant+"/policy", ta, map[string]any{"enforce_from": enforce})
	sn := s.must(http.StatusCreated, "POST", userPath(tenant, "later")+"/snooze", rp, body, "Idempotency-Key", "snooze-1")
	if sn.str("status") != "skipped" || sn.str("token") == "" {
		t.Fatalf("snooze: %s", sn)
	}
	if c := s.checkToken(sn.str("token"), tenant, "later"); !slices.Equal(amr(c), []string{"snoozed"}) {
		t.Errorf("snooze token amr %v", amr(c))
	}
	dup := s.must(http.StatusOK, "POST", userPath(tenant, "later")+"/snooze", rp, body, "Idempotency-Key", "snooze-1")
	if dup.str("status") != "duplicate" || dup.str("token") != "" || strings.Contains(string(dup.body), "~") {
		t.Fatalf("a retried snooze: %s", dup)
	}
	if n := countOf(s.types(tenant, "later"), "enrolment.snoozed"); n != 1 {
		t.Fatalf("%d snoozes for one retried request", n)
	}
	// Keys: a tenant admin lists its own tenant's keys without naming it; a
	// new key must name its tenant.
	list := s.must(http.StatusOK, "GET", "/v1/keys", ta, nil)
	if keys, _ := list.m["keys"].([]any); len(keys) < 2 {
		t.Fatalf("keys of the tenant admin's tenant: %s", list)
	}
	s.refused(http.StatusBadRequest, "invalid_argument", "POST", "/v1/keys", ta, map[string]any{"scope": "relying_party"})
	// Calls without a body refuse a body with fields.
	s.refused(http.StatusBadRequest, "invalid_argument", "POST", userPath(tenant, "retry")+"/recovery-codes", rp, map[string]any{"count": 20})
}

func countOf(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// TestServePolicyZeros: a policy document is laid over the defaults, so a
// tenant can set the zeros that mean something (totp.skew 0: only the
// current 30-second step; max_snoozes 0: no snoozing) and leave the rest
// out. The engine then refuses the previous step's code, which the default
// skew of one step accepts.
func TestServePolicyZeros(t *testing.T) {
	s := serveForTest(t)
	ta, rp := s.key("tenant_admin", tenant), s.key("relying_party", tenant)
	policyPath := "/v1/tenants/" + tenant + "/policy"
	p := s.must(http.StatusOK, "PUT", policyPath, ta, map[string]any{"totp": map[string]any{"skew": 0}, "max_snoozes": 0})
	totp, _ := p.m["totp"].(map[string]any)
	if totp["skew"] != 0.0 || p.m["max_snoozes"] != 0.0 || totp["period"] != 30.0 || p.str("issuer") != "Vakt" {
		t.Fatalf("policy with zeros: %s", p)
	}
	last := s.records(tenant, "")
	if n := len(last); n == 0 || last[n-1].Type != "policy.set" {
		t.Fatalf("the tenant stream does not end with policy.set: %v", s.types(tenant, ""))
	}

	user := "nils"
	_, k := s.enrolTOTP(rp, tenant, user, "Phone")
	s.nextStep()
	ch := s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	previous := apptest.TOTP(t, k.Secret(), s.clock.Now().Add(-30*time.Second))
	s.refused(http.StatusForbidden, "invalid_code", "POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": previous})
	s.must(http.StatusOK, "POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": s.code(k)})

	// What a document leaves out is the default, not the previous value.
	p = s.must(http.StatusOK, "PUT", policyPath, ta, map[string]any{"issuer": "UiO"})
	totp, _ = p.m["totp"].(map[string]any)
	if totp["skew"] != 1.0 || p.m["max_snoozes"] != 3.0 || p.str("issuer") != "UiO" {
		t.Fatalf("policy without the zeros: %s", p)
	}
	s.nextStep()
	s.nextStep() // the step before is one whose code was not used yet
	ch = s.must(http.StatusCreated, "POST", userPath(tenant, user)+"/challenges", rp, map[string]any{"app": "web"})
	previous = apptest.TOTP(t, k.Secret(), s.clock.Now().Add(-30*time.Second))
	s.must(http.StatusOK, "POST", challengePath(tenant, ch.str("challenge_id"))+"/verify", rp, map[string]any{"code": previous})
}
