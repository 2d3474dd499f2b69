package engine_test

import (
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
)

const day = 24 * time.Hour

func vectorCases() []vcase {
	var cs []vcase
	add := func(c ...vcase) { cs = append(cs, c...) }

	// ---- enrolment -----------------------------------------------------------
	add(
		vcase{name: "enrol/totp-start", desc: "an authenticator app enrolment is pending for 10 minutes with an otpauth URI",
			when:  func(b *vb) engine.Command { return engine.StartEnrolment{Method: "totp", Label: "Phone"} },
			types: []string{"authenticator.enrolment_started"}},
		vcase{name: "enrol/totp-start-onboarding", desc: "an onboarding activation link stays valid for 7 days",
			when: func(b *vb) engine.Command {
				return engine.StartEnrolment{Method: "totp", Label: "Phone", Onboarding: true}
			},
			types: []string{"authenticator.enrolment_started"}},
		vcase{name: "enrol/totp-import-yubikey-secret", desc: "a YubiKey OATH-TOTP seed is imported",
			when: func(b *vb) engine.Command {
				return engine.StartEnrolment{Method: "totp", Label: "YubiKey", Secret: strings.ToLower(rfcSeed), Account: "ola@uio.no"}
			},
			types: []string{"authenticator.enrolment_started"}},
		vcase{name: "enrol/totp-sha256-policy", desc: "the tenant's TOTP profile (SHA256, 8 digits, 60 s) is used for new apps",
			given: func(b *vb) {
				b.setPolicy(func(p *engine.Policy) {
					p.TOTP = events.OTPProfile{Algorithm: "SHA256", Digits: 8, Period: 60, Skew: 1}
				})
			},
			when:  func(b *vb) engine.Command { return engine.StartEnrolment{Method: "totp", Label: "Phone"} },
			types: []string{"authenticator.enrolment_started"}},
		vcase{name: "enrol/hotp-start", desc: "a hardware HOTP token is enrolled with its seed",
			when: func(b *vb) engine.Command {
				return engine.StartEnrolment{Method: "hotp", Label: "Token", Secret: rfcSeed}
			},
			types: []string{"authenticator.enrolment_started"}},
		vcase{name: "enrol/push-start", desc: "a push app enrolment returns an activation code",
			when:  func(b *vb) engine.Command { return engine.StartEnrolment{Method: "push", Label: "Vakt app"} },
			types: []string{"authenticator.enrolment_started"}},
		vcase{name: "enrol/sms-start", desc: "an SMS enrolment sends a code to the normalised number; the number is sealed",
			when: func(b *vb) engine.Command {
				return engine.StartEnrolment{Method: "sms", Label: "Mobile", Address: "+47 912 34 567"}
			},
			types: []string{"authenticator.enrolment_started"}},
		vcase{name: "enrol/email-start", desc: "an e-mail enrolment sends a code",
			when: func(b *vb) engine.Command {
				return engine.StartEnrolment{Method: "email", Label: "Mail", Address: "ola@uio.no"}
			},
			types: []string{"authenticator.enrolment_started"}},
		vcase{name: "enrol/unknown-method", desc: "an unknown method is refused",
			when: func(b *vb) engine.Command { return engine.StartEnrolment{Method: "carrier-pigeon", Label: "x"} },
			err:  vakt.CodeInvalidArgument},
		vcase{name: "enrol/recovery-code-is-not-enrolled", desc: "recovery codes are issued, not enrolled",
			when: func(b *vb) engine.Command { return engine.StartEnrolment{Method: "recovery_code", Label: "x"} },
			err:  vakt.CodeInvalidArgument},
		vcase{name: "enrol/method-disabled-by-policy", desc: "a method the tenant disabled cannot be enrolled",
			given: func(b *vb) { b.setPolicy(func(p *engine.Policy) { p.Methods = []string{"totp", "push"} }) },
			when: func(b *vb) engine.Command {
				return engine.StartEnrolment{Method: "sms", Label: "Mobile", Address: "+4791234567"}
			},
			err: vakt.CodeMethodNotAllowed},
		vcase{name: "enrol/empty-label", when: func(b *vb) engine.Command { return engine.StartEnrolment{Method: "totp"} },
			desc: "a label is required", err: vakt.CodeInvalidArgument},
		vcase{name: "enrol/oversized-label", desc: "labels are at most 64 characters",
			when: func(b *vb) engine.Command {
				return engine.StartEnrolment{Method: "totp", Label: strings.Repeat("x", 65)}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "enrol/label-control-character", desc: "control characters are refused in labels",
			when: func(b *vb) engine.Command { return engine.StartEnrolment{Method: "totp", Label: "Phone\x00"} },
			err:  vakt.CodeInvalidArgument},
		vcase{name: "enrol/bad-phone-number", desc: "a phone number must be in international form",
			when: func(b *vb) engine.Command {
				return engine.StartEnrolment{Method: "sms", Label: "M", Address: "91234567"}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "enrol/bad-email-address", desc: "an e-mail address must look like one",
			when: func(b *vb) engine.Command {
				return engine.StartEnrolment{Method: "email", Label: "M", Address: "ola at uio"}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "enrol/short-imported-secret", desc: "an imported seed must have at least 128 bits",
			when: func(b *vb) engine.Command {
				return engine.StartEnrolment{Method: "hotp", Label: "T", Secret: "GEZDGNBV"}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "enrol/account-with-colon", desc: "the otpauth account may not contain ':'",
			when: func(b *vb) engine.Command { return engine.StartEnrolment{Method: "totp", Label: "P", Account: "a:b"} },
			err:  vakt.CodeInvalidArgument},
		vcase{name: "enrol/too-many-authenticators", desc: "the policy bounds authenticators per user",
			given: func(b *vb) {
				b.setPolicy(func(p *engine.Policy) { p.MaxAuthenticators = 2 })
				b.totp("One")
				b.totp("Two")
			},
			when: func(b *vb) engine.Command { return engine.StartEnrolment{Method: "totp", Label: "Three"} },
			err:  vakt.CodeInvalidArgument},
		vcase{name: "enrol/no-data-key", desc: "without the user's data key nothing can be sealed",
			noKey: true,
			when:  func(b *vb) engine.Command { return engine.StartEnrolment{Method: "totp", Label: "Phone"} },
			err:   vakt.CodeInternal},
		vcase{name: "enrol/stale-pending-expires-on-start", desc: "an enrolment left pending past its time expires when the next starts",
			given: func(b *vb) {
				b.do(engine.StartEnrolment{Method: "totp", Label: "Abandoned"})
				b.advance(11 * time.Minute)
			},
			when:  func(b *vb) engine.Command { return engine.StartEnrolment{Method: "totp", Label: "Phone"} },
			types: []string{"authenticator.enrolment_expired", "authenticator.enrolment_started"}},
	)

	// ---- confirmation ------------------------------------------------------------
	var pending engine.Reply
	startTOTP := func(b *vb) { pending = b.do(engine.StartEnrolment{Method: "totp", Label: "Phone"}) }
	pendingApp := func(b *vb) app {
		return appFromSecret(pending.AuthenticatorID, pending.Secret.Reveal())
	}
	add(
		vcase{name: "confirm/totp-first-code", desc: "the first code activates the app, which becomes the default; its step counts as used",
			given: startTOTP,
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: b.code(pendingApp(b), 0)}
			},
			types: []string{"authenticator.activated", "authenticator.default_changed"}},
		vcase{name: "confirm/totp-code-from-previous-step", desc: "one step of network delay is allowed",
			given: startTOTP,
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: b.code(pendingApp(b), -30*time.Second)}
			},
			types: []string{"authenticator.activated", "authenticator.default_changed"}},
		vcase{name: "confirm/totp-wrong-code", desc: "a wrong first code is recorded and refused",
			given: startTOTP,
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: "000000"}
			},
			err: vakt.CodeInvalidCode, types: []string{"authenticator.confirmation_failed"}},
		vcase{name: "confirm/totp-wrong-length", desc: "a code of the wrong length is not even tried",
			given: startTOTP,
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: "12345"}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "confirm/totp-too-many-attempts", desc: "the fifth wrong confirmation cancels the enrolment",
			given: func(b *vb) {
				startTOTP(b)
				for i := 0; i < 4; i++ {
					b.try(engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: "000000"})
				}
			},
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: "000000"}
			},
			err: vakt.CodeInvalidCode, types: []string{"authenticator.confirmation_failed", "authenticator.enrolment_expired"}},
		vcase{name: "confirm/totp-expired", desc: "a pending enrolment cannot be confirmed after 10 minutes",
			given: func(b *vb) { startTOTP(b); b.advance(10 * time.Minute) },
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: b.code(pendingApp(b), 0)}
			},
			err: vakt.CodeExpired},
		vcase{name: "confirm/already-active", desc: "an active authenticator is not confirmed twice",
			given: func(b *vb) { a := b.totp("Phone"); pending.AuthenticatorID = a.id },
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: "123456"}
			},
			err: vakt.CodeConflict},
		vcase{name: "confirm/unknown-authenticator", desc: "an id that names nothing",
			when: func(b *vb) engine.Command { return engine.ConfirmEnrolment{AuthenticatorID: unknownID, Code: "123456"} },
			err:  vakt.CodeNotFound},
		vcase{name: "confirm/authenticator-id-with-wildcards", desc: "ids with subject wildcards are refused before any lookup",
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: "vakt.*.>", Code: "123456"}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "confirm/hotp-within-look-ahead", desc: "an HOTP token pressed a few times before enrolment still confirms",
			given: func(b *vb) { pending = b.do(engine.StartEnrolment{Method: "hotp", Label: "Token", Secret: rfcSeed}) },
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: hotpAt(b.t, 3)}
			},
			types: []string{"authenticator.activated", "authenticator.default_changed"}},
		vcase{name: "confirm/push-signature", desc: "a push app confirms with its key and a signature over the activation code",
			given: func(b *vb) { pending = b.do(engine.StartEnrolment{Method: "push", Label: "App"}) },
			when:  func(b *vb) engine.Command { return pushConfirm(b, pending, false, false) },
			types: []string{"authenticator.activated", "authenticator.default_changed"}},
		vcase{name: "confirm/push-user-verification", desc: "a device that verifies its user gives acr high",
			given: func(b *vb) { pending = b.do(engine.StartEnrolment{Method: "push", Label: "App"}) },
			when:  func(b *vb) engine.Command { return pushConfirm(b, pending, true, false) },
			types: []string{"authenticator.activated", "authenticator.default_changed"}},
		vcase{name: "confirm/push-forged-signature", desc: "a signature by another key is refused and changes nothing",
			given: func(b *vb) { pending = b.do(engine.StartEnrolment{Method: "push", Label: "App"}) },
			when:  func(b *vb) engine.Command { return pushConfirm(b, pending, false, true) },
			err:   vakt.CodeUnauthorized},
		vcase{name: "confirm/sms-code", desc: "the code sent by SMS confirms the phone",
			given: func(b *vb) {
				pending = b.do(engine.StartEnrolment{Method: "sms", Label: "Mobile", Address: "+4791234567"})
			},
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: pending.Deliver.Code.Reveal()}
			},
			types: []string{"authenticator.activated", "authenticator.default_changed"}},
		vcase{name: "confirm/sms-third-wrong-code", desc: "three wrong SMS codes cancel the enrolment",
			given: func(b *vb) {
				pending = b.do(engine.StartEnrolment{Method: "sms", Label: "Mobile", Address: "+4791234567"})
				b.try(engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: "000000"})
				b.try(engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: "000001"})
			},
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: "000002"}
			},
			err: vakt.CodeInvalidCode, types: []string{"authenticator.confirmation_failed", "authenticator.enrolment_expired"}},
		vcase{name: "confirm/second-phone-keeps-default", desc: "a new phone added while the old one works does not take the default",
			given: func(b *vb) { b.totp("Old phone"); startTOTP(b) },
			when: func(b *vb) engine.Command {
				return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, Code: b.code(pendingApp(b), 0)}
			},
			types: []string{"authenticator.activated"}},
	)

	// ---- managing authenticators -------------------------------------------------
	var a1, a2 app
	twoPhones := func(b *vb) { a1 = b.totp("Old phone"); a2 = b.totp("New phone") }
	add(
		vcase{name: "manage/rename", desc: "an authenticator gets a new label", given: twoPhones,
			when: func(b *vb) engine.Command {
				return engine.RenameAuthenticator{AuthenticatorID: a1.id, Label: "Work phone"}
			},
			types: []string{"authenticator.renamed"}},
		vcase{name: "manage/rename-same-label", desc: "renaming to the same label records nothing", given: twoPhones,
			when: func(b *vb) engine.Command {
				return engine.RenameAuthenticator{AuthenticatorID: a1.id, Label: "Old phone"}
			}},
		vcase{name: "manage/rename-unknown", desc: "renaming something that does not exist",
			when: func(b *vb) engine.Command { return engine.RenameAuthenticator{AuthenticatorID: unknownID, Label: "x"} },
			err:  vakt.CodeNotFound},
		vcase{name: "manage/set-default", desc: "the new phone becomes the default", given: twoPhones,
			when:  func(b *vb) engine.Command { return engine.SetDefault{AuthenticatorID: a2.id} },
			types: []string{"authenticator.default_changed"}},
		vcase{name: "manage/set-default-pending", desc: "a pending authenticator cannot be the default", given: startTOTP,
			when: func(b *vb) engine.Command { return engine.SetDefault{AuthenticatorID: pending.AuthenticatorID} },
			err:  vakt.CodeConflict},
		vcase{name: "manage/remove-other", desc: "removing a non-default authenticator", given: twoPhones,
			when:  func(b *vb) engine.Command { return engine.RemoveAuthenticator{AuthenticatorID: a2.id} },
			types: []string{"authenticator.removed"}},
		vcase{name: "manage/remove-old-phone-moves-default", desc: "removing the old phone makes the new one the default", given: twoPhones,
			when:  func(b *vb) engine.Command { return engine.RemoveAuthenticator{AuthenticatorID: a1.id} },
			types: []string{"authenticator.removed", "authenticator.default_changed"}},
		vcase{name: "manage/remove-last", desc: "removing the last authenticator leaves no default",
			given: func(b *vb) { a1 = b.totp("Only phone") },
			when:  func(b *vb) engine.Command { return engine.RemoveAuthenticator{AuthenticatorID: a1.id} },
			types: []string{"authenticator.removed", "authenticator.default_changed"}},
		vcase{name: "manage/remove-unknown", desc: "removing something that does not exist",
			when: func(b *vb) engine.Command { return engine.RemoveAuthenticator{AuthenticatorID: unknownID} },
			err:  vakt.CodeNotFound},
	)

	// ---- HOTP resync --------------------------------------------------------------
	var tokenID string
	token := func(b *vb) { tokenID = b.hotp("Token") }
	add(
		vcase{name: "hotp/resync", desc: "two consecutive codes far past the window resynchronise the counter", given: token,
			when: func(b *vb) engine.Command {
				return engine.ResyncHOTP{AuthenticatorID: tokenID, Code1: hotpAt(b.t, 50), Code2: hotpAt(b.t, 51)}
			},
			types: []string{"authenticator.counter_resynced"}},
		vcase{name: "hotp/resync-not-consecutive", desc: "two codes that are not consecutive do not resync", given: token,
			when: func(b *vb) engine.Command {
				return engine.ResyncHOTP{AuthenticatorID: tokenID, Code1: hotpAt(b.t, 50), Code2: hotpAt(b.t, 52)}
			},
			err: vakt.CodeInvalidCode},
		vcase{name: "hotp/resync-totp", desc: "only HOTP tokens have counters",
			given: func(b *vb) { a1 = b.totp("Phone") },
			when: func(b *vb) engine.Command {
				return engine.ResyncHOTP{AuthenticatorID: a1.id, Code1: "123456", Code2: "234567"}
			},
			err: vakt.CodeInvalidArgument},
	)

	// ---- recovery codes -------------------------------------------------------------
	var codes []engine.Secret
	withCodes := func(b *vb) { a1 = b.totp("Phone"); codes = b.do(engine.IssueRecoveryCodes{}).RecoveryCodes }
	add(
		vcase{name: "recovery/issue", desc: "ten codes are issued; only salted keyed hashes are stored",
			given: func(b *vb) { b.totp("Phone") },
			when:  func(b *vb) engine.Command { return engine.IssueRecoveryCodes{} },
			types: []string{"recovery_codes.issued"}},
		vcase{name: "recovery/issue-without-authenticator", desc: "recovery codes need an enrolled authenticator",
			when: func(b *vb) engine.Command { return engine.IssueRecoveryCodes{} },
			err:  vakt.CodeEnrolmentRequired},
		vcase{name: "recovery/disabled-by-policy", desc: "a tenant may disable recovery codes",
			given: func(b *vb) {
				b.setPolicy(func(p *engine.Policy) { p.Methods = []string{"totp"} })
				b.totp("Phone")
			},
			when: func(b *vb) engine.Command { return engine.IssueRecoveryCodes{} },
			err:  vakt.CodeMethodNotAllowed},
		vcase{name: "recovery/sign-in", desc: "a recovery code signs in once", given: func(b *vb) { withCodes(b) },
			when: func(b *vb) engine.Command {
				ch := b.challenge(engine.IssueChallenge{})
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: codes[4].Reveal()}
			},
			types: []string{"recovery_code.used", "challenge.succeeded"}},
		vcase{name: "recovery/used-twice", desc: "a used recovery code fails and counts as a failed attempt",
			given: func(b *vb) {
				withCodes(b)
				ch := b.challenge(engine.IssueChallenge{})
				b.do(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: codes[4].Reveal()})
			},
			when: func(b *vb) engine.Command {
				ch := b.challenge(engine.IssueChallenge{})
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: strings.ToUpper(codes[4].Reveal())}
			},
			err: vakt.CodeInvalidCode, types: []string{"challenge.attempt_failed"}},
	)

	// ---- issuing challenges -------------------------------------------------------------
	var dev pushDev
	var ch engine.Reply
	phone := func(b *vb) { a1 = b.totp("Phone") }
	pushUser := func(b *vb) { dev = b.push("App", false); a1 = b.totp("Phone") }
	add(
		vcase{name: "challenge/issue-totp", desc: "a challenge offers the user's methods, default first", given: phone,
			when: func(b *vb) engine.Command {
				return engine.IssueChallenge{App: "web", Context: events.Context{Application: "Canvas", IP: "192.0.2.7"}}
			},
			types: []string{"challenge.issued"}},
		vcase{name: "challenge/issue-push-number-match", desc: "a push default sends a push with number matching", given: pushUser,
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "office"} },
			types: []string{"challenge.issued"}},
		vcase{name: "challenge/no-authenticator-enforced", desc: "from the enforcement date a user without an authenticator must enrol",
			when: func(b *vb) engine.Command { return engine.IssueChallenge{App: "web"} },
			err:  vakt.CodeEnrolmentRequired},
		vcase{name: "challenge/unknown-app", desc: "the application must be in the tenant policy", given: phone,
			when: func(b *vb) engine.Command { return engine.IssueChallenge{App: "mainframe"} },
			err:  vakt.CodeInvalidArgument},
		vcase{name: "challenge/app-with-wildcard", desc: "application names are plain names", given: phone,
			when: func(b *vb) engine.Command { return engine.IssueChallenge{App: "web.*"} },
			err:  vakt.CodeInvalidArgument},
		vcase{name: "challenge/unknown-acr", desc: "required_acr must be low, substantial or high", given: phone,
			when: func(b *vb) engine.Command { return engine.IssueChallenge{App: "web", RequiredACR: "idporten-loa-high"} },
			err:  vakt.CodeInvalidArgument},
		vcase{name: "challenge/high-needs-verified-push", desc: "an app code does not reach acr high", given: phone,
			when: func(b *vb) engine.Command { return engine.IssueChallenge{App: "web", RequiredACR: "high"} },
			err:  vakt.CodeMethodNotAllowed},
		vcase{name: "challenge/high-with-verified-push", desc: "a push device with user verification reaches acr high",
			given: func(b *vb) { dev = b.push("App", true) },
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web", RequiredACR: "high"} },
			types: []string{"challenge.issued"}},
		vcase{name: "challenge/sms-default-sends-code", desc: "an SMS default gets a code at once (acr low)",
			given: func(b *vb) { b.sms("Mobile") },
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web", RequiredACR: "low"} },
			types: []string{"challenge.issued", "challenge.code_sent"}},
		vcase{name: "challenge/sms-below-substantial", desc: "SMS is restricted: it does not reach substantial",
			given: func(b *vb) { b.sms("Mobile") },
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web"} },
			err:   vakt.CodeMethodNotAllowed},
		vcase{name: "challenge/method-preference-unavailable", desc: "asking for a method the user lacks", given: phone,
			when: func(b *vb) engine.Command { return engine.IssueChallenge{App: "web", Method: "push"} },
			err:  vakt.CodeMethodNotAllowed},
		vcase{name: "challenge/push-paused-falls-back-to-codes", desc: "while push is paused a push default gets code methods only",
			given: func(b *vb) { pushUser(b); pausePush(b, dev) },
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web"} },
			types: []string{"challenge.issued"}},
		vcase{name: "challenge/push-paused-explicit", desc: "asking for push while it is paused",
			given: func(b *vb) { pushUser(b); pausePush(b, dev) },
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web", Method: "push"} },
			err:   vakt.CodePushPaused},
		vcase{name: "challenge/too-many-pending-pushes", desc: "at most three pushes wait at once",
			given: func(b *vb) {
				pushUser(b)
				for i := 0; i < 3; i++ {
					b.challenge(engine.IssueChallenge{})
				}
			},
			when: func(b *vb) engine.Command { return engine.IssueChallenge{App: "web", Method: "push"} },
			err:  vakt.CodePushPaused},
		vcase{name: "challenge/pending-limit-evicts-oldest", desc: "the oldest pending challenge gives way",
			given: func(b *vb) {
				b.setPolicy(func(p *engine.Policy) { p.MaxPendingChallenges = 2 })
				phone(b)
				b.challenge(engine.IssueChallenge{})
				b.challenge(engine.IssueChallenge{})
			},
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web"} },
			types: []string{"challenge.expired", "challenge.issued"}},
		vcase{name: "challenge/stale-expired-on-issue", desc: "challenges past their time are recorded as expired",
			given: func(b *vb) { phone(b); b.challenge(engine.IssueChallenge{}); b.advance(5 * time.Minute) },
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web"} },
			types: []string{"challenge.expired", "challenge.issued"}},
		vcase{name: "challenge/context-too-long", desc: "context fields are bounded", given: phone,
			when: func(b *vb) engine.Command {
				return engine.IssueChallenge{App: "web", Context: events.Context{UserAgent: strings.Repeat("a", 257)}}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "challenge/permanently-locked-without-push", desc: "after 100 failures a user with only code methods cannot start a sign-in",
			given: func(b *vb) { phone(b); b.failCodes(100) },
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web"} },
			err:   vakt.CodeLockedOut},
		vcase{name: "challenge/erased-user", desc: "an erased user is gone for good",
			given: func(b *vb) { phone(b); b.do(engine.Erase{Operator: "dpo"}) },
			noKey: true,
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web"} },
			err:   vakt.CodeErased},
	)

	// ---- remembered browsers --------------------------------------------------------------
	var token1 string
	remembered := func(b *vb) {
		phone(b)
		c := b.challenge(engine.IssueChallenge{})
		token1 = b.do(engine.VerifyCode{ChallengeID: c.ChallengeID, Code: b.code(a1, 0), RememberDevice: true}).RememberToken.Reveal()
	}
	add(
		vcase{name: "remember/skip-web-within-20-days", desc: "a browser remembered for web skips the challenge for 20 days",
			given: func(b *vb) { remembered(b); b.advance(19 * day) },
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web", RememberToken: token1} },
			types: []string{"challenge.skipped"}},
		vcase{name: "remember/rdp-every-login", desc: "remote desktop asks every time, remembered or not",
			given: func(b *vb) { remembered(b); b.advance(time.Hour) },
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "rdp", RememberToken: token1} },
			types: []string{"challenge.issued"}},
		vcase{name: "remember/after-20-days", desc: "after 20 days the web browser is asked again and the device expires",
			given: func(b *vb) { remembered(b); b.advance(21 * day) },
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web", RememberToken: token1} },
			types: []string{"device.forgotten", "challenge.issued"}},
		vcase{name: "remember/wrong-token", desc: "an unknown token does not skip",
			given: remembered,
			when: func(b *vb) engine.Command {
				return engine.IssueChallenge{App: "web", RememberToken: "bm90LWEtdG9rZW4"}
			},
			types: []string{"challenge.issued"}},
		vcase{name: "remember/acr-too-low", desc: "a browser remembered at low assurance does not skip a substantial challenge",
			given: func(b *vb) {
				b.sms("Mobile")
				c := b.challenge(engine.IssueChallenge{RequiredACR: "low"})
				token1 = b.do(engine.VerifyCode{ChallengeID: c.ChallengeID, Code: c.Deliver.Code.Reveal(), RememberDevice: true}).RememberToken.Reveal()
				a1 = b.totp("Phone")
			},
			when:  func(b *vb) engine.Command { return engine.IssueChallenge{App: "web", RememberToken: token1} },
			types: []string{"challenge.issued"}},
		vcase{name: "remember/after-push", desc: "the browser is remembered after a push approved on the phone",
			given: func(b *vb) {
				pushUser(b)
				ch = b.challenge(engine.IssueChallenge{})
				b.do(b.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch, false))
			},
			when:  func(b *vb) engine.Command { return engine.RememberDevice{ChallengeID: ch.ChallengeID} },
			types: []string{"device.remembered"}},
		vcase{name: "remember/not-succeeded", desc: "a challenge still pending cannot remember the browser",
			given: func(b *vb) { phone(b); ch = b.challenge(engine.IssueChallenge{}) },
			when:  func(b *vb) engine.Command { return engine.RememberDevice{ChallengeID: ch.ChallengeID} },
			err:   vakt.CodeConflict},
		vcase{name: "remember/too-late", desc: "remembering must follow the sign-in closely",
			given: func(b *vb) {
				phone(b)
				ch = b.challenge(engine.IssueChallenge{})
				b.do(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0)})
				b.advance(11 * time.Minute)
			},
			when: func(b *vb) engine.Command { return engine.RememberDevice{ChallengeID: ch.ChallengeID} },
			err:  vakt.CodeExpired},
		vcase{name: "remember/evicts-oldest", desc: "the oldest remembered browser gives way at the limit",
			given: func(b *vb) {
				b.setPolicy(func(p *engine.Policy) { p.MaxRememberedDevices = 1 })
				remembered(b)
				b.advance(30 * time.Second)
			},
			when: func(b *vb) engine.Command {
				c := b.challenge(engine.IssueChallenge{})
				return engine.VerifyCode{ChallengeID: c.ChallengeID, Code: b.code(a1, 0), RememberDevice: true}
			},
			types: []string{"challenge.succeeded", "device.forgotten", "device.remembered"}},
		vcase{name: "remember/forget-one", desc: "the user forgets a remembered browser",
			given: remembered,
			when: func(b *vb) engine.Command {
				return engine.ForgetDevice{DeviceID: b.u.Devices[0].ID}
			},
			types: []string{"device.forgotten"}},
		vcase{name: "remember/forget-all", desc: "forget every remembered browser",
			given: func(b *vb) {
				remembered(b)
				b.advance(30 * time.Second)
				c := b.challenge(engine.IssueChallenge{App: "office"})
				b.do(engine.VerifyCode{ChallengeID: c.ChallengeID, Code: b.code(a1, 0), RememberDevice: true})
			},
			when:  func(b *vb) engine.Command { return engine.ForgetDevice{All: true} },
			types: []string{"device.forgotten", "device.forgotten"}},
		vcase{name: "remember/forget-unknown", desc: "forgetting a device that does not exist",
			when: func(b *vb) engine.Command { return engine.ForgetDevice{DeviceID: unknownID} },
			err:  vakt.CodeNotFound},
	)

	// ---- verifying codes --------------------------------------------------------------------
	signIn := func(b *vb) { phone(b); ch = b.challenge(engine.IssueChallenge{}) }
	add(
		vcase{name: "verify/totp", desc: "the current code signs in", given: signIn,
			when:  func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0)} },
			types: []string{"challenge.succeeded"}},
		vcase{name: "verify/totp-with-spaces", desc: "spaces in a typed code are ignored", given: signIn,
			when: func(b *vb) engine.Command {
				c := b.code(a1, 0)
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: " " + c[:3] + " " + c[3:] + " "}
			},
			types: []string{"challenge.succeeded"}},
		vcase{name: "verify/totp-previous-step", desc: "a code one step old is accepted and its offset recorded",
			given: func(b *vb) { signIn(b); b.advance(30 * time.Second) },
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, -30*time.Second)}
			},
			types: []string{"challenge.succeeded"}},
		vcase{name: "verify/totp-two-steps-old", desc: "a code two steps old is outside the window", given: signIn,
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, -60*time.Second)}
			},
			err: vakt.CodeInvalidCode, types: []string{"challenge.attempt_failed"}},
		vcase{name: "verify/totp-replayed", desc: "a code is accepted once (RFC 6238 5.2)",
			given: func(b *vb) {
				signIn(b)
				b.do(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0)})
				ch = b.challenge(engine.IssueChallenge{})
			},
			when: func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0)} },
			err:  vakt.CodeCodeReused, types: []string{"challenge.attempt_failed"}},
		vcase{name: "verify/totp-older-than-last-used", desc: "a code older than the last accepted one is a replay",
			given: func(b *vb) {
				signIn(b)
				b.do(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0)})
				b.advance(30 * time.Second)
				ch = b.challenge(engine.IssueChallenge{})
			},
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, -30*time.Second)}
			},
			err: vakt.CodeCodeReused, types: []string{"challenge.attempt_failed"}},
		vcase{name: "verify/totp-enrolment-code-reused", desc: "the code that confirmed enrolment cannot sign in",
			given: func(b *vb) {
				pending = b.do(engine.StartEnrolment{Method: "totp", Label: "Phone"})
				a1 = appFromSecret(pending.AuthenticatorID, pending.Secret.Reveal())
				b.do(engine.ConfirmEnrolment{AuthenticatorID: a1.id, Code: b.code(a1, 0)})
				ch = b.challenge(engine.IssueChallenge{})
			},
			when: func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0)} },
			err:  vakt.CodeCodeReused, types: []string{"challenge.attempt_failed"}},
		vcase{name: "verify/drift-adjusted", desc: "a second success one step behind moves the window",
			given: func(b *vb) {
				signIn(b)
				b.advance(30 * time.Second)
				b.do(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, -30*time.Second)})
				b.advance(60 * time.Second)
				ch = b.challenge(engine.IssueChallenge{})
			},
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, -30*time.Second)}
			},
			types: []string{"challenge.succeeded", "authenticator.drift_adjusted"}},
		vcase{name: "verify/hotp-look-ahead", desc: "an HOTP code a few presses ahead is accepted and the counter moves",
			given: func(b *vb) { token(b); ch = b.challenge(engine.IssueChallenge{}) },
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: hotpAt(b.t, 7)}
			},
			types: []string{"challenge.succeeded"}},
		vcase{name: "verify/hotp-beyond-window", desc: "an HOTP code past the look-ahead window fails",
			given: func(b *vb) { token(b); ch = b.challenge(engine.IssueChallenge{}) },
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: hotpAt(b.t, 30)}
			},
			err: vakt.CodeInvalidCode, types: []string{"challenge.attempt_failed"}},
		vcase{name: "verify/hotp-used-counter", desc: "an HOTP code for a used counter fails",
			given: func(b *vb) { token(b); ch = b.challenge(engine.IssueChallenge{}) },
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: hotpAt(b.t, 0)}
			},
			err: vakt.CodeInvalidCode, types: []string{"challenge.attempt_failed"}},
		vcase{name: "verify/sms", desc: "the SMS code signs in at acr low",
			given: func(b *vb) { b.sms("Mobile"); ch = b.challenge(engine.IssueChallenge{RequiredACR: "low"}) },
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: ch.Deliver.Code.Reveal()}
			},
			types: []string{"challenge.succeeded"}},
		vcase{name: "verify/sms-code-expired", desc: "an SMS code is valid for 5 minutes",
			given: func(b *vb) {
				b.setPolicy(func(p *engine.Policy) { p.ChallengeTTL = events.Duration(10 * time.Minute) })
				b.sms("Mobile")
				ch = b.challenge(engine.IssueChallenge{RequiredACR: "low"})
				b.advance(5 * time.Minute)
			},
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: ch.Deliver.Code.Reveal()}
			},
			err: vakt.CodeInvalidCode, types: []string{"challenge.attempt_failed"}},
		vcase{name: "verify/sms-code-burnt-after-three", desc: "after three wrong tries the SMS code is no good",
			given: func(b *vb) {
				b.sms("Mobile")
				ch = b.challenge(engine.IssueChallenge{RequiredACR: "low"})
				for i := 0; i < 3; i++ {
					b.try(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"})
				}
			},
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: ch.Deliver.Code.Reveal()}
			},
			err: vakt.CodeInvalidCode, types: []string{"challenge.attempt_failed"}},
		vcase{name: "verify/send-code-again", desc: "a new SMS code for the same sign-in",
			given: func(b *vb) {
				id := b.sms("Mobile")
				pending.AuthenticatorID = id
				ch = b.challenge(engine.IssueChallenge{RequiredACR: "low"})
			},
			when: func(b *vb) engine.Command {
				return engine.SendCode{ChallengeID: ch.ChallengeID, AuthenticatorID: pending.AuthenticatorID}
			},
			types: []string{"challenge.code_sent"}},
		vcase{name: "verify/send-code-limit", desc: "at most three codes per sign-in",
			given: func(b *vb) {
				id := b.sms("Mobile")
				pending.AuthenticatorID = id
				ch = b.challenge(engine.IssueChallenge{RequiredACR: "low"})
				b.do(engine.SendCode{ChallengeID: ch.ChallengeID, AuthenticatorID: id})
				b.do(engine.SendCode{ChallengeID: ch.ChallengeID, AuthenticatorID: id})
			},
			when: func(b *vb) engine.Command {
				return engine.SendCode{ChallengeID: ch.ChallengeID, AuthenticatorID: pending.AuthenticatorID}
			},
			err: vakt.CodeConflict},
		vcase{name: "verify/send-code-to-app", desc: "codes are sent only to SMS and e-mail authenticators", given: signIn,
			when: func(b *vb) engine.Command {
				return engine.SendCode{ChallengeID: ch.ChallengeID, AuthenticatorID: a1.id}
			},
			err: vakt.CodeMethodNotAllowed},
		vcase{name: "verify/fifth-failure-locks-1m", desc: "five failures in a row lock code methods for a minute",
			given: func(b *vb) { phone(b); b.failCodes(4); ch = b.challenge(engine.IssueChallenge{}) },
			when:  func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"} },
			err:   vakt.CodeInvalidCode, types: []string{"challenge.attempt_failed", "user.locked_out"}},
		vcase{name: "verify/tenth-failure-locks-2m", desc: "the lock doubles with every five further failures",
			given: func(b *vb) { phone(b); b.failCodes(9); ch = b.challenge(engine.IssueChallenge{}) },
			when:  func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"} },
			err:   vakt.CodeInvalidCode, types: []string{"challenge.attempt_failed", "user.locked_out"}},
		vcase{name: "verify/hundredth-failure-locks-for-good", desc: "100 failures lock until a helpdesk unlock (NIST 800-63B)",
			given: func(b *vb) { pushUser(b); b.failCodes(99); ch = b.challenge(engine.IssueChallenge{Method: "totp"}) },
			when:  func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "000000"} },
			err:   vakt.CodeInvalidCode, types: []string{"challenge.attempt_failed", "user.locked_out"}},
		vcase{name: "verify/while-locked", desc: "while locked even the right code is refused and nothing is recorded",
			given: func(b *vb) { phone(b); b.failCodes(5); ch = b.challenge(engine.IssueChallenge{}) },
			when:  func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0)} },
			err:   vakt.CodeLockedOut},
		vcase{name: "verify/after-lock-expires", desc: "when the lock runs out the right code works and resets the count",
			given: func(b *vb) {
				phone(b)
				b.failCodes(5)
				b.advance(time.Minute)
				ch = b.challenge(engine.IssueChallenge{})
			},
			when:  func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0)} },
			types: []string{"challenge.succeeded"}},
		vcase{name: "verify/expired-challenge", desc: "a challenge answers for 5 minutes",
			given: func(b *vb) { signIn(b); b.advance(5 * time.Minute) },
			when:  func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0)} },
			err:   vakt.CodeExpired},
		vcase{name: "verify/foreign-challenge", desc: "a challenge id of someone else (unknown here)", given: phone,
			when: func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: unknownID, Code: "123456"} },
			err:  vakt.CodeNotFound},
		vcase{name: "verify/finished-challenge", desc: "a second answer to a finished challenge",
			given: func(b *vb) {
				signIn(b)
				b.do(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0)})
				b.advance(30 * time.Second)
			},
			when: func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0)} },
			err:  vakt.CodeConflict},
		vcase{name: "verify/code-with-letters", desc: "a code with letters is not a code", given: signIn,
			when: func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: "12a456"} },
			err:  vakt.CodeInvalidArgument},
		vcase{name: "verify/code-too-long", desc: "an oversized code is refused", given: signIn,
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: strings.Repeat("1", 65)}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "verify/challenge-id-with-wildcard", desc: "ids with subject syntax are refused", given: phone,
			when: func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: "challenge.>", Code: "123456"} },
			err:  vakt.CodeInvalidArgument},
		vcase{name: "verify/remember-web", desc: "a web sign-in remembers the browser for 20 days", given: signIn,
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0), RememberDevice: true}
			},
			types: []string{"challenge.succeeded", "device.remembered"}},
		vcase{name: "verify/remember-rdp-refused", desc: "remote desktop never remembers a device",
			given: func(b *vb) { phone(b); ch = b.challenge(engine.IssueChallenge{App: "rdp"}) },
			when: func(b *vb) engine.Command {
				return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: b.code(a1, 0), RememberDevice: true}
			},
			types: []string{"challenge.succeeded"}},
	)

	// ---- push answers -----------------------------------------------------------------------
	pushed := func(b *vb) { pushUser(b); ch = b.challenge(engine.IssueChallenge{}) }
	add(
		vcase{name: "push/approve", desc: "approving with the number shown at login signs in", given: pushed,
			when: func(b *vb) engine.Command {
				return b.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch, false)
			},
			types: []string{"challenge.succeeded"}},
		vcase{name: "push/approve-user-verified", desc: "a device that verified its user gives acr high",
			given: func(b *vb) { dev = b.push("App", true); ch = b.challenge(engine.IssueChallenge{RequiredACR: "high"}) },
			when: func(b *vb) engine.Command {
				return b.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch, true)
			},
			types: []string{"challenge.succeeded"}},
		vcase{name: "push/wrong-number", desc: "choosing another number denies the sign-in", given: pushed,
			when: func(b *vb) engine.Command {
				return b.answer(dev, ch.ChallengeID, engine.DecisionApprove, wrongNumber(ch), false)
			},
			types: []string{"challenge.denied"}},
		vcase{name: "push/deny", desc: "the user says no", given: pushed,
			when: func(b *vb) engine.Command {
				return b.answer(dev, ch.ChallengeID, engine.DecisionDeny, 0, false)
			},
			types: []string{"challenge.denied"}},
		vcase{name: "push/third-refusal-pauses", desc: "three denied pushes within an hour pause push for 15 minutes",
			given: func(b *vb) {
				pushUser(b)
				for i := 0; i < 2; i++ {
					c := b.challenge(engine.IssueChallenge{})
					b.do(b.answer(dev, c.ChallengeID, engine.DecisionDeny, 0, false))
				}
				ch = b.challenge(engine.IssueChallenge{})
			},
			when: func(b *vb) engine.Command {
				return b.answer(dev, ch.ChallengeID, engine.DecisionDeny, 0, false)
			},
			types: []string{"challenge.denied", "push.paused"}},
		vcase{name: "push/unanswered-count-towards-pause", desc: "pushes that time out count like denials",
			given: func(b *vb) {
				pushUser(b)
				for i := 0; i < 3; i++ {
					b.challenge(engine.IssueChallenge{})
				}
				b.advance(5 * time.Minute)
			},
			when:  func(b *vb) engine.Command { return engine.Expire{} },
			types: []string{"challenge.expired", "challenge.expired", "challenge.expired", "push.paused"}},
		vcase{name: "push/fraud", desc: "\"this wasn't me\" records fraud with the sign-in's context",
			given: func(b *vb) {
				pushUser(b)
				ch = b.challenge(engine.IssueChallenge{Context: events.Context{Application: "Canvas", IP: "198.51.100.9", Location: "Oslo"}})
			},
			when: func(b *vb) engine.Command {
				return b.answer(dev, ch.ChallengeID, engine.DecisionFraud, 0, false)
			},
			types: []string{"challenge.fraud_reported"}},
		vcase{name: "push/fraud-locks-by-policy", desc: "a tenant may lock the user on a fraud report",
			given: func(b *vb) {
				b.setPolicy(func(p *engine.Policy) { p.FraudLock = true })
				pushed(b)
			},
			when: func(b *vb) engine.Command {
				return b.answer(dev, ch.ChallengeID, engine.DecisionFraud, 0, false)
			},
			types: []string{"challenge.fraud_reported", "user.locked_out"}},
		vcase{name: "push/forged-signature", desc: "a forged answer changes nothing", given: pushed,
			when: func(b *vb) engine.Command {
				r := b.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch, false)
				r.Signature[10] ^= 0x40
				return r
			},
			err: vakt.CodeUnauthorized},
		vcase{name: "push/signature-over-other-bytes", desc: "a signature over a denial does not approve", given: pushed,
			when: func(b *vb) engine.Command {
				r := b.answer(dev, ch.ChallengeID, engine.DecisionDeny, 0, false)
				r.Decision, r.Number = engine.DecisionApprove, ch.NumberMatch
				return r
			},
			err: vakt.CodeUnauthorized},
		vcase{name: "push/other-device", desc: "a device may answer only the pushes sent to it",
			given: func(b *vb) { pushed(b); b.push("Second app", false) },
			when: func(b *vb) engine.Command {
				other := pushDev{id: b.u.Authenticators[len(b.u.Authenticators)-1].ID, priv: dev.priv}
				return b.answer(other, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch, false)
			},
			err: vakt.CodeUnauthorized},
		vcase{name: "push/expired", desc: "a push answers for 2 minutes",
			given: func(b *vb) { pushed(b); b.advance(2 * time.Minute) },
			when: func(b *vb) engine.Command {
				return b.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch, false)
			},
			err: vakt.CodeExpired},
		vcase{name: "push/approve-while-codes-locked", desc: "a signed approval works while code methods are locked",
			given: func(b *vb) { pushUser(b); b.failCodes(100); ch = b.challenge(engine.IssueChallenge{}) },
			when: func(b *vb) engine.Command {
				return b.answer(dev, ch.ChallengeID, engine.DecisionApprove, ch.NumberMatch, false)
			},
			types: []string{"challenge.succeeded"}},
		vcase{name: "push/unknown-decision", desc: "decisions are approve, deny or fraud", given: pushed,
			when: func(b *vb) engine.Command {
				r := b.answer(dev, ch.ChallengeID, "maybe", 0, false)
				return r
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "push/number-out-of-range", desc: "the number is two digits", given: pushed,
			when: func(b *vb) engine.Command {
				return b.answer(dev, ch.ChallengeID, engine.DecisionApprove, 100, false)
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "push/send-again-after-timeout", desc: "the user asks for a new push after the first timed out",
			given: func(b *vb) { pushed(b); b.advance(2*time.Minute + time.Second) },
			when:  func(b *vb) engine.Command { return engine.SendPush{ChallengeID: ch.ChallengeID} },
			types: []string{"challenge.push_sent"}},
		vcase{name: "push/send-while-waiting", desc: "no second push while one waits", given: pushed,
			when: func(b *vb) engine.Command { return engine.SendPush{ChallengeID: ch.ChallengeID} },
			err:  vakt.CodeConflict},
	)

	// ---- enforcement ------------------------------------------------------------------
	enforceLater := func(b *vb) {
		b.setPolicy(func(p *engine.Policy) { p.EnforceFrom = t0.Add(30 * day) })
	}
	add(
		vcase{name: "enforce/snooze-before-date", desc: "before the enforcement date a user may skip enrolment",
			given: enforceLater,
			when:  func(b *vb) engine.Command { return engine.SnoozeEnrolment{App: "web"} },
			types: []string{"enrolment.snoozed", "challenge.skipped"}},
		vcase{name: "enforce/fourth-snooze", desc: "at most three snoozes",
			given: func(b *vb) {
				enforceLater(b)
				for i := 0; i < 3; i++ {
					b.do(engine.SnoozeEnrolment{App: "web"})
				}
			},
			when: func(b *vb) engine.Command { return engine.SnoozeEnrolment{App: "web"} },
			err:  vakt.CodeEnrolmentRequired},
		vcase{name: "enforce/after-date", desc: "from the enforcement date there is no skipping",
			given: func(b *vb) { enforceLater(b); b.advance(31 * day) },
			when:  func(b *vb) engine.Command { return engine.SnoozeEnrolment{App: "web"} },
			err:   vakt.CodeEnrolmentRequired},
		vcase{name: "enforce/already-enrolled", desc: "an enrolled user signs in instead of snoozing",
			given: func(b *vb) { enforceLater(b); phone(b) },
			when:  func(b *vb) engine.Command { return engine.SnoozeEnrolment{App: "web"} },
			err:   vakt.CodeConflict},
	)

	// ---- helpdesk, reset, erasure -------------------------------------------------------
	add(
		vcase{name: "helpdesk/temporary-pass", desc: "the helpdesk issues a one-hour pass", given: phone,
			when:  func(b *vb) engine.Command { return engine.IssueTemporaryPass{Operator: "kari", Ticket: "INC-100"} },
			types: []string{"temporary_pass.issued"}},
		vcase{name: "helpdesk/temporary-pass-without-ticket", desc: "operator and ticket are on record",
			when: func(b *vb) engine.Command { return engine.IssueTemporaryPass{Operator: "kari"} },
			err:  vakt.CodeInvalidArgument},
		vcase{name: "helpdesk/temporary-pass-too-long", desc: "a pass lives at most 30 days",
			when: func(b *vb) engine.Command {
				return engine.IssueTemporaryPass{Operator: "kari", Ticket: "INC-1", TTL: events.Duration(31 * day)}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "helpdesk/temporary-pass-signs-in", desc: "the pass signs in once",
			given: func(b *vb) {
				pass := b.do(engine.IssueTemporaryPass{Operator: "kari", Ticket: "INC-2"}).TemporaryPass.Reveal()
				token1 = pass
				ch = b.challenge(engine.IssueChallenge{})
			},
			when:  func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: token1} },
			types: []string{"temporary_pass.used", "challenge.succeeded"}},
		vcase{name: "helpdesk/temporary-pass-expired", desc: "an expired pass fails",
			given: func(b *vb) {
				b.setPolicy(func(p *engine.Policy) { p.ChallengeTTL = events.Duration(30 * time.Minute) })
				phone(b)
				token1 = b.do(engine.IssueTemporaryPass{Operator: "kari", Ticket: "INC-3", TTL: events.Duration(10 * time.Minute)}).TemporaryPass.Reveal()
				ch = b.challenge(engine.IssueChallenge{})
				b.advance(11 * time.Minute)
			},
			when: func(b *vb) engine.Command { return engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: token1} },
			err:  vakt.CodeInvalidCode, types: []string{"challenge.attempt_failed"}},
		vcase{name: "reset/self-service-idporten-high", desc: "a BankID-level proof resets the user's MFA",
			given: pushUser,
			when: func(b *vb) engine.Command {
				return engine.Reset{Proof: &events.Proof{Kind: "idporten", ACR: "idporten-loa-high", Reference: "sid-4b1e"}}
			},
			types: []string{"reset.completed"}},
		vcase{name: "reset/self-service-substantial-refused", desc: "MinID at substantial is not enough for a reset",
			given: phone,
			when: func(b *vb) engine.Command {
				return engine.Reset{Proof: &events.Proof{Kind: "idporten", ACR: "idporten-loa-substantial"}}
			},
			err: vakt.CodeInsufficientProof},
		vcase{name: "reset/unknown-proof-level", desc: "an acr the engine does not know proves nothing",
			given: phone,
			when: func(b *vb) engine.Command {
				return engine.Reset{Proof: &events.Proof{Kind: "custom", ACR: "urn:example:gold"}}
			},
			err: vakt.CodeInsufficientProof},
		vcase{name: "reset/helpdesk-with-pass", desc: "a helpdesk reset with a ticket and a pass to enrol again",
			given: remembered,
			when: func(b *vb) engine.Command {
				return engine.Reset{Helpdesk: &engine.Helpdesk{Operator: "kari", Ticket: "INC-4711"}, TemporaryPass: true}
			},
			types: []string{"reset.completed", "temporary_pass.issued"}},
		vcase{name: "reset/both-kinds", desc: "a reset is either self-service or helpdesk",
			when: func(b *vb) engine.Command {
				return engine.Reset{Proof: &events.Proof{Kind: "idporten", ACR: "high"}, Helpdesk: &engine.Helpdesk{Operator: "k", Ticket: "t"}}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "helpdesk/unlock", desc: "the helpdesk unlocks a locked-out user",
			given: func(b *vb) { phone(b); b.failCodes(100) },
			when:  func(b *vb) engine.Command { return engine.Unlock{Operator: "kari", Ticket: "INC-5"} },
			types: []string{"user.unlocked"}},
		vcase{name: "helpdesk/unlock-not-locked", desc: "unlocking a user who is not locked records nothing",
			given: phone,
			when:  func(b *vb) engine.Command { return engine.Unlock{Operator: "kari", Ticket: "INC-6"} }},
		vcase{name: "erase/user", desc: "erasure destroys the key; the events stay",
			given: pushUser,
			when: func(b *vb) engine.Command {
				return engine.Erase{Operator: "dpo", Ticket: "GDPR-1", Reason: "art. 17 request"}
			},
			types: []string{"user.erased"}},
		vcase{name: "erase/twice", desc: "an erased user cannot be erased again",
			given: func(b *vb) { b.do(engine.Erase{}) },
			noKey: true,
			when:  func(b *vb) engine.Command { return engine.Erase{} },
			err:   vakt.CodeErased},
		vcase{name: "expire/sweep", desc: "the sweeper records what ran out",
			given: func(b *vb) {
				remembered(b)
				b.challenge(engine.IssueChallenge{})
				b.do(engine.StartEnrolment{Method: "totp", Label: "Abandoned"})
				b.advance(21 * day)
			},
			when:  func(b *vb) engine.Command { return engine.Expire{} },
			types: []string{"challenge.expired", "authenticator.enrolment_expired", "device.forgotten"}},
		vcase{name: "expire/nothing", desc: "nothing to expire records nothing", given: phone,
			when: func(b *vb) engine.Command { return engine.Expire{} }},
	)

	// ---- tenant policy --------------------------------------------------------------
	add(
		vcase{name: "policy/set", desc: "a policy is recorded complete, defaults filled in",
			when: func(b *vb) engine.Command {
				return engine.SetPolicy{Policy: engine.Policy{Issuer: "UiO", EnforceFrom: t0.Add(14 * day)}}
			},
			types: []string{"policy.set"}},
		vcase{name: "policy/exact-zeros", desc: "an exact policy keeps totp.skew 0 and max_snoozes 0; its other zeros still take the defaults",
			when: func(b *vb) engine.Command {
				return engine.SetPolicy{Policy: engine.Policy{Issuer: "UiO", TOTP: events.OTPProfile{Skew: 0}, MaxSnoozes: 0}, Exact: true}
			},
			types: []string{"policy.set"}},
		vcase{name: "policy/unchanged", desc: "setting the same policy again records nothing",
			given: func(b *vb) { b.do(engine.SetPolicy{Policy: engine.Policy{Issuer: "UiO"}}) },
			when:  func(b *vb) engine.Command { return engine.SetPolicy{Policy: engine.Policy{Issuer: "UiO"}} }},
		vcase{name: "policy/push-ttl-over-10-minutes", desc: "an out-of-band secret lives at most 10 minutes",
			when: func(b *vb) engine.Command {
				return engine.SetPolicy{Policy: engine.Policy{PushTTL: events.Duration(11 * time.Minute)}}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "policy/hard-limit-over-100", desc: "NIST allows at most 100 consecutive failures",
			when: func(b *vb) engine.Command {
				return engine.SetPolicy{Policy: engine.Policy{Lockout: events.LockoutPolicy{HardLimit: 1000}}}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "policy/unknown-method", desc: "only known methods",
			when: func(b *vb) engine.Command {
				return engine.SetPolicy{Policy: engine.Policy{Methods: []string{"totp", "fax"}}}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "policy/negative-remember", desc: "remember_for cannot be negative",
			when: func(b *vb) engine.Command {
				return engine.SetPolicy{Policy: engine.Policy{Apps: []events.AppPolicy{{Name: "web", RememberFor: events.Duration(-time.Hour)}}}}
			},
			err: vakt.CodeInvalidArgument},
		vcase{name: "policy/apps", desc: "a tenant defines its own applications and their remember times",
			when: func(b *vb) engine.Command {
				return engine.SetPolicy{Policy: engine.Policy{Apps: []events.AppPolicy{
					{Name: "portal", RememberFor: events.Duration(7 * day)}, {Name: "vpn", RememberFor: 0},
				}}}
			},
			types: []string{"policy.set"}},
	)

	// ---- malformed commands ---------------------------------------------------------
	add(
		vcase{name: "command/unknown-type", desc: "an unknown command type",
			raw: func(b *vb) string { return `{"launch_missiles":{}}` }, err: vakt.CodeInvalidArgument},
		vcase{name: "command/unknown-field", desc: "unknown fields are refused",
			raw: func(b *vb) string { return `{"verify_code":{"challenge_id":"x","code":"123456","admin":true}}` }, err: vakt.CodeInvalidArgument},
		vcase{name: "command/two-types", desc: "a command has exactly one type",
			raw: func(b *vb) string { return `{"expire":{},"erase":{}}` }, err: vakt.CodeInvalidArgument},
		vcase{name: "command/wrong-type", desc: "a field of the wrong JSON type",
			raw: func(b *vb) string { return `{"verify_code":{"challenge_id":"x","code":123456}}` }, err: vakt.CodeInvalidArgument},
		vcase{name: "command/not-an-object", desc: "a JSON value that is not a command object",
			raw: func(b *vb) string { return `"verify_code challenge=x"` }, err: vakt.CodeInvalidArgument},
	)
	return cs
}

func appFromSecret(id, secret string) app {
	return app{id: id, secret: secret, opts: totpOpts()}
}

func pushConfirm(b *vb, pending engine.Reply, uv, forge bool) engine.Command {
	pub, priv, _ := ed25519GenerateKey("device App")
	msg := engine.EnrolmentMessage(b.tenant, b.user, pending.AuthenticatorID, pending.Activation.Reveal(), pub, uv)
	signer := priv
	if forge {
		_, signer, _ = ed25519GenerateKey("attacker")
	}
	return engine.ConfirmEnrolment{AuthenticatorID: pending.AuthenticatorID, PublicKey: pub, Signature: ed25519Sign(signer, msg), UserVerification: uv}
}

// pausePush denies three pushes so that push pauses.
func pausePush(b *vb, dev pushDev) {
	for i := 0; i < 3; i++ {
		c := b.challenge(engine.IssueChallenge{Method: "push"})
		b.do(b.answer(dev, c.ChallengeID, engine.DecisionDeny, 0, false))
	}
}
