package engine

import (
	"reflect"
	"testing"

	"github.com/vaktmfa/vakt/internal/jsonx"
)

// The reflection-free command reader must give exactly what the general
// decoder gives, or step aside.
func FuzzDecodeCommandFast(f *testing.F) {
	for _, s := range []string{
		`{"verify_code":{"challenge_id":"c-1","code":"287 082","remember_device":true}}`,
		` {"verify_code" : {"code":"1","challenge_id":"c"} } `,
		`{"issue_challenge":{"app":"portal","required_acr":"high","method":"totp","remember_token":"t","context":{"application":"Å","ip":"10.0.0.1","user_agent":"ua","location":"Oslo"}}}`,
		`{"issue_challenge":{"app":"a","context":{}}}`,
		`{"respond_push":{"challenge_id":"c","authenticator_id":"a","decision":"approve","number":42,"user_verification":true,"signature":"AAEC/w=="}}`,
		`{"respond_push":{"signature":"not base64"}}`,
		`{"respond_push":{"number":1e1}}`,
		`{"send_code":{"challenge_id":"c","authenticator_id":"a"}}`,
		`{"send_push":{"challenge_id":"c"}}`,
		`{"verify_code":{"code":null}}`,
		`{"verify_code":{"code":"1","code":"2"}}`,
		`{"verify_code":{"Code":"1"}}`,
		`{"verify_code":{"code":"\u0031"}}`,
		`{"verify_code":{}, "send_push":{}}`,
		`{"verify_code":{}} x`,
		`{"reset":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeCommandFast(b)
		if !ok {
			return
		}
		var w commandJSON
		if err := jsonx.Strict(b, &w); err != nil {
			t.Fatalf("fast path accepted %q; the decoder says %v", b, err)
		}
		cs := w.get()
		if len(cs) != 1 || !reflect.DeepEqual(cs[0], fast) {
			t.Fatalf("%q: fast %#v, general %#v", b, fast, cs)
		}
	})
}
