"""Web-side defences: the CSRF check, security headers, proxy trust, https only.

- CSRF (Flask-WTF) guards every state-changing request. Only bodies sent as
  exactly ``application/json`` are exempt: a cross-site page cannot send that
  type without a CORS preflight, which this app never grants. Everything else
  (forms, text/plain, ``+json`` variants, empty bodies) needs the token,
  except requests carrying an API token (``Authorization: Bearer``): no
  cross-site page can set that header, and such a request ignores the cookie;
  and views that check credentials of their own and never read the cookie
  (the Fever API, marked app.web.helpers.public).
- A strict Content-Security-Policy (no inline script) and the usual headers
  go on every response; HSTS only when the request came over https.
- Heroku's router is one proxy hop: ProxyFix trusts exactly one
  ``X-Forwarded-For`` entry (the last, which the router appends), so clients
  cannot spoof their address for the rate limiter (which counts IPv6 clients
  per /64, the block one subscriber usually holds: app.extensions.client_key).
- In production, plain-http requests that came through the router are
  redirected to https: the session cookie is Secure, so forms over http
  could never carry a valid CSRF token.
- Every view but the public ones needs a signed-in person (app.web.auth); admin
  views need an admin account (app.web.helpers.admin_required). /metrics compares
  its Basic credentials (ADMIN_USER / ADMIN_PASSWORD) or token in constant time.

The CSRF and rate-limit extensions themselves are created in app.extensions and
bound by create_app().
"""

from __future__ import annotations

from flask import Flask, Response, redirect, request
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Settings
from app.extensions import csrf
from app.web.helpers import error_response

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Feed items embed images from anywhere; they cannot run code.
        "img-src 'self' https: http: data:",
        # Podcast and video enclosures play from their own hosts (reading pane).
        "media-src https: http:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _bearer() -> bool:
    # An API token travels in a header no cross-site page can set; the request is
    # the token's owner's, never the cookie's (app.web.auth), so it needs no CSRF token.
    auth = request.authorization
    return auth is not None and auth.type == "bearer"


def _own_credentials(app: Flask) -> bool:
    # Views marked public check a credential of their own in the request (the Fever
    # API's api_key) and never read the session cookie: a cross-site page could only
    # act with credentials it would have to know already, so there is nothing to forge.
    view = app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "own_credentials", False))


def init_app(app: Flask, settings: Settings) -> None:
    """Install the defences on ``app`` (whose CSRF and rate-limit extensions are bound)."""
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0)  # type: ignore[method-assign]
    if settings.env == "production":

        @app.before_request
        def _https_only() -> Response | None:
            # Only behind the router (it always sets X-Forwarded-Proto); a direct
            # local request is left alone. 308 keeps the method and body.
            forwarded = request.headers.get("X-Forwarded-Proto", "")
            if forwarded and not request.is_secure:
                return redirect(request.url.replace("http://", "https://", 1), code=308)
            return None

    # Checked here rather than by CSRFProtect's default hook (WTF_CSRF_CHECK_DEFAULT
    # is off), to exempt JSON.
    @app.before_request
    def _csrf_unless_json() -> None:
        if (
            app.config.get("WTF_CSRF_ENABLED", True)
            and request.method in ("POST", "PUT", "PATCH", "DELETE")
            and request.mimetype != "application/json"
            and not _bearer()
            and not _own_credentials(app)
        ):
            csrf.protect()

    @app.errorhandler(CSRFError)
    def _csrf_error(err: CSRFError) -> Response:
        return error_response(
            400, "csrf_failed", "The form expired or came from another site; reload and retry."
        )

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
