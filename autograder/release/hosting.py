"""Where the course is published, and every link derived from that one setting.

The instructor sets ``repository.url`` in ``_config.yml`` (a GitHub repository, e.g.
``https://github.com/ORG/REPO``). From it follow the site (GitHub Pages,
``https://ORG.github.io/REPO/``, or ``html.baseurl`` when set), the student wheel the site
serves, and the Colab, Binder and JupyterHub links of each notebook. Unset (empty), there
are no launch links and the notebooks cannot install the package by themselves.
"""

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from .. import __version__

BOOK_CONFIG = "_config.yml"
WHEELS = "_static/wheels"
PLACEHOLDERS = ("your-org", "example.com", "example.org", "example.edu", "example.net")


def wheel_name(version: str = __version__) -> str:
    """The file name of the student wheel ``pip wheel`` builds for this version."""
    return f"cnn_course-{version}-py3-none-any.whl"


def is_set(url: str | None) -> bool:
    """Whether ``url`` is a real address (not empty, not a placeholder or example domain)."""
    if not url or not url.strip():
        return False
    host = urlsplit(url.strip()).netloc.lower()
    return bool(host) and not any(p in url.lower() for p in PLACEHOLDERS)


@dataclass(frozen=True)
class Hosting:
    """The course's public places. ``repository`` is '' when unset."""

    repository: str = ""
    branch: str = "main"
    site: str = ""  # html.baseurl, when it is not GitHub Pages
    binderhub: str = "https://mybinder.org"
    colab: str = "https://colab.research.google.com"
    jupyterhub: str = ""

    @classmethod
    def from_book_config(cls, config: dict) -> "Hosting":
        """From the parsed ``_config.yml``."""
        repository = config.get("repository") or {}
        launch = config.get("launch_buttons") or {}
        defaults = cls()
        return cls(
            repository=str(repository.get("url") or ""),
            branch=str(repository.get("branch") or defaults.branch),
            site=str((config.get("html") or {}).get("baseurl") or ""),
            binderhub=str(launch.get("binderhub_url") or defaults.binderhub),
            colab=str(launch.get("colab_url") or defaults.colab),
            jupyterhub=str(launch.get("jupyterhub_url") or ""),
        )

    @classmethod
    def read(cls, root: Path) -> "Hosting":
        """From ``root/_config.yml``; unset when the course has no book config."""
        import yaml

        path = Path(root) / BOOK_CONFIG
        if not path.is_file():
            return cls()
        return cls.from_book_config(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

    # -- the repository ------------------------------------------------------------------
    @property
    def published(self) -> bool:
        return is_set(self.repository)

    @property
    def github(self) -> tuple[str, str] | None:
        """``(owner, name)`` of a GitHub repository, else None."""
        if not self.published:
            return None
        parts = urlsplit(self.repository.strip())
        path = parts.path.strip("/").removesuffix(".git").split("/")
        if parts.netloc.lower() != "github.com" or len(path) != 2 or not all(path):
            return None
        return path[0], path[1]

    # -- the site and its wheel -----------------------------------------------------------
    @property
    def site_url(self) -> str:
        """The published book, ending in '/'; '' when unknown."""
        if is_set(self.site):
            return self.site.strip().rstrip("/") + "/"
        if self.github:
            owner, name = self.github
            return f"https://{owner.lower()}.github.io/{name}/"
        return ""

    @property
    def wheel_url(self) -> str:
        """Where the site serves the student wheel; '' when the site is unknown."""
        return f"{self.site_url}{WHEELS}/{wheel_name()}" if self.site_url else ""

    # -- launch links, for a notebook at ``path`` in the repository ------------------------
    def colab_link(self, path: str) -> str:
        if not self.github or not is_set(self.colab):
            return ""
        owner, name = self.github
        return f"{self.colab.rstrip('/')}/github/{owner}/{name}/blob/{self.branch}/{path}"

    def binder_link(self, path: str) -> str:
        if not self.github or not is_set(self.binderhub):
            return ""
        owner, name = self.github
        query = urlencode({"labpath": path})
        return f"{self.binderhub.rstrip('/')}/v2/gh/{owner}/{name}/{self.branch}?{query}"

    def jupyterhub_link(self, path: str) -> str:
        """An nbgitpuller link: the hub clones the repository, then opens the notebook."""
        if not self.published or not is_set(self.jupyterhub):
            return ""
        name = urlsplit(self.repository).path.strip("/").removesuffix(".git").split("/")[-1]
        query = urlencode(
            {
                "repo": self.repository.strip(),
                "branch": self.branch,
                "urlpath": f"lab/tree/{name}/{path}",
            },
            quote_via=quote,
        )
        return f"{self.jupyterhub.rstrip('/')}/hub/user-redirect/git-pull?{query}"


def build_wheel(project: Path, dest: Path) -> Path:
    """Build the student wheel of the project at ``project`` (its ``pyproject.toml`` and
    ``autograder/``) into ``dest``; return its path. Built from a copy, so that two builds
    at once never share pip's in-tree ``build/`` folder."""
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "project"
        copy.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(Path(project) / name, copy / name)
        shutil.copytree(
            Path(project) / "autograder",
            copy / "autograder",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dest), "."],
            cwd=copy,
            capture_output=True,
            text=True,
        )
    if built.returncode != 0:
        raise RuntimeError(f"could not build the wheel:\n{built.stdout}{built.stderr}")
    return dest / wheel_name()
