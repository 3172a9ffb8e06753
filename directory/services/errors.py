"""The errors the write services raise; views and importers turn them into messages."""

from __future__ import annotations


class ValidationError(ValueError):
    """Field name -> message for every field that cannot be accepted."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class StaleVersion(ValueError):
    """Someone else saved this listing since it was loaded (optimistic locking)."""
