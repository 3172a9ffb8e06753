"""Click commands for imports and exports; each only opens files and calls the plain functions."""

from __future__ import annotations

import importlib
import io
import os
import sys
from collections.abc import Callable

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlmodel import Session
from tqdm import tqdm

from directory.db import get_engine
from directory.importers.upsert import ImportReport
from directory.services.unit_of_work import unit_of_work

SHOWN_REJECTIONS = 50


def print_report(report: ImportReport) -> None:
    click.echo(report.summary())
    if report.fields:
        click.echo("fields that would change:" if report.dry_run else "fields changed:")
        for line in report.field_lines():
            click.echo(f"  {line}")
    for line, key, reason in report.rejections[:SHOWN_REJECTIONS]:
        click.echo(f"line {line}: {key or '-'}: {reason}", err=True)
    if report.rejected > SHOWN_REJECTIONS:
        click.echo(f"... and {report.rejected - SHOWN_REJECTIONS} more rejections", err=True)


class _CountedBytes(io.RawIOBase):
    """A binary file that advances a progress bar by the bytes read from it."""

    def __init__(self, raw, bar: tqdm):
        self.raw, self.bar = raw, bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.raw.readinto(buffer)
        self.bar.update(count or 0)
        return count

    def seekable(self) -> bool:
        return self.raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # The template importer reads the file twice (to group rows by NPI): the bar starts again.
        position = self.raw.seek(offset, whence)
        self.bar.reset()
        self.bar.update(position)
        return position

    def tell(self) -> int:
        return self.raw.tell()


def run_import(importer: Callable[..., ImportReport], path: str, dry_run: bool, progress: bool = False) -> None:
    """Run an importer on a file (it commits batch by batch), bring the search index up to date,
    exit 1 on any rejection."""
    with open(path, "rb") as raw:
        bar = tqdm(total=os.path.getsize(path), unit="B", unit_scale=True, desc="import",
                   disable=None if progress else True)
        with bar:
            counted = io.BufferedReader(_CountedBytes(raw, bar), buffer_size=1 << 20)
            stream = io.TextIOWrapper(counted, encoding="utf-8", errors="replace", newline="")
            try:
                with unit_of_work("cli") as work:
                    report = importer(work.session, stream, actor=work.actor, dry_run=dry_run)
            except ValueError as error:  # an unreadable file, before any row is written
                click.echo(f"error: {error}", err=True)
                sys.exit(1)
    print_report(report)
    if report.rejected:
        sys.exit(1)


# name -> (module, importer function, help, whether to show a progress bar: the long files)
IMPORTS = {
    "import-csv": ("template", "import_template", "Upsert listings from our CSV template (one row per "
                   "listing-location).", False),
    "import-nppes": ("nppes", "import_nppes", "Upsert IVIG-relevant providers from a CMS NPPES npidata_pfile "
                     "CSV.", True),
    "import-networks": ("networks", "import_networks", "Upsert payer networks from a CSV with columns payer, "
                        "name, plan_type.", False),
    "import-jsonl": ("jsonl", "import_jsonl", "Upsert networks and listings (with roles) from an export-jsonl "
                     "file; restores it exactly.", True),
}


def import_command(name: str) -> click.Command:
    """The click command for one importer of IMPORTS (imported only when it runs)."""
    module, function, help_text, progress = IMPORTS[name]

    @click.command(name, help=help_text)
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
    @with_appcontext
    def command(path: str, dry_run: bool) -> None:
        importer = getattr(importlib.import_module(f"directory.importers.{module}"), function)
        run_import(importer, path, dry_run, progress=progress)

    return command


def _export(kind: str, path: str) -> None:
    from directory import exports

    write = exports.export_csv if kind == "csv" else exports.export_jsonl
    with Session(get_engine()) as session, open(path, "w", encoding="utf-8", newline="") as stream:
        count = write(session, stream)
    click.echo(f"exported {count} listings to {path}")


@click.command("export-csv")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def export_csv_command(path: str) -> None:
    """Write every listing as our CSV template (re-importable with import-csv)."""
    _export("csv", path)


@click.command("export-jsonl")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def export_jsonl_command(path: str) -> None:
    """Write networks, then every listing in full (ids, roles, dates), one JSON object per line."""
    _export("jsonl", path)


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup_command(path: str) -> None:
    """Copy the live SQLite database to PATH, safely while the service writes (PostgreSQL: pg_dump)."""
    from directory.backup import BackupUnsupported, backup

    try:
        size = backup(get_engine(), path)
    except BackupUnsupported as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo(f"backed up the database to {path} ({size} bytes)")


def init_app(app: Flask) -> None:
    for command in (*(import_command(name) for name in IMPORTS), export_csv_command, export_jsonl_command,
                    backup_command):
        app.cli.add_command(command)
