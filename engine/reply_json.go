package engine

import (
	"strconv"

	"github.com/vaktmfa/vakt/internal/jsonx"
)

// AppendJSON appends the reply's JSON, the bytes encoding/json writes for it,
// without reflection (the WebAssembly module writes a reply on every call,
// and reflection-based JSON costs 15-40x native there).
func (r *Reply) AppendJSON(b []byte) ([]byte, error) {
	if out, ok := r.appendJSON(b); ok {
		return out, nil
	}
	j, err := jsonx.Marshal(r) // a time encoding/json refuses: its error
	return append(b, j...), err
}

func (r *Reply) appendJSON(b []byte) ([]byte, bool) {
	start := len(b)
	b = append(b, '{')
	key := func(k string) {
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
	}
	str := func(k, v string) {
		if v != "" {
			key(k)
			b = jsonx.AppendString(b, v)
		}
	}
	var ok bool
	str("status", r.Status)
	str("authenticator_id", r.AuthenticatorID)
	str("method", r.Method)
	str("challenge_id", r.ChallengeID)
	if !r.ExpiresAt.IsZero() {
		key("expires_at")
		if b, ok = jsonx.AppendTime(b, r.ExpiresAt); !ok {
			return b, false
		}
	}
	if len(r.Methods) > 0 {
		key("methods")
		b = jsonx.AppendStrings(b, r.Methods)
	}
	if r.NumberMatch != 0 {
		key("number_match")
		b = strconv.AppendInt(b, int64(r.NumberMatch), 10)
	}
	str("otpauth_uri", string(r.OTPAuthURI))
	str("secret", string(r.Secret))
	str("activation", string(r.Activation))
	str("acr", r.ACR)
	if len(r.AMR) > 0 {
		key("amr")
		b = jsonx.AppendStrings(b, r.AMR)
	}
	str("device_id", r.DeviceID)
	str("remember_token", string(r.RememberToken))
	if len(r.RecoveryCodes) > 0 {
		key("recovery_codes")
		b = jsonx.AppendStrings(b, r.RecoveryCodes)
	}
	str("temporary_pass", string(r.TemporaryPass))
	if d := r.Deliver; d != nil {
		key("deliver")
		b = jsonx.AppendString(append(b, `{"method":`...), d.Method)
		b = jsonx.AppendString(append(b, `,"address":`...), string(d.Address))
		b = jsonx.AppendString(append(b, `,"code":`...), string(d.Code))
		b = jsonx.AppendString(append(b, `,"purpose":`...), d.Purpose)
		b = append(b, '}')
	}
	if p := r.Push; p != nil {
		key("push")
		b = jsonx.AppendString(append(b, `{"authenticator_id":`...), p.AuthenticatorID)
		b = jsonx.AppendString(append(b, `,"challenge_id":`...), p.ChallengeID)
		b = jsonx.AppendString(append(b, `,"app":`...), p.App)
		b = jsonx.AppendInts(append(b, `,"choices":`...), p.Choices)
		if c := p.Context; !c.IsZero() {
			b = append(b, `,"context":{`...)
			for _, f := range [...]struct{ k, v string }{{"application", c.Application}, {"ip", c.IP}, {"user_agent", c.UserAgent}, {"location", c.Location}} {
				if f.v != "" {
					if b[len(b)-1] != '{' {
						b = append(b, ',')
					}
					b = jsonx.AppendString(append(append(append(b, '"'), f.k...), '"', ':'), f.v)
				}
			}
			b = append(b, '}')
		}
		if b, ok = jsonx.AppendTime(append(b, `,"expires_at":`...), p.ExpiresAt); !ok {
			return b, false
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}
