// Copied into the built book as _vendor/widgets-paths.js (scripts/vendor_js.py) and loaded between
// require.js and the ipywidgets HTML manager. The manager asks require.js for its own assets (icon fonts)
// relative to its module ids ("@jupyter-widgets/..."), which require.js would resolve against the page's
// folder; map those ids to the bundled copy next to this script instead, so no request leaves the book.
(function () {
  var here = document.currentScript && document.currentScript.src;
  if (!here || typeof window.require === "undefined" || !window.require.config) return;
  var base = here.replace(/widgets-paths\.js(\?.*)?$/, "");
  window.require.config({ paths: { "@jupyter-widgets": base + "jupyter-widgets" } });
})();
