"""The host's API and its handling of bad input, against the real module.
Every failure must be a typed error, and the engine must stay usable."""

from __future__ import annotations

import copy
import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from conftest import FIXTURES, load_vectors
from vakt_engine import (
    ABI_VERSION,
    MAX_REQUEST_BYTES,
    AbiVersionError,
    Decision,
    Engine,
    TrapError,
    VaktError,
)

BY_NAME = {v.name: v for v in load_vectors()}


def inputs(name: str) -> dict[str, Any]:
    c = BY_NAME[name].case
    return dict(
        tenant=c["tenant"],
        user=c["user"],
        policy=c.get("policy"),
        data_key=c.get("data_key"),
        given=c["given"],
        time=c["when"]["time"],
        entropy=c["when"]["entropy"],
        command=c["when"]["command"],
    )


def still_usable(engine: Engine, replaced: int = 0) -> None:
    assert engine.info()["abi"] == ABI_VERSION
    assert engine.instances_replaced == replaced


def test_info(engine: Engine) -> None:
    info = engine.info()
    assert info["abi"] == 1
    assert info["max_request"] == MAX_REQUEST_BYTES
    assert {"decide", "evolve", "project"} <= set(info["ops"])


def test_decide_returns_a_decision_with_a_typed_error(engine: Engine) -> None:
    then = BY_NAME["verify/totp-replayed"].case["then"]
    d = engine.decide(**inputs("verify/totp-replayed"))
    assert isinstance(d, Decision)
    assert d.events == then["events"]
    assert d.reply == then.get("reply")
    assert isinstance(d.error, VaktError)
    assert (d.error.code, d.error.message) == (then["error"]["code"], then["error"]["message"])

    ok = engine.decide(**inputs("verify/totp"))
    assert ok.error is None
    assert [e["type"] for e in ok.events] == [e["type"] for e in BY_NAME["verify/totp"].case["then"]["events"]]


def test_datetime_and_bytes_decide_as_their_text_forms(engine: Engine) -> None:
    i = inputs("challenge/issue-push-number-match")
    want = engine.decide_raw(**i)
    got = engine.decide_raw(
        **{
            **i,
            "time": datetime.fromisoformat(i["time"].replace("Z", "+00:00")),
            "entropy": bytes.fromhex(i["entropy"]),
            "data_key": bytes.fromhex(i["data_key"]),
        }
    )
    assert got == want
    with pytest.raises(VaktError) as e:
        engine.decide(**{**i, "time": datetime(2026, 11, 23, 9, 0)})  # naive: which zone?
    assert e.value.code == "invalid_argument"


def test_evolve(engine: Engine) -> None:
    c = BY_NAME["verify/after-lock-expires"].case
    out = engine.evolve(tenant=c["tenant"], user=c["user"], given=c["given"])
    assert out["v"] == 2
    assert c["given"][0]["data"]["authenticator_id"] in json.dumps(out["state"])


def test_project_security_info(engine: Engine) -> None:
    c = BY_NAME["verify/after-lock-expires"].case
    out = engine.project("security_info", c["given"])
    assert out["model"] == "security_info"
    assert out["state"]["user"] == c["user"]
    assert out["state"]["seq"] == c["given"][-1]["seq"]
    assert out["state"]["authenticators"][0]["id"] == c["given"][0]["data"]["authenticator_id"]


def test_not_json(engine: Engine) -> None:
    for bad in (b"this is not json", b"\xff\xfe\x00", b"", "{"):
        with pytest.raises(VaktError) as e:
            engine.call_raw(bad)
        assert e.value.code == "invalid_argument", bad
    still_usable(engine)


def test_unknown_op(engine: Engine) -> None:
    with pytest.raises(VaktError) as e:
        engine.call({"op": "decidee"})
    assert e.value.code == "invalid_argument"
    assert "decidee" in e.value.message
    with pytest.raises(VaktError) as e:
        engine.call({"tenant": "uio.no"})
    assert e.value.code == "invalid_argument"
    still_usable(engine)


