// On an unfinished backtest's page: poll its status and reload once it has finished.
(function () {
  const p = document.getElementById("progress");
  if (!p) return;
  function poll() {
    fetch("/api/v1/backtests/" + p.dataset.id, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        p.querySelector("progress").value = job.progress;
        document.getElementById("job-status").textContent = job.status;
        if (job.status === "queued" || job.status === "running") setTimeout(poll, 1500);
        else window.location.reload();
      }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1500);
})();
