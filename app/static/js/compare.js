// Equity curves of the compared backtests on one chart.
(function () {
  const root = document.getElementById("compare-chart");
  if (!root || !window.LightweightCharts) return;
  const colors = ["#1565c0", "#b00020", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037", "#455a64"];
  const chart = window.LightweightCharts.createChart(root, { autoSize: true, timeScale: { timeVisible: true } });
  const ids = root.dataset.ids.split(",");
  Promise.all(ids.map(function (id) {
    return fetch("/api/v1/backtests/" + id + "/equity", { credentials: "same-origin" }).then(function (r) { return r.json(); });
  })).then(function (curves) {
    curves.forEach(function (eq, k) {
      const data = [];
      for (let i = 0; i < eq.time.length; i++) {
        if (eq.equity[i] !== null && (i === 0 || eq.time[i] > eq.time[i - 1])) data.push({ time: eq.time[i], value: eq.equity[i] });
      }
      chart.addLineSeries({ color: colors[k % colors.length], title: "#" + ids[k] }).setData(data);
    });
    chart.timeScale().fitContent();
    root.dataset.drawn = "true";
  });
})();
