"""`flask --app wsgi source-add | source-list | harvest`: register payers' directories and harvest them."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from tqdm import tqdm

from directory.harvest.client import HttpSettings
from directory.harvest.run import harvest_source
from directory.models import HarvestSource
from directory.services.errors import ValidationError
from directory.services.harvest_sources import add_source, sources
from directory.services.unit_of_work import unit_of_work


@click.command("source-add")
@click.argument("name")
@click.argument("base_url")
@click.option("--payer", help="The payer this directory speaks for (only its networks are taken).")
@click.option("--every", "every_hours", type=click.IntRange(min=1), default=24, show_default=True,
              help="Hours between runs (the next due date on the staff page).")
@with_appcontext
def source_add_command(name: str, base_url: str, payer: str | None, every_hours: int) -> None:
    """Register a payer's Plan-Net provider directory (its FHIR base URL) as a harvest source."""
    try:
        with unit_of_work("cli") as uow:
            source = add_source(uow.session, name=name, base_url=base_url, payer=payer, every_hours=every_hours,
                                actor="cli")
    except ValidationError as error:
        for field, message in error.errors.items():
            click.echo(f"error: {field}: {message}", err=True)
        sys.exit(2)
    click.echo(f"source {source.name} added: {source.base_url}" + (f" (payer {source.payer})" if source.payer else ""))


@click.command("source-list")
@with_appcontext
def source_list_command() -> None:
    """List the harvest sources with their last run and next due date."""
    with unit_of_work("cli") as uow:
        rows = sources(uow.session)
        if not rows:
            click.echo("no sources: add one with `flask --app wsgi source-add NAME BASE_URL`")
        for s in rows:
            last = s.last_finished_at.strftime("%Y-%m-%d %H:%M UTC") if s.last_finished_at else "never"
            due = s.next_due_at.strftime("%Y-%m-%d %H:%M UTC") if s.next_due_at else "now"
            counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(s.last_counts.items())) or "-"
            click.echo(f"{s.name}\t{s.base_url}\tpayer: {s.payer or 'any'}\tlast run: {last} ({s.last_status or '-'})"
                       f"\tnext due: {due}\t{counts}\t{len(s.last_errors)} problems")


@click.command("harvest")
@click.argument("name", required=False)
@click.option("--full", is_flag=True, help="Read everything (not only what changed since the last run) and end "
              "the participations the source no longer lists.")
@click.option("--dry-run", is_flag=True, help="Read and report what would change; write nothing.")
@click.option("--page-size", type=click.IntRange(1, 1000), default=100, show_default=True)
@with_appcontext
def harvest_command(name: str | None, full: bool, dry_run: bool, page_size: int) -> None:
    """Harvest network participation from one source (NAME) or every source.

    Resumable: an interrupted run goes on at the page after the last one committed."""
    app = current_app._get_current_object()
    with unit_of_work("cli") as uow:
        query = select(HarvestSource.id, HarvestSource.name).order_by(HarvestSource.name)
        if name is not None:
            query = query.where(HarvestSource.name == name)
        chosen = uow.session.execute(query).all()
    if not chosen:
        click.echo(f"error: no source named {name!r} (see `source-list`)" if name else
                   "error: no sources: add one with `source-add`", err=True)
        sys.exit(2)
    settings = HttpSettings(min_interval=app.config.get("HARVEST_MIN_INTERVAL", 0.1),
                            timeout=app.config.get("HARVEST_TIMEOUT", 30.0))
    failed = False
    for source_id, source_name in chosen:
        with tqdm(unit="resources", desc=f"harvest {source_name}", disable=None) as bar:
            try:
                report = harvest_source(app, source_id, full=full, dry_run=dry_run, settings=settings,
                                        page_size=page_size, progress=bar.update)
            except KeyboardInterrupt:
                click.echo("interrupted: run `harvest` again to go on from the last page committed", err=True)
                sys.exit(130)
        click.echo(report.summary())
        failed = failed or not report.complete
    if failed:
        sys.exit(1)


def init_app(app: Flask) -> None:
    for command in (source_add_command, source_list_command, harvest_command):
        app.cli.add_command(command)
