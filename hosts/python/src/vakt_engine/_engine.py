"""The engine: a compiled module and a bounded, thread-safe pool of instances."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import threading
from importlib.metadata import version as _package_version
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, TypedDict, Union, cast

import wasmtime

from ._errors import AbiVersionError, TrapError, VaktError
from ._json import top_level_members

ABI_VERSION = 1
"""The ABI version this host speaks; a module answering another is refused."""

MAX_REQUEST_BYTES = 4 << 20
"""The largest request the module accepts (wasm/ABI.md, section 5)."""

_MIN_REQUEST_BUFFER = 64 << 10
_MASK64 = (1 << 64) - 1
_WASMTIME_VERSION = _package_version("wasmtime")

try:  # internals of the pinned wasmtime-py, for the fast call path (see _Export)
    from wasmtime import _ffi as _FFI
    from wasmtime._func import enter_wasm as _enter_wasm
except ImportError:  # pragma: no cover - another wasmtime-py: the public path
    _FFI = None  # type: ignore[assignment]
    _enter_wasm = None  # type: ignore[assignment]

Envelope = Union[Mapping[str, Any], bytes, str]
"""A stored event envelope: the mapping, or its JSON exactly as stored (passed on verbatim)."""

ReadModel = Literal["security_info", "challenge_status", "audit_trail", "tenant_stats"]


class Head(TypedDict):
    """A stream's last event: its sequence number and chain hash (hex)."""

    seq: int
    hash: str


class DecidedEvent(TypedDict):
    """A decided event: type, schema version and data."""

    type: str
    v: int
    data: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    """A decision. With ``error`` and events it is a recorded rejection:
    append the events, then report the error."""

    events: list[DecidedEvent] = field(default_factory=list)
    reply: dict[str, Any] | None = None
    error: VaktError | None = None


def _signed32(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


class _Export:
    """Calls an export of (i32...) -> i32 | i64 | nothing.

    wasmtime's ``Func.__call__`` reflects on the function's type at every
    call (about 50 µs each); this calls ``wasmtime_func_call`` with prepared
    argument arrays instead. It uses wasmtime-py internals (``_ffi``,
    ``enter_wasm``), so it is tied to the pinned version; without them it
    falls back to ``Func.__call__``. Results are unsigned."""

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func) -> None:
        self.func = func
        ty = func.type(store)
        self.nparams = len(ty.params)
        self.result = None if not ty.results else ("i64" if ty.results[0] == wasmtime.ValType.i64() else "i32")
        self.fast = _FFI is not None and all(p == wasmtime.ValType.i32() for p in ty.params) and len(ty.results) <= 1
        if self.fast:
            assert _FFI is not None
            self.args = (_FFI.wasmtime_val_t * max(self.nparams, 1))()
            for i in range(self.nparams):
                self.args[i].kind = _FFI.WASMTIME_I32.value  # type: ignore[assignment]
            self.results = (_FFI.wasmtime_val_t * max(len(ty.results), 1))()
            self.ref = ctypes.byref(func._func)

    def __call__(self, store: wasmtime.Store, *args: int) -> int:
        if not self.fast:
            r = self.func(store, *(_signed32(a) for a in args))
            return 0 if r is None else r & (_MASK64 if self.result == "i64" else 0xFFFFFFFF)
        assert _FFI is not None and _enter_wasm is not None
        for i, a in enumerate(args):
            self.args[i].of.i32 = a  # ctypes keeps the low 32 bits
        with _enter_wasm(store) as trap:
            error = _FFI.wasmtime_func_call(
                store._context(), self.ref, self.args, self.nparams, self.results, 0 if self.result is None else 1, trap
            )
            if error:
                raise wasmtime.WasmtimeError._from_ptr(error)
        if self.result == "i64":
            return int(self.results[0].of.i64) & _MASK64
        if self.result == "i32":
            return int(self.results[0].of.i32) & 0xFFFFFFFF
        return 0


