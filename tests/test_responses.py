"""If-None-Match as both read paths compare it (RFC 9110 13.1.2, weak comparison)."""

from __future__ import annotations

import pytest

from modelreg.responses import none_match


@pytest.mark.parametrize(
    ("etag", "header", "matched"),
    [
        (b'"12"', b'"12"', True),
        (b'"12"', b'W/"12"', True),
        (b'W/"12-gzip"', b'"12-gzip"', True),
        (b'W/"12-gzip"', b'W/"12-gzip"', True),
        (b'"12"', b'"7", "12"', True),
        (b'"12"', b"*", True),
        (b'"12"', b" * ", True),
        (b'"12"', b'"123"', False),
        (b'"12"', b'"112"', False),
        (b'"12"', b'"12-gzip"', False),
        (b'W/"12-gzip"', b'"12"', False),
        (b'"12"', b"", False),
        (b'"12"', None, False),
    ],
)
def test_none_match_compares_weakly_and_whole_tags(
    etag: bytes, header: bytes | None, matched: bool
) -> None:
    assert none_match(etag, header) is matched
