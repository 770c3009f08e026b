"""Small Sphinx extension for the book's HTML.

- Removes duplicated ``<script>`` entries. With Jupyter Book 1.x, sphinx-thebe registers its inline
  configuration script (``const THEBE_JS_URL = ...``) both with the application and with the already
  initialised builder, so every page declared the same ``const`` twice and the browser reported
  "Identifier 'THEBE_JS_URL' has already been declared" on every page.
"""

from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    unique = []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        # inline scripts are registered with filename None by some extensions and "" by others
        key = (getattr(js, "filename", str(js)) or "", attrs.get("body"))
        if key in seen:
            continue
        seen.add(key)
        unique.append(js)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
