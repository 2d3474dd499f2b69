package events

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/vaktmfa/vakt/internal/jsonx"
)

// Reflection-free encoders for the events of a sign-in, which every
// decision on the hot path writes. Reflection-based JSON costs 15-40x native
// in Go's WebAssembly code, where these bytes are produced on every call.
// Each writes exactly what encoding/json writes for the type (field order,
// omitempty/omitzero, escaping); false means "let encoding/json do it" (a
// time it would refuse). The decision vectors and TestFastJSON hold them to
// the bytes of encoding/json.

// fastJSON is implemented by events with a hand-written encoder.
type fastJSON interface {
	appendJSON(b []byte) ([]byte, bool)
}

func marshalData(ev Event) ([]byte, error) {
	if f, ok := ev.(fastJSON); ok {
		if b, ok := f.appendJSON(make([]byte, 0, 256)); ok {
			return b, nil
		}
	}
	return marshal(ev)
}

// key writes the separator and the key of a member after the first.
func key(b []byte, k string) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

func (e ChallengeSucceeded) appendJSON(b []byte) ([]byte, bool) {
	b = jsonx.AppendString(append(b, `{"challenge_id":`...), e.ChallengeID)
	if e.AuthenticatorID != "" {
		b = jsonx.AppendString(key(b, "authenticator_id"), e.AuthenticatorID)
	}
	b = jsonx.AppendString(key(b, "method"), e.Method)
	b = jsonx.AppendString(key(b, "acr"), e.ACR)
	b = jsonx.AppendStrings(key(b, "amr"), e.AMR)
	if e.Step != 0 {
		b = strconv.AppendInt(key(b, "step"), e.Step, 10)
	}
	if e.Offset != 0 {
		b = strconv.AppendInt(key(b, "offset"), e.Offset, 10)
	}
	if e.Counter != 0 {
		b = strconv.AppendUint(key(b, "counter"), e.Counter, 10)
	}
	if e.UserVerification {
		b = append(key(b, "user_verification"), "true"...)
	}
	return append(b, '}'), true
}

func (e AttemptFailed) appendJSON(b []byte) ([]byte, bool) {
	b = jsonx.AppendString(append(b, `{"challenge_id":`...), e.ChallengeID)
	if e.AuthenticatorID != "" {
		b = jsonx.AppendString(key(b, "authenticator_id"), e.AuthenticatorID)
	}
	if e.Method != "" {
		b = jsonx.AppendString(key(b, "method"), e.Method)
	}
	b = jsonx.AppendString(key(b, "reason"), e.Reason)
	b = strconv.AppendInt(key(b, "failures"), int64(e.Failures), 10)
	return append(b, '}'), true
}

func (e ChallengeDenied) appendJSON(b []byte) ([]byte, bool) {
	b = jsonx.AppendString(append(b, `{"challenge_id":`...), e.ChallengeID)
	b = jsonx.AppendString(key(b, "authenticator_id"), e.AuthenticatorID)
	b = jsonx.AppendString(key(b, "reason"), e.Reason)
	return append(b, '}'), true
}

func (e ChallengeIssued) appendJSON(b []byte) ([]byte, bool) {
	b = jsonx.AppendString(append(b, `{"challenge_id":`...), e.ChallengeID)
	b = jsonx.AppendString(key(b, "app"), e.App)
	b = jsonx.AppendString(key(b, "required_acr"), e.RequiredACR)
	b = jsonx.AppendStrings(key(b, "methods"), e.Methods)
	var ok bool
	if b, ok = jsonx.AppendTime(key(b, "expires_at"), e.ExpiresAt); !ok {
		return b, false
	}
	if e.Push != nil {
		if b, ok = e.Push.appendJSON(key(b, "push")); !ok {
			return b, false
		}
	}
	if e.Application != "" {
		b = jsonx.AppendString(key(b, "application"), e.Application)
	}
	if !e.Client.IsZero() {
		b = e.Client.appendJSON(key(b, "client"))
	}
	return append(b, '}'), true
}

