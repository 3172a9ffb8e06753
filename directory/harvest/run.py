"""One harvest of a source: page through its five searches (networks, plans, practitioners' roles,
organizations' affiliations, organizations' services), apply each page in one unit of work with the
run's checkpoint, then settle (a full run ends the participations it no longer found).

The services search (HealthcareService with a specialty of our taxonomy's organization section:
infusion clinics, home infusion and specialty pharmacies, hospitals, clinics) gives the listings of
organizations, with their locations and specialties, even those in no network; a HealthcareService
says nothing of networks in Plan-Net, so participation comes from OrganizationAffiliation alone.

A run stopped part way (a crash, Ctrl-C) is resumed by the next `harvest` of that source at the page
after the last one committed. A page that cannot be read stops that search; the run then ends no
participation (it has not seen the whole source) and keeps the source's high-water mark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import delete, select, union
from sqlmodel import Session

from directory.db import get_engine
from directory.harvest.apply import WHOLE, PageWriter
from directory.harvest.client import FhirPager, HttpSettings, PageError
from directory.harvest.parse import PageReader
from directory.models import HarvestRun, HarvestSeen, HarvestSource, NetworkClaim, Specialty, utcnow
from directory.services.unit_of_work import unit_of_work

STAGES = ("networks", "plans", "roles", "affiliations", "services")
TARGETS = {"roles": ("PractitionerRole", ("practitioner", "organization", "location", "network")),
           "affiliations": ("OrganizationAffiliation", ("participating-organization", "location", "network")),
           "services": ("HealthcareService", ("organization", "location"))}
MAX_ERRORS = 500
SETTLE_BATCH = 500


@dataclass
class HarvestReport:
    source: str
    full: bool
    dry_run: bool
    resumed: bool = False
    pages: int = 0
    resources: int = 0
    complete: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        mode = ("full" if self.full else "incremental") + (", dry run: nothing written" if self.dry_run else "")
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(self.counts.items())) or "no change"
        lines = [f"{self.source} ({mode}{', resumed' if self.resumed else ''}): {self.pages} pages, "
                 f"{self.resources} resources; {counts}; {len(self.errors)} problems"]
        if not self.complete:
            lines.append("  not every page could be read: no participation was ended, the high-water mark kept")
        lines += [f"  {e}" for e in self.errors[:50]]
        if len(self.errors) > 50:
            lines.append(f"  ... and {len(self.errors) - 50} more (see the staff harvest page)")
        return "\n".join(lines)


def first_url(pager: FhirPager, stage: str, codes: list[str], since, page_size: int) -> str:
    """The first page of a stage's search; roles, affiliations and services only what changed since
    `since`. Networks come with their payers (whose names a network may give only by reference)."""
    params: list[tuple[str, str]] = [("_count", str(page_size))]
    if stage == "networks":
        return pager.url("Organization?" + urlencode([("type", "ntwk"), *params, ("_include", "Organization:partof")]))
    if stage == "plans":
        return pager.url("InsurancePlan?" + urlencode(params))
    kind, targets = TARGETS[stage]
    params += [("specialty", ",".join(codes))] + [("_include", f"{kind}:{t}") for t in targets]
    if since is not None:
        params.append(("_lastUpdated", "ge" + since.isoformat().replace("+00:00", "Z")))
    return pager.url(f"{kind}?" + urlencode(params))


def _open_run(session: Session, source: HarvestSource, full: bool, dry_run: bool) -> tuple[HarvestRun, bool]:
    running = None if dry_run else session.execute(select(HarvestRun).where(
        HarvestRun.source_id == source.id, HarvestRun.state == "running").order_by(HarvestRun.id.desc())
    ).scalars().first()
    if running is not None:
        return running, True
    full = full or source.high_water is None
    run = HarvestRun(source_id=source.id, full=full, dry_run=dry_run, since=None if full else source.high_water)
    session.add(run)
    session.flush()
    return run, False


class Harvest:
    """The run of one source; `dry_run` writes in one transaction rolled back at the end."""

    def __init__(self, app: Flask, source_id: int, *, full: bool, dry_run: bool, settings: HttpSettings,
                 page_size: int, progress: Callable[[int], None]):
        self.app, self.dry_run, self.settings = app, dry_run, settings
        self.page_size, self.progress = page_size, progress
        self.dry = Session(get_engine(), expire_on_commit=False) if dry_run else None
        with self._step() as session:
            source = session.get(HarvestSource, source_id)
            self.source_name, self.base_url, payer = source.name, source.base_url, source.payer
            run, resumed = _open_run(session, source, full, dry_run)
            if not dry_run:
                source.last_started_at, source.last_status = utcnow(), "running"
            self.run_id, self.stage, self.next_url, self.since = run.id, run.stage, run.next_url, run.since
            carried = session.execute(select(Specialty.code, Specialty.section).order_by(Specialty.code)).all()
            self.codes = [code for code, _ in carried]
            self.service_codes = [code for code, section in carried if section == "organization"]
            self.report = HarvestReport(source=source.name, full=run.full, dry_run=dry_run, resumed=resumed,
                                        pages=run.pages, counts=dict(run.counts), errors=list(run.errors))
        self.actor = f"harvest:{self.source_name}"
        self.reader = PageReader(set(self.codes), payer, set(self.service_codes))
        self.writer = PageWriter(None, source_id=source_id, run_id=self.run_id, actor=self.actor,
                                 full=self.report.full, since=self.since, payer=payer)
        self.writer.counts = dict(self.report.counts)
        self.report.complete = not self.report.counts.get("pages_unread")
        self.source_id = source_id

    @contextmanager
    def _step(self) -> Iterator[Session]:
        if self.dry is not None:
            yield self.dry
            self.dry.flush()
            return
        with unit_of_work(getattr(self, "actor", "harvest")) as uow:
            yield uow.session

    def _checkpoint(self, session: Session, stage: int, next_url: str | None, problems: list[str],
                    newest=None, page: bool = True) -> None:
        run = session.get(HarvestRun, self.run_id)
        run.stage, run.next_url = stage, next_url
        run.pages += int(page)
        run.counts = dict(self.writer.counts)
        run.errors = (list(run.errors) + problems)[:MAX_ERRORS]
        if newest is not None and (run.newest is None or newest > run.newest):
            run.newest = newest
        self.report.pages, self.report.counts, self.report.errors = run.pages, run.counts, run.errors

    def _codes(self, stage: str) -> list[str]:
        return self.service_codes if stage == "services" else self.codes

    def _learn_networks(self, pager: FhirPager) -> None:
        """A run resumed past the networks search reads it again, writing nothing: later pages may
        name a network's payer, or the network itself, only by reference."""
        try:
            for page in pager.pages(first_url(pager, "networks", [], None, self.page_size)):
                self.reader.read("networks", page.bundle, page.url)
        except PageError:
            pass  # the pages that need them report each network they cannot resolve

    def pages(self) -> None:
        pager = FhirPager(self.base_url, self.settings)
        try:
            if self.stage > 0 or self.next_url:  # resumed past the start of the networks search
                self._learn_networks(pager)
            for index in range(self.stage, len(STAGES)):
                stage = STAGES[index]
                if stage in TARGETS and not self._codes(stage):
                    continue  # we carry no specialty it could match
                url = self.next_url if index == self.stage and self.next_url else first_url(
                    pager, stage, self._codes(stage), None if stage in ("networks", "plans") else self.since,
                    self.page_size)
                try:
                    for page in pager.pages(url):
                        parsed = self.reader.read(stage, page.bundle, page.url)
                        with self._step() as session:
                            self.writer.session, self.writer.problems = session, parsed.problems
                            self.writer.apply(parsed)
                            self._count_skipped(parsed.skipped)
                            done = page.next_url is None
                            self._checkpoint(session, index + 1 if done else index, None if done else page.next_url,
                                             self.writer.problems, parsed.newest)
                        entries = len(page.bundle.get("entry") or [])
                        self.report.resources += entries
                        self.progress(entries)
                except PageError as error:
                    self.report.complete = False
                    self.writer.counts["pages_unread"] = self.writer.counts.get("pages_unread", 0) + 1
                    with self._step() as session:
                        self._checkpoint(session, index + 1, None, [f"{stage}: {error}"], page=False)
        finally:
            pager.close()

    def _count_skipped(self, n: int) -> None:
        if n:
            self.writer.counts["resources_skipped"] = self.writer.counts.get("resources_skipped", 0) + n

    def settle(self) -> None:
        """End what a full run did not find; set claims of providers seen whole to what was seen."""
        seen = select(HarvestSeen.listing_id).where(HarvestSeen.run_id == self.run_id)
        if self.report.full:
            ids = union(seen, select(NetworkClaim.listing_id).where(NetworkClaim.source_id == self.source_id))
        else:
            ids = seen.where(HarvestSeen.network_id == WHOLE)
        ids = ids.subquery()
        after = 0
        while True:
            with self._step() as session:
                batch = list(session.execute(select(ids.c[0]).where(ids.c[0] > after).distinct()
                                             .order_by(ids.c[0]).limit(SETTLE_BATCH)).scalars())
                if not batch:
                    return
                self.writer.session, self.writer.problems = session, []
                self.writer.settle(batch)
                self._checkpoint(session, len(STAGES), None, [], page=False)
            after = batch[-1]

    def finish(self) -> None:
        if self.dry is not None:
            self.dry.rollback()
            self.dry.close()
            return
        with self._step() as session:
            session.execute(delete(HarvestSeen).where(HarvestSeen.run_id == self.run_id))
            run = session.get(HarvestRun, self.run_id)
            source = session.get(HarvestSource, self.source_id)
            now = utcnow()
            run.state, run.finished_at = "done", now
            if self.report.complete and run.newest is not None:
                source.high_water = max(source.high_water or run.newest, run.newest)
            source.last_finished_at, source.last_status = now, "done" if self.report.complete else "incomplete"
            source.last_counts, source.last_errors = dict(run.counts), list(run.errors)[:50]
            source.next_due_at = now + timedelta(hours=source.every_hours)


def harvest_source(app: Flask, source_id: int, *, full: bool = False, dry_run: bool = False,
                   settings: HttpSettings | None = None, page_size: int = 100,
                   progress: Callable[[int], None] = lambda n: None) -> HarvestReport:
    """Harvest one source (resuming its unfinished run, if any) and report what changed."""
    work = Harvest(app, source_id, full=full, dry_run=dry_run, settings=settings or HttpSettings(),
                   page_size=page_size, progress=progress)
    try:
        work.pages()
        if work.report.complete:
            work.settle()
        work.finish()
    except BaseException:
        if work.dry is not None:
            work.dry.rollback()
            work.dry.close()
        raise
    return work.report
