"""A payer (Organization payer-<slug>), its networks (Organization net-N, Plan-Net's Network
profile) and each network's product (InsurancePlan plan-N)."""

from __future__ import annotations

from directory import reference as vocabulary
from directory.fhir import ids
from directory.fhir.codes import ORG_TYPE, PRODUCT_TYPE, PROFILE, SYSTEM, Canonicals
from directory.fhir.elements import absent_address, concept, latest, meta, reference, tidy
from directory.models import Network


def _payer_ref(payer: str) -> dict:
    return reference("Organization", ids.payer(payer), payer)


def payer(name: str, networks: list[Network]) -> dict:
    """The payer whose networks these are (all of them: its lastUpdated is their latest)."""
    return {
        "resourceType": "Organization", "id": ids.payer(name),
        "meta": meta(PROFILE["Organization"], latest(*(n.updated_at for n in networks))),
        "active": True,
        "type": [concept(SYSTEM["OrgTypeCS"], "payer", ORG_TYPE["payer"])],
        "name": name,
        "address": [absent_address()],  # Plan-Net requires one; we keep none for payers
    }


def network(row: Network) -> dict:
    return {
        "resourceType": "Organization", "id": ids.network(row.id), "meta": meta(PROFILE["Network"], row.updated_at),
        "active": True,
        "type": [concept(SYSTEM["OrgTypeCS"], "ntwk", ORG_TYPE["ntwk"])],
        "name": row.name,
        "partOf": _payer_ref(row.payer),
    }


def product_type(plan_type: str, canon: Canonicals) -> dict:
    """InsuranceProductTypeCS where Plan-Net has the type, else our own plan-type code system."""
    if plan_type in PRODUCT_TYPE:
        return concept(SYSTEM["InsuranceProductTypeCS"], *PRODUCT_TYPE[plan_type])
    display = vocabulary.plan_types().get(plan_type, {}).get("display")
    return concept(canon.plan_type_system, plan_type, display)


def insurance_plan(row: Network, canon: Canonicals) -> dict:
    payer_ref = _payer_ref(row.payer)
    return tidy({
        "resourceType": "InsurancePlan", "id": ids.plan(row.id), "meta": meta(PROFILE["InsurancePlan"], row.updated_at),
        "status": "active",
        "type": [product_type(row.plan_type, canon)],
        "name": row.name,
        "ownedBy": payer_ref,
        "administeredBy": payer_ref,
        "network": [reference("Organization", ids.network(row.id), row.name)],
    })
