"""Conformance: every decision vector through the real module in wasmtime.

The answer's raw ``ok`` bytes must equal the vector's ``then`` with
insignificant whitespace removed, byte for byte (never parsed and
re-serialised)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from conftest import Vector, load_exceptions, load_vectors
from vakt_engine import Engine
from vakt_engine._json import array_elements, strip_whitespace, top_level_members

VECTORS = load_vectors()
EXCEPTIONS = load_exceptions()


def params() -> list[Any]:
    return [
        pytest.param(v, id=v.name, marks=[pytest.mark.skip(reason=f"exceptions.txt: {EXCEPTIONS[v.name]}")] if v.name in EXCEPTIONS else [])
        for v in VECTORS
    ]


def expected(v: Vector) -> tuple[bytes, list[bytes]]:
    """The vector's ``then``, and its ``given`` envelopes as stored."""
    m = top_level_members(v.raw)
    assert m is not None
    a, b = m["then"]
    ga, gb = m["given"]
    elements = array_elements(v.raw, ga, gb)
    assert elements is not None
    return strip_whitespace(v.raw[a:b]), [strip_whitespace(v.raw[x:y]) for x, y in elements]


def inputs(v: Vector, given: Any) -> dict[str, Any]:
    c = v.case
    return dict(
        tenant=c["tenant"],
        user=c["user"],
        policy=c.get("policy"),
        data_key=c.get("data_key"),
        given=given,
        time=c["when"]["time"],
        entropy=c["when"]["entropy"],
        command=c["when"]["command"],
    )


def assert_same_bytes(got: bytes, want: bytes, what: str) -> None:
    if got != want:
        # Text makes the difference readable; the bytes decide.
        assert got.decode("utf-8", "backslashreplace") == want.decode("utf-8", "backslashreplace"), what
        pytest.fail(f"{what}: differs in bytes that decode alike")


def test_vectors_present_and_exceptions_real() -> None:
    assert len(VECTORS) >= 150, f"only {len(VECTORS)} vectors found"
    names = {v.name for v in VECTORS}
    for name in EXCEPTIONS:
        assert name in names, f"exceptions.txt names {name}, which is no vector"


@pytest.mark.parametrize("v", params())
def test_vector_stored_envelopes(engine: Engine, v: Vector) -> None:
    then, stored = expected(v)
    assert_same_bytes(engine.decide_raw(**inputs(v, stored)), then, v.name)


@pytest.mark.parametrize("v", params())
def test_vector_parsed_envelopes(engine: Engine, v: Vector) -> None:
    then, _ = expected(v)
    assert_same_bytes(engine.decide_raw(**inputs(v, v.case["given"])), then, v.name)


@pytest.mark.parametrize("v", params())
def test_vector_from_cached_head(engine: Engine, v: Vector) -> None:
    then, stored = expected(v)
    if not stored:
        return
    assert_same_bytes(engine.decide_raw(**inputs(v, stored), keep=True), then, f"{v.name} (keep)")
    h = bytes(32)
    for raw in stored:
        h = hashlib.sha256(h + raw).digest()
    head = {"seq": v.case["given"][-1]["seq"], "hash": h.hex()}
    assert_same_bytes(engine.decide_raw(**inputs(v, []), after=head), then, f"{v.name} (after)")  # type: ignore[arg-type]
