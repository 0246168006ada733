"""The book builds strictly (every cell runs, no warning), every page in _toc.yml is in the
site, nothing from solutions/ leaks, and the numbers the text states are the computed ones."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.checks.sizes import expected_output_size

REPO = Path(__file__).resolve().parent.parent
HTML = REPO / "_build" / "html"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site():
    """A strict build: every page re-read (--all), warnings are errors, cells cached."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", str(REPO), "--all", "-W", "--keep-going"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return HTML


def toc_pages() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    return [toc["root"]] + [chapter["file"] for chapter in toc["chapters"]]


def page_text(site: Path, page: str) -> str:
    return (site / f"{page}.html").read_text(encoding="utf-8")


def pasted(html: str) -> list[str]:
    """The values myst-nb glued into the text, in order."""
    return re.findall(r'class="pasted-text">([^<]*)<', html)


def test_every_toc_page_is_built(site):
    for page in toc_pages():
        assert (site / f"{page}.html").is_file(), page


def test_no_cell_errored(site):
    assert not list((site / "reports").glob("**/*.log")) if (site / "reports").exists() else True
    for page in toc_pages():
        html = page_text(site, page)
        assert "Traceback (most recent call last)" not in html, page
        assert "output error" not in html and 'class="output traceback' not in html, page


def test_solutions_never_reach_the_site(site):
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".ipynb", ".md", ".txt"}:
            text = path.read_text(encoding="utf-8", errors="ignore")
            assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, path


def test_exercise_notebooks_are_downloadable(site):
    html = page_text(site, "book/exercises")
    for name in ("nn-review", "conv-layers"):
        links = re.findall(rf'href="([^"]*{name}\.ipynb)"', html)
        assert links, name
        assert (site / "book" / links[0]).resolve().is_file()


def test_parameter_counts_in_the_text_are_computed(site):
    values = pasted(page_text(site, "book/conv-layers"))
    assert values[:2] == [str(32 * 32 * 3), str(5 * 5 * 3)]
    fc_layer, conv_layer = 32 * 32 * 3 * 28 * 28 * 6 + 28 * 28 * 6, 6 * 3 * 5 * 5 + 6
    assert f"{fc_layer:,}" in values and f"{conv_layer:,}" in values
    assert "6×28×28" in values
    assert str(16 * 3 * 3 * 3 + 16) in values


def test_output_sizes_in_the_text_are_computed(site):
    values = pasted(page_text(site, "book/conv-layers"))
    expected = [
        expected_output_size(32, 5, 1, 0),
        expected_output_size(32, 5, 1, 0),
        expected_output_size(32, 5, 1, 2),
        expected_output_size(32, 5, 1, 2),
        expected_output_size(7, 3, 2, 0),
        expected_output_size(7, 3, 3, 1),
        expected_output_size(224, 11, 4, 2),
    ]
    start = values.index(str(expected[0]))
    assert values[start : start + len(expected)] == [str(v) for v in expected]


def test_figures_and_animation_are_in_the_pages(site):
    conv = page_text(site, "book/conv-layers")
    assert conv.count("<img") >= 5
    assert "animation" in conv and "data:image/png;base64" in conv
    assert page_text(site, "book/nn-review").count("<img") >= 2
    assert page_text(site, "book/image-recognition").count("<img") >= 1


def test_self_check_answers_are_hidden_until_revealed(site):
    for page in ("book/image-recognition", "book/nn-review", "book/conv-layers"):
        assert "dropdown" in page_text(site, page), page
