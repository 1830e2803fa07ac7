// marsad live page: alerts from /events (Server-Sent Events), newest first, and the summary
// (per-rule counts, alerts per hour, feed health) refreshed from /api/summary.
// Alert text is only ever set through textContent: no HTML from an alert reaches the page.
(function () {
  "use strict";
  var lang = document.body.dataset.lang || "ar";
  var list = document.getElementById("alerts");
  var waiting = document.getElementById("waiting");
  var conn = document.getElementById("conn");
  var MAX_SHOWN = 200;
  var shown = new Set();

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // The snippet with <mark> around every [start, end) of snippet_marks. Offsets are in code
  // points (as the worker counts them), so the text is split with Array.from, not by UTF-16 units.
  function snippetNode(text, marks) {
    var p = el("p", "snippet");
    p.dir = "auto";
    var cps = Array.from(text || "");
    var spans = (Array.isArray(marks) ? marks : [])
      .filter(function (m) { return Array.isArray(m) && m.length === 2; })
      .map(function (m) { return [m[0] | 0, m[1] | 0]; })
      .sort(function (a, b) { return a[0] - b[0]; });
    var pos = 0;
    spans.forEach(function (m) {
      if (m[0] < pos || m[1] <= m[0] || m[1] > cps.length) return; // overlapping or out of range
      if (m[0] > pos) p.append(cps.slice(pos, m[0]).join(""));
      p.append(el("mark", null, cps.slice(m[0], m[1]).join("")));
      pos = m[1];
    });
    if (pos < cps.length) p.append(cps.slice(pos).join(""));
    return p;
  }

  function alertNode(id, data) {
    var alert = data.alert || {};
    var article = alert.article || {};
    var li = el("li", "alert");
    li.dataset.id = id;
    li.dataset.rule = alert.rule || "";
    // When the alert was published (the stream entry's ms) and when it reached this page: the
    // delivery latency, readable by an operator in the inspector and by the browser test.
    li.dataset.published = String(data.ts);
    li.dataset.received = String(Date.now());
    var meta = el("div", "meta");
    var rule = el("span", "rule", alert.rule);
    rule.dir = "auto";
    var source = el("span", "source", article.source);
    source.dir = "auto";
    var time = el("time", null, data.time);
    time.dateTime = new Date(data.ts).toISOString();
    meta.append(rule, source, time);
    var title = el("h3", "title");
    title.dir = "auto";
    var url = String(article.url || "");
    if (/^https?:\/\//i.test(url)) {
      var a = el("a", null, article.title || url);
      a.href = url;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      title.append(a);
    } else {
      title.textContent = article.title || "";
    }
    li.append(meta, title, snippetNode(alert.snippet, alert.snippet_marks));
    if (article.language) li.lang = article.language;
    return li;
  }

  var summaryTimer = null;
  function refreshSummary() {
    summaryTimer = null;
    fetch("api/summary?lang=" + encodeURIComponent(lang), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (f) {
        if (!f) return;
        // Server-rendered, server-escaped fragments (worker/web/summary.py).
        document.getElementById("counts").innerHTML = f.counts;
        document.getElementById("chart").innerHTML = f.chart;
        document.getElementById("feeds").innerHTML = f.feeds;
      })
      .catch(function () {});
  }
  function soon() {
    if (summaryTimer === null) summaryTimer = setTimeout(refreshSummary, 1000);
  }
  setInterval(refreshSummary, 30000);

  function setLive(live) {
    conn.textContent = live ? conn.dataset.live : conn.dataset.off;
    conn.className = "conn " + (live ? "on" : "off");
  }

  var source = new EventSource("events?lang=" + encodeURIComponent(lang));
  source.onopen = function () { setLive(true); };
  source.onerror = function () { setLive(false); };
  source.addEventListener("alert", function (ev) {
    if (shown.has(ev.lastEventId)) return;
    var data;
    try { data = JSON.parse(ev.data); } catch (e) { return; }
    shown.add(ev.lastEventId);
    list.prepend(alertNode(ev.lastEventId, data));
    while (list.children.length > MAX_SHOWN) {
      shown.delete(list.lastElementChild.dataset.id);
      list.lastElementChild.remove();
    }
    waiting.hidden = true;
    soon();
  });
})();
