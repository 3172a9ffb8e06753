"""The lists a search is made from: networks, specialties, and the network-id check."""

from __future__ import annotations

import pytest

from directory import reference as seed
from directory.read import reference


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_known_networks_names_only_the_ids_that_exist(app, factory):
    network = factory.network()
    other = factory.network(name="Other PPO")
    with app.app_context():
        assert reference.known_networks([network.id, network.id + 1000]) == {network.id}
        assert reference.known_networks([other.id, network.id]) == {network.id, other.id}
        assert reference.known_networks([]) == set()


def test_networks_are_listed_by_payer_then_name(app, factory):
    factory.network(name="Zeta PPO", payer="Acme")
    factory.network(name="Alpha HMO", payer="Beta")
    factory.network(name="Alpha PPO", payer="Acme")
    with app.app_context():
        assert [(n.payer, n.name) for n in reference.networks()] == [
            ("Acme", "Alpha PPO"), ("Acme", "Zeta PPO"), ("Beta", "Alpha HMO")]


def test_specialties_come_in_taxonomy_order(app):
    with app.app_context():
        codes = [s.code for s in reference.specialties()]
    assert codes == [code for code in seed.taxonomy() if code in set(codes)]
    assert len(codes) >= 40
