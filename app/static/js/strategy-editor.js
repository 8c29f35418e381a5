// The strategy editor: CodeMirror (vendor/codemirror.js, the global CodeMirror) in place of the
// source's textarea, with Python's highlighting. The server checks the source (POST
// /api/v1/strategy-check) when the user pauses typing and on "Check"; each mistake is marked
// at its line and column in the editor and listed below it. Saving posts the form.
(function () {
  const textarea = document.getElementById("source");
  const host = document.getElementById("editor");
  if (!textarea || !host || !window.CodeMirror) return;  // without the editor: the plain textarea
  const CM = window.CodeMirror;
  const form = document.getElementById("strategy-form");
  const status = document.getElementById("check-status");
  const list = document.getElementById("problems");
  const checkButton = document.getElementById("check");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  // The server counts lines from 1 and columns in characters from 1; CodeMirror counts offsets
  // in UTF-16 units from the start of the document.
  function offset(doc, line, column) {
    const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
    const before = Array.from(l.text).slice(0, Math.max(column - 1, 0)).join("");
    return l.from + Math.min(before.length, l.length);
  }

  // Mark the word that starts at the problem's place, else one character.
  function diagnostic(state, p) {
    let from = offset(state.doc, p.line, p.column);
    const line = state.doc.lineAt(from);
    const word = state.wordAt(from);
    const to = word && word.to > from ? word.to : Math.min(from + 1, line.to);
    if (from === to && from > line.from) from -= 1;  // at the end of a line: its last character
    return { from: from, to: to, severity: "error", message: p.message };
  }

  function problemItem(p) {
    const li = document.createElement("li");
    li.dataset.line = p.line;
    li.dataset.column = p.column;
    const go = document.createElement("button");
    go.type = "button";
    go.className = "link";
    go.textContent = "line " + p.line + ", column " + p.column;
    go.setAttribute("aria-label", "Go to line " + p.line + ", column " + p.column);
    go.addEventListener("click", function () {
      const pos = offset(view.state.doc, p.line, p.column);
      view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
      view.focus();
    });
    li.append(go, ": " + p.message);
    return li;
  }

  function show(text, problems, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "ok";
    list.replaceChildren.apply(list, problems.map(problemItem));
  }

  function describeParams(params) {
    if (!params.length) return "No mistakes; no parameters.";
    return "No mistakes. Parameters: " + params.map(function (p) {
      return p.name + " (" + p.type + ", " + p.min + "–" + p.max + ", default " + p.default + ")";
    }).join(", ") + ".";
  }

  // The linter's source: the server's answer as diagnostics (and the list below the editor).
  function check(view) {
    const doc = view.state.doc;
    return fetch("/api/v1/strategy-check", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ source: doc.toString() }),
    }).then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function ([ok, j]) {
        if (view.state.doc !== doc) return [];  // edited meanwhile: the next check tells
        if (ok) { show(describeParams(j.params), [], false); return []; }
        const problems = j.error.problems || [];
        const n = problems.length;
        show(n ? n + (n === 1 ? " mistake:" : " mistakes:") : j.error.message, problems, true);
        return problems.map(function (p) { return diagnostic(view.state, p); });
      }).catch(function (err) {
        show("Could not check the source (" + err.message + "); check again in a moment.", [], true);
        return [];
      });
  }

  const view = new CM.EditorView({
    doc: textarea.value,
    parent: host,
    extensions: [
      CM.basicSetup,
      CM.python(),
      CM.linter(check, { delay: 750 }),
      CM.lintGutter(),
      CM.EditorView.contentAttributes.of({ "aria-labelledby": "source-label" }),
      // CodeMirror styles itself with a <style> element: the page's CSP admits it by this nonce.
      CM.EditorView.cspNonce.of(host.dataset.styleNonce),
    ],
  });
  textarea.hidden = true;
  host.hidden = false;
  checkButton.hidden = false;
  document.getElementById("source-label").addEventListener("click", function () { view.focus(); });
  checkButton.addEventListener("click", function () { CM.forceLinting(view); });
  form.addEventListener("submit", function () { textarea.value = view.state.doc.toString(); });
})();
