"""`/admin/v1/imports`: a plan from an uploaded list, read back by id with the revision it was
made at, applied once; a stale plan gets 409."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL

from modelreg.auth.roles import Role
from modelreg.db import jsonb
from tests.fixtures.http import bearer, serving
from tests.fixtures.tokens import issue_token
from tests.imports.helpers import DATA

IMPORTS = "/admin/v1/imports"
LITELLM = (DATA / "litellm.json").read_bytes()


def _json(response: Any) -> Any:
    return jsonb.loads(response.content)


def test_plan_apply_and_stale_plan_over_http(seeded_url: URL) -> None:
    editor = bearer(issue_token(seeded_url, Role.EDITOR))
    viewer = bearer(issue_token(seeded_url, Role.VIEWER))
    with serving(seeded_url) as client:
        assert client.post(f"{IMPORTS}?source=litellm", content=LITELLM).status_code == 401
        refused = client.post(f"{IMPORTS}?source=litellm", content=LITELLM, headers=viewer)
        assert refused.status_code == 403

        made = client.post(f"{IMPORTS}?source=litellm", content=LITELLM, headers=editor)
        assert made.status_code == 201, made.text
        plan = _json(made)
        revision = client.get("/readyz").json()["revision"]
        assert plan["revision"] == revision
        assert plan["has_changes"] is True
        assert {i["id"] for i in plan["plan"]["change"]} == {
            "gpt-5-mini",
            "gpt-4.1",
            "claude-sonnet-4-5",
        }
        assert made.headers["location"] == f"{IMPORTS}/{plan['id']}"

        read = client.get(f"{IMPORTS}/{plan['id']}", headers=viewer)
        assert read.status_code == 200
        assert _json(read)["plan"] == plan["plan"]
        assert client.get(f"{IMPORTS}/nope", headers=viewer).status_code == 404

        large = client.post(
            f"{IMPORTS}/{plan['id']}/apply", json={"reason": "sync"}, headers=editor
        )
        assert large.status_code == 409
        assert large.json()["code"] == "large_changes"

        # a second plan, then a manual edit of a model the first one changes: stale
        second = _json(
            client.post(
                f"{IMPORTS}?source=litellm&only=gpt-5-mini", content=LITELLM, headers=editor
            )
        )
        edited = client.patch(
            "/admin/v1/models/gpt-5-mini",
            json={"meta": {"description": "edited by hand"}},
            headers={**editor, "Content-Type": "application/merge-patch+json"},
        )
        assert edited.status_code == 200, edited.text
        stale = client.post(
            f"{IMPORTS}/{second['id']}/apply", json={"reason": "sync"}, headers=editor
        )
        assert stale.status_code == 409
        assert stale.json()["code"] == "stale_plan"
        assert stale.json()["models"] == ["gpt-5-mini"]

        fresh = _json(client.post(f"{IMPORTS}?source=litellm", content=LITELLM, headers=editor))
        applied = client.post(
            f"{IMPORTS}/{fresh['id']}/apply",
            json={"reason": "sync", "allow_large_changes": True},
            headers=editor,
        )
        assert applied.status_code == 200, applied.text
        assert _json(applied)["applied"] == {"add": 2, "change": 3, "deprecate": 2, "vanished": 0}
        assert _json(applied)["applied_by"] == "token:test-editor"
        again = client.post(
            f"{IMPORTS}/{fresh['id']}/apply", json={"reason": "sync"}, headers=editor
        )
        assert again.status_code == 409
        assert again.json()["code"] == "plan_applied"
        model = client.get("/admin/v1/models/gpt-5-mini", headers=viewer).json()
        assert model["meta"]["importSource"] == {"source": "litellm", "key": "gpt-5-mini"}


def test_a_body_that_is_not_the_format_is_422(seeded_url: URL) -> None:
    editor = bearer(issue_token(seeded_url, Role.EDITOR))
    with serving(seeded_url) as client:
        response = client.post(f"{IMPORTS}?source=openrouter", content=b"[]", headers=editor)
    assert response.status_code == 422
    assert response.json()["code"] == "source_unreadable"
