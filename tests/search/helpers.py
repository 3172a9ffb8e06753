"""Helpers shared by the consistency and worker tests."""

from __future__ import annotations

from sqlalchemy import select

from directory.db import get_engine
from directory.models import Location
from directory.search import Searcher, get_searcher
from directory.search.query import Place, SearchQuery
from directory.search.sync import check_index
from directory.services.listings import ListingInput, LocationInput, update_listing

# -- helpers ---------------------------------------------------------------------------------------


def search(client, **params) -> list[int]:
    response = client.get("/api/v1/search", query_string={"per_page": 100, **params})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == len(body["results"])
    return [r["id"] for r in body["results"]]


def report(app):
    with app.app_context():
        return check_index(get_engine(app), get_searcher(app))


def cli(app, runner, *args):
    """Run a `flask` command as the real CLI does: with the app context pushed.

    (`FlaskCliRunner.invoke` alone does not push one for these commands; see
    test_cli_runner_without_app_context.)
    """
    with app.app_context():
        return runner.invoke(args=list(args))


def assert_consistent(app, runner):
    drift = report(app)
    assert drift.ok, drift
    result = cli(app, runner, "check-index")
    assert result.exit_code == 0, result.output
    assert "index matches the database" in result.output


def listing_input(listing, *, name: str, zips: list[str], specialties: list[str], **extra) -> ListingInput:
    return ListingInput(
        kind=listing.kind,
        npi=listing.npi,
        name=name,
        specialties=specialties,
        locations=[LocationInput(address=f"{i + 1} Main St", zip=z) for i, z in enumerate(zips)],
        first_name=extra.pop("first_name", "Ada" if listing.kind == "practitioner" else None),
        last_name=extra.pop("last_name", "Lovelace" if listing.kind == "practitioner" else None),
        **extra,
    )


def edit(session, factory, listing, *, name: str, zips: list[str], specialties: list[str]) -> None:
    """Edit a listing through the write path (name, places, specialties), commit, and apply the
    index change. The stored locations are edited in place, in order, as the staff form does (their
    roles stay); extra zips add locations and missing ones remove the last."""
    data = listing_input(listing, name=name, zips=zips, specialties=specialties)
    stored = session.execute(select(Location.id).where(Location.listing_id == listing.id)
                             .order_by(Location.id)).scalars().all()
    for location, location_id in zip(data.locations, stored, strict=False):
        location.id = location_id
    update_listing(session, listing.id, data, actor="test")
    session.commit()
    factory.sync()


def direct_search(searcher: Searcher, q: str = "", place: Place | None = None) -> list[int]:
    query = SearchQuery(q=q, place=place, sort="distance" if place else "relevance", per_page=100)
    return [hit.lid for hit in searcher.search(query).hits]






BOSTON = Place(42.3429, -71.1003, 10.0)
HONOLULU = Place(21.3179, -157.8521, 10.0)
