"""Exact JSON for `meta`: Decimal out as a JSON number, JSON numbers in as Decimal.

`json.dumps` refuses Decimal and `json.loads` turns 0.1 into a float; either would break the
promise that prices are exact. These two functions are used everywhere meta crosses the wire.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from decimal import Decimal
from typing import Any

# A Decimal leaves json.dumps (which runs in C) as a string wrapped in NUL characters, and is
# then unwrapped into a bare number. NUL cannot occur in our strings otherwise: PostgreSQL's
# jsonb refuses \u0000, so no stored value contains it, and `dumps` refuses it in any input.
# A backslash written before `u0000` is text (`\\u0000`), not a NUL: only an escape preceded
# by an even number of backslashes is one.
_DECIMAL = re.compile(r'(?<!\\)((?:\\\\)*)"\\u0000(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def dumps(value: Any) -> str:
    """Serialise like `json.dumps`, writing Decimal as an exact JSON number and dates as ISO."""
    decimals = 0

    def encode_other(other: Any) -> str:
        nonlocal decimals
        if isinstance(other, Decimal):
            if not other.is_finite():
                raise ValueError(f"{other} is not a JSON number")
            decimals += 1
            return f"\x00{other:f}\x00"
        if isinstance(other, date):  # datetime too
            return other.isoformat()
        raise TypeError(f"{type(other).__name__} is not JSON serialisable")

    encoder = json.JSONEncoder(allow_nan=False, check_circular=False, default=encode_other)
    text = encoder.encode(value)
    if decimals == 0 and "\\u0000" not in text:
        return text
    unwrapped, replaced = _DECIMAL.subn(r"\1\2", text)
    if replaced != decimals or _NUL_ESCAPE.search(unwrapped):
        raise ValueError("JSON text may not contain NUL characters")
    return unwrapped


def loads(text: str | bytes) -> Any:
    """Parse JSON, reading every non-integer number as Decimal."""
    return json.loads(text, parse_float=Decimal)


class NonFinite(float):
    """`NaN`, `Infinity` or `-Infinity` read from a request: kept as a marker (not a JSON
    number) so that validation can name where it was."""


def _non_finite(name: str) -> NonFinite:
    return NonFinite(name.replace("Infinity", "inf"))


def loads_request(text: str | bytes) -> Any:
    """Parse a request body like `loads`; NaN and Infinity become `NonFinite` markers."""
    return json.loads(text, parse_float=Decimal, parse_constant=_non_finite)


def first_unstorable(value: Any, *, max_depth: int, path: str = "") -> tuple[str, str] | None:
    """(JSON path, reason) of the first thing in `value` that cannot be stored as JSON: nesting
    deeper than `max_depth`, a non-finite number, or a NUL character; None if there is none.
    Walks without recursion, so any depth is safe."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                return where or "$", f"nested deeper than {max_depth} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    child_path = _join(where, str(key))
                    if "\x00" in str(key):
                        return child_path, "a key may not contain a NUL character"
                    stack.append((child, child_path, depth + 1))
            else:
                for index, child in enumerate(item):
                    stack.append((child, f"{where}[{index}]", depth + 1))
        elif (isinstance(item, float) and not math.isfinite(item)) or (
            isinstance(item, Decimal) and not item.is_finite()
        ):
            return where or "$", "must be a finite number (NaN and Infinity are not JSON)"
        elif isinstance(item, str) and "\x00" in item:
            return where or "$", "may not contain a NUL character"
    return None


def _join(path: str, key: str) -> str:
    return key if path == "" else f"{path}.{key}"
