"""Writing what a page asserts: networks, listings for NPIs we lack, network claims and the live
participation rows they imply, each change audited with the source as actor and the listing's index
change recorded, all in the caller's transaction (one page, one transaction).

A provider's roles may span pages, so during a run a claim only rises towards what the run has seen
so far (accepting if any role accepts, the earliest start, the latest end); `settle` then sets each
claim of a provider the run saw whole to exactly what the run saw, and ends the claims it did not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session

from directory.geo import ZipError
from directory.harvest.parse import ParsedPage, Provider
from directory.models import (
    AuditEntry,
    HarvestSeen,
    Listing,
    Location,
    Network,
    NetworkClaim,
    Participation,
    utcnow,
)
from directory.reference import plan_types
from directory.search.sync import record_change
from directory.services.errors import ValidationError
from directory.services.listing_rules import ListingInput, LocationInput
from directory.services.listings import create_listing
from directory.services.roles import add_role

WHOLE = 0  # HarvestSeen.network_id marking a listing the run saw whole


@dataclass(frozen=True)
class Terms:
    """What a source says of one listing in one network."""

    start: date | None
    end: date | None
    accepting: bool | None

    def merge(self, other: Terms) -> Terms:
        """Both roles' say: the earliest known start, no end if either has none, accepting if either is."""
        starts = [d for d in (self.start, other.start) if d is not None]
        ends = None if self.end is None or other.end is None else max(self.end, other.end)
        said = [a for a in (self.accepting, other.accepting) if a is not None]
        return Terms(min(starts) if starts else None, ends, any(said) if said else None)

    def shown(self) -> dict:
        return {"start": self.start and self.start.isoformat(), "end": self.end and self.end.isoformat(),
                "accepting": self.accepting}


def _terms(row) -> Terms:
    return Terms(row.period_start, row.period_end, row.accepting_new_patients)


