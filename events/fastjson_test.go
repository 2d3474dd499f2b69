package events

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/internal/jsonx"
)

// TestFastJSON holds the hand-written encoders to encoding/json's bytes.
func TestFastJSON(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 0, 0, 123456789, time.UTC)
	odd := "a<b>&c\"d\\e\n\t\x01\u2028é\xff"
	push := &PushRequest{AuthenticatorID: odd, Number: -7, Choices: []int{1, 22, 333}, ExpiresAt: at}
	sealed := Sealed{Nonce: []byte{1, 2, 3}, Box: []byte("box")}
	for _, ev := range []Event{
		ChallengeSucceeded{}, ChallengeSucceeded{ChallengeID: "c", AuthenticatorID: odd, Method: "totp", ACR: "high", AMR: []string{"otp", odd}, Step: -5, Offset: 1, Counter: 9, UserVerification: true},
		ChallengeSucceeded{AMR: []string{}},
		AttemptFailed{}, AttemptFailed{ChallengeID: odd, AuthenticatorID: "a", Method: "sms", Reason: "x", Failures: 3},
		ChallengeDenied{}, ChallengeDenied{ChallengeID: "c", AuthenticatorID: "a", Reason: odd},
		ChallengeIssued{}, ChallengeIssued{ChallengeID: "c", App: odd, RequiredACR: "r", Methods: []string{"totp"}, ExpiresAt: at, Push: push, Application: "Å", Client: sealed},
		ChallengeIssued{Methods: []string{}, Push: &PushRequest{}, Client: Sealed{Nonce: []byte{}}},
		PushSent{}, PushSent{ChallengeID: "c", Push: *push},
		CodeSent{}, CodeSent{ChallengeID: "c", AuthenticatorID: "a", Method: "email", CodeHash: []byte{0xff, 0}, ExpiresAt: at.In(time.FixedZone("x", 3600))},
	} {
		got, err := marshalData(ev)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%T:\n got %s\nwant %s", ev, got, want)
		}
	}
	// A time encoding/json refuses is refused the same way.
	if _, err := marshalData(CodeSent{ExpiresAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("year 10000 was encoded")
	}
}

// fastTypes are the events with a hand-written reader.
var fastTypes = []func() fastDecoder{
	func() fastDecoder { return new(ChallengeIssued) },
	func() fastDecoder { return new(ChallengeExpired) },
	func() fastDecoder { return new(AttemptFailed) },
	func() fastDecoder { return new(ChallengeSucceeded) },
	func() fastDecoder { return new(LockedOut) },
	func() fastDecoder { return new(EnrolmentStarted) },
	func() fastDecoder { return new(Activated) },
	func() fastDecoder { return new(DefaultChanged) },
}

// The hand-written readers must give what encoding/json gives, or step aside.
func FuzzFastDecode(f *testing.F) {
	for i, s := range []string{
		`{"challenge_id":"c","app":"web","required_acr":"substantial","methods":["totp","sms"],"expires_at":"2026-11-23T09:05:00Z","push":{"authenticator_id":"a","number":42,"choices":[1,42,7],"expires_at":"2026-11-23T09:02:00.5+01:00"},"application":"Å","client":{"n":"AAEC","c":"/w=="}}`,
		`{"challenge_id":"c","push_unanswered":true}`,
		`{"challenge_id":"c","authenticator_id":"a","method":"totp","reason":"invalid_code","failures":3}`,
		`{"challenge_id":"c","authenticator_id":"a","method":"totp","acr":"high","amr":["otp"],"step":59847482,"offset":-1,"counter":7,"user_verification":true}`,
		`{"reason":"too_many_failures","level":2,"failures":10,"until":"2026-11-23T10:00:00Z","permanent":false}`,
		`{"authenticator_id":"a","method":"totp","label":"Phone","expires_at":"2026-11-23T09:10:00Z","secret":{"n":"pNOp4ZM+NGNKaM0Q","c":"++O9YdJZw3Yl0iKAAGwXJIA+a8yaZZHNrVGJ+AVDcPibBNI2"},"algorithm":"SHA1","digits":6,"period":30,"address":{},"code_hash":""}`,
		`{"authenticator_id":"a","method":"push","acr":"substantial","active":1,"step":0,"counter":0,"public_key":"AAAA","user_verification":false}`,
		`{"authenticator_id":"a","previous":"b"}`,
		`{"challenge_id":"c","extra":1}`, `{"challenge_id":null}`, `{"failures":1.5}`, `{"methods":[]}`, `{"expires_at":"2026-13-01T00:00:00Z"}`,
		`{"challenge_id":"c","challenge_id":"d"}`, `{"code_hash":"@@"}`, `{} `, `{"amr":["a",]}`,
	} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, typ uint8, b []byte) {
		mk := fastTypes[int(typ)%len(fastTypes)]
		fast := mk()
		rd := jsonx.Reader{B: b}
		if !fast.parseJSON(&rd) || !rd.End() {
			return
		}
		slow := mk()
		if err := json.Unmarshal(b, slow); err != nil {
			t.Fatalf("%T: fast path accepted %q; encoding/json says %v", fast, b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%T %q:\nfast %#v\nslow %#v", fast, b, fast, slow)
		}
	})
}
