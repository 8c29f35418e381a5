// The parts of CodeMirror 6 the strategy editor (app/static/js/strategy-editor.js) uses.
// `make assets` bundles this file with esbuild into app/static/vendor/codemirror.js, which
// defines them on one global, `CodeMirror` (the page scripts are plain files, not modules).
export { basicSetup, EditorView } from "codemirror";
export { EditorState } from "@codemirror/state";
export { python } from "@codemirror/lang-python";
export { forceLinting, linter, lintGutter } from "@codemirror/lint";
