# Vakt — recipes. `just run` runs Vakt with its embedded defaults; `just test`
# runs every test. See README.md.

set shell := ["bash", "-euo", "pipefail", "-c"]

# the pure core: no NATS, net, os/exec or wazero; no clock or global randomness
# (events/nats is its NATS adapter; internal/natsviews keeps projections in KV)
core_pkgs := "./engine/... ./events ./projections/..."
core_dirs := "engine events projections"
fuzz_time := env_var_or_default("FUZZ_TIME", "30s")
bench_count := env_var_or_default("BENCH_COUNT", "5")

# list the recipes
default:
    @just --list

# run Vakt: vakt serve, embedded NATS on ./vakt-data, API on 127.0.0.1:8080 (flags pass through)
run *args:
    @go build -o bin/vakt ./cmd/vakt
    exec ./bin/vakt serve {{args}}

# walk through the main flows on an in-memory store, printing every event
demo *args:
    go run ./cmd/vakt demo {{args}}

# every test: Go with the race detector (the core module through wazero, the
# edge guard through http-wasm, the pages in headless Chromium), then the Node
# and Python hosts on the same module and vectors
test: wasm
    go test -race -count=1 ./...
    node --disable-warning=ExperimentalWarning --test hosts/node
    python3 -m pytest -q hosts/python

# formatting, vet, staticcheck, the wasip1 build of the core, purity, tidy
check: _staticcheck
    #!/usr/bin/env bash
    set -euo pipefail
    fail=0
    unformatted=$(gofmt -l $(git ls-files '*.go') $(git ls-files --others --exclude-standard '*.go'))
    if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; fail=1; fi
    go vet ./...
    "$(go env GOPATH)/bin/staticcheck" ./...
    GOOS=wasip1 GOARCH=wasm go build {{core_pkgs}}
    GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o /dev/null ./wasm/core
    GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o /dev/null ./wasm/edge
    GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o /dev/null ./wasm/floor
    deps=$(GOOS=wasip1 GOARCH=wasm go list -deps {{core_pkgs}} | grep -E '^(github.com/nats-io/|github.com/tetratelabs/wazero|net/http$|net$|os/exec$)' || true)
    if [ -n "$deps" ]; then echo "the pure core depends on I/O packages: $deps"; fail=1; fi
    clock=$(grep -rn --include='*.go' -E 'time\.Now\(|math/rand' {{core_dirs}} | grep -v -e '_test.go' -e '/system.go:' -e '^events/nats/' || true)
    if [ -n "$clock" ]; then echo "the pure core reads the clock or global randomness: $clock"; fail=1; fi
    if ! go mod tidy -diff >/dev/null; then echo "go.mod/go.sum are not tidy: run go mod tidy"; go mod tidy -diff || true; fail=1; fi
    exit $fail

_staticcheck:
    @test -x "$(go env GOPATH)/bin/staticcheck" || go install honnef.co/go/tools/cmd/staticcheck@v0.7.0

# benchmarks with their limits, medians and ratios (see BENCHMARKS.md)
bench:
    #!/usr/bin/env bash
    set -euo pipefail
    out=$(mktemp)
    go test -run '^$' -bench . -benchmem -count {{bench_count}} ./engine ./events ./projections | tee "$out"
    echo
    go run ./internal/tools/benchratio \
        'Decide/VerifyTOTP / Limit/HMACFloor' \
        'Decide/VerifyTOTPNextStep / Limit/HMACFloor' \
        'Decide/VerifyTOTPWrong / Limit/HMACFloor' \
        'CodeCheck / Limit/HMACFloor' \
        'Decide/VerifyTOTP / Limit/PquernaTOTP' \
        'Decide/VerifyTOTPNextStep / Limit/PquernaTOTPLastStep' \
        'Decide/VerifyTOTPWrong / Limit/PquernaTOTPWrong' \
        'Decide/RespondPush / Limit/Ed25519Verify' < "$out"

# load `vakt serve` (in process, durable) with sign-ins; flags pass through (see BENCHMARKS.md)
bench-serve *args:
    @go build -o bin/vakt ./cmd/vakt
    ./bin/vakt bench {{args}}

# build the core WebAssembly module into wasm/build/vakt.wasm, twice, and check the bytes are the same (wasm/ABI.md)
wasm:
    #!/usr/bin/env bash
    set -euo pipefail
    mkdir -p wasm/build
    build() { GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags=-s -o "$1" ./wasm/core; }
    build wasm/build/vakt.wasm
    build wasm/build/vakt.check.wasm
    if ! cmp -s wasm/build/vakt.wasm wasm/build/vakt.check.wasm; then echo "the module build is not reproducible"; exit 1; fi
    rm wasm/build/vakt.check.wasm
    echo "wasm/build/vakt.wasm: $(stat -c %s wasm/build/vakt.wasm) bytes, sha256 $(sha256sum wasm/build/vakt.wasm | cut -c1-16)"

# NATS benchmarks against raw JetStream: appends, loads, replay (BIG_EVENTS, default 1M)
bench-nats:
    #!/usr/bin/env bash
    set -euo pipefail
    out=$(mktemp)
    go test -run '^$' -bench 'AppendDurable|Load|Replay' -benchtime 3s -count {{bench_count}} -timeout 60m ./events/nats | tee "$out"
    echo
    go run ./internal/tools/benchratio \
        'AppendDurable/single/vakt / AppendDurable/single/raw' \
        'AppendDurable/group-256/vakt / AppendDurable/group/raw-batch-100' \
        'Load/full/vakt / Load/full/raw' \
        'Load/snapshot/vakt / Load/snapshot/raw' \
        'Replay/vakt / Replay/raw' < "$out"

# run every fuzz target for FUZZ_TIME (default 30s); findings land in testdata/fuzz
fuzz:
    #!/usr/bin/env bash
    set -euo pipefail
    for pkg in ./events ./engine ./events/nats; do
        for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
            echo "== $pkg $target"
            go test -run '^$' -fuzz "^${target}\$" -fuzztime {{fuzz_time}} "$pkg"
        done
    done

# rewrite testdata/vectors from the scenarios in engine/vectorcases_test.go
vectors:
    go test ./engine -run TestGenerateVectors -update-vectors
    go test ./engine -run 'TestVectors|TestVectorCoverage'

# build the edge guard (http-wasm middleware) to bin/vakt-edge.wasm; see docs/EDGE.md
wasm-edge:
    @mkdir -p bin
    GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o bin/vakt-edge.wasm ./wasm/edge
    @ls -l bin/vakt-edge.wasm
