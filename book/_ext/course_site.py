"""Sphinx extension: the course's launch links and the student wheel, from one setting.

- ``{notebook-links} ASSIGNMENT`` writes a notebook's Download, Open in Colab, Open on
  Binder and Open on JupyterHub links, derived from ``repository.url`` (and
  ``launch_buttons``) in ``_config.yml`` by :class:`autograder.release.hosting.Hosting`.
- With the repository unset, the build says so once and leaves every launch link and the
  repository button out, instead of pointing them at a placeholder.
- The student wheel is built into ``_static/wheels/`` of the site, where the released
  notebooks' install cell fetches it. It is built in a thread while the pages are read (pip
  runs in its own process, beside the notebooks' kernels), and only when its sources changed
  since the last build (a hash of them is kept beside the build).
"""

import hashlib
import shutil
import tempfile
import threading
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from autograder.release.hosting import WHEELS, Hosting, build_wheel, wheel_name

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


def wheel_sources(project: Path) -> str:
    """A hash of everything the student wheel is built from."""
    digest = hashlib.sha256()
    files = [project / "pyproject.toml", project / "README.md"]
    files += sorted(p for p in (project / "autograder").rglob("*") if p.is_file())
    for path in files:
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class WheelBuild(threading.Thread):
    """The wheel, built into a scratch folder while Sphinx reads the pages."""

    def __init__(self, project: Path):
        super().__init__(daemon=True)
        self.project, self.error, self.wheel = project, None, None
        self.scratch = tempfile.TemporaryDirectory()

    def run(self) -> None:
        try:
            self.wheel = build_wheel(self.project, Path(self.scratch.name))
        except Exception as error:  # reported when the build finishes
            self.error = error


def _start_wheel(app) -> None:
    app.course_wheel = None
    if app.builder.format != "html":
        return
    project = Path(app.srcdir)
    stamp = Path(app.outdir).parent / ".wheel-sources"
    app.course_wheel_hash = wheel_sources(project)
    published = Path(app.outdir) / WHEELS / wheel_name()
    if published.is_file() and stamp.is_file() and stamp.read_text() == app.course_wheel_hash:
        return  # built from the same sources: keep it
    app.course_wheel = WheelBuild(project)
    app.course_wheel.start()


def _publish_wheel(app, exception) -> None:
    build = getattr(app, "course_wheel", None)
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / WHEELS
    if build is not None:
        build.join()
        if build.error is not None:
            raise build.error
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(build.wheel, dest / build.wheel.name)
        build.scratch.cleanup()
        (Path(app.outdir).parent / ".wheel-sources").write_text(app.course_wheel_hash)
    logger.info(f"course_site: the student wheel is at {WHEELS}/{wheel_name()}")


def setup(app):
    app.add_config_value("course_hosting", Hosting(), "html")
    app.connect("config-inited", _read_hosting)
    app.add_directive("notebook-links", NotebookLinks)
    app.connect("builder-inited", _start_wheel)
    app.connect("build-finished", _publish_wheel)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
