// Live updates: the page listens to the console's event stream and
// refreshes its live section when the state changes. Without JavaScript
// every page still works (reload to see changes; forms are plain posts).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  var kind = live.getAttribute("data-live");
  var run = live.getAttribute("data-run");
  var busy = false, again = false;
  // A form being filled in (text typed, a choice made, the cursor in a
  // field) is never replaced under the user's hands.
  function typing() {
    var a = document.activeElement;
    if (a && live.contains(a) && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT")) return true;
    var fields = live.querySelectorAll("input, textarea");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden") continue;
      if ((f.type === "radio" || f.type === "checkbox") ? f.checked : f.value !== "") return true;
    }
    return false;
  }
  function refresh() {
    if (busy) { again = true; return; }
    if (typing()) { setTimeout(refresh, 2000); return; }
    busy = true;
    fetch(window.location.pathname + window.location.search, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.getElementById("live");
        if (typing()) { setTimeout(refresh, 2000); return; }
        if (next) live.replaceWith(next), live = next;
        var st = doc.getElementById("run-status"), cur = document.getElementById("run-status");
        if (st && cur) cur.replaceWith(st);
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .finally(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  var es = new EventSource("/api/events");
  // Once the stream is open, every change is announced; one read now
  // catches the changes made since this page was rendered.
  es.addEventListener("open", refresh);
  function on(e) {
    var d = {};
    try { d = JSON.parse(e.data); } catch (x) { return; }
    if (kind === "runs" || (kind === "run" && d.run === run) || (kind === "stop" && d.type === "stop")) refresh();
  }
  ["run", "answer", "ack", "stop", "inject", "pause", "resume"].forEach(function (t) { es.addEventListener(t, on); });
})();

// Countdowns: an owned step's deadlines tick on the page between
// refreshes ("due in 4m10s", "overdue by 12s").
(function () {
  "use strict";
  function words(ms) {
    var s = Math.round(Math.abs(ms) / 1000), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
    s = s % 60;
    return (h ? h + "h" : "") + (h || m ? m + "m" : "") + s + "s";
  }
  function tick() {
    var els = document.querySelectorAll(".countdown[data-due]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) continue;
      var left = due - Date.now(), what = el.getAttribute("data-what");
      el.textContent = (what === "answer" ? "Answer " : "Acknowledgement ") + (left >= 0 ? "due in " + words(left) : "overdue by " + words(left));
      el.classList.toggle("overdue", left < 0);
    }
  }
  setInterval(tick, 1000);
})();
