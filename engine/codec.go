package engine

import (
	"encoding/base64"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// MaxCommandSize bounds an encoded command; nothing legitimate comes close.
const MaxCommandSize = 16 << 10

// commandJSON is the wire form of a command: an object with exactly one key,
// the command type, whose value is the command, e.g.
//
//	{"verify_code": {"challenge_id": "...", "code": "123456"}}
type commandJSON struct {
	StartEnrolment      *StartEnrolment      `json:"start_enrolment,omitempty"`
	ConfirmEnrolment    *ConfirmEnrolment    `json:"confirm_enrolment,omitempty"`
	RenameAuthenticator *RenameAuthenticator `json:"rename_authenticator,omitempty"`
	SetDefault          *SetDefault          `json:"set_default,omitempty"`
	RemoveAuthenticator *RemoveAuthenticator `json:"remove_authenticator,omitempty"`
	ResyncHOTP          *ResyncHOTP          `json:"resync_hotp,omitempty"`
	IssueRecoveryCodes  *IssueRecoveryCodes  `json:"issue_recovery_codes,omitempty"`
	IssueChallenge      *IssueChallenge      `json:"issue_challenge,omitempty"`
	SendCode            *SendCode            `json:"send_code,omitempty"`
	SendPush            *SendPush            `json:"send_push,omitempty"`
	VerifyCode          *VerifyCode          `json:"verify_code,omitempty"`
	RespondPush         *RespondPush         `json:"respond_push,omitempty"`
	RememberDevice      *RememberDevice      `json:"remember_device,omitempty"`
	ForgetDevice        *ForgetDevice        `json:"forget_device,omitempty"`
	SnoozeEnrolment     *SnoozeEnrolment     `json:"snooze_enrolment,omitempty"`
	IssueTemporaryPass  *IssueTemporaryPass  `json:"issue_temporary_pass,omitempty"`
	Reset               *Reset               `json:"reset,omitempty"`
	Unlock              *Unlock              `json:"unlock,omitempty"`
	Erase               *Erase               `json:"erase,omitempty"`
	Expire              *Expire              `json:"expire,omitempty"`
	SetPolicy           *SetPolicy           `json:"set_policy,omitempty"`
}

func (w *commandJSON) set(c Command) bool {
	switch c := c.(type) {
	case StartEnrolment:
		w.StartEnrolment = &c
	case ConfirmEnrolment:
		w.ConfirmEnrolment = &c
	case RenameAuthenticator:
		w.RenameAuthenticator = &c
	case SetDefault:
		w.SetDefault = &c
	case RemoveAuthenticator:
		w.RemoveAuthenticator = &c
	case ResyncHOTP:
		w.ResyncHOTP = &c
	case IssueRecoveryCodes:
		w.IssueRecoveryCodes = &c
	case IssueChallenge:
		w.IssueChallenge = &c
	case SendCode:
		w.SendCode = &c
	case SendPush:
		w.SendPush = &c
	case VerifyCode:
		w.VerifyCode = &c
	case RespondPush:
		w.RespondPush = &c
	case RememberDevice:
		w.RememberDevice = &c
	case ForgetDevice:
		w.ForgetDevice = &c
	case SnoozeEnrolment:
		w.SnoozeEnrolment = &c
	case IssueTemporaryPass:
		w.IssueTemporaryPass = &c
	case Reset:
		w.Reset = &c
	case Unlock:
		w.Unlock = &c
	case Erase:
		w.Erase = &c
	case Expire:
		w.Expire = &c
	case SetPolicy:
		w.SetPolicy = &c
	default:
		return false
	}
	return true
}

func (w *commandJSON) get() []Command {
	var out []Command
	add := func(ok bool, c func() Command) {
		if ok {
			out = append(out, c())
		}
	}
	add(w.StartEnrolment != nil, func() Command { return *w.StartEnrolment })
	add(w.ConfirmEnrolment != nil, func() Command { return *w.ConfirmEnrolment })
	add(w.RenameAuthenticator != nil, func() Command { return *w.RenameAuthenticator })
	add(w.SetDefault != nil, func() Command { return *w.SetDefault })
	add(w.RemoveAuthenticator != nil, func() Command { return *w.RemoveAuthenticator })
	add(w.ResyncHOTP != nil, func() Command { return *w.ResyncHOTP })
	add(w.IssueRecoveryCodes != nil, func() Command { return *w.IssueRecoveryCodes })
	add(w.IssueChallenge != nil, func() Command { return *w.IssueChallenge })
	add(w.SendCode != nil, func() Command { return *w.SendCode })
	add(w.SendPush != nil, func() Command { return *w.SendPush })
	add(w.VerifyCode != nil, func() Command { return *w.VerifyCode })
	add(w.RespondPush != nil, func() Command { return *w.RespondPush })
	add(w.RememberDevice != nil, func() Command { return *w.RememberDevice })
	add(w.ForgetDevice != nil, func() Command { return *w.ForgetDevice })
	add(w.SnoozeEnrolment != nil, func() Command { return *w.SnoozeEnrolment })
	add(w.IssueTemporaryPass != nil, func() Command { return *w.IssueTemporaryPass })
	add(w.Reset != nil, func() Command { return *w.Reset })
	add(w.Unlock != nil, func() Command { return *w.Unlock })
	add(w.Erase != nil, func() Command { return *w.Erase })
	add(w.Expire != nil, func() Command { return *w.Expire })
	add(w.SetPolicy != nil, func() Command { return *w.SetPolicy })
	return out
}

// EncodeCommand writes a command in its wire form.
func EncodeCommand(c Command) ([]byte, error) {
	var w commandJSON
	if c == nil || !w.set(c) {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "not a vakt command: %T", c)
	}
	return jsonx.Marshal(&w)
}

