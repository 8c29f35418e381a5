// The result page's trade table: the server renders the first page and plain links for the
// others (it works without JavaScript); this fetches pages, sorts and filters from the API
// (GET /api/v1/backtests/<id>/trades/page) and redraws the rows, the count and the pager in place.
// The API formats each cell ("display"), so the formatting rules stay in app/formats.py.
(function () {
  const section = document.getElementById("trades");
  if (!section || !window.fetch || !window.URLSearchParams) return;
  const table = document.getElementById("trade-table");
  const body = table.tBodies[0];
  const count = document.getElementById("trade-count");
  const pager = document.getElementById("trade-pager");
  const form = document.getElementById("trade-filter");
  const heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  const columns = heads.map(function (th) { return { key: th.dataset.sort, numeric: th.classList.contains("num") }; });
  const defaults = { page: "1", per_page: "50", sort: "number", order: "asc" };
  // The page's own query is where the table starts (a shared link, or a no-JS click before).
  let state = Object.assign({}, defaults);
  new URLSearchParams(location.search).forEach(function (v, k) { if (v !== "") state[k] = v; });

  function query(s) {
    const q = new URLSearchParams();
    Object.keys(s).forEach(function (k) { if (s[k] !== "" && s[k] !== null && s[k] !== defaults[k]) q.set(k, s[k]); });
    return q.toString();
  }
  function link(s) {
    const q = query(s);
    return location.pathname + (q ? "?" + q : "") + "#trades";
  }
  function pageLink(s, page, text) {
    const a = document.createElement("a");
    a.href = link(Object.assign({}, s, { page: String(page) }));
    a.dataset.page = String(page);
    a.textContent = text;
    return a;
  }
  function render(data) {
    const rows = document.createDocumentFragment();
    data.items.forEach(function (item) {
      const tr = document.createElement("tr");
      columns.forEach(function (c) {
        const td = document.createElement("td");
        if (c.numeric) td.className = "num";
        td.textContent = item.display[c.key];
        tr.appendChild(td);
      });
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
    count.textContent = data.summary;
    const s = { page: String(data.page), per_page: String(data.per_page), sort: data.sort,
                order: data.order, side: data.side || "", exit_reason: data.exit_reason || "" };
    heads.forEach(function (th) {
      const key = th.dataset.sort;
      if (key === data.sort) th.setAttribute("aria-sort", data.order === "asc" ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
      const order = key === data.sort && data.order === "asc" ? "desc" : "asc";
      th.querySelector("a").href = link(Object.assign({}, s, { sort: key, order: order, page: "1" }));
    });
    const parts = [];
    if (data.page > 1) parts.push(pageLink(s, 1, "« first"), pageLink(s, data.page - 1, "‹ previous"));
    const at = document.createElement("span");
    at.className = "pager-at";
    at.textContent = "page " + data.page + " of " + data.pages;
    parts.push(at);
    if (data.page < data.pages) parts.push(pageLink(s, data.page + 1, "next ›"), pageLink(s, data.pages, "last »"));
    pager.replaceChildren.apply(pager, parts);
    state = s;
    history.replaceState(null, "", link(s));
  }
  function load(next) {
    table.classList.add("loading");
    return fetch(section.dataset.api + "?" + query(next), { credentials: "same-origin" })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.error ? body.error.message : "HTTP " + r.status);
          return body;
        });
      })
      .then(render)
      .catch(function (err) { count.textContent = "Could not load the trades: " + err.message; })
      .finally(function () { table.classList.remove("loading"); });
  }
  function fromHref(href) {
    const s = Object.assign({}, defaults);
    new URL(href, location.href).searchParams.forEach(function (v, k) { s[k] = v; });
    return s;
  }
  section.addEventListener("click", function (ev) {
    const a = ev.target.closest("a");
    if (!a || !section.contains(a) || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
    ev.preventDefault();
    load(fromHref(a.href));
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const s = Object.assign({}, state, { page: "1" });
    new FormData(form).forEach(function (v, k) { s[k] = v; });
    load(s);
  });
  // Filters apply as soon as they change; the button stays for keyboard and no-JS users.
  form.addEventListener("change", function () { form.requestSubmit(); });
})();
