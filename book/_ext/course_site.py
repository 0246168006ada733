"""Sphinx extension: the course's launch links and the student wheel, from one setting.

- ``{notebook-links} ASSIGNMENT`` writes a notebook's Download, Open in Colab, Open on
  Binder and Open on JupyterHub links, derived from ``repository.url`` (and
  ``launch_buttons``) in ``_config.yml`` by :class:`autograder.release.hosting.Hosting`.
- With the repository unset, the build says so once and leaves every launch link and the
  repository button out, instead of pointing them at a placeholder.
- After an HTML build, the student wheel is built into ``_static/wheels/`` of the site,
  where the released notebooks' install cell fetches it.
"""

from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from autograder.release.hosting import WHEELS, Hosting, build_wheel

logger = logging.getLogger(__name__)
NOTEBOOK = "exercises/{a}/{a}.ipynb"  # in the repository, relative to the book's root


def hosting(config) -> Hosting:
    """What jupyter-book made of ``_config.yml``'s repository, launch_buttons and html, read
    back into the file's own shape."""
    options = config.html_theme_options
    return Hosting.from_book_config(
        {
            "repository": {
                "url": options.get("repository_url"),
                "branch": options.get("repository_branch"),
            },
            "launch_buttons": options.get("launch_buttons"),
            "html": {"baseurl": config.html_baseurl},
        }
    )


def _read_hosting(app, config) -> None:
    """Keep the links for the Exercises page; take the theme's own launch buttons away
    (they would open the chapters' Markdown sources, which Colab cannot read and the light
    Binder environment cannot run); show the repository button only when it is set."""
    config.course_hosting = where = hosting(config)
    options = config.html_theme_options
    options.pop("launch_buttons", None)
    # jupyter-book refuses use_repository_button without a URL, so _config.yml leaves it off.
    options["use_repository_button"] = where.published
    if not where.published:
        options.pop("repository_url", None)
        logger.info(
            "course_site: repository.url is not set in _config.yml, so the site has no "
            "Colab, Binder or JupyterHub links and no repository button (README: 'Teach "
            "this course')."
        )


class NotebookLinks(SphinxDirective):
    """``{notebook-links} ASSIGNMENT``: where a student can open the notebook."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        assignment = self.arguments[0]
        path = NOTEBOOK.format(a=assignment)
        where: Hosting = self.config.course_hosting
        depth = len(Path(self.env.docname).parent.parts)
        download = f"{{download}}`Download {assignment}.ipynb <{'../' * depth}{path}>`"
        container = nodes.container(classes=["notebook-links"])
        self.state.nested_parse(StringList([download]), self.content_offset, container)
        paragraph = container.children[0]
        for label, url in [
            ("Open in Colab", where.colab_link(path)),
            ("Open on Binder", where.binder_link(path)),
            ("Open on JupyterHub", where.jupyterhub_link(path)),
        ]:
            if url:
                paragraph += nodes.Text(" · ")
                paragraph += nodes.reference("", label, refuri=url, classes=["launch"])
        return [container]


def _publish_wheel(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    wheel = build_wheel(Path(app.srcdir), Path(app.outdir) / WHEELS)
    logger.info(f"course_site: the student wheel is at {wheel.relative_to(app.outdir)}")


def setup(app):
    app.add_config_value("course_hosting", Hosting(), "html")
    app.connect("config-inited", _read_hosting)
    app.add_directive("notebook-links", NotebookLinks)
    app.connect("build-finished", _publish_wheel)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
