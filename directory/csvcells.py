"""CSV cells a spreadsheet will not run as formulas (OWASP "CSV injection"), and the way back.

Every CSV we write passes its cells through `neutralise`; every CSV we read passes them through
`restore`, so that export followed by import gives back exactly what was stored.

A cell is neutralised when it starts with `=`, `+`, `-`, `@`, a tab or a carriage return (OWASP's
list): it gets a leading apostrophe, which spreadsheets show as text. So that the rule can be
undone without loss, a cell that already starts with apostrophes followed by one of those
characters gets one more apostrophe too; `restore` removes exactly one from such cells.
"""

from __future__ import annotations

import re

TRIGGERS = "=+-@\t\r"
_NEEDS_QUOTE = re.compile(r"^'*[=+\-@\t\r]")
_QUOTED = re.compile(r"^'+[=+\-@\t\r]")


def neutralise(value: object) -> object:
    """`value` as a CSV cell a spreadsheet shows as text; non-strings are returned unchanged."""
    if isinstance(value, str) and _NEEDS_QUOTE.match(value):
        return "'" + value
    return value


def restore(text: str | None) -> str | None:
    """The value that `neutralise` turned into `text` (the inverse of `neutralise` on strings)."""
    if text and _QUOTED.match(text):
        return text[1:]
    return text


def neutralise_row(row) -> list:
    """Every cell of a row (a sequence) neutralised."""
    return [neutralise(cell) for cell in row]
