"""Importing CMS NPPES files: both header layouts, taxonomy filter, org types, idempotence, deactivation."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from directory.db import get_engine
from directory.importers.nppes import HeaderError, display_case, import_nppes, read_candidates
from directory.importers.upsert import ImportReport
from directory.models import AuditEntry, IndexChange, Listing, ListingSpecialty, Location, Organization, Practitioner
from directory.search import get_searcher
from directory.search.sync import apply_pending, check_index

BASE = [
    "NPI", "Entity Type Code", "Replacement NPI", "Employer Identification Number (EIN)",
    "Provider Organization Name (Legal Business Name)", "Provider Last Name (Legal Name)", "Provider First Name",
    "Provider Middle Name", "Provider Name Prefix Text", "Provider Name Suffix Text", "Provider Credential Text",
    "Provider Other Organization Name", "Provider Other Organization Name Type Code", "Provider Other Last Name",
    "Provider Other First Name", "Provider Other Middle Name", "Provider Other Name Prefix Text",
    "Provider Other Name Suffix Text", "Provider Other Credential Text", "Provider Other Last Name Type Code",
    "Provider First Line Business Mailing Address", "Provider Second Line Business Mailing Address",
    "Provider Business Mailing Address City Name", "Provider Business Mailing Address State Name",
    "Provider Business Mailing Address Postal Code",
    "Provider Business Mailing Address Country Code (If outside U.S.)",
    "Provider Business Mailing Address Telephone Number", "Provider Business Mailing Address Fax Number",
    "Provider First Line Business Practice Location Address",
    "Provider Second Line Business Practice Location Address",
    "Provider Business Practice Location Address City Name", "Provider Business Practice Location Address State Name",
    "Provider Business Practice Location Address Postal Code",
    "Provider Business Practice Location Address Country Code (If outside U.S.)",
    "Provider Business Practice Location Address Telephone Number",
    "Provider Business Practice Location Address Fax Number", "Provider Enumeration Date", "Last Update Date",
    "NPI Deactivation Reason Code", "NPI Deactivation Date", "NPI Reactivation Date", "{sex}",
    "Authorized Official Last Name", "Authorized Official First Name", "Authorized Official Middle Name",
    "Authorized Official Title or Position", "Authorized Official Telephone Number",
]


def header(layout: int) -> list[str]:
    """The 2018 layout (329 columns, 'Provider Gender Code') or the current one (330, 'Provider Sex Code')."""
    sex = "Provider Gender Code" if layout == 329 else "Provider Sex Code"
    columns = [c.format(sex=sex) for c in BASE]
    for n in range(1, 16):
        columns += [f"Healthcare Provider Taxonomy Code_{n}", f"Provider License Number_{n}",
                    f"Provider License Number State Code_{n}", f"Healthcare Provider Primary Taxonomy Switch_{n}"]
    for n in range(1, 51):
        columns += [f"Other Provider Identifier_{n}", f"Other Provider Identifier Type Code_{n}",
                    f"Other Provider Identifier State_{n}", f"Other Provider Identifier Issuer_{n}"]
    columns += ["Is Sole Proprietor", "Is Organization Subpart", "Parent Organization LBN",
                "Parent Organization TIN", "Authorized Official Name Prefix Text",
                "Authorized Official Name Suffix Text", "Authorized Official Credential Text"]
    columns += [f"Healthcare Provider Taxonomy Group_{n}" for n in range(1, 16)]
    if layout == 330:
        columns.append("Certification Date")
    assert len(columns) == layout
    return columns


PRACTICE = "Provider {} Business Practice Location Address"


def person(npi, last, first, credential, taxonomies, **extra) -> dict:
    return {"NPI": npi, "Entity Type Code": "1", "Provider Last Name (Legal Name)": last,
            "Provider First Name": first, "Provider Credential Text": credential,
            **_place(), **_taxonomies(taxonomies), **extra}


def org(npi, name, taxonomies, **extra) -> dict:
    return {"NPI": npi, "Entity Type Code": "2", "Provider Organization Name (Legal Business Name)": name,
            **_place(), **_taxonomies(taxonomies), **extra}


def _place() -> dict:
    return {"Provider First Line Business Practice Location Address": "1000 ASYLUM AVE",
            "Provider Second Line Business Practice Location Address": "STE 4309",
            "Provider Business Practice Location Address City Name": "HARTFORD",
            "Provider Business Practice Location Address State Name": "CT",
            "Provider Business Practice Location Address Postal Code": "061051770",
            "Provider Business Practice Location Address Telephone Number": "8607144820",
            "Provider Business Practice Location Address Fax Number": "860-714-8001"}


def _taxonomies(pairs: list[tuple[str, str]]) -> dict:
    values = {}
    for n, (code, switch) in enumerate(pairs, start=1):
        values[f"Healthcare Provider Taxonomy Code_{n}"] = code
        values[f"Healthcare Provider Primary Taxonomy Switch_{n}"] = switch
    return values


def nppes_file(rows: list[dict], layout: int = 330) -> io.StringIO:
    columns = header(layout)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(columns)
    for row in rows:
        assert set(row) <= set(columns)
        writer.writerow([row.get(c, "") for c in columns])
    out.seek(0)
    return out


ROWS = [
    person("1000700017", "SOUCIER", "RICHARD", "MD", [("207RC0000X", "N"), ("207RR0500X", "Y"),
                                                      ("2084N0400X", "N")]),
    person("1000700025", "O'BRIEN", "MARY", "", [("207Q00000X", "Y")]),  # family medicine: not ours
    org("2000700015", "HARTFORD INFUSION CENTER LLC", [("261QI0500X", "Y")]),
    org("2000700023", "CAPITOL HOME INFUSION", [("3336H0001X", "Y")]),
    org("2000700031", "SAINT FRANCIS HOSPITAL", [("282N00000X", "Y")]),
    org("2000700049", "CT SPECIALTY RX", [("3336S0011X", "Y")]),
    org("2000700056", "HARTFORD NEUROLOGY GROUP", [("193400000X", "Y")]),
]


def run(session, rows, layout=330, **options):
    return import_nppes(session, nppes_file(rows, layout), actor="nppes-test", **options)


def listing(session, npi) -> Listing:
    return session.execute(select(Listing).where(Listing.npi == npi)).scalar_one()


def count(session, table) -> int:
    return session.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize("layout", [329, 330])
def test_both_layouts_import_relevant_rows(session, layout):
    report = run(session, ROWS, layout)
    assert (report.created, report.skipped, report.rejected) == (6, 1, 0)
    richard = listing(session, "1000700017")
    assert (richard.kind, richard.name, richard.source) == ("practitioner", "Richard Soucier, MD", "nppes")
    prac = session.get(Practitioner, richard.id)
    assert (prac.first_name, prac.last_name, prac.credentials) == ("Richard", "Soucier", "MD")
    codes = dict(session.execute(select(ListingSpecialty.code, ListingSpecialty.is_primary)
                                 .where(ListingSpecialty.listing_id == richard.id)).all())
    assert codes == {"207RR0500X": True, "2084N0400X": False}  # 207RC0000X is not in our taxonomy
    place = session.execute(select(Location).where(Location.listing_id == richard.id)).scalar_one()
    assert (place.address, place.city, place.state, place.zip) == ("1000 Asylum Ave, Ste 4309", "Hartford", "CT",
                                                                   "06105")
    assert (place.phone, place.fax) == ("(860) 714-4820", "(860) 714-8001")


def test_organization_types_follow_taxonomy(session):
    run(session, ROWS)
    types = {npi: session.get(Organization, listing(session, npi).id).org_type
             for npi in ("2000700015", "2000700023", "2000700031", "2000700049", "2000700056")}
    assert types == {"2000700015": "infusion_center", "2000700023": "home_infusion",
                     "2000700031": "hospital_infusion", "2000700049": "specialty_pharmacy",
                     "2000700056": "practice"}
    assert listing(session, "2000700015").name == "Hartford Infusion Center LLC"


def test_reimport_changes_nothing(session):
    run(session, ROWS)
    audits, changes = count(session, AuditEntry), count(session, IndexChange)
    report = run(session, ROWS)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 6)
    assert (count(session, AuditEntry), count(session, IndexChange)) == (audits, changes)


def test_changed_row_updates_nppes_fields_and_keeps_staff_fields(session):
    run(session, ROWS)
    richard = listing(session, "1000700017")
    richard.telehealth = True  # a staff edit NPPES knows nothing about
    session.commit()
    moved = dict(ROWS[0], **{"Provider Business Practice Location Address Postal Code": "06106"})
    report = run(session, [moved])
    assert report.updated == 1
    session.expire_all()
    richard = listing(session, "1000700017")
    assert richard.telehealth and richard.version == 2
    assert session.execute(select(Location.zip).where(Location.listing_id == richard.id)).scalar_one() == "06106"


def test_deactivated_npi_deactivates_existing_and_skips_new(session):
    run(session, ROWS)
    gone = {"NPI Deactivation Date": "05/01/2024"}
    rows = [{"NPI": "1000700017", **gone}, {"NPI": "1000700033", **gone},
            dict(ROWS[2], **gone, **{"NPI Reactivation Date": "06/01/2024"})]
    report = run(session, rows)
    assert (report.deactivated, report.skipped, report.unchanged) == (1, 1, 1)
    session.expire_all()
    assert not listing(session, "1000700017").active
    assert listing(session, "2000700015").active  # reactivated after the deactivation
    assert session.execute(select(Listing).where(Listing.npi == "1000700033")).first() is None
    again = run(session, rows)
    assert (again.deactivated, again.unchanged) == (0, 2)


def test_dry_run_writes_nothing(session):
    report = run(session, ROWS, dry_run=True)
    assert report.created == 6
    assert count(session, Listing) == count(session, AuditEntry) == count(session, IndexChange) == 0


def test_unknown_zip_is_rejected_with_line_number(session):
    bad = dict(ROWS[2], **{"Provider Business Practice Location Address Postal Code": "999990000"})
    report = run(session, [ROWS[0], bad])
    assert report.created == 1
    assert report.rejections[0][:2] == (3, "2000700015") and "99999" in report.rejections[0][2]


def test_unusable_phone_is_dropped_not_rejected(session):
    row = dict(ROWS[2], **{"Provider Business Practice Location Address Telephone Number": "555"})
    report = run(session, [row])
    assert report.created == 1
    assert session.execute(select(Location.phone)).scalar_one() is None


def test_not_an_nppes_file(session):
    with pytest.raises(HeaderError):
        import_nppes(session, io.StringIO("npi,name\n1,x\n"), actor="test")


def test_display_case():
    assert display_case("1000 ASYLUM AVE  STE 4TH") == "1000 Asylum Ave Ste 4th"
    assert display_case("O'BRIEN") == "O'Brien"
    assert display_case("McDonald") == "McDonald"


def test_index_matches_database_after_import(app, session):
    run(session, ROWS)
    engine = get_engine(app)
    apply_pending(engine, get_searcher(app))
    assert check_index(engine, get_searcher(app)).ok


def test_rows_are_streamed_not_loaded():
    rows = ROWS * 200
    stream = nppes_file(rows)
    candidates = read_candidates(stream, ImportReport())
    first = next(candidates)
    assert first.npi == "1000700017"
    assert stream.tell() < len(stream.getvalue()) / 50  # only the header and a row or two were read


def test_practice_location_outside_the_us_is_skipped(session):
    abroad = dict(ROWS[2], **{"Provider Business Practice Location Address Country Code (If outside U.S.)": "CA"})
    report = run(session, [abroad])
    assert (report.created, report.skipped, report.rejected) == (0, 1, 0)
