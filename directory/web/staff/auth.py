"""Who is signed in (Flask-Login), secure session cookies, and the `role_required` guard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Flask, render_template
from flask_login import LoginManager, UserMixin, current_user
from sqlmodel import Session

from directory.db import get_engine
from directory.models import StaffUser

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

    def get_id(self) -> str:
        return str(self.id)

    def may(self, *roles: str) -> bool:
        """Admins may do everything; others only what their role names."""
        return self.role == "admin" or self.role in roles


def signed_in(staff: StaffUser) -> SignedInStaff:
    return SignedInStaff(id=staff.id, email=staff.email, role=staff.role)


@login_manager.user_loader
def load_staff(user_id: str) -> SignedInStaff | None:
    # A deactivated account loads as nobody, so deactivation ends its sessions at the next request.
    if not user_id.isdigit():
        return None
    with Session(get_engine()) as session:
        staff = session.get(StaffUser, int(user_id))
        return signed_in(staff) if staff is not None and staff.active else None


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
