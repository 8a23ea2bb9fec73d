/* leakhunter HTML report: charts and flame graphs drawn from the embedded data.
   Plain ES2017, no dependencies, works from file:// with no network. */
(function () {
  "use strict";
  var started = performance.now();
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var tip = document.getElementById("tip");

  // ---- formatting (mirrors leakhunter.units.format_value) ----
  var BYTES = [["GiB", 1073741824], ["MiB", 1048576], ["KiB", 1024]];
  function grouped(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  function fmt(value, unit) {
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
  // Axis ticks at round numbers (in KiB/MiB/GiB steps for bytes).
  function ticks(lo, hi, unit) {
    var scale = 1;
    if (unit === "bytes") {
      for (var i = BYTES.length - 1; i >= 0; i--) if (Math.max(Math.abs(lo), Math.abs(hi)) >= BYTES[i][1]) scale = BYTES[i][1];
    }
    var raw = (hi - lo) / scale / 4 || 1;
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    var step = (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p * scale;
    if (unit !== "bytes" && unit !== "nanoseconds") step = Math.max(1, step); // counts
    var out = [];
    for (var v = Math.floor(lo / step + 1e-9) * step; v < hi + step * 0.999; v += step) out.push(v);
    return out;
  }
  function axisLabel(v, unit) {
    if (unit === "bytes") return v === 0 ? "0" : fmt(v, unit).replace(/\.00(?=[KMG])/, "");
    return fmt(Math.round(v * 1000) / 1000, unit);
  }
  function secs(s) {
    if (s < 120) return Math.round(s) + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    return (s / 3600).toFixed(1) + " h";
  }
  function pct(part, whole) {
    return whole ? (100 * part / whole).toFixed(part / whole < 0.1 ? 2 : 1) + "%" : "";
  }
  function esc(text) {
    return String(text).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }
  function svg(tag, attrs, parent) {
    var node = document.createElementNS(SVG, tag);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function showTip(html, ev) {
    tip.innerHTML = html;
    tip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    var r = tip.getBoundingClientRect();
    if (x + r.width > window.innerWidth - 8) x = Math.max(8, ev.clientX - r.width - 14);
    if (y + r.height > window.innerHeight - 8) y = Math.max(8, ev.clientY - r.height - 14);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function hideTip() { tip.hidden = true; }

  // ---- growth charts: the series, its points, and its Theil-Sen trend line ----
  var clipIds = 0;
  function drawChart(box, s) {
    var W = 640, H = 190, L = 62, R = 14, T = 12, B = 34;
    var t = s.t, v = s.v;
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img" }, box);
    svg("title", {}, root).textContent = s.label;
    if (!t.length) return root;
    var t0 = t[0], t1 = t[t.length - 1] > t0 ? t[t.length - 1] : t0 + 1;
    var fit0 = s.start, fit1 = s.start + s.slope * (t1 - t0);
    var lo = Math.min.apply(null, v), hi = Math.max(Math.max.apply(null, v), fit1);
    if (lo >= 0 && lo < hi * 0.25) lo = 0;
    if (hi <= lo) { lo = Math.max(0, lo - 1); hi = lo + 2; } // flat: centre it
    var tk = ticks(lo, hi, s.unit);
    lo = Math.min(lo, tk[0]);
    hi = Math.max(hi, tk[tk.length - 1]);
    var X = function (x) { return L + (x - t0) / (t1 - t0) * (W - L - R); };
    var Y = function (y) { return T + (1 - (y - lo) / (hi - lo)) * (H - T - B); };
    tk.forEach(function (yv) {
      svg("line", { x1: L, x2: W - R, y1: Y(yv), y2: Y(yv), class: "axis" }, root);
      svg("text", { x: L - 6, y: Y(yv) + 4, "text-anchor": "end" }, root).textContent =
        axisLabel(yv, s.unit);
    });
    [t0, (t0 + t1) / 2, t1].forEach(function (tx, i) {
      svg("text", { x: X(tx), y: H - 14, "text-anchor": ["start", "middle", "end"][i] }, root)
        .textContent = secs(tx - t0);
    });
    var clip = "lh-clip-" + (clipIds++);
    svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B },
      svg("clipPath", { id: clip }, svg("defs", {}, root)));
    var pts = t.map(function (x, i) { return X(x).toFixed(1) + "," + Y(v[i]).toFixed(1); });
    svg("polyline", { points: pts.join(" "), class: "series" }, root);
    svg("line", { x1: X(t0), y1: Y(fit0), x2: X(t1), y2: Y(fit1), class: "trend",
      "clip-path": "url(#" + clip + ")" }, root);
    t.forEach(function (x, i) {
      var dot = svg("circle", { cx: X(x), cy: Y(v[i]), r: 3, class: "dot" }, root);
      dot.addEventListener("mousemove", function (ev) {
        showTip(esc(fmt(v[i], s.unit)) + " at " + secs(x - t0), ev);
      });
      dot.addEventListener("mouseleave", hideTip);
    });
    var lg = svg("g", { class: "legend" }, root);
    svg("line", { x1: W - 230, x2: W - 206, y1: H - 4, y2: H - 4, class: "trend" }, lg);
    svg("text", { x: W - 200, y: H, "text-anchor": "start" }, lg).textContent =
      "trend " + (s.slope >= 0 && s.unit !== "bytes" ? "+" : "") + fmt(s.slope * 3600, s.unit) + "/h";
    return root;
  }

  function seriesFor(key) {
    var parts = key.split("/");
    if (parts[0] === "overview") return data.overview[+parts[1]];
    return data.findings[+parts[1]].series[+parts[2]];
  }

  // ---- flame graphs (icicles): preorder arrays, parent indices ----
  var ROW = 18;
  // [hue, saturation] by frame origin; anything unknown is grey
  var ORIGIN_HUE = {
    app: [22, 80], "third-party": [45, 80], generated: [45, 80], stdlib: [205, 55], runtime: [0, 0]
  };

  function Flame(box, fg) {
    this.box = box;
    this.fg = fg;
    var n = fg.p.length;
    this.n = n;
    this.depth = new Int32Array(n);
    this.x = new Float64Array(n);
    this.end = new Int32Array(n); // last node of each subtree (preorder)
    var cursor = new Float64Array(n);
    for (var i = 0; i < n; i++) {
      var p = fg.p[i];
      this.end[i] = i;
      if (p >= 0) {
        this.depth[i] = this.depth[p] + 1;
        this.x[i] = cursor[p];
        cursor[p] += fg.v[i];
      }
      cursor[i] = this.x[i];
    }
    for (var j = n - 1; j > 0; j--) {
      var q = fg.p[j];
      if (this.end[j] > this.end[q]) this.end[q] = this.end[j];
    }
    var maxAbs = 0;
    if (fg.diff) for (var k = 1; k < n; k++) maxAbs = Math.max(maxAbs, Math.abs(fg.d[k]));
    this.maxAbs = maxAbs || 1;
    this.zoomed = 0;
    this.query = "";
    this.build();
    this.render();
  }
  Flame.prototype.name = function (i) {
    return i === 0 ? "all" : this.fg.strings[this.fg.n[i]];
  };
  // The label drops the package path: "pkg.(*T).M" instead of "github.com/org/repo/pkg.(*T).M".
  Flame.prototype.label = function (i) {
    var name = this.name(i), cut = name.search(/[(\[]/);
    var slash = name.lastIndexOf("/", cut < 0 ? name.length : cut);
    return slash < 0 ? name : name.slice(slash + 1);
  };
  Flame.prototype.color = function (i) {
    var fg = this.fg;
    if (fg.diff) {
      // deeper colour = bigger net change (relative to the biggest), hue = its sign
      var strength = Math.min(1, Math.sqrt(Math.abs(fg.d[i]) / this.maxAbs));
      var light = 94 - 42 * strength;
      return fg.d[i] >= 0 ? "hsl(2,80%," + light + "%)" : "hsl(215,80%," + light + "%)";
    }
    if (i === 0) return "hsl(0,0%,82%)";
    var hue = ORIGIN_HUE[fg.origins[fg.o[i]]] || ORIGIN_HUE.runtime;
    var h = 0, s = this.name(i);
    for (var c = 0; c < s.length; c++) h = (h * 31 + s.charCodeAt(c)) >>> 0;
    return "hsl(" + (hue[0] + (h % 14) - 7) + "," + hue[1] + "%," + (62 + (h % 13)) + "%)";
  };
  Flame.prototype.build = function () {
    var self = this, kind = this.fg.diff ? "diff" : "heap";
    this.box.innerHTML =
      '<div class="flame-bar"><button type="button" class="reset">Reset zoom</button>' +
      '<input type="search" class="search" placeholder="Search functions (regexp)">' +
      '<span class="crumbs"></span></div><div class="flame-stage"></div>' +
      '<div class="flame-info"></div>';
    this.stage = this.box.querySelector(".flame-stage");
    this.crumbs = this.box.querySelector(".crumbs");
    this.info = this.box.querySelector(".flame-info");
    this.box.querySelector(".reset").addEventListener("click", function () { self.zoom(0); });
    this.box.querySelector(".search").addEventListener("input", function (ev) {
      self.query = ev.target.value;
      self.render();
    });
    this.stage.addEventListener("click", function (ev) {
      var el = ev.target.closest(".fr");
      if (el) self.zoom(+el.dataset.i);
    });
    this.stage.addEventListener("mousemove", function (ev) {
      var el = ev.target.closest(".fr");
      if (el) showTip(self.describe(+el.dataset.i), ev); else hideTip();
    });
    this.stage.addEventListener("mouseleave", hideTip);
    this.crumbs.addEventListener("click", function (ev) {
      var el = ev.target.closest(".crumb");
      if (el) self.zoom(+el.dataset.i);
    });
    this.box.dataset.kind = kind;
  };
  Flame.prototype.describe = function (i) {
    var fg = this.fg, u = fg.unit, total = fg.v[0];
    var file = fg.strings[fg.f[i]];
    var html = '<div class="name">' + esc(this.name(i)) + "</div>" + (file ? esc(file) + "<br>" : "");
    if (fg.diff) {
      var grew = (fg.v[i] + fg.d[i]) / 2, shrank = (fg.v[i] - fg.d[i]) / 2;
      html += 'net <b class="' + (fg.d[i] >= 0 ? "grow" : "shrink") + '">' +
        (fg.d[i] >= 0 ? "+" : "") + esc(fmt(fg.d[i], u)) + "</b>" +
        ' · <span class="grow">+' + esc(fmt(grew, u)) + '</span> grew · <span class="shrink">-' +
        esc(fmt(shrank, u)) + "</span> shrank · " + pct(fg.v[i], total) + " of all change";
      return html;
    }
    var kids = 0;
    for (var c = i + 1; c <= this.end[i]; c++) if (fg.p[c] === i) kids += fg.v[c];
    return html + "<b>" + esc(fmt(fg.v[i], u)) + "</b> " + esc(fg.type) + " (" + pct(fg.v[i], total) +
      " of total)<br>self " + esc(fmt(fg.v[i] - kids, u));
  };
  Flame.prototype.zoom = function (i) {
    this.zoomed = i;
    hideTip();
    this.render();
  };
  Flame.prototype.render = function () {
    var fg = this.fg, z = this.zoomed, W = this.stage.clientWidth || 800;
    var re = null;
    if (this.query) {
      try { re = new RegExp(this.query, "i"); } catch (e) { re = null; }
    }
    var scale = fg.v[z] ? W / fg.v[z] : 0, x0 = this.x[z], html = [], maxDepth = 0, matched = 0;
    var lastMatchEnd = -1;
    var ancestors = [];
    for (var a = fg.p[z]; a >= 0; a = fg.p[a]) ancestors.push(a);
    var push = function (i, left, width, cls, self) {
      var d = self.depth[i];
      if (d > maxDepth) maxDepth = d;
      var name = self.label(i);
      html.push('<div class="fr' + cls + '" data-i="' + i + '" style="left:' + left.toFixed(1) +
        "px;width:" + width.toFixed(1) + "px;top:" + d * ROW + "px;background:" + self.color(i) +
        '">' + (width > 28 ? esc(name) : "") + "</div>");
    };
    for (var k = ancestors.length - 1; k >= 0; k--) push(ancestors[k], 0, W, " above", this);
    for (var i = z; i <= this.end[z]; i++) {
      var width = fg.v[i] * scale;
      if (width < 0.4) { i = this.end[i]; continue; }
      var cls = "";
      if (re) {
        if (re.test(this.name(i))) {
          cls = " match";
          if (i > lastMatchEnd) { matched += fg.v[i]; lastMatchEnd = this.end[i]; }
        } else cls = " dimmed";
      }
      push(i, (this.x[i] - x0) * scale, width, cls, this);
    }
    this.stage.style.height = (maxDepth + 1) * ROW + 2 + "px";
    this.stage.innerHTML = html.join("");
    var crumbs = ancestors.slice().reverse().concat([z]);
    var self = this;
    this.crumbs.innerHTML = crumbs.map(function (c) {
      return '<span class="crumb' + (c === z ? " current" : "") + '" data-i="' + c + '">' +
        esc(self.name(c)) + "</span>";
    }).join(" › ");
    var info = (fg.diff ? "total change " : "total ") + fmt(fg.v[0], fg.unit) +
      (fg.diff ? " (net " + (fg.d[0] >= 0 ? "+" : "") + fmt(fg.d[0], fg.unit) + ")" : "") +
      " · " + fg.p.length + " frames";
    if (fg.pruned) info += " · " + fg.pruned + " tiny frames left out (" + fmt(fg.pruned_value, fg.unit) + ")";
    if (re) info += " · search matches " + fmt(matched, fg.unit) + " (" + pct(matched, fg.v[0]) + ")";
    this.info.textContent = info;
  };

  // ---- wire everything up ----
  var charts = 0, flames = {};
  document.querySelectorAll("[data-chart]").forEach(function (box) {
    var s = seriesFor(box.dataset.chart);
    if (s) { drawChart(box, s); charts++; }
  });
  document.querySelectorAll("[data-flame]").forEach(function (box) {
    var fg = data.flames[box.dataset.flame];
    if (fg) flames[box.dataset.flame] = new Flame(box, fg);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") for (var k in flames) flames[k].zoom(0);
  });
  var resizing = 0;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { for (var k in flames) flames[k].render(); }, 80);
  });
  window.leakhunterReport = {
    ready: true,
    charts: charts,
    flames: flames,
    renderMs: performance.now() - started
  };
})();
