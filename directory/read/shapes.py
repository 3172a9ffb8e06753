"""A listing as the public sees it, described once: the JSON API, the pages, the CSV and referral
exports and the OpenAPI schemas all come from these classes (the SQLModel template's `XPublic`).

Hydration builds them from database rows with `construct` (no validation: the database already
checked the values); the constraints below document the values for the OpenAPI schemas.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt

from directory.models import GEO_SOURCES, KINDS, ORG_TYPES, VERIFICATION_METHODS

MAX_PER_PAGE = 100  # results per page at most (the search parser refuses more)

Npi = Annotated[str, Field(pattern=r"^\d{10}$")]
Zip = Annotated[str, Field(pattern=r"^\d{5}$")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Counts = dict[str, NonNegativeInt]
DistanceBasis = Literal["street", "zip_centroid"]
PlaceResolution = Literal["zip", "city", "address", "coordinates"]

Shape = TypeVar("Shape", bound=BaseModel)
_new = object.__new__
_set = object.__setattr__


def construct(shape: type[Shape], values: dict[str, Any]) -> Shape:
    """`shape.model_construct(**values)` without its per-field loop, for values read from the
    database with every field of `shape` given (a page of cards builds dozens per request)."""
    built = _new(shape)
    _set(built, "__dict__", values)
    # Every field is set, so one set per shape serves all its instances (setting a field adds
    # its name, already there).
    _set(built, "__pydantic_fields_set__", _FIELDS.get(shape) or _fields(shape))
    _set(built, "__pydantic_extra__", None)
    _set(built, "__pydantic_private__", None)
    return built


_FIELDS: dict[type[BaseModel], set[str]] = {}


def _fields(shape: type[BaseModel]) -> set[str]:
    fields = _FIELDS[shape] = set(shape.model_fields)
    return fields


def _is_none(value: object) -> bool:
    return value is None


def _never_null(schema: dict[str, Any]) -> None:
    """The schema of an `optional` field: no default, and null left out (the field is instead)."""
    schema.pop("default", None)
    kinds = schema.pop("anyOf", None)
    if kinds is not None:
        [kind] = [k for k in kinds if k != {"type": "null"}]
        schema.update(kind)


def optional(**constraints: Any) -> Any:
    """A field left out of the output when it has no value (never written as null)."""
    return Field(default=None, exclude_if=_is_none, json_schema_extra=_never_null, **constraints)


class Public(BaseModel):
    """A public shape: closed (`additionalProperties: false` in the schema, so drift is noticed)."""

    model_config = ConfigDict(extra="forbid")


class LocationPublic(Public):
    id: int
    name: str | None
    address: str
    city: str
    state: Annotated[str, Field(min_length=2, max_length=2)]
    zip: Zip
    lat: Latitude
    lon: Longitude
    phone: str | None
    fax: str | None
    # Last: a stored card's place is read as current when its JSON ends with this (read/cards.py).
    geo_source: Literal[GEO_SOURCES] = Field(description="Where lat/lon come from: the street address "
                                             "(geocoder) or the ZIP code's centroid (zip_centroid).")


class PlacePublic(LocationPublic):
    """A location on a listing's own page: the card's fields, opening hours and access."""

    hours: dict[str, str | None] = Field(description="Day (mon..sun) -> HH:MM-HH:MM, or null when closed.")
    wheelchair_accessible: bool


class ListingSpecialtyPublic(Public):
    code: str
    display: str
    primary: bool


class SpecialtyPublic(Public):
    code: str
    display: str
    group: str


class NetworkRef(Public):
    id: int
    name: str


class NetworkPublic(NetworkRef):
    payer: str
    plan_type: str


class ListingPublic(Public):
    """What a card and a listing's own page both show."""

    id: int
    kind: Literal[KINDS]
    name: str
    npi: Npi
    location: LocationPublic | None = Field(description="The nearest location (on a listing's own page, its first).")
    specialties: list[ListingSpecialtyPublic]
    networks: list[NetworkRef]
    accepting_new_patients: bool
    telehealth: bool
    languages: list[str]
    last_verified: date | None
    stale: bool = Field(description="Never verified, or verified more than 90 days ago.")
    demo: bool = Field(description="Synthetic demonstration data, not a real provider.")


class ListingCard(ListingPublic):
    """One search result, at its nearest location."""

    distance_mi: float | None = optional(ge=0, description="Miles to the place searched, rounded to 0.1; "
                                         "only when a place (place, zip, or lat and lon) was given.")
    distance_basis: DistanceBasis | None = optional(description=(
        "What distance_mi is measured to: the location's street point (street), or only its ZIP code's "
        "centroid (zip_centroid: the distance is approximate). Only with distance_mi."))


