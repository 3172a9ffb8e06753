"""Whole numbers typed into query strings and forms (page numbers, ids, versions), read safely.

`str.isdigit()` accepts digits of every script ("١", "²") and `int()` any size; a number the
database cannot bind is a 500 from its driver. These accept ASCII digits up to a bound only.
"""

from __future__ import annotations

from directory.models import MAX_ID

MAX_PAGE = 1_000_000  # a page past the end shows no rows; beyond this it is not a page at all


def whole_number(text: str | None, maximum: int = MAX_ID) -> int | None:
    """`text` as a whole number 0..`maximum` written in ASCII digits, else None."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None


def page_number(text: str | None) -> int:
    """A 1-based page number from a query string; anything else (missing, 0, words, huge) is page 1."""
    page = whole_number(text, MAX_PAGE)
    return page if page else 1
