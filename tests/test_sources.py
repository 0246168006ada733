"""The course is found from nbgrader_config.py (or --source), never from where the package
is installed; every public link follows from _config.yml's one setting."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import course_site
import nbformat
import pytest
import yaml
from notebooks import REPO, SOURCES

from autograder.cli import main
from autograder.release import assignments as release
from autograder.release.hosting import Hosting, is_set, wheel_name
from autograder.release.sources import CONFIG_FILE, NoCourse, find

PUBLISHED = Hosting(repository="https://github.com/Teach-Lab/cnn-course", branch="fall")
NOTEBOOK = "exercises/conv-layers/conv-layers.ipynb"


def course_copy(folder: Path, config: str = "", book_config: dict | None = None) -> Path:
    """A course outside the repository: nbgrader_config.py, solutions/ (and _config.yml)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(
        "c = get_config()\n"
        'c.CourseDirectory.source_directory = "solutions"\n'
        'c.CourseDirectory.release_directory = "exercises"\n' + config
    )
    shutil.copytree(REPO / "solutions", folder / "solutions")
    if book_config is not None:
        (folder / "_config.yml").write_text(yaml.safe_dump(book_config))
    return folder


def test_the_repository_is_a_course():
    assert SOURCES.root == REPO
    assert SOURCES.source_dir == REPO / "solutions"
    assert SOURCES.release_dir == REPO / "exercises"
    assert SOURCES.assignments() == ["conv-layers", "nn-review"]
    assert SOURCES.db_url is None  # the gradebook defaults to the course folder's


def test_found_from_a_subfolder_and_with_the_config_settings(tmp_path):
    course = course_copy(
        tmp_path / "course", 'c.CourseDirectory.db_url = "sqlite:////srv/grades.db"\n'
    )
    (course / "deep" / "er").mkdir(parents=True)
    found = find(course / "deep" / "er")
    assert found.root == course and found.source_dir == course / "solutions"
    assert found.db_url == "sqlite:////srv/grades.db"
    assert found.notebook("nn-review") == course / "solutions/nn-review/nn-review.ipynb"
    assert set(found.secret_places()) == {course, course / "solutions"}


def test_source_option_names_the_notebooks_folder(tmp_path):
    shutil.copytree(REPO / "solutions", tmp_path / "mine")
    found = find(source=tmp_path / "mine")
    assert found.source_dir == tmp_path / "mine" and found.assignments() == SOURCES.assignments()
    with pytest.raises(NoCourse, match="no such folder"):
        find(source=tmp_path / "nowhere")


def test_no_course_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NoCourse, match=f"no {CONFIG_FILE} in {tmp_path} or any folder above"):
        find()
    assert main(["grade", "conv-layers", str(tmp_path)]) == 2
    assert "--source DIR" in capsys.readouterr().err
    assert main(["release", "--check"]) == 2


def test_a_broken_config_is_a_clear_error(tmp_path):
    (tmp_path / CONFIG_FILE).write_text("c = get_config()\nc.CourseDirectory.root = \n")
    with pytest.raises(NoCourse, match="cannot read"):
        find(tmp_path)


def test_export_from_a_course_copy_uses_its_config_root(tmp_path, monkeypatch):
    course = course_copy(tmp_path / "c", 'c.CourseDirectory.root = "."\n')
    monkeypatch.chdir(course)
    assert main(["export", "nn-review"]) == 0
    assert (course / "gradebook.db").is_file() and (course / "grades.csv").is_file()


# -- links from the one setting --------------------------------------------------------------


def test_unset_and_placeholder_repositories_give_no_links():
    for url in ("", "  ", "https://github.com/your-org/cnn-course", "https://example.com/x"):
        where = Hosting(repository=url, jupyterhub="https://hub.uni.edu")
        assert not where.published and not is_set(url)
        assert where.site_url == where.wheel_url == ""
        assert not (where.colab_link(NOTEBOOK) or where.binder_link(NOTEBOOK))
        assert not where.jupyterhub_link(NOTEBOOK)


