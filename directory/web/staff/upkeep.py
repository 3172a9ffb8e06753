"""Staff pages for keeping listings true: the verification queue, the audit trail, imports."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff_upkeep", __name__, url_prefix="/staff")
