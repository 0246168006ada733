"""Sphinx extension: values a page computed, in its figures' alt text.

myst-nb takes a figure's alt text from the cell's metadata, which is written before the cell
runs. A figure that draws a measurement (the speed page's timings) needs alt text that says
what was measured on this build. In an image's alt text, {glue:text}`name` (the role the
prose uses) is replaced by the value the page glued under that name, formatted as that role
pastes it. A name the page did not glue is a warning, so an error under ``-W``.
"""

import json
import re
from pathlib import Path

from docutils import nodes
from myst_nb.core.variables import format_plain_text
from sphinx.util import logging

logger = logging.getLogger(__name__)
ROLE = re.compile(r"\{glue(?::text)?\}`([^`:]+)(?::([^`]*))?`")


def fill(alt: str, glued: dict, where: str) -> str:
    """``alt`` with every {glue:text}`name` replaced by the glued value's text."""

    def value(match: re.Match) -> str:
        name, spec = match.group(1), match.group(2) or ""
        data = glued.get(name, {}).get("data", {})
        if "text/plain" not in data:
            logger.warning(f"glued_alt: {name!r} is not glued on this page", location=where)
            return match.group(0)
        return format_plain_text(data["text/plain"], spec)

    return ROLE.sub(value, alt)


def _fill_alt_texts(app, doctree) -> None:
    images = [node for node in doctree.findall(nodes.image) if ROLE.search(node.get("alt", ""))]
    if not images:
        return
    docname = app.env.docname
    folder = Path(getattr(app.env, "mystnb_config", None).output_folder)
    path = folder.joinpath(*docname.split("/")[:-1], docname.split("/")[-1] + ".glue.json")
    glued = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    for image in images:
        image["alt"] = fill(image["alt"], glued, docname)


def setup(app):
    app.connect("doctree-read", _fill_alt_texts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
