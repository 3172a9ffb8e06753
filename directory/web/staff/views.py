"""The staff blueprint at /staff: sign in and out, the dashboard, and account administration."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from sqlmodel import Session

from directory.db import request_session
from directory.models import STAFF_ROLES, StaffUser
from directory.services import accounts, reports, verification
from directory.services.errors import ValidationError
from directory.web.staff.auth import login_manager, role_required, signed_in, staff_work

bp = Blueprint("staff", __name__, url_prefix="/staff")

ROLE_LABELS = {"editor": "Editor (edits listings)", "verifier": "Verifier (verifies listings)",
               "admin": "Administrator (everything, including accounts)"}
EMPTY_ACCOUNT = {"email": "", "role": "editor"}
WRONG_LOGIN = "That email and password do not match an active staff account."


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so the sign-in page cannot be used to send people elsewhere."""
    parts = urlsplit(target or "")
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and not parts.scheme and not parts.netloc:
        return target
    return url_for("staff.dashboard")


def _client_key() -> str:
    return reports.client_key(request.remote_addr, current_app.config["SECRET_KEY"])


def _login_page(email: str = "", errors: dict | None = None, message: str | None = None, status: int = 200):
    body = render_template("staff/login.html", email=email, errors=errors or {}, message=message,
                           next=request.values.get("next", ""))
    return body, status


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password; too many failures are refused with 429."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("staff.dashboard"))
        return _login_page()
    email, password = request.form.get("email", "").strip(), request.form.get("password", "")
    errors = {}
    if not email:
        errors["email"] = "Enter your email address."
    if not password:
        errors["password"] = "Enter your password."
    if errors:
        return _login_page(email, errors=errors, status=400)
    try:  # authenticate commits the attempt itself: a failure must be stored even though it raises
        staff = signed_in(accounts.authenticate(request_session(), email, password, _client_key()))
    except accounts.LoginThrottled as error:
        body, status = _login_page(email, message=error.message, status=429)
        return body, status, {"Retry-After": str(int(accounts.THROTTLE_WINDOW.total_seconds()))}
    except accounts.LoginFailed:
        return _login_page(email, message=WRONG_LOGIN, status=401)
    session.clear()  # a fresh session for the signed-in user (no fixation)
    login_user(staff)
    flash(f"Signed in as {staff.email}.", "success")
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("staff.login"), code=303)


@bp.get("/")
@role_required(*STAFF_ROLES)
def dashboard():
    counts = verification.dashboard_counts(request_session())
    return render_template("staff/dashboard.html", role_label=ROLE_LABELS[current_user.role], counts=counts)


def _accounts_page(form: dict | None = None, errors: dict | None = None, status: int = 200):
    staff = request_session().execute(select(StaffUser).order_by(StaffUser.email)).scalars().all()
    body = render_template("staff/accounts.html", accounts=staff, form=form or EMPTY_ACCOUNT, errors=errors or {},
                           roles=ROLE_LABELS, password_min=accounts.PASSWORD_MIN)
    return body, status


def _actor(db: Session) -> StaffUser:
    return db.get(StaffUser, current_user.id)


@bp.route("/accounts", methods=["GET", "POST"])
@role_required("admin")
def accounts_page():
    """List accounts; POST creates one with an initial password."""
    if request.method == "GET":
        return _accounts_page()
    form = {"email": request.form.get("email", "").strip(), "role": request.form.get("role", "")}
    try:
        with staff_work() as work:
            created = accounts.create_staff(work.session, email=form["email"], role=form["role"],
                                            password=request.form.get("password", ""), actor=_actor(work.session))
    except ValidationError as error:
        return _accounts_page(form, error.errors, status=400)
    flash(f"Account created for {created.email} ({created.role}).", "success")
    return redirect(url_for("staff.accounts_page"), code=303)


@bp.post("/accounts/<int:staff_id>/active")
@role_required("admin")
def set_active(staff_id: int):
    """Deactivate (`active=0`) or reactivate (`active=1`) an account."""
    active = request.form.get("active")
    if active not in ("0", "1"):
        abort(400)
    try:
        with staff_work() as work:
            staff = accounts.set_staff_active(work.session, staff_id=staff_id, active=active == "1",
                                              actor=_actor(work.session))
    except LookupError:
        abort(404)
    except ValidationError as error:
        flash(error.errors["active"], "error")
        return redirect(url_for("staff.accounts_page"), code=303)
    flash(f"{staff.email} {'reactivated' if staff.active else 'deactivated'}.", "success")
    return redirect(url_for("staff.accounts_page"), code=303)


def _password_page(target: StaffUser, errors: dict | None = None, status: int = 200):
    own = target.id == current_user.id
    body = render_template("staff/password.html", target=target, own=own, errors=errors or {},
                           password_min=accounts.PASSWORD_MIN)
    return body, status


@bp.route("/password", methods=["GET", "POST"], defaults={"staff_id": None})
@bp.route("/accounts/<int:staff_id>/password", methods=["GET", "POST"])
@role_required(*STAFF_ROLES)
def password(staff_id: int | None):
    """Change your own password (with the current one), or, as an admin, set another account's.
    Sessions signed in with the old password end; yours continues."""
    own = staff_id is None or staff_id == current_user.id
    if not own and not current_user.may("admin"):
        return render_template("staff/forbidden.html", roles=("admin",)), 403
    target = request_session().get(StaffUser, current_user.id if own else staff_id)
    if target is None:
        abort(404)
    if request.method == "GET":
        return _password_page(target)
    new = request.form.get("new_password", "")
    mismatch = {}
    if new != request.form.get("confirm_password", ""):
        mismatch["confirm_password"] = "The two new passwords are not the same."
    try:
        with staff_work() as work:
            staff = accounts.set_password(work.session, staff_id=target.id, new=new, actor=_actor(work.session),
                                          current=request.form.get("current_password", "") if own else None)
            if mismatch:
                raise ValidationError(mismatch)
    except ValidationError as error:
        return _password_page(target, {**error.errors, **mismatch}, status=400)
    if own:
        login_user(signed_in(staff))  # this session goes on under the new password
    flash("Your password has been changed." if own else f"New password set for {staff.email}; "
          "their signed-in sessions have ended.", "success")
    return redirect(url_for("staff.dashboard" if own else "staff.accounts_page"), code=303)
