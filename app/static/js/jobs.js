// Refresh status and progress of the listed jobs while any is unfinished.
(function () {
  const table = document.getElementById("jobs");
  if (!table) return;
  function unfinished() {
    return Array.from(table.querySelectorAll("td.status")).some(function (td) {
      return td.textContent === "queued" || td.textContent === "running";
    });
  }
  function poll() {
    if (!unfinished()) return;
    const url = "/api/v1/jobs?limit=" + table.dataset.limit + "&offset=" + table.dataset.offset;
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (page) {
      page.items.forEach(function (job) {
        const row = table.querySelector('tr[data-kind="' + job.kind + '"][data-id="' + job.id + '"]');
        if (!row) return;
        const status = row.querySelector("td.status");
        status.textContent = job.status;
        status.className = "status status-" + job.status;
        row.querySelector("progress").value = job.progress;
        row.querySelector(".pct").textContent = Math.round(job.progress * 100) + "%";
      });
    }).finally(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();
