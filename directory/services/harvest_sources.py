"""Harvest sources: the payers' Plan-Net directories staff register (`flask --app wsgi source-add`).

Same write-path rules as the other services: validate, write, audit, in the caller's transaction.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlmodel import Session

from directory.models import AuditEntry, HarvestSource
from directory.services.errors import ValidationError


def add_source(session: Session, *, name: str, base_url: str, payer: str | None = None, every_hours: int = 24,
               actor: str) -> HarvestSource:
    """Register a FHIR base URL (http or https) under a unique name; `payer` limits the networks it
    speaks for to that payer's. Raises ValidationError by field."""
    name, base_url, payer = name.strip(), base_url.strip().rstrip("/"), (payer or "").strip() or None
    errors = {}
    if not name or len(name) > 64:
        errors["name"] = "a name of 1 to 64 characters"
    elif session.execute(select(HarvestSource.id).where(HarvestSource.name == name)).first():
        errors["name"] = f"a source named {name!r} already exists"
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors["base_url"] = "an http:// or https:// URL of a FHIR server's base, e.g. https://example.org/fhir"
    if every_hours < 1:
        errors["every_hours"] = "at least 1 hour between runs"
    if errors:
        raise ValidationError(errors)
    source = HarvestSource(name=name, base_url=base_url, payer=payer, every_hours=every_hours)
    session.add(source)
    session.flush()
    session.add(AuditEntry(actor=actor, action="source.add", changes={
        "source": [None, {"id": source.id, "name": name, "base_url": base_url, "payer": payer}]}))
    return source


def sources(session: Session) -> list[HarvestSource]:
    return list(session.execute(select(HarvestSource).order_by(HarvestSource.name)).scalars())
