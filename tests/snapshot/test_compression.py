"""gzip on the fast path: a large response is offered compressed to clients that accept gzip,
with its own ETag and Vary: Accept-Encoding; small ones and other clients get the bytes as they
are."""

from __future__ import annotations

import gzip

import pytest

from modelreg.snapshot.http import accepts_gzip
from tests.snapshot.conftest import Reader
from tests.snapshot.helpers import ACTIVE

LIST = "/v1/models"
GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


def test_the_list_is_sent_gzipped_to_a_client_that_accepts_gzip(reader: Reader) -> None:
    plain = reader.client.get(LIST, headers=IDENTITY)
    packed = reader.client.get(LIST, headers=GZIP)

    assert plain.status_code == packed.status_code == 200
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # decompressed by the client
    assert int(packed.headers["content-length"]) < len(plain.content) / 3
    assert plain.headers["vary"].lower() == packed.headers["vary"].lower() == "accept-encoding"
    assert packed.headers["etag"] != plain.headers["etag"]
    assert packed.headers["etag"] == plain.headers["etag"][:-1] + '-gzip"'


def test_the_compressed_bytes_are_gzip_of_the_identity_bytes(reader: Reader) -> None:
    plain = reader.client.get(LIST, headers=IDENTITY).content
    with reader.client.stream("GET", LIST, headers=GZIP) as response:
        raw = b"".join(response.iter_raw())
    assert raw[:2] == b"\x1f\x8b"
    assert gzip.decompress(raw) == plain


def test_a_small_response_is_sent_as_it_is(reader: Reader) -> None:
    response = reader.client.get(f"/v1/models/{ACTIVE}", headers=GZIP)
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers


def test_if_none_match_compares_the_etag_of_the_representation_sent(reader: Reader) -> None:
    packed_etag = reader.client.get(LIST, headers=GZIP).headers["etag"]
    plain_etag = reader.client.get(LIST, headers=IDENTITY).headers["etag"]

    again = reader.client.get(LIST, headers={**GZIP, "If-None-Match": packed_etag})
    assert again.status_code == 304
    assert again.headers["etag"] == packed_etag
    assert again.headers["vary"].lower() == "accept-encoding"

    # The identity ETag does not validate the compressed representation, nor the reverse.
    assert reader.client.get(LIST, headers={**GZIP, "If-None-Match": plain_etag}).status_code == 200
    assert (
        reader.client.get(LIST, headers={**IDENTITY, "If-None-Match": packed_etag}).status_code
        == 200
    )


def test_a_cached_filtered_list_is_compressed_too(reader: Reader) -> None:
    query = f"{LIST}?include_legacy=true"
    first = reader.client.get(query, headers=GZIP)  # rendered through the API, then kept
    second = reader.client.get(query, headers=GZIP)  # from the snapshot's response cache

    assert first.status_code == second.status_code == 200
    assert second.headers["content-encoding"] == "gzip"
    assert second.content == first.content


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (b"gzip", True),
        (b"gzip, deflate, br", True),
        (b"deflate, GZIP;q=0.5", True),
        (b"x-gzip", True),
        (b"*", True),
        (b"br;q=1.0, *;q=0.1", True),
        (b"gzip;q=0", False),
        (b"gzip;q=0.0, *", False),
        (b"*;q=0", False),
        (b"identity", False),
        (b"deflate, br", False),
        (b"", False),
        (b"gzip;q=nonsense", False),
        (b"gzipx", False),
    ],
)
def test_accept_encoding_is_read_with_its_q_values(header: bytes, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted
