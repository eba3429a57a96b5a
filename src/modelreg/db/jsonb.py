"""Exact JSON for `meta`: Decimal out as a JSON number, JSON numbers in as Decimal.

`json.dumps` refuses Decimal and `json.loads` turns 0.1 into a float; either would break the
promise that prices are exact. These two functions are used everywhere meta crosses the wire.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any


def dumps(value: Any) -> str:
    """Serialise like `json.dumps`, writing Decimal as an exact JSON number and dates as ISO."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        text = format(value, "f")
        return text
    if isinstance(value, dict):
        parts = (f"{json.dumps(str(k))}: {dumps(v)}" for k, v in value.items())
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    if isinstance(value, date):  # datetime too
        return json.dumps(value.isoformat())
    return json.dumps(value, allow_nan=False)


def loads(text: str | bytes) -> Any:
    """Parse JSON, reading every non-integer number as Decimal."""
    return json.loads(text, parse_float=Decimal)
