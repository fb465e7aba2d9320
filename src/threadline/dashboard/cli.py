"""`threadline people ...`: the first operator, invitations, passwords (cli.py only wires this in)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

import typer

from threadline.context import AppContext
from threadline.dashboard import people

Email = Annotated[str, typer.Argument(help="The person's email address.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input (for scripts).")
]


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Repeat password", hide_input=True) != first:
        raise typer.BadParameter("the passwords differ")
    return str(first)


def register(
    app: typer.Typer,
    *,
    operator_context: Callable[[], AbstractContextManager[AppContext]],
    user_errors: Callable[[Any], Any],
) -> None:
    people_app = typer.Typer(help="People who sign in to the dashboard (/app/).", no_args_is_help=True)
    app.add_typer(people_app, name="people")

    @people_app.command("create-operator")
    @user_errors
    def create_operator(email: Email, password_stdin: PasswordStdin = False) -> None:
        """Create an operator (platform staff) who signs in with this email and password."""
        password = read_password(password_stdin)
        with operator_context() as ctx:
            person = people.create_operator(ctx, email, password)
        typer.echo(f"operator {person.email} created ({person.id})")

    @people_app.command("invite")
    @user_errors
    def invite(
        email: Email,
        org: Annotated[str | None, typer.Option(help="Org id (omit to invite an operator).")] = None,
        role: Annotated[
            str | None, typer.Option(help="owner or member (default: owner if none yet).")
        ] = None,
    ) -> None:
        """Print a one-time link where the person sets a password."""
        with operator_context() as ctx:
            made = people.invite(ctx, email, org_id=org, role=role)
            typer.echo(made.link(ctx.settings.public_base_url))

    @people_app.command("set-password")
    @user_errors
    def set_password(email: Email, password_stdin: PasswordStdin = False) -> None:
        """Set a person's password (ends every session of theirs)."""
        password = read_password(password_stdin)
        with operator_context() as ctx:
            person = people.find_by_email(ctx, email)
            if person is None:
                raise typer.BadParameter(f"no person with email {email}")
            people.set_password(ctx, person.id, password)
        typer.echo("password set")

    @people_app.command("list")
    @user_errors
    def list_people(org: Annotated[str | None, typer.Option(help="Only this org's people.")] = None) -> None:
        """Everyone who can sign in."""
        with operator_context() as ctx:
            for p in people.list_people(ctx, org):
                typer.echo(f"{p.id}\t{p.email}\t{p.role}\t{p.org_id or '-'}")
