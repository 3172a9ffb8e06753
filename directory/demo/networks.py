"""Demo payers' networks, and the networks each generated listing participates in."""

from __future__ import annotations

import random
from datetime import timedelta

from directory import reference
from directory.demo.vocabulary import (
    COMMERCIAL_PLAN_TYPES,
    GOVERNMENT_PAYERS,
    PAYER_COUNT,
    AreaState,
    Batch,
    _weighted,
    _words,
)


def _networks(rng: random.Random, start_id: int, taken: set[tuple[str, str]]) -> list[dict]:
    words = _words()
    plan_types = reference.plan_types()
    commercial = [(code, w) for code, w in COMMERCIAL_PLAN_TYPES if code in plan_types]
    payers = rng.sample(words["payer"], min(PAYER_COUNT, len(words["payer"])))
    specs: list[tuple[str, str]] = []  # (payer, plan type)
    for payer in payers:
        types: list[str] = []
        wanted = rng.randint(2, 4)
        while len(types) < wanted:
            code = _weighted(rng, commercial)
            if code not in types:
                types.append(code)
        specs += [(payer, code) for code in types]
    specs += [(payer, code) for payer, code in GOVERNMENT_PAYERS if code in plan_types]
    rows = []
    for payer, code in specs:
        display = plan_types[code]["display"]
        word = rng.choice([w for w in words["network_word"] if w not in display])
        name = f"{payer} {word} {display}"
        if (payer, name) in taken:
            continue
        taken.add((payer, name))
        rows.append(
            {"id": start_id + len(rows), "payer": payer, "name": name, "plan_type": code, "is_demo": True}
        )
    return rows


class _NetworkMixin:
    """The participation rows of `_Generator` (needs its rng, today, all_networks)."""

    def _participations(self, batch: Batch, lid: int, state: AreaState) -> None:
        rng = self.rng
        wanted = rng.choices((1, 2, 3, 4), weights=(30, 35, 22, 13))[0]
        chosen: list[int] = []
        for _ in range(wanted * 4):
            if len(chosen) == wanted:
                break
            pool = state.networks if state.networks and rng.random() < 0.85 else self.all_networks
            nid = rng.choice(pool)
            if nid not in chosen:
                chosen.append(nid)
        for nid in chosen:
            start = None
            if rng.random() < 0.5:
                start = self.today - timedelta(days=rng.randint(30, 3650))
            batch.participations.append(
                {"listing_id": lid, "network_id": nid, "start_date": start, "end_date": None}
            )
