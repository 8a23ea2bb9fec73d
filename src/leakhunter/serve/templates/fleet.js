/* leakhunter serve: the fleet table, drawn from /api/targets and kept live by polling it.
   Plain ES2017, no dependencies, nothing loaded from anywhere but serve itself.
   Sort, filter and scroll survive every update: rows are kept by target id and
   only a row whose target changed is redrawn; the sort and filter also live in
   the URL's #fragment, so a reload or the back button brings them back. */
(function () {
  "use strict";
  var ORDER = { leak: 0, suspect: 1, down: 2, inconclusive: 3, pending: 4, ok: 5 };
  // the direction a column sorts in when first clicked (1 ascending, -1 descending)
  var FIRST_DIR = { target: 1, status: 1, heap: -1, goroutines: -1, finding: 1, oom: 1,
    snapshots: -1, last: -1 };
  // relative to the page, without the user:password a URL may carry (fetch refuses those;
  // the browser sends the credentials it was given for this origin by itself)
  var API = (function () {
    var u = new URL("api/targets?sparklines=1", location.href);
    u.username = "";
    u.password = "";
    return u.href;
  }());
  var body = document.body;
  var POLL_MS = Math.max(500, (Number(body.dataset.poll) || 5) * 1000);
  var tbody = document.querySelector("#fleet tbody");
  var filterBox = document.getElementById("filter");
  var statusBox = document.getElementById("status-filter");
  var live = document.getElementById("live");
  var rows = new Map(); // target id -> {key, tr, t}
  var state = { sort: "status", dir: 1, q: "", status: "" };
  var etag = body.dataset.etag || null;
  var updatedAt = null, failures = 0, timer = null, problem = null;
  var ui = window.leakhunterFleet = { ready: false, updates: 0, polls: 0, notModified: 0 };

  // ---- formatting (mirrors leakhunter.units) ----
  var BYTES = [["GiB", 1073741824], ["MiB", 1048576], ["KiB", 1024]];
  function grouped(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function fmt(value, unit) {
    if (value === null || value === undefined) return "";
    if (value === 0) return "0";
    var mag = Math.abs(value);
    if (unit === "bytes") {
      for (var i = 0; i < BYTES.length; i++) {
        if (mag >= BYTES[i][1]) return (value / BYTES[i][1]).toFixed(2) + BYTES[i][0];
      }
      return Math.round(value) + "B";
    }
    if (Number.isInteger(value) || mag >= 100) return grouped(Math.round(value));
    return value.toFixed(2);
  }
  function duration(s) {
    if (s < 120) return Math.round(s) + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    if (s < 172800) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " days";
  }
  function ago(ms) {
    var s = Math.max(0, (Date.now() - ms) / 1000);
    return s < 2 ? "just now" : duration(s) + " ago";
  }
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function shortFn(name) {
    var i = name.lastIndexOf("/");
    return i < 0 ? name : name.slice(i + 1);
  }
  function rate(g) {
    if (!g || g.per_hour === undefined) return "";
    var sign = g.per_hour >= 0 ? "+" : "";
    return sign + fmt(g.per_hour, g.unit) + (g.unit === "bytes" ? "" : " " + g.unit) + "/h";
  }

  // ---- one target ----
  function lead(t) {
    var fs = t.findings || [];
    for (var i = 0; i < fs.length; i++) if (fs[i].verdict === "leak") return fs[i];
    for (i = 0; i < fs.length; i++) if (fs[i].verdict === "suspect") return fs[i];
    return null;
  }
  function spark(s, unit) {
    if (!s || !s.t || !s.t.length) return '<span class="spark none"></span>';
    var W = 100, H = 24, t = s.t, v = s.v;
    var t0 = t[0], t1 = t[t.length - 1] > t0 ? t[t.length - 1] : t0 + 1;
    var lo = Math.min.apply(null, v), hi = Math.max.apply(null, v);
    if (hi <= lo) { lo -= 1; hi += 1; }
    var pts = t.map(function (x, i) {
      return ((x - t0) / (t1 - t0) * W).toFixed(1) + "," +
        (1 + (1 - (v[i] - lo) / (hi - lo)) * (H - 2)).toFixed(1);
    });
    var label = fmt(v[0], unit) + " \u2192 " + fmt(v[v.length - 1], unit) + " over " +
      duration(t1 - t0);
    var shape = t.length === 1
      ? '<circle cx="' + W / 2 + '" cy="' + H / 2 + '" r="2"/>'
      : '<polyline points="' + pts.join(" ") + '"/>';
    return '<svg class="spark" viewBox="0 0 ' + W + " " + H + '" preserveAspectRatio="none"' +
      ' role="img" aria-label="' + esc(label) + '"><title>' + esc(label) + "</title>" + shape +
      "</svg>";
  }
  function figure(value, unit, s) {
    return '<div class="fig"><span class="value">' + esc(fmt(value, unit)) + "</span>" +
      spark(s, unit) + "</div>";
  }
  function findingCell(f) {
    if (!f) return '<span class="dim">\u2014</span>';
    var fn = f.culprit && f.culprit.function ? f.culprit.function : "an unknown site";
    var rule = f.rule ? '<span class="rule-id" title="' + esc(f.rule.title || "") + '">' +
      esc(f.rule.id) + "</span>" : "";
    return '<span class="badge ' + esc(f.verdict) + '">' + esc(f.kind) + "</span> " +
      '<code class="culprit" title="' + esc(fn) + '">' + esc(shortFn(fn)) + "</code> " + rule +
      ' <span class="rate">' + esc(rate(f.growth)) + "</span>";
  }
  function rowHtml(t) {
    var sp = t.sparklines || {};
    var labels = Object.keys(t.labels || {}).sort().map(function (k) {
      return '<span class="pill">' + esc(k) + "=" + esc(t.labels[k]) + "</span>";
    }).join(" ");
    var last = t.last_scrape ? Date.parse(t.last_scrape) : null;
    var oom = t.time_to_oom_seconds;
    return '<td class="target"><a href="targets/' + encodeURIComponent(t.id) + '">' +
        esc(t.target) + '</a><div class="sub"><span class="tid">' + esc(t.id) + "</span> " +
        labels + "</div></td>" +
      '<td><span class="badge ' + esc(t.status) + '">' + esc(t.status) + "</span>" +
        (t.quiet ? ' <span class="dim" title="within the quiet period">warm-up</span>' : "") +
        "</td>" +
      '<td class="num">' + figure(t.heap_live_bytes, "bytes", sp.heap) + "</td>" +
      '<td class="num">' + figure(t.goroutines, "goroutines", sp.goroutines) + "</td>" +
      '<td class="finding">' + findingCell(lead(t)) + "</td>" +
      '<td class="num oom">' + (oom !== null && oom !== undefined ? "~" + esc(duration(oom))
        : t.status === "leak" ? '<span class="dim" title="no memory limit known: give the ' +
          'target GOMEMLIMIT or a cgroup memory limit">unknown</span>' : "") + "</td>" +
      '<td class="num snapshots">' + esc(grouped(t.snapshots)) + "</td>" +
      '<td class="num last">' + (last === null ? "" : '<time datetime="' +
        esc(t.last_scrape) + '" title="' + esc(t.last_scrape) + '" data-t="' + last + '">' +
        esc(ago(last)) + "</time>") + "</td>";
  }
  function haystack(t) {
    var f = lead(t), parts = [t.target, t.id, t.status, t.verdict];
    Object.keys(t.labels || {}).forEach(function (k) { parts.push(k + "=" + t.labels[k]); });
    (t.findings || []).forEach(function (x) {
      parts.push(x.kind);
      if (x.culprit && x.culprit.function) parts.push(x.culprit.function);
      if (x.rule) parts.push(x.rule.id, x.rule.title || "");
    });
    if (f) parts.push(f.verdict);
    return parts.join("\n").toLowerCase();
  }
  function rank(status) { return ORDER[status] === undefined ? 9 : ORDER[status]; }
  function sortValue(t, key) {
    switch (key) {
      case "target": return t.target;
      case "status": return rank(t.status);
      case "heap": return t.heap_live_bytes;
      case "goroutines": return t.goroutines;
      case "finding": var f = lead(t); return f && f.culprit ? f.culprit.function : null;
      case "oom": return t.time_to_oom_seconds;
      case "snapshots": return t.snapshots;
      case "last": return t.last_scrape ? Date.parse(t.last_scrape) : null;
    }
    return null;
  }

  // ---- the table ----
  function compare(a, b) {
    var x = sortValue(a.t, state.sort), y = sortValue(b.t, state.sort);
    var nx = x === null || x === undefined, ny = y === null || y === undefined;
    if (nx !== ny) return nx ? 1 : -1; // unknown values last, either way
    if (!nx && x !== y) return (x < y ? -1 : 1) * state.dir;
    var s = rank(a.t.status) - rank(b.t.status); // then worst first, then by target
    return s || (a.t.target < b.t.target ? -1 : a.t.target > b.t.target ? 1 : 0);
  }
  function apply() {
    var words = state.q.toLowerCase().split(/\s+/).filter(Boolean);
    var list = Array.from(rows.values()).sort(compare);
    var frag = document.createDocumentFragment(), shown = 0;
    list.forEach(function (r) {
      var ok = (!state.status || r.t.status === state.status) &&
        words.every(function (w) { return r.hay.indexOf(w) >= 0; });
      r.tr.hidden = !ok;
      if (ok) shown++;
      frag.appendChild(r.tr);
    });
    tbody.appendChild(frag);
    document.getElementById("none").hidden = shown > 0 || rows.size === 0;
    document.getElementById("shown").textContent =
      shown === rows.size ? "" : shown + " of " + rows.size + " shown";
    document.querySelectorAll("#fleet th[data-key]").forEach(function (th) {
      var on = th.dataset.key === state.sort;
      th.setAttribute("aria-sort", on ? (state.dir > 0 ? "ascending" : "descending") : "none");
    });
  }
  function summary() {
    var counts = {};
    rows.forEach(function (r) { counts[r.t.status] = (counts[r.t.status] || 0) + 1; });
    var parts = [rows.size + " target" + (rows.size === 1 ? "" : "s")];
    ["leak", "suspect", "down"].forEach(function (s) {
      if (counts[s]) parts.push('<span class="badge ' + s + '">' + counts[s] + " " + s + "</span>");
    });
    document.getElementById("counts").innerHTML = parts.join(" ");
    Array.prototype.forEach.call(statusBox.options, function (o) {
      if (o.value) o.textContent = o.value + " (" + (counts[o.value] || 0) + ")";
    });
    document.title = (counts.leak ? "(" + counts.leak + " leak) " : "") + "leakhunter serve: " +
      rows.size + " targets";
  }
  function update(doc) {
    var seen = new Set();
    doc.targets.forEach(function (t) {
      seen.add(t.id);
      var key = JSON.stringify(t), r = rows.get(t.id);
      if (r && r.key === key) return;
      if (!r) {
        r = { tr: document.createElement("tr") };
        r.tr.dataset.id = t.id;
        rows.set(t.id, r);
      }
      r.key = key;
      r.t = t;
      r.hay = haystack(t);
      r.tr.className = t.status;
      r.tr.dataset.snapshots = t.snapshots;
      r.tr.innerHTML = rowHtml(t);
    });
    rows.forEach(function (r, id) {
      if (!seen.has(id)) { r.tr.remove(); rows.delete(id); }
    });
    apply();
    summary();
    ui.doc = doc;
    ui.updates++;
  }

  // ---- state in the URL fragment ----
  function readHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    if (p.get("sort") && FIRST_DIR[p.get("sort")] !== undefined) state.sort = p.get("sort");
    state.dir = p.get("dir") === "desc" ? -1 : p.get("dir") === "asc" ? 1 : FIRST_DIR[state.sort];
    state.q = p.get("q") || "";
    state.status = ORDER[p.get("status")] !== undefined ? p.get("status") : "";
    filterBox.value = state.q;
    statusBox.value = state.status;
  }
  function writeHash() {
    var p = new URLSearchParams();
    if (state.sort !== "status" || state.dir !== 1) {
      p.set("sort", state.sort);
      p.set("dir", state.dir > 0 ? "asc" : "desc");
    }
    if (state.q) p.set("q", state.q);
    if (state.status) p.set("status", state.status);
    var text = p.toString();
    history.replaceState(null, "", text ? "#" + text : location.pathname + location.search);
  }

  // ---- live updates ----
  function showLive() {
    live.className = "live" + (problem ? " stale" : "");
    if (problem) live.textContent = problem;
    else live.textContent = "live \u00b7 updated " + (updatedAt ? ago(updatedAt) : "now");
    document.querySelectorAll("#fleet time[data-t]").forEach(function (el) {
      el.textContent = ago(Number(el.dataset.t));
    });
  }
  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }
  function poll() {
    if (document.hidden) return schedule(POLL_MS); // nobody looks: no load on serve
    ui.polls++;
    var headers = { Accept: "application/json" };
    if (etag) headers["If-None-Match"] = etag;
    fetch(API, { cache: "no-store", headers: headers, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 304) { ui.notModified++; return null; }
        if (r.status === 401) throw new Error("not authorised: reload the page to sign in");
        if (!r.ok) throw new Error("serve answered HTTP " + r.status);
        etag = r.headers.get("ETag");
        return r.json();
      })
      .then(function (doc) {
        if (doc) update(doc);
        failures = 0;
        problem = null;
        updatedAt = Date.now();
      }, function (err) {
        failures++;
        problem = "not live: " + (err && err.message ? err.message : "serve unreachable") +
          " (retrying)";
      })
      .then(function () {
        showLive();
        schedule(failures ? Math.min(60000, POLL_MS * Math.pow(2, failures)) : POLL_MS);
      });
  }

  // ---- wiring ----
  document.querySelectorAll("#fleet th[data-key] button").forEach(function (b) {
    b.addEventListener("click", function () {
      var key = b.parentNode.dataset.key;
      state.dir = key === state.sort ? -state.dir : FIRST_DIR[key];
      state.sort = key;
      writeHash();
      apply();
    });
  });
  filterBox.addEventListener("input", function () { state.q = filterBox.value; writeHash(); apply(); });
  statusBox.addEventListener("change", function () {
    state.status = statusBox.value;
    writeHash();
    apply();
  });
  document.getElementById("clear").addEventListener("click", function () {
    state = { sort: "status", dir: 1, q: "", status: "" };
    filterBox.value = "";
    statusBox.value = "";
    writeHash();
    apply();
  });
  window.addEventListener("hashchange", function () { readHash(); apply(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
  readHash();
  update(JSON.parse(document.getElementById("fleet-data").textContent));
  updatedAt = Date.now();
  showLive();
  setInterval(showLive, 1000);
  schedule(POLL_MS);
  ui.ready = true;
}());
