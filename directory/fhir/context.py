"""What a FHIR search is parsed into (`Criteria`), what it runs with (`Context`) and what a
sub-search answers (`Found`); which types give one resource per listing or let the Searcher
narrow them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from directory.fhir.codes import Canonicals
from directory.fhir.places import Near
from directory.fhir.universe import Key

# Types giving exactly one resource per active listing of a kind (key (0, listing, 0)).
ONE_PER_LISTING = {"Practitioner": "practitioner", "Organization": "organization"}
# Types whose listings the Searcher may narrow by specialty and network (a role's or an
# affiliation's specialty is one of its listing's, its network one its listing is in), and kind.
PUSHED = {"PractitionerRole": "practitioner", "OrganizationAffiliation": "organization"}


@dataclass(frozen=True)
class Found:
    """A sub-search's matches: "Type/id" -> (resource, miles from the place searched, or None)."""

    matches: dict[str, tuple[dict, float | None]]
    listings: set[int] | None = None


@dataclass
class Context:
    session: Session
    canon: Canonicals
    root: str  # this server's FHIR base URL
    now: datetime
    lenient: bool
    find: Callable[..., Found]  # (ctx, type, pairs, whole=False)
    records: dict = field(default_factory=dict)  # listing id -> ListingRecord read in this request


@dataclass
class Criteria:
    tests: list[Callable[[Key, dict], bool]] = field(default_factory=list)
    listings: set[int] | None = None
    near: Near | None = None
    distance: Callable[[dict], float | None] | None = None
    ranking: dict[int, int] | None = None
    applied: list[tuple[str, str]] = field(default_factory=list)
    # The top-level elements the tests read (what a light resource must hold, see `light`).
    fields: set[str] = field(default_factory=lambda: {"id"})
    # Filters the Searcher may apply with `near` (each keeps a superset of the matches):
    # the listings' specialties (any of), networks (any of), kind.
    specialties: tuple[str, ...] | None = None
    networks: tuple[int, ...] | None = None
    kind: str | None = None
    near_chain: tuple | None = None  # (the reference parameter, its name) of a `location.near` chain
    # Run over every candidate (key, resource) before the tests (e.g. distances computed at once).
    prepare: list[Callable[[list[tuple[Key, dict]]], None]] = field(default_factory=list)
    deferred: list[tuple[str, str, str]] = field(default_factory=list)  # narrowings left to the Searcher
    near_test: Callable[[Key, dict], bool] | None = None  # Location?near's test (the radius)
    near_alone: bool = False  # Location?near is the page's only test: the Searcher was not asked
    # Each _content's words and ranking (listing -> rank), ranked once parsed unless `content_alone`:
    # the only test of a page of a type with one resource per listing, which the Searcher pages.
    rankings: list[tuple[str, dict[int, int]]] = field(default_factory=list)
    content_alone: bool = False
    near_locations: frozenset[int] | None = None  # a `location.near` chain's locations within the radius
    location_miles: dict[int, float] | None = None  # and their distances
    accepting: frozenset[bool] | None = None  # a plain new-patient's values (newpt: True, nopt: False)
    # The tests every light PractitionerRole built `within` these criteria passes (see `light.Within`:
    # the chain's locations, the plain specialty, network and new-patient): not run on those.
    within_tests: set[Callable[[Key, dict], bool]] = field(default_factory=set)
    ranking_test: Callable[[Key, dict], bool] | None = None  # _content's test (a ranked listing's)
    listings_only: bool = False  # a test rejects what the networks give (payers, networks, plans)
    # Plain `name` tests (CERTAIN) whose narrowing waits for the end of `parse`: (test, name, values).
    lazy_text: list[tuple[Callable[[Key, dict], bool], str, list[str]]] = field(default_factory=list)
    # When those are a page's only tests: each one's (prefixed, beyond ASCII) statements (see
    # `narrowing.certain_selects`), which the database counts and pages (`search._text_page`).
    text_alone: list[tuple] | None = None

    def narrow(self, listings: set[int]) -> None:
        self.listings = set(listings) if self.listings is None else self.listings & listings
