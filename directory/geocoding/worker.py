"""Work through the geocode queue: the body of `flask --app wsgi geocode`.

Each run first queues the locations at their ZIP centroid that have no queue row (bulk-loaded
demo data, rows older than the queue), then claims due rows a few at a time and, for each, asks the
geocoder (at most once per GEOCODER_MIN_DELAY), judges the answer and writes the outcome through
`directory.services.geocoding` in its own commit, so a crash or Ctrl-C loses at most the answer
in flight. The search index follows through the outbox every `apply_every` placements and at the
end. An address another location already got from this geocoder is placed from that answer
without asking again.

Network errors and timeouts put the row off with a growing backoff (a 429's Retry-After is
honoured, and the run pauses for it); after `MAX_ATTEMPTS` the row is failed and
`--retry-failed` queues it again. After `stop_after_errors` errors in a row the run stops, keeping
the queue. Claims name the worker (host:pid:tag): a claim of a process on this host that has ended
is taken again at once, anyone else's after `reclaim_after`.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlmodel import Session

from directory.geo import ZipError, lookup_zip
from directory.geocoding import get_geocoder
from directory.geocoding.addresses import address_text
from directory.geocoding.client import Geocoder, GeocodingFailed
from directory.geocoding.sanity import rejection
from directory.models import GeocodeTask, Location, utcnow
from directory.services import geocoding as work_queue
from directory.services.geocode_queue import queue_unqueued
from directory.services.unit_of_work import unit_of_work

NO_MATCH = "the geocoder found no match for this address"
MAX_PAUSE = 300.0  # longest pause for a rate-limited geocoder's Retry-After, seconds


@dataclass
class DrainReport:
    queued: int = 0  # locations newly queued by the sweep
    placed: int = 0
    reused: int = 0  # placed from another location's answer for the same address
    rejected: int = 0
    deferred: int = 0  # network errors: put off for a retry
    failed: int = 0  # network errors: out of attempts
    skipped: int = 0  # the address changed (or the location went) while it was being geocoded
    stopped: str | None = None  # why the run stopped early

    def summary(self) -> str:
        return (f"placed {self.placed} (reused {self.reused}), rejected {self.rejected}, retry later {self.deferred}, "
                f"failed {self.failed}, skipped {self.skipped}; newly queued {self.queued}")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def dead_workers(names: list[str]) -> list[str]:
    """The workers among `names` that ran on this host in a process that no longer exists."""
    host = socket.gethostname()
    dead = []
    for name in names:
        claimed_host, _, rest = name.partition(":")
        pid = rest.partition(":")[0]
        if claimed_host != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            dead.append(name)
        except PermissionError:  # alive, another user's
            pass
    return dead


def due_count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(GeocodeTask).where(
        GeocodeTask.state == "pending", GeocodeTask.next_attempt_at <= utcnow())).scalar_one()


class Drain:
    """One worker's run over the queue (see the module docstring)."""

    def __init__(self, app: Flask, *, reclaim_after: timedelta, batch: int, apply_every: int,
                 stop_after_errors: int, sleep: Callable[[float], None]):
        self.geocoder: Geocoder = get_geocoder(app)
        self.actor = f"geocoder:{self.geocoder.name}"
        self.worker = worker_name()
        self.reclaim_after, self.batch, self.apply_every = reclaim_after, batch, apply_every
        self.stop_after_errors, self.sleep = stop_after_errors, sleep
        self.report = DrainReport()
        self.errors_in_a_row = 0
        self.unapplied = 0

    def claim(self, session: Session, most: int) -> list[work_queue.Claim]:
        dead = dead_workers(work_queue.claimants(session))
        return work_queue.claim_tasks(session, self.worker, limit=most, reclaim_after=self.reclaim_after, dead=dead)

    def handle(self, session: Session, claim: work_queue.Claim) -> None:
        """Geocode one claimed row and write its outcome (the caller commits)."""
        location = session.get(Location, claim.location_id, populate_existing=True)
        if location is None:
            self.report.skipped += 1
            return
        known = work_queue.known_point(session, claim.address_hash, self.geocoder.name)
        if known is not None and known.id != location.id:
            self._place(session, claim, known.lat, known.lon, known.geo_quality, reused=True)
            return
        try:
            match = self.geocoder.lookup(address_text(location.address, location.city, location.state, location.zip))
        except GeocodingFailed as error:
            self._defer(session, claim, error)
            return
        self.errors_in_a_row = 0
        reason = NO_MATCH if match is None else self._judge(location, match)
        if reason is not None:
            done = work_queue.reject_location(session, claim, worker=self.worker, reason=reason, actor=self.actor)
            self._count(done, "rejected")
        else:
            self._place(session, claim, match.lat, match.lon, match.kind, reused=False)

    def _judge(self, location: Location, match) -> str | None:
        try:
            place = lookup_zip(location.zip)
        except ZipError:
            return f"ZIP {location.zip} is not in the gazetteer, so the point cannot be checked"
        return rejection(match, state=location.state, centre=(place.lat, place.lon), zip5=place.zip,
                         max_distance_mi=self.geocoder.settings.max_distance_mi)

    def _place(self, session: Session, claim, lat: float, lon: float, quality: str | None, *, reused: bool) -> None:
        done = work_queue.place_location(session, claim, worker=self.worker, lat=lat, lon=lon,
                                         geocoder=self.geocoder.name, quality=quality, actor=self.actor)
        self._count(done, "placed")
        if done:
            self.report.reused += reused
            self.unapplied += 1

    def _count(self, done: bool, outcome: str) -> None:
        setattr(self.report, outcome if done else "skipped", getattr(self.report, outcome if done else "skipped") + 1)

    def _defer(self, session: Session, claim, error: GeocodingFailed) -> None:
        state = work_queue.defer_task(session, claim, worker=self.worker, error=str(error),
                                      retry_after=error.retry_after, permanent=error.permanent)
        self.report.failed += state == "failed"
        self.report.deferred += state == "pending"
        self.errors_in_a_row += 1
        if self.errors_in_a_row >= self.stop_after_errors:
            self.report.stopped = (f"{self.errors_in_a_row} geocoder errors in a row (last: {error}); "
                                   f"the queue is kept, run `geocode` again later")
        elif error.retry_after:
            session.commit()  # the row's new attempt time is kept even if the pause is interrupted
            self.sleep(min(MAX_PAUSE, error.retry_after))


