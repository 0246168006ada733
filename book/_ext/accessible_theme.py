"""Sphinx extension: fix the theme's header buttons and myst-nb's code toggles, which fail
axe-core's ``label-content-name-mismatch`` rule (serious; WCAG 2.5.3 "label in name").

sphinx-book-theme (through pydata-sphinx-theme) ships, on every page:

- a search button whose visible text is "Search Ctrl + K" but whose ``aria-label`` is only
  "Search": a speech-input user who says what they see does not match the name. Without the
  ``aria-label`` the button is named by its visible text.
- a colour-mode button labelled "Color mode" that contains three icons with titles ("Light",
  "Dark", "System Settings"), which Font Awesome's script turns into SVG images named by those
  titles: text inside the button that its name does not contain. The icons are decoration:
  without titles and hidden from assistive technology, the button keeps its label.

myst-nb's collapsed code cells have the same fault: their ``<summary>`` shows "Show code cell
source" but is labelled "Toggle hidden content". Without the label, it is named by what it
shows.

The theme and myst-nb build these in templates and node visitors, so the extension edits the
written pages after the build instead of overriding templates that change from one release to
the next.
"""

import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

SEARCH_FIELD = re.compile(r"<button\b[^>]*\bsearch-button-field\b[^>]*>")
THEME_ICON = re.compile(r'<i (?:aria-hidden="true" )?class="theme-switch\b[^>]*>')


def fix_page(html: str) -> str:
    """The page with the search field's button and the code toggles named by their visible
    text, and the colour-mode button's icons hidden from assistive technology."""
    html = SEARCH_FIELD.sub(lambda tag: tag.group(0).replace(' aria-label="Search"', ""), html)
    html = html.replace('<summary aria-label="Toggle hidden content">', "<summary>")
    return THEME_ICON.sub(
        lambda tag: re.sub(r'\s+(title|aria-hidden)="[^"]*"', "", tag.group(0)).replace(
            "<i ", '<i aria-hidden="true" ', 1
        ),
        html,
    )


def _fix_pages(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    changed = 0
    for page in Path(app.outdir).rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        fixed = fix_page(html)
        if fixed != html:
            page.write_text(fixed, encoding="utf-8")
            changed += 1
    logger.info(f"accessible_theme: buttons and toggles named by their text on {changed} pages")


def setup(app):
    app.connect("build-finished", _fix_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
