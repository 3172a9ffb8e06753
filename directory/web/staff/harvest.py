"""Staff page (admin): the payers' directories harvested for network participation, each with its
last run, what it changed, its problems and when it is next due (issue 17)."""

from __future__ import annotations

from flask import Blueprint, render_template

from directory.db import request_session
from directory.services.harvest_sources import sources
from directory.web.staff.auth import role_required

bp = Blueprint("staff_harvest", __name__, url_prefix="/staff")
SHOWN_ERRORS = 20


@bp.get("/harvest")
@role_required("admin")
def harvest_sources():
    """Every source: base URL, payer, last run (start, end, status), counts, problems, next due."""
    return render_template("staff/harvest.html", sources=sources(request_session()), shown_errors=SHOWN_ERRORS)
