"""`modelreg token ...`: API tokens (the secret is printed once; only its hash is stored)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.auth import service
from modelreg.auth.models import ApiToken
from modelreg.auth.roles import Role
from modelreg.cli.common import console, err_console, reported_errors
from modelreg.cli.runner import cli_actor, run_in_transaction

app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses it.")],
    role: Annotated[Role, typer.Option("--role", help="viewer, editor or admin.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print the token alone.")] = False,
) -> None:
    """Create a token and print it (once: it cannot be shown again)."""

    async def work(db: AsyncSession) -> tuple[ApiToken, str]:
        return await service.create_token(db, name=name, role=role, actor=cli_actor())

    with reported_errors():
        if not name.strip():
            err_console.print("[red]error[/red]: --name must not be empty")
            raise typer.Exit(2)
        token, secret = run_in_transaction(work)
    if quiet:
        typer.echo(secret)
        return
    err_console.print(
        f"token {token.id} ({token.role}) for {token.name!r}; store it now, it is not shown again:"
    )
    typer.echo(secret)


@app.command("list")
def list_() -> None:
    """Every token (never the secret)."""

    async def work(db: AsyncSession) -> list[ApiToken]:
        return list(await service.list_tokens(db))

    with reported_errors():
        tokens = run_in_transaction(work)
    table = Table("id", "name", "role", "created", "by", "last used", "revoked")
    for t in tokens:
        table.add_row(
            t.id,
            t.name,
            t.role,
            t.created_at.isoformat(timespec="seconds"),
            t.created_by,
            t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "",
            t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "",
        )
    console.print(table)


@app.command()
def revoke(token_id: str) -> None:
    """Revoke a token; requests with it get 401 from now on."""

    async def work(db: AsyncSession) -> ApiToken:
        return await service.revoke_token(db, token_id, cli_actor())

    with reported_errors():
        run_in_transaction(work)
    console.print(f"revoked {token_id}")
