"""Write the Binder badge of README.md and notebooks/README.md from pyproject.toml.

``[project.urls] Repository`` (``https://github.com/OWNER/REPO``) is the one place that names
the repository; the badges are made from it, so pointing them at a fork is one edit there and
``python binder/badge.py``. ``--check`` changes nothing and exits 1 when a badge differs.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The notebook the badge opens, in JupyterLab.
OPENS = "notebooks/00-quickstart.ipynb"
_BADGE = re.compile(r"\[!\[Binder\]\([^)]*\)\]\([^)]*\)")
_GITHUB = re.compile(r"https://github\.com/(?P<path>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")


def repository(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """``OWNER/REPO`` from ``[project.urls] Repository``."""
    url = tomllib.loads(pyproject.read_text())["project"]["urls"]["Repository"]
    match = _GITHUB.fullmatch(url)
    if match is None:
        raise SystemExit(f"[project.urls] Repository must be https://github.com/OWNER/REPO: {url}")
    return match.group("path")


def badge(path: str) -> str:
    """The Markdown badge that opens the quick start of ``path`` (``OWNER/REPO``) on Binder."""
    target = f"https://mybinder.org/v2/gh/{path}/HEAD?urlpath=lab/tree/{OPENS}"
    return f"[![Binder](https://mybinder.org/badge_logo.svg)]({target})"


def files() -> list[Path]:
    return [ROOT / "README.md", ROOT / "notebooks" / "README.md"]


def main(argv: list[str]) -> int:
    wanted = badge(repository())
    stale = []
    for path in files():
        text = path.read_text()
        found = _BADGE.findall(text)
        if len(found) != 1:
            where = path.relative_to(ROOT)
            raise SystemExit(f"{where}: expected one Binder badge, found {len(found)}")
        if found[0] != wanted:
            stale.append(path)
            if "--check" not in argv:
                path.write_text(text.replace(found[0], wanted))
    for path in stale:
        verb = "differs" if "--check" in argv else "updated"
        print(f"{path.relative_to(ROOT)}: badge {verb}")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
