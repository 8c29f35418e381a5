// Show only the chosen strategy's parameters, and only the chosen symbol's timeframes.
(function () {
  const strategy = document.getElementById("strategy");
  const symbol = document.getElementById("symbol");
  const timeframe = document.getElementById("timeframe");
  function showParams() {
    document.querySelectorAll(".strategy-params").forEach(function (div) {
      const on = div.dataset.strategy === strategy.value;
      div.hidden = !on;
      div.querySelectorAll("input").forEach(function (i) { i.disabled = !on; });
    });
  }
  function showTimeframes() {
    const opt = symbol.options[symbol.selectedIndex];
    if (!opt) return;
    const allowed = (opt.dataset.timeframes || "").split(",");
    let firstAllowed = null;
    Array.from(timeframe.options).forEach(function (o) {
      o.hidden = o.disabled = allowed.indexOf(o.value) < 0;
      if (!o.disabled && firstAllowed === null) firstAllowed = o;
    });
    if (timeframe.selectedOptions[0] && timeframe.selectedOptions[0].disabled && firstAllowed) {
      firstAllowed.selected = true;
    }
  }
  if (strategy) { strategy.addEventListener("change", showParams); showParams(); }
  if (symbol && timeframe) { symbol.addEventListener("change", showTimeframes); showTimeframes(); }
})();
