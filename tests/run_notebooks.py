"""Run by a test environment's own Python, as a plain Jupyter would: execute each notebook
top to bottom (stopping at the first error, like Run All, unless ``--all``) and save it.

    python run_notebooks.py [--all] NOTEBOOK...
"""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

run_all = "--all" in sys.argv
for name in [a for a in sys.argv[1:] if a != "--all"]:
    path = Path(name)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        allow_errors=run_all,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError:
        pass  # the error is in the saved notebook
    nbformat.write(notebook, path)
