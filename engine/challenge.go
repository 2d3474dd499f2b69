package engine

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

const (
	recoveryCodeLen = 10 // shown as xxxxx-xxxxx, about 50 bits
	passLen         = 12 // shown as xxxx-xxxx-xxxx, about 59 bits
	maxCodeSends    = 3  // SMS or e-mail codes per challenge
	maxDrift        = 10 // steps a TOTP window may move from the server's clock
	rememberAfter   = 10 * time.Minute
	maxCodeLen      = 64
	maxTokenLen     = 256
)

// methodOrder is the order in which methods are offered after the default.
var methodOrder = []string{
	events.MethodPush, events.MethodTOTP, events.MethodHOTP, events.MethodSMS,
	events.MethodEmail, events.MethodRecoveryCode, events.MethodTemporaryPass,
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// usable returns the active authenticators this decision has not ended.
func (d *decider) usable() []*Authenticator {
	var out []*Authenticator
	for _, a := range d.u.Active() {
		if !d.gone.has(a.ID) {
			out = append(out, a)
		}
	}
	return out
}

func (d *decider) temporaryPassValid() bool {
	tp := d.u.TemporaryPass
	return tp != nil && d.now.Before(tp.ExpiresAt) && d.p.Allows(events.MethodTemporaryPass)
}

func (d *decider) unusedRecoveryCodes() int {
	n := 0
	for _, c := range d.u.RecoveryCodes {
		if !c.Used {
			n++
		}
	}
	return n
}

// eligible lists the methods a challenge at acr req may be answered with,
// the default authenticator's method first.
func (d *decider) eligible(active []*Authenticator, req string) []string {
	have := map[string]bool{}
	first := ""
	for _, a := range active {
		if level(a.ACR) >= level(req) && d.p.Allows(a.Method) {
			have[a.Method] = true
			if a.ID == d.u.Default {
				first = a.Method
			}
		}
	}
	if len(active) > 0 && d.unusedRecoveryCodes() > 0 && level(ACRSubstantial) >= level(req) && d.p.Allows(events.MethodRecoveryCode) {
		have[events.MethodRecoveryCode] = true
	}
	if d.temporaryPassValid() && level(ACRSubstantial) >= level(req) {
		have[events.MethodTemporaryPass] = true
	}
	var out []string
	if first != "" {
		out = append(out, first)
	}
	for _, m := range methodOrder {
		if have[m] && m != first {
			out = append(out, m)
		}
	}
	return out
}

func (d *decider) canSnooze() bool {
	return !d.p.EnforceFrom.IsZero() && d.now.Before(d.p.EnforceFrom) && d.u.Snoozes < d.p.MaxSnoozes
}

func (d *decider) enrolmentRequired() error {
	if d.canSnooze() {
		return vakt.Errorf(vakt.CodeEnrolmentRequired, "the user has no authenticator; enrol one, or snooze (%d left) until %s",
			d.p.MaxSnoozes-d.u.Snoozes, d.p.EnforceFrom.Format(time.DateOnly))
	}
	return vakt.Errorf(vakt.CodeEnrolmentRequired, "the user has no authenticator; enrol one to continue")
}

func (d *decider) pendingPushes() int {
	n := 0
	for _, c := range d.u.Challenges {
		if c.Push != nil && d.now.Before(c.Push.ExpiresAt) && !d.gone.has(c.ID) {
			n++
		}
	}
	return n
}

// pushTarget picks the push authenticator to ask: the one named, else the
// default, else the oldest active push authenticator that reaches req.
func (d *decider) pushTarget(active []*Authenticator, id, req string) *Authenticator {
	var pick *Authenticator
	for _, a := range active {
		if a.Method != events.MethodPush || level(a.ACR) < level(req) {
			continue
		}
		if id != "" {
			if a.ID == id {
				return a
			}
			continue
		}
		if a.ID == d.u.Default {
			return a
		}
		if pick == nil {
			pick = a
		}
	}
	return pick
}

// pushRefusal explains why a push cannot be sent now, or returns nil.
func (d *decider) pushRefusal() error {
	switch {
	case d.pushLocked():
		return lockedErr(d.u.Lock)
	case d.pushPaused():
		return vakt.Errorf(vakt.CodePushPaused, "push is paused until %s after repeated denied or unanswered requests; use a code from the app instead",
			d.u.PushPausedUntil.Format(time.RFC3339))
	case d.pendingPushes() >= d.p.MaxPendingPushes:
		return vakt.Errorf(vakt.CodePushPaused, "%d push requests are already waiting; answer them or use a code", d.pendingPushes())
	}
	return nil
}

// newPush draws the number for the login screen and the three numbers the
// device offers (the right one among two others).
func (d *decider) newPush(a *Authenticator) (*events.PushRequest, error) {
	pick := func() (int, error) {
		v, err := randUint32n(d.env.Rand, 90)
		return 10 + int(v), err
	}
	choices := make([]int, 0, 3)
	for len(choices) < 3 {
		n, err := pick()
		if err != nil {
			return nil, err
		}
		if !containsInt(choices, n) {
			choices = append(choices, n)
		}
	}
	i, err := randUint32n(d.env.Rand, 3)
	if err != nil {
		return nil, err
	}
	return &events.PushRequest{
		AuthenticatorID: a.ID, Number: choices[i], Choices: choices,
		ExpiresAt: d.now.Add(d.p.PushTTL.D()),
	}, nil
}

func containsInt(list []int, n int) bool {
	for _, v := range list {
		if v == n {
			return true
		}
	}
	return false
}

// clientInfo is the sealed part of a sign-in's context.
type clientInfo struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Location  string `json:"location,omitempty"`
}

