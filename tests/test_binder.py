"""binder/ is a configuration repo2docker understands, and it gives a working, pinned
environment that leaves the learner's home clean; README, notebooks/README and pyproject agree
on where the repository is.

repo2docker reads ``binder/`` (and then only it): ``apt.txt`` lists Ubuntu packages,
``runtime.txt`` picks Python, ``requirements.txt`` (with ``-c constraints.txt``: every
distribution pinned) is pip-installed into the environment that runs both JupyterLab and the
kernel, then ``postBuild`` runs from the repository root, which is the learner's home, and
installs ociinspect itself. The README's badge opens ``notebooks/00-quickstart.ipynb`` in
JupyterLab (``urlpath=lab/tree/…``).

The honest check is the test that builds a fresh virtual environment (no system
site-packages) the way repo2docker does, and runs the quick start notebook in it offline (on
the demo registry its kernel starts). It takes about two minutes: pip installs JupyterLab's
~100 distributions at their pinned versions.
"""

from __future__ import annotations

import importlib.util
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
from packaging.version import Version
from test_notebooks import OFFLINE, ROOT, execute, first_printed, kernel_env, problems

BINDER = ROOT / "binder"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: What the repository copy given to postBuild holds (what ``pip install .`` reads).
PACKAGE_FILES = ("pyproject.toml", "README.md", "LICENSE", "ociinspect", "binder", "notebooks")
#: The commands the notebooks print or run, and the Ubuntu packages that have them.
TOOLS = {"jq", "zstd", "skopeo", "curl"}


