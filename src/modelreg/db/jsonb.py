"""Exact JSON for `meta`: Decimal out as a JSON number, JSON numbers in as Decimal.

`json.dumps` refuses Decimal and `json.loads` turns 0.1 into a float; either would break the
promise that prices are exact. These two functions are used everywhere meta crosses the wire.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

# A Decimal leaves json.dumps (which runs in C) as a string wrapped in NUL characters, and is
# then unwrapped into a bare number. NUL cannot occur in our strings otherwise: PostgreSQL's
# jsonb refuses \u0000, so no stored value contains it, and `dumps` refuses it in any input.
_DECIMAL = re.compile(r'"\\u0000(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


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
    unwrapped, replaced = _DECIMAL.subn(r"\1", text)
    if replaced != decimals or "\\u0000" in unwrapped:
        raise ValueError("JSON text may not contain NUL characters")
    return unwrapped


def loads(text: str | bytes) -> Any:
    """Parse JSON, reading every non-integer number as Decimal."""
    return json.loads(text, parse_float=Decimal)
