"""Which listings can match a parameter, read from the database: a superset of the matches (the
mapped resources are still tested), so a search maps only those listings, not all.

One function per (type, parameter) that has one; each takes the values given (a comma list: any
of) and answers listing ids, or None when it cannot narrow (a modifier, a system-only token...).
A chain's or `_revinclude`'s inner matches narrow the same way, as `Type/id` values.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import and_, bindparam, func, or_, text, union_all
from sqlmodel import Session, select

from directory.fhir import ids
from directory.fhir.codes import NUCC_SYSTEM, ORGANIZATION_CODES, SYSTEM
from directory.fhir.values import PREFIXES, date_range, fold
from directory.models import (
    MAX_ID,
    NON_ASCII,
    Listing,
    ListingSpecialty,
    Location,
    Organization,
    Participation,
    Practitioner,
    Role,
)

Narrower = Callable[[Session, list[str]], set[int] | None]


def _numbers(values: list[str], target: str, kind: str) -> list[int] | None:
    """The row ids named by these references (`Type/id`, `id` or a URL ending so) of `kind`."""
    found = []
    for value in values:
        ident = value.rstrip("/").rsplit("/", 1)[-1]
        parsed = ids.parse(target, ident)
        if parsed is not None and parsed[0] == kind and int(parsed[1][0]) <= MAX_ID:
            found.append(int(parsed[1][0]))
    return found


def _own(target: str, kind: str) -> Narrower:
    """A reference to the listing's own resource (its Practitioner or Organization): that listing."""
    return lambda session, values: set(_numbers(values, target, kind))


def _rows(target: str, kind: str, column, listing_column) -> Narrower:
    def narrow(session: Session, values: list[str]) -> set[int]:
        numbers = _numbers(values, target, kind)
        if not numbers:
            return set()
        return set(session.execute(select(listing_column).where(column.in_(bindparam("numbers", expanding=True))),
                                   {"numbers": numbers}).scalars())
    return narrow


def _codes(values: list[str], system: str) -> list[str] | None:
    """The codes of `system` these token values name (None for `system|`: any code of it)."""
    codes = []
    for value in values:
        named, bar, code = value.rpartition("|")
        if bar and not code:
            return None
        if not bar or named == system:
            codes.append(code)
    return codes


def _specialty(session: Session, values: list[str]) -> set[int] | None:
    codes = _codes(values, NUCC_SYSTEM)
    if not codes:
        return None if codes is None else set()
    return set(session.exec(select(ListingSpecialty.listing_id).where(ListingSpecialty.code.in_(codes))))


def _organization_code(system: str, column: int, telehealth_code: str | None = None) -> Narrower:
    """Organizations whose type maps to one of the codes (ORGANIZATION_CODES' `column`), and, for
    `telehealth_code`, practitioners offering telehealth (their virtual service has that code)."""
    def narrow(session: Session, values: list[str]) -> set[int] | None:
        codes = _codes(values, SYSTEM[system])
        if codes is None:
            return None
        types = [kind for kind, mapped in ORGANIZATION_CODES.items() if mapped[column] in codes]
        org_type = func.coalesce(Organization.org_type, "practice")  # the mapping's default
        found = set(session.exec(select(Listing.id).outerjoin(Organization, Organization.listing_id == Listing.id)
                                 .where(Listing.kind == "organization", org_type.in_(types)))) if types else set()
        if telehealth_code in codes:
            found |= set(session.exec(select(Listing.id).where(Listing.kind == "practitioner",
                                                               Listing.telehealth.is_(True))))
        return found
    return narrow


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _folded(session: Session, column):
    """The column as migration 0010's indexes hold it: case-folded (ASCII), compared byte-wise."""
    if _dialect(session) == "postgresql":
        return func.lower(column).collate("C")
    return column.collate("NOCASE")


def _after(prefix: str) -> str | None:
    """The least string above every string starting with `prefix` (None: no bound)."""
    code = ord(prefix[-1]) + 1
    if 0xD800 <= code < 0xE000:
        code = 0xE000
    return None if code > 0x10FFFF else prefix[:-1] + chr(code)


def _starts(session: Session, column, prefix: str):
    """Rows whose ASCII-folded text starts with `prefix` (folded), through the column's index."""
    folded = _folded(session, column)
    after = _after(prefix)
    return folded >= prefix if after is None else and_(folded >= prefix, folded < after)


def _prefix(column) -> Narrower:
    """A Location column compared by its start (postal codes and state codes are plain ASCII)."""
    def narrow(session: Session, values: list[str]) -> set[int] | None:
        prefixes = [fold(value) for value in values]
        if not all(prefixes):
            return None
        return set(session.exec(select(Location.listing_id).where(or_(*(_starts(session, column, prefix)
                                                                         for prefix in prefixes)))))
    return narrow


