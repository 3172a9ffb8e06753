"""Every resource of a type, mapped from the database in a stable key order, a batch of listings
at a time: what a search filters.

A key is (0, listing id, position among the listing's resources) for what a listing gives, and
(1, network id, 0 payer | 1 network | 2 plan) for what the networks give (a payer takes its first
network's id): the order of pages, and what the keyset cursor names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from sqlalchemy import BigInteger, String, any_, bindparam, func, literal_column, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, select

from directory.fhir import ids
from directory.fhir.codes import Canonicals
from directory.fhir.mapping import resources_of_type
from directory.fhir.networks import insurance_plan, network, payer
from directory.fhir.records import ListingRecord, load_listings, load_networks
from directory.fhir.roles import practitioner_role
from directory.models import INACTIVE, MAX_ID, Listing, Location, Role

Key = tuple[int, ...]
BATCH = 500
BOTH = ("organization", "practitioner")
# Which listings give each type's resources (none: the networks give them all).
LISTING_KINDS = {
    "Practitioner": ("practitioner",), "PractitionerRole": ("practitioner",), "Organization": ("organization",),
    "OrganizationAffiliation": ("organization",), "Location": BOTH, "HealthcareService": BOTH, "Endpoint": BOTH,
    "InsurancePlan": (),
}
FROM_NETWORKS = {"Organization", "InsurancePlan"}
# The inactive listings: few, read whole through the partial index of migration 0015 (their
# locations are no Locations) instead of looking up the listing of every location read.
INACTIVE_LISTINGS = select(Listing.id).where(text(INACTIVE))


def among(column, name: str, dialect: str):
    """`column` is one of a list of ids bound as a single parameter named `name` (its value made by
    `id_list`): a JSON array read by json_each on SQLite, an array on PostgreSQL. An expanding IN
    list renders a placeholder per id on each call, which costs more than running it at thousands."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(BigInteger)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name, type_=String))))


def id_list(dialect: str, values: Iterable[int]) -> list[int] | str:
    """The value of an `among` parameter."""
    return list(values) if dialect == "postgresql" else json.dumps(list(values))


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def listing_key(key: Key) -> int | None:
    """The listing a resource comes from, by its key (None for a payer's, network's or plan's)."""
    return key[1] if key[0] == 0 else None


def resources(session: Session, resource_type: str, canon: Canonicals, *, listings: set[int] | None = None,
              after: Key | None = None, batch: int = BATCH,
              known: dict[int, ListingRecord] | None = None, networks: bool = True) -> Iterator[tuple[Key, dict]]:
    """(key, resource) of every active resource of this type in key order; only from `listings`
    when given (the networks' resources are never left out by it, only by `networks` False), only
    keys after `after`.
    Listings are read `batch` at a time (a page's worth, when only a page is wanted); records
    read are kept in `known` (when given: one request's), and taken from it."""
    kinds = LISTING_KINDS[resource_type]
    if kinds and (after is None or after[0] == 0):
        statement = select(Listing.id).where(Listing.active.is_(True), Listing.kind.in_(kinds))
        if resource_type == "Endpoint":
            statement = statement.where(Listing.website.is_not(None))
        if after is not None:
            statement = statement.where(Listing.id >= after[1])
        wanted = None if listings is None else sorted(listings)
        chunks = ([wanted[i:i + BATCH] for i in range(0, len(wanted), BATCH)] if wanted is not None
                  else None)
        for chunk in _listing_batches(session, statement, chunks, batch):
            for record in _records(session, chunk, known):
                for position, resource in enumerate(resources_of_type(record, resource_type, canon)):
                    key = (0, record.listing.id, position)
                    if after is None or key > after:
                        yield key, resource
    if resource_type in FROM_NETWORKS and networks:
        yield from (item for item in _network_resources(session, resource_type, canon)
                    if after is None or item[0] > after)


def mapped(session: Session, resource_type: str, canon: Canonicals, keys: Iterable[Key],
           known: dict[int, ListingRecord] | None = None) -> dict[Key, dict]:
    """Key -> resource for these keys (those that exist). A PractitionerRole is mapped alone (a
    practitioner's roles times networks can be many, a page wants a few); other types as
    `resources` maps them."""
    keys = set(keys)
    listings = {listing_key(key) for key in keys} - {None}
    if resource_type != "PractitionerRole":
        return {key: resource for key, resource in resources(
            session, resource_type, canon, listings=listings, known=known,
            networks=any(key[0] == 1 for key in keys)) if key in keys}
    found = {}
    for record in _records(session, sorted(listings), known):
        if not record.listing.active or record.listing.kind != "practitioner":
            continue
        memberships = list(record.memberships) or [None]  # positions as practitioner_roles orders them
        for key in keys:
            if key[1] == record.listing.id and key[2] < len(record.roles) * len(memberships):
                row, membership = divmod(key[2], len(memberships))
                found[key] = practitioner_role(record, record.roles[row], memberships[membership], canon)
    return found


def _records(session: Session, chunk: list[int], known: dict[int, ListingRecord] | None) -> list[ListingRecord]:
    if known is None:
        return load_listings(session, chunk)
    known.update((record.listing.id, record) for record in load_listings(session, [i for i in chunk if i not in known]))
    return [known[i] for i in chunk if i in known]


def _listing_batches(session: Session, statement, chunks, size: int) -> Iterator[list[int]]:
    if chunks is not None:
        listed = statement.where(Listing.id.in_(bindparam("chunk", expanding=True))).order_by(Listing.id)
        for chunk in chunks:
            yield list(session.execute(listed, {"chunk": chunk}).scalars())
        return
    last = 0
    while True:
        chunk = list(session.exec(statement.where(Listing.id > last).order_by(Listing.id).limit(size)))
        if not chunk:
            return
        yield chunk
        last = chunk[-1]
        size = BATCH  # a page needed more than the first batch gave: read on in full batches


def _network_resources(session: Session, resource_type: str, canon: Canonicals) -> Iterator[tuple[Key, dict]]:
    rows = load_networks(session)
    by_payer: dict[str, list] = {}
    for row in rows:
        by_payer.setdefault(row.payer, []).append(row)
    found = []
    if resource_type == "Organization":
        found += [((1, group[0].id, 0), payer(name, group)) for name, group in by_payer.items()]
        found += [((1, row.id, 1), network(row)) for row in rows]
    else:
        found += [((1, row.id, 2), insurance_plan(row, canon)) for row in rows]
    yield from sorted(found, key=lambda item: item[0])


def listings_of(session: Session, resource_type: str, resource_ids: list[str]) -> set[int]:
    """The listings whose resources these ids (of this type) can be; networks' ids name none."""
    found: set[int] = set()
    locations, roles = [], []
    for resource_id in resource_ids:
        parsed = ids.parse(resource_type, resource_id)
        if parsed is None:
            continue
        kind, parts = parsed
        number = int(parts[0]) if kind not in ("payer",) else None
        if number is None or number > MAX_ID or kind in ("network", "plan"):
            continue
        if kind == "location":
            locations.append(number)
        elif kind == "role":
            roles.append(number)
        else:
            found.add(number)
    if locations:
        found |= set(session.execute(select(Location.listing_id).where(Location.id.in_(
            bindparam("ids", expanding=True))), {"ids": locations}).scalars())
    if roles:
        found |= set(session.execute(select(Role.practitioner_id).where(Role.id.in_(
            bindparam("ids", expanding=True))), {"ids": roles}).scalars())
    return found
