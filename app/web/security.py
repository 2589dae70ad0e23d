"""Web-side defences: CSRF, security headers, proxy trust, rate limits, admin access.

- CSRF (Flask-WTF) guards every state-changing request. Only bodies sent as
  exactly ``application/json`` are exempt: a cross-site page cannot send that
  type without a CORS preflight, which this app never grants. Everything else
  (forms, text/plain, ``+json`` variants, empty bodies) needs the token.
- A strict Content-Security-Policy (no inline script) and the usual headers
  go on every response; HSTS only when the request came over https.
- Heroku's router is one proxy hop: ProxyFix trusts exactly one
  ``X-Forwarded-For`` entry (the last, which the router appends), so clients
  cannot spoof their address for the rate limiter. IPv6 clients are limited
  per /64, the block one subscriber usually holds.
- In production, plain-http requests that came through the router are
  redirected to https: the session cookie is Secure, so forms over http
  could never carry a valid CSRF token.
- Admin views compare credentials in constant time and do not exist at all
  (404) when ADMIN_USER / ADMIN_PASSWORD are unset.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Flask, Response, abort, current_app, redirect, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Settings, rate_limit_storage_uri
from app.web.errors import error_response


def client_key() -> str:
    """The rate-limit key of the client: its address (after ProxyFix), IPv6 per /64."""
    address = request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


csrf = CSRFProtect()
limiter = Limiter(key_func=client_key, default_limits=[], headers_enabled=True)

P = ParamSpec("P")
R = TypeVar("R")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Feed items embed images from anywhere; they cannot run code.
        "img-src 'self' https: http: data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_app(app: Flask, settings: Settings) -> None:
    """Install the defences on ``app``."""
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

    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tokens live as long as the session
    csrf.init_app(app)

    # Checked here rather than by CSRFProtect's default hook, to exempt JSON.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False

    @app.before_request
    def _csrf_unless_json() -> None:
        if (
            app.config.get("WTF_CSRF_ENABLED", True)
            and request.method in ("POST", "PUT", "PATCH", "DELETE")
            and request.mimetype != "application/json"
        ):
            csrf.protect()

    app.config.setdefault("RATELIMIT_STORAGE_URI", rate_limit_storage_uri(settings.redis_url))
    # Fixed windows cost one INCR per request; a moving window keeps a list per client.
    app.config.setdefault("RATELIMIT_STRATEGY", "fixed-window")
    # When Redis is down the limiter lets requests through rather than failing them.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", f"{settings.queue_prefix}-ratelimit")
    limiter.init_app(app)

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


def submission_limit() -> str:
    """Per-client limit on submissions and refreshes (SUBMIT_RATE_LIMIT)."""
    return current_app.extensions["feedqueue.settings"].submit_rate_limit


def admin_required(view: Callable[P, R]) -> Callable[P, R]:
    """Require the admin credentials (HTTP Basic); 404 when none are configured."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        settings: Settings = current_app.extensions["feedqueue.settings"]
        if not settings.admin_enabled:
            abort(404)
        auth = request.authorization
        user_ok = _same_secret(auth.username if auth else None, settings.admin_user)
        password_ok = _same_secret(auth.password if auth else None, settings.admin_password)
        if not (auth and auth.type == "basic" and user_ok and password_ok):
            response = error_response(401, "unauthorized", "Admin credentials required.")
            response.headers["WWW-Authenticate"] = 'Basic realm="feedqueue admin"'
            abort(response)
        return view(*args, **kwargs)

    return wrapper


def _same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two strings of any length and alphabet.

    Comparing SHA-256 digests keeps the time independent of the length of either
    value; encoding first matters because ``compare_digest`` refuses non-ASCII str.
    """
    given_digest = hashlib.sha256((given or "").encode("utf-8", "surrogateescape")).digest()
    expected_digest = hashlib.sha256((expected or "").encode("utf-8", "surrogateescape")).digest()
    return hmac.compare_digest(given_digest, expected_digest)