def drain(app: Flask, *, limit: int | None = None, retry_failed: bool = False, retry_rejected: bool = False,
          reclaim_after: timedelta = timedelta(minutes=10), batch: int = 20, apply_every: int = 200,
          stop_after_errors: int = 5, watch: bool = False, poll_seconds: float = 5.0,
          progress: Callable[[int], object] | None = None, total: Callable[[int], object] | None = None,
          sleep: Callable[[float], None] = time.sleep) -> DrainReport:
    """Work through the geocode queue (see the module docstring): at most `limit` rows, or, with
    `watch`, until interrupted (polling every `poll_seconds` when nothing is due). `total(n)` is
    told how many rows are due at the start, `progress(1)` after each. Raises GeocoderOff."""
    run = Drain(app, reclaim_after=reclaim_after, batch=batch, apply_every=apply_every,
                stop_after_errors=stop_after_errors, sleep=sleep)
    with unit_of_work(run.actor) as work:
        session = work.session
        for wanted, state in ((retry_failed, "failed"), (retry_rejected, "rejected")):
            if wanted:
                work_queue.retry(session, state)
                session.commit()
        run.report.queued = queue_unqueued(session)
        if total is not None:
            due = due_count(session)
            total(due if limit is None else min(limit, due))
        handled = 0
        try:
            while run.report.stopped is None and (limit is None or handled < limit):
                claims = run.claim(session, run.batch if limit is None else min(run.batch, limit - handled))
                if not claims:
                    if not watch:
                        break
                    work.commit()
                    run.unapplied = 0
                    sleep(poll_seconds)
                    continue
                for claim in claims:
                    if run.report.stopped is not None:
                        break
                    run.handle(session, claim)
                    session.commit()
                    handled += 1
                    if progress is not None:
                        progress(1)
                    if run.unapplied >= run.apply_every:
                        work.commit()
                        run.unapplied = 0
                work_queue.release_claims(session, run.worker)
        except KeyboardInterrupt:
            session.rollback()
            work_queue.release_claims(session, run.worker)
            work.commit()  # what was placed reaches the index before we stop
            raise
        work_queue.release_claims(session, run.worker)
    return run.report
