"""`flask --app wsgi create-staff EMAIL --role admin`: the first account, or one more."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from directory.db import session_scope
from directory.models import STAFF_ROLES
from directory.services.accounts import create_staff
from directory.services.errors import ValidationError


@click.command("create-staff")
@click.argument("email")
@click.option("--role", type=click.Choice(STAFF_ROLES), default="editor", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@with_appcontext
def create_staff_command(email: str, role: str, password_stdin: bool) -> None:
    """Create a staff account; the password is asked for twice (hidden) unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with session_scope() as session:
            staff = create_staff(session, email=email, role=role, password=password, actor="cli")
    except ValidationError as error:
        problems = "; ".join(f"{field}: {message}" for field, message in error.errors.items())
        raise click.ClickException(problems) from None
    click.echo(f"created {staff.role} account {staff.email}")


def init_app(app: Flask) -> None:
    app.cli.add_command(create_staff_command)
