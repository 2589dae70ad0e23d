// Live progress on the feed page: poll the fetch's status URL, honouring
// Retry-After, and swap in the items when the fetch succeeds. Without
// JavaScript the page falls back to a <noscript> meta refresh.
(function () {
  "use strict";

  var box = document.getElementById("fetch-status");
  if (!box || !box.dataset.statusUrl) return;

  var statusUrl = box.dataset.statusUrl;
  var itemsUrl = box.dataset.itemsUrl;
  var failures = 0;

  function say(text, className) {
    box.className = "status " + (className || "");
    box.textContent = text;
  }

  function later(seconds) {
    window.setTimeout(poll, Math.max(0.5, Math.min(seconds, 30)) * 1000);
  }

  function describe(fetch) {
    if (fetch.state === "queued") {
      var pos = fetch.queue_position;
      return pos ? "Waiting in the queue (" + pos + " ahead)…" : "Waiting for a worker…";
    }
    return "Fetching the feed…";
  }

  function showItems(fetch) {
    var summary = fetch.not_modified
      ? "The feed has not changed."
      : fetch.items_new + " new and " + fetch.items_updated + " updated items.";
    return window.fetch(itemsUrl, { headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        document.getElementById("items").innerHTML = html;
        say("Done: " + summary, "ok");
      });
  }

  function poll() {
    window.fetch(statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) {
        if (!r.ok) return Promise.reject(r.status);
        var retry = parseFloat(r.headers.get("Retry-After") || "1");
        return r.json().then(function (fetch) { return [fetch, retry]; });
      })
      .then(function (pair) {
        var fetch = pair[0];
        failures = 0;
        if (fetch.state === "succeeded") return showItems(fetch);
        if (fetch.state === "failed") {
          say("The fetch failed: " + fetch.error.message + " Check the address, or try Refresh later.", "error");
          return;
        }
        say(describe(fetch), "pending");
        later(pair[1]);
      })
      .catch(function () {
        // Back off while the server is unreachable or answering errors.
        failures += 1;
        say("Lost contact with the server; retrying…", "pending");
        later(Math.pow(2, Math.min(failures, 5)));
      });
  }

  poll();
})();
