"""Fixtures of the event tests: a fresh seeded catalog served with fast retries and loopback
targets allowed, and a real receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import URL

from tests.events.receiver import Receiver
from tests.fixtures.catalog import Catalog, open_catalog
from tests.fixtures.databases import Clones

FAST = {
    "MODELREG_WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
    "MODELREG_WEBHOOKS__POLL_INTERVAL_S": "0.1",
    "MODELREG_WEBHOOKS__RETRY_BASE_S": "0.01",
    "MODELREG_WEBHOOKS__RETRY_MAX_DELAY_S": "0.05",
    "MODELREG_WEBHOOKS__TIMEOUT_S": "5",
    "MODELREG_SNAPSHOT__POLL_INTERVAL_S": "0.2",
    "MODELREG_SUNSET__ENABLED": "false",
    "MODELREG_LOG_REQUESTS": "false",
}


@pytest.fixture
def catalog(
    clones: Clones,
    use_database: Callable[[URL], None],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Catalog]:
    # Settings on top of FAST: @pytest.mark.parametrize("catalog", [{...}], indirect=True).
    extra: dict[str, str] = getattr(request, "param", None) or {}
    for key, value in {**FAST, **extra}.items():
        monkeypatch.setenv(key, value)
    yield from open_catalog(clones, use_database)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()
