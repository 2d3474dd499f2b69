package wasmcore

import (
	"reflect"
	"testing"

	"github.com/vaktmfa/vakt/internal/jsonx"
)

var requestSeeds = []string{
	`{"op":"info"}`,
	` { "op" : "bench_hmac" , "n" : 100 } `,
	`{"op":"bench_hmac","n":1.0}`,
	`{"op":"bench_hmac","n":-3}`,
	`{"op":"bench_hmac","n":99999999999999999999}`,
	`{"op":"decide","tenant":"uio.no","user":"ola","time":"2026-11-23T09:00:00Z","entropy":"00ff","data_key":"ab","policy":{"a":[1,2.5e3,true,null,"x\u00e5\n"]},"command":{"verify_code":{"challenge_id":"c","code":"1"}},"keep":true,"after":{"seq":4,"hash":"b3de144d434856c1cd81869737e1181e029fe706c0ab4bce4eb33f28e6cd7131","position":9,"command":"cmd-2"},"given":[{"id":"x"},{}]}`,
	`{"op":"decide","after":{"seq":4,"hash":"B3DE144D434856C1CD81869737E1181E029FE706C0AB4BCE4EB33F28E6CD7131"}}`,
	`{"op":"decide","after":{"seq":4,"hash":"zz"}}`,
	`{"op":"decide","after":{"seq":4,"extra":1}}`,
	`{"op":"evolve","tenant":"t","user":"","state":{"v":2},"given":[]}`,
	`{"op":"project","model":"security_info","events":[],"state":null}`,
	`{"op":"edge_check","config":{"tenant":"t"},"request":{"method":"GET","uri":"/a?b=c","authorization":"Bearer x","cookie":"","accept":"text/html"},"time":"2026-11-23T09:00:00Z"}`,
	`{"op":"edge_check","request":{"method":"GET","uri":"/","other":1}}`,
	`{"OP":"info"}`,
	`{"op":"info","op":"decide"}`,
	`{"op":"in\u0066o"}`,
	`{"op":"info"} x`,
	`{"op":"info",}`,
	`{"tenant":null,"user":"u"}`,
	`{"keep":null}`,
	`{"op":"decide","policy":null,"command":null,"state":null,"config":null,"after":null,"request":null,"n":null,"events":null,"model":null,"data_key":null,"time":null,"entropy":null,"given":null,"keep":null,"op":null}`,
	`{"op":"decide","policy":null,"data_key":null,"given":[],"tenant":"t","user":"u","time":"2026-11-23T09:00:00Z","entropy":"00","command":{}}`,
	`{"nope":null}`,
	`{"op":nul}`,
	`{"given":null}`,
	`{"given":[01]}`,
	`{"given":["\x"]}`,
	`{"policy":-}`,
	`{"command":[1,]}`,
	`{"unknown":1}`,
	`[]`,
	`"op"`,
	``,
	`{"op":"\xff"}`,
}

// The fast path must give exactly what encoding/json gives, or step aside.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast Request
		if !parseRequest(b, &fast) {
			return
		}
		var slow Request
		if err := jsonx.Strict(b, &slow); err != nil {
			t.Fatalf("fast path accepted %q; encoding/json says %v", b, err)
		}
		if !reflect.DeepEqual(normal(fast), normal(slow)) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", b, fast, slow)
		}
	})
}

// normal makes empty raw messages comparable (nil and empty mean the same).
func normal(r Request) Request {
	for _, p := range []*jsonx.RawMessage{&r.Policy, &r.Command, &r.State, &r.Config} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	return r
}

func TestDecodeRequestFastPath(t *testing.T) {
	// The common forms must take the fast path.
	for _, s := range append(requestSeeds[:2:2], `{"op":"decide","policy":null,"data_key":null,"given":[],"tenant":"t","user":"u","time":"2026-11-23T09:00:00Z","entropy":"00","command":{}}`) {
		var r Request
		if !parseRequest([]byte(s), &r) {
			t.Errorf("%s: not on the fast path", s)
		}
	}
}
