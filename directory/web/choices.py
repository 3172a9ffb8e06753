"""Choices for the search form and labels for facets, from reference data and the database."""

from __future__ import annotations

from itertools import groupby

from directory import reference
from directory.read.reference import networks
from directory.read.shapes import Facets

SORTS = (("distance", "Nearest first"), ("relevance", "Best match"), ("name", "Name (A–Z)"))
KIND_LABELS = {"organization": "Places (infusion centres, pharmacies, hospitals)",
               "practitioner": "Clinicians"}


def form_choices() -> dict:
    """Grouped specialties, networks by payer, languages, services and sorts for the form."""
    taxonomy = reference.taxonomy().values()
    specialties = [
        (group, [(row["code"], row["display"]) for row in rows])
        for group, rows in groupby(sorted(taxonomy, key=lambda r: (r["group"], r["display"])),
                                   key=lambda r: r["group"])
    ]
    by_payer = [
        (payer, [(n.id, n.name, n.plan_type) for n in items])
        for payer, items in groupby(networks(), key=lambda n: n.payer)
    ]
    return {
        "specialties": specialties,
        "networks": by_payer,
        "languages": sorted(reference.languages().items(), key=lambda kv: kv[1]),
        "services": [(c.id, c.label) for c in reference.vocabulary().services()],
        "conditions": [c.label for c in reference.vocabulary().concepts if c.kind == "condition"],
        "sorts": SORTS,
        "kinds": tuple(KIND_LABELS.items()),
    }


def label_facets(facets: Facets) -> dict[str, list[tuple[str, str, int]]]:
    """Facet counts as (value, label, count) lists, labelled for people."""
    taxonomy = reference.taxonomy()
    names = {str(n.id): n.name for n in networks()}
    labelled = {
        "specialty": [(code, taxonomy[code]["display"] if code in taxonomy else code, n)
                      for code, n in (facets.specialty or {}).items()],
        "network": [(nid, names.get(nid, f"Network {nid}"), n) for nid, n in (facets.network or {}).items()],
        "kind": [(kind, KIND_LABELS.get(kind, kind), n) for kind, n in (facets.kind or {}).items()],
        "accepting": [("true", "Accepting new patients", (facets.accepting or {}).get("true", 0))],
    }
    return labelled
