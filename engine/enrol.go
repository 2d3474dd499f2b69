package engine

import (
	"crypto/ed25519"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

const (
	seedSize       = 20 // 160 bits, RFC 4226's recommendation
	minImportSeed  = 16 // 128 bits; NIST 800-63B asks at least 112
	maxImportSeed  = 64
	activationSize = 16
)

func (d *decider) startEnrolment(c StartEnrolment) error {
	switch c.Method {
	case events.MethodTOTP, events.MethodHOTP, events.MethodPush, events.MethodSMS, events.MethodEmail:
	case events.MethodRecoveryCode, events.MethodTemporaryPass:
		return invalid("%s is not enrolled; use issue_recovery_codes or issue_temporary_pass", c.Method)
	default:
		return invalid("unknown method %q; use totp, hotp, push, sms or email", c.Method)
	}
	if !d.p.Allows(c.Method) {
		return vakt.Errorf(vakt.CodeMethodNotAllowed, "method %s is not allowed by this tenant's policy", c.Method)
	}
	if err := checkText("label", c.Label, 64); err != nil {
		return err
	}
	if c.Secret != "" && c.Method != events.MethodTOTP && c.Method != events.MethodHOTP {
		return invalid("secret can only be given for totp and hotp")
	}
	if c.Address != "" && c.Method != events.MethodSMS && c.Method != events.MethodEmail {
		return invalid("address can only be given for sms and email")
	}
	if err := d.expireStale(); err != nil {
		return err
	}
	n := 0
	for _, a := range d.u.Authenticators {
		if !d.gone.has(a.ID) {
			n++
		}
	}
	if n >= d.p.MaxAuthenticators {
		return invalid("the user already has %d authenticators, the most this tenant allows; remove one first", n)
	}
	key, err := d.dataKey()
	if err != nil {
		return err
	}
	id, err := d.newID()
	if err != nil {
		return err
	}
	ttl := d.p.EnrolmentTTL.D()
	if c.Onboarding {
		ttl = d.p.ActivationTTL.D()
	}
	ev := events.EnrolmentStarted{AuthenticatorID: id, Method: c.Method, Label: c.Label, Onboarding: c.Onboarding}
	d.reply = Reply{Status: StatusPending, AuthenticatorID: id, Method: c.Method}

	switch c.Method {
	case events.MethodTOTP, events.MethodHOTP:
		if err := d.startOTP(&ev, c, key); err != nil {
			return err
		}
	case events.MethodPush:
		nonce, err := randBytes(d.env.Rand, activationSize)
		if err != nil {
			return err
		}
		if ev.Secret, err = seal(key, d.env.Rand, d.aad(id, purposeActivation), nonce); err != nil {
			return err
		}
		d.reply.Activation = Secret(base64.RawURLEncoding.EncodeToString(nonce))
	case events.MethodSMS, events.MethodEmail:
		addr, err := checkAddress(c.Method, c.Address)
		if err != nil {
			return err
		}
		code, err := randString(d.env.Rand, digits, d.p.OOB.Digits)
		if err != nil {
			return err
		}
		if ev.Address, err = seal(key, d.env.Rand, d.aad(id, purposeAddress), []byte(addr)); err != nil {
			return err
		}
		ev.CodeHash = keyedHash(key, purposeOOBCode, []byte(id), []byte(code))
		ttl = min(ttl, d.p.OOB.CodeTTL.D())
		d.reply.Deliver = &Delivery{Method: c.Method, Address: Secret(addr), Code: Secret(code), Purpose: "enrolment"}
	}
	ev.ExpiresAt = d.now.Add(ttl)
	d.reply.ExpiresAt = ev.ExpiresAt
	d.emit(ev)
	return nil
}

func (d *decider) startOTP(ev *events.EnrolmentStarted, c StartEnrolment, dataKey *DataKey) error {
	var seed []byte
	if c.Secret != "" {
		s := strings.ToUpper(strings.NewReplacer(" ", "", "-", "", "=", "").Replace(c.Secret))
		b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
		if err != nil {
			return invalid("secret is not valid Base32")
		}
		if len(b) < minImportSeed || len(b) > maxImportSeed {
			return invalid("secret must be %d to %d bytes (it is %d)", minImportSeed, maxImportSeed, len(b))
		}
		seed = b
	} else {
		var err error
		if seed, err = randBytes(d.env.Rand, seedSize); err != nil {
			return err
		}
	}
	account := c.Account
	if account == "" {
		account = strings.ReplaceAll(d.u.ID, ":", "_")
	} else if err := checkText("account", account, 128); err != nil {
		return err
	} else if strings.Contains(account, ":") {
		return invalid("account must not contain ':' (authenticator apps split the label on it)")
	}
	prof := d.p.TOTP
	alg, err := otpAlgorithm(prof.Algorithm)
	if err != nil {
		return err
	}
	period := 0
	if c.Method == events.MethodTOTP {
		period = prof.Period
		ev.Period = prof.Period
	}
	uri, secret, err := otpKeyURI(c.Method, d.p.Issuer, account, seed, period, prof.Digits, alg)
	if err != nil {
		return vakt.Errorf(vakt.CodeInternal, "generate key: %w", err)
	}
	if c.Method == events.MethodHOTP {
		uri += "&counter=0" // required for hotp by the Key URI format
	}
	ev.Algorithm, ev.Digits = prof.Algorithm, prof.Digits
	if ev.Secret, err = seal(dataKey, d.env.Rand, d.aad(ev.AuthenticatorID, purposeSeed), seed); err != nil {
		return err
	}
	d.reply.OTPAuthURI, d.reply.Secret = Secret(uri), Secret(secret)
	return nil
}

// otpAlgorithm checks a policy's OTP algorithm name.
func otpAlgorithm(name string) (string, error) {
	switch name {
	case "SHA1", "SHA256", "SHA512":
		return name, nil
	}
	return "", invalid("unknown OTP algorithm %q", name)
}

// otpKeyURI writes the Key URI (otpauth://totp/… or otpauth://hotp/…) and the
// Base32 secret exactly as github.com/pquerna/otp's totp.Generate and
// hotp.Generate followed by Key.URL and Key.Secret did: the same query order
// (sorted keys, path-escaped), the same net/url round trip, the same errors.
// Doing it here keeps that package (and the QR-code, image and MD5 code it
// links) out of the WebAssembly module; a test compares the two.
func otpKeyURI(method, issuer, account string, seed []byte, period, digits int, alg string) (uri, secret string, err error) {
	// The two messages are pquerna/otp's, kept as they were.
	if issuer == "" {
		//lint:ignore ST1005 pquerna/otp's message, kept byte for byte
		return "", "", errors.New("Issuer must be set")
	}
	if account == "" {
		return "", "", errors.New("AccountName must be set")
	}
	if digits == 0 {
		digits = 6
	}
	host := "hotp"
	params := [][2]string{
		{"algorithm", alg},
		{"digits", strconv.Itoa(digits)},
		{"issuer", issuer},
		{"period", ""},
		{"secret", base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed)},
	}
	if method == events.MethodTOTP {
		host = "totp"
		if period == 0 {
			period = 30
		}
		params[3][1] = strconv.Itoa(period)
	}
	var q strings.Builder
	for _, p := range params {
		if p[0] == "period" && host == "hotp" {
			continue
		}
		if q.Len() > 0 {
			q.WriteByte('&')
		}
		q.WriteString(url.PathEscape(p[0]))
		q.WriteByte('=')
		q.WriteString(url.PathEscape(p[1]))
	}
	u := url.URL{Scheme: "otpauth", Host: host, Path: "/" + issuer + ":" + account, RawQuery: q.String()}
	parsed, err := url.Parse(strings.TrimSpace(u.String()))
	if err != nil {
		return "", "", err
	}
	return parsed.String(), parsed.Query().Get("secret"), nil
}

