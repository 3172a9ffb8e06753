"""Command-line interface: thin click commands over plain functions."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from directory import migrate
from directory.db import get_engine, session_scope
from directory.referencedata import sync_specialties


def init_db() -> None:
    """Migrate the database to head and load the reference tables."""
    migrate.upgrade(get_engine())
    with session_scope() as session:
        sync_specialties(session)


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the database schema (Alembic head) and load reference data."""
    init_db()
    click.echo(f"database ready: {current_app.config['DATABASE_URL']}")


@click.command("seed-demo")
@with_appcontext
@click.option("--count", default=3000, show_default=True, help="Listings to generate.")
@click.option("--seed", default=42, show_default=True, help="Random seed (same seed, same data).")
@click.option("--no-reindex", is_flag=True, help="Leave the search index to a later `reindex`.")
@click.option("--geocoded", is_flag=True, help="Put each location at its own point spread within its ZIP "
              "(deterministic, no geocoder asked; geocoder 'demo-spread') instead of the ZIP's centroid.")
def seed_demo_command(count: int, seed: int, no_reindex: bool, geocoded: bool) -> None:
    """Fill the database with fictional demo listings (replacing earlier demo data)."""
    from directory import demo

    init_db()
    with tqdm(total=count, unit="listings", desc="demo data", disable=None) as bar:
        made = demo.generate(get_engine(), count=count, seed=seed, progress=bar.update, geocoded=geocoded)
    click.echo(f"{made} demo listings written")
    if not no_reindex:
        reindex()


def reindex() -> int:
    from sqlalchemy import func, select
    from sqlmodel import Session

    from directory.models import Listing
    from directory.search import rebuild_index
    from directory.search.documents import iter_all_docs  # noqa: F401  (fail early on import errors)

    with Session(get_engine()) as session:
        total = session.execute(select(func.count()).select_from(Listing)).scalar_one()
    with tqdm(total=total, unit="listings", desc="reindex", disable=None) as bar:
        count = rebuild_index(current_app._get_current_object(), progress=bar.update)
    where = ("PostgreSQL (SEARCH_BACKEND=postgres)" if current_app.config["SEARCH_BACKEND"] == "postgres"
             else current_app.config["INDEX_DIR"])
    click.echo(f"indexed {count} listings into {where}")
    return count


@click.command("reindex")
@with_appcontext
def reindex_command() -> None:
    """Rebuild the search index and listing table from the database."""
    reindex()


@click.command("check-index")
@with_appcontext
def check_index_command() -> None:
    """Compare the database with the search index; exit 1 on any drift."""
    from directory.search import get_searcher
    from directory.search.sync import check_index

    report = check_index(get_engine(), get_searcher())
    click.echo(
        f"database: {report.database} searchable listings; text index: {report.indexed}; "
        f"pending changes: {report.pending}"
    )
    for label, ids in (
        ("missing from text index", report.missing),
        ("in text index but not in database", report.extra),
        ("out of date in text index", report.stale),
        ("missing from listing table", report.table_missing),
        ("in listing table but not in database", report.table_extra),
    ):
        if ids:
            shown = ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")
            click.echo(f"{len(ids)} {label}: {shown}")
    for problem in report.derived:
        click.echo(problem)
    if not report.ok:
        click.echo("drift found: run `flask --app wsgi reindex`", err=True)
        sys.exit(1)
    click.echo("index matches the database")


def init_app(app: Flask) -> None:
    for command in (init_db_command, seed_demo_command, reindex_command, check_index_command):
        app.cli.add_command(command)
