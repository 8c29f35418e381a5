// The result page's charts: candles with entry/exit markers, then equity and drawdown below.
(function () {
  const root = document.getElementById("charts");
  if (!root || !window.LightweightCharts) return;
  const LC = window.LightweightCharts;
  const id = root.dataset.id;
  const opts = { layout: { background: { color: "#ffffff" }, textColor: "#1d2330" },
                 timeScale: { timeVisible: true }, autoSize: true };
  const get = function (path) {
    return fetch("/api/v1/backtests/" + id + path, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(path + ": " + r.status); return r.json(); });
  };
  const toSec = function (iso) { return Math.floor(Date.parse(iso) / 1000); };
  Promise.all([get("/candles"), get("/result")]).then(function ([c, res]) {
    const price = LC.createChart(document.getElementById("price-chart"), opts);
    const series = price.addCandlestickSeries();
    const bars = [];
    for (let i = 0; i < c.time.length; i++) {
      if (c.open[i] === null) continue;
      bars.push({ time: c.time[i], open: c.open[i], high: c.high[i], low: c.low[i], close: c.close[i] });
    }
    series.setData(bars);
    const markers = [];
    res.trades.forEach(function (t) {
      const long = (t.size === undefined ? 1 : t.size) > 0;
      markers.push({ time: toSec(t.entry_time), position: long ? "belowBar" : "aboveBar",
                     color: long ? "#2e7d32" : "#b00020", shape: long ? "arrowUp" : "arrowDown",
                     text: long ? "buy" : "sell" });
      if (!t.open) markers.push({ time: toSec(t.exit_time), position: long ? "aboveBar" : "belowBar",
                                  color: "#37474f", shape: "circle", text: "exit" });
    });
    markers.sort(function (a, b) { return a.time - b.time; });
    series.setMarkers(markers);
    price.timeScale().fitContent();

    const eq = res.equity;
    const line = function (values) {
      const out = [];
      for (let i = 0; i < eq.time.length; i++) {
        if (values[i] !== null && (i === 0 || eq.time[i] > eq.time[i - 1])) out.push({ time: eq.time[i], value: values[i] });
      }
      return out;
    };
    const equity = LC.createChart(document.getElementById("equity-chart"), opts);
    equity.addLineSeries({ color: "#1565c0", title: "equity" }).setData(line(eq.equity));
    equity.timeScale().fitContent();
    const dd = LC.createChart(document.getElementById("drawdown-chart"), opts);
    dd.addAreaSeries({ lineColor: "#b00020", topColor: "rgba(176,0,32,0.05)",
                       bottomColor: "rgba(176,0,32,0.4)", title: "drawdown %" }).setData(line(eq.drawdown_pct));
    dd.timeScale().fitContent();
    // Keep the three charts scrolled together.
    [price, equity, dd].forEach(function (src) {
      src.timeScale().subscribeVisibleLogicalRangeChange(function () {
        const range = src.timeScale().getVisibleRange();
        if (!range) return;
        [price, equity, dd].forEach(function (dst) { if (dst !== src) dst.timeScale().setVisibleRange(range); });
      });
    });
    root.dataset.drawn = "true";
  }).catch(function (err) { root.textContent = "Could not draw the charts: " + err.message; });
})();