// DecodeCommand reads a command in its wire form. Unknown command types,
// unknown fields, wrong types, trailing data and oversized input are
// invalid_argument errors.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) > MaxCommandSize {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "command is %d bytes; the limit is %d", len(b), MaxCommandSize)
	}
	if c, ok := decodeCommandFast(b); ok {
		return c, nil
	}
	var w commandJSON
	if err := jsonx.Strict(b, &w); err != nil {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "command: %v (write it as {\"<type>\": {...}} with known fields)", err)
	}
	cs := w.get()
	if len(cs) != 1 {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "command must have exactly one type key, not %d", len(cs))
	}
	return cs[0], nil
}

// decodeCommandFast reads the commands of a sign-in (the hot path of the
// WebAssembly module, where reflection-based JSON costs 15-40x native)
// without reflection. It reports false for any other command and for any
// input not in the simplest form (escapes, nulls, repeated or unknown keys),
// and DecodeCommand then decodes it in full, with the same result and the
// same error messages as before.
func decodeCommandFast(b []byte) (Command, bool) {
	rd := jsonx.Reader{B: b}
	var c Command
	n := 0
	ok := rd.Members(func(key []byte) bool {
		n++
		if n > 1 {
			return false
		}
		switch string(key) {
		case "verify_code":
			var v VerifyCode
			c = &v
			return rd.Fields(func(k []byte) bool {
				var ok bool
				switch string(k) {
				case "challenge_id":
					v.ChallengeID, ok = rd.String()
				case "code":
					v.Code, ok = rd.String()
				case "remember_device":
					v.RememberDevice, ok = rd.Bool()
				}
				return ok
			})
		case "issue_challenge":
			var v IssueChallenge
			c = &v
			return rd.Fields(func(k []byte) bool {
				var ok bool
				switch string(k) {
				case "app":
					v.App, ok = rd.String()
				case "required_acr":
					v.RequiredACR, ok = rd.String()
				case "method":
					v.Method, ok = rd.String()
				case "remember_token":
					v.RememberToken, ok = rd.String()
				case "context":
					ok = rd.Fields(func(k []byte) bool {
						var ok bool
						switch string(k) {
						case "application":
							v.Context.Application, ok = rd.String()
						case "ip":
							v.Context.IP, ok = rd.String()
						case "user_agent":
							v.Context.UserAgent, ok = rd.String()
						case "location":
							v.Context.Location, ok = rd.String()
						}
						return ok
					})
				}
				return ok
			})
		case "respond_push":
			var v RespondPush
			c = &v
			return rd.Fields(func(k []byte) bool {
				var ok bool
				switch string(k) {
				case "challenge_id":
					v.ChallengeID, ok = rd.String()
				case "authenticator_id":
					v.AuthenticatorID, ok = rd.String()
				case "decision":
					v.Decision, ok = rd.String()
				case "number":
					v.Number, ok = rd.Int()
				case "user_verification":
					v.UserVerification, ok = rd.Bool()
				case "signature":
					var s string
					if s, ok = rd.String(); ok {
						var err error
						v.Signature, err = base64.StdEncoding.DecodeString(s)
						ok = err == nil
					}
				}
				return ok
			})
		case "send_code":
			var v SendCode
			c = &v
			return rd.Fields(func(k []byte) bool {
				var ok bool
				switch string(k) {
				case "challenge_id":
					v.ChallengeID, ok = rd.String()
				case "authenticator_id":
					v.AuthenticatorID, ok = rd.String()
				}
				return ok
			})
		case "send_push":
			var v SendPush
			c = &v
			return rd.Fields(func(k []byte) bool {
				var ok bool
				switch string(k) {
				case "challenge_id":
					v.ChallengeID, ok = rd.String()
				case "authenticator_id":
					v.AuthenticatorID, ok = rd.String()
				}
				return ok
			})
		}
		return false
	})
	if !ok || n != 1 || !rd.End() {
		return nil, false
	}
	switch v := c.(type) { // commands are values
	case *VerifyCode:
		return *v, true
	case *IssueChallenge:
		return *v, true
	case *RespondPush:
		return *v, true
	case *SendCode:
		return *v, true
	case *SendPush:
		return *v, true
	}
	return nil, false
}