// checkAddress normalises and checks a phone number (E.164) or e-mail address.
func checkAddress(method, addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if method == events.MethodSMS {
		p := strings.NewReplacer(" ", "", "-", "", "(", "", ")", "").Replace(addr)
		if len(p) < 9 || len(p) > 16 || p[0] != '+' || !isDigits(p[1:]) || p[1] == '0' {
			return "", invalid("address must be a phone number in international form, such as +4791234567")
		}
		return p, nil
	}
	at := strings.LastIndexByte(addr, '@')
	if err := checkText("address", addr, 254); err != nil {
		return "", err
	}
	if at < 1 || at == len(addr)-1 || strings.ContainsAny(addr, " \t<>\"") || !strings.Contains(addr[at:], ".") {
		return "", invalid("address must be an e-mail address such as ola@example.no")
	}
	return addr, nil
}

func (d *decider) openSeed(a *Authenticator, dst []byte) ([]byte, error) {
	key, err := d.dataKey()
	if err != nil {
		return nil, err
	}
	return open(key, a.Secret, d.aad(a.ID, purposeSeed), dst)
}

// otpKeyFor opens an authenticator's seed into k's pads.
func (d *decider) otpKeyFor(a *Authenticator, k *otpKey) error {
	buf := &d.scratch().seed
	seed, err := d.openSeed(a, buf[:0])
	if err != nil {
		return err
	}
	err = k.init(a.Algorithm, seed, a.Digits)
	clear(buf[:])
	return err
}

