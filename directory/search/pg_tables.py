"""Kept only for tests/backends.py until it opens the searcher (or imports
`directory.search.postgres.tables`) to create the search tables; then this module goes."""

from directory.search.postgres.tables import ensure_schema

__all__ = ["ensure_schema"]
