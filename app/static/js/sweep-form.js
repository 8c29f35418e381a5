// Live count of the grid's combinations (asks the server, which applies the strategy's rules
// and the user's quota) before the sweep is submitted. Until the grid has a value it keeps the
// page's hint, and the server's objections show only once the user has typed or chosen something:
// a fresh form says nothing is wrong.
(function () {
  const form = document.getElementById("sweep-form");
  const out = document.getElementById("combinations");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const hint = out.textContent;
  let timer = null;
  let touched = form.querySelector(".field-error, [aria-invalid]") !== null;  // sent back
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
             grid: grid, settings: settings, search: data.get("search"),
             trials: whole(data.get("trials")), seed: whole(data.get("seed")) };
  }
  function whole(value) {
    return value === null || value === "" ? null : (/^\d+$/.test(value) ? Number(value) : value);
  }
  // The trials and seed only for a random search (disabled fields are not sent).
  const search = document.getElementById("search");
  const random = document.getElementById("random-search");
  function showSearch() {
    const on = search.value === "random";
    random.hidden = !on;
    for (const input of random.querySelectorAll("input")) input.disabled = !on;
  }
  function update() {
    const request = body();
    if (Object.keys(request.grid).length === 0) {
      out.textContent = hint; out.className = "hint"; return;
    }
    fetch("/api/v1/sweeps/preview", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(request),
    }).then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function ([ok, j]) {
        if (!ok) {
          out.textContent = touched ? j.error.message : hint;
          out.className = touched ? "error" : "hint";
          return;
        }
        let text = j.combinations.toLocaleString() + " combinations";
        if (j.dropped) text += " (" + j.dropped + " dropped: " + j.dropped_reason + ")";
        if (!j.allowed) text += " — more than your limit of " + j.max_sweep_size.toLocaleString();
        out.textContent = text;
        out.className = j.allowed ? "" : "error";
      }).catch(function () { out.textContent = ""; });
  }
  form.addEventListener("input", function () {
    touched = true; clearTimeout(timer); timer = setTimeout(update, 300);
  });
  search.addEventListener("change", showSearch);
  showSearch();
  form.addEventListener("change", function () {
    touched = true; clearTimeout(timer); timer = setTimeout(update, 100);
  });
  update();
})();
