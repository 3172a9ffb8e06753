"""One search document per active listing, prepared from database rows by one function."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from directory import reference
from directory.models import (
    Listing,
    ListingSpecialty,
    Location,
    Organization,
    Participation,
    Practitioner,
    Role,
)


@dataclass
class ListingDoc:
    """What search needs of a listing: filters, places and the text to match."""

    lid: int
    kind: str
    name: str
    accepting: bool
    telehealth: bool
    specialties: list[str]
    networks: list[int]
    languages: list[str]
    services: list[str]
    places: list[tuple[float, float]]
    concepts: list[str]
    name_text: str
    products_text: str
    place_text: str
    digest: str = field(default="")
    # Per place (same order as `places`): the location shown there, the lowest location id at
    # those coordinates (as a card breaks ties). Empty when the caller knows no ids.
    place_ids: list[int] = field(default_factory=list)

    def compute_digest(self) -> str:
        payload = json.dumps(
            [
                self.kind,
                self.name,
                self.accepting,
                self.telehealth,
                self.specialties,
                sorted(self.networks),
                sorted(self.languages),
                sorted(self.services),
                sorted(self.places),
                self.place_ids,
                self.concepts,
                self.name_text,
                self.products_text,
                self.place_text,
            ],
            separators=(",", ":"),
        )
        return hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def load_docs(session: Session, listing_ids: Iterable[int]) -> dict[int, ListingDoc | None]:
    """Documents for these listing ids; None for a listing that is gone or deactivated."""
    ids = sorted(set(listing_ids))
    docs: dict[int, ListingDoc | None] = dict.fromkeys(ids)
    if not ids:
        return docs
    # Plain column tuples, not ORM objects: this runs for every listing on a reindex.
    listings = session.execute(
        select(Listing.id, Listing.kind, Listing.name, Listing.active, Listing.accepting_new_patients,
               Listing.telehealth, Listing.languages, Listing.services).where(Listing.id.in_(ids))
    ).all()
    specialties: dict[int, list[tuple[bool, str]]] = defaultdict(list)
    for lid, code, primary in session.execute(
        select(ListingSpecialty.listing_id, ListingSpecialty.code, ListingSpecialty.is_primary)
        .where(ListingSpecialty.listing_id.in_(ids))
    ):
        specialties[lid].append((not primary, code))
    networks: dict[int, list[int]] = defaultdict(list)
    for lid, network_id in session.execute(
        select(Participation.listing_id, Participation.network_id).where(Participation.listing_id.in_(ids))
    ):
        networks[lid].append(network_id)
    # (lat, lon) -> the lowest location id there, per listing
    places: dict[int, dict[tuple[float, float], int]] = defaultdict(dict)
    cities: dict[int, list[str]] = defaultdict(list)
    for lid, loc_id, lat, lon, city, state in session.execute(
        select(Location.listing_id, Location.id, Location.lat, Location.lon, Location.city, Location.state)
        .where(Location.listing_id.in_(ids))
    ):
        _add_place(places[lid], lat, lon, loc_id)
        cities[lid].append(f"{city} {state}")
    role_rows = session.execute(
        select(Role.practitioner_id, Location.id, Location.lat, Location.lon, Location.city, Location.state,
               Listing.name)
        .join(Location, Location.id == Role.location_id)
        .outerjoin(Listing, Listing.id == Role.organization_id)
        .where(Role.practitioner_id.in_(ids))
    ).all()
    affiliations: dict[int, list[str]] = defaultdict(list)
    for pid, loc_id, lat, lon, city, state, org_name in role_rows:
        _add_place(places[pid], lat, lon, loc_id)
        cities[pid].append(f"{city} {state}")
        if org_name:
            affiliations[pid].append(org_name)
    products = dict(
        session.execute(
            select(Organization.listing_id, Organization.ivig_products).where(Organization.listing_id.in_(ids))
        ).all()
    )
    person_names = {
        lid: (first, last, credentials)
        for lid, first, last, credentials in session.execute(
            select(Practitioner.listing_id, Practitioner.first_name, Practitioner.last_name,
                   Practitioner.credentials).where(Practitioner.listing_id.in_(ids))
        )
    }
    vocabulary = reference.vocabulary()
    for lid, kind, name, active, accepting, telehealth, languages, services in listings:
        if not active or not places[lid]:
            continue
        codes = [code for _, code in sorted(specialties[lid])]
        name_parts = [name, *person_names.get(lid, ()), *affiliations[lid]]
        doc = ListingDoc(
            lid=lid,
            kind=kind,
            name=name,
            accepting=accepting,
            telehealth=telehealth,
            specialties=codes,
            networks=sorted(set(networks[lid])),
            languages=sorted(set(languages or [])),
            services=sorted(set(services or [])),
            places=sorted(places[lid]),
            place_ids=[places[lid][point] for point in sorted(places[lid])],
            concepts=[c.id for c in vocabulary.for_listing(codes, services or [])],
            name_text=" ".join(dict.fromkeys(p for p in name_parts if p)),
            products_text=" ".join(products.get(lid) or []),
            place_text=" ".join(dict.fromkeys(cities[lid])),
        )
        doc.digest = doc.compute_digest()
        docs[lid] = doc
    return docs


def _add_place(places: dict[tuple[float, float], int], lat: float, lon: float, loc_id: int) -> None:
    point = (lat, lon)
    if loc_id < places.get(point, loc_id + 1):
        places[point] = loc_id


def iter_all_docs(session: Session, batch_size: int = 2000) -> Iterator[list[ListingDoc]]:
    """Every active listing's document, in id order, a batch at a time (bounded memory)."""
    last_id = 0
    while True:
        ids = list(
            session.execute(
                select(Listing.id)
                .where(Listing.id > last_id, Listing.active.is_(True))
                .order_by(Listing.id)
                .limit(batch_size)
            ).scalars()
        )
        if not ids:
            return
        last_id = ids[-1]
        docs = load_docs(session, ids)
        session.expunge_all()
        yield [doc for doc in docs.values() if doc is not None]
