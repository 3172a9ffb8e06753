"""Typo lookups are remembered per index segment (a segment's terms never change): a typo looked up
before a listing with that name existed still finds the listing once it is written (a new
segment), and an edited name is found by its typo and no longer by the old one."""

from __future__ import annotations

import pytest

from directory.search import get_searcher
from directory.search.query import SearchQuery
from tests.search.helpers import edit

pytestmark = pytest.mark.backends("whoosh")


def found(app, words: str) -> set[int]:
    with app.app_context():
        return {hit.lid for hit in get_searcher().search(SearchQuery(q=words, per_page=100)).hits}


def test_a_typo_looked_up_before_the_name_existed_finds_it_after(app, factory):
    factory.listing(name="Harbor Infusion Center")
    assert found(app, "quenneville") == set()
    assert found(app, "quennevile") == set()  # looked up (and remembered) while no term is near
    listing = factory.listing(name="Quenneville Infusion Center")
    assert found(app, "quennevile") == {listing.id}
    assert found(app, "quennevile") == {listing.id}  # remembered now, same answer


def test_an_edited_name_is_found_by_its_typo_and_the_old_one_no_longer(app, session, factory):
    listing = factory.listing(name="Marchetti Infusion Center")
    assert found(app, "marchettti") == {listing.id}
    edit(session, factory, listing, name="Delacroix Infusion Center", zips=["02115"], specialties=["261QI0500X"])
    assert found(app, "marchettti") == set()
    assert found(app, "delacorix") == {listing.id}
