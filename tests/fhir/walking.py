"""Helpers for tests that answer one search two ways: every page of a search, and a spy on the
function one of the ways goes through."""

from __future__ import annotations

from fhir.resources.R4B.bundle import Bundle


def every_page(client, query: str) -> list[dict]:
    """The Bundles of a search (`Type?params` under /fhir/), the first and each `next` link's, each
    a valid Bundle."""
    pages = []
    while query:
        response = client.get(f"/fhir/{query}")
        assert response.status_code == 200, response.get_json()
        pages.append(response.get_json())
        Bundle.model_validate(pages[-1])
        query = next((link["url"].split("/fhir/", 1)[1] for link in pages[-1]["link"] if link["relation"] == "next"),
                     None)
    return pages


def answers_of(monkeypatch, module, name: str) -> list:
    """`module.name` still answers as before; each answer is also kept in the list returned."""
    answers: list = []
    original = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *args: answers.append(original(*args)) or answers[-1])
    return answers