// sealClient seals the personal part of a context (IP, user agent,
// location) for a challenge; an empty one seals nothing.
func (d *decider) sealClient(challengeID string, c events.Context) (events.Sealed, error) {
	ci := clientInfo{IP: c.IP, UserAgent: c.UserAgent, Location: c.Location}
	if ci == (clientInfo{}) {
		return events.Sealed{}, nil
	}
	key, err := d.dataKey()
	if err != nil {
		return events.Sealed{}, err
	}
	return seal(key, d.env.Rand, d.aad(challengeID, purposeClient), ci.appendJSON(nil))
}

// appendJSON writes ci exactly as encoding/json does (the sealed bytes are
// part of the vectors), without reflection: this runs on every sign-in.
func (ci clientInfo) appendJSON(b []byte) []byte {
	b = append(b, '{')
	sep := false
	for _, f := range [...]struct{ key, v string }{{"ip", ci.IP}, {"user_agent", ci.UserAgent}, {"location", ci.Location}} {
		if f.v == "" {
			continue
		}
		if sep {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.key...)
		b = append(b, '"', ':')
		b = jsonx.AppendString(b, f.v)
		sep = true
	}
	return append(b, '}')
}

// OpenClient opens the sealed client details of a challenge (from
// challenge.issued or challenge.fraud_reported) with the user's data key, for
// a helpdesk screen or an audit run that holds the keys.
func OpenClient(key *DataKey, tenant, user, challengeID, application string, s events.Sealed) (events.Context, error) {
	c := events.Context{Application: application}
	if s.IsZero() {
		return c, nil
	}
	b, err := open(key, s, aad(nil, tenant, user, challengeID, purposeClient), nil)
	if err != nil {
		return c, err
	}
	var ci clientInfo
	if err := jsonx.Unmarshal(b, &ci); err != nil {
		return c, vakt.Errorf(vakt.CodeInternal, "decode client details: %w", err)
	}
	c.IP, c.UserAgent, c.Location = ci.IP, ci.UserAgent, ci.Location
	return c, nil
}

func (d *decider) pushNotice(chID, app string, ctx events.Context, p *events.PushRequest) *PushNotice {
	return &PushNotice{AuthenticatorID: p.AuthenticatorID, ChallengeID: chID, App: app, Choices: p.Choices, Context: ctx, ExpiresAt: p.ExpiresAt}
}

