"""`modelreg`: serve the API, migrate and verify the database, load the shipped catalog."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from modelreg import logs
from modelreg.catalog.meta import meta_json_schema
from modelreg.cli import db, imports, model, sunset, token, webhook
from modelreg.cli.common import console, reported_errors, url
from modelreg.config import get_settings

app = typer.Typer(
    help="modelreg: which LLM models you offer, to whom, at what price, in what state.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(model.app, name="model")
app.add_typer(token.app, name="token")
app.add_typer(imports.app, name="import")
app.add_typer(webhook.app, name="webhook")
app.add_typer(sunset.app, name="sunset")

schema_app = typer.Typer(help="Published schemas.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


@schema_app.command("meta")
def schema_meta() -> None:
    """Print the JSON Schema of a model's `meta`."""
    typer.echo(json.dumps(meta_json_schema(), indent=2))


@app.command()
def seed() -> None:
    """Load the shipped catalog: models not in the database yet are added, others left alone."""
    from modelreg.catalog.seed import seed_catalog

    with reported_errors():
        inserted, total = seed_catalog(url())
    console.print(f"seeded {inserted} new model(s); {total - inserted} already present")


class HttpServer(StrEnum):
    uvicorn = "uvicorn"
    granian = "granian"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    migrate_first: Annotated[
        bool,
        typer.Option(
            "--migrate",
            help="Upgrade the database to the head revision first (one instance only: with "
            "several, run `modelreg db upgrade` once from the deploy instead).",
        ),
    ] = False,
    server: Annotated[
        HttpServer,
        typer.Option(
            envvar="MODELREG_SERVER",
            help="The HTTP server: uvicorn, or granian (faster for small responses: see "
            "docs/benchmarks.md).",
        ),
    ] = HttpServer.uvicorn,
) -> None:
    """Serve the HTTP API (uvicorn, or granian with --server granian)."""
    from modelreg.db import migrate

    settings = get_settings()
    target = url()  # starts the embedded server in this process, before the workers
    typer.echo(f"database: {target.render_as_string(hide_password=True)}", err=True)
    with reported_errors():
        if migrate_first:
            db.announce_schema_change(*migrate.upgrade(target))
        migrate.require_head(
            target, hint=" (or `modelreg serve --migrate` where one instance serves)"
        )
    logs.configure()
    host, port = host or settings.host, port or settings.port
    if server is HttpServer.granian:
        _serve_granian(host, port, workers)
        return
    import uvicorn

    uvicorn.run(
        "modelreg.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logs.log_config(),  # applied again in each worker process
        access_log=False,
        # Header lines beyond the limit are refused by the server itself when it parses with h11
        # (with httptools, the application answers 431).
        h11_max_incomplete_event_size=settings.limits.max_header_bytes,
    )


def _serve_granian(host: str, port: int, workers: int) -> None:
    """The API under granian: HTTP parsed in Rust, the app in worker processes (one or more,
    forked from this one once the database is known to be at head)."""
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "modelreg.app:create_served_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        websockets=False,
        log_dictconfig=logs.log_config(),  # applied again in each worker process
        log_access=False,  # modelreg writes its own
    ).serve()


if __name__ == "__main__":
    app()
