"""Result cards stored per listing (`PublicCard`, `PublicPlace`): a card's JSON made once, when its
listing changes, instead of on every search.

They are derived like the search index and written in the same step: the outbox
(`search.sync.apply_pending`) calls `write_cards` for the listings whose documents it writes, and
`reindex` calls `rebuild_cards`. The JSON is pydantic's for `ListingCard` and `LocationPublic`,
cut around what depends on the search (`location`, `distance_mi`) or the day (`stale`), so that a
page of cards is one statement (`page_rows`) and a splice of stored text (`card_json`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import date
from functools import cache

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.engine import Engine

from directory.db import driver_rows
from directory.models import GEO_SOURCES, Listing, PublicCard, PublicPlace
from directory.read import hydrate
from directory.read.shapes import ListingCard, LocationPublic, construct, distance_basis

CARD_FIELDS = tuple(ListingCard.model_fields)
# What a stored card leaves out, and where: "location" after the head, "stale" after the tail,
# then "demo", "distance_mi" and "distance_basis".
assert CARD_FIELDS[CARD_FIELDS.index("stale"):] == ("stale", "demo", "distance_mi", "distance_basis"), CARD_FIELDS
LOCATION_CUT = ',"location":null,'
STALE_CUT = ',"stale":'
# A stored place's JSON ends with its geo_source (the last member of `LocationPublic`), which says
# what a distance to it is measured to. A place stored before geo_source was part of the card
# (no such ending) is read from the rows instead, until `reindex` or its next change rewrites it.
assert tuple(LocationPublic.model_fields)[-1] == "geo_source"
PLACE_ENDINGS = tuple((f',"geo_source":"{source}"}}', distance_basis(source)) for source in GEO_SOURCES)


def place_basis(body: str) -> str | None:
    """The distance basis of a stored place's JSON ("street" or "zip_centroid"), or None when the
    place was stored in an older layout (without geo_source)."""
    for ending, basis in PLACE_ENDINGS:
        if body.endswith(ending):
            return basis
    return None


def _stored(card: ListingCard) -> tuple[str, str]:
    """(head, tail) of a card's JSON: the members before "location" and those between it and
    "stale", as pydantic writes them."""
    body = card.model_dump_json()
    head, rest = body[1:].split(LOCATION_CUT, 1)  # a quote inside a string value is escaped
    return head, rest[: rest.rindex(STALE_CUT)]


def write_cards(conn: Connection, listing_ids: Iterable[int], active: set[int] | None = None) -> None:
    """Write the cards of these listings and the places they own, replacing what was stored.

    `active`: the ids whose listing is live in search (their document is not None); only those get
    a card. Places are written for every listing that exists: a practitioner's card may show an
    organization's place."""
    ids = sorted(set(listing_ids))
    if not ids:
        return
    conn.execute(delete(PublicCard).where(PublicCard.listing_id.in_(ids)))
    conn.execute(delete(PublicPlace).where(PublicPlace.listing_id.in_(ids)))
    listings, specialties, networks, places = hydrate.card_parts(conn, ids)
    cards, owned = [], []
    for lid in ids:
        row = listings.get(lid)
        if row is None:
            continue
        own = places[lid]
        owned += [{"location_id": place[hydrate.PLACE_ID], "listing_id": lid,
                   "body": hydrate.location_shape(place).model_dump_json()}
                  for place in own if place[0] == 0]  # its own, not its roles' places
        if active is not None and lid not in active:
            continue
        values = hydrate.listing_values(row, None, specialties[lid], networks[lid], date.today())
        values["distance_mi"] = values["distance_basis"] = None
        head, tail = _stored(construct(ListingCard, values))
        cards.append({"listing_id": lid, "head": head, "tail": tail, "last_verified": values["last_verified"],
                      "demo": values["demo"], "location_id": own[0][hydrate.PLACE_ID] if own else None})
    if owned:
        conn.execute(insert(PublicPlace), owned)
    if cards:
        conn.execute(insert(PublicCard), cards)


def rebuild_cards(engine: Engine, writing: Callable[[], AbstractContextManager], batch_size: int = 2000) -> int:
    """Write every active listing's card (and every place), a batch of ids at a time, and drop
    the cards of listings no longer active. Returns the cards written. Each batch holds
    `writing()` (the searcher's writer lock), so the outbox never writes the same cards at once."""
    written, last_id = 0, 0
    while True:
        with writing(), engine.begin() as conn:
            rows = conn.execute(select(Listing.id, Listing.active).where(Listing.id > last_id)
                                .order_by(Listing.id).limit(batch_size)).all()
            if not rows:
                return written
            active = {lid for lid, is_active in rows if is_active}
            write_cards(conn, [lid for lid, _ in rows], active)
            written += len(active)
            last_id = rows[-1][0]


# -- reading a page ----------------------------------------------------------------------------


