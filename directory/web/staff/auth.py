"""Who is signed in (Flask-Login), secure session cookies, and the `role_required` guard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Flask, render_template
from flask_login import LoginManager, UserMixin, current_user

from directory.db import request_session
from directory.models import StaffUser
from directory.services.accounts import session_key
from directory.services.unit_of_work import unit_of_work
from directory.web.params import whole_number

login_manager = LoginManager()
login_manager.login_view = "staff.login"
login_manager.login_message = "Please sign in to see staff pages."
login_manager.login_message_category = "info"


@dataclass(frozen=True)
class SignedInStaff(UserMixin):
    """The signed-in account, detached from any database session."""

    id: int
    email: str
    role: str
    key: str  # accounts.session_key: changes with the password

    def get_id(self) -> str:
        return f"{self.id}-{self.key}"

    def may(self, *roles: str) -> bool:
        """Admins may do everything; others only what their role names."""
        return self.role == "admin" or self.role in roles


def signed_in(staff: StaffUser) -> SignedInStaff:
    return SignedInStaff(id=staff.id, email=staff.email, role=staff.role, key=session_key(staff))


@login_manager.user_loader
def load_staff(user_id: str) -> SignedInStaff | None:
    # A deactivated account, or one whose password changed since this session signed in, loads as
    # nobody: its sessions end at the next request.
    number, _, key = user_id.partition("-")
    if (staff_id := whole_number(number)) is None:
        return None
    staff = request_session().get(StaffUser, staff_id)
    if staff is None or not staff.active or key != session_key(staff):
        return None
    return signed_in(staff)


EDITORS = ("editor",)  # who may change listings and roles (admins pass every role check)


def staff_work():
    """A unit of work for the signed-in staff member, on the request's session: audit entries name
    them, and the search index is brought up to date before the response."""
    return unit_of_work(current_user.email, staff_id=current_user.id, session=request_session())


def role_required(*roles: str) -> Callable:
    """Anonymous users go to the sign-in page; signed-in users without one of `roles` (or admin)
    get the 403 page."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.may(*roles):
                return render_template("staff/forbidden.html", roles=roles), 403
            return view(*args, **kwargs)

        return guarded

    return decorator


def init_app(app: Flask) -> None:
    # Browsers send Secure cookies only over HTTPS; the development server and tests use HTTP.
    secure = not (app.config.get("ENV") == "development" or app.testing)
    for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        app.config[f"{prefix}_HTTPONLY"] = True
        app.config[f"{prefix}_SAMESITE"] = "Lax"
        app.config[f"{prefix}_SECURE"] = secure
    login_manager.init_app(app)
