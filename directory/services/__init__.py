"""The write side: every change to the database goes through these services, inside a unit of work.

- `unit_of_work`: one transaction with its actor; commits, then brings the search index up to date.
- `errors`: the exceptions every service raises (`ValidationError` by field, `StaleVersion`).
- `listings`: create, update (locations matched by id), deactivate and restore listings; the one
  validation of a listing and the version claim every write to a listing takes.
- `roles`: practitioners' roles at locations.
- `verification`: the one audited way to record a verification, the queue and its counts.
- `restore`: what exact restores need beyond the listing service (participation dates, record fields).
- `accounts`: staff accounts and sign-in throttling.
- `reports`: the public's problem reports.

Each function takes the session explicitly, changes rows, writes the audit entry and records the
index change in the same transaction; none of them commits.
"""
