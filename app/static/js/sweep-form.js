// Live count of the grid's combinations (asks the server, which applies the strategy's rules
// and the user's quota) before the sweep is submitted.
(function () {
  const form = document.getElementById("sweep-form");
  const out = document.getElementById("combinations");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  let timer = null;
  function body() {
    const data = new FormData(form);
    const strategy = data.get("strategy");
    const prefix = "g." + strategy + ".";
    const grid = {}; const settings = {};
    for (const [k, v] of data.entries()) {
      if (k.startsWith(prefix) && v) grid[k.slice(prefix.length)] = v;
      if (k.startsWith("settings.") && v !== "") settings[k.slice(9)] = v;
    }
    return { strategy: strategy, symbol: data.get("symbol"), timeframe: data.get("timeframe"),
             start: data.get("start"), end: data.get("end"), metric: data.get("metric"),
             grid: grid, settings: settings };
  }
  function update() {
    fetch("/api/v1/sweeps/preview", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body()),
    }).then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function ([ok, j]) {
        if (!ok) { out.textContent = j.error.message; out.className = "error"; return; }
        let text = j.combinations.toLocaleString() + " combinations";
        if (j.dropped) text += " (" + j.dropped + " dropped: " + j.dropped_reason + ")";
        if (!j.allowed) text += " — more than your limit of " + j.max_sweep_size.toLocaleString();
        out.textContent = text;
        out.className = j.allowed ? "" : "error";
      }).catch(function () { out.textContent = ""; });
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(update, 300); });
  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(update, 100); });
  update();
})();
