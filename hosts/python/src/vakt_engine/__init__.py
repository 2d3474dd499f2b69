"""Vakt's MFA decision engine for Python.

It runs the same WebAssembly module (ABI v1, ``wasm/ABI.md``) as every other
Vakt host, through wasmtime, so a Python service decides byte for byte as the
Go server, Node and the edge do::

    from vakt_engine import Engine

    with Engine.load("wasm/build/vakt.wasm") as engine:
        decision = engine.decide(
            tenant="uio.no", user="ola.nordmann", given=stored_events,
            time="2026-11-23T09:01:00Z", entropy=os.urandom(32).hex(),
            command={"issue_challenge": {"app": "web"}},
        )

Time and entropy travel in every request: the engine never reads a clock or
a random source.
"""

from ._engine import (
    ABI_VERSION,
    MAX_REQUEST_BYTES,
    DecidedEvent,
    Decision,
    Engine,
    Envelope,
    Head,
    ReadModel,
)
from ._errors import CODES, AbiVersionError, TrapError, VaktError

__all__ = [
    "ABI_VERSION",
    "CODES",
    "MAX_REQUEST_BYTES",
    "AbiVersionError",
    "DecidedEvent",
    "Decision",
    "Engine",
    "Envelope",
    "Head",
    "ReadModel",
    "TrapError",
    "VaktError",
]
