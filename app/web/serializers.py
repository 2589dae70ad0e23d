"""JSON shapes of feeds, items and fetches: the contract API clients rely on."""

from __future__ import annotations

from datetime import datetime

from flask import url_for

from app.storage.models import Feed, Fetch, FetchState, Item, Subscription
from app.storage.reading import RiverItem
from app.web.media import enclosures_json


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def fetch_json(fetch: Fetch, *, queue_position: int | None = None) -> dict[str, object]:
    """A fetch as its status endpoint reports it."""
    data: dict[str, object] = {
        "id": str(fetch.id),
        "feed_id": fetch.feed_id,
        "trigger": fetch.trigger.value,
        "state": fetch.state.value,
        "attempts": fetch.attempts,
        "created_at": _iso(fetch.created_at),
        "started_at": _iso(fetch.started_at),
        "finished_at": _iso(fetch.finished_at),
        "status_url": url_for("api.get_fetch", fetch_id=fetch.id),
        "feed_url": url_for("api.get_feed", feed_id=fetch.feed_id),
    }
    if fetch.state == FetchState.QUEUED and queue_position is not None:
        data["queue_position"] = queue_position
    if fetch.state == FetchState.SUCCEEDED:
        data.update(
            http_status=fetch.http_status,
            not_modified=bool(fetch.not_modified),
            items_new=fetch.items_new or 0,
            items_updated=fetch.items_updated or 0,
            items_url=url_for("api.list_items", feed_id=fetch.feed_id),
            warning=fetch.warning,
            discovered_url=fetch.discovered_url,
        )
    if fetch.state == FetchState.FAILED:
        data.update(
            http_status=fetch.http_status,
            error={"code": fetch.error_code, "message": fetch.error_message},
        )
    return data


def feed_json(feed: Feed) -> dict[str, object]:
    """A feed with its state and schedule."""
    return {
        "id": feed.id,
        "url": feed.url,
        "current_url": feed.current_url,
        "title": feed.title,
        "site_url": feed.site_url,
        "state": feed.state.value,
        "item_count": feed.item_count,
        "error_count": feed.error_count,
        "last_error": (
            {"code": feed.last_error_code, "message": feed.last_error}
            if feed.last_error_code
            else None
        ),
        "created_at": _iso(feed.created_at),
        "last_fetched_at": _iso(feed.last_fetched_at),
        "last_success_at": _iso(feed.last_success_at),
        "next_fetch_at": _iso(feed.next_fetch_at),
        "links": {
            "self": url_for("api.get_feed", feed_id=feed.id),
            "items": url_for("api.list_items", feed_id=feed.id),
            "page": url_for("pages.feed", feed_id=feed.id),
        },
    }


def item_json(item: Item) -> dict[str, object]:
    """An item; its HTML fields were sanitised before they were stored."""
    return {
        "id": item.id,
        "key": item.key,
        "guid": item.guid,
        "url": item.url,
        "title": item.title,
        "author": item.author,
        "summary_html": item.summary_html,
        "content_html": item.content_html,
        "published_at": _iso(item.published_at),
        "updated_at": _iso(item.updated_at),
        "first_seen_at": _iso(item.first_seen_at),
        "enclosures": enclosures_json(item.enclosures),
    }


def river_item_json(item: RiverItem) -> dict[str, object]:
    """An item as one person sees it (their feed title, read and starred state); search
    results add ``rank``, ``title_html`` and ``snippet_html`` (escaped, matches in <mark>)."""
    body: dict[str, object] = {
        "id": item.id,
        "feed_id": item.feed_id,
        "feed_title": item.feed_title,
        "folder_id": item.folder_id,
        "url": item.url,
        "title": item.title,
        "author": item.author,
        "summary_html": item.summary_html,
        "content_html": item.content_html,
        "published_at": _iso(item.published_at),
        "updated_at": _iso(item.updated_at),
        "sort_at": _iso(item.sort_at),
        "read": item.read,
        "starred": item.starred,
        "starred_at": _iso(item.starred_at),
        "enclosures": enclosures_json(item.enclosures),
    }
    if item.rank is not None:
        body.update(rank=item.rank, title_html=item.title_html, snippet_html=item.snippet_html)
    return body


def subscription_json(sub: Subscription, unread: int) -> dict[str, object]:
    """A person's subscription: their title and folder, the shared feed, their unread count."""
    return {
        "feed_id": sub.feed_id,
        "title": sub.title or sub.feed.title or sub.feed.current_url,
        "custom_title": sub.title,
        "folder_id": sub.folder_id,
        "unread": unread,
        "subscribed_at": _iso(sub.created_at),
        "feed": feed_json(sub.feed),
    }
