// The candle upload form with a progress bar: the same POST the form makes without JavaScript,
// sent by XMLHttpRequest for its upload progress events; the answer (the same page, with the
// summary or the errors) replaces the page's <main>.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  const row = document.getElementById("upload-progress-row");
  const bar = document.getElementById("upload-progress");
  const percent = document.getElementById("upload-percent");
  const button = form.querySelector("button[type=submit]");
  const self = document.currentScript && document.currentScript.src;

  function show(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const main = doc.querySelector("main");
    if (!main || !self) { window.location.reload(); return; }
    document.querySelector("main").replaceWith(main);
    // The new form is a new element: wire it up again.
    const script = document.createElement("script");
    script.src = self;
    document.body.appendChild(script);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      bar.value = e.loaded / e.total;
      percent.textContent = Math.round(100 * e.loaded / e.total) + " %";
    });
    xhr.upload.addEventListener("load", function () {
      percent.textContent = "uploaded; checking every line…";
    });
    xhr.addEventListener("load", function () { show(xhr.responseText); });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      percent.textContent = "";
      row.hidden = false;
      row.textContent = "The upload failed: the connection was lost. Try again.";
    });
    row.hidden = false;
    bar.value = 0;
    button.disabled = true;
    xhr.send(new FormData(form));
  });
})();
