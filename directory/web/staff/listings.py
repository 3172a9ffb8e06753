"""Staff pages for editing listings: create, edit (optimistic locking), deactivate and restore."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff_listings", __name__, url_prefix="/staff/listings")
