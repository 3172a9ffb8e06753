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
    name_text: str
    topics_text: str
    place_text: str
    digest: str = field(default="")

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
                self.name_text,
                self.topics_text,
                self.place_text,
            ],
            separators=(",", ":"),
        )
        return hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def _topics(specialties: list[str], services: list[str], products: list[str]) -> str:
    """Specialty names, services and the conditions they treat, with every synonym (index-time)."""
    taxonomy = reference.taxonomy()
    parts = [taxonomy[c]["display"] for c in specialties if c in taxonomy]
    parts += [taxonomy[c]["group"] for c in specialties if c in taxonomy]
    for concept in reference.vocabulary().for_listing(specialties, services):
        parts.append(concept.label)
        parts.extend(concept.synonyms)
    parts.extend(products)
    return " ".join(dict.fromkeys(parts))


def load_docs(session: Session, listing_ids: Iterable[int]) -> dict[int, ListingDoc | None]:
    """Documents for these listing ids; None for a listing that is gone or deactivated."""
    ids = sorted(set(listing_ids))
    docs: dict[int, ListingDoc | None] = dict.fromkeys(ids)
    if not ids:
        return docs
    listings = session.execute(select(Listing).where(Listing.id.in_(ids))).scalars().all()
    specialties: dict[int, list[tuple[bool, str]]] = defaultdict(list)
    for row in session.execute(select(ListingSpecialty).where(ListingSpecialty.listing_id.in_(ids))).scalars():
        specialties[row.listing_id].append((not row.is_primary, row.code))
    networks: dict[int, list[int]] = defaultdict(list)
    for row in session.execute(select(Participation).where(Participation.listing_id.in_(ids))).scalars():
        networks[row.listing_id].append(row.network_id)
    places: dict[int, list[tuple[float, float]]] = defaultdict(list)
    cities: dict[int, list[str]] = defaultdict(list)
    for loc in session.execute(select(Location).where(Location.listing_id.in_(ids))).scalars():
        places[loc.listing_id].append((loc.lat, loc.lon))
        cities[loc.listing_id].append(f"{loc.city} {loc.state}")
    role_rows = session.execute(
        select(Role.practitioner_id, Location.lat, Location.lon, Location.city, Location.state, Listing.name)
        .join(Location, Location.id == Role.location_id)
        .outerjoin(Listing, Listing.id == Role.organization_id)
        .where(Role.practitioner_id.in_(ids))
    ).all()
    affiliations: dict[int, list[str]] = defaultdict(list)
    for pid, lat, lon, city, state, org_name in role_rows:
        places[pid].append((lat, lon))
        cities[pid].append(f"{city} {state}")
        if org_name:
            affiliations[pid].append(org_name)
    orgs = {
        o.listing_id: o
        for o in session.execute(select(Organization).where(Organization.listing_id.in_(ids))).scalars()
    }
    pracs = {
        p.listing_id: p
        for p in session.execute(select(Practitioner).where(Practitioner.listing_id.in_(ids))).scalars()
    }
    for listing in listings:
        if not listing.active or not places[listing.id]:
            continue
        codes = [code for _, code in sorted(specialties[listing.id])]
        org = orgs.get(listing.id)
        prac = pracs.get(listing.id)
        name_parts = [listing.name]
        if prac is not None:
            name_parts += [prac.first_name, prac.last_name, prac.credentials or ""]
        name_parts += affiliations[listing.id]
        doc = ListingDoc(
            lid=listing.id,
            kind=listing.kind,
            name=listing.name,
            accepting=listing.accepting_new_patients,
            telehealth=listing.telehealth,
            specialties=codes,
            networks=sorted(set(networks[listing.id])),
            languages=sorted(set(listing.languages or [])),
            services=sorted(set(listing.services or [])),
            places=sorted(set(places[listing.id])),
            name_text=" ".join(dict.fromkeys(p for p in name_parts if p)),
            topics_text=_topics(codes, listing.services or [], org.ivig_products if org else []),
            place_text=" ".join(dict.fromkeys(cities[listing.id])),
        )
        doc.digest = doc.compute_digest()
        docs[listing.id] = doc
    return docs


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
