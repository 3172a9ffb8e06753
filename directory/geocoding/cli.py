"""`flask --app wsgi geocode`: place queued locations at their street address."""

from __future__ import annotations

import signal
import sys
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from directory import geocoding
from directory.geocoding.client import GeocoderOff


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


@click.command("geocode")
@click.option("--limit", type=click.IntRange(min=1), help="Geocode at most this many queued locations.")
@click.option("--retry-failed", is_flag=True, help="Queue again the locations whose geocoding failed "
              "(the geocoder unreachable too many times).")
@click.option("--retry-rejected", is_flag=True, help="Queue again the locations whose geocoder answer was "
              "refused (after changing GEOCODER or GEOCODER_MAX_DISTANCE_MI).")
@click.option("--watch", is_flag=True, help="Keep running: place locations as they are queued, until "
              "interrupted (a background worker; several may run at once).")
@click.option("--reclaim-after", type=click.IntRange(min=1), default=600, show_default=True,
              help="Seconds after which another worker's unfinished claim is taken over.")
@with_appcontext
def geocode_command(limit: int | None, retry_failed: bool, retry_rejected: bool, watch: bool,
                    reclaim_after: int) -> None:
    """Geocode the queued locations (new or changed addresses) with the configured GEOCODER.

    Resumable: stop it at any time (Ctrl-C) and run it again. Rejected answers go to the staff
    verification queue; network errors are retried later with backoff."""
    from directory.geocoding.worker import drain

    previous = signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop releases the claims too
    app = current_app._get_current_object()
    with tqdm(unit="locations", desc="geocode", disable=None) as bar:
        def total(count: int) -> None:
            bar.total = count
            bar.refresh()

        try:
            report = drain(app, limit=limit, retry_failed=retry_failed, retry_rejected=retry_rejected,
                           watch=watch, reclaim_after=timedelta(seconds=reclaim_after),
                           progress=bar.update, total=total)
        except GeocoderOff as error:
            click.echo(f"error: {error}; set GEOCODER (see the README's Geocoding section)", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted: the rest stays queued; run `geocode` again to go on", err=True)
            sys.exit(130)
        finally:
            signal.signal(signal.SIGTERM, previous)
    click.echo(report.summary())
    if report.stopped:
        click.echo(f"stopped: {report.stopped}", err=True)
        sys.exit(1)


def init_app(app: Flask) -> None:
    """Check the GEOCODER_* settings (refusing to start on a bad one) and add the command."""
    geocoding.init_app(app)
    app.cli.add_command(geocode_command)