// step returns the TOTP time step of now for a period.
func (d *decider) step(period int) int64 { return d.now.Unix() / int64(period) }

func (d *decider) confirmEnrolment(c ConfirmEnrolment) error {
	if err := checkID("authenticator_id", c.AuthenticatorID); err != nil {
		return err
	}
	a := d.u.Authenticator(c.AuthenticatorID)
	if a == nil {
		return vakt.Errorf(vakt.CodeNotFound, "no such authenticator for this user")
	}
	if a.Status != StatusPending {
		return vakt.Errorf(vakt.CodeConflict, "the authenticator is already active")
	}
	if !d.now.Before(a.ExpiresAt) {
		return vakt.Errorf(vakt.CodeExpired, "the enrolment expired; start again")
	}
	act := events.Activated{AuthenticatorID: a.ID, Method: a.Method, ACR: methodACR(a.Method, false)}
	var ok bool
	switch a.Method {
	case events.MethodTOTP, events.MethodHOTP:
		code := normalizeCode(c.Code)
		v, valid := parseDigits(code, a.Digits)
		if !valid {
			return invalid("code must be %d digits", a.Digits)
		}
		var k otpKey
		if err := d.otpKeyFor(a, &k); err != nil {
			return err
		}
		defer k.wipe()
		if a.Method == events.MethodTOTP {
			// The confirming code counts as used: its step becomes the last
			// accepted step, so it cannot sign in afterwards.
			act.Step, ok, _ = k.matchTOTP(v, d.step(a.Period), d.p.TOTP.Skew, -1)
		} else {
			var ctr uint64
			ctr, ok = k.matchHOTP(v, 0, d.p.HOTPLookAhead)
			act.Counter = ctr + 1
		}
	case events.MethodSMS, events.MethodEmail:
		code := normalizeCode(c.Code)
		if _, valid := parseDigits(code, d.p.OOB.Digits); !valid {
			return invalid("code must be %d digits", d.p.OOB.Digits)
		}
		key, err := d.dataKey()
		if err != nil {
			return err
		}
		ok = equalHash(keyedHash(key, purposeOOBCode, []byte(a.ID), []byte(code)), a.CodeHash)
	case events.MethodPush:
		if len(c.PublicKey) != ed25519.PublicKeySize || len(c.Signature) != ed25519.SignatureSize {
			return invalid("push confirmation needs a %d-byte Ed25519 public_key and a %d-byte signature", ed25519.PublicKeySize, ed25519.SignatureSize)
		}
		key, err := d.dataKey()
		if err != nil {
			return err
		}
		nonce, err := open(key, a.Secret, d.aad(a.ID, purposeActivation), nil)
		if err != nil {
			return err
		}
		msg := EnrolmentMessage(d.u.Tenant, d.u.ID, a.ID, base64.RawURLEncoding.EncodeToString(nonce), c.PublicKey, c.UserVerification)
		if !ed25519.Verify(c.PublicKey, msg, c.Signature) {
			return vakt.Errorf(vakt.CodeUnauthorized, "the signature does not verify; sign the enrolment message with the device key and the activation code")
		}
		ok = true
		act.PublicKey, act.UserVerification = c.PublicKey, c.UserVerification
		act.ACR = methodACR(a.Method, c.UserVerification)
	default:
		return vakt.Errorf(vakt.CodeInternal, "pending authenticator with method %q", a.Method)
	}
	if !ok {
		limit := d.p.ConfirmAttempts
		if a.Method == events.MethodSMS || a.Method == events.MethodEmail {
			limit = d.p.OOB.Attempts
		}
		attempts := a.Attempts + 1
		d.emit(events.ConfirmationFailed{AuthenticatorID: a.ID, Reason: "invalid_code", Attempts: attempts})
		if attempts >= limit {
			d.emit(events.EnrolmentExpired{AuthenticatorID: a.ID, Reason: "too_many_attempts"})
			return d.reject(vakt.Errorf(vakt.CodeInvalidCode, "the code is wrong and the enrolment was cancelled after %d attempts; start again", attempts))
		}
		return d.reject(vakt.Errorf(vakt.CodeInvalidCode, "the code is wrong; check the device's clock and try the current code"))
	}
	act.Active = len(d.usable()) + 1
	d.emit(act)
	if d.u.Default == "" {
		d.emit(events.DefaultChanged{AuthenticatorID: a.ID})
	}
	d.reply = Reply{Status: StatusActive, AuthenticatorID: a.ID, Method: a.Method, ACR: act.ACR}
	return nil
}

