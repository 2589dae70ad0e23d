"""The settings page: change password, create and revoke API tokens (form posts, CSRF-checked)."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from app.extensions import limiter
from app.services import accounts
from app.storage.users import tokens_of
from app.web.helpers import current_user, db_session, login_limit, settings, start_session

bp = Blueprint("account", __name__)


def _page(status: int = 200, **context: object) -> Response:
    user = current_user()
    html = render_template(
        "settings.html",
        user=user,
        tokens=tokens_of(db_session(), user.id),
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
