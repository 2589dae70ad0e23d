"""Adding, editing, removing, importing and exporting subscriptions through the Google
Reader API.

A subscribe (``subscription/edit?ac=subscribe``, ``subscription/quickadd``) is a
submission like ``POST /feeds``: the same address checks, the same per-client
rate limit (``charge``), the same queue admission (QueueFull, QueueUnavailable
propagate), and the feed is fetched by the workers; the app sees its items once
the fetch is done. An OPML import is app.services.opml_import's. Writes commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from app.config import Settings
from app.opml import OpmlError, build_opml
from app.queue.queues import Queues
from app.services import greader_ids as ids
from app.services import reading as reading_service
from app.services.greader_streams import feed_id_of, label_folder
from app.services.opml_import import export_entries, import_opml
from app.services.submissions import Refused, Subscriber, accepted_url, submit_url
from app.services.text import storable
from app.storage import subscriptions
from app.storage.feeds import get_feed
from app.storage.models import Feed

OVER_LIMIT = "Too many feeds added from this address; wait a minute."


def _label_name(raw: str, user_id: int) -> str:
    stream = ids.parse_stream(raw, user_id)
    if stream.kind != "label":
        raise ids.Invalid("invalid_label", "a= and r= name labels: user/-/label/<name>.")
    return stream.name


def _folder_for(session: Session, user_id: int, raw_label: str) -> int:
    """The person's folder for the label (created at the top level when new)."""
    name = _label_name(raw_label, user_id)
    found = label_folder(session, user_id, name)
    if found is not None:
        return found
    try:
        return reading_service.create_folder(session, user_id, name, None)
    except reading_service.Invalid as err:
        raise ids.Invalid(err.code, err.message) from None


def _update(session: Session, user_id: int, feed_id: int, changes: dict[str, object]) -> None:
    try:
        reading_service.update_subscription(session, user_id, feed_id, changes)
    except (reading_service.Invalid, reading_service.NotFound) as err:
        raise ids.Invalid(err.code, err.message) from None


def subscribe(
    session: Session,
    queues: Queues,
    settings: Settings,
    user_id: int,
    raw_url: str,
    *,
    title: str | None = None,
    label: str | None = None,
    charge: Callable[[], bool] = lambda: True,
) -> Feed:
    """Subscribe the person to the feed at ``raw_url`` (titled, in the label's folder) and
    queue its fetch, as POST /feeds does; returns the feed. Invalid (400) for an address
    refused, (429) past the client's submission limit."""
    try:
        url = accepted_url(raw_url, settings)
    except Refused as err:
        raise ids.Invalid(err.code, err.message) from None
    if title and (len(title) > reading_service.MAX_TITLE or not storable(title)):
        # Refused before anything is written, not after the feed is queued.
        raise ids.Invalid("invalid_title", f"t is at most {reading_service.MAX_TITLE} characters.")
    if not charge():
        raise ids.Invalid("rate_limited", OVER_LIMIT, 429)
    folder_id = _folder_for(session, user_id, label) if label else None
    subscriber = Subscriber.of(user_id, settings, folder_id=folder_id)
    submission = submit_url(session, queues, url, subscriber)
    changes: dict[str, object] = {}
    if title and title.strip():
        changes["title"] = title
    if folder_id is not None:
        changes["folder_id"] = folder_id  # also when the person already followed it
    if changes:
        _update(session, user_id, submission.feed_id, changes)
    feed = get_feed(session, submission.feed_id)
    assert feed is not None  # subscribed: retention keeps a followed feed
    return feed


def _feed_ids(session: Session, user_id: int, streams: Sequence[str]) -> list[int]:
    """The person's feeds the ``s`` arguments name (those they do not follow are left out)."""
    found = []
    for raw in streams:
        stream = ids.parse_stream(raw, user_id)
        if stream.kind != "feed":
            raise ids.Invalid("invalid_stream", "s names a feed: feed/<address>.")
        feed_id = feed_id_of(session, user_id, stream.name)
        if feed_id is not None:
            found.append(feed_id)
    return found


def unsubscribe(session: Session, user_id: int, streams: Sequence[str]) -> None:
    """Stop following the feeds ``streams`` names. Commits."""
    for feed_id in _feed_ids(session, user_id, streams):
        subscriptions.unsubscribe(session, user_id, feed_id)
    session.commit()


