"""Our own SearchParameter resources: the searches Plan-Net lacks (near, location.near,
new-patient, communication, _content), readable at /fhir/SearchParameter/[id] and named by the
CapabilityStatement's definition URLs."""

from __future__ import annotations

from directory.fhir.codes import EXTENSION, Canonicals
from directory.fhir.parameters import PARAMS, Param

CORE_SD = "http://hl7.org/fhir/StructureDefinition/SearchParameter"
PUBLISHER = "IVIG Provider Directory"
_NEWPATIENTS = (f".extension.where(url='{EXTENSION['newpatients']}').extension.where(url='acceptingPatients')"
                ".value")


def definition_id(param: Param, resource_type: str) -> str:
    owner = "Resource" if param.name == "_content" else resource_type
    return f"{owner.lower()}-{param.name.lstrip('_').replace('.', '-')}"


def definition_url(param: Param, resource_type: str, canon: Canonicals) -> str:
    """The canonical URL of a parameter's SearchParameter (ours live under our canonical base)."""
    return f"{canon.base}/SearchParameter/{definition_id(param, resource_type)}" if param.ours else param.definition


def _expression(param: Param, resource_type: str) -> str | None:
    if param.name == "new-patient":
        return resource_type + _NEWPATIENTS
    if param.name == "communication":
        return "Practitioner.communication"
    if param.name == "near":
        return "Location.position"
    if param.name == "location.near":
        return f"{resource_type}.location"
    return None


def _resource(param: Param, bases: list[str], canon: Canonicals) -> dict:
    ident = definition_id(param, bases[0] if len(bases) == 1 else "Resource")
    name = "".join(part.capitalize() for part in ident.replace(".", "-").split("-"))
    resource = {
        "resourceType": "SearchParameter", "id": ident, "url": definition_url(param, bases[0], canon),
        "name": name, "status": "active", "experimental": False, "publisher": PUBLISHER,
        "description": param.documentation, "code": param.name, "base": bases, "type": param.type,
    }
    expression = _expression(param, bases[0])
    if expression:
        resource["expression"] = expression
        resource["xpathUsage"] = "nearby" if param.type == "special" else "normal"
    if param.type == "token":
        resource["modifier"] = ["text"]
    if param.name == "location.near":
        resource["chain"] = ["near"]
    return resource


def search_parameters(canon: Canonicals) -> dict[str, dict]:
    """Our SearchParameter resources by id (one `_content` for every type, others per type)."""
    found: dict[str, dict] = {}
    content_bases = []
    for resource_type, params in PARAMS.items():
        for param in params.values():
            if not param.ours:
                continue
            if param.name == "_content":
                content_bases.append(resource_type)
                continue
            resource = _resource(param, [resource_type], canon)
            found[resource["id"]] = resource
    content = _resource(PARAMS["Practitioner"]["_content"], sorted(content_bases), canon)
    found[content["id"]] = content
    return found
