"""The embedded backend (SEARCH_BACKEND=whoosh): Whoosh for text, numpy listing tables for place
and filters, both on local disk under INDEX_DIR. Imports only the shared modules of `search/`."""

from directory.search.whoosh.backend import WhooshSearcher

__all__ = ["WhooshSearcher"]