def test_truncated_request(engine: Engine) -> None:
    c = BY_NAME["verify/totp"].case
    req = json.dumps({"op": "decide", "tenant": c["tenant"], "user": c["user"], "data_key": c["data_key"], "given": c["given"], **c["when"]}).encode()
    assert engine.call_raw(req), "the whole request is answered"
    for cut in (1, len(req) // 2, len(req) - 1):
        with pytest.raises(VaktError) as e:
            engine.call_raw(req[:cut])
        assert e.value.code == "invalid_argument"
    still_usable(engine)


def test_oversized_request(engine: Engine, wasm_path: Path, cache_dir: Path) -> None:
    with pytest.raises(VaktError) as e:
        engine.call_raw(b" " * (MAX_REQUEST_BYTES + 1))
    assert e.value.code == "invalid_argument"
    assert "limit" in e.value.message
    with Engine.load(wasm_path, max_request_bytes=1024, cache_dir=cache_dir) as small:
        with pytest.raises(VaktError) as e:
            small.decide(**inputs("verify/after-lock-expires"))
        assert e.value.code == "invalid_argument"
        assert small.info()["abi"] == 1
    still_usable(engine)


@pytest.mark.parametrize("bad", [42, None, [], True, 1.5])
def test_input_that_is_not_an_object(engine: Engine, bad: Any) -> None:
    with pytest.raises(VaktError) as e:
        engine.call(bad)
    assert e.value.code == "invalid_argument"
    still_usable(engine)


def test_bad_decide_fields(engine: Engine) -> None:
    i = inputs("verify/totp")
    for change in ({"time": 1234}, {"given": "x"}, {"entropy": 7}, {"tenant": None}, {"command": {1, 2}}):
        with pytest.raises(VaktError) as e:
            engine.decide(**{**i, **change})
        assert e.value.code == "invalid_argument", change
    still_usable(engine)


def test_broken_hash_chain(engine: Engine) -> None:
    i = inputs("verify/totp")
    given = copy.deepcopy(i["given"])
    given[1]["prev"] = "00" * 32
    with pytest.raises(VaktError) as e:
        engine.decide(**{**i, "given": given})
    assert e.value.code == "invalid_argument"
    still_usable(engine)


def test_unknown_head_is_state_unknown(engine: Engine) -> None:
    with pytest.raises(VaktError) as e:
        engine.decide(**{**inputs("verify/totp"), "given": [], "after": {"seq": 99, "hash": "ab" * 32}})
    assert e.value.code == "state_unknown"
    still_usable(engine)


def test_module_of_another_abi_version() -> None:
    wasm = wasmtime.wat2wasm((FIXTURES / "abi-v2.wat").read_text())
    with pytest.raises(AbiVersionError) as e:
        Engine.load(bytes(wasm))
    assert e.value.code == "internal"
    assert e.value.version == 2
    assert "ABI version 2" in e.value.message


def test_bytes_that_are_not_a_module() -> None:
    with pytest.raises(VaktError) as e:
        Engine.load(b"\x00asm\x09\x09")
    assert e.value.code == "invalid_argument"
    with pytest.raises(VaktError) as e:
        Engine.load(42)  # type: ignore[arg-type]
    assert e.value.code == "invalid_argument"


def test_trap_replaces_the_instance(wasm_path: Path, cache_dir: Path) -> None:
    # The module runs out of memory under the store's cap (5 MiB): a real
    # trap of the real module (Go's runtime aborts on a failed memory.grow).
    with Engine.load(wasm_path, max_memory_bytes=5 << 20, cache_dir=cache_dir) as engine:
        assert engine.info()["abi"] == 1
        big = b'{"op":"project","model":"audit_trail","events":[' + b",".join([b'{"id":"x"}'] * 20000) + b"]}"
        with pytest.raises(TrapError) as e:
            engine.call_raw(big)
        assert e.value.code == "internal"
        still_usable(engine, replaced=1)
        d = engine.decide(**inputs("verify/totp"))
        assert d.error is None


def test_fuel_bounds_a_call(wasm_path: Path, cache_dir: Path) -> None:
    with Engine.load(wasm_path, fuel=50_000_000, cache_dir=cache_dir) as engine:
        assert engine.info()["abi"] == 1
        with pytest.raises(TrapError):
            engine.call({"op": "bench_ed25519", "n": 100_000})
        still_usable(engine, replaced=1)


def test_threads_share_a_bounded_pool(wasm_path: Path, cache_dir: Path) -> None:
    names = list(BY_NAME)[:24]
    with Engine.load(wasm_path, instances=2, cache_dir=cache_dir) as engine:
        alone = {n: engine.decide_raw(**inputs(n)) for n in names}
        results: dict[str, bytes] = {}
        errors: list[BaseException] = []

        def work(part: list[str]) -> None:
            try:
                for n in part:
                    results[n] = engine.decide_raw(**inputs(n))
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(names[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert results == alone
        assert engine._created <= 2  # the bound holds


def test_closed_engine_refuses(wasm_path: Path, cache_dir: Path) -> None:
    e = Engine.load(wasm_path, cache_dir=cache_dir)
    e.close()
    with pytest.raises(VaktError) as err:
        e.info()
    assert err.value.code == "internal"


def test_error_equality_and_wire_form() -> None:
    a = VaktError("code_reused", "use the next code")
    assert a == VaktError("code_reused", "use the next code")
    assert a.to_dict() == {"code": "code_reused", "message": "use the next code"}
    assert str(a) == "code_reused: use the next code"
    assert isinstance(TrapError("x"), VaktError) and TrapError("x").code == "internal"


def test_fast_and_public_call_paths_agree(wasm_path: Path, cache_dir: Path) -> None:
    names = ["verify/totp", "push/approve", "challenge/issue-totp", "command/not-an-object"]
    with Engine.load(wasm_path, cache_dir=cache_dir) as engine:
        inst = engine._idle[0]
        assert inst.call.fast, "the pinned wasmtime-py should take the fast path"
        fast = [engine.decide_raw(**inputs(n)) for n in names]
        for f in (inst.alloc, inst.free, inst.call):
            f.fast = False
        public = [engine.decide_raw(**inputs(n)) for n in names]
        assert engine._idle[0] is inst
        assert fast == public


def test_readme_example_runs() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parents[1] / "examples" / "verify.py")],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout
    assert "event: challenge.succeeded" in out.splitlines()
    assert "typed error: invalid_argument" in out.splitlines()
