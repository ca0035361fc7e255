"""binder/ is a configuration repo2docker understands, and it gives a working environment.

repo2docker reads ``binder/`` (and then only it): ``runtime.txt`` picks Python, ``requirements.txt``
is pip-installed into the environment that runs both JupyterLab and the kernel (for Python >= 3.7
they are one), then ``postBuild`` runs from the repository root and installs ociinspect itself.
The README's badge opens ``notebooks/00-quickstart.ipynb`` in JupyterLab (``urlpath=lab/tree/…``).

The honest check is the one test below that builds a fresh virtual environment (no system
site-packages) the way repo2docker does, and runs the quick start notebook in it offline. It
takes about two minutes: pip resolves and installs JupyterLab's ~100 distributions.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from test_notebooks import OFFLINE, ROOT, execute, kernel_env, problems

BINDER = ROOT / "binder"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: What the repository copy given to postBuild holds (what ``pip install .`` reads).
PACKAGE_FILES = ("pyproject.toml", "README.md", "LICENSE", "ociinspect", "binder", "notebooks")


def requirements(path: Path) -> dict[str, Requirement]:
    """Requirement name (normalised) -> requirement, for each line of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            requirement = Requirement(text)
            found[normalised(requirement.name)] = requirement
    return found


def normalised(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_binder_holds_the_files_repo2docker_reads() -> None:
    """runtime.txt names a Python the package supports; postBuild is an executable bash
    script that stops at the first failure and installs the repository root."""
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert match is not None
    assert match.group(1) in SpecifierSet(PYPROJECT["project"]["requires-python"])
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK)
    script = post_build.read_text()
    assert script.startswith("#!/bin/bash\n") and "set -euo pipefail" in script
    assert re.search(r"pip install .*\s\.$", script, re.MULTILINE)


def test_binder_requirements_match_the_package_dependencies() -> None:
    """binder/requirements.txt lists every runtime dependency and the lab extra (but voila,
    which no notebook uses) with pyproject.toml's bounds, so Binder installs them in the
    layer it builds before copying the code, and caches that layer across code changes."""
    project = PYPROJECT["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["lab"]]
    expected = {
        normalised(r.name): str(r.specifier)
        for r in map(Requirement, wanted)
        if normalised(r.name) != "voila"
    }
    listed = {
        name: str(r.specifier) for name, r in requirements(BINDER / "requirements.txt").items()
    }
    assert listed == expected


def _copy_repository(target: Path) -> Path:
    """The files a Binder build sees, copied so ``pip install .`` leaves the checkout alone."""
    target.mkdir()
    for name in PACKAGE_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, target / name)
    return target


@pytest.mark.timeout(900)
def test_binder_environment_builds_fresh_and_runs_the_quick_start(tmp_path: Path) -> None:
    """A new virtual environment gets binder/requirements.txt, then postBuild run from a copy
    of the repository; there, without this checkout on the path, ociinspect imports from the
    environment, pip finds no broken dependency and the quick start notebook runs offline."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check"]
    quiet = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    installed = subprocess.run([*pip, "-r", str(BINDER / "requirements.txt")], **quiet)
    assert installed.returncode == 0, installed.stdout
    repository = _copy_repository(tmp_path / "repo")
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{environment['PATH']}"
    built = subprocess.run(["bash", "binder/postBuild"], cwd=repository, env=environment, **quiet)
    assert built.returncode == 0, built.stdout
    checked = subprocess.run([python, "-m", "pip", "check"], **quiet)
    assert checked.returncode == 0, checked.stdout
    where = subprocess.run(
        [python, "-c", "import ociinspect, ociinspect.widgets; print(ociinspect.__file__)"],
        cwd=tmp_path,
        env=environment,
        **quiet,
    )
    assert where.returncode == 0, where.stdout
    assert where.stdout.strip().startswith(str(venv))
    home = tmp_path / "kernel"
    notebook = execute(
        repository / "notebooks" / "00-quickstart.ipynb",
        kernel_env(home, OFFLINE, pythonpath=False),
        home,
        python=python,
    )
    assert problems(notebook) == []
