"""How many resources of a type there are, counted by the database: a search with no criteria
answers its total without mapping every listing (and its page from the cursor on)."""

from __future__ import annotations

from sqlalchemy import distinct, func, literal_column
from sqlmodel import Session, select

from directory.models import Listing, Location, Network, Participation, Role

_ACTIVE = Listing.active.is_(True)


def _scalar(session: Session, statement) -> int:
    return int(session.exec(statement).one() or 0)


def _listings(session: Session, *conditions) -> int:
    return _scalar(session, select(func.count()).select_from(Listing).where(_ACTIVE, *conditions))


def _affiliations(session: Session) -> int:
    pairs = (select(Participation.listing_id, Network.payer).join(Network, Network.id == Participation.network_id)
             .join(Listing, Listing.id == Participation.listing_id)
             .where(_ACTIVE, Listing.kind == "organization").distinct().subquery())
    return _scalar(session, select(func.count()).select_from(pairs))


def _roles(session: Session) -> int:
    """A role per network its practitioner is in, or one when in none."""
    memberships = (select(Participation.listing_id, func.count().label("n")).group_by(Participation.listing_id)
                   .subquery())
    each = func.coalesce(memberships.c.n, literal_column("1"))
    return _scalar(session, select(func.sum(each)).select_from(Role)
                   .join(Listing, Listing.id == Role.practitioner_id)
                   .outerjoin(memberships, memberships.c.listing_id == Role.practitioner_id).where(_ACTIVE))


def total(session: Session, resource_type: str) -> int:
    """Every active resource of this type."""
    if resource_type == "Practitioner":
        return _listings(session, Listing.kind == "practitioner")
    if resource_type == "Organization":
        networks = _scalar(session, select(func.count()).select_from(Network))
        payers = _scalar(session, select(func.count(distinct(Network.payer))))
        return _listings(session, Listing.kind == "organization") + networks + payers
    if resource_type == "InsurancePlan":
        return _scalar(session, select(func.count()).select_from(Network))
    if resource_type == "Endpoint":
        return _listings(session, Listing.website.is_not(None), Listing.website != "")
    if resource_type == "HealthcareService":
        return _listings(session, (Listing.kind == "organization") | Listing.telehealth.is_(True))
    if resource_type == "Location":
        return _scalar(session, select(func.count()).select_from(Location)
                       .join(Listing, Listing.id == Location.listing_id).where(_ACTIVE))
    if resource_type == "OrganizationAffiliation":
        return _affiliations(session)
    if resource_type == "PractitionerRole":
        return _roles(session)
    raise ValueError(resource_type)