def _non_ascii(session: Session, column):
    """Text with a character beyond ASCII: the database cannot fold its accents as we do, so such
    rows always stay candidates."""
    if _dialect(session) == "postgresql":
        return column.op("~")("[^\\x01-\\x7f]")
    return column.op("GLOB")("*[^\x01-\x7f]*")


def _beyond_ascii(session: Session, columns) -> object:
    """Any of these columns holding a character beyond ASCII, spelled as the partial indexes of
    migration 0010 are (a partial index serves only a query naming its very predicate)."""
    return text(" OR ".join(NON_ASCII[_dialect(session)].format(column.name) for column in columns))


def _like(session: Session, column, value: str, modifier: str):
    """Rows whose text may match a `:contains` search: has the folded value, ignoring case, or
    has non-ASCII text (a scan: no index serves it)."""
    escaped = fold(value).lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(func.lower(column).like(f"%{escaped}%", escape="\\"), _non_ascii(session, column))


TextNarrowing = tuple[set[int], set[int]] | None


def _prefix_selects(session: Session, sources, prefixes: list[str]) -> tuple[list, list]:
    """(the statements of the rows whose folded text starts with a prefix, through the indexes;
    those of the rows with any text beyond ASCII, through the partial indexes) over these sources."""
    prefixed, beyond = [], []
    for listing_column, columns, condition, beyond_columns in sources:
        conditions = [] if condition is None else [condition]
        prefixed += [select(listing_column).where(or_(*(_starts(session, column, prefix) for prefix in prefixes)),
                                                  *conditions) for column in columns]
        beyond.append(select(listing_column).where(_beyond_ascii(session, beyond_columns), *conditions))
    return prefixed, beyond


def _text(*sources) -> Callable[[Session, list[str], str], TextNarrowing]:
    """A string parameter over these (listing id column, text columns, condition, the columns of
    the partial index on the rows beyond ASCII) sources: the rows whose folded text starts with a
    value (:exact too: equal text starts so), through the indexes, and the rows with any text
    beyond ASCII in the partial index's columns (a superset; with no such index, a scan);
    `:contains` scans. Answers (candidates, prefixed): `prefixed` are the candidates found by a
    prefix and holding no text beyond ASCII, whose folded text (its lower case) is what the
    database compared."""
    def narrow(session: Session, values: list[str], modifier: str) -> TextNarrowing:
        prefixes = [fold(value) for value in values]
        if not all(prefixes):
            return None  # a value folded to nothing (only combining marks): every text starts so
        if modifier == "contains":
            found: set[int] = set()
            for listing_column, columns, condition, _ in sources:
                wanted = or_(*(_like(session, column, value, modifier) for column in columns for value in values))
                found |= set(session.exec(select(listing_column).where(wanted, *([] if condition is None
                                                                                 else [condition]))))
            return found, set()
        prefixed_selects, beyond_selects = _prefix_selects(session, sources, prefixes)
        prefixed = {lid for statement in prefixed_selects for lid in session.exec(statement)}
        beyond_rows = {lid for statement in beyond_selects for lid in session.exec(statement)}
        return prefixed | beyond_rows, prefixed - beyond_rows
    return narrow


# The partial indexes of migration 0010 hold the rows beyond ASCII of these columns (together).
_LISTING_NAME = (Listing.name,)
_PRACTITIONER_NAMES = (Practitioner.last_name, Practitioner.first_name, Practitioner.credentials)
_PRACTITIONER_LISTING = (Listing.id, _LISTING_NAME, Listing.kind == "practitioner", _LISTING_NAME)
# String parameters -> the sources of their text (see `_text`).
TEXT_SOURCES = {
    ("Practitioner", "name"): (_PRACTITIONER_LISTING, (Practitioner.listing_id, _PRACTITIONER_NAMES, None,
                                                       _PRACTITIONER_NAMES)),
    ("Practitioner", "family"): (_PRACTITIONER_LISTING, (Practitioner.listing_id, (Practitioner.last_name,), None,
                                                         _PRACTITIONER_NAMES)),
    ("Practitioner", "given"): ((Practitioner.listing_id, (Practitioner.first_name,), None, _PRACTITIONER_NAMES),),
    ("Organization", "name"): ((Listing.id, _LISTING_NAME, Listing.kind == "organization", _LISTING_NAME),),
    ("Location", "address-city"): ((Location.listing_id, (Location.city,), None, (Location.city,)),),
}
TEXT_NARROWERS = {key: _text(*sources) for key, sources in TEXT_SOURCES.items()}

