"""Vakt's typed errors, the same codes in every host (wasm/ABI.md, "Error codes")."""

from __future__ import annotations

from typing import Any

CODES = (
    "invalid_argument",
    "not_found",
    "conflict",
    "invalid_code",
    "code_reused",
    "expired",
    "locked_out",
    "enrolment_required",
    "method_not_allowed",
    "insufficient_proof",
    "push_paused",
    "erased",
    "unauthorized",
    "internal",
    "state_unknown",
)
"""The known codes, in the order of Vakt's append-only list (plus the ABI's
``state_unknown``). A newer module may answer a code not listed here; it is
passed on unchanged."""


class VaktError(Exception):
    """The engine's typed error: ``code`` is one of :data:`CODES`, ``message``
    says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and (other.code, other.message) == (self.code, self.message)

    def __hash__(self) -> int:
        return hash((type(self), self.code, self.message))

    def to_dict(self) -> dict[str, str]:
        """The wire form: ``{"code": ..., "message": ...}``."""
        return {"code": self.code, "message": self.message}


class AbiVersionError(VaktError):
    """The module speaks another ABI version (or none). Code ``internal``;
    ``version`` is what the module answered, if anything."""

    def __init__(self, version: int | None, message: str) -> None:
        super().__init__("internal", message)
        self.version = version


class TrapError(VaktError):
    """An instance trapped (a bug or resource exhaustion inside the module).
    Code ``internal``. The instance was discarded and the engine makes a new
    one, so the call may be retried."""

    def __init__(self, message: str) -> None:
        super().__init__("internal", message)
