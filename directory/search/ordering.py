"""What both backends order listings by: a sort key for names, and places as points on the unit
sphere (the chord between two points orders them as great-circle distance does)."""

from __future__ import annotations

import numpy as np

NAME_KEY_BYTES = 48


def name_key(name: str) -> bytes:
    """Sort key for names: case-folded, accents kept as UTF-8, first NAME_KEY_BYTES bytes."""
    return name.casefold().encode("utf-8")[:NAME_KEY_BYTES]


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(m, 3) points on the unit sphere: chord length orders points as great-circle distance does."""
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))