func (e PushSent) appendJSON(b []byte) ([]byte, bool) {
	b = jsonx.AppendString(append(b, `{"challenge_id":`...), e.ChallengeID)
	b, ok := e.Push.appendJSON(key(b, "push"))
	return append(b, '}'), ok
}

func (e CodeSent) appendJSON(b []byte) ([]byte, bool) {
	b = jsonx.AppendString(append(b, `{"challenge_id":`...), e.ChallengeID)
	b = jsonx.AppendString(key(b, "authenticator_id"), e.AuthenticatorID)
	b = jsonx.AppendString(key(b, "method"), e.Method)
	b = jsonx.AppendBytes(key(b, "code_hash"), e.CodeHash)
	b, ok := jsonx.AppendTime(key(b, "expires_at"), e.ExpiresAt)
	return append(b, '}'), ok
}

func (p *PushRequest) appendJSON(b []byte) ([]byte, bool) {
	b = jsonx.AppendString(append(b, `{"authenticator_id":`...), p.AuthenticatorID)
	b = strconv.AppendInt(key(b, "number"), int64(p.Number), 10)
	b = jsonx.AppendInts(key(b, "choices"), p.Choices)
	b, ok := jsonx.AppendTime(key(b, "expires_at"), p.ExpiresAt)
	return append(b, '}'), ok
}

func (s Sealed) appendJSON(b []byte) []byte {
	b = jsonx.AppendBytes(append(b, `{"n":`...), s.Nonce)
	b = jsonx.AppendBytes(key(b, "c"), s.Box)
	return append(b, '}')
}

// ---- reading ------------------------------------------------------------------------

// fastDecoder is implemented (on the pointer) by events with a hand-written
// reader; Register's decoder tries it first and falls back to the general
// decoder for anything it does not take (unknown keys, escapes, nulls), so
// the result is always what the general decoder gives.
type fastDecoder interface {
	parseJSON(rd *jsonx.Reader) bool
}

// readTime and the other readers read one value into place and report
// whether they could (false makes the general decoder decide).
func readTime(rd *jsonx.Reader, t *time.Time) bool {
	s, ok := rd.String()
	return ok && t.UnmarshalText([]byte(s)) == nil
}

func readBytes(rd *jsonx.Reader, b *[]byte) bool {
	s, ok := rd.String()
	if !ok {
		return false
	}
	v, err := base64.StdEncoding.DecodeString(s)
	*b = v
	return err == nil
}

func readStrings(rd *jsonx.Reader, ss *[]string) bool {
	*ss = []string{}
	return rd.Elements(func() bool {
		s, ok := rd.String()
		*ss = append(*ss, s)
		return ok
	})
}

func readInts(rd *jsonx.Reader, vs *[]int) bool {
	*vs = []int{}
	return rd.Elements(func() bool {
		v, ok := rd.Int()
		*vs = append(*vs, v)
		return ok
	})
}

func readInt64(rd *jsonx.Reader, v *int64) bool {
	i, ok := rd.Int()
	*v = int64(i)
	return ok
}

func (s *Sealed) parseJSON(rd *jsonx.Reader) bool {
	return rd.Fields(func(k []byte) bool {
		switch string(k) {
		case "n":
			return readBytes(rd, &s.Nonce)
		case "c":
			return readBytes(rd, &s.Box)
		}
		return false
	})
}

func (p *PushRequest) parseJSON(rd *jsonx.Reader) bool {
	return rd.Fields(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "authenticator_id":
			p.AuthenticatorID, ok = rd.String()
		case "number":
			p.Number, ok = rd.Int()
		case "choices":
			ok = readInts(rd, &p.Choices)
		case "expires_at":
			ok = readTime(rd, &p.ExpiresAt)
		}
		return ok
	})
}

func (e *ChallengeIssued) parseJSON(rd *jsonx.Reader) bool {
	return rd.Fields(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "challenge_id":
			e.ChallengeID, ok = rd.String()
		case "app":
			e.App, ok = rd.String()
		case "required_acr":
			e.RequiredACR, ok = rd.String()
		case "methods":
			ok = readStrings(rd, &e.Methods)
		case "expires_at":
			ok = readTime(rd, &e.ExpiresAt)
		case "push":
			e.Push = new(PushRequest)
			ok = e.Push.parseJSON(rd)
		case "application":
			e.Application, ok = rd.String()
		case "client":
			ok = e.Client.parseJSON(rd)
		}
		return ok
	})
}