class PageWriter:
    """Applies pages of one source's run. `counts` adds up what was written."""

    def __init__(self, session: Session, *, source_id: int, run_id: int, actor: str, full: bool,
                 since: datetime | None, payer: str | None, today: date | None = None):
        self.session, self.source_id, self.run_id, self.actor = session, source_id, run_id, actor
        self.full, self.since, self.payer = full, since, payer
        self.today = today or date.today()
        self.counts: dict[str, int] = {}
        self.problems: list[str] = []
        self._networks: dict[tuple[str, str], int] = {}

    def _count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def network_ids(self, parsed: ParsedPage) -> dict[str, int]:
        """Our network id for each network reference of the page, adding the networks we lack."""
        ids = {}
        for ref, seen in parsed.networks.items():
            key = (seen.payer, seen.name)
            if key not in self._networks:
                row = self.session.execute(select(Network).where(Network.payer == seen.payer,
                                                                 Network.name == seen.name)).scalar_one_or_none()
                if row is None:
                    row = Network(payer=seen.payer, name=seen.name, plan_type=_plan_type(seen.name))
                    self.session.add(row)
                    self.session.flush()
                    self.session.add(AuditEntry(actor=self.actor, action="network.create", changes={
                        "network": [None, {"id": row.id, "payer": row.payer, "name": row.name}]}))
                    self._count("networks_added")
                self._networks[key] = row.id
            ids[ref] = self._networks[key]
        return ids

    def plan_types(self, parsed: ParsedPage, network_ids: dict[str, int]) -> None:
        """A payer's InsurancePlan says its network's plan type."""
        for ref, plan_type in parsed.plan_types.items():
            network = self.session.get(Network, network_ids[ref]) if ref in network_ids else None
            if network is not None and network.plan_type != plan_type:
                self.session.add(AuditEntry(actor=self.actor, action="network.update", changes={
                    "network": network.id, "plan_type": [network.plan_type, plan_type]}))
                network.plan_type, network.updated_at = plan_type, utcnow()
                self._count("networks_updated")

    def _create(self, p: Provider, accepting: bool | None, resource: str) -> int | None:
        places = [LocationInput(address=loc["address"], zip=loc["zip"], city=loc["city"], state=loc["state"])
                  for loc in {(d["address"], d["zip"]): d for d in p.locations}.values()]
        if not places:
            self.problems.append(f"{resource}: NPI {p.npi} is new here but the page gives no location for it; skipped")
            return None
        data = ListingInput(kind=p.kind, npi=p.npi, name=p.name, specialties=p.specialties, locations=places,
                            first_name=p.first_name, last_name=p.last_name, credentials=p.credentials,
                            org_type=p.org_type, source="harvest", accepting_new_patients=bool(accepting))
        try:
            with self.session.begin_nested():
                listing = create_listing(self.session, data, actor=self.actor)
                if p.kind == "practitioner":
                    for location_id in self.session.execute(select(Location.id).where(
                            Location.listing_id == listing.id).order_by(Location.id)).scalars():
                        add_role(self.session, practitioner_id=listing.id, location_id=location_id,
                                 specialty_code=p.specialties[0], actor=self.actor, at_own_location=True,
                                 accepting_new_patients=bool(accepting))
        except (ValidationError, ZipError) as error:
            said = "; ".join(f"{k}: {v}" for k, v in error.errors.items()) if isinstance(error, ValidationError) \
                else str(error)
            self.problems.append(f"{resource}: NPI {p.npi} could not be added ({said}); skipped")
            return None
        self._count("listings_added")
        return listing.id

    def _listing(self, p: Provider, accepting: bool | None, resource: str, known: dict[str, tuple]) -> int | None:
        """Our listing of the provider's NPI (made when we have none), or None: it could not be made,
        or the NPI is a listing of the other kind here (reported; the listing we have wins)."""
        held = known.get(p.npi)
        if held is None:
            lid = self._create(p, accepting, resource)
            known[p.npi] = held = (lid, p.kind)
        lid, kind = held
        if lid is not None and kind != p.kind:
            said = (f"{resource}: NPI {p.npi} is a {kind}'s here, but the source gives it to "
                    f"{'an' if p.kind == 'organization' else 'a'} {p.kind}; skipped")
            if said not in self.problems:
                self.problems.append(said)
            return None
        return lid

    def apply(self, parsed: ParsedPage) -> None:
        """Write one page (the caller commits it, with the run's checkpoint)."""
        network_ids = self.network_ids(parsed)
        self.plan_types(parsed, network_ids)
        grouped: dict[tuple[str, int], tuple[Provider, str, Terms]] = {}
        for a in parsed.assertions:
            key, terms = (a.provider.npi, network_ids[a.network]), Terms(a.start, a.end, a.accepting)
            held = grouped.get(key)
            grouped[key] = (a.provider, a.resource, terms if held is None else held[2].merge(terms))
        npis = sorted({npi for npi, _ in grouped} | {p.npi for p in parsed.providers}
                      | {x.provider.npi for x in parsed.listed})
        known = {npi: (lid, kind) for npi, lid, kind in self.session.execute(
            select(Listing.npi, Listing.id, Listing.kind).where(Listing.npi.in_(npis))).all()}
        listings = {key: self._listing(p, terms.accepting, resource, known)
                    for key, (p, resource, terms) in grouped.items()}
        for listed in parsed.listed:
            self._listing(listed.provider, listed.accepting, listed.resource, known)
        whole = {known[p.npi][0] for p in parsed.providers
                 if p.npi in known and known[p.npi][0] is not None and known[p.npi][1] == p.kind
                 and (self.full or _changed_since(p.updated, self.since))}
        for lid in sorted(whole):
            self.session.merge(HarvestSeen(run_id=self.run_id, listing_id=lid, network_id=WHOLE))
        changes: dict[int, dict] = {}
        for (npi, network_id), (_, _, terms) in grouped.items():
            lid = listings[(npi, network_id)]
            if lid is None:
                continue
            seen = self.session.get(HarvestSeen, (self.run_id, lid, network_id))
            if seen is None:
                seen = HarvestSeen(run_id=self.run_id, listing_id=lid, network_id=network_id)
                self.session.add(seen)
            else:
                terms = _terms(seen).merge(terms)
            seen.period_start, seen.period_end, seen.accepting_new_patients = terms.start, terms.end, terms.accepting
            self._claim(lid, network_id, terms, changes, rise_only=True)
        self._audit(changes)

    def _claim(self, lid: int, network_id: int, terms: Terms | None, changes: dict, *, rise_only: bool) -> None:
        """Make the source's claim say `terms` (None: end it), then the live participation follow it."""
        claim = self.session.execute(select(NetworkClaim).where(
            NetworkClaim.source_id == self.source_id, NetworkClaim.listing_id == lid,
            NetworkClaim.network_id == network_id)).scalar_one_or_none()
        before = None if claim is None or claim.ended_at is not None else _terms(claim)
        if terms is None:
            if claim is None or claim.ended_at is not None:
                return
            claim.ended_at = utcnow()
            claim.period_end = self.today if claim.period_end is None else min(claim.period_end, self.today)
            self._count("participations_ended")
            after = None
        else:
            after = before.merge(terms) if rise_only and before is not None else terms
            if after == before:
                self._live(lid, network_id, claim)
                return
            if claim is None:
                claim = NetworkClaim(source_id=self.source_id, listing_id=lid, network_id=network_id)
                self.session.add(claim)
                self._count("participations_added")
            elif before is None:
                self._count("participations_reopened")
            else:
                self._count("participations_changed")
            claim.ended_at = None
            claim.period_start, claim.period_end, claim.accepting_new_patients = after.start, after.end, after.accepting
        changes.setdefault(lid, {})[f"network {network_id}"] = [before and before.shown(), after and after.shown()]
        self._live(lid, network_id, claim)

    def _live(self, lid: int, network_id: int, claim: NetworkClaim) -> None:
        """The participation row every reader uses: there while the claim is open and its period not over."""
        row = self.session.get(Participation, (lid, network_id))
        current = claim.ended_at is None and (claim.period_end is None or claim.period_end >= self.today)
        if not current:
            if row is not None:
                self.session.delete(row)
                record_change(self.session, lid)
            return
        wanted = (claim.period_start, claim.period_end, self.source_id)
        if row is None:
            self.session.add(Participation(listing_id=lid, network_id=network_id, start_date=wanted[0],
                                           end_date=wanted[1], source_id=self.source_id))
        elif (row.start_date, row.end_date, row.source_id) != wanted:
            row.start_date, row.end_date, row.source_id = wanted
        else:
            return
        record_change(self.session, lid)

    def _audit(self, changes: dict[int, dict]) -> None:
        for lid, changed in sorted(changes.items()):
            self.session.add(AuditEntry(actor=self.actor, listing_id=lid, action="harvest", changes=changed))

    def settle(self, listing_ids: list[int]) -> None:
        """For listings the run saw whole: each claim exactly as seen; claims not seen ended."""
        seen = {(s.listing_id, s.network_id): s for s in self.session.execute(select(HarvestSeen).where(
            HarvestSeen.run_id == self.run_id, HarvestSeen.listing_id.in_(listing_ids))).scalars()}
        claims = self.session.execute(select(NetworkClaim.listing_id, NetworkClaim.network_id).where(
            NetworkClaim.source_id == self.source_id, NetworkClaim.listing_id.in_(listing_ids))).all()
        changes: dict[int, dict] = {}
        for lid, network_id in sorted(set(claims) | {k for k in seen if k[1] != WHOLE}):
            row = seen.get((lid, network_id))
            self._claim(lid, network_id, None if row is None else _terms(row), changes, rise_only=False)
        self._audit(changes)


def _changed_since(updated: datetime | None, since: datetime | None) -> bool:
    """Whether the provider itself changed since the run's window opened: then every one of its roles
    is in the window too (a role is as new as its provider), so the run sees it whole."""
    return since is None or (updated is not None and updated >= since)


def _plan_type(name: str) -> str:
    """A new network's plan type until its InsurancePlan says: the last word of its name when that is
    one of ours (`Harbor Select PPO`), else PPO."""
    last = name.rsplit(" ", 1)[-1].upper()
    return last if last in plan_types() else "PPO"