def edit(
    session: Session,
    user_id: int,
    streams: Sequence[str],
    *,
    title: str | None,
    add: Sequence[str],
    remove: Sequence[str],
) -> None:
    """Rename (``t``) the feeds ``streams`` names, file them in the label ``a`` (a feed is in
    one folder: the last one wins) or take them out of the label ``r``. Commits."""
    feed_ids = _feed_ids(session, user_id, streams)
    removed = {_folder_for_existing(session, user_id, raw) for raw in remove}
    target = _folder_for(session, user_id, add[-1]) if add else None
    for feed_id in feed_ids:
        changes: dict[str, object] = {}
        if title is not None and title.strip():
            changes["title"] = title
        if target is not None:
            changes["folder_id"] = target
        else:
            sub = subscriptions.get_subscription(session, user_id, feed_id)
            if sub is not None and sub.folder_id is not None and sub.folder_id in removed:
                changes["folder_id"] = None
        if changes:
            _update(session, user_id, feed_id, changes)


def _folder_for_existing(session: Session, user_id: int, raw_label: str) -> int | None:
    return label_folder(session, user_id, _label_name(raw_label, user_id))


def edit_action(
    session: Session,
    queues: Queues,
    settings: Settings,
    user_id: int,
    action: str,
    streams: Sequence[str],
    *,
    title: str | None,
    add: Sequence[str],
    remove: Sequence[str],
    charge: Callable[[], bool],
) -> None:
    """``subscription/edit``: ``ac=subscribe`` (the first ``s``, titled ``t``, in the last
    label ``a``), ``ac=unsubscribe`` (every ``s``) or ``ac=edit`` (see :func:`edit`)."""
    if not streams:
        raise ids.Invalid("missing_s", "Name the feed with s=feed/<address>.")
    if action == "subscribe":
        label = add[-1] if add else None
        url = streams[0].removeprefix("feed/")
        subscribe(session, queues, settings, user_id, url, title=title, label=label, charge=charge)
    elif action == "unsubscribe":
        unsubscribe(session, user_id, streams)
    elif action == "edit":
        edit(session, user_id, streams, title=title, add=add, remove=remove)
    else:
        raise ids.Invalid("invalid_ac", "ac is subscribe, unsubscribe or edit.")


def _existing_label(session: Session, user_id: int, raw: str) -> int:
    folder_id = _folder_for_existing(session, user_id, raw)
    if folder_id is None:
        raise ids.Invalid("label_not_found", "You have no label of that name.", 404)
    return folder_id


def rename_label(session: Session, user_id: int, raw: str, raw_dest: str) -> None:
    """``rename-tag``: rename the folder of the label ``s`` to the label ``dest``. Commits."""
    folder_id = _existing_label(session, user_id, raw)
    try:
        reading_service.rename_folder(session, user_id, folder_id, _label_name(raw_dest, user_id))
    except (reading_service.Invalid, reading_service.NotFound) as err:
        raise ids.Invalid(err.code, err.message) from None


def disable_labels(session: Session, user_id: int, streams: Sequence[str]) -> None:
    """``disable-tag``: remove the folders of the labels ``s`` (and those inside them); their
    feeds stay, outside any folder. Commits."""
    for folder_id in {_existing_label(session, user_id, raw) for raw in streams}:
        try:
            reading_service.delete_folder(session, user_id, folder_id)
        except reading_service.NotFound:
            pass  # inside another label removed just before


def export_opml(session: Session, user_id: int) -> bytes:
    """``subscription/export``: the person's subscriptions as OPML, in their folders."""
    return build_opml(export_entries(session, user_id))


def import_subscriptions(
    session: Session,
    queues: Queues,
    settings: Settings,
    user_id: int,
    data: bytes,
    charge: Callable[[], bool],
) -> None:
    """``subscription/import``: subscribe to every feed of the OPML ``data``, as the OPML
    page's import does (each feed a submission). Invalid when the file cannot be read."""
    try:
        import_opml(
            session,
            queues,
            settings,
            name="Google Reader API import",
            data=data,
            user_id=user_id,
            charge=charge,
        )
    except OpmlError as err:
        raise ids.Invalid("invalid_opml", str(err)) from None
