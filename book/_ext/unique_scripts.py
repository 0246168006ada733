"""Sphinx extension: drop repeated <script> entries from each page.

sphinx-togglebutton and sphinx-thebe register their inline configuration scripts twice in
a Jupyter Book build (once with filename ``None``, once with ``""``); the page then declares
``const THEBE_JS_URL`` twice and the browser reports an error. One copy of each is enough.
"""


def _unique_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        filename = str(getattr(script, "filename", script) or "")
        key = (filename, tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # In place: it is the builder's own list, to which later handlers (MathJax) still add.
    context["script_files"][:] = unique


def setup(app):
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _unique_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
