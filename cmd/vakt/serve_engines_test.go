package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
)

// The server's scenarios run on both engines in a plain `go test`: each
// TestServe* function runs natively under its own name, and again under
// TestServeOnWASM/<name>, where serveForTest opens the app with Engine
// "wasm" so that every decision runs in the core module through wazero
// (the module is built from this tree by internal/wasmbuild).
var wasmScenarios = map[string]func(*testing.T){
	"TestServeFirstActivationWithQR":          TestServeFirstActivationWithQR,
	"TestServeTOTPSignInAndReplay":            TestServeTOTPSignInAndReplay,
	"TestServeNewPhoneThenRemoveOld":          TestServeNewPhoneThenRemoveOld,
	"TestServePushWithVaktDevice":             TestServePushWithVaktDevice,
	"TestServeSMSCode":                        TestServeSMSCode,
	"TestServeLockoutLadderAndHelpdeskUnlock": TestServeLockoutLadderAndHelpdeskUnlock,
	"TestServeSelfServiceResetNeedsHighProof": TestServeSelfServiceResetNeedsHighProof,
	"TestServeHelpdeskResetWithTicket":        TestServeHelpdeskResetWithTicket,
	"TestServeRememberedBrowser":              TestServeRememberedBrowser,
	"TestServeRecoveryCode":                   TestServeRecoveryCode,
	"TestServeErasure":                        TestServeErasure,
	"TestServeKeysAndScopes":                  TestServeKeysAndScopes,
	"TestServeBadInput":                       TestServeBadInput,
	"TestServeDeviceAnswersAreChecked":        TestServeDeviceAnswersAreChecked,
	"TestServeIdempotentRetries":              TestServeIdempotentRetries,
	"TestServePolicyZeros":                    TestServePolicyZeros,
}

const onWASMPrefix = "TestServeOnWASM/"

// onWASM reports whether a test (or its subtest) runs on the wasm engine.
func onWASM(t *testing.T) bool { return strings.HasPrefix(t.Name(), onWASMPrefix) }

func TestServeOnWASM(t *testing.T) {
	names := make([]string, 0, len(wasmScenarios))
	for name := range wasmScenarios {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, wasmScenarios[name])
	}
}

// TestServeOnWASMCoversScenarios keeps the list above complete: every
// TestServe* scenario in serve_test.go runs on the wasm engine too.
func TestServeOnWASMCoversScenarios(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "serve_test.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "TestServe") {
			continue
		}
		if _, ok := wasmScenarios[fn.Name.Name]; !ok {
			t.Errorf("%s does not run on the wasm engine: add it to wasmScenarios", fn.Name.Name)
		}
	}
}
