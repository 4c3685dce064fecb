"""Sphinx extension of the course: make the HTML book work offline and error-free.

1. De-duplicate script tags. Under Jupyter Book 1 / Sphinx 7 some extensions register
   their inline scripts twice per page (sphinx-togglebutton, sphinx-thebe); the second
   ``const THEBE_JS_URL`` is a JavaScript SyntaxError in every page.
2. A MathJax 2 shim for the ipywidgets HTML manager: it typesets widget labels with
   ``MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`` (the MathJax 2 API), while the
   book loads MathJax 3 from its own static files; the shim forwards to
   ``MathJax.typesetPromise``.
"""

from __future__ import annotations

MATHJAX2_SHIM = """document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (mj && !mj.Hub && mj.typesetPromise) {
    mj.Hub = {Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var job = arguments[i];
        if (Array.isArray(job) && job[0] === "Typeset" && job[2]) {
          mj.typesetPromise([job[2]]).catch(function () {});
        }
      }
    }};
  }
});"""


def _key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    filename = str(getattr(script, "filename", script) or "")  # None and "" both mean "inline"
    return (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))


def deduplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.add_js_file(None, body=MATHJAX2_SHIM, priority=900)
    # priority < 500: html-page-context is emitted with emit_firstresult, which stops at the
    # first handler returning a template name (the theme does), so run before the others.
    app.connect("html-page-context", deduplicate_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
