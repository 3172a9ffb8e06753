"""The write side: every change to the database goes through these services, inside a unit of work.

- `unit_of_work`: one transaction with its actor; commits, then brings the search index up to date.
- `errors`: the exceptions every service raises (`ValidationError` by field, `StaleVersion`).
"""