func (d *decider) issueChallenge(c IssueChallenge) error {
	if err := checkName("app", c.App); err != nil {
		return err
	}
	app, ok := d.p.App(c.App)
	if !ok {
		return invalid("unknown app %q; the tenant policy names the applications", c.App)
	}
	req := c.RequiredACR
	if req == "" {
		req = ACRSubstantial
	}
	if level(req) == 0 {
		return invalid("required_acr %q; use low, substantial or high", c.RequiredACR)
	}
	if c.Method != "" && (!knownMethod(c.Method) || c.Method == events.MethodRecoveryCode || c.Method == events.MethodTemporaryPass) {
		return invalid("method %q; prefer push, totp, hotp, sms or email", c.Method)
	}
	if err := checkContext(c.Context); err != nil {
		return err
	}
	if len(c.RememberToken) > maxTokenLen {
		return invalid("remember_token is longer than %d bytes", maxTokenLen)
	}
	if err := d.expireStale(); err != nil {
		return err
	}
	id, err := d.newID()
	if err != nil {
		return err
	}

	// A remembered browser skips the challenge when this application's policy
	// allows the device's age and the device's assurance is high enough.
	if c.RememberToken != "" {
		if dev := d.rememberedDevice(c.RememberToken); dev != nil && app.RememberFor > 0 &&
			d.now.Sub(dev.CreatedAt) < app.RememberFor.D() && level(dev.ACR) >= level(req) {
			d.emit(events.ChallengeSkipped{ChallengeID: id, App: c.App, Reason: "remembered", DeviceID: dev.ID, ACR: dev.ACR})
			d.reply = Reply{Status: OutcomeSkipped, ChallengeID: id, ACR: dev.ACR, DeviceID: dev.ID}
			return nil
		}
	}

	active := d.usable()
	if len(active) == 0 && !d.temporaryPassValid() {
		return d.enrolmentRequired()
	}
	methods := d.eligible(active, req)
	if len(methods) == 0 {
		return vakt.Errorf(vakt.CodeMethodNotAllowed, "none of the user's methods reaches acr %s; enrol a stronger one", req)
	}
	if c.Method != "" && !contains(methods, c.Method) {
		return vakt.Errorf(vakt.CodeMethodNotAllowed, "the user has no %s authenticator that reaches acr %s", c.Method, req)
	}
	if l, locked := d.codeLocked(); locked && (l.Permanent || l.Reason == lockFraud) {
		if l.Reason == lockFraud || !contains(methods, events.MethodPush) {
			return lockedErr(l)
		}
	}

	ev := events.ChallengeIssued{ChallengeID: id, App: c.App, RequiredACR: req, ExpiresAt: d.now.Add(d.p.ChallengeTTL.D()), Application: c.Context.Application}
	if ev.Client, err = d.sealClient(id, c.Context); err != nil {
		return err
	}
	preferred := c.Method
	if preferred == "" && d.u.Default != "" {
		if a := d.u.Authenticator(d.u.Default); a != nil && contains(methods, a.Method) {
			preferred = a.Method
		}
	}
	if preferred == events.MethodPush {
		if err := d.pushRefusal(); err != nil {
			if c.Method == events.MethodPush {
				return err
			}
			// Push was only the default: offer the other methods instead.
			methods = without(methods, events.MethodPush)
			if len(methods) == 0 {
				return err
			}
		} else if a := d.pushTarget(active, "", req); a != nil {
			if ev.Push, err = d.newPush(a); err != nil {
				return err
			}
		}
	}
	ev.Methods = methods

	// Keep the number of pending challenges bounded: the oldest gives way.
	pending := 0
	for _, ch := range d.u.Challenges {
		if !d.gone.has(ch.ID) {
			pending++
		}
	}
	for i := 0; pending >= d.p.MaxPendingChallenges && i < len(d.u.Challenges); i++ {
		if ch := &d.u.Challenges[i]; !d.gone.has(ch.ID) {
			d.emit(events.ChallengeExpired{ChallengeID: ch.ID, PushUnanswered: ch.Push != nil && !d.now.Before(ch.Push.ExpiresAt)})
			d.end(ch.ID)
			pending--
		}
	}
	d.emit(ev)
	d.reply = Reply{Status: "pending", ChallengeID: id, Methods: methods, ExpiresAt: ev.ExpiresAt}
	if ev.Push != nil {
		d.reply.NumberMatch = ev.Push.Number
		d.reply.Push = d.pushNotice(id, c.App, c.Context, ev.Push)
	}
	if preferred == events.MethodSMS || preferred == events.MethodEmail {
		if _, locked := d.codeLocked(); !locked {
			for _, a := range active {
				if a.Method == preferred && (a.ID == d.u.Default || c.Method != "") {
					return d.sendOOB(id, a)
				}
			}
		}
	}
	return nil
}