func (d *decider) rename(c RenameAuthenticator) error {
	if err := checkID("authenticator_id", c.AuthenticatorID); err != nil {
		return err
	}
	if err := checkText("label", c.Label, 64); err != nil {
		return err
	}
	a := d.u.Authenticator(c.AuthenticatorID)
	if a == nil {
		return vakt.Errorf(vakt.CodeNotFound, "no such authenticator for this user")
	}
	if a.Label != c.Label {
		d.emit(events.Renamed{AuthenticatorID: a.ID, Label: c.Label})
	}
	d.reply = Reply{Status: a.Status, AuthenticatorID: a.ID}
	return nil
}

func (d *decider) setDefault(c SetDefault) error {
	a, err := d.activeAuthenticator(c.AuthenticatorID)
	if err != nil {
		return err
	}
	if d.u.Default != a.ID {
		d.emit(events.DefaultChanged{AuthenticatorID: a.ID, Previous: d.u.Default})
	}
	d.reply = Reply{Status: a.Status, AuthenticatorID: a.ID}
	return nil
}

func (d *decider) remove(c RemoveAuthenticator) error {
	if err := checkID("authenticator_id", c.AuthenticatorID); err != nil {
		return err
	}
	a := d.u.Authenticator(c.AuthenticatorID)
	if a == nil {
		return vakt.Errorf(vakt.CodeNotFound, "no such authenticator for this user")
	}
	d.end(a.ID)
	d.emit(events.Removed{AuthenticatorID: a.ID, Method: a.Method, Reason: "removed", WasActive: a.Status == StatusActive, Active: len(d.usable())})
	if d.u.Default == a.ID {
		next := ""
		for _, o := range d.u.Active() {
			if o.ID != a.ID {
				next = o.ID
				break
			}
		}
		d.emit(events.DefaultChanged{AuthenticatorID: next, Previous: a.ID})
	}
	d.reply = Reply{Status: "removed", AuthenticatorID: a.ID}
	return nil
}

func (d *decider) resyncHOTP(c ResyncHOTP) error {
	a, err := d.activeAuthenticator(c.AuthenticatorID)
	if err != nil {
		return err
	}
	if a.Method != events.MethodHOTP {
		return invalid("only hotp authenticators are resynchronised")
	}
	if l, locked := d.codeLocked(); locked {
		return lockedErr(l)
	}
	v1, ok1 := parseDigits(normalizeCode(c.Code1), a.Digits)
	v2, ok2 := parseDigits(normalizeCode(c.Code2), a.Digits)
	if !ok1 || !ok2 {
		return invalid("code1 and code2 must be %d digits each", a.Digits)
	}
	var k otpKey
	if err := d.otpKeyFor(a, &k); err != nil {
		return err
	}
	defer k.wipe()
	window := d.p.HOTPResyncWindow
	for i := 0; i < window; i++ {
		ctr := a.Counter + uint64(i)
		if k.value(ctr) == v1 && k.value(ctr+1) == v2 {
			d.emit(events.CounterResynced{AuthenticatorID: a.ID, Counter: ctr + 2})
			d.reply = Reply{Status: StatusActive, AuthenticatorID: a.ID}
			return nil
		}
	}
	return vakt.Errorf(vakt.CodeInvalidCode, "the two codes are not consecutive codes of this token within %d presses; press the button twice and send both codes", window)
}
