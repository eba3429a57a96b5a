"""gzip on the fast path: a large response is offered compressed to clients that accept gzip
(compressed once, in a worker thread), with its own weak ETag and Vary: Accept-Encoding; small
ones and other clients get the bytes as they are."""

from __future__ import annotations

import gzip

import httpx2
import pytest

from modelreg.public.edge import accepts_gzip
from tests.fixtures.waiting import poll
from tests.public.instances import ACTIVE, Reader, routed

LIST = "/v1/models"
GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


def packed(reader: Reader, url: str, **headers: str) -> httpx2.Response:
    """A gzip response for `url`, once the compressed copy is made (the first requests after a
    snapshot swap get the bytes as they are meanwhile)."""
    return poll(
        lambda: reader.client.get(url, headers={**GZIP, **headers}),
        lambda r: r.headers.get("content-encoding") == "gzip",
    )


def test_the_list_is_sent_gzipped_to_a_client_that_accepts_gzip(reader: Reader) -> None:
    plain = reader.client.get(LIST, headers=IDENTITY)
    compressed = packed(reader, LIST)

    assert plain.status_code == compressed.status_code == 200
    assert "content-encoding" not in plain.headers
    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.content == plain.content  # decompressed by the client
    assert int(compressed.headers["content-length"]) < len(plain.content) / 3
    assert plain.headers["vary"].lower() == compressed.headers["vary"].lower()
    assert plain.headers["vary"].lower() == "accept-encoding"
    assert compressed.headers["etag"] == "W/" + plain.headers["etag"][:-1] + '-gzip"'


def test_the_compressed_bytes_are_gzip_of_the_identity_bytes(reader: Reader) -> None:
    plain = reader.client.get(LIST, headers=IDENTITY).content
    packed(reader, LIST)
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
    packed_etag = packed(reader, LIST).headers["etag"]
    plain_etag = reader.client.get(LIST, headers=IDENTITY).headers["etag"]

    for validator in (packed_etag, packed_etag.removeprefix("W/")):
        again = reader.client.get(LIST, headers={**GZIP, "If-None-Match": validator})
        assert again.status_code == 304
        assert again.headers["etag"] == packed_etag
        assert again.headers["vary"].lower() == "accept-encoding"

    # The identity ETag does not validate the compressed representation, nor the reverse.
    assert reader.client.get(LIST, headers={**GZIP, "If-None-Match": plain_etag}).status_code == 200
    assert (
        reader.client.get(LIST, headers={**IDENTITY, "If-None-Match": packed_etag}).status_code
        == 200
    )


def test_a_filtered_list_says_vary_on_both_paths_and_is_compressed_once_cached(
    reader: Reader,
) -> None:
    query = f"{LIST}?include_legacy=true"
    first = reader.client.get(routed(query), headers=GZIP)  # rendered by the API
    cached = packed(reader, query)  # then from the snapshot's response cache

    assert first.status_code == cached.status_code == 200
    assert first.headers["vary"].lower() == "accept-encoding"
    assert cached.content == first.content
    not_modified = reader.client.get(
        routed(query), headers={**GZIP, "If-None-Match": first.headers["etag"]}
    )
    assert not_modified.status_code == 304
    assert not_modified.headers["vary"].lower() == "accept-encoding"


def test_repeated_header_lines_are_read_as_one_list(reader: Reader) -> None:
    refused = reader.client.get(
        LIST, headers=[("Accept-Encoding", "gzip;q=0"), ("Accept-Encoding", "*")]
    )
    assert refused.status_code == 200
    assert "content-encoding" not in refused.headers

    etag = reader.client.get(LIST, headers=IDENTITY).headers["etag"]
    for url in (LIST, routed(LIST)):
        response = reader.client.get(
            url,
            headers=[
                ("Accept-Encoding", "identity"),
                ("If-None-Match", '"0"'),
                ("If-None-Match", etag),
            ],
        )
        assert response.status_code == 304, url


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
        (b"gzip;q=0.000", False),
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
