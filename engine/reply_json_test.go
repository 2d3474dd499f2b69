package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/events"
)

// TestReplyAppendJSON holds the hand-written encoder to encoding/json's bytes.
func TestReplyAppendJSON(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 0, 0, 5, time.UTC)
	odd := "a<b>&c\"d\\e\n\x01\u2029é\xff"
	for _, r := range []Reply{
		{},
		{Status: "ok", AuthenticatorID: "a", Method: "totp", ChallengeID: odd, ExpiresAt: at, Methods: []string{"totp", odd}, NumberMatch: -3,
			OTPAuthURI: "otpauth://totp/x?a=1&b=2", Secret: "S", Activation: "A", ACR: "high", AMR: []string{"otp"}, DeviceID: "d",
			RememberToken: "t", RecoveryCodes: []Secret{"1", Secret(odd)}, TemporaryPass: "p",
			Deliver: &Delivery{Method: "sms", Address: "+47", Code: "123", Purpose: odd},
			Push:    &PushNotice{AuthenticatorID: "a", ChallengeID: "c", App: odd, Choices: []int{1, 2}, Context: events.Context{IP: "10.0.0.1", Location: odd}, ExpiresAt: at}},
		{Methods: []string{}, AMR: []string{}, RecoveryCodes: []Secret{}, Deliver: &Delivery{}, Push: &PushNotice{}},
		{Push: &PushNotice{Context: events.Context{UserAgent: "ua"}, ExpiresAt: at.In(time.FixedZone("cet", 3600))}},
		{Push: &PushNotice{Context: events.Context{Application: "x", IP: "y", UserAgent: "z", Location: "w"}}},
	} {
		got, err := r.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "prefix"+string(want) {
			t.Errorf("\n got %s\nwant prefix%s", got, want)
		}
	}
	bad := Reply{ExpiresAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := bad.AppendJSON(nil); err == nil {
		t.Error("year 10000 was encoded")
	}
}
