"""Result cards: listings hydrated from the database in the order search ranked them."""

from __future__ import annotations

from sqlalchemy import select

from directory.db import get_engine
from directory.geo import lookup_zip
from directory.models import Location
from directory.read import hydrate
from directory.services.roles import add_role


def test_a_page_of_any_size_gives_the_cards_of_its_listings_in_order(app, factory, session):
    ids = [factory.listing(sync=False, name=f"Centre {i}", zips=["02115", "02139"][: 1 + i % 2]).id
           for i in range(7)]
    one_by_one = {lid: hydrate.cards(session, [lid])[0] for lid in ids}
    ranked = ids[::-1]
    with get_engine(app).connect() as conn:
        for size in range(1, len(ranked) + 1):  # statements are built for powers of two; ids are padded
            page = ranked[:size]
            assert hydrate.cards(conn, page) == [one_by_one[lid] for lid in page]
            assert hydrate.cards(session, page) == [one_by_one[lid] for lid in page]
        assert hydrate.cards(conn, [ids[2], 999_999, ids[0]]) == [one_by_one[ids[2]], one_by_one[ids[0]]]
        assert hydrate.cards(conn, []) == []


def test_a_long_list_is_read_in_several_statements_with_the_same_cards(app, factory, session, monkeypatch):
    ids = [factory.listing(sync=False, name=f"Centre {i}", zips=["02115", "02139"][: 1 + i % 2]).id
           for i in range(7)]
    whole = hydrate.cards(session, ids)
    monkeypatch.setattr(hydrate, "MAX_STATEMENT_IDS", 3)  # SQLite's parameter limit, scaled down
    with get_engine(app).connect() as conn:
        assert hydrate.cards(conn, ids) == whole
        assert hydrate.cards(conn, ids + ids[:2]) == whole + whole[:2]


def test_a_practitioner_is_shown_at_its_own_place_then_at_its_roles_nearest_first(app, factory, session):
    org = factory.listing(sync=False, name="Cambridge Infusion", zips=["02139", "02118"])
    doctor = factory.listing(sync=False, kind="practitioner", name="Ada Lovelace, MD", zips=["02115"])
    org_places = session.execute(select(Location).where(Location.listing_id == org.id).order_by(Location.id)).scalars()
    for place in reversed(org_places.all()):  # role order, not location order, decides
        add_role(session, practitioner_id=doctor.id, location_id=place.id, actor="test")
    session.commit()

    with get_engine(app).connect() as conn:
        [card] = hydrate.cards(conn, [doctor.id])
        assert card.location.zip == "02115"
        places = hydrate.card_parts(conn, [doctor.id])[3][doctor.id]
        assert [p.zip for p in places] == ["02115", "02118", "02139"]
        cambridge = lookup_zip("02139")
        [card] = hydrate.cards(conn, [doctor.id], {doctor.id: 0.04}, (cambridge.lat, cambridge.lon))
        assert card.location.zip == "02139"
        assert card.distance_mi == 0.0


def test_place_rows_hold_the_location_columns_where_cards_read_them():
    *_, places = hydrate._card_statements(1)
    columns = places.selected_columns.keys()
    assert columns[hydrate.PLACE_LISTING] == "listing_id"
    assert columns[hydrate.PLACE_AT:] == list(hydrate.LOCATION_KEYS)