class _Instance:
    """One instance with its own store, WASI context and memory. A Go guest is
    single-threaded: an instance serves one call at a time."""

    def __init__(self, engine: wasmtime.Engine, pre: wasmtime.InstancePre, fuel: int | None, max_memory: int | None) -> None:
        self.store = wasmtime.Store(engine)
        if max_memory is not None:
            # memory.grow fails beyond this; the Go runtime then aborts (a trap).
            self.store.set_limits(memory_size=max_memory)
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["vakt"]
        wasi.inherit_stderr()  # a Go panic's trace; the guest writes nothing else
        self.store.set_wasi(wasi)
        self.fuel = fuel
        if fuel is not None:
            # Starting the Go runtime is not a call: it is not bounded.
            self.store.set_fuel((1 << 63) - 1)
        inst = pre.instantiate(self.store)
        exports = inst.exports(self.store)

        def export(name: str) -> Any:
            try:
                return exports[name]
            except KeyError:
                return None

        memory = export("memory")
        version_fn = export("vakt_abi_version")
        if not isinstance(memory, wasmtime.Memory) or not isinstance(version_fn, wasmtime.Func):
            raise AbiVersionError(None, "the module exports no memory or no vakt_abi_version: it is not a Vakt engine module")
        init = export("_initialize")
        if isinstance(init, wasmtime.Func):
            # Starts the Go runtime; no other export works before it.
            init(self.store)
        version = version_fn(self.store)
        if version != ABI_VERSION:
            raise AbiVersionError(
                version,
                f"the module speaks ABI version {version}, this host speaks {ABI_VERSION}: "
                "use a module and host of the same release",
            )
        funcs = {}
        for name in ("vakt_alloc", "vakt_free", "vakt_call"):
            f = export(name)
            if not isinstance(f, wasmtime.Func):
                raise AbiVersionError(version, f"the module does not export {name}, which ABI version {ABI_VERSION} requires")
            funcs[name] = _Export(self.store, f)
        self.memory: wasmtime.Memory = memory
        self.alloc = funcs["vakt_alloc"]
        self.free = funcs["vakt_free"]
        self.call = funcs["vakt_call"]
        # One request buffer, kept and reused (the ABI allows it); grown on demand.
        self.req_ptr = 0
        self.req_cap = 0

    def round_trip(self, req: bytes) -> bytes:
        """Send request bytes, return a copy of the answer. If this raises
        anything but a VaktError, the instance must be discarded."""
        store = self.store
        if self.fuel is not None:
            store.set_fuel(self.fuel)
        if len(req) > self.req_cap:
            if self.req_ptr:
                self.free(store, self.req_ptr)
            self.req_ptr = self.req_cap = 0
            cap = min(max(len(req), _MIN_REQUEST_BUFFER), MAX_REQUEST_BYTES)
            ptr = self.alloc(store, cap)
            if ptr == 0:
                raise VaktError("internal", f"the engine could not allocate {cap} bytes")
            self.req_ptr, self.req_cap = ptr, cap
        if req:
            self.memory.write(store, req, self.req_ptr)
        # If this traps, nothing more is called on this instance (not even free).
        packed = self.call(store, self.req_ptr, len(req))
        res_ptr, res_len = packed >> 32, packed & 0xFFFFFFFF
        size = self.memory.data_len(store)
        if res_ptr == 0 or res_ptr + res_len > size:
            raise TrapError(f"the engine answered out of bounds ({res_ptr}+{res_len}, memory {size})")
        answer = bytes(self.memory.read(store, res_ptr, res_ptr + res_len))
        self.free(store, res_ptr)
        return answer


