"""Per-op latency of decisions through the Python host, on the inputs of three
decision vectors, plus the raw crypto floors inside the same module. Prints a
Markdown table: the median of RUNS runs, each the mean over a timed loop.

    python3 hosts/python/bench/bench.py [path/to/vakt.wasm]   (RUNS=5 MIN_S=1 by default)
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from vakt_engine import Engine  # noqa: E402
from vakt_engine._json import array_elements, strip_whitespace, top_level_members  # noqa: E402

REPO = HERE.parents[2]
VECTORS = REPO / "testdata" / "vectors"
RUNS = int(os.environ.get("RUNS", "5"))
MIN_S = float(os.environ.get("MIN_S", "1"))

CASES = [("VerifyTOTP", "verify/totp"), ("IssueChallenge", "challenge/issue-totp"), ("RespondPush", "push/approve")]


def load(name: str) -> tuple[dict[str, Any], dict[str, Any], int]:
    raw = (VECTORS / f"{name}.json").read_bytes()
    case = json.loads(raw)
    m = top_level_members(raw)
    assert m is not None
    ga, gb = m["given"]
    stored = [strip_whitespace(raw[a:b]) for a, b in array_elements(raw, ga, gb) or []]
    h = bytes(32)
    for e in stored:
        h = hashlib.sha256(h + e).digest()
    kwargs = dict(
        tenant=case["tenant"],
        user=case["user"],
        policy=case.get("policy"),
        data_key=case.get("data_key"),
        given=stored,
        time=case["when"]["time"],
        entropy=case["when"]["entropy"],
        command=case["when"]["command"],
    )
    return kwargs, {"seq": case["given"][-1]["seq"], "hash": h.hex()}, len(stored)


def measure(fn: Callable[[], object], per_call: int = 1) -> tuple[float, float, float]:
    for _ in range(100):
        fn()
    runs = []
    for _ in range(RUNS):
        n = 0
        start = time.perf_counter()
        now = start
        while now - start < MIN_S:
            for _ in range(20):
                fn()
            n += 20
            now = time.perf_counter()
        runs.append((now - start) * 1e9 / (n * per_call))
    return statistics.median(runs), min(runs), max(runs)


def fmt(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "wasm" / "build" / "vakt.wasm"
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        Engine.load(path, cache_dir=cache).close()
        cold = time.perf_counter() - t
        t = time.perf_counter()
        engine = Engine.load(path, cache_dir=cache)
        warm = time.perf_counter() - t
    rows = []
    with engine:
        for op, name in CASES:
            kwargs, head, events = load(name)
            rows.append((f"Decide/{op}/python-full", f"{name}, its {events} events sent each call", measure(lambda: engine.decide_raw(**kwargs))))
            engine.decide_raw(**kwargs, keep=True)
            cached = {**kwargs, "given": [], "after": head}
            rows.append((f"Decide/{op}/python-cached", f"{name}, state kept in the instance", measure(lambda: engine.decide_raw(**cached))))
        name = "push/approve-while-codes-locked"
        kwargs, _, events = load(name)
        given = b"[" + b",".join(kwargs["given"]) + b"]"
        evolve = b'{"op":"evolve","tenant":"' + kwargs["tenant"].encode() + b'","user":"' + kwargs["user"].encode() + b'","given":' + given + b"}"
        project = b'{"op":"project","model":"security_info","events":' + given + b"}"
        rows.append(("Evolve/python", f"{name}: fold its {events} events", measure(lambda: engine.call_raw(evolve))))
        rows.append(("Project/python", f"{name}: security_info of its {events} events", measure(lambda: engine.call_raw(project))))
        rows.append(("Floor/HMAC/python", "bench_hmac n=100, per unit (3 HMAC-SHA1)", measure(lambda: engine.call_raw(b'{"op":"bench_hmac","n":100}'), 100)))
        rows.append(("Floor/Ed25519/python", "bench_ed25519 n=4, per verification", measure(lambda: engine.call_raw(b'{"op":"bench_ed25519","n":4}'), 4)))
        rows.append(("Info/python", "the smallest request: boundary, JSON and the Python API", measure(lambda: engine.call_raw(b'{"op":"info"}'))))
    print(f"Python {platform.python_version()}, wasmtime {__import__('importlib.metadata').metadata.version('wasmtime')}, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"Engine.load: cold compile + instantiate {cold * 1e3:.0f} ms; from the cache_dir + instantiate {warm * 1e3:.0f} ms")
    print(f"median of {RUNS} runs, each the mean over >= {MIN_S} s\n")
    print("| benchmark | input | median per op | runs min–max |")
    print("|---|---|---|---|")
    for b, what, (med, lo, hi) in rows:
        print(f"| {b} | {what} | {fmt(med)} | {fmt(lo)}–{fmt(hi)} |")


if __name__ == "__main__":
    main()
