// The backtest and sweep forms: the chosen strategy's parameters and summary, the chosen symbol's
// timeframes, start and end within the chosen series' range, the size field for a sizing that
// needs one, and invalid styling only on a field the user has touched (or after a submit).
(function () {
  const form = document.querySelector("form#job-form, form#sweep-form");
  const strategy = document.getElementById("strategy");
  const symbol = document.getElementById("symbol");
  const timeframe = document.getElementById("timeframe");
  const start = document.getElementById("start");
  const end = document.getElementById("end");
  const sizing = document.getElementById("sizing");
  const rangesEl = document.getElementById("series-ranges");
  const ranges = rangesEl ? JSON.parse(rangesEl.textContent) : {};

  function showParams() {
    document.querySelectorAll(".strategy-params").forEach(function (div) {
      const on = div.dataset.strategy === strategy.value;
      div.hidden = !on;
      div.querySelectorAll("input").forEach(function (i) { i.disabled = !on; });
    });
    document.querySelectorAll(".strategy-summary").forEach(function (p) {
      p.hidden = p.dataset.strategy !== strategy.value;
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

  // Dates the user typed are kept when they fit the newly chosen series (and clamped to it when
  // they do not); dates nobody typed follow the series: its whole range.
  function clamp(value, lo, hi) {
    if (!value) return value;
    if (value < lo) return lo;
    if (value > hi) return hi;
    return value;
  }
  function followRange() {
    const bounds = (ranges[symbol.value] || {})[timeframe.value];
    if (!bounds || !start || !end) return;
    [[start, bounds.start, bounds.start[0]], [end, bounds.end, bounds.end[1]]].forEach(
      function ([input, minMax, fallback]) {
        input.min = minMax[0];
        input.max = minMax[1];
        input.value = input.dataset.typed ? clamp(input.value, minMax[0], minMax[1]) || fallback
                                          : fallback;
      });
  }

  function showSize() {
    const field = document.getElementById("size-field");
    const size = document.getElementById("size");
    if (!field || !size) return;
    let needed = false;
    field.querySelectorAll(".size-label").forEach(function (span) {
      const on = span.dataset.sizing === sizing.value;
      span.hidden = !on;
      needed = needed || on;
    });
    field.hidden = !needed;
    size.disabled = !needed;  // a disabled field is not sent: all_in takes no size
  }

  // "touched": the user typed in or left the field; a submit touches them all. The CSS styles
  // :invalid only under it, so a fresh form shows no error.
  function touch(event) {
    const el = event.target;
    if (el && el.classList && el.matches("input, select, textarea")) el.classList.add("touched");
    if (event.type === "input" && (el === start || el === end)) el.dataset.typed = "1";
  }
  // Dates that are not the series' whole range came from the user (a form sent back, "Run
  // again", a sweep's row): keep them as typed ones.
  function markGivenDates() {
    const bounds = (ranges[symbol.value] || {})[timeframe.value];
    if (!bounds || !start || !end) return;
    if (start.value && start.value !== bounds.start[0]) start.dataset.typed = "1";
    if (end.value && end.value !== bounds.end[1]) end.dataset.typed = "1";
  }

  if (strategy) { strategy.addEventListener("change", showParams); showParams(); }
  if (symbol && timeframe) {
    symbol.addEventListener("change", function () { showTimeframes(); followRange(); });
    timeframe.addEventListener("change", followRange);
    showTimeframes();
    markGivenDates();
  }
  if (sizing) { sizing.addEventListener("change", showSize); showSize(); }
  if (form) {
    form.addEventListener("input", touch);
    form.addEventListener("focusout", touch);
    form.addEventListener("submit", function () { form.classList.add("submitted"); });
  }
})();
