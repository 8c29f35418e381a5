// The result page's charts: candles with entry/exit markers, then equity and drawdown below,
// scrolled and zoomed with the candles. Markers carry no text (thousands of labels would cover the
// candles): shape and colour say what they are (the legend under the chart), and the trade under
// the cursor is described in the line below the chart and outlined by its entry and exit prices.
(function () {
  const root = document.getElementById("charts");
  if (!root || !window.LightweightCharts) return;
  const LC = window.LightweightCharts;
  const id = root.dataset.id;
  const info = document.getElementById("chart-info");
  const hint = info.textContent;
  const COLORS = { long: "#2e7d32", short: "#b00020", exit: "#37474f" };  // as in app.css
  const opts = { layout: { background: { color: "#ffffff" }, textColor: "#1d2330" },
                 timeScale: { timeVisible: true }, autoSize: true };
  const get = function (path) {
    return fetch("/api/v1/backtests/" + id + path, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(path + ": " + r.status); return r.json(); });
  };
  const toSec = function (iso) { return Math.floor(Date.parse(iso) / 1000); };
  // The info line repeats a few values of the trade table; its cells come formatted from the
  // server (app/formats.py), these are the same rules in short.
  const when = function (iso) { return iso.slice(0, 16).replace("T", " "); };
  const price = function (v) { return v === null ? "—" : String(Number(v.toPrecision(6))); };
  const pct = function (fraction) { return fraction === null ? "—" : (fraction * 100).toFixed(2) + "%"; };

  Promise.all([get("/candles"), get("/result")]).then(function ([c, res]) {
    const priceChart = LC.createChart(document.getElementById("price-chart"), opts);
    const series = priceChart.addCandlestickSeries();
    const bars = [];
    for (let i = 0; i < c.time.length; i++) {
      if (c.open[i] === null) continue;
      bars.push({ time: c.time[i], open: c.open[i], high: c.high[i], low: c.low[i], close: c.close[i] });
    }
    series.setData(bars);

    // Trades in the order they were opened, with their times in seconds, for markers and lookup.
    const trades = res.trades.map(function (t, i) {
      return { n: i + 1, t: t, long: (t.size === undefined ? 1 : t.size) > 0,
               entry: toSec(t.entry_time), exit: toSec(t.exit_time) };
    });
    const size = trades.length > 2000 ? 0.5 : trades.length > 300 ? 0.8 : 1;
    const markers = [];
    trades.forEach(function (tr) {
      markers.push({ time: tr.entry, position: tr.long ? "belowBar" : "aboveBar", size: size,
                     color: tr.long ? COLORS.long : COLORS.short, shape: tr.long ? "arrowUp" : "arrowDown" });
      if (!tr.t.open) markers.push({ time: tr.exit, position: tr.long ? "aboveBar" : "belowBar", size: size,
                                     color: COLORS.exit, shape: "circle" });
    });
    markers.sort(function (a, b) { return a.time - b.time; });
    series.setMarkers(markers);
    priceChart.timeScale().fitContent();

    const eq = res.equity;
    const line = function (values) {
      const out = [];
      for (let i = 0; i < eq.time.length; i++) {
        if (values[i] !== null && (i === 0 || eq.time[i] > eq.time[i - 1])) out.push({ time: eq.time[i], value: values[i] });
      }
      return out;
    };
    const equity = LC.createChart(document.getElementById("equity-chart"), opts);
    const equityLine = equity.addLineSeries({ color: "#1565c0", title: "equity" });
    const equityData = line(eq.equity);
    equityLine.setData(equityData);
    const dd = LC.createChart(document.getElementById("drawdown-chart"), opts);
    const ddArea = dd.addAreaSeries({ lineColor: "#b00020", topColor: "rgba(176,0,32,0.05)",
                                      bottomColor: "rgba(176,0,32,0.4)", title: "drawdown %" });
    const ddData = line(eq.drawdown_pct);
    ddArea.setData(ddData);

    // Equity and drawdown follow the candles' visible time range (by time, not by bar index:
    // the candles skip gaps the equity curve does not); scrolling either of them moves all three.
    const charts = [priceChart, equity, dd];
    let syncing = false;
    charts.forEach(function (src) {
      src.timeScale().subscribeVisibleTimeRangeChange(function (range) {
        if (syncing || !range) return;
        syncing = true;
        charts.forEach(function (dst) { if (dst !== src) dst.timeScale().setVisibleRange(range); });
        syncing = false;
      });
    });
    const range = priceChart.timeScale().getVisibleRange();
    if (range) { equity.timeScale().setVisibleRange(range); dd.timeScale().setVisibleRange(range); }

    // The trade under the cursor: the last one opened at or before it, if not closed before it.
    const valueAt = function (data) {
      const byTime = new Map(data.map(function (p) { return [p.time, p.value]; }));
      return function (time) { return byTime.get(time); };
    };
    const equityAt = valueAt(equityData), ddAt = valueAt(ddData);
    const tradeAt = function (time) {
      let lo = 0, hi = trades.length - 1, found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (trades[mid].entry <= time) { found = mid; lo = mid + 1; } else hi = mid - 1;
      }
      return found >= 0 && trades[found].exit >= time ? trades[found] : null;
    };
    let lines = [], shown = null;
    const highlight = function (tr, away) {
      if (tr === shown && tr !== null) return;
      lines.forEach(function (l) { series.removePriceLine(l); });
      lines = [];
      shown = tr;
      if (!tr) {
        info.textContent = away ? hint : trades.length ? "No trade open here." : "This backtest made no trades.";
        return;
      }
      const t = tr.t, color = tr.long ? COLORS.long : COLORS.short;
      lines.push(series.createPriceLine({ price: t.entry_price, color: color, lineWidth: 1,
                                          lineStyle: LC.LineStyle.Dashed, title: "entry #" + tr.n }));
      if (t.exit_price !== null) {
        lines.push(series.createPriceLine({ price: t.exit_price, color: COLORS.exit, lineWidth: 1,
                                            lineStyle: LC.LineStyle.Dashed, title: t.open ? "last close" : "exit" }));
      }
      info.textContent = "Trade #" + tr.n + " " + (tr.long ? "long" : "short") +
        ": entry " + when(t.entry_time) + " at " + price(t.entry_price) +
        (t.open ? ", still open at the end (" : ", exit " + when(t.exit_time) + " at " + price(t.exit_price) + " (") +
        String(t.exit_reason || "").replace(/_/g, " ") + "), return " + pct(t.return_pct) + ".";
    };
    priceChart.subscribeCrosshairMove(function (param) {
      if (param.time === undefined) {
        highlight(null, true);
        equity.clearCrosshairPosition();
        dd.clearCrosshairPosition();
        return;
      }
      highlight(tradeAt(param.time));
      const e = equityAt(param.time), d = ddAt(param.time);
      if (e !== undefined) equity.setCrosshairPosition(e, param.time, equityLine);
      if (d !== undefined) dd.setCrosshairPosition(d, param.time, ddArea);
    });
    root.dataset.drawn = "true";
  }).catch(function (err) { root.textContent = "Could not draw the charts: " + err.message; });
})();
