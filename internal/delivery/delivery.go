// Package delivery sends the one-time codes that the engine asks for by SMS or
// e-mail ([engine.Reply].Deliver) to a provider.
//
// Three pieces, wired together by `vakt serve`:
//
//   - [LogDeliverer], the default sink: it logs a line per message, with the
//     code in clear only in development, so that a developer can sign in
//     locally without a provider.
//   - [Webhook], for real providers: a signed JSON POST, retried with backoff
//     and an idempotency id. This is the only place where a code or an address
//     leaves Vakt in clear.
//   - [Queue], an asynchronous front for either, so that an HTTP request never
//     waits for a provider.
//
// A [Message] holds its address and code as [engine.Secret]s and logs itself
// (slog.LogValuer) with the address masked and without the code.
package delivery

import (
	"context"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
)

// Methods and purposes of a [Message].
const (
	MethodSMS   = "sms"
	MethodEmail = "email"

	PurposeEnrolment = "enrolment"
	PurposeChallenge = "challenge"
)

// Message is a code to send to a phone (Method "sms", Address in E.164 form,
// "+4791234567") or a mailbox (Method "email").
type Message struct {
	Tenant  string
	User    string
	Method  string // "sms" or "email"
	Purpose string // "enrolment" or "challenge"
	Address engine.Secret
	Code    engine.Secret

	ChallengeID     string // set when Purpose is "challenge"
	AuthenticatorID string
}

// FromDelivery builds a Message from what the engine asked for.
func FromDelivery(tenant, user string, d engine.Delivery, challengeID, authenticatorID string) Message {
	return Message{
		Tenant: tenant, User: user,
		Method: d.Method, Purpose: d.Purpose,
		Address: d.Address, Code: d.Code,
		ChallengeID: challengeID, AuthenticatorID: authenticatorID,
	}
}

// LogValue logs a message without its code and with its address masked. The
// user id is left out too: user ids are often e-mail addresses.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("tenant", m.Tenant),
		slog.String("method", m.Method),
		slog.String("purpose", m.Purpose),
		slog.String("address", Mask(m.Method, m.Address)),
		slog.String("challenge_id", m.ChallengeID),
		slog.String("authenticator_id", m.AuthenticatorID),
	)
}

// Deliverer sends a message to its address. An error is a *vakt.Error whose
// message never contains the code or the address.
type Deliverer interface {
	Deliver(ctx context.Context, m Message) error
}

// check rejects a message that no provider could send. Every deliverer (and
// [Queue.Send]) calls it, so a malformed message fails the same way in
// development, with the log sink, as in production.
func check(m Message) error {
	switch {
	case m.Method != MethodSMS && m.Method != MethodEmail:
		return vakt.Errorf(vakt.CodeInvalidArgument, "delivery method %q is not sms or email", m.Method)
	case m.Purpose != PurposeEnrolment && m.Purpose != PurposeChallenge:
		return vakt.Errorf(vakt.CodeInvalidArgument, "delivery purpose %q is not enrolment or challenge", m.Purpose)
	case m.Tenant == "":
		return vakt.Errorf(vakt.CodeInvalidArgument, "delivery has no tenant")
	case m.Address == "":
		return vakt.Errorf(vakt.CodeInvalidArgument, "%s delivery has no address", m.Method)
	case m.Code == "":
		return vakt.Errorf(vakt.CodeInvalidArgument, "%s delivery has no code", m.Method)
	}
	return nil
}

// Mask returns an address fit for a log or a screen ("we sent a code to
// +47*****678"): a phone number keeps its country code and last three digits,
// an e-mail address its first letter and its domain ("o***@example.com").
// Anything it cannot read as either is masked completely.
func Mask(method string, address engine.Secret) string {
	a := strings.TrimSpace(address.Reveal())
	switch method {
	case MethodSMS:
		return maskPhone(a)
	case MethodEmail:
		return maskEmail(a)
	}
	return "***"
}

func maskEmail(a string) string {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return "***"
	}
	_, n := utf8.DecodeRuneInString(a)
	return a[:n] + "***" + a[at:]
}

func maskPhone(a string) string {
	plus := strings.HasPrefix(a, "+")
	var digits []byte
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == '+' && i == 0, c == ' ', c == '-', c == '.', c == '(', c == ')':
		default:
			return "***" // not a phone number; show nothing of it
		}
	}
	if len(digits) == 0 {
		return "***"
	}
	prefix, cc := "", 0
	if plus {
		cc = countryCodeLen(digits)
		prefix = "+" + string(digits[:cc])
	}
	const tail = 3
	hidden := len(digits) - cc - tail
	if hidden < 3 {
		return prefix + "***" // too short to show the end without giving most of it away
	}
	return prefix + strings.Repeat("*", hidden) + string(digits[len(digits)-tail:])
}

// countryCodeLen returns the length of the ITU-T E.164 country code at the
// start of digits. Country codes are a prefix code: 1 and 7 have one digit,
// the two-digit codes are listed below, and every other code has three.
func countryCodeLen(digits []byte) int {
	if len(digits) == 0 {
		return 0
	}
	if digits[0] == '1' || digits[0] == '7' {
		return 1
	}
	if len(digits) < 2 {
		return len(digits)
	}
	switch string(digits[:2]) {
	case "20", "27",
		"30", "31", "32", "33", "34", "36", "39",
		"40", "41", "43", "44", "45", "46", "47", "48", "49",
		"51", "52", "53", "54", "55", "56", "57", "58",
		"60", "61", "62", "63", "64", "65", "66",
		"81", "82", "84", "86",
		"90", "91", "92", "93", "94", "95", "98":
		return 2
	}
	return min(3, len(digits))
}

// LogDeliverer is the delivery sink for development and for deployments
// without a provider: it sends nothing and logs one line per message. The
// code appears in clear only when Development is true; otherwise the line
// says that a code was due and who was waiting for it, without the code.
type LogDeliverer struct {
	Logger      *slog.Logger // nil means slog.Default()
	Development bool
}

// Deliver logs m.
func (l LogDeliverer) Deliver(ctx context.Context, m Message) error {
	if err := check(m); err != nil {
		return err
	}
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	code, level, msg := "******", slog.LevelWarn, "code not delivered: no sms or e-mail provider is configured (log sink)"
	if l.Development {
		code, level, msg = m.Code.Reveal(), slog.LevelInfo, "code for local sign-in (development log sink; nothing was sent)"
	}
	logger.LogAttrs(ctx, level, msg,
		slog.String("method", m.Method),
		slog.String("purpose", m.Purpose),
		slog.String("tenant", m.Tenant),
		slog.String("address", Mask(m.Method, m.Address)),
		slog.String("code", code),
		slog.String("challenge_id", m.ChallengeID),
		slog.String("authenticator_id", m.AuthenticatorID),
	)
	return nil
}
