"""Light resources: what a search tests, without mapping whole resources.

A light resource holds only the elements a search's parameters read (`fields`, top-level names),
built from a few plain SQL rows (no ORM objects) with the same helpers and the same rules as the
full mapping, under the same keys as `universe.resources`. A search tests light resources, counts
its matches and orders them; only its page is then mapped in full. tests/fhir/test_light.py holds
every light element equal to the full resource's over the demo data.

Types and elements served light (an element the full mapping never gives is served as absent,
which is what the full resource says too); any other field makes the search map in full.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, exists, false, func, null, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from directory import reference as vocabulary
from directory.fhir import ids
from directory.fhir.codes import (
    BCP47_SYSTEM,
    EXTENSION,
    NUCC_SYSTEM,
    ORG_TYPE,
    ORGANIZATION_CODES,
    SYSTEM,
    Canonicals,
    provider_role,
    role_specialty_allowed,
)
from directory.fhir.elements import address, concept, instant, latest, new_patients, reference
from directory.fhir.records import SpecialtyRow
from directory.fhir.roles import _role_specialty
from directory.fhir.universe import Key, _network_resources, among, dialect, id_list
from directory.models import (
    Listing,
    ListingSpecialty,
    Location,
    Network,
    Organization,
    Participation,
    Practitioner,
    Role,
    Specialty,
)

FIELDS: dict[str, frozenset[str]] = {
    "Practitioner": frozenset({"id", "meta", "name", "communication"}),
    "Location": frozenset({"id", "meta", "position", "address", "managingOrganization", "extension", "type",
                           "partOf", "endpoint"}),
    "Organization": frozenset({"id", "meta", "name", "type", "endpoint", "partOf", "extension"}),
    "PractitionerRole": frozenset({"id", "meta", "extension", "practitioner", "organization", "location",
                                   "specialty", "code", "healthcareService", "endpoint"}),
}
# The reference elements of each type (what a chain or `_has` over it reads).
REFERENCES: dict[str, frozenset[str]] = {
    "Practitioner": frozenset(),
    "Location": frozenset({"managingOrganization", "partOf", "endpoint"}),
    "Organization": frozenset({"partOf", "endpoint", "extension"}),
    "PractitionerRole": frozenset({"practitioner", "organization", "location", "healthcareService", "endpoint",
                                   "extension"}),
}
_ACTIVE = Listing.active.is_(True)


def supports(resource_type: str, fields: Iterable[str]) -> bool:
    return resource_type in FIELDS and set(fields) <= FIELDS[resource_type]


@dataclass(frozen=True)
class Within:
    """What a search's tests require of a PractitionerRole, known before any is built: its location
    among `locations` (a `location.near` chain's, within the radius), its network among `networks`
    (a plain `network=`), one of its specialties among `specialties`, its acceptance of new
    patients among `accepting`. The roles outside are not built (they would fail those tests); the
    keys of the others stay their positions among all the practitioner's roles times networks."""

    locations: frozenset[int] | None = None
    networks: frozenset[int] | None = None
    specialties: frozenset[str] | None = None  # a plain `specialty=`'s NUCC codes (one of them)
    accepting: frozenset[bool] | None = None  # a plain `new-patient=` (newpt: True, nopt: False)


def resources(session: Session, resource_type: str, canon: Canonicals, listings: set[int] | None,
              fields: frozenset[str] | set[str], networks: bool = True, within: Within = Within()
              ) -> list[tuple[Key, dict]]:
    """(key, light resource) of every active resource of this type (only from `listings` when
    given; the networks' resources, few, are the full ones, left out when not `networks`; roles
    only `within`), in key order."""
    wanted = None if listings is None else sorted(listings)
    builder = _BUILDERS[resource_type]
    found = list(builder(session, canon, wanted, set(fields) | {"id"}, within))
    if resource_type == "Organization" and networks:
        found += list(_network_resources(session, resource_type, canon))
    return found


def role_places(session: Session, listings: set[int] | None, within: Within) -> list[tuple[Key, int]]:
    """(key, location id) of every PractitionerRole `within` (of `listings`, when given), in key
    order, building none: for a search whose every test `within` guarantees, each is a match.
    One statement (`_placed_statement`): the database numbers each practitioner's roles and
    networks as `_roles` and the full mapping order them, and keeps only the roles within, so a
    New York search at 1M reads ~1,600 rows instead of ~15,000 rows of several tables."""
    kind = dialect(session)
    params: dict = {}
    for name, values in (("wanted", listings), ("networks", within.networks), ("locations", within.locations)):
        if values is not None:
            params[name] = id_list(kind, sorted(values))
    accepting = None if within.accepting is None or within.accepting == {True, False} else tuple(within.accepting)
    if within.specialties is not None:
        # Held by the practitioner and allowed for a role (see roles._role_specialty), one of those searched.
        params["allowed"] = [code for code, section in session.execute(
            select(Specialty.code, Specialty.section).where(Specialty.code.in_(sorted(within.specialties))))
            if role_specialty_allowed(code, section)]
    statement = _placed_statement(kind, listings is not None, within.networks is not None,
                                  within.locations is not None, accepting, within.specialties is not None)
    return [((0, lid, pos * max(count, 1) + position), loc)
            for lid, pos, loc, position, count in session.execute(statement, params)]


@cache
def _placed_statement(kind: str, wanted: bool, networks: bool, locations: bool, accepting: tuple[bool, ...] | None,
                      specialties: bool):
    """`role_places`' statement for the filters given (built once per shape; the values are bound:
    `wanted`, `networks`, `locations` id lists, `allowed` specialty codes)."""
    code = Role.specialty_code
    if specialties:  # the role's specialty, else the practitioner's primary one
        code = func.coalesce(Role.specialty_code, select(ListingSpecialty.code)
                             .join(Specialty, Specialty.code == ListingSpecialty.code)
                             .where(ListingSpecialty.listing_id == Role.practitioner_id)
                             .order_by(ListingSpecialty.is_primary.desc(), Specialty.code).limit(1).scalar_subquery())
    roles = (select(Role.practitioner_id.label("lid"), Role.location_id.label("loc"), code.label("code"),
                    Role.accepting_new_patients.label("accepting"),
                    (func.row_number().over(partition_by=Role.practitioner_id, order_by=Role.id) - 1).label("pos")))
    # (Every role's location exists, a foreign key: `_roles`' join with Location keeps them all.)
    if wanted:
        roles = roles.where(among(Role.practitioner_id, "wanted", kind))
    r = roles.subquery("r")
    # Each role's copies: one per network the practitioner is in, numbered in network order (a
    # network's position is how many of the practitioner's networks come before it), or one
    # without a network for a practitioner in none. Every participation's network exists (a
    # foreign key), as `_roles` requires of the networks it numbers.
    copy, before, every = aliased(Participation), aliased(Participation), aliased(Participation)
    at = (select(func.count()).where(before.listing_id == r.c.lid, before.network_id < copy.network_id)
          .scalar_subquery())
    copies = select(func.count()).where(every.listing_id == r.c.lid).scalar_subquery()
    statement = (select(r.c.lid, r.c.pos, r.c.loc, at, copies).join(Listing, Listing.id == r.c.lid)
                 .where(_ACTIVE, Listing.kind == "practitioner").order_by(r.c.lid, r.c.pos, copy.network_id))
    if networks:
        statement = statement.join(copy, and_(copy.listing_id == r.c.lid, among(copy.network_id, "networks", kind)))
    else:
        statement = statement.outerjoin(copy, copy.listing_id == r.c.lid)
    if locations:
        statement = statement.where(among(r.c.loc, "locations", kind))
    if accepting is not None:
        statement = statement.where(r.c.accepting.is_(True) if accepting == (True,) else
                                    r.c.accepting.is_(False) if accepting == (False,) else false())
    if specialties:
        statement = statement.where(r.c.code.in_(bindparam("allowed", expanding=True)),
                                    exists().where(ListingSpecialty.listing_id == r.c.lid,
                                                   ListingSpecialty.code == r.c.code))
    return statement


def _rows(session: Session, statement, column, wanted: list[int] | None):
    """The statement's rows, only for `column` in `wanted` (when given)."""
    if wanted is None:
        return session.execute(statement)
    kind = dialect(session)
    return session.execute(statement.where(among(column, "wanted", kind)), {"wanted": id_list(kind, wanted)})


def _meta(updated) -> dict:
    return {"lastUpdated": instant(updated)}


def _practitioners(session: Session, canon: Canonicals, wanted, fields, within: Within) -> Iterator[tuple[Key, dict]]:
    # Columns no field reads are read as NULL: decoding every row's times and languages costs.
    statement = (select(Listing.id, Listing.name, Listing.updated_at if "meta" in fields else null(),
                        Listing.languages if "communication" in fields else null(), Practitioner.first_name,
                        Practitioner.last_name, Practitioner.credentials)
                 .outerjoin(Practitioner, Practitioner.listing_id == Listing.id)
                 .where(_ACTIVE, Listing.kind == "practitioner").order_by(Listing.id))
    languages = vocabulary.languages() if "communication" in fields else {}
    for lid, name, updated, spoken, first, last, credentials in _rows(session, statement, Listing.id, wanted):
        resource: dict = {"resourceType": "Practitioner", "id": ids.practitioner(lid)}
        if "meta" in fields:
            resource["meta"] = _meta(updated)
        if "name" in fields:
            person = {"use": "official", "text": name}
            if last is not None:
                person.update(family=last, given=[first])
                if credentials:
                    person["suffix"] = [credentials]
            else:
                person["family"] = name
            resource["name"] = [person]
        if "communication" in fields:
            resource["communication"] = [concept(BCP47_SYSTEM, code, languages.get(code)) for code in spoken or []]
        yield (0, lid, 0), resource


def _locations(session: Session, canon: Canonicals, wanted, fields, within: Within) -> Iterator[tuple[Key, dict]]:
    statement = (select(Location.id, Location.listing_id, Location.lat, Location.lon, Location.address,
                        Location.city, Location.state, Location.zip, Listing.kind, Listing.name,
                        Listing.updated_at, Listing.accepting_new_patients)
                 .join(Listing, Listing.id == Location.listing_id).where(_ACTIVE)
                 .order_by(Location.listing_id, Location.id))
    last, position = None, 0
    for row in _rows(session, statement, Location.listing_id, wanted):
        loc_id, lid, lat, lon, street, city, state, zip5, kind, name, updated, accepting = row
        position = position + 1 if lid == last else 0
        last = lid
        resource: dict = {"resourceType": "Location", "id": ids.location(loc_id)}
        if "meta" in fields:
            resource["meta"] = _meta(updated)
        if "position" in fields:
            resource["position"] = {"longitude": lon, "latitude": lat}
        if "address" in fields:
            resource["address"] = address(SimpleNamespace(address=street, city=city, state=state, zip=zip5,
                                                          lat=lat, lon=lon))
        if "extension" in fields:
            resource["extension"] = [new_patients(accepting)]
        if "managingOrganization" in fields and kind == "organization":
            resource["managingOrganization"] = reference("Organization", ids.organization(lid), name)
        yield (0, lid, position), resource


def _organizations(session: Session, canon: Canonicals, wanted, fields, within: Within) -> Iterator[tuple[Key, dict]]:
    statement = (select(Listing.id, Listing.name, Listing.updated_at, Listing.website, Organization.org_type)
                 .outerjoin(Organization, Organization.listing_id == Listing.id)
                 .where(_ACTIVE, Listing.kind == "organization").order_by(Listing.id))
    for lid, name, updated, website, org_type in _rows(session, statement, Listing.id, wanted):
        resource: dict = {"resourceType": "Organization", "id": ids.organization(lid)}
        if "meta" in fields:
            resource["meta"] = _meta(updated)
        if "name" in fields:
            resource["name"] = name
        if "type" in fields:
            code = ORGANIZATION_CODES[org_type or "practice"][0]
            resource["type"] = [concept(SYSTEM["OrgTypeCS"], code, ORG_TYPE[code])]
        if "endpoint" in fields and website:
            resource["endpoint"] = [reference("Endpoint", ids.endpoint(lid))]
        yield (0, lid, 0), resource


def _roles(session: Session, canon: Canonicals, wanted, fields, within: Within) -> Iterator[tuple[Key, dict]]:
    # Times are read only for `meta` (decoding thousands of them cost a tenth of a large search).
    listings = {row[0]: row for row in _rows(session, select(
        Listing.id, Listing.name, Listing.updated_at if "meta" in fields else null(), Listing.website,
        Listing.telehealth).where(_ACTIVE, Listing.kind == "practitioner"), Listing.id, wanted)}
    chosen = sorted(listings)
    among = None if wanted is None else chosen
    roles = defaultdict(list)
    for row in _rows(session, select(Role.id, Role.practitioner_id, Role.organization_id, Role.location_id,
                                     Role.specialty_code, Role.accepting_new_patients, Role.telehealth, Location.name)
                     .join(Location, Location.id == Role.location_id).order_by(Role.id), Role.practitioner_id, among):
        roles[row[1]].append(row)
    # A role per network: always read. Networks are few: each is read once, not once per member.
    networks = {row[0]: tuple(row) for row in session.execute(
        select(Network.id, Network.name, Network.updated_at if "meta" in fields else null()))}
    memberships = defaultdict(list)
    for lid, network_id in _rows(session, select(Participation.listing_id, Participation.network_id)
                                 .order_by(Participation.listing_id, Participation.network_id),
                                 Participation.listing_id, among):
        if network_id in networks:
            memberships[lid].append(networks[network_id])
    specialties = defaultdict(list)
    if fields & {"specialty", "code"}:
        for lid, code, display, primary, section in _rows(
                session, select(ListingSpecialty.listing_id, Specialty.code, Specialty.display,
                                ListingSpecialty.is_primary, Specialty.section)
                .join(Specialty, Specialty.code == ListingSpecialty.code)
                .order_by(ListingSpecialty.listing_id, ListingSpecialty.is_primary.desc(), Specialty.code),
                ListingSpecialty.listing_id, among):
            specialties[lid].append(SpecialtyRow(code, display, bool(primary), section))
    for lid in chosen:
        _, name, updated, website, telehealth = listings[lid]
        record = SimpleNamespace(specialties=specialties[lid])
        copies = memberships[lid] or [None]  # the role's resources: one per network (or one without)
        kept = [(at, network) for at, network in enumerate(copies)
                if within.networks is None or network is not None and network[0] in within.networks]
        if not kept:
            continue
        for index, role in enumerate(roles[lid]):
            role_id, _, organization_id, location_id, specialty_code, accepting, role_telehealth, loc_name = role
            if (within.locations is not None and location_id not in within.locations
                    or within.accepting is not None and bool(accepting) not in within.accepting):
                continue
            if fields & {"specialty", "code"}:
                row = SimpleNamespace(role=SimpleNamespace(specialty_code=specialty_code))
                role_specialties = _role_specialty(record, row)
                if within.specialties is not None and not any(s.code in within.specialties
                                                              for s in role_specialties):
                    continue
            # What every network's copy of the role holds alike, built once (light resources are only read).
            same: dict = {}
            if "practitioner" in fields:
                same["practitioner"] = reference("Practitioner", ids.practitioner(lid), name)
            if "organization" in fields and organization_id is not None:
                same["organization"] = reference("Organization", ids.organization(organization_id))
            if fields & {"specialty", "code"}:
                if "specialty" in fields:
                    same["specialty"] = [concept(NUCC_SYSTEM, s.code, s.display) for s in role_specialties]
                if "code" in fields:
                    codes = [provider_role(s.code) for s in role_specialties]
                    same["code"] = [concept(SYSTEM["ProviderRoleCS"], *code) for code in codes if code is not None]
            if "location" in fields:
                same["location"] = [reference("Location", ids.location(location_id), loc_name)]
            if "healthcareService" in fields and telehealth and role_telehealth:
                same["healthcareService"] = [reference("HealthcareService", ids.virtual_service(lid))]
            if "endpoint" in fields and website:
                same["endpoint"] = [reference("Endpoint", ids.endpoint(lid))]
            for at, network in kept:
                network_ref = None if network is None else reference("Organization", ids.network(network[0]),
                                                                     network[1])
                resource: dict = {"resourceType": "PractitionerRole",
                                  "id": ids.role(role_id, None if network is None else network[0])}
                if "meta" in fields:
                    resource["meta"] = _meta(latest(updated) if network is None else latest(updated, network[2]))
                if "extension" in fields:
                    extensions = [new_patients(accepting, network_ref)]
                    if network_ref is not None:
                        extensions.append({"url": EXTENSION["network-reference"], "valueReference": network_ref})
                    resource["extension"] = extensions
                resource.update(same)
                yield (0, lid, index * len(copies) + at), resource


_BUILDERS = {"Practitioner": _practitioners, "Location": _locations, "Organization": _organizations,
             "PractitionerRole": _roles}