func (e *ChallengeExpired) parseJSON(rd *jsonx.Reader) bool {
	return rd.Fields(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "challenge_id":
			e.ChallengeID, ok = rd.String()
		case "push_unanswered":
			e.PushUnanswered, ok = rd.Bool()
		}
		return ok
	})
}

func (e *AttemptFailed) parseJSON(rd *jsonx.Reader) bool {
	return rd.Fields(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "challenge_id":
			e.ChallengeID, ok = rd.String()
		case "authenticator_id":
			e.AuthenticatorID, ok = rd.String()
		case "method":
			e.Method, ok = rd.String()
		case "reason":
			e.Reason, ok = rd.String()
		case "failures":
			e.Failures, ok = rd.Int()
		}
		return ok
	})
}

func (e *ChallengeSucceeded) parseJSON(rd *jsonx.Reader) bool {
	return rd.Fields(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "challenge_id":
			e.ChallengeID, ok = rd.String()
		case "authenticator_id":
			e.AuthenticatorID, ok = rd.String()
		case "method":
			e.Method, ok = rd.String()
		case "acr":
			e.ACR, ok = rd.String()
		case "amr":
			ok = readStrings(rd, &e.AMR)
		case "step":
			ok = readInt64(rd, &e.Step)
		case "offset":
			ok = readInt64(rd, &e.Offset)
		case "counter":
			e.Counter, ok = rd.Uint()
		case "user_verification":
			e.UserVerification, ok = rd.Bool()
		}
		return ok
	})
}

func (e *LockedOut) parseJSON(rd *jsonx.Reader) bool {
	return rd.Fields(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "reason":
			e.Reason, ok = rd.String()
		case "level":
			e.Level, ok = rd.Int()
		case "failures":
			e.Failures, ok = rd.Int()
		case "until":
			ok = readTime(rd, &e.Until)
		case "permanent":
			e.Permanent, ok = rd.Bool()
		}
		return ok
	})
}

func (e *EnrolmentStarted) parseJSON(rd *jsonx.Reader) bool {
	return rd.Fields(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "authenticator_id":
			e.AuthenticatorID, ok = rd.String()
		case "method":
			e.Method, ok = rd.String()
		case "label":
			e.Label, ok = rd.String()
		case "expires_at":
			ok = readTime(rd, &e.ExpiresAt)
		case "onboarding":
			e.Onboarding, ok = rd.Bool()
		case "secret":
			ok = e.Secret.parseJSON(rd)
		case "algorithm":
			e.Algorithm, ok = rd.String()
		case "digits":
			e.Digits, ok = rd.Int()
		case "period":
			e.Period, ok = rd.Int()
		case "address":
			ok = e.Address.parseJSON(rd)
		case "code_hash":
			ok = readBytes(rd, &e.CodeHash)
		}
		return ok
	})
}

func (e *Activated) parseJSON(rd *jsonx.Reader) bool {
	return rd.Fields(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "authenticator_id":
			e.AuthenticatorID, ok = rd.String()
		case "method":
			e.Method, ok = rd.String()
		case "acr":
			e.ACR, ok = rd.String()
		case "active":
			e.Active, ok = rd.Int()
		case "step":
			ok = readInt64(rd, &e.Step)
		case "counter":
			e.Counter, ok = rd.Uint()
		case "public_key":
			ok = readBytes(rd, &e.PublicKey)
		case "user_verification":
			e.UserVerification, ok = rd.Bool()
		}
		return ok
	})
}

func (e *DefaultChanged) parseJSON(rd *jsonx.Reader) bool {
	return rd.Fields(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "authenticator_id":
			e.AuthenticatorID, ok = rd.String()
		case "previous":
			e.Previous, ok = rd.String()
		}
		return ok
	})
}
