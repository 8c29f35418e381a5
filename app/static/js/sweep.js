// The sweep page: a heatmap of a chosen metric over two chosen parameters (canvas), a sortable
// top table, and polling while the sweep runs.
(function () {
  const section = document.getElementById("heatmap-section");
  if (!section) return;
  const canvas = document.getElementById("heatmap");
  const ctx = canvas.getContext("2d");
  const selMetric = document.getElementById("hm-metric");
  const selX = document.getElementById("hm-x"), selY = document.getElementById("hm-y");
  const legend = document.getElementById("hm-legend");
  let data = null;

  function color(t) {  // 0 → red, 0.5 → yellow, 1 → green
    const r = t < 0.5 ? 220 : Math.round(220 - (t - 0.5) * 2 * 170);
    const g = t < 0.5 ? Math.round(60 + t * 2 * 160) : 200;
    return "rgb(" + r + "," + g + ",70)";
  }
  function draw() {
    if (!data || !data.items.length) return;
    const metric = selMetric.value, px = selX.value, py = selY.value;
    const xs = Array.from(new Set(data.items.map(function (r) { return r.params[px]; }))).sort(function (a, b) { return a - b; });
    const ys = py ? Array.from(new Set(data.items.map(function (r) { return r.params[py]; }))).sort(function (a, b) { return a - b; }) : [""];
    // Several combinations may share (x, y) when the grid has more axes: show the best.
    const cells = {};
    let lo = Infinity, hi = -Infinity;
    data.items.forEach(function (r) {
      const v = r.metrics[metric];
      if (v === null || v === undefined) return;
      const key = r.params[px] + "|" + (py ? r.params[py] : "");
      if (!(key in cells) || v > cells[key]) cells[key] = v;
    });
    Object.values(cells).forEach(function (v) { lo = Math.min(lo, v); hi = Math.max(hi, v); });
    const left = 60, top = 10, bottom = 40;
    const w = (canvas.width - left - 10) / xs.length, h = (canvas.height - top - bottom) / ys.length;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = "11px sans-serif"; ctx.fillStyle = "#1d2330";
    xs.forEach(function (x, i) {
      ys.forEach(function (y, j) {
        const v = cells[x + "|" + y];
        ctx.fillStyle = v === undefined ? "#eceff3" : color(hi > lo ? (v - lo) / (hi - lo) : 1);
        ctx.fillRect(left + i * w, top + (ys.length - 1 - j) * h, Math.max(w - 1, 1), Math.max(h - 1, 1));
      });
    });
    ctx.fillStyle = "#1d2330";
    const every = Math.ceil(xs.length / 12);
    xs.forEach(function (x, i) { if (i % every === 0) ctx.fillText(String(x), left + i * w + 2, canvas.height - bottom + 14); });
    const everyY = Math.ceil(ys.length / 12);
    ys.forEach(function (y, j) { if (j % everyY === 0) ctx.fillText(String(y), 4, top + (ys.length - 1 - j) * h + h / 2 + 4); });
    ctx.fillText(px + " →", left, canvas.height - 6);
    if (py) ctx.fillText(py + " ↑", 4, top + 10);
    legend.textContent = Object.keys(cells).length ? metric + ": red " + lo.toPrecision(4) + " … green " + hi.toPrecision(4) : "no results yet";
    canvas.dataset.drawn = String(Object.keys(cells).length);
  }
  function load() {
    fetch("/api/v1/sweeps/" + section.dataset.id + "/results", { credentials: "same-origin" })
      .then(function (r) { return r.json(); }).then(function (d) {
        data = d;
        if (!selX.options.length && d.items.length) {
          const names = Object.keys(d.items[0].params);
          names.forEach(function (n, i) {
            selX.add(new Option(n, n, i === 0, i === 0));
            selY.add(new Option(n, n, i === 1, i === 1));
          });
          if (names.length < 2) selY.add(new Option("(none)", "", true, true));
        }
        draw();
        const status = d.sweep.status;
        document.getElementById("job-status").textContent = status;
        document.getElementById("sweep-progress").value = d.sweep.progress;
        if (status === "queued" || status === "running") setTimeout(load, 2000);
        else if (section.dataset.status === "queued" || section.dataset.status === "running") window.location.reload();
      });
  }
  [selMetric, selX, selY].forEach(function (s) { s.addEventListener("change", draw); });
  load();

  // Sortable table: a header's button sorts by its column (again to reverse); a cell's
  // data-value is its number when the text is formatted (1,234.5 USD, 12.3%).
  document.querySelectorAll("table.sortable th[data-type]").forEach(function (th, col) {
    th.addEventListener("click", function () {
      const body = th.closest("table").tBodies[0];
      const dir = th.dataset.dir === "asc" ? -1 : 1;
      th.dataset.dir = dir === 1 ? "asc" : "desc";
      Array.from(body.rows).sort(function (a, b) {
        const x = parseFloat(a.cells[col].dataset.value ?? a.cells[col].textContent);
        const y = parseFloat(b.cells[col].dataset.value ?? b.cells[col].textContent);
        return dir * ((isNaN(x) ? -Infinity : x) - (isNaN(y) ? -Infinity : y));
      }).forEach(function (r) { body.appendChild(r); });
    });
  });
})();