def test_links_follow_the_repository():
    where = PUBLISHED
    assert where.site_url == "https://teach-lab.github.io/cnn-course/"
    assert where.wheel_url == (
        f"https://teach-lab.github.io/cnn-course/_static/wheels/{wheel_name()}"
    )
    assert where.colab_link(NOTEBOOK) == (
        f"https://colab.research.google.com/github/Teach-Lab/cnn-course/blob/fall/{NOTEBOOK}"
    )
    assert where.binder_link(NOTEBOOK) == (
        "https://mybinder.org/v2/gh/Teach-Lab/cnn-course/fall"
        "?labpath=exercises%2Fconv-layers%2Fconv-layers.ipynb"
    )
    assert where.jupyterhub_link(NOTEBOOK) == ""  # no hub set
    hub = Hosting(repository=where.repository, jupyterhub="https://hub.uni.edu/")
    assert hub.jupyterhub_link(NOTEBOOK).startswith(
        "https://hub.uni.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com"
    )
    assert "urlpath=lab%2Ftree%2Fcnn-course%2Fexercises" in hub.jupyterhub_link(NOTEBOOK)
    own_site = Hosting(repository=where.repository, site="https://cnn.uni.edu/course")
    assert own_site.wheel_url.startswith("https://cnn.uni.edu/course/_static/wheels/")


def test_hosting_reads_the_book_config():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert Hosting.from_book_config(config) == Hosting.read(REPO)
    config["repository"]["url"] = "https://github.com/Teach-Lab/cnn-course"
    config["launch_buttons"]["jupyterhub_url"] = "https://hub.uni.edu"
    where = Hosting.from_book_config(config)
    assert where.published and where.jupyterhub == "https://hub.uni.edu"


def _sphinx_config(url: str) -> SimpleNamespace:
    return SimpleNamespace(
        html_baseurl="",
        html_theme_options={
            "repository_url": url,
            "launch_buttons": {"binderhub_url": "https://mybinder.org"},
        },
    )


def test_site_leaves_launch_buttons_out_when_unset():
    unset = _sphinx_config("")
    course_site._read_hosting(None, unset)
    assert not unset.course_hosting.published
    assert unset.html_theme_options == {"use_repository_button": False}
    published = _sphinx_config(PUBLISHED.repository)
    course_site._read_hosting(None, published)
    assert published.course_hosting.binder_link(NOTEBOOK)
    assert published.html_theme_options["use_repository_button"] is True


# -- the install cell follows the setting -----------------------------------------------------


def install_line(path: Path) -> str:
    notebook = nbformat.read(path, 4)
    cell = next(c for c in notebook.cells if c.metadata["nbgrader"]["grade_id"] == "install")
    return next(line for line in cell.source.splitlines() if line.startswith("COURSE_PACKAGE"))


def test_committed_notebooks_follow_the_repository_setting():
    url = Hosting.read(REPO).wheel_url
    for assignment in SOURCES.assignments():
        for path in (SOURCES.notebook(assignment), SOURCES.released(assignment)):
            assert install_line(path) == f"COURSE_PACKAGE = {json.dumps(url)}"


@pytest.mark.slow
def test_release_points_the_install_cell_at_the_site_wheel(tmp_path):
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config["repository"]["url"] = PUBLISHED.repository
    course = find(course_copy(tmp_path / "course", book_config=config))
    assert release.stale(course) == SOURCES.assignments()  # sources still say: unset
    written = release.release(course, ["nn-review"])
    expected = f'COURSE_PACKAGE = "{PUBLISHED.wheel_url}"'
    assert install_line(course.notebook("nn-review")) == expected
    assert install_line(written[0]) == expected


def test_nbgrader_settings_for_one_run_leave_the_course_config_alone(tmp_path):
    release.nbgrader_api(SOURCES, tmp_path / "release", f"sqlite:///{tmp_path}/gradebook.db")
    assert SOURCES.db_url is None
    assert "release_directory" not in SOURCES.config.CourseDirectory or (
        SOURCES.config.CourseDirectory.release_directory == "exercises"
    )


def test_export_or_report_of_a_course_folder_that_does_not_exist_is_an_error(
    tmp_path, monkeypatch, capsys
):
    course = course_copy(tmp_path / "c")
    monkeypatch.chdir(course)
    for command in ("export", "report"):
        assert main([command, "nn-review", "--course", "cuorse"]) == 2
        assert "no course folder" in capsys.readouterr().err
    assert not (course / "cuorse").exists()
