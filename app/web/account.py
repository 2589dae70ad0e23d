"""The settings page (change password, API tokens, app passwords: form posts, CSRF-checked)
and the JSON API of app passwords (``/api/app-passwords``)."""

from __future__ import annotations

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for

from app.extensions import limiter
from app.services import accounts, app_passwords
from app.storage.app_passwords import app_passwords_of
from app.storage.models import AppPassword
from app.storage.users import tokens_of
from app.web.helpers import (
    ApiError,
    current_user,
    current_user_id,
    db_session,
    login_limit,
    settings,
    start_session,
)

bp = Blueprint("account", __name__)


def _page(status: int = 200, **context: object) -> Response:
    user = current_user()
    html = render_template(
        "settings.html",
        user=user,
        tokens=tokens_of(db_session(), user.id),
        app_passwords=app_passwords_of(db_session(), user.id),
        min_length=settings().password_min_length,
        **context,
    )
    return Response(html, status=status, mimetype="text/html")


@bp.get("/settings")
def page() -> Response:
    """The person's settings."""
    return _page()


@bp.post("/settings/password")
@limiter.limit(login_limit)
def change_password() -> Response:
    """Replace the password; other sessions end, this one goes on."""
    user = current_user()
    try:
        accounts.change_password(
            db_session(),
            settings(),
            user,
            request.form.get("current_password"),
            request.form.get("new_password"),
        )
    except accounts.AccountError as err:
        return _page(400, password_error=err.message)
    db_session().refresh(user)
    start_session(user)
    flash("Your password is changed; other sessions are signed out.", "ok")
    return redirect(url_for("account.page"), code=303)


@bp.post("/settings/tokens")
def create_token() -> Response:
    """Create an API token and show it once."""
    user = current_user()
    try:
        new = accounts.create_token(db_session(), user, request.form.get("name"))
    except accounts.AccountError as err:
        return _page(400, token_error=err.message)
    return _page(201, new_token=new.secret, new_token_name=new.token.name)


@bp.post("/settings/tokens/<int:token_id>/delete")
def revoke_token(token_id: int) -> Response:
    """Revoke one of the person's tokens."""
    user = current_user()
    if accounts.revoke_token(db_session(), user, token_id):
        flash("The token is revoked.", "ok")
    else:
        flash("There is no such token.", "error")
    return redirect(url_for("account.page"), code=303)


# -- app passwords (for reader apps: app.web.fever) ------------------------------------------


@bp.post("/settings/app-passwords")
def create_app_password_form() -> Response:
    """Create an app password and show it once, with what to type into an app."""
    user = current_user()
    try:
        new = app_passwords.create(db_session(), settings(), user, request.form.get("name"))
    except accounts.AccountError as err:
        status = 409 if err.code == "too_many_app_passwords" else 400
        return _page(status, app_password_error=err.message)
    return _page(201, new_app_password=new.password, new_app_password_name=new.row.name)


@bp.post("/settings/app-passwords/<int:app_password_id>/delete")
def revoke_app_password_form(app_password_id: int) -> Response:
    """Revoke one of the person's app passwords."""
    if app_passwords.revoke(db_session(), current_user(), app_password_id):
        flash("The app password is revoked.", "ok")
    else:
        flash("There is no such app password.", "error")
    return redirect(url_for("account.page"), code=303)


def _app_password_json(row: AppPassword) -> dict[str, object]:
    return {
        "id": row.id,
        "name": row.name,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
    }


@bp.get("/api/app-passwords")
def list_app_passwords() -> Response:
    """The person's app passwords (never the passwords themselves), newest first."""
    rows = app_passwords_of(db_session(), current_user_id())
    return jsonify(app_passwords=[_app_password_json(row) for row in rows])


@bp.post("/api/app-passwords")
def create_app_password() -> Response:
    """Create an app password (``{"name": ...}``); the answer shows it, once."""
    body = request.get_json(silent=True) if request.is_json else {}
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "Send a JSON object (application/json).")
    session, user = db_session(), current_user()
    try:
        new = app_passwords.create(session, settings(), user, body.get("name", "App password"))
    except accounts.AccountError as err:
        status = 409 if err.code == "too_many_app_passwords" else 400
        raise ApiError(status, err.code, err.message) from None
    session.refresh(new.row)
    response = jsonify(
        {**_app_password_json(new.row), "password": new.password, "username": user.username}
    )
    response.status_code = 201
    return response


@bp.delete("/api/app-passwords/<int:app_password_id>")
def revoke_app_password(app_password_id: int) -> Response:
    """Revoke an app password: apps using it are signed out at their next request."""
    if not app_passwords.revoke(db_session(), current_user(), app_password_id):
        raise ApiError(
            404, "app_password_not_found", f"There is no app password {app_password_id}."
        )
    return Response(status=204)
