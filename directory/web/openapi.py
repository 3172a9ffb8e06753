"""OpenAPI 3 description of the JSON API (being written)."""


def openapi_document() -> dict:
    return {"openapi": "3.1.0", "info": {"title": "IVIG Provider Directory API", "version": "1"}, "paths": {}}
