"""The Google Reader API's names for things: item ids and stream ids.

Item ids are our stable item ids. The answer names them in the long form,
``tag:google.com,2005:reader/item/<16 hex digits>``, and in ``stream/items/ids``
as a decimal string (the short form); a request may use either.

Streams: ``feed/<address>`` (the address the feed was added under; also accepted:
its current address, or ``feed/<feed id>`` as FreshRSS and Miniflux name feeds),
``user/-/label/<folder>`` (a folder; a folder inside one is named "Parent / Child",
as in the Fever API), and the states ``user/-/state/com.google/reading-list``,
``read``, ``starred``, ``kept-unread``. ``user/<our user id>/`` may stand for ``user/-/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.storage.models import MAX_ID

LONG_PREFIX = "tag:google.com,2005:reader/item/"
STATE = "state/com.google/"
READING_LIST, READ, STARRED, KEPT_UNREAD = "reading-list", "read", "starred", "kept-unread"
#: The longest stream id read (a feed's address is at most 2048 characters).
MAX_STREAM_ID = 2200


class Invalid(ValueError):
    """A request the API cannot act on (an id it cannot read, a bad number...): ``status``
    (400 unless said), ``code`` and ``message``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def long_item_id(item_id: int) -> str:
    """The long form of an item id."""
    return f"{LONG_PREFIX}{item_id:016x}"


def parse_item_id(raw: str) -> int:
    """Our item id from its long form (hex) or short form (decimal); Invalid otherwise.

    Google's short ids were signed 64-bit numbers: a negative one, or a long one at or
    past 2**63, names no item of ours and is refused like any other stranger.
    """
    value = raw.strip()
    if value.startswith(LONG_PREFIX):
        digits = value[len(LONG_PREFIX) :]
        if re.fullmatch(r"[0-9a-fA-F]{1,16}", digits):
            item_id = int(digits, 16)
            if 0 < item_id <= MAX_ID:
                return item_id
    elif re.fullmatch(r"[0-9]{1,19}", value) and 0 < int(value) <= MAX_ID:
        return int(value)
    raise Invalid(
        "invalid_item_id",
        f"An item id is {LONG_PREFIX}<16 hex digits> or a decimal number.",
    )


@dataclass(frozen=True)
class Stream:
    """A parsed stream id: ``kind`` is "feed", "label" or "state"; ``name`` what follows."""

    kind: str
    name: str


def parse_stream(raw: str, user_id: int) -> Stream:
    """The stream ``raw`` names, for the person ``user_id``; Invalid when it is not one we serve
    (also ``user/<someone else's id>/...``)."""
    value = raw.strip()
    if not value or len(value) > MAX_STREAM_ID:
        raise Invalid("invalid_stream", "s names a stream (feed/..., user/-/label/..., ...).")
    if value.startswith("feed/") and len(value) > len("feed/"):
        return Stream("feed", value[len("feed/") :])
    match = re.fullmatch(r"user/(-|[0-9]{1,19})/(.+)", value, flags=re.DOTALL)
    if match and match.group(1) in ("-", str(user_id)):
        rest = match.group(2)
        if rest.startswith("label/") and len(rest) > len("label/"):
            return Stream("label", rest[len("label/") :])
        if rest.startswith(STATE) and rest[len(STATE) :] in (
            READING_LIST,
            READ,
            STARRED,
            KEPT_UNREAD,
        ):
            return Stream("state", rest[len(STATE) :])
    raise Invalid(
        "invalid_stream",
        "Streams are feed/<address>, user/-/label/<name> and user/-/state/com.google/"
        "(reading-list|read|starred|kept-unread); user/<id>/ only with your own id.",
    )


def feed_stream(url: str) -> str:
    """The stream id of the feed stored under ``url``."""
    return f"feed/{url}"


def label_stream(user_id: int, name: str) -> str:
    """The stream id of the person's folder ``name``."""
    return f"user/{user_id}/label/{name}"


def state_stream(user_id: int, state: str) -> str:
    """The stream id of one of the person's states (reading-list, read, starred)."""
    return f"user/{user_id}/{STATE}{state}"
