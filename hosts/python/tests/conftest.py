"""Shared fixtures: the engine module under test and the decision vectors."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from vakt_engine import Engine

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO / "testdata" / "vectors"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def module_path() -> Path:
    """$VAKT_WASM, or the repository's build output. A missing module fails
    the tests (build it with ``just wasm``): a host never run against the
    module is not tested."""
    p = Path(os.environ.get("VAKT_WASM") or REPO / "wasm" / "build" / "vakt.wasm")
    if not p.is_file():
        pytest.fail(f"no engine module at {p}: build it first (just wasm), or set VAKT_WASM", pytrace=False)
    return p


@dataclass(frozen=True)
class Vector:
    name: str
    raw: bytes
    case: dict[str, Any]


def load_vectors() -> list[Vector]:
    out = []
    for p in sorted(VECTORS.rglob("*.json")):
        raw = p.read_bytes()
        out.append(Vector(p.relative_to(VECTORS).with_suffix("").as_posix(), raw, json.loads(raw)))
    return out


def load_exceptions() -> dict[str, str]:
    """exceptions.txt: one "name issue" per line, the only way to skip a case."""
    p = VECTORS / "exceptions.txt"
    out: dict[str, str] = {}
    if not p.exists():
        return out
    for line in p.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, why = line.partition(" ")
        if not why.strip():
            raise ValueError(f"exceptions.txt: {name} names no open issue")
        out[name] = why.strip()
    return out


@pytest.fixture(scope="session")
def wasm_path() -> Path:
    return module_path()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compiled code shared by the session's engines (compiling takes seconds)."""
    return tmp_path_factory.mktemp("wasmtime-cache")


@pytest.fixture(scope="session")
def engine(wasm_path: Path, cache_dir: Path) -> Iterator[Engine]:
    with Engine.load(wasm_path, cache_dir=cache_dir) as e:
        yield e
