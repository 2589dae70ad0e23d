// feedqueue's only script. Progressive enhancement: every page works without it.
//  - feed page: follow a pending fetch (poll its status URL, honouring Retry-After and
//    backing off), then swap in the fresh items without reloading; "Refresh now" without reload;
//  - home page: live state badges of feeds being fetched;
//  - OPML import page: live progress of every feed of the batch;
//  - forms with data-confirm ask before submitting.
(function () {
  "use strict";

  var MAX_DELAY = 30;
  var BADGE_LABELS = {
    queued: "Queued", fetching: "Fetching", ok: "OK", error: "Error", paused: "Paused", gone: "Gone"
  };
  var FEED_STATE_BADGE = { "new": "queued", active: "ok", error: "error", paused: "paused", gone: "gone" };

  function retryAfter(response, fallback) {
    var value = parseFloat(response.headers.get("Retry-After") || "");
    return isFinite(value) && value >= 0 ? value : fallback;
  }

  function clampDelay(seconds) {
    return Math.max(0.5, Math.min(seconds, MAX_DELAY)) * 1000;
  }

  // Poll `url` as JSON until `onData` returns false. Honours Retry-After, slows down
  // gently on long waits, and backs off exponentially while the server is unreachable.
  function pollJson(url, onData, onTrouble) {
    var polls = 0;
    var failures = 0;
    function schedule(seconds) { window.setTimeout(tick, clampDelay(seconds)); }
    function tick() {
      window.fetch(url, { headers: { Accept: "application/json" }, cache: "no-store",
                          credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 404) {
            onTrouble("gone");
            return;
          }
          if (!response.ok) {
            var error = new Error("HTTP " + response.status);
            error.retryAfter = retryAfter(response, 0);
            throw error;
          }
          var wait = retryAfter(response, 1);
          return response.json().then(function (data) {
            failures = 0;
            polls += 1;
            if (onData(data) === false) return;
            // After a minute of waiting, poll less often: the queue is long.
            schedule(polls > 60 ? Math.max(wait, 5) : wait);
          });
        })
        .catch(function (error) {
          failures += 1;
          onTrouble("retrying");
          schedule(Math.max(error.retryAfter || 0, Math.pow(2, Math.min(failures, 5))));
        });
    }
    tick();
  }

  function makeBadge(key) {
    var span = document.createElement("span");
    span.className = "badge badge-" + key;
    span.textContent = BADGE_LABELS[key] || key;
    return span;
  }

  function setBadge(container, key) {
    if (!container) return;
    container.textContent = "";
    container.appendChild(makeBadge(key));
  }

  // ---- feed page --------------------------------------------------------------------
  function feedPage() {
    var box = document.getElementById("fetch-status");
    var live = document.getElementById("feed-live");
    if (!box || !live) return;

    function say(text, kind, busy) {
      box.className = "status " + (kind || "");
      box.textContent = "";
      if (busy) {
        var spinner = document.createElement("span");
        spinner.className = "spinner";
        spinner.setAttribute("aria-hidden", "true");
        box.appendChild(spinner);
      }
      box.appendChild(document.createTextNode(text));
    }

    function describe(fetch) {
      if (fetch.state === "running") return "Fetching the feed…";
      var ahead = fetch.queue_position;
      return ahead ? "Waiting in the queue (" + ahead + " ahead)…" : "Waiting for a worker to fetch this feed…";
    }

    function reloadLive() {
      return window.fetch(box.dataset.liveUrl, { headers: { Accept: "text/html" }, cache: "no-store",
                                                 credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
        .then(function (html) {
          live.innerHTML = html;
          // The first fetch may have taught us the feed's title.
          var title = live.querySelector(".js-title");
          var heading = document.getElementById("feed-title");
          if (title && heading && heading.textContent !== title.textContent) {
            heading.textContent = title.textContent;
            document.title = title.textContent + " · feedqueue";
          }
        });
    }

    function finished(fetch) {
      if (fetch.state === "succeeded") {
        var summary = fetch.not_modified
          ? "the feed has not changed since the last fetch."
          : fetch.items_new + " new and " + fetch.items_updated + " updated items.";
        reloadLive().then(function () { say("Done: " + summary, "ok"); },
                          function () { say("Done: " + summary + " Reload the page to see them.", "ok"); });
        return;
      }
      var message = (fetch.error && fetch.error.message) || "The fetch failed.";
      reloadLive().then(function () {
        // What to do about it is in the notice just swapped in below.
        say("The fetch failed: " + message, "error");
      }, function () {
        say("The fetch failed: " + message + " Check the address, or try Refresh now later.", "error");
      });
    }

    function follow(statusUrl) {
      box.dataset.statusUrl = statusUrl;
      pollJson(statusUrl, function (fetch) {
        if (fetch.state === "succeeded" || fetch.state === "failed") {
          finished(fetch);
          return false;
        }
        say(describe(fetch), "pending", true);
        setBadge(live.querySelector(".js-badge"), fetch.state === "running" ? "fetching" : "queued");
        return true;
      }, function (trouble) {
        if (trouble === "gone") say("This fetch no longer exists; the feed may have been deleted.", "error");
        else say("Lost contact with the server; retrying…", "pending", true);
      });
    }

    // "Refresh now" without leaving the page.
    var refresh = document.querySelector("form.js-refresh");
    if (refresh) {
      refresh.addEventListener("submit", function (event) {
        event.preventDefault();
        var button = refresh.querySelector("button");
        if (button) button.disabled = true;
        say("Asking for a refresh…", "pending", true);
        window.fetch(refresh.action, { method: "POST", body: new FormData(refresh),
                                       headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (r) {
            return r.json().then(function (body) {
              if (!r.ok) throw new Error((body.error && body.error.message) || "HTTP " + r.status);
              return body;
            });
          })
          .then(function (body) {
            if (button) button.disabled = false;
            say(describe(body.fetch), "pending", true);
            follow(body.status_url);
          })
          .catch(function (error) {
            if (button) button.disabled = false;
            say("Could not ask for a refresh: " + error.message, "error");
          });
      });
    }

    if (box.dataset.statusUrl) follow(box.dataset.statusUrl);
  }

  // ---- home page: feeds being fetched -----------------------------------------------
  function homePage() {
    var rows = document.querySelectorAll("tr[data-status-url]");
    Array.prototype.slice.call(rows, 0, 50).forEach(function (row) {
      pollJson(row.dataset.statusUrl, function (fetch) {
        var cell = row.querySelector(".js-badge");
        if (fetch.state === "queued" || fetch.state === "running") {
          setBadge(cell, fetch.state === "running" ? "fetching" : "queued");
          return true;
        }
        window.fetch(fetch.feed_url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (body) {
            if (!body) return;
            setBadge(cell, FEED_STATE_BADGE[body.feed.state] || body.feed.state);
            var count = row.querySelector("td.num");
            if (count) count.textContent = body.feed.item_count;
            if (body.feed.title) row.querySelector(".feed-title").textContent = body.feed.title;
          })
          .catch(function () { setBadge(cell, fetch.state === "succeeded" ? "ok" : "error"); });
        return false;
      }, function () { /* keep the last known badge while retrying */ });
    });
  }

  // ---- OPML import progress ---------------------------------------------------------
  function batchPage() {
    var batch = document.getElementById("batch");
    if (!batch || !batch.dataset.progressUrl || batch.dataset.pending === "0") return;
    var bar = document.getElementById("batch-progress");
    var label = batch.querySelector("label[for='batch-progress']");
    var status = document.getElementById("batch-status");

    function updateRow(entry) {
      var row = document.querySelector("tr[data-fetch-id='" + entry.fetch_id + "']");
      if (!row || row.dataset.state === entry.state) return;
      row.dataset.state = entry.state;
      setBadge(row.querySelector(".js-badge"), entry.badge);
      var result = row.querySelector(".js-result");
      result.textContent = "";
      if (entry.state === "failed") {
        var error = document.createElement("span");
        error.className = "error";
        error.textContent = entry.error || "The fetch failed.";
        var advice = document.createElement("span");
        advice.className = "muted";
        advice.textContent = " " + (entry.advice || "");
        result.appendChild(error);
        result.appendChild(advice);
      } else if (entry.state === "succeeded") {
        result.textContent = (entry.items_new || 0) + " new items";
      } else if (entry.state === "deleted") {
        result.textContent = "Feed deleted";
      } else {
        var wait = document.createElement("span");
        wait.className = "muted";
        wait.textContent = entry.state === "running" ? "fetching…" : "waiting…";
        result.appendChild(wait);
      }
    }

    pollJson(batch.dataset.progressUrl, function (data) {
      var s = data.summary;
      bar.max = Math.max(s.total, 1);
      bar.value = s.done;
      bar.textContent = s.done + " of " + s.total;
      label.textContent = "Fetched " + s.done + " of " + s.total + " feeds";
      data.fetches.forEach(updateRow);
      if (s.pending) {
        status.className = "status";
        status.textContent = s.pending + " still fetching…";
        return true;
      }
      status.className = "status ok";
      status.textContent = "All done: " + (s.total - s.failed) + " fetched, " + s.failed + " failed.";
      return false;
    }, function (trouble) {
      if (trouble === "gone") status.textContent = "This import is no longer known.";
    });
  }

  function confirmations() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }

  confirmations();
  feedPage();
  homePage();
  batchPage();
})();
