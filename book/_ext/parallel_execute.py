"""Sphinx extension: execute the book's notebooks side by side before Sphinx reads them.

myst-nb (in ``execution_mode: cache``) executes each page's notebook when Sphinx reads that
page, one after another, while the build process waits for each kernel. With several pages
to execute, this extension starts them together first, as many at a time as there are
processors, and puts each result into the same jupyter-cache, keyed as myst-nb keys it (the
notebook myst-nb's own reader makes of the page). When Sphinx then reads the pages, myst-nb
finds every notebook cached and only renders it.

A page whose execution fails here is not cached: myst-nb executes it again as usual and
reports the error in its own words, so a failing cell still fails a strict build.
"""

import fnmatch
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import nbformat
from sphinx.util import logging

logger = logging.getLogger(__name__)


def execute(notebook: str, cwd: str, timeout: int | None, allow_errors: bool) -> tuple:
    """Run one notebook (as JSON) in a fresh kernel -> (executed notebook as JSON or None,
    seconds, error text or None). Runs in a worker process."""
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.reads(notebook, as_version=4)
    result = single_nb_execution(
        nb, cwd=cwd, timeout=timeout, allow_errors=allow_errors, meta_override=True
    )
    if result.err is not None:
        return None, result.time, result.exc_string
    return nbformat.writes(nb), result.time, None


def _pending(app, env, docnames):
    """The pages among ``docnames`` whose notebook myst-nb would have to execute:
    (docname, path, notebook, reader's format), largest first."""
    from jupyter_cache import get_cache
    from myst_nb.core.read import create_nb_reader

    nb_config = env.mystnb_config
    cache = get_cache(nb_config.execution_cache_path or ".jupyter_cache")
    pending = []
    for docname in docnames:
        path = Path(env.doc2path(docname))
        if path.suffix not in (".md", ".ipynb") or not path.is_file():
            continue
        if any(fnmatch.fnmatch(str(path), p) for p in nb_config.execution_excludepatterns):
            continue
        content = path.read_text(encoding="utf-8")
        reader = create_nb_reader(str(path), env.myst_config, nb_config, content)
        if reader is None:
            continue
        notebook = reader.read(content)
        if not any(cell.cell_type == "code" for cell in notebook.cells):
            continue
        try:
            cache.match_cache_notebook(notebook)
            continue  # cached already
        except KeyError:
            pending.append((docname, path, notebook, reader.read_fmt))
    pending.sort(key=lambda job: len(job[2].cells), reverse=True)
    return cache, pending


def _pre_execute(app, env, docnames) -> None:
    nb_config = env.mystnb_config
    if nb_config.execution_mode != "cache" or nb_config.execution_in_temp:
        return
    cache, pending = _pending(app, env, docnames)
    workers = min(len(pending), os.cpu_count() or 1)
    if workers < 2:
        return  # nothing to gain: myst-nb executes it while reading
    from jupyter_cache.base import CacheBundleIn

    start = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = {
            docname: pool.submit(
                execute,
                nbformat.writes(notebook),
                str(path.parent),
                nb_config.execution_timeout,
                nb_config.execution_allow_errors,
            )
            for docname, path, notebook, _ in pending
        }
        for docname, path, _, read_fmt in pending:
            executed, seconds, error = futures[docname].result()
            if error is not None:
                logger.info(f"parallel_execute: {docname} failed; myst-nb will run it again")
                continue
            record = cache.add_nb_to_project(str(path), read_data=read_fmt)
            cache.cache_notebook_bundle(
                CacheBundleIn(
                    nbformat.reads(executed, as_version=4),
                    record.uri,
                    data={"execution_seconds": seconds},
                ),
                check_validity=False,
                overwrite=True,
            )
            logger.info(f"parallel_execute: {docname} executed in {seconds:.1f} s")
    logger.info(
        f"parallel_execute: {len(pending)} notebooks in {time.perf_counter() - start:.1f} s "
        f"on {workers} processes"
    )


def setup(app):
    app.connect("env-before-read-docs", _pre_execute)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
