"""Byte-level JSON helpers.

The engine's answers are compared and passed on as bytes, never parsed and
re-serialised: re-encoding would change escapes (``\\u003c``), number spellings
and key order, and byte identity across hosts is the point of the module.
"""

from __future__ import annotations

import json
import re

# A JSON string (kept) or a run of whitespace outside strings (dropped).
_TOKEN = re.compile(rb'("(?:[^"\\]|\\.)*")|[ \t\r\n]+', re.DOTALL)
_SPACE = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()


def strip_whitespace(src: bytes | str) -> bytes:
    """Remove insignificant whitespace (outside strings) from JSON text.

    Strings, escapes included, are copied unchanged.
    """
    if isinstance(src, str):
        src = src.encode("utf-8")
    return _TOKEN.sub(lambda m: m.group(1) or b"", src)


def _end_of_value(text: str, i: int) -> int:
    # json's C scanner finds where the value ends. The text is the bytes
    # decoded as latin-1, so character offsets are byte offsets; multi-byte
    # UTF-8 only ever occurs inside strings, where it is opaque to the scan.
    return _DECODER.raw_decode(text, i)[1]


def _members(text: str, i: int, close: str, keyed: bool) -> tuple[list[tuple[str, int, int]], int]:
    out: list[tuple[str, int, int]] = []
    i = _SPACE.match(text, i).end()  # type: ignore[union-attr]
    if text.startswith(close, i):
        return out, i + 1
    while True:
        key = ""
        if keyed:
            if not text.startswith('"', i):
                raise ValueError("expected a key")
            end = _end_of_value(text, i)
            key = text[i + 1 : end - 1]
            i = _SPACE.match(text, end).end()  # type: ignore[union-attr]
            if not text.startswith(":", i):
                raise ValueError("expected ':'")
            i = _SPACE.match(text, i + 1).end()  # type: ignore[union-attr]
        end = _end_of_value(text, i)
        out.append((key, i, end))
        i = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        if text.startswith(",", i):
            i = _SPACE.match(text, i + 1).end()  # type: ignore[union-attr]
        elif text.startswith(close, i):
            return out, i + 1
        else:
            raise ValueError(f"expected ',' or '{close}'")


def top_level_members(src: bytes) -> dict[str, tuple[int, int]] | None:
    """The byte range of each member's raw value in a top-level JSON object.

    Returns None when ``src`` is not one complete object.
    """
    text = src.decode("latin-1")
    i = _SPACE.match(text).end()  # type: ignore[union-attr]
    if not text.startswith("{", i):
        return None
    try:
        members, end = _members(text, i + 1, "}", True)
    except ValueError:
        return None
    if _SPACE.match(text, end).end() != len(text):  # type: ignore[union-attr]
        return None
    return {k: (a, b) for k, a, b in members}


def array_elements(src: bytes, start: int = 0, end: int | None = None) -> list[tuple[int, int]] | None:
    """The byte ranges of the elements of the JSON array in ``src[start:end]``."""
    text = src[:end].decode("latin-1") if end is not None else src.decode("latin-1")
    i = _SPACE.match(text, start).end()  # type: ignore[union-attr]
    if not text.startswith("[", i):
        return None
    try:
        elements, _ = _members(text, i + 1, "]", False)
    except ValueError:
        return None
    return [(a, b) for _, a, b in elements]