class VerificationPublic(Public):
    """When, how and from what source a listing was verified; never who (staff are not public)."""

    last_verified: date | None
    method: Literal[VERIFICATION_METHODS] | None
    source: str


class OrganizationPublic(Public):
    type: Literal[ORG_TYPES]
    ivig_products: list[str]
    chairs: NonNegativeInt | None
    pediatric: bool
    prior_auth_help: bool


class ClinicianRef(Public):
    """A practitioner with a role at an organization."""

    id: int
    name: str
    location_id: int


class PractitionerPublic(Public):
    first_name: str
    last_name: str
    credentials: str | None
    gender: Literal["F", "M", "X"] | None


class RolePublic(Public):
    """Where a practitioner practises (FHIR PractitionerRole)."""

    organization_id: int | None
    organization_name: str | None
    location_id: int
    specialty: str | None
    accepting_new_patients: bool
    telehealth: bool


class ListingDetail(ListingPublic):
    """One listing with every location, role and network. Organizations add `organization` and
    `practitioners`; practitioners add `practitioner` and `roles`."""

    networks: list[NetworkPublic]
    active: bool
    services: list[str]
    website: str | None
    locations: list[PlacePublic]
    verification: VerificationPublic
    organization: OrganizationPublic | None = optional()
    practitioners: list[ClinicianRef] | None = optional()
    practitioner: PractitionerPublic | None = optional()
    roles: list[RolePublic] | None = optional()


class Facets(Public):
    """Counts over every match (not only this page), value -> number of listings."""

    specialty: Counts | None = optional()
    network: Counts | None = optional()
    kind: Counts | None = optional()
    accepting: Counts | None = optional()


class SearchPlacePublic(Public):
    """The point a search was centred on, as the server resolved what was asked."""

    name: str = Field(description='"Boston, MA", "02115 (Boston, MA)", the address as typed, or "lat, lon".')
    lat: Latitude
    lon: Longitude
    resolved_by: PlaceResolution = Field(description="zip: a ZIP's centroid; city: the centroid of a city's "
                                         "ZIP codes; address: the configured geocoder; coordinates: lat/lon.")
    radius_mi: Annotated[float, Field(ge=1)]


class SearchPage(Public):
    total: NonNegativeInt
    page: PositiveInt
    per_page: Annotated[int, Field(ge=1, le=MAX_PER_PAGE)]
    results: list[ListingCard]
    facets: Facets
    place: SearchPlacePublic | None = optional(description="The place searched around, when one was given.")


def distance_basis(geo_source: str) -> DistanceBasis:
    """A location's `geo_source` as what a distance to it is measured to."""
    return "street" if geo_source == "geocoder" else "zip_centroid"


class PlaceMatch(Public):
    """A city a place name could mean."""

    city: str
    state: Annotated[str, Field(min_length=2, max_length=2)]
    place: str = Field(description='The value to send as place= for this city, e.g. "Springfield, IL".')


class ErrorDetail(Public):
    code: str = Field(description="Machine-readable, e.g. invalid_parameter, unknown_zip, unknown_place, "
                      "ambiguous_place, needs_geocoder, address_not_found, not_found, gone, "
                      "method_not_allowed, request_too_large, index_unavailable, geocoder_unavailable.")
    message: str = Field(description="Human-readable; says what is allowed.")
    field: str | None = Field(description="The parameter at fault, when there is one.")
    matches: list[PlaceMatch] | None = optional(description="For a place name that is ambiguous (or not in "
                                                "the state given): the cities it could mean.")


class ErrorBody(Public):
    error: ErrorDetail


class ZipPlacePublic(Public):
    zip: Zip
    city: str
    state: str
    lat: float
    lon: float


class SpecialtyList(Public):
    results: list[SpecialtyPublic]


class NetworkList(Public):
    results: list[NetworkPublic]


class Health(Public):
    status: Literal["ok"]
    search_backend: str


CSV_COLUMNS = ("id", "name", "kind", "npi", "distance_mi", "distance_basis", "address", "city", "state", "zip",
               "phone", "fax", "specialties", "networks", "accepting_new_patients", "telehealth", "last_verified",
               "stale")


def csv_row(card: ListingCard) -> list:
    """A card as the cells of `CSV_COLUMNS` (not yet neutralised against spreadsheet formulas)."""
    place = card.location
    return [
        card.id, card.name, card.kind, card.npi, "" if card.distance_mi is None else card.distance_mi,
        card.distance_basis or "",
        *((place.address, place.city, place.state, place.zip, place.phone or "", place.fax or "")
          if place else ("",) * 6),
        "; ".join(f"{s.display} ({s.code})" for s in card.specialties),
        "; ".join(n.name for n in card.networks),
        "yes" if card.accepting_new_patients else "no", "yes" if card.telehealth else "no",
        card.last_verified.isoformat() if card.last_verified else "", "yes" if card.stale else "no",
    ]
