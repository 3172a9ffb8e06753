"""Importing our CSV template: upsert by NPI, line-numbered rejections, dry run, batches."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import func, select

from directory.db import get_engine
from directory.importers import upsert
from directory.importers.template import TEMPLATE_HEADER, import_template
from directory.models import AuditEntry, IndexChange, Listing, ListingSpecialty, Location
from directory.search import get_searcher
from directory.search.sync import apply_pending, check_index

FIXTURE = Path(__file__).parent.parent / "fixtures" / "template_listings.csv"


def count(session, table) -> int:
    return session.execute(select(func.count()).select_from(table)).scalar_one()


def run(session, text: str | None = None, **options):
    with open(FIXTURE, encoding="utf-8", newline="") as handle:
        stream = io.StringIO(text) if text is not None else handle
        return import_template(session, stream, actor="test", **options)


def by_npi(session, npi: str) -> Listing:
    return session.execute(select(Listing).where(Listing.npi == npi)).scalar_one()


def test_header_documents_required_columns():
    for column in ("npi", "kind", "name", "first_name", "last_name", "credentials", "org_type", "specialties",
                   "networks", "accepting_new_patients", "telehealth", "languages", "services", "address",
                   "city", "state", "zip", "phone", "fax", "website"):
        assert column in TEMPLATE_HEADER


def test_import_creates_listings_and_rejects_bad_rows_with_line_numbers(session):
    report = run(session)
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    reasons = {line: (npi, reason) for line, npi, reason in report.rejections}
    assert sorted(reasons) == [5, 6, 7, 8, 9]
    assert reasons[5][0] == "2000700016" and "check digit" in reasons[5][1]
    assert reasons[6][0] == "2000700023" and "99999" in reasons[6][1]
    assert reasons[7][1] == "name: required"
    assert reasons[8][0] == "1000700025" and "phone" in reasons[8][1]
    assert "accepting_new_patients" in reasons[9][1]
    assert report.rejected == 5

    fenway = by_npi(session, "2000700015")
    assert fenway.source == "import" and fenway.languages == ["en", "es"] and fenway.accepting_new_patients
    places = session.execute(select(Location).where(Location.listing_id == fenway.id).order_by(Location.id))
    assert [(p.city, p.state, p.zip, p.phone) for p in places.scalars()] == [
        ("Boston", "MA", "02115", "(617) 555-0100"), ("New York", "NY", "10001", "(212) 555-0100")]
    primary = session.execute(select(ListingSpecialty.code).where(
        ListingSpecialty.listing_id == fenway.id, ListingSpecialty.is_primary)).scalar_one()
    assert primary == "261QI0500X"
    ada = by_npi(session, "1000700017")
    place = session.execute(select(Location).where(Location.listing_id == ada.id)).scalar_one()
    assert (place.zip, place.phone) == ("02115", "(617) 555-0199")  # ZIP+4 and dotted phone accepted


def test_reimport_unchanged_does_not_bump_version_or_audit(session):
    run(session)
    audits = count(session, AuditEntry)
    versions = {x.npi: x.version for x in session.execute(select(Listing)).scalars()}
    report = run(session)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert count(session, AuditEntry) == audits
    session.expire_all()
    assert {x.npi: x.version for x in session.execute(select(Listing)).scalars()} == versions


def test_changed_row_updates_through_the_write_path(session):
    run(session)
    text = FIXTURE.read_text().replace("Back Bay Home Infusion Two", "Back Bay Home Infusion 2")
    report = run(session, text)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    session.expire_all()
    listing = by_npi(session, "2000700056")
    assert (listing.name, listing.version) == ("Back Bay Home Infusion 2", 2)
    audit = session.execute(select(AuditEntry).where(AuditEntry.listing_id == listing.id,
                                                     AuditEntry.action == "update")).scalar_one()
    assert audit.changes["name"] == ["Back Bay Home Infusion Two", "Back Bay Home Infusion 2"]


def test_dry_run_reports_and_writes_nothing(session):
    report = run(session, dry_run=True)
    assert report.dry_run and (report.created, report.rejected) == (3, 5)
    assert count(session, Listing) == count(session, AuditEntry) == count(session, IndexChange) == 0


def test_failed_batch_is_written_again_one_listing_at_a_time(session, monkeypatch):
    from directory.services import restore

    real = restore.create_listing

    def failing(session, data, actor):
        if data.npi == "1000700017":
            raise RuntimeError("disk full")
        return real(session, data, actor)

    monkeypatch.setattr(restore, "create_listing", failing)
    report = run(session, batch_size=2)
    # Batch 1 holds 2000700015 and 1000700017 (fails): rolled back, then 2000700015 is written alone.
    assert report.created == 2
    assert [(line, npi) for line, npi, reason in report.rejections if "disk full" in reason] == [(4, "1000700017")]
    assert sorted(session.execute(select(Listing.npi)).scalars()) == ["2000700015", "2000700056"]


def test_missing_header_column_is_reported(session):
    report = run(session, "npi,kind,name\n2000700015,organization,X\n")
    assert report.rejections == [(1, "", "header: missing column specialties, address, zip")]
    assert count(session, Listing) == 0


def test_index_matches_database_after_import(app, session):
    run(session)
    engine = get_engine(app)
    apply_pending(engine, get_searcher(app))
    assert check_index(engine, get_searcher(app)).ok


def test_rows_of_one_npi_must_agree_on_listing_fields(session):
    text = FIXTURE.read_text().replace("Fenway Infusion Center,,,,infusion_center,261QI0500X;261QM2500X,,yes,no,en;es,"
                                       "ivig;infusion_center,350", "Fenway Infusion,,,,infusion_center,"
                                       "261QI0500X;261QM2500X,,yes,no,en;es,ivig;infusion_center,350")
    report = run(session, text)
    assert (3, "2000700015", "name: differs from line 2 for the same NPI") in report.rejections
    assert (2, "2000700015", "listing skipped: another of its rows was rejected") in report.rejections
    assert session.execute(select(Listing).where(Listing.npi == "2000700015")).first() is None


class _Pipe(io.StringIO):
    """A stream that cannot seek, like standard input."""

    def seekable(self) -> bool:
        return False


def test_listings_are_yielded_as_their_last_row_is_read(session):
    """Rows of one NPI may be far apart; each listing is handed on as soon as its last row is read,
    so only listings still waiting for rows are held, not the whole file. A pipe works too."""
    from directory.importers.template import read_candidates
    from directory.npi import make_npi

    def row(npi: str, address: str) -> str:
        values = {"npi": npi, "kind": "organization", "name": f"Org {npi}", "specialties": "261QI0500X",
                  "address": address, "zip": "02115"}
        return ",".join(values.get(column, "") for column in TEMPLATE_HEADER)

    a, b, c = (make_npi(900 + i, individual=False) for i in range(3))
    text = "\r\n".join([",".join(TEMPLATE_HEADER), row(a, "1 A St"), row(b, "1 B St"), row(a, "2 A St"),
                        row(c, "1 C St")]) + "\r\n"
    for stream in (io.StringIO(text, newline=""), _Pipe(text, newline="")):
        report = upsert.ImportReport()
        candidates, _columns = read_candidates(stream, report)
        first = next(candidates)
        assert (first.npi, first.lines) == (b, [3])  # complete before a's second row is read
        rest = list(candidates)
        assert [(x.npi, x.lines, len(x.data.locations)) for x in rest] == [(a, [2, 4], 2), (c, [5], 1)]
        assert report.rejections == []
    assert run(session, text).created == 3


# --- absent columns keep what is stored (issue 12, item 1) -------------------------------------

SHORT_HEADER = "npi,kind,name,specialties,address,zip"


def _rich_listings(factory, session):
    """An organization and a practitioner with every optional field set away from its default."""
    ppo = factory.network()
    org = factory.listing(networks=[ppo.id], accepting_new_patients=True, telehealth=True,
                          languages=["en", "es"], services=["ivig"], website="https://fenway.example",
                          org_type="home_infusion", specialties=["3336H0001X"], ivig_products=["Privigen"],
                          sync=False)
    prac = factory.listing(kind="practitioner", name="Ada Lovelace, MD", credentials="MD",
                           networks=[ppo.id], accepting_new_patients=True, telehealth=True,
                           languages=["en", "fr"], services=["ivig"], sync=False)
    for listing in (org, prac):
        place = session.execute(select(Location).where(Location.listing_id == listing.id)).scalar_one()
        place.name, place.fax, place.wheelchair_accessible = "Suite 4", "(617) 555-0101", True
    session.commit()
    return org, prac


def _stored(session):
    from directory.exports import listing_record
    from directory.models import Network

    networks = {n.id: n for n in session.execute(select(Network)).scalars()}
    session.expire_all()
    return {x.npi: listing_record(session, x, networks) for x in session.execute(select(Listing)).scalars()}


def test_a_file_with_fewer_columns_keeps_every_absent_field(factory, session):
    org, prac = _rich_listings(factory, session)
    before = _stored(session)
    text = (f"{SHORT_HEADER}\n{org.npi},organization,Fenway Infusion Center,3336H0001X,1 Main St,02115\n"
            f"{prac.npi},practitioner,\"Ada Lovelace, MD\",207RR0500X,1 Main St,02115\n")
    report = run(session, text)
    assert (report.updated, report.unchanged, report.rejected) == (0, 2, 0), report.rejections
    assert _stored(session) == before


def test_a_present_column_with_an_empty_cell_clears_it_and_the_report_counts_fields(factory, session):
    org, prac = _rich_listings(factory, session)
    text = (f"{SHORT_HEADER},networks,telehealth,website\n"
            f"{org.npi},organization,Fenway Infusion Center,3336H0001X,1 Main St,02115,,,\n"
            f"{prac.npi},practitioner,\"Ada Lovelace, MD\",207RR0500X,1 Main St,02115,,yes,\n")
    dry = run(session, text, dry_run=True)
    assert dry.fields == {"networks": 2, "telehealth": 1, "website": 1}
    assert "networks: 2 listings" in dry.field_summary() and "telehealth: 1 listing" in dry.field_summary()
    report = run(session, text)
    assert (report.updated, report.fields) == (2, dry.fields)
    after = _stored(session)
    assert after[org.npi]["networks"] == after[prac.npi]["networks"] == []
    assert (after[org.npi]["telehealth"], after[prac.npi]["telehealth"]) == (False, True)
    assert after[org.npi]["website"] is None
    # Absent columns still kept.
    assert after[org.npi]["languages"] == ["en", "es"] and after[org.npi]["org_type"] == "home_infusion"
    assert after[prac.npi]["credentials"] == "MD" and after[prac.npi]["accepting_new_patients"]


def test_new_listings_get_the_documented_defaults(session):
    report = run(session, f"{SHORT_HEADER}\n2000700015,organization,Fenway,261QI0500X,1 Main St,02115\n")
    assert report.created == 1
    listing = by_npi(session, "2000700015")
    assert (listing.languages, listing.accepting_new_patients, listing.telehealth) == (["en"], False, False)


# --- every row reported when a write fails in the database (issue 12, item 9) -----------------

def test_a_database_failure_rejects_only_its_row_and_the_rest_of_the_batch_is_written(app, session):
    from sqlalchemy import text as sql

    # A real failure the service cannot foresee: the database refuses one name.
    session.execute(sql("create trigger refuse_boom before insert on listing when new.name = 'Boom Clinic' "
                        "begin select raise(abort, 'refused by the database'); end"))
    session.commit()
    rows = [f"{make(i)},organization,{'Boom Clinic' if i == 2 else f'Clinic {i}'},261QI0500X,{i} Main St,02115"
            for i in range(5)]
    report = run(session, f"{SHORT_HEADER}\n" + "\n".join(rows) + "\n", batch_size=10)
    assert report.created == 4
    assert [(line, npi) for line, npi, _ in report.rejections] == [(4, make(2))]
    assert "refused by the database" in report.rejections[0][2]
    assert sorted(session.execute(select(Listing.name)).scalars()) == [f"Clinic {i}" for i in (0, 1, 3, 4)]


def make(i: int) -> str:
    from directory.npi import make_npi

    return make_npi(5000 + i, individual=False)


# --- practices_at: practitioners' roles (issue 12, item 2) -------------------------------------

ROLE_HEADER = "npi,kind,name,first_name,last_name,specialties,address,zip,practices_at"


def test_practices_at_names_organizations_later_in_the_file_and_may_replace_the_address(session):
    from directory.models import Role
    from directory.npi import make_npi

    prac, org = make_npi(7001, individual=True), make(21)
    text = (f"{ROLE_HEADER}\n{prac},practitioner,\"Ada Lovelace, MD\",Ada,Lovelace,207RR0500X,,,"
            f"{org}@10 River St|02115;{org}@5 Elm St|02116\n"
            f"{org},organization,River Infusion,,,261QI0500X,10 River St,02115,\n"
            f"{org},organization,River Infusion,,,261QI0500X,5 Elm St,02116,\n")
    report = run(session, text)
    assert (report.created, report.rejected) == (2, 0), report.rejections
    ada = by_npi(session, prac)
    assert session.execute(select(Location).where(Location.listing_id == ada.id)).first() is None
    places = session.execute(select(Location.address).join(Role, Role.location_id == Location.id)
                             .where(Role.practitioner_id == ada.id).order_by(Role.id)).scalars().all()
    assert places == ["10 River St", "5 Elm St"]
    # Without the column roles are kept; with an empty cell they go (the row then needs an address).
    again = run(session, f"npi,kind,name,specialties,address,zip\n{prac},practitioner,Ada,207RR0500X,1 A St,02115\n")
    assert again.updated == 1 and len(session.execute(select(Role)).all()) == 2
    cleared = run(session, f"{ROLE_HEADER}\n{prac},practitioner,Ada,Ada,Lovelace,207RR0500X,1 A St,02115,\n")
    assert cleared.fields["practices_at"] == 1 and session.execute(select(Role)).first() is None


def test_a_role_at_an_unknown_place_is_rejected_at_its_line(session):
    from directory.npi import make_npi

    prac = make_npi(7002, individual=True)
    text = (f"{ROLE_HEADER}\n{make(30)},organization,River Infusion,,,261QI0500X,10 River St,02115,\n"
            f"{prac},practitioner,Ada,Ada,Lovelace,207RR0500X,,,{make(30)}@99 Nowhere Rd|02115\n")
    report = run(session, text)
    assert report.rejections == [(3, prac, f"practices_at: {make(30)} has no location at 99 Nowhere Rd, 02115")]
    dry = run(session, text.replace("10 River", "11 River"), dry_run=True)
    assert [line for line, _, _ in dry.rejections] == [3]
