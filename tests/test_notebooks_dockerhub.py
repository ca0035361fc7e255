"""Every notebook against Docker Hub as it behaves: the Docker Hub personality (tests/personalities:
realm auth.docker.io, library/ names, rate-limit headers, blobs redirected to a CDN host) over TLS
with the test CA, its real host names mapped to loopback for the kernel only, through the
session settings a user has (``OCIINSPECT_RESOLVE``, ``OCIINSPECT_CA_BUNDLE``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest
from personalities import Personality
from test_notebooks import NOTEBOOK_DIR, SECRETS, STEMS, all_text, execute, kernel_env, problems

pytestmark = pytest.mark.registry


class HubRun:
    """Runs each notebook once against the Docker Hub personality; counts the pulls it saw."""

    def __init__(self, hub: Personality, workdir: Path) -> None:
        self.hub, self.workdir = hub, workdir
        resolve = ",".join(f"{h}={a}:{p}" for h, (a, p) in sorted(hub.resolve.items()))
        self.variables = {
            "OCIINSPECT_IMAGE": "docker.io/library/alpine:latest",
            "OCIINSPECT_IMAGE_B": "docker.io/library/hello-world:latest",
            "OCIINSPECT_MULTIARCH_IMAGE": "docker.io/library/alpine:latest",
            "OCIINSPECT_OTHER_IMAGE": "docker.io/library/hello-world:latest",
            "OCIINSPECT_RESOLVE": resolve,
            "OCIINSPECT_CA_BUNDLE": str(hub.ca_bundle),
            "OCIINSPECT_MIRRORS": "none",
        }
        self.done: dict[str, nbformat.NotebookNode] = {}
        self.pulls: dict[str, int] = {}

    def __call__(self, stem: str) -> nbformat.NotebookNode:
        if stem not in self.done:
            home = self.workdir / stem
            home.mkdir(parents=True, exist_ok=True)
            before = len(self.hub.counters.pulls())
            path = NOTEBOOK_DIR / f"{stem}.ipynb"
            self.done[stem] = execute(path, kernel_env(home, self.variables), home)
            self.pulls[stem] = len(self.hub.counters.pulls()) - before
        return self.done[stem]


@pytest.fixture(scope="module")
def hub_run(
    running: Callable[[str], Personality], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubRun]:
    hub = running("dockerhub")
    hub.reset()
    hub.configure(rate_limit=1000)  # the lessons, not the limit, are under test here
    try:
        yield HubRun(hub, tmp_path_factory.mktemp("notebooks-dockerhub"))
    finally:
        hub.reset()


@pytest.mark.parametrize("stem", STEMS)
def test_notebook_runs_against_docker_hub(hub_run: HubRun, stem: str) -> None:
    """Every cell runs without an error, stderr or traceback against Docker Hub's behaviours,
    and no output holds a password or a token."""
    notebook = hub_run(stem)
    assert problems(notebook) == []
    assert SECRETS.findall(all_text(notebook)) == []


def test_the_quick_start_talks_to_docker_hub_and_spends_counted_pulls(hub_run: HubRun) -> None:
    """The first notebook's images come from registry-1.docker.io (not the demo fallback), and
    Docker Hub counted the manifest GETs it spent as pulls."""
    notebook = hub_run("00-quickstart")
    first = "".join(
        output.get("text", "") for output in notebook.cells[1].get("outputs", [])
    )
    assert "registry-1.docker.io" in first or "docker.io" in first, first
    assert "demo registry in this kernel" not in first
    assert hub_run.pulls["00-quickstart"] > 0
