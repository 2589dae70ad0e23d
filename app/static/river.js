// The river and search pages: reading pane, keyboard, marks and stars, "More" without reload.
// Without this script the pages still work: every entry links to its item's page, "More"
// is a link to the next page and "Mark all read" a form.
//
// HTML from the server (an item's sanitised content, the next page of entries) is parsed
// in an inert <template> and moved into the page; the JSON API changes read and star state.
(function () {
  "use strict";

  var list = null;
  var pane = document.getElementById("pane");
  var help = document.getElementById("help");
  var current = null;
  var pendingG = false;
  var opening = 0;
  var toggled = {}; // ids whose read state the person set while their pane was loading

  function csrf() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function api(method, url) {
    return window.fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json",
                 "X-CSRFToken": csrf() }
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status + " " + url);
      return response.json();
    });
  }

  function fragment(url) {
    return window.fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status + " " + url);
        return response.text();
      })
      .then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html;
        return template.content;
      });
  }

  function entries() {
    return list ? Array.prototype.slice.call(list.querySelectorAll("li.entry")) : [];
  }

  function entryOf(id) {
    return list ? list.querySelector('li.entry[data-id="' + id + '"]') : null;
  }

  // Show an item's state everywhere it appears (its entry and the pane).
  function showState(id, field, value) {
    var targets = [entryOf(id), pane && pane.querySelector('.reading[data-id="' + id + '"]')];
    targets.forEach(function (el) {
      if (!el) return;
      el.setAttribute("data-" + field, value ? "true" : "false");
      if (field === "read") {
        el.classList.toggle("is-read", value);
        var button = el.querySelector(".read-toggle");
        if (button) button.textContent = value ? "Mark unread" : "Mark read";
      } else {
        el.classList.toggle("is-starred", value);
        var stars = el.querySelectorAll(".star-toggle");
        for (var i = 0; i < stars.length; i++) {
          if (stars[i].closest("[data-id]") === el) {
            stars[i].setAttribute("aria-pressed", value ? "true" : "false");
          }
        }
      }
    });
  }

  function refreshCounts() {
    return api("GET", "/api/counts").then(function (counts) {
      function put(el, n) { el.textContent = n ? String(n) : ""; }
      document.querySelectorAll("[data-feed-count]").forEach(function (el) {
        put(el, counts.feeds[el.getAttribute("data-feed-count")] || 0);
      });
      document.querySelectorAll("[data-folder-count]").forEach(function (el) {
        put(el, counts.folders[el.getAttribute("data-folder-count")] || 0);
      });
      document.querySelectorAll("[data-total-count]").forEach(function (el) {
        put(el, counts.total);
      });
    });
  }

  // An item's read (or starred) changes reach the server one after the other, in the
  // order the person made them: two requests in flight at once (j opens and marks read,
  // m at once marks unread) could be applied the other way round. Only the answer to the
  // latest change is shown; an earlier one would flicker the state back.
  var changes = {}; // "read:12" -> { done: Promise, latest: n }

  function change(id, field, on, path) {
    var key = field + ":" + id;
    var item = changes[key] || (changes[key] = { done: Promise.resolve(), latest: 0 });
    var mine = ++item.latest;
    showState(id, field, on);
    item.done = item.done
      .then(function () { return api(on ? "PUT" : "DELETE", "/api/items/" + id + path); })
      .then(function (data) { if (mine === item.latest) showState(id, field, data.item[field]); })
      .catch(function (error) {
        if (mine === item.latest) showState(id, field, !on);
        console.warn(error);
      });
    return item.done;
  }

  function setRead(id, read) {
    return change(id, "read", read, "/read").then(refreshCounts)
      .catch(function (error) { console.warn(error); });
  }

  // The person's own toggle: it wins over the "read once opened" of a pane still loading.
  function toggleRead(id) {
    toggled[id] = true;
    return setRead(id, !stateOf(id, "read"));
  }

  function setStarred(id, starred) {
    return change(id, "starred", starred, "/star");
  }

  function select(entry, scroll) {
    if (current) current.classList.remove("is-current");
    current = entry;
    if (!entry) return;
    entry.classList.add("is-current");
    if (scroll) entry.scrollIntoView({ block: "nearest" });
  }

  // Open an entry: its whole content in the pane, and it counts as read.
  function open(entry) {
    select(entry, true);
    var id = entry.getAttribute("data-id");
    var ticket = ++opening;
    delete toggled[id];
    pane.setAttribute("aria-busy", "true");
    return fragment("/items/" + id + "?partial=pane").then(function (content) {
      if (ticket !== opening) return; // a later item was opened meanwhile
      pane.replaceChildren(content);
      pane.removeAttribute("aria-busy");
      pane.scrollTop = 0;
      if (window.matchMedia("(max-width: 48rem)").matches) {
        pane.scrollIntoView({ block: "start" });
      }
      if (toggled[id]) return; // marked by hand while loading: leave it as the person set it
      if (entry.getAttribute("data-read") !== "true") return setRead(id, true);
    }).catch(function (error) { pane.removeAttribute("aria-busy"); console.warn(error); });
  }

  function move(step) {
    var all = entries();
    if (!all.length) return;
    var index = current ? all.indexOf(current) : -1;
    var next = all[Math.max(0, Math.min(all.length - 1, index + step))];
    if (index === -1) next = all[0];
    if (next === current && step > 0 && index === all.length - 1) {
      loadMore();
      return;
    }
    if (next !== current) open(next);
  }

  // "More": the next page's entries appended in place; the cursor is the server's.
  function loadMore() {
    var more = document.getElementById("more");
    if (!more || more.getAttribute("aria-busy") === "true") return Promise.resolve();
    more.setAttribute("aria-busy", "true");
    var url = more.getAttribute("href");
    url += (url.indexOf("?") === -1 ? "?" : "&") + "partial=list";
    return fragment(url).then(function (content) {
      var items = content.querySelectorAll("li.entry");
      for (var i = 0; i < items.length; i++) {
        if (!entryOf(items[i].getAttribute("data-id"))) list.appendChild(items[i]);
      }
      var upto = document.getElementById("upto-id");
      if (upto) {
        entries().forEach(function (e) {
          var id = parseInt(e.getAttribute("data-id"), 10);
          if (id > parseInt(upto.value, 10)) upto.value = String(id);
        });
      }
      var next = content.getElementById ? content.getElementById("more")
                                        : content.querySelector("#more");
      if (next) {
        more.setAttribute("href", next.getAttribute("href"));
        more.removeAttribute("aria-busy");
      } else {
        more.parentNode.remove();
      }
    }).catch(function (error) { more.removeAttribute("aria-busy"); console.warn(error); });
  }

  function toggleHelp(show) {
    if (!help) return;
    help.hidden = !show;
    if (show) document.getElementById("close-help").focus();
  }

  function activeId() {
    var reading = pane && pane.querySelector(".reading");
    if (reading) return reading.getAttribute("data-id");
    return current ? current.getAttribute("data-id") : null;
  }

  function stateOf(id, field) {
    var el = entryOf(id) || (pane && pane.querySelector('.reading[data-id="' + id + '"]'));
    return el && el.getAttribute("data-" + field) === "true";
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable) {
      return;
    }
    var key = event.key;
    if (help && !help.hidden) {
      if (key === "Escape" || key === "?") { toggleHelp(false); event.preventDefault(); }
      return;
    }
    if (pendingG) {
      pendingG = false;
      if (key === "u") { window.location.assign("/"); event.preventDefault(); }
      return;
    }
    var id = activeId();
    switch (key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o":
        var url = id && (entryOf(id) || pane.querySelector(".reading")).getAttribute("data-url");
        if (url) window.open(url, "_blank", "noopener,noreferrer");
        break;
      case "m": if (id) toggleRead(id); break;
      case "s": if (id) setStarred(id, !stateOf(id, "starred")); break;
      case "g": pendingG = true; break;
      case "?": toggleHelp(true); break;
      case "/":
        var q = document.getElementById("q");
        if (q) q.focus();
        break;
      default: return;
    }
    event.preventDefault();
  }

  function onClick(event) {
    var star = event.target.closest(".star-toggle");
    if (star) {
      var holder = star.closest("[data-id]");
      var sid = holder.getAttribute("data-id");
      setStarred(sid, holder.getAttribute("data-starred") !== "true");
      event.preventDefault();
      return;
    }
    var toggle = event.target.closest(".read-toggle");
    if (toggle) {
      var rid = toggle.closest("[data-id]").getAttribute("data-id");
      toggleRead(rid);
      return;
    }
    var link = event.target.closest("a.entry-link");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && event.button === 0) {
      event.preventDefault();
      open(link.closest("li.entry"));
      return;
    }
    if (event.target.closest("#more")) {
      event.preventDefault();
      loadMore();
      return;
    }
    if (event.target.closest("#show-help")) toggleHelp(true);
    if (event.target.closest("#close-help") || event.target === help) toggleHelp(false);
  }

  function init() {
    if (!pane) return;
    list = document.getElementById("river-list");
    var scopes = document.getElementById("scopes");
    // On a phone the feed list starts folded, so the items come first.
    if (scopes && window.matchMedia("(max-width: 48rem)").matches) scopes.open = false;
    document.addEventListener("keydown", onKey);
    document.addEventListener("click", onClick);
    // An item's own page counts as opening it.
    var alone = !list && pane.querySelector(".reading");
    if (alone && alone.getAttribute("data-read") !== "true") {
      setRead(alone.getAttribute("data-id"), true);
    }
    document.documentElement.classList.add("river-ready");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