@cache
def _page_statement(size: int) -> str:
    """The cards of `size` (listing id, location id) pairs, each at that location or, when it is
    null, at the card's own first place: one statement (driver placeholders), built once per size.
    A listing deleted since its card was written is left out (the outbox removes its card next)."""
    pairs = ", ".join(["(CAST(? AS BIGINT), CAST(? AS BIGINT))"] * size)
    return f"""
        WITH page(lid, loc) AS (VALUES {pairs})
        SELECT c.listing_id, c.head, c.tail, c.last_verified, c.demo, p.body,
               coalesce(page.loc, c.location_id)
        FROM page JOIN {PublicCard.__tablename__} c ON c.listing_id = page.lid
        JOIN {Listing.__tablename__} l ON l.id = c.listing_id
        LEFT JOIN {PublicPlace.__tablename__} p ON p.location_id = coalesce(page.loc, c.location_id)
    """


def page_rows(conn: Connection, ids: list[int], location_ids: dict[int, int]) -> dict[int, tuple]:
    """Listing id -> (head, tail, last_verified, demo, place JSON or None), for the listings of a
    page whose card and place are stored; `location_ids` names the place to show where search
    knows it. Listings left out (deleted, or not stored yet) are for `hydrate.cards`.

    Run on the driver's cursor (`db.driver_rows`): this is most of a search request's database
    time. Spare pairs (a few statement sizes) hold nulls, which join nothing."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        return {}
    size = 1 << (len(unique) - 1).bit_length()
    params: list[int | None] = []
    for lid in unique:
        params += (lid, location_ids.get(lid))
    params += [None] * (2 * (size - len(unique)))
    found = {}
    # A place named but not stored (written after its owner's card), or stored in an older layout,
    # is read from the rows.
    for lid, head, tail, verified, demo, place, shown in driver_rows(conn, _page_statement(size), params):
        if (place is not None and place_basis(place) is not None) or shown is None:
            found[lid] = (head, tail, verified if verified is None or isinstance(verified, date)
                          else date.fromisoformat(verified), bool(demo), place)
    return found

def _page(conn: Connection, ids: list[int], distances: dict[int, float | None] | None,
          near: tuple[float, float] | None, location_ids: dict[int, int],
          from_stored: Callable[[tuple, float | None, date], object],
          from_live: Callable[[ListingCard], object]) -> list:
    """A page of cards in the order of `ids` (listings deleted meanwhile left out): stored ones
    through `from_stored(parts, miles, today)`, the others hydrated from their rows."""
    stored = page_rows(conn, ids, location_ids)
    missing = [lid for lid in ids if lid not in stored]
    live = {card.id: card for card in hydrate.cards(conn, missing, distances, near, location_ids)} if missing else {}
    today = date.today()
    out = []
    for lid in ids:
        if lid in stored:
            out.append(from_stored(stored[lid], distances.get(lid) if distances else None, today))
        elif lid in live:
            out.append(from_live(live[lid]))
    return out


def page_shapes(conn: Connection, ids: list[int], distances: dict[int, float | None] | None,
                near: tuple[float, float] | None, location_ids: dict[int, int],
                loads: Callable[[str], dict]) -> list[ListingCard]:
    """A page of cards as shapes (for the pages and exports)."""
    return _page(conn, ids, distances, near, location_ids,
                 lambda parts, miles, today: card_shape(parts, miles, today, loads), lambda card: card)


def page_json(conn: Connection, ids: list[int], distances: dict[int, float | None] | None,
              near: tuple[float, float] | None, location_ids: dict[int, int]) -> list[str]:
    """A page of cards as JSON texts (as `page_shapes`, never parsed)."""
    return _page(conn, ids, distances, near, location_ids, card_json, lambda card: card.model_dump_json())


def card_json(stored: tuple, distance_mi: float | None, today: date) -> str:
    """One card's JSON from its stored parts: pydantic's members in the shape's order."""
    head, tail, last_verified, demo, place = stored
    stale = "true" if hydrate.is_stale(last_verified, today) else "false"
    if distance_mi is None or place is None:
        end = "}"
    else:
        end = f',"distance_mi":{round(distance_mi, 1)!r},"distance_basis":"{place_basis(place)}"}}'
    return (f'{{{head},"location":{place or "null"},{tail},"stale":{stale},'
            f'"demo":{"true" if demo else "false"}{end}')


def card_shape(stored: tuple, distance_mi: float | None, today: date, loads: Callable[[str], dict]) -> ListingCard:
    """One card as the `ListingCard` shape (for the pages and exports), from its stored parts."""
    head, tail, last_verified, demo, place = stored
    values = loads(f"{{{head},{tail}}}")
    values["specialties"] = [hydrate.specialty_shape(s["code"], s["display"], s["primary"])
                             for s in values["specialties"]]
    values["networks"] = [hydrate.network_shape(n["id"], n["name"]) for n in values["networks"]]
    values["last_verified"] = last_verified
    values["location"] = None if place is None else construct(LocationPublic, loads(place))
    values["stale"] = hydrate.is_stale(last_verified, today)
    values["demo"] = bool(demo)
    values["distance_mi"] = None if distance_mi is None or place is None else round(distance_mi, 1)
    values["distance_basis"] = None if values["distance_mi"] is None else place_basis(place)
    return construct(ListingCard, {field: values[field] for field in CARD_FIELDS})
