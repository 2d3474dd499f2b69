package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
	"github.com/vaktmfa/vakt/internal/tokens"
)

var headerSeeds = []string{
	`{"alg":"EdDSA","kid":"9rGQ1x3yPqTGmW4tTbRk9G0V3n3XhOeqzq1M9wBj7dE","typ":"JWT"}`,
	`{"alg":"EdDSA","kid":"k"}`,
	`{"alg":"EdDSA","kid":"k","crit":["exp"]}`,
	`{"alg":"EdDSA","kid":"k","crit":null}`,
	`{"alg":"EdDSA","kid":"k","x5u":"https://x","jwk":{"kty":"OKP"}}`,
	`{"ALG":"none","alg":"EdDSA","kid":"k"}`,
	`{"alg":"EdDSA","kid":"k","alg":"none"}`,
	`{"alg":"Ed\u0044SA","kid":"k"}`,
	` { "alg" : "EdDSA" , "kid" : "k" } `,
	`{"alg":"EdDSA","kid":"k"}x`,
	`{"alg":"EdDSA","kid":"k"}}`,
	`{"alg":5}`,
	`{"k\u0131d":"k"}`,
	`{"ſub":1}`,
	`[]`,
	`null`,
	``,
}

var payloadSeeds = []string{
	`{"iss":"https://mfa.uio.no","sub":"ola@uio.no","exp":1795433100,"iat":1795429500,"jti":"0190a3e0-0000-7000-8000-000000000001","tid":"uio.no","acr":"high","amr":["otp","hwk"],"auth_time":1795429440,"app":"web"}`,
	`{"iss":"i","sub":"s","aud":"a","exp":1,"nbf":2,"iat":3,"tid":"t","amr":[]}`,
	`{"iss":"i","sub":"s","aud":["a","b"],"exp":1,"iat":3,"tid":"t"}`,
	`{"iss":"i","sub":"s","aud":[],"exp":1.5,"iat":3e2,"tid":"t"}`,
	`{"sub":"s","exp":-1,"iat":100000000001,"tid":"t"}`,
	`{"sub":"s","exp":null,"iat":1,"tid":"t"}`,
	`{"sub":"s","exp":"1","iat":1,"tid":"t"}`,
	`{"SUB":"s","sub":"t"}`,
	`{"Auth_Time":1,"auth-time":2,"authtime":3}`,
	`{"sub":"s","sub":"t"}`,
	`{"sub":"\u00e5","tid":"å"}`,
	`{"sub":"s","extra":{"a":[1,2,{"b":null}],"c":"\n"},"tid":"t"}`,
	`{"sub":"s"}]`,
	`{"sub":"s"} {}`,
	`{"sub":"s"}   `,
	`{"amr":["otp",null]}`,
	`{"exp":01}`,
	`{"exp":18446744073709551616}`,
	`{}`,
	`null`,
	`"x"`,
	``,
}

// The fast paths must give exactly what encoding/json gives, or step aside.
func FuzzDecodeToken(f *testing.F) {
	for _, s := range headerSeeds {
		f.Add([]byte(s))
	}
	for _, s := range payloadSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fh header
		if parseHeader(b, &fh) {
			var sh header
			if err := json.Unmarshal(b, &sh); err != nil {
				t.Fatalf("fast path accepted the header %q; encoding/json says %v", b, err)
			}
			if !reflect.DeepEqual(fh, sh) {
				t.Fatalf("header %q:\nfast %+v\nslow %+v", b, fh, sh)
			}
		}
		var fp payload
		if parsePayload(b, &fp) {
			var sp payload
			dec := json.NewDecoder(bytes.NewReader(b))
			if err := dec.Decode(&sp); err != nil || dec.More() {
				t.Fatalf("fast path accepted the claims %q; encoding/json says %v (more: %v)", b, err, dec.More())
			}
			if !reflect.DeepEqual(fp, sp) {
				t.Fatalf("claims %q:\nfast %+v\nslow %+v", b, fp, sp)
			}
		}
	})
}

// The forms Vakt writes (internal/tokens through golang-jwt, and edgetest)
// take the fast path.
func TestDecodeTokenFastPath(t *testing.T) {
	for _, s := range headerSeeds[:3] {
		if !parseHeader([]byte(s), new(header)) {
			t.Errorf("header %s: not on the fast path", s)
		}
	}
	for _, s := range payloadSeeds[:3] {
		if !parsePayload([]byte(s), new(payload)) {
			t.Errorf("claims %s: not on the fast path", s)
		}
	}
	n := natstest.Start(t)
	is, err := tokens.Open(context.Background(), n.JetStream, make([]byte, tokens.MasterKeySize), tokens.Options{Issuer: "https://mfa.uio.no"})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	tok, err := is.Sign(tokens.Claims{Subject: "ola", Tenant: "uio.no", ACR: "high", AMR: []string{"otp", "hwk"}, AuthTime: time.Now(), App: "web", ChallengeID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	var p payload
	if !parseHeader(hb, new(header)) || !parsePayload(pb, &p) {
		t.Fatalf("a token of internal/tokens is not on the fast path: %s %s", hb, pb)
	}
	if p.Sub != "ola" || p.AuthTime == nil || len(p.AMR) != 2 {
		t.Fatalf("claims %+v", p)
	}
}

// What the full decoder would refuse or read differently is left to it.
func TestDecodeTokenFallsBack(t *testing.T) {
	for _, s := range []string{
		`{"alg":"EdDSA","kid":"k","crit":null}`,
		`{"ALG":"none","alg":"EdDSA","kid":"k"}`,
		`{"alg":"EdDSA","kid":"k","alg":"none"}`,
		`{"alg":"Ed\u0044SA","kid":"k"}`,
		`{"alg":"EdDSA","kid":"k"}}`,
		`{"k\u0131d":"k"}`,
	} {
		if parseHeader([]byte(s), new(header)) {
			t.Errorf("header %s: on the fast path", s)
		}
	}
	for _, s := range []string{
		`{"sub":"s","exp":null,"iat":1,"tid":"t"}`,
		`{"SUB":"s","sub":"t"}`,
		`{"Auth_Time":1}`,
		`{"auth-time":1}`,
		`{"exp":1.5}`,
		`{"exp":100000000001}`,
		`{"sub":"s"}]`,
		`{"ſub":"s"}`,
	} {
		if parsePayload([]byte(s), new(payload)) {
			t.Errorf("claims %s: on the fast path", s)
		}
	}
	// And the answers stay those of encoding/json.
	var h header
	if err := decodeHeader([]byte(`{"alg":"EdDSA","kid":"k","crit":null}`), &h); err != nil || string(h.Crit) != "null" {
		t.Errorf("crit null: %v %q", err, h.Crit)
	}
	var p payload
	if !decodePayload([]byte(`{"sub":"s","tid":"t"}]`), &p) || p.Sub != "s" {
		t.Errorf("a closing bracket after the claims: %+v", p)
	}
	if decodePayload([]byte(`{"sub":"s"} {}`), &p) {
		t.Error("a second value after the claims passed")
	}
}
