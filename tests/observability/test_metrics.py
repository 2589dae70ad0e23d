"""/metrics after real jobs: a worker process records, the web's scrape sees it."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from redis import Redis
from rq import Worker

from app.storage.db import Database
from app.storage.fetches import claim_fetch
from app.storage.models import Feed, Fetch, FetchTrigger
from app.workers.recovery import recover_worker_job
from tests.feedserver import FIXTURES, FeedServer, Request, Response
from tests.observability.conftest import SUBMISSIONS, Samples, total, value

RSS = (FIXTURES / "example-rss20.xml").read_bytes()


def _submit(client: FlaskClient, url: str) -> dict:
    response = client.post("/feeds", json={"url": url})
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def _moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def test_a_successful_job_moves_job_fetch_and_item_counters(
    client: FlaskClient,
    feed_server: FeedServer,
    run_worker_burst: Callable,
    scrape: Callable[[], Samples],
    worker_extra_env: dict[str, str],
) -> None:
    url = feed_server.add_fixture("/rss.xml", "example-rss20.xml")
    before = scrape()
    _submit(client, url)
    run_worker_burst(**worker_extra_env)
    after = scrape()
    assert _moved(before, after, "feedqueue_jobs_started_total", queue=SUBMISSIONS) == 1
    assert _moved(before, after, "feedqueue_jobs_succeeded_total", queue=SUBMISSIONS) == 1
    assert _moved(before, after, "feedqueue_jobs_failed_total") == 0
    assert _moved(before, after, "feedqueue_items_new_total") == 3
    assert _moved(before, after, "feedqueue_fetch_duration_seconds_count") == 1
    assert _moved(before, after, "feedqueue_fetch_responses_total", status_class="2xx") == 1
    assert _moved(before, after, "feedqueue_fetch_bytes_total") == len(RSS)
    assert _moved(before, after, "feedqueue_job_duration_seconds_count", outcome="succeeded") == 1


def test_a_failed_job_is_counted_by_its_error_code(
    client: FlaskClient,
    feed_server: FeedServer,
    run_worker_burst: Callable,
    scrape: Callable[[], Samples],
    worker_extra_env: dict[str, str],
) -> None:
    before = scrape()
    _submit(client, feed_server.url("/missing.xml"))
    run_worker_burst(**worker_extra_env)
    after = scrape()
    assert _moved(before, after, "feedqueue_jobs_failed_total", code="http_404") == 1
    assert _moved(before, after, "feedqueue_fetch_responses_total", status_class="4xx") == 1
    assert _moved(before, after, "feedqueue_jobs_succeeded_total") == 0


def test_an_unchanged_feed_counts_as_not_modified(
    client: FlaskClient,
    feed_server: FeedServer,
    run_worker_burst: Callable,
    scrape: Callable[[], Samples],
    worker_extra_env: dict[str, str],
) -> None:
    def conditional(req: Request) -> Response:
        if req.headers.get("if-none-match") == '"v1"':
            return Response(304, b"", {"ETag": '"v1"'})
        return Response(200, RSS, {"Content-Type": "application/rss+xml", "ETag": '"v1"'})

    url = feed_server.route("/etag.xml", conditional)
    first = _submit(client, url)
    run_worker_burst(**worker_extra_env)
    before = scrape()
    refresh = client.post(f"/feeds/{first['fetch']['feed_id']}/refresh", json={})
    assert refresh.status_code == 202
    run_worker_burst(**worker_extra_env)
    after = scrape()
    assert _moved(before, after, "feedqueue_fetch_not_modified_total") == 1
    assert _moved(before, after, "feedqueue_fetch_responses_total", status_class="3xx") == 1
    assert _moved(before, after, "feedqueue_items_new_total") == 0


def test_request_latency_is_recorded_per_route_and_status(
    client: FlaskClient, feed_server: FeedServer, scrape: Callable[[], Samples]
) -> None:
    labels = {"method": "POST", "route": "/feeds", "status": "202"}
    before = scrape()
    _submit(client, feed_server.url("/a.xml"))
    after = scrape()
    name = "feedqueue_http_request_duration_seconds_count"
    assert value(after, name, **labels) - value(before, name, **labels) == 1


def test_unmatched_paths_share_one_route_label(
    client: FlaskClient, scrape: Callable[[], Samples]
) -> None:
    client.get("/no/such/page/123")
    client.get("/no/such/page/456")
    after = scrape()
    name = "feedqueue_http_request_duration_seconds_count"
    assert value(after, name, method="GET", route="unmatched", status="404") >= 2
    assert not any("/no/such" in str(labels) for _n, labels in after)


def test_queue_depth_and_oldest_job_age_are_read_from_redis(
    client: FlaskClient, feed_server: FeedServer, scrape: Callable[[], Samples]
) -> None:
    _submit(client, feed_server.url("/one.xml"))
    _submit(client, feed_server.url("/two.xml"))
    samples = scrape()
    queue = SUBMISSIONS
    assert value(samples, "feedqueue_redis_up") == 1
    assert value(samples, "feedqueue_queue_depth", queue=queue) == 2
    assert value(samples, "feedqueue_queue_oldest_job_age_seconds", queue=queue) > 0
    assert value(samples, "feedqueue_queue_depth", queue="feedqueue-obstest-refresh") == 0


def test_web_process_is_counted_alive_with_its_memory(scrape: Callable[[], Samples]) -> None:
    samples = scrape()
    assert total(samples, "feedqueue_processes_alive", role="web") >= 1
    assert total(samples, "feedqueue_process_resident_memory_bytes", role="web") > 0


def test_a_job_that_never_finished_is_not_counted_busy_twice() -> None:
    from app.observability import metrics

    gauge = metrics.PROCESSES_BUSY.labels("worker")
    before = gauge._value.get()
    metrics.job_started()  # this job dies without job_finished
    metrics.job_started()  # the thread's next job
    assert gauge._value.get() - before == 1
    metrics.job_finished("succeeded", 0.1)
    assert gauge._value.get() == before


def test_a_quarantined_fetch_shows_in_the_crash_counter(
    job_context_with: Callable, db: Database, redis: Redis, scrape: Callable[[], Samples]
) -> None:
    ctx = job_context_with(fetch_crash_retries=0)
    with db.session() as session:
        feed = Feed(url="http://127.0.0.1:9/poison.xml", current_url="http://127.0.0.1:9/poison.xml")
        session.add(feed)
        session.flush()
        fetch = Fetch(feed_id=feed.id, trigger=FetchTrigger.SUBMITTED)
        session.add(fetch)
        session.commit()
        fetch_id = fetch.id
    ctx.queues.enqueue_fetch(fetch_id, "submitted")
    job = ctx.queues.submissions.fetch_job(str(fetch_id))
    ctx.queues.submissions.remove(job.id)  # type: ignore[union-attr]
    with db.session() as session:
        claim_fetch(session, fetch_id)
        session.commit()
    dead = Worker([ctx.queues.submissions], connection=redis, name="deadhost.obs.t0")
    dead.register_birth()
    dead.prepare_execution(job)  # type: ignore[arg-type]
    before = scrape()
    recover_worker_job(ctx, dead.name)
    after = scrape()
    name = "feedqueue_fetch_worker_crashes_total"
    assert _moved(before, after, name, outcome="quarantined") == 1
