"""`flask verification-report`: the verification dashboard and the oldest listings to verify."""

from __future__ import annotations

from datetime import date

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlmodel import Session

from directory.db import get_engine
from directory.services.verification import dashboard_counts, queue

SHOWN = 20


def report_lines(session: Session, today: date | None = None, state: str | None = None) -> list[str]:
    """The dashboard counts, then the `SHOWN` oldest queue items (optionally in one state)."""
    counts = dashboard_counts(session, today)
    lines = [f"{name.replace('_', ' ')}: {value}" for name, value in counts.items()]
    items = queue(session, today=today, state=state, limit=SHOWN)
    where = f" in {state.upper()}" if state else ""
    lines.append(f"oldest {len(items)} to verify{where}:")
    for item in items:
        since = "never verified" if item.last_verified is None else (
            f"{item.last_verified.isoformat()} ({item.days_since} days)")
        reports = f", {item.open_reports} open reports" if item.open_reports else ""
        lines.append(f"  {item.listing_id:>8}  {item.status:<9} {since}  {item.kind}  {item.name} "
                     f"[{', '.join(item.states)}]{reports}")
    return lines


@click.command("verification-report")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Count as if today were this date (YYYY-MM-DD).")
@click.option("--state", default=None, help="Only queue listings with a location in this state (e.g. MA).")
@with_appcontext
def verification_report_command(today, state: str | None) -> None:
    """Print the verification counts and the 20 listings most in need of verification."""
    with Session(get_engine()) as session:
        for line in report_lines(session, today.date() if today else None, state):
            click.echo(line)


def init_app(app: Flask) -> None:
    app.cli.add_command(verification_report_command)