# String parameters whose narrower reads every string part the parameter tests, in every row its
# resource's element is made from: a listing it finds by a plain prefix (no modifier) and whose
# text is all ASCII matches (when active and of the type). A Practitioner's name is its listing's
# name (text, and family without a practitioner row) and the practitioner's last and first names
# and credentials (family, given, suffix); an Organization's is its listing's name.
CERTAIN = {("Practitioner", "name"), ("Organization", "name")}


def certain_selects(session: Session, resource_type: str, name: str, values: list[str]):
    """For a plain `name` (CERTAIN) search: (the statement of the listings found by a prefix, as one
    UNION ALL; the statement of those with text beyond ASCII, which only testing decides), for the
    database to count and page the certain ones itself (see `search._text_page`). None when a
    value folds to nothing."""
    prefixes = [fold(value) for value in values]
    if not all(prefixes):
        return None
    prefixed, beyond = _prefix_selects(session, TEXT_SOURCES[resource_type, name], prefixes)
    return union_all(*prefixed), union_all(*beyond)


SLACK = timedelta(days=1)  # wider than any zone offset or rounding between the row and its resource


def _updated(session: Session, values: list[str]) -> set[int] | None:
    """Listings whose update time can satisfy these `_lastUpdated` values, for the types whose
    lastUpdated is their listing's (a role's or an affiliation's also follows its networks)."""
    conditions = []
    for value in values:
        prefix, body = (value[:2], value[2:]) if value[:2] in PREFIXES else ("eq", value)
        if prefix in ("ne", "ap"):
            return None
        low, high = date_range(body)
        if prefix in ("gt", "ge", "sa"):
            conditions.append(Listing.updated_at >= low - SLACK)
        elif prefix in ("lt", "le", "eb"):
            conditions.append(Listing.updated_at < high + SLACK)
        else:
            conditions.append(and_(Listing.updated_at >= low - SLACK, Listing.updated_at < high + SLACK))
    return set(session.exec(select(Listing.id).where(or_(*conditions))))


_LOCATION = _rows("Location", "location", Location.id, Location.listing_id)
_NETWORK = _rows("Organization", "network", Participation.network_id, Participation.listing_id)

# (type, parameter) -> narrower, for plain values (no modifier but :exact on strings).
NARROWERS: dict[tuple[str, str], Narrower] = {
    ("PractitionerRole", "practitioner"): _own("Practitioner", "practitioner"),
    ("PractitionerRole", "organization"): _rows("Organization", "organization", Role.organization_id,
                                                Role.practitioner_id),
    ("PractitionerRole", "location"): _rows("Location", "location", Role.location_id, Role.practitioner_id),
    ("PractitionerRole", "network"): _NETWORK,
    ("PractitionerRole", "specialty"): _specialty,
    ("OrganizationAffiliation", "participating-organization"): _own("Organization", "organization"),
    ("OrganizationAffiliation", "network"): _NETWORK,
    ("OrganizationAffiliation", "location"): _LOCATION,
    ("OrganizationAffiliation", "specialty"): _specialty,
    ("HealthcareService", "organization"): _own("Organization", "organization"),
    ("HealthcareService", "location"): _LOCATION,
    ("HealthcareService", "specialty"): _specialty,
    ("Location", "organization"): _own("Organization", "organization"),
    ("Location", "address-postalcode"): _prefix(Location.zip),
    ("Location", "address-state"): _prefix(Location.state),
    ("Endpoint", "organization"): _own("Organization", "organization"),
    ("Organization", "type"): _organization_code("OrgTypeCS", 0),
    ("HealthcareService", "service-category"): _organization_code("HealthcareServiceCategoryCS", 1, "prov"),
    ("OrganizationAffiliation", "role"): _organization_code("OrganizationAffiliationRoleCS", 2),
    **{(kind, "_lastUpdated"): _updated for kind in ("Practitioner", "Organization", "Location", "HealthcareService",
                                                     "Endpoint")},
}


def narrowing(session: Session, resource_type: str, name: str, modifier: str,
              values: list[str]) -> tuple[set[int] | None, set[int] | None]:
    """(The listings that can match `name` = any of `values`, or None when unknown; those of them
    whose resource certainly matches when it is active and of this type, or None when unknown)."""
    text = TEXT_NARROWERS.get((resource_type, name))
    if text is not None and modifier in ("", "exact", "contains"):
        answer = text(session, values, modifier)
        if answer is None:
            return None, None
        found, prefixed = answer
        return found, (prefixed if modifier == "" and (resource_type, name) in CERTAIN else None)
    narrow = NARROWERS.get((resource_type, name))
    if narrow is None or modifier not in ("", "exact"):
        return None, None
    return narrow(session, values), None