def _badge_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("binder_badge", BINDER / "badge.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def requirements(path: Path) -> dict[str, Requirement]:
    """Requirement name (normalised) -> requirement, for each requirement line of a file
    (``-c``/``-r`` options are not requirements)."""
    found = {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text and not text.startswith("-"):
            requirement = Requirement(text)
            found[normalised(requirement.name)] = requirement
    return found


def normalised(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_binder_holds_the_files_repo2docker_reads() -> None:
    """runtime.txt names a Python the package supports; postBuild is an executable bash
    script that stops at the first failure and installs from a copy, without pip's cache."""
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert match is not None
    assert match.group(1) in SpecifierSet(PYPROJECT["project"]["requires-python"])
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK)
    script = post_build.read_text()
    assert script.startswith("#!/bin/bash\n") and "set -euo pipefail" in script
    assert re.search(r"pip install --no-cache-dir .*-c binder/constraints.txt", script)


def test_apt_txt_has_the_tools_the_notebooks_use() -> None:
    """binder/apt.txt installs jq, zstd, skopeo and curl: the printed commands need them and
    notebook 06 runs skopeo."""
    listed = {line.strip() for line in (BINDER / "apt.txt").read_text().splitlines()}
    assert listed >= TOOLS
    used = "\n".join(p.read_text() for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert "skopeo" in used and "jq" in (ROOT / "ociinspect" / "commands.py").read_text()


def test_binder_requirements_match_the_package_dependencies() -> None:
    """binder/requirements.txt lists every runtime dependency and the lab extra (but voila,
    which no notebook uses) with pyproject.toml's bounds, and takes constraints.txt, so Binder
    installs them in the layer it builds before copying the code."""
    project = PYPROJECT["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["lab"]]
    expected = {
        normalised(r.name): str(r.specifier)
        for r in map(Requirement, wanted)
        if normalised(r.name) != "voila"
    }
    text = (BINDER / "requirements.txt").read_text()
    listed = {
        name: str(r.specifier) for name, r in requirements(BINDER / "requirements.txt").items()
    }
    assert listed == expected
    assert re.search(r"^-c constraints\.txt$", text, re.MULTILINE)


def test_constraints_pin_every_distribution_within_the_bounds() -> None:
    """constraints.txt pins (==) each requirement and everything they need, each pin inside
    the requirement's bounds, and was made by the refresh script with Binder's Python."""
    pins: dict[str, Version] = {}
    lines = (BINDER / "constraints.txt").read_text().splitlines()
    for line in lines:
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[\w.+!-]+", version), line
            pins[normalised(name)] = Version(version)
    for name, requirement in requirements(BINDER / "requirements.txt").items():
        assert name in pins and requirement.specifier.contains(pins[name]), name
    assert len(pins) >= 50  # JupyterLab's tree, not just the direct dependencies
    runtime = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    assert f"Python {runtime}." in lines[1]
    assert os.access(BINDER / "refresh-constraints.sh", os.X_OK)


def test_license_file_matches_pyproject() -> None:
    """LICENSE is the Apache License 2.0 text, as pyproject.toml declares."""
    assert PYPROJECT["project"]["license"] == {"text": "Apache-2.0"}
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n")
    assert "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_badges_are_made_from_project_urls() -> None:
    """README.md and notebooks/README.md carry the badge binder/badge.py makes from
    [project.urls] Repository (the one place naming the repository), and README says in one
    line how to point it at a fork."""
    badge = _badge_module()
    path = badge.repository()
    assert PYPROJECT["project"]["urls"]["Repository"] == f"https://github.com/{path}"
    wanted = badge.badge(path)
    for readme in (ROOT / "README.md", ROOT / "notebooks" / "README.md"):
        assert readme.read_text().count("mybinder.org/v2/gh/") == 1
        assert wanted in readme.read_text(), readme
    assert re.search(r"^.*fork.*\[project\.urls\].*binder/badge\.py.*$",
                     (ROOT / "README.md").read_text(), re.MULTILINE)
    checked = subprocess.run([sys.executable, str(BINDER / "badge.py"), "--check"],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


def test_badge_script_rewrites_both_readmes_for_a_fork(tmp_path: Path) -> None:
    """Changing Repository and running binder/badge.py changes both badges, and --check
    notices a badge that was not remade."""
    copy = tmp_path / "repo"
    (copy / "notebooks").mkdir(parents=True)
    (copy / "binder").mkdir()
    for name in ("README.md", "notebooks/README.md", "binder/badge.py"):
        shutil.copy(ROOT / name, copy / name)
    text = (ROOT / "pyproject.toml").read_text().replace("/OWNER/ociinspect", "/someone/fork")
    (copy / "pyproject.toml").write_text(text)
    script = [sys.executable, str(copy / "binder" / "badge.py")]
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 1
    assert subprocess.run(script, capture_output=True).returncode == 0
    for name in ("README.md", "notebooks/README.md"):
        assert "mybinder.org/v2/gh/someone/fork/HEAD?" in (copy / name).read_text()
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0


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


def _tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if "__pycache__" not in p.parts}


@pytest.mark.timeout(900)
def test_binder_environment_builds_fresh_and_runs_the_quick_start(tmp_path: Path) -> None:
    """A new virtual environment gets binder/requirements.txt (pinned by its constraints),
    then postBuild run from a copy of the repository as the learner's home; it leaves no file
    behind there (no build/, no egg-info, no pip cache); ociinspect imports from the
    environment, pip finds no broken dependency and the quick start notebook runs offline on
    the demo registry."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check"]
    quiet = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    installed = subprocess.run([*pip, "-r", str(BINDER / "requirements.txt")], **quiet)
    assert installed.returncode == 0, installed.stdout
    repository = _copy_repository(tmp_path / "repo")
    before = _tree(repository)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{environment['PATH']}"
    environment["HOME"] = str(repository)  # repo2docker's home is the repository
    for tool, variable in ((".rustup", "RUSTUP_HOME"), (".cargo", "CARGO_HOME")):
        # This machine's rustup proxies keep their state in $HOME; Binder's image has none.
        if (Path.home() / tool).is_dir() and variable not in environment:
            environment[variable] = str(Path.home() / tool)
    built = subprocess.run(["bash", "binder/postBuild"], cwd=repository, env=environment, **quiet)
    assert built.returncode == 0, built.stdout
    assert _tree(repository) - before == set()
    checked = subprocess.run([python, "-m", "pip", "check"], **quiet)
    assert checked.returncode == 0, checked.stdout
    frozen = subprocess.run([python, "-m", "pip", "freeze"], **quiet).stdout
    pins = set((BINDER / "constraints.txt").read_text().splitlines())
    assert {"jupyterlab", "pandas"} <= {
        line.split("==")[0].lower() for line in frozen.splitlines() if line in pins
    }
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
    assert "source: the demo registry in this kernel" in first_printed(notebook)