func without(list []string, s string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

// sendOOB draws a code for a challenge and asks the shell to deliver it.
func (d *decider) sendOOB(challengeID string, a *Authenticator) error {
	key, err := d.dataKey()
	if err != nil {
		return err
	}
	addr, err := open(key, a.Address, d.aad(a.ID, purposeAddress), nil)
	if err != nil {
		return err
	}
	code, err := randString(d.env.Rand, digits, d.p.OOB.Digits)
	if err != nil {
		return err
	}
	exp := d.now.Add(d.p.OOB.CodeTTL.D())
	d.emit(events.CodeSent{
		ChallengeID: challengeID, AuthenticatorID: a.ID, Method: a.Method,
		CodeHash: keyedHash(key, purposeOOBCode, []byte(challengeID), []byte(code)), ExpiresAt: exp,
	})
	d.reply.Deliver = &Delivery{Method: a.Method, Address: Secret(addr), Code: Secret(code), Purpose: "challenge"}
	return nil
}

func (d *decider) sendCode(c SendCode) error {
	ch, err := d.pendingChallenge(c.ChallengeID)
	if err != nil {
		return err
	}
	a, err := d.activeAuthenticator(c.AuthenticatorID)
	if err != nil {
		return err
	}
	if (a.Method != events.MethodSMS && a.Method != events.MethodEmail) || !contains(ch.Methods, a.Method) {
		return vakt.Errorf(vakt.CodeMethodNotAllowed, "codes are sent only to sms and email authenticators that the challenge offers")
	}
	if l, locked := d.codeLocked(); locked {
		return lockedErr(l)
	}
	if ch.Sends >= maxCodeSends {
		return vakt.Errorf(vakt.CodeConflict, "%d codes were already sent for this sign-in; start a new sign-in", ch.Sends)
	}
	d.reply = Reply{Status: "pending", ChallengeID: ch.ID, ExpiresAt: ch.ExpiresAt}
	return d.sendOOB(ch.ID, a)
}

func (d *decider) sendPush(c SendPush) error {
	ch, err := d.pendingChallenge(c.ChallengeID)
	if err != nil {
		return err
	}
	if c.AuthenticatorID != "" {
		if err := checkID("authenticator_id", c.AuthenticatorID); err != nil {
			return err
		}
	}
	if !contains(ch.Methods, events.MethodPush) {
		return vakt.Errorf(vakt.CodeMethodNotAllowed, "this challenge does not offer push")
	}
	a := d.pushTarget(d.usable(), c.AuthenticatorID, ch.RequiredACR)
	if a == nil {
		return vakt.Errorf(vakt.CodeNotFound, "no such push authenticator for this user")
	}
	if ch.Push != nil && d.now.Before(ch.Push.ExpiresAt) {
		return vakt.Errorf(vakt.CodeConflict, "a push for this sign-in is still waiting; answer it or wait until it expires")
	}
	if ch.Push != nil && !d.pushPaused() {
		// The earlier push ran out unanswered; it counts towards the pause.
		if d.refusals(ch.Push.ExpiresAt) >= d.p.PushFatigue.Refusals {
			d.maybePause(ch.Push.ExpiresAt)
			return d.reject(d.pushRefusalAfterPause())
		}
	}
	if err := d.pushRefusal(); err != nil {
		return err
	}
	p, err := d.newPush(a)
	if err != nil {
		return err
	}
	d.emit(events.PushSent{ChallengeID: ch.ID, Push: *p})
	ctx := events.Context{Application: ch.Application}
	if key, err := d.dataKey(); err == nil && !ch.Client.IsZero() {
		if ctx, err = OpenClient(key, d.u.Tenant, d.u.ID, ch.ID, ch.Application, ch.Client); err != nil {
			return err
		}
	}
	d.reply = Reply{Status: "pending", ChallengeID: ch.ID, ExpiresAt: ch.ExpiresAt, NumberMatch: p.Number, Push: d.pushNotice(ch.ID, ch.App, ctx, p)}
	return nil
}

func (d *decider) pushRefusalAfterPause() error {
	return vakt.Errorf(vakt.CodePushPaused, "push is paused for %s after repeated denied or unanswered requests; use a code from the app instead", d.p.PushFatigue.Pause)
}

// rememberedDevice finds the unexpired device whose token hash matches.
func (d *decider) rememberedDevice(token string) *Device {
	if len(d.u.Devices) == 0 {
		return nil
	}
	key, err := d.dataKey()
	if err != nil {
		return nil
	}
	h := keyedHash(key, purposeRemember, []byte(token))
	var found *Device
	for i := range d.u.Devices {
		dev := &d.u.Devices[i]
		if equalHash(h, dev.TokenHash) && d.now.Before(dev.ExpiresAt) && !d.gone.has(dev.ID) {
			found = dev
		}
	}
	return found
}

func (d *decider) verifyCode(c VerifyCode) error {
	code := normalizeCode(c.Code)
	if code == "" || len(code) > maxCodeLen {
		return invalid("code must be the code from the app or the message, a recovery code or a temporary pass")
	}
	ch, err := d.pendingChallenge(c.ChallengeID)
	if err != nil {
		return err
	}
	if l, locked := d.codeLocked(); locked {
		return lockedErr(l)
	}
	offered := func(m string) bool { return contains(ch.Methods, m) }
	switch {
	case isDigits(code) && (len(code) == 6 || len(code) == 8):
		return d.verifyOTP(ch, code, c.RememberDevice)
	case len(code) == recoveryCodeLen && offered(events.MethodRecoveryCode):
		return d.verifyRecoveryCode(ch, code, c.RememberDevice)
	case len(code) == passLen && offered(events.MethodTemporaryPass):
		return d.verifyTemporaryPass(ch, code, c.RememberDevice)
	}
	return invalid("code must be the 6 or 8 digits from the app or the message, a recovery code or a temporary pass")
}

func (d *decider) verifyOTP(ch *Challenge, code string, remember bool) error {
	var reused *Authenticator
	for i := range d.u.Authenticators {
		a := &d.u.Authenticators[i]
		if a.Status != StatusActive || d.gone.has(a.ID) {
			continue
		}
		if (a.Method != events.MethodTOTP && a.Method != events.MethodHOTP) || !contains(ch.Methods, a.Method) ||
			level(a.ACR) < level(ch.RequiredACR) || len(code) != a.Digits {
			continue
		}
		v, _ := parseDigits(code, a.Digits)
		var k otpKey
		if err := d.otpKeyFor(a, &k); err != nil {
			return err
		}
		if a.Method == events.MethodTOTP {
			centre := d.step(a.Period) + a.Drift
			st, ok, rep := k.matchTOTP(v, centre, d.p.TOTP.Skew, a.LastStep)
			k.wipe()
			if ok {
				return d.succeedTOTP(ch, a, st, st-centre, remember)
			}
			if rep && reused == nil {
				reused = a
			}
			continue
		}
		ctr, ok := k.matchHOTP(v, a.Counter, d.p.HOTPLookAhead)
		k.wipe()
		if ok {
			d.succeed(ch, a, a.Method, events.ChallengeSucceeded{Counter: ctr + 1}, remember)
			return nil
		}
	}
	if sc := ch.Code; sc != nil && contains(ch.Methods, sc.Method) && len(code) == d.p.OOB.Digits &&
		d.now.Before(sc.ExpiresAt) && sc.Attempts < d.p.OOB.Attempts {
		key, err := d.dataKey()
		if err != nil {
			return err
		}
		if equalHash(keyedHash(key, purposeOOBCode, []byte(ch.ID), []byte(code)), sc.Hash) {
			d.succeed(ch, d.u.Authenticator(sc.AuthenticatorID), sc.Method, events.ChallengeSucceeded{}, remember)
			return nil
		}
	}
	if reused != nil {
		return d.failAttempt(ch, reused, "code_reused", vakt.Errorf(vakt.CodeCodeReused,
			"this code was already used; wait for the next code in the app"))
	}
	return d.failAttempt(ch, nil, "invalid_code", vakt.Errorf(vakt.CodeInvalidCode,
		"the code is wrong; check the device's clock and enter the current code"))
}

func (d *decider) succeedTOTP(ch *Challenge, a *Authenticator, step, offset int64, remember bool) error {
	d.succeed(ch, a, a.Method, events.ChallengeSucceeded{Step: step, Offset: offset}, remember)
	// Two successes in a row off-centre by the same steps: the device's clock
	// is off; move the window so that a further drift stays inside it.
	if offset != 0 && offset == a.PendingOffset {
		if nd := a.Drift + offset; nd >= -maxDrift && nd <= maxDrift {
			// Insert before any device.remembered so the order reads naturally.
			d.insertAfterSuccess(events.DriftAdjusted{AuthenticatorID: a.ID, Drift: nd})
		}
	}
	return nil
}

// insertAfterSuccess places ev right after the challenge.succeeded event.
func (d *decider) insertAfterSuccess(ev events.Event) {
	for i, e := range d.evs {
		if _, ok := e.(events.ChallengeSucceeded); ok {
			d.evs = append(d.evs[:i+1], append([]events.Event{ev}, d.evs[i+1:]...)...)
			return
		}
	}
	d.emit(ev)
}

func (d *decider) verifyRecoveryCode(ch *Challenge, code string, remember bool) error {
	key, err := d.dataKey()
	if err != nil {
		return err
	}
	match := -1
	for i, rc := range d.u.RecoveryCodes {
		if !rc.Used && equalHash(keyedHash(key, purposeRecovery, rc.Salt, []byte(code)), rc.Hash) {
			match = i
		}
	}
	if match < 0 {
		return d.failAttempt(ch, nil, "invalid_code", vakt.Errorf(vakt.CodeInvalidCode, "the recovery code is wrong or was already used"))
	}
	d.emit(events.RecoveryCodeUsed{Index: match, ChallengeID: ch.ID, Remaining: d.unusedRecoveryCodes() - 1})
	d.succeed(ch, nil, events.MethodRecoveryCode, events.ChallengeSucceeded{}, remember)
	return nil
}

func (d *decider) verifyTemporaryPass(ch *Challenge, code string, remember bool) error {
	key, err := d.dataKey()
	if err != nil {
		return err
	}
	tp := d.u.TemporaryPass
	if tp == nil || !d.now.Before(tp.ExpiresAt) || !equalHash(keyedHash(key, purposePass, []byte(code)), tp.Hash) {
		return d.failAttempt(ch, nil, "invalid_code", vakt.Errorf(vakt.CodeInvalidCode, "the temporary pass is wrong, expired or already used; ask the helpdesk for a new one"))
	}
	d.emit(events.TemporaryPassUsed{ChallengeID: ch.ID})
	d.succeed(ch, nil, events.MethodTemporaryPass, events.ChallengeSucceeded{}, remember)
	return nil
}

// succeed emits challenge.succeeded (ev carries the method-specific fields)
// and, if asked and allowed, remembers the browser.
func (d *decider) succeed(ch *Challenge, a *Authenticator, method string, ev events.ChallengeSucceeded, remember bool) {
	uv := false
	if a != nil {
		ev.AuthenticatorID = a.ID
		uv = ev.UserVerification
	}
	ev.ChallengeID, ev.Method = ch.ID, method
	ev.ACR = methodACR(method, uv)
	ev.AMR = methodAMR(method, uv)
	d.emit(ev)
	d.end(ch.ID)
	d.reply = Reply{Status: OutcomeSucceeded, ChallengeID: ch.ID, Method: method, ACR: ev.ACR, AMR: ev.AMR}
	if a != nil {
		d.reply.AuthenticatorID = a.ID
	}
	if remember {
		// A remember failure never undoes a sign-in; the browser is just not
		// remembered (the reply has no token).
		_ = d.remember(ch.ID, ch.App, ev.ACR)
	}
}

// remember emits device.remembered for an application that allows it and puts
// the token (once) in the reply.
func (d *decider) remember(challengeID, appName, acr string) error {
	app, ok := d.p.App(appName)
	if !ok || app.RememberFor <= 0 {
		return vakt.Errorf(vakt.CodeMethodNotAllowed, "application %q asks for every login; the browser is not remembered", appName)
	}
	key, err := d.dataKey()
	if err != nil {
		return err
	}
	raw, err := randBytes(d.env.Rand, 32)
	if err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	id, err := d.newID()
	if err != nil {
		return err
	}
	live := 0
	for _, dev := range d.u.Devices {
		if !d.gone.has(dev.ID) {
			live++
		}
	}
	for i := 0; live >= d.p.MaxRememberedDevices && i < len(d.u.Devices); i++ {
		if dev := &d.u.Devices[i]; !d.gone.has(dev.ID) {
			d.emit(events.DeviceForgotten{DeviceID: dev.ID, Reason: "evicted"})
			d.end(dev.ID)
			live--
		}
	}
	d.emit(events.DeviceRemembered{
		DeviceID: id, TokenHash: keyedHash(key, purposeRemember, []byte(token)), App: appName, ACR: acr,
		ChallengeID: challengeID, ExpiresAt: d.now.Add(app.RememberFor.D()),
	})
	d.reply.RememberToken, d.reply.DeviceID = Secret(token), id
	return nil
}

func (d *decider) respondPush(c RespondPush) error {
	ch, err := d.pendingChallenge(c.ChallengeID)
	if err != nil {
		return err
	}
	if err := checkID("authenticator_id", c.AuthenticatorID); err != nil {
		return err
	}
	switch c.Decision {
	case DecisionApprove:
		if c.Number < 10 || c.Number > 99 {
			return invalid("number must be the two-digit number chosen on the device")
		}
	case DecisionDeny, DecisionFraud:
		if c.Number != 0 {
			return invalid("number must be 0 when denying or reporting fraud")
		}
	default:
		return invalid("decision %q; use approve, deny or fraud", c.Decision)
	}
	if len(c.Signature) != ed25519.SignatureSize {
		return invalid("signature must be %d bytes", ed25519.SignatureSize)
	}
	if ch.Push == nil || ch.Push.AuthenticatorID != c.AuthenticatorID {
		return vakt.Errorf(vakt.CodeUnauthorized, "this challenge was not sent to this authenticator")
	}
	a, err := d.activeAuthenticator(c.AuthenticatorID)
	if err != nil {
		return err
	}
	msg := PushMessage(d.u.Tenant, d.u.ID, ch.ID, a.ID, c.Decision, c.Number, c.UserVerification)
	if len(a.PublicKey) != ed25519.PublicKeySize || !ed25519.Verify(a.PublicKey, msg, c.Signature) {
		return vakt.Errorf(vakt.CodeUnauthorized, "the signature does not verify with this authenticator's key")
	}
	if !d.now.Before(ch.Push.ExpiresAt) {
		return vakt.Errorf(vakt.CodeExpired, "the push expired; start a new sign-in or use a code")
	}
	if d.pushLocked() {
		return lockedErr(d.u.Lock)
	}
	refuse := func() {
		if !d.pushPaused() {
			d.maybePause(d.now)
		}
	}
	switch {
	case c.Decision == DecisionApprove && c.Number == ch.Push.Number:
		d.succeed(ch, a, events.MethodPush, events.ChallengeSucceeded{UserVerification: c.UserVerification}, false)
	case c.Decision == DecisionApprove:
		d.emit(events.ChallengeDenied{ChallengeID: ch.ID, AuthenticatorID: a.ID, Reason: "wrong_number"})
		refuse()
		d.reply = Reply{Status: OutcomeDenied, ChallengeID: ch.ID}
	case c.Decision == DecisionDeny:
		d.emit(events.ChallengeDenied{ChallengeID: ch.ID, AuthenticatorID: a.ID, Reason: "denied"})
		refuse()
		d.reply = Reply{Status: OutcomeDenied, ChallengeID: ch.ID}
	default:
		d.emit(events.FraudReported{ChallengeID: ch.ID, AuthenticatorID: a.ID, Application: ch.Application, Client: ch.Client})
		refuse()
		if d.p.FraudLock {
			d.emit(events.LockedOut{Reason: lockFraud, Permanent: true, Failures: d.u.Failures})
		}
		d.reply = Reply{Status: OutcomeFraud, ChallengeID: ch.ID}
	}
	return nil
}

func (d *decider) rememberDevice(c RememberDevice) error {
	if err := checkID("challenge_id", c.ChallengeID); err != nil {
		return err
	}
	if d.u.Challenge(c.ChallengeID) != nil {
		return vakt.Errorf(vakt.CodeConflict, "the challenge has not succeeded yet")
	}
	f := d.u.finished(c.ChallengeID)
	switch {
	case f == nil:
		return vakt.Errorf(vakt.CodeNotFound, "no such challenge for this user")
	case f.Outcome != OutcomeSucceeded:
		return vakt.Errorf(vakt.CodeConflict, "only a challenge that succeeded can remember the browser (this one %s)", f.Outcome)
	case f.Remembered:
		return vakt.Errorf(vakt.CodeConflict, "the browser was already remembered for this sign-in")
	case d.now.Sub(f.At) > rememberAfter:
		return vakt.Errorf(vakt.CodeExpired, "remember the browser within %s of signing in", events.Duration(rememberAfter))
	}
	d.reply = Reply{Status: "remembered", ChallengeID: f.ID}
	return d.remember(f.ID, f.App, f.ACR)
}

func (d *decider) forgetDevice(c ForgetDevice) error {
	if c.All == (c.DeviceID != "") {
		return invalid("give either device_id or all")
	}
	if c.All {
		for _, dev := range d.u.Devices {
			d.emit(events.DeviceForgotten{DeviceID: dev.ID, Reason: "forgotten"})
		}
		d.reply = Reply{Status: "forgotten"}
		return nil
	}
	if err := checkID("device_id", c.DeviceID); err != nil {
		return err
	}
	for _, dev := range d.u.Devices {
		if dev.ID == c.DeviceID {
			d.emit(events.DeviceForgotten{DeviceID: dev.ID, Reason: "forgotten"})
			d.reply = Reply{Status: "forgotten", DeviceID: dev.ID}
			return nil
		}
	}
	return vakt.Errorf(vakt.CodeNotFound, "no such remembered device for this user")
}

func (d *decider) snooze(c SnoozeEnrolment) error {
	if err := checkName("app", c.App); err != nil {
		return err
	}
	if _, ok := d.p.App(c.App); !ok {
		return invalid("unknown app %q; the tenant policy names the applications", c.App)
	}
	if len(d.u.Active()) > 0 {
		return vakt.Errorf(vakt.CodeConflict, "the user already has an authenticator; sign in with it")
	}
	if !d.canSnooze() {
		if !d.p.EnforceFrom.IsZero() && d.now.Before(d.p.EnforceFrom) {
			return vakt.Errorf(vakt.CodeEnrolmentRequired, "enrolment was snoozed %d times, the most allowed; enrol an authenticator now", d.u.Snoozes)
		}
		return vakt.Errorf(vakt.CodeEnrolmentRequired, "enrolment is required; enrol an authenticator now")
	}
	id, err := d.newID()
	if err != nil {
		return err
	}
	d.emit(
		events.EnrolmentSnoozed{ChallengeID: id, App: c.App, Count: d.u.Snoozes + 1},
		events.ChallengeSkipped{ChallengeID: id, App: c.App, Reason: "snoozed"},
	)
	d.reply = Reply{Status: OutcomeSkipped, ChallengeID: id}
	return nil
}

// formatGroups writes a code in groups of n separated by dashes.
func formatGroups(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}
