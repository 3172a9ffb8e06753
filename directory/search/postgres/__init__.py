"""The PostgreSQL backend (SEARCH_BACKEND=postgres): the index is tables beside the listings,
shared by every process and node. Imports only the shared modules of `search/`."""

from directory.search.postgres.backend import PostgresSearcher

__all__ = ["PostgresSearcher"]
