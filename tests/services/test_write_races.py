"""Two writes to one listing at once (verifications, an edit and a verification) never lose either:
one succeeds and the other is refused as stale. Real databases: SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session

from directory.db import get_engine
from directory.importers.upsert import snapshot
from directory.models import Listing
from directory.services.errors import StaleVersion
from directory.services.listings import update_listing
from directory.services.verification import verify_listing
from tests.factories import Factory


def _listing(app) -> int:
    with Session(get_engine(app), expire_on_commit=False) as session:
        return Factory(app, session).listing(sync=False).id


def verify(by: str):
    def write(session: Session, lid: int) -> None:
        verify_listing(session, lid, by=by, method="phone", changed=False, expected_version=1)
    return write


def rename(session: Session, lid: int) -> None:
    data = snapshot(session, session.get(Listing, lid))
    data.name = "Renamed Infusion Center"
    update_listing(session, lid, data, actor="editor@example.org", expected_version=1)


def race(app, lid: int, first, second) -> object:
    """Run `first` and leave its transaction open; start `second` (same listing version) in a thread,
    then commit `first`. Returns what `second` raised (None if it committed)."""
    engine = get_engine(app)
    outcome: dict = {}
    with Session(engine) as one:
        first(one, lid)
        one.flush()

        def run() -> None:
            with Session(engine) as two:
                try:
                    second(two, lid)
                    two.commit()
                    outcome["raised"] = None
                except StaleVersion as error:
                    two.rollback()
                    outcome["raised"] = error

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(0.5)  # the second write waits for the first one's row
        one.commit()
    thread.join(30)
    assert not thread.is_alive()
    return outcome["raised"]


@pytest.mark.parametrize("first, second", [
    (verify("a@example.org"), verify("b@example.org")),
    (rename, verify("b@example.org")),
    (verify("a@example.org"), rename),
], ids=["verify-verify", "edit-verify", "verify-edit"])
@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_the_second_of_two_writes_at_once_is_refused_as_stale(app, first, second):
    lid = _listing(app)
    raised = race(app, lid, first, second)
    assert isinstance(raised, StaleVersion)
    with Session(get_engine(app)) as session:
        listing = session.get(Listing, lid)
        assert listing.version == 2  # one write landed, not two
