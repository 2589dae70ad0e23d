"""The Google Reader API's answers about a person's account, lists, counts and read state.

As FreshRSS and Miniflux serve it: labels are our folders (a folder inside
another is the label "Parent / Child", as Fever's groups), feeds are named by the
address they were added under, items by our stable ids. A label belongs to a
feed, not to an item: ``edit-tag`` changes read and starred state and accepts
label tags without acting on them (file a feed in a folder with
``subscription/edit`` instead). Streams are app.services.greader_streams';
subscribing is app.services.greader_subscriptions'. Everything here works on
the person's own data only; writes commit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.services import greader_ids as ids
from app.services import reading as reading_service
from app.services.fever import group_titles
from app.services.greader_streams import feed_id_of, label_folder, parse_item_ids, usec
from app.storage import reading, streams, subscriptions, sync
from app.storage.models import User

#: Latest ``ts`` accepted by mark-all-as-read (microseconds; year 36812).
_MAX_USEC = 2**60


def user_info(user: User) -> dict[str, object]:
    """``user-info``: who signed in."""
    return {
        "userId": str(user.id),
        "userName": user.username,
        "userProfileId": str(user.id),
        "userEmail": user.username,  # as Miniflux: some apps show it as the account name
        "isBloggerUser": False,
        "signupTimeSec": int(user.created_at.timestamp()) if user.created_at else 0,
        "isMultiLoginEnabled": False,
    }


def _labels(session: Session, user_id: int) -> dict[int, str]:
    return group_titles(subscriptions.folders_of(session, user_id))


def subscription_list(session: Session, user_id: int) -> dict[str, object]:
    """``subscription/list``: the person's feeds with their title, label and addresses."""
    labels = _labels(session, user_id)
    result = []
    for sub in subscriptions.subscriptions_of(session, user_id):
        feed = sub.feed
        categories = []
        if sub.folder_id is not None and sub.folder_id in labels:
            name = labels[sub.folder_id]
            label = {"id": ids.label_stream(user_id, name), "label": name, "type": "folder"}
            categories.append(label)
        result.append(
            {
                "id": ids.feed_stream(feed.url),
                "title": sub.title or feed.title or feed.current_url,
                "categories": categories,
                "url": feed.current_url,
                "htmlUrl": feed.site_url or "",
                "iconUrl": "",
            }
        )
    return {"subscriptions": result}


def tag_list(session: Session, user_id: int) -> dict[str, object]:
    """``tag/list``: the starred state and one label per folder."""
    tags: list[dict[str, str]] = [{"id": ids.state_stream(user_id, ids.STARRED)}]
    for name in sorted(_labels(session, user_id).values(), key=str.lower):
        tags.append({"id": ids.label_stream(user_id, name), "label": name, "type": "folder"})
    return {"tags": tags}


def _usec(when: datetime | None) -> str:
    return usec(when) if when else "0"


def unread_count(session: Session, user_id: int) -> dict[str, object]:
    """``unread-count``: unread items of everything, of each feed and of each label."""
    counts = reading_service.unread_counts(session, user_id)
    newest = streams.newest_per_feed(session, user_id)
    subs = subscriptions.subscriptions_of(session, user_id)
    labels = _labels(session, user_id)
    folder_newest: dict[int, datetime] = {}
    for sub in subs:
        when = newest.get(sub.feed_id)
        if sub.folder_id is not None and when is not None:
            folder_newest[sub.folder_id] = max(when, folder_newest.get(sub.folder_id, when))
    rows = [
        {
            "id": ids.state_stream(user_id, ids.READING_LIST),
            "count": counts.total,
            "newestItemTimestampUsec": _usec(max(newest.values(), default=None)),
        }
    ]
    rows += [
        {
            "id": ids.feed_stream(sub.feed.url),
            "count": counts.feeds.get(sub.feed_id, 0),
            "newestItemTimestampUsec": _usec(newest.get(sub.feed_id)),
        }
        for sub in subs
    ]
    rows += [
        {
            "id": ids.label_stream(user_id, name),
            "count": counts.folders.get(folder_id, 0),
            "newestItemTimestampUsec": _usec(folder_newest.get(folder_id)),
        }
        for folder_id, name in sorted(labels.items())
    ]
    return {"max": counts.total, "unreadcounts": rows}


def _state_of(raw: str, user_id: int) -> str | None:
    """The state a tag of edit-tag names (read, starred, kept-unread); None for a label or
    another com.google state (like, broadcast, tracking-...), which change nothing here."""
    try:
        stream = ids.parse_stream(raw, user_id)
    except ids.Invalid:
        if re.fullmatch(r"user/(-|[0-9]{1,19})/state/com\.google/[\w.-]{1,100}", raw.strip()):
            return None
        raise
    if stream.kind == "state" and stream.name != ids.READING_LIST:
        return stream.name
    if stream.kind == "label":
        return None
    raise ids.Invalid("invalid_tag", "edit-tag takes states (read, starred) and labels.")


def edit_tag(
    session: Session,
    user_id: int,
    raw_ids: Sequence[str],
    add: Sequence[str],
    remove: Sequence[str],
) -> None:
    """``edit-tag``: add (``a``) and remove (``r``) read, kept-unread and starred on the items
    ``i``. Ids that are not the person's change nothing. Commits."""
    item_ids = parse_item_ids(raw_ids)
    if not item_ids:
        raise ids.Invalid("missing_i", "Name the items with i=.")
    changes = [(_state_of(t, user_id), True) for t in add]
    changes += [(_state_of(t, user_id), False) for t in remove]
    for state, on in changes:
        if state == ids.READ:
            reading.mark_read(session, user_id, item_ids, on)
        elif state == ids.KEPT_UNREAD:
            reading.mark_read(session, user_id, item_ids, not on)
        elif state == ids.STARRED:
            reading.set_starred(session, user_id, item_ids, on)
    session.commit()


def mark_all_as_read(session: Session, user_id: int, raw_stream: str, ts: str | None) -> None:
    """``mark-all-as-read``: the stream's items read, up to ``ts`` (microseconds, the
    items' ``timestampUsec``; or seconds) when given, else every item stored now. A feed
    or label the person does not have changes nothing. Commits."""
    older_than = None
    if ts is not None and ts.strip():
        if not re.fullmatch(r"[0-9]{1,19}", ts.strip()) or int(ts) > _MAX_USEC:
            raise ids.Invalid("invalid_ts", "ts is a time in microseconds.")
        # Fewer than 16 digits cannot be microseconds of this century: seconds, as some
        # apps send (Miniflux reads them so too).
        usec = int(ts) if len(ts.strip()) >= 16 else int(ts) * 1_000_000
        # Up to and including the item stamped ts.
        older_than = datetime.fromtimestamp(usec // 1_000_000, UTC) + timedelta(
            microseconds=usec % 1_000_000 + 1
        )
    stream = ids.parse_stream(raw_stream, user_id)
    scope = None
    if stream.kind == "feed":
        feed_id = feed_id_of(session, user_id, stream.name)
        scope = reading_service.Scope(feed_id=feed_id) if feed_id is not None else None
    elif stream.kind == "label":
        folder_id = label_folder(session, user_id, stream.name)
        scope = reading_service.Scope(folder_id=folder_id) if folder_id is not None else None
    elif stream.name == ids.READING_LIST:
        scope = reading_service.Scope()
    elif stream.name == ids.STARRED:
        reading_service.mark_read(session, user_id, sync.starred_ids(session, user_id), True)
    if scope is not None:
        reading_service.mark_all_read(session, user_id, scope, older_than=older_than)
