"""Kept only for directory/web/errors.py until it imports `directory.search.SnapshotFormatError`
(the listing table moved to `search/whoosh/table.py`); then this module goes."""

from directory.search.contract import SnapshotFormatError

__all__ = ["SnapshotFormatError"]
