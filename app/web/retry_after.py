"""The app's own ``Retry-After`` survives Flask-Limiter's.

With headers enabled, Flask-Limiter sets ``Retry-After`` on every answer of a
rate-limited view to the end of the client's window (up to 60 s, or an hour),
replacing the app's polling hint: a client that honours the 202 of
``POST /feeds`` would wait a minute for a fetch done in milliseconds. Two
hooks around the limiter's own keep what the app said: one, running before the
limiter's, remembers the app's value; the other, running after it, puts it
back, or removes the limiter's header from answers that are not a 429 (only
a client over its limit needs the window).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, g

_UNSET = object()


def _remember(response: Response) -> Response:
    g.own_retry_after = response.headers.get("Retry-After")
    return response


def _restore(response: Response) -> Response:
    own = g.pop("own_retry_after", _UNSET)
    if own is _UNSET or response.status_code == 429:
        return response  # the limiter did not run, or the client is over its limit
    if own is None:
        response.headers.pop("Retry-After", None)
    else:
        response.headers["Retry-After"] = own
    return response


def init_app(app: Flask, register_limiter: Callable[[], None]) -> None:
    """Register the limiter (``register_limiter``) between the two hooks.

    Flask runs after-request hooks in the reverse order of registration: the
    one registered first runs last.
    """
    app.after_request(_restore)
    register_limiter()
    app.after_request(_remember)
