"""General information pages (not medical advice)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("guide", __name__)


@bp.get("/what-to-expect")
def what_to_expect():
    return render_template("what_to_expect.html")
