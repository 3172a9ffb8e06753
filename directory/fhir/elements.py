"""FHIR data types the mapping shares: meta, codings, references, telecom, addresses, hours,
and the Plan-Net extensions used by several resources."""

from __future__ import annotations

from datetime import UTC, date, datetime

from directory.fhir.codes import ACCEPTING, DATA_ABSENT_REASON, EXTENSION, GEOLOCATION, SYSTEM, WEEKDAYS, Canonicals
from directory.models import Location


def instant(moment: datetime) -> str:
    """A FHIR instant in UTC (a naive value read from the database is UTC already)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def latest(*moments: datetime) -> datetime:
    """The latest of these times (naive ones read as UTC)."""
    return max(m if m.tzinfo is not None else m.replace(tzinfo=UTC) for m in moments)


def tidy(resource: dict) -> dict:
    """Leave out unknown values and empty lists (FHIR allows neither null nor empty arrays)."""
    return {key: value for key, value in resource.items() if value is not None and value != []}


def meta(profile: str, updated: datetime) -> dict:
    return {"lastUpdated": instant(updated), "profile": [profile]}


def coding(system: str, code: str, display: str | None = None) -> dict:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def concept(system: str, code: str, display: str | None = None) -> dict:
    return {"coding": [coding(system, code, display)]}


def reference(resource_type: str, resource_id: str, display: str | None = None) -> dict:
    found = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        found["display"] = display
    return found


def last_verified(canon: Canonicals, verified: date | None) -> list[dict]:
    """Our `last-verified` extension (valueDate), or nothing for a listing never verified."""
    return [] if verified is None else [{"url": canon.last_verified, "valueDate": verified.isoformat()}]


def new_patients(accepting: bool, network: dict | None = None) -> dict:
    """Plan-Net's newpatients extension: accepting or not, optionally for one network's members."""
    parts = [{"url": "acceptingPatients", "valueCodeableConcept": concept(SYSTEM["AcceptingPatientsCS"],
                                                                          *ACCEPTING[accepting])}]
    if network is not None:
        parts.append({"url": "fromNetwork", "valueReference": network})
    return {"url": EXTENSION["newpatients"], "extension": parts}


def via_intermediary(target: dict) -> dict:
    return {"url": EXTENSION["via-intermediary"], "valueReference": target}


def telecom(loc: Location, intermediary: dict | None = None) -> list[dict]:
    """A location's phone and fax; marked as reached through `intermediary` (a reference) when
    the numbers are another party's (an organization's front desk, not the practitioner's own)."""
    points = []
    for system, value in (("phone", loc.phone), ("fax", loc.fax)):
        if value:
            point = {"system": system, "value": value, "use": "work"}
            if intermediary is not None:
                point["extension"] = [via_intermediary(intermediary)]
            points.append(point)
    return points


def address(loc: Location, with_position: bool = False) -> dict:
    found = {"use": "work", "type": "physical", "line": [loc.address], "city": loc.city, "state": loc.state,
             "postalCode": loc.zip, "country": "US",
             "text": f"{loc.address}, {loc.city}, {loc.state} {loc.zip}"}
    if with_position:
        found["extension"] = [{"url": GEOLOCATION, "extension": [{"url": "latitude", "valueDecimal": loc.lat},
                                                                 {"url": "longitude", "valueDecimal": loc.lon}]}]
    return found


def absent_address() -> dict:
    """An address we do not know (an Organization must have one): data-absent-reason unknown."""
    return {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]}


def _time(text: str) -> str:
    # FHIR times stop at 23:59:59; "24:00" closes at midnight.
    return "23:59:59" if text == "24:00" else f"{text}:00"


def opening_hours(hours: dict, start_key: str = "openingTime", end_key: str = "closingTime") -> list[dict]:
    """Opening hours ({"mon": "08:00-17:00", "sat": None, ...}) as FHIR availability: days with the
    same hours share one entry; "00:00-24:00" is all day. The keys name the times as
    Location.hoursOfOperation (openingTime) or a role's availableTime (availableStartTime) does."""
    by_span: dict[str, list[str]] = {}
    for day in WEEKDAYS:
        span = hours.get(day)
        if span:
            by_span.setdefault(span, []).append(day)
    entries = []
    for span, days in by_span.items():
        opens, closes = span.split("-")
        if (opens, closes) == ("00:00", "24:00"):
            entries.append({"daysOfWeek": days, "allDay": True})
        else:
            entries.append({"daysOfWeek": days, start_key: _time(opens), end_key: _time(closes)})
    return entries
