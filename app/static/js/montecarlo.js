// The Monte Carlo fan chart: the 5th, 50th and 95th percentiles of the equity after each trade of
// the resampled trade sequences (GET /api/v1/backtests/{id}/montecarlo, the query the table
// above was computed with, so the server answers from its memo).
(function () {
  const root = document.getElementById("montecarlo-chart");
  if (!root || !window.LightweightCharts) return;
  const LC = window.LightweightCharts;
  // lightweight-charts only has a time axis: trade index k is drawn at the synthetic time
  // DAY * (k + 1) seconds (a day apart, so no two indices share a tick), and the axis and the
  // crosshair label show the index back ("trade k"), never a date.
  const DAY = 86400;
  const index = function (time) { return Math.round(time / DAY) - 1; };
  const label = function (time) { const k = index(time); return k === 0 ? "start" : "trade " + k; };
  const query = "?resamples=" + encodeURIComponent(root.dataset.resamples) +
                "&seed=" + encodeURIComponent(root.dataset.seed);
  fetch("/api/v1/backtests/" + root.dataset.id + "/montecarlo" + query, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("montecarlo: " + r.status); return r.json(); })
    .then(function (mc) {
      const chart = LC.createChart(root, {
        layout: { background: { color: "#ffffff" }, textColor: "#1d2330" },
        localization: { timeFormatter: label },
        timeScale: { tickMarkFormatter: label },
        autoSize: true,
      });
      const styles = [
        ["p95", "95th percentile", "#2e7d32", LC.LineStyle.Dashed],
        ["p50", "median", "#1565c0", LC.LineStyle.Solid],
        ["p5", "5th percentile", "#b00020", LC.LineStyle.Dashed],
      ];
      styles.forEach(function ([key, title, color, style]) {
        const points = [];
        mc.bands[key].forEach(function (v, k) { if (v !== null) points.push({ time: DAY * (k + 1), value: v }); });
        chart.addLineSeries({ color: color, lineStyle: style, lineWidth: key === "p50" ? 2 : 1,
                              title: title, priceLineVisible: false }).setData(points);
      });
      chart.timeScale().fitContent();
      root.dataset.drawn = "true";
    })
    .catch(function (err) { root.textContent = "Could not draw the Monte Carlo chart: " + err.message; });
})();
