"""The web layer: one blueprint per audience (public pages, JSON API, staff), and what they share."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

from directory.models import MAX_ID


def digits_at_most(limit: int) -> str:
    """A regular expression matching the decimal numbers 0..`limit`, in ASCII digits (leading zeros
    allowed)."""
    digits = str(limit)
    width = len(digits)
    options = [f"[0-9]{{1,{width - 1}}}"] if width > 1 else []
    for i, digit in enumerate(digits):
        low = 1 if i == 0 and width > 1 else 0
        if int(digit) > low:
            options.append(f"{digits[:i]}[{low}-{int(digit) - 1}][0-9]{{{width - 1 - i}}}")
    options.append(digits)
    return "0*(?:" + "|".join(options) + ")"


class RowIdConverter(IntegerConverter):
    """`<int:...>` in every route: ASCII digits up to MAX_ID. A larger number matches no route (404)
    instead of reaching the database driver, which cannot bind it (500). The bound is in the
    pattern, not only in `to_python`: Werkzeug would answer 405 when another method's rule has
    the same path."""

    regex = digits_at_most(MAX_ID)

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Register what every blueprint's routes rely on; call before registering them."""
    app.url_map.converters["int"] = RowIdConverter