class Engine:
    """Vakt's decision engine: one compiled module, a bounded pool of instances.

    Thread-safe: each call takes an idle instance (making one if fewer than
    ``instances`` exist, else waiting for one), so up to ``instances`` calls run
    in parallel (wasmtime releases the GIL while the module runs).

    An instance that traps is discarded; the call raises :class:`TrapError`
    and the next call gets a fresh instance.

    Use :meth:`load`; close with :meth:`close` or a ``with`` block.
    """

    def __init__(
        self,
        module: wasmtime.Module,
        engine: wasmtime.Engine,
        *,
        instances: int = 1,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        fuel: int | None = None,
        max_memory_bytes: int | None = None,
    ) -> None:
        if not isinstance(instances, int) or instances < 1:
            raise VaktError("invalid_argument", "instances must be at least 1")
        if not isinstance(max_request_bytes, int) or not 0 < max_request_bytes <= MAX_REQUEST_BYTES:
            raise VaktError("invalid_argument", f"max_request_bytes must be from 1 to {MAX_REQUEST_BYTES}")
        self._engine = engine
        self._module = module
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        try:
            self._pre = linker.instantiate_pre(module)
        except wasmtime.WasmtimeError as e:
            raise AbiVersionError(None, f"the module does not link with WASI preview 1: {e}") from e
        self._max_request = max_request_bytes
        self._fuel = fuel
        self._max_memory = max_memory_bytes
        self._size = instances
        self._idle: list[_Instance] = []
        self._created = 0
        self._replaced = 0
        self._closed = False
        self._cond = threading.Condition()
        # Make one instance now: a wrong module fails here, not on the first call.
        self._idle.append(self._new_instance())
        self._created = 1

    @classmethod
    def load(
        cls,
        source: str | os.PathLike[str] | bytes,
        *,
        instances: int = 1,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        fuel: int | None = None,
        max_memory_bytes: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> Engine:
        """Compile the module (a path or its bytes), instantiate it and check
        its ABI version.

        ``cache_dir``, if set, keeps the compiled machine code there, keyed by
        the module's hash, the wasmtime version and the settings: compiling
        takes seconds, loading from the cache milliseconds. Only point it at
        a directory you trust (wasmtime runs what it finds there).

        ``fuel``, if set, bounds the work of each call (wasmtime fuel units):
        a call that runs out traps, raises :class:`TrapError`, and its instance
        is replaced. It costs some speed; leave it unset unless you need it.

        ``max_memory_bytes``, if set, caps each instance's linear memory
        (about 4 MiB is the least the module starts with; budget 10 MiB or
        more). A call that needs more traps and its instance is replaced.
        """
        # wasmtime's default native stack for wasm (512 KiB) is enough: a Go
        # guest keeps its goroutine stacks in linear memory.
        config = wasmtime.Config()
        if fuel is not None:
            config.consume_fuel = True
        engine = wasmtime.Engine(config)
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        elif isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                data = f.read()
        else:
            raise VaktError("invalid_argument", "the module source must be a path or bytes")
        module = _compile(engine, data, cache_dir, "fuel" if fuel is not None else "plain")
        return cls(
            module,
            engine,
            instances=instances,
            max_request_bytes=max_request_bytes,
            fuel=fuel,
            max_memory_bytes=max_memory_bytes,
        )

    @property
    def instances_replaced(self) -> int:
        """How many trapped instances were replaced (for monitoring)."""
        return self._replaced

    def _new_instance(self) -> _Instance:
        try:
            return _Instance(self._engine, self._pre, self._fuel, self._max_memory)
        except VaktError:
            raise
        except (wasmtime.WasmtimeError, wasmtime.Trap) as e:
            raise VaktError("internal", f"the module does not instantiate: {_first_line(e)}") from e

    def _acquire(self) -> _Instance:
        with self._cond:
            while True:
                if self._closed:
                    raise VaktError("internal", "the engine is closed")
                if self._idle:
                    return self._idle.pop()
                if self._created < self._size:
                    self._created += 1
                    break
                self._cond.wait()
        try:
            return self._new_instance()
        except BaseException:
            with self._cond:
                self._created -= 1
                self._cond.notify()
            raise

    def _release(self, inst: _Instance | None) -> None:
        with self._cond:
            if inst is None:
                self._created -= 1
            elif not self._closed:
                self._idle.append(inst)
            self._cond.notify()

    def call_raw(self, request: Mapping[str, Any] | bytes | str) -> bytes:
        """Send one request (a mapping with ``op``, or its JSON text or bytes)
        and return the raw bytes of the answer's ``ok`` value, exactly as the
        module wrote them. An ``error`` answer raises :class:`VaktError`."""
        data = _encode_request(request, self._max_request)
        inst = self._acquire()
        try:
            answer = inst.round_trip(data)
        except VaktError:
            self._discard(inst)
            raise
        except (wasmtime.WasmtimeError, wasmtime.Trap) as e:
            # A trap leaves the instance in an undefined state: never call it again.
            self._discard(inst)
            raise TrapError(f"the engine trapped ({_first_line(e)}); the instance was discarded, try again") from e
        except BaseException:
            self._discard(inst)
            raise
        self._release(inst)
        return _ok_bytes(answer)

    def _discard(self, inst: _Instance) -> None:
        del inst
        with self._cond:
            self._replaced += 1
        self._release(None)

    def call(self, request: Mapping[str, Any] | bytes | str) -> Any:
        """Like :meth:`call_raw`, with the ``ok`` value parsed."""
        return json.loads(self.call_raw(request))

    def decide(
        self,
        *,
        tenant: str,
        user: str = "",
        given: Sequence[Envelope] = (),
        time: str | datetime,
        entropy: str | bytes,
        command: Any,
        policy: Mapping[str, Any] | None = None,
        data_key: str | bytes | None = None,
        state: Any = None,
        after: Head | None = None,
        keep: bool = False,
    ) -> Decision:
        """Decide one command on a user's (or, with ``user=""``, the tenant's) stream."""
        ok = self.call(
            _decide_request(tenant, user, given, time, entropy, command, policy, data_key, state, after, keep)
        )
        err = ok.get("error")
        return Decision(
            events=ok.get("events") or [],
            reply=ok.get("reply"),
            error=VaktError(err["code"], err["message"]) if err else None,
        )

    def decide_raw(
        self,
        *,
        tenant: str,
        user: str = "",
        given: Sequence[Envelope] = (),
        time: str | datetime,
        entropy: str | bytes,
        command: Any,
        policy: Mapping[str, Any] | None = None,
        data_key: str | bytes | None = None,
        state: Any = None,
        after: Head | None = None,
        keep: bool = False,
    ) -> bytes:
        """Like :meth:`decide`, returning the decision's bytes as the module
        wrote them: ``{"events":[...],"reply":...,"error":...}``."""
        return self.call_raw(
            _decide_request(tenant, user, given, time, entropy, command, policy, data_key, state, after, keep)
        )

    def evolve(
        self,
        *,
        tenant: str,
        user: str = "",
        given: Sequence[Envelope] = (),
        state: Any = None,
        after: Head | None = None,
        keep: bool = False,
    ) -> dict[str, Any]:
        """Fold events into a user's (or the tenant's) state: ``{"v": 2, "state": {...}}``."""
        req = _stream_fields("evolve", tenant, user, state, after, keep) + b',"given":' + _envelopes(given, "given") + b"}"
        return cast(dict[str, Any], self.call(req))

    def project(self, model: ReadModel, events: Sequence[Envelope], *, state: Any = None) -> dict[str, Any]:
        """Fold events into a read model: ``{"model": ..., "state": {...}}``."""
        if not isinstance(model, str):
            raise VaktError("invalid_argument", "project: model must be one of security_info, challenge_status, audit_trail, tenant_stats")
        req = b'{"op":"project","model":' + _dumps(model)
        if state is not None:
            req += b',"state":' + _dumps(state)
        req += b',"events":' + _envelopes(events, "events") + b"}"
        return cast(dict[str, Any], self.call(req))

    def info(self) -> dict[str, Any]:
        """The module's ABI version, state version, request limit and ops."""
        return cast(dict[str, Any], self.call({"op": "info"}))

    def close(self) -> None:
        """Release the instances; later calls raise :class:`VaktError`."""
        with self._cond:
            self._closed = True
            self._idle.clear()
            self._cond.notify_all()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _compile(engine: wasmtime.Engine, data: bytes, cache_dir: str | os.PathLike[str] | None, flavour: str) -> wasmtime.Module:
    path = None
    if cache_dir is not None:
        key = hashlib.sha256(data).hexdigest()[:32]
        path = os.path.join(os.fspath(cache_dir), f"vakt-{key}-wasmtime-{_WASMTIME_VERSION}-{flavour}.cwasm")
        if os.path.exists(path):
            try:
                return wasmtime.Module.deserialize_file(engine, path)
            except wasmtime.WasmtimeError:
                pass  # made by an incompatible build: compile again below
    try:
        module = wasmtime.Module(engine, data)
    except wasmtime.WasmtimeError as e:
        raise VaktError("invalid_argument", f"the module does not compile: {_first_line(e)}") from e
    if path is not None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as f:
            f.write(module.serialize())
        os.replace(tmp, path)
    return module


def _first_line(e: BaseException) -> str:
    return str(e).strip().split("\n", 1)[0]


def _dumps(v: Any) -> bytes:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _encode_request(request: Mapping[str, Any] | bytes | str, limit: int) -> bytes:
    if isinstance(request, (bytes, bytearray, memoryview)):
        data = bytes(request)
    elif isinstance(request, str):
        data = request.encode("utf-8")
    elif isinstance(request, Mapping):
        try:
            data = _dumps(dict(request))
        except (TypeError, ValueError) as e:
            raise VaktError("invalid_argument", f"the request cannot be written as JSON: {e}") from e
    else:
        raise VaktError("invalid_argument", 'the request must be a mapping with an "op" (or its JSON text or bytes)')
    if len(data) > limit:
        raise VaktError("invalid_argument", f"the request is {len(data)} bytes, over the limit of {limit}: send fewer events")
    return data


def _ok_bytes(answer: bytes) -> bytes:
    # An answer is exactly one of {"ok":...} and {"error":...} (ABI section
    # 3), and the module writes it without spaces: then the value is
    # everything between. Anything else takes the general scan.
    if answer.startswith(b'{"ok":') and answer.endswith(b"}"):
        return answer[6:-1]
    members = top_level_members(answer)
    if members is None:
        raise VaktError("internal", "the engine answered something that is not a JSON object")
    if "ok" in members:
        a, b = members["ok"]
        return answer[a:b]
    if "error" in members:
        a, b = members["error"]
        try:
            e = json.loads(answer[a:b])
        except ValueError:
            e = None
        if isinstance(e, dict) and isinstance(e.get("code"), str):
            raise VaktError(e["code"], str(e.get("message", "")))
    raise VaktError("internal", "the engine answered neither ok nor a well-formed error")


def _envelopes(items: Sequence[Envelope], name: str) -> bytes:
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise VaktError("invalid_argument", f"{name} must be a sequence of event envelopes")
    parts = []
    for e in items:
        if isinstance(e, (bytes, bytearray, memoryview)):
            parts.append(bytes(e))
        elif isinstance(e, str):
            parts.append(e.encode("utf-8"))
        elif isinstance(e, Mapping):
            parts.append(_dumps(dict(e)))
        else:
            raise VaktError("invalid_argument", f"{name}: an envelope is a mapping or its stored JSON")
    return b"[" + b",".join(parts) + b"]"


def _stream_fields(op: str, tenant: str, user: str, state: Any, after: Head | None, keep: bool) -> bytes:
    if not isinstance(tenant, str) or not isinstance(user, str):
        raise VaktError("invalid_argument", f'{op}: tenant and user must be strings (user "" for the tenant stream)')
    s = b'{"op":"' + op.encode() + b'","tenant":' + _dumps(tenant) + b',"user":' + _dumps(user)
    if state is not None:
        s += b',"state":' + _dumps(state)
    if after is not None:
        s += b',"after":' + _dumps(dict(after))
    if keep:
        s += b',"keep":true'
    return s


def _hex(v: str | bytes, name: str) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    raise VaktError("invalid_argument", f"{name} must be hex text or bytes")


def _time(t: str | datetime) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, datetime):
        if t.tzinfo is None:
            raise VaktError("invalid_argument", "time must be timezone-aware (the engine decides in UTC)")
        u = t.astimezone(timezone.utc)
        frac = f".{u.microsecond:06d}".rstrip("0") if u.microsecond else ""
        return u.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"
    raise VaktError("invalid_argument", "time must be an RFC 3339 string or a datetime: the engine never reads the clock")


def _decide_request(
    tenant: str,
    user: str,
    given: Sequence[Envelope],
    time: str | datetime,
    entropy: str | bytes,
    command: Any,
    policy: Mapping[str, Any] | None,
    data_key: str | bytes | None,
    state: Any,
    after: Head | None,
    keep: bool,
) -> bytes:
    s = _stream_fields("decide", tenant, user, state, after, keep)
    if policy is not None:
        s += b',"policy":' + _dumps(dict(policy))
    if data_key is not None:
        s += b',"data_key":' + _dumps(_hex(data_key, "data_key"))
    s += b',"given":' + _envelopes(given, "given")
    s += b',"time":' + _dumps(_time(time))
    s += b',"entropy":' + _dumps(_hex(entropy, "entropy"))
    try:
        s += b',"command":' + _dumps(command) + b"}"
    except (TypeError, ValueError) as e:
        raise VaktError("invalid_argument", f"decide: the command cannot be written as JSON: {e}") from e
    return s

