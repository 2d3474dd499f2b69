package wazerohost_test

import (
	"context"
	"fmt"
	"log"

	wazerohost "github.com/vaktmfa/vakt/hosts/wazero"
	"github.com/vaktmfa/vakt/internal/wasmbuild"
)

// Open the core module, ask it what it is, and decide a command for a user
// with no events: the answer is the decision's then object.
func Example() {
	ctx := context.Background()
	wasm, err := wasmbuild.Module(ctx) // or os.ReadFile("wasm/build/vakt.wasm") after `just wasm`
	if err != nil {
		log.Fatal(err)
	}
	h, err := wazerohost.Open(ctx, wasm, wazerohost.Config{Instances: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)

	answer, err := h.Call(ctx, []byte(`{"op":"decide","tenant":"uio.no","user":"ola.nordmann","given":[],`+
		`"time":"2026-11-23T09:00:00Z","entropy":"00","command":{"issue_challenge":{"app":"web"}}}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(answer))
	// Output:
	// {"ok":{"events":[],"error":{"code":"enrolment_required","message":"the user has no authenticator; enrol one to continue"}}}
}
