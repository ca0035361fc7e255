"""The notebooks run top to bottom, against the registry rig and offline on the bundled sample,
and what they keep in git is clean.

Each notebook runs in a kernel of this very interpreter (a kernelspec written to a temporary
directory points at ``sys.executable``) with a scrubbed environment: the images in the
``OCIINSPECT_*`` variables the notebooks read (the rig's references, or ``OCIINSPECT_OFFLINE=1``),
the disk cache and HOME in temporary directories (so no user credentials are read), no proxies.
Every notebook runs once per mode; the tests share those runs.

``python tests/test_notebooks.py`` executes the notebooks again and saves their outputs: offline
on the bundled sample, except 04-token-handshake, which needs a registry with token auth and
runs against a rig registry started for the occasion. Widget views are not saved (they render
only with a live kernel), nor is per-cell timing.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin

import nbformat
import pytest
import requests
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":  # run as a script: this checkout's package (the rig is beside us)
    sys.path.insert(0, str(ROOT))

from rig import ALICE, Registry, env, seed, seed_storage, start_registry  # noqa: E402

from ociinspect.testing import build, samples  # noqa: E402
from ociinspect.values import mediatypes as mt  # noqa: E402

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
STEMS = [path.stem for path in NOTEBOOKS]
KERNEL = "ociinspect-notebook-tests"
HANDSHAKE = "04-token-handshake"
#: The rig repository the notebooks look at: the seeded single image plus an SBOM referring to it.
RIG_REPOSITORY = "scratch/notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: What must never be in a saved output: absolute paths (of this machine, or typical ones, even
#: after ``oci:`` or ``file://``; URL paths follow a host name and do not match), secrets.
FORBIDDEN = re.compile(
    "|".join(
        [
            r"(?<![\w.-])(/work|/home|/root|/tmp|/Users|/private|/var/folders|/opt)/",
            r"\b[A-Za-z]:\\(Users|Windows|Program Files)\\",
            "site-packages",
            re.escape(str(ROOT)),
            r"Bearer ey",
            r"Basic [A-Za-z0-9+/=]{8,}",
            re.escape(ALICE.password),
        ]
    )
)

Run = Callable[[str], nbformat.NotebookNode]


# --------------------------------------------------------------------------- executing


def kernel_manager(python: str, workdir: Path) -> KernelManager:
    """A kernel manager whose only kernelspec runs ipykernel on ``python``."""
    spec = workdir / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python (tests)", "language": "python"})
    )
    specs = KernelSpecManager(kernel_dirs=[str(spec.parent)])
    return KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


def kernel_env(home: Path, variables: dict[str, str], pythonpath: bool = True) -> dict[str, str]:
    """The kernel's whole environment: no proxies, Docker or registry configuration, or
    ``OCIINSPECT_*`` settings from outside; HOME and the cache in ``home``; ``variables``."""
    out = {k: v for k, v in env.child_env(home / "home").items() if not k.startswith("OCIINSPECT_")}
    out.pop("PYTHONPATH", None)
    if pythonpath:  # this checkout, not whatever ociinspect is installed
        out["PYTHONPATH"] = str(ROOT)
    out.update(OCIINSPECT_CACHE_DIR=str(home / "cache"), OCIINSPECT_PROGRESS="0", **variables)
    return out


def execute(
    path: Path, environment: dict[str, str], workdir: Path, python: str = sys.executable
) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` in order, in its directory, as Jupyter would;
    raises nbclient's CellExecutionError at the first cell that fails."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        km=kernel_manager(python, workdir),
        timeout=180,
        record_timing=False,
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=environment)
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> Iterator[tuple[str, nbformat.NotebookNode]]:
    """(cell id, output) for every output of every code cell."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for output in cell.outputs:
                yield cell.id, output


def output_text(output: nbformat.NotebookNode) -> str:
    """Everything an output shows, as text (all its text mime types)."""
    if output.output_type == "stream":
        return str(output.text)
    if output.output_type == "error":
        return "\n".join([output.ename, output.evalue, *output.traceback])
    data = output.get("data", {})
    return "\n".join(str(v) for k, v in data.items() if k.startswith("text/") or "json" in k)


def all_text(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(output_text(output) for _, output in outputs(notebook))


def first_printed(notebook: nbformat.NotebookNode) -> str:
    """What the first code cell (the one choosing the images) printed."""
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    return "".join(output_text(o) for o in cell.outputs)


def problems(notebook: nbformat.NotebookNode) -> list[str]:
    """Errors, stderr and tracebacks anywhere in the outputs, one line each."""
    found = []
    for cell_id, output in outputs(notebook):
        text = output_text(output)
        if output.output_type == "error":
            found.append(f"{cell_id}: error {output.ename}: {output.evalue}")
        elif output.output_type == "stream" and output.name == "stderr":
            found.append(f"{cell_id}: stderr: {text[:300]}")
        elif "Traceback (most recent call last)" in text:
            found.append(f"{cell_id}: a traceback in the output")
    return found


# --------------------------------------------------------------------------- the rig's images


def _upload(session: requests.Session, base: str, repository: str, blob: build.Blob) -> None:
    started = session.post(f"{base}/v2/{repository}/blobs/uploads/", timeout=30)
    assert started.status_code == 202, started.text
    location = urljoin(base, started.headers["Location"])
    separator = "&" if "?" in location else "?"
    done = session.put(
        f"{location}{separator}digest={blob.digest}",
        data=blob.data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert done.status_code == 201, done.text


def _put_manifest(
    session: requests.Session, base: str, repository: str, reference: str, blob: build.Blob
) -> None:
    answer = session.put(
        f"{base}/v2/{repository}/manifests/{reference}",
        data=blob.data,
        headers={"Content-Type": blob.media_type},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text


def push_notebook_images(registry: Registry) -> str:
    """Push the seeded single image to :data:`RIG_REPOSITORY` with an SBOM that refers to it,
    as alice, over the distribution push API; returns the image reference.

    distribution 2.8 has no referrers API, so the SBOM is listed where the OCI 1.1 spec's
    fallback puts it: an index tagged ``sha256-<hex>`` of the image digest.
    """
    image = seed.catalog()[seed.SINGLE].root
    assert isinstance(image, build.BuiltImage)
    sbom, sbom_blobs = samples.sbom_artifact(image)
    entry = {**sbom.descriptor(), "artifactType": samples.SBOM_TYPE}
    entry["annotations"] = json.loads(sbom.data).get("annotations", {})
    referrers = build.json_blob(
        {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [entry]}, mt.OCI_INDEX
    )
    assert registry.token_server is not None
    session = requests.Session()
    session.trust_env = False  # loopback only, never a proxy
    token = session.get(
        registry.token_server.realm,
        params={
            "service": registry.token_server.service,
            "scope": f"repository:{RIG_REPOSITORY}:pull,push",
        },
        auth=(ALICE.name, ALICE.password),
        timeout=30,
    ).json()["token"]
    session.headers["Authorization"] = f"Bearer {token}"
    base = registry.url
    for blob in (*image.blobs(), *sbom_blobs):
        if mt.kind(blob.media_type) not in ("manifest", "index"):
            _upload(session, base, RIG_REPOSITORY, blob)
    _put_manifest(session, base, RIG_REPOSITORY, "latest", image.manifest)
    _put_manifest(session, base, RIG_REPOSITORY, sbom.digest, sbom)
    _put_manifest(session, base, RIG_REPOSITORY, image.digest.replace(":", "-"), referrers)
    return registry.ref(f"{RIG_REPOSITORY}:latest")


def rig_variables(registry: Registry) -> dict[str, str]:
    """The notebooks' image variables, pointing at the rig (see notebooks/README.md)."""
    image = push_notebook_images(registry)
    multi = registry.ref(seed.MULTI)
    return {
        "OCIINSPECT_IMAGE": image,
        "OCIINSPECT_IMAGE_B": multi,
        "OCIINSPECT_MULTIARCH_IMAGE": multi,
        "OCIINSPECT_OTHER_IMAGE": multi,
    }


OFFLINE = {"OCIINSPECT_OFFLINE": "1"}


def runner(variables: dict[str, str], workdir: Path) -> Run:
    """Executes a notebook (by stem) on first request and keeps the result for other tests."""
    done: dict[str, nbformat.NotebookNode] = {}

    def run(stem: str) -> nbformat.NotebookNode:
        if stem not in done:
            home = workdir / stem
            done[stem] = execute(NOTEBOOK_DIR / f"{stem}.ipynb", kernel_env(home, variables), home)
        return done[stem]

    return run


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return runner(OFFLINE, tmp_path_factory.mktemp("notebooks-offline"))


@pytest.fixture(scope="module")
def rig_run(registry_token_session: Registry, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return runner(rig_variables(registry_token_session), tmp_path_factory.mktemp("notebooks-rig"))


# --------------------------------------------------------------------------- executed in CI


@pytest.mark.parametrize("stem", STEMS)
def test_notebook_runs_offline_on_the_bundled_sample(offline_run: Run, stem: str) -> None:
    """With OCIINSPECT_OFFLINE=1 every cell runs without an error, stderr or traceback."""
    notebook = offline_run(stem)
    assert problems(notebook) == []
    expected = "offline" if stem == HANDSHAKE else "ociinspect.SAMPLE"
    assert expected in first_printed(notebook)


@pytest.mark.registry
@pytest.mark.parametrize("stem", STEMS)
def test_notebook_runs_against_the_registry_rig(
    rig_run: Run, registry_token: Registry, stem: str
) -> None:
    """Against the token-auth registry (blobs via its CDN) every cell runs cleanly, on the
    rig's images rather than a fallback to the sample."""
    notebook = rig_run(stem)
    assert problems(notebook) == []
    assert f"{registry_token.host}/" in first_printed(notebook)


MODES = ["offline", pytest.param("rig", marks=pytest.mark.registry)]


@pytest.mark.parametrize("mode", MODES)
def test_quickstart_browser_finishes_loading(request: pytest.FixtureRequest, mode: str) -> None:
    """The quick start's image browser ends its background load in state 'ready'."""
    run: Run = request.getfixturevalue(f"{mode}_run")
    assert "('ready', " in all_text(run("00-quickstart"))


@pytest.mark.registry
def test_handshake_notebook_shows_what_its_prose_claims(rig_run: Run) -> None:
    """The live handshake shows 401 -> token -> 200, no second token request for the same
    scope, and the Authorization header sent to the registry but not to the CDN."""
    text = all_text(rig_run(HANDSHAKE))
    assert re.search(r"token requests: 1 before, 1 after; 401 answers since: 0", text)
    assert "to the registry:  Bearer <redacted>" in text
    assert "to the CDN:       (no Authorization header)" in text


@pytest.mark.registry
def test_tour_prints_the_curl_commands_of_each_registry_step(
    rig_run: Run, registry_token: Registry
) -> None:
    """The tour turns the trace into a token request and curl commands for the manifest, the
    config and the layer (followed through the CDN redirect with -L)."""
    text = all_text(rig_run("01-tour-of-an-image"))
    assert "TOKEN=$(curl -s 'http://127.0.0.1:" in text
    base = f"'{registry_token.url}/v2/{RIG_REPOSITORY}"
    assert text.count(f'-H "Authorization: Bearer $TOKEN" {base}/blobs/') == 2
    assert f"{base}/manifests/latest' | jq ." in text


@pytest.mark.parametrize("mode", MODES)
def test_referrers_notebook_finds_the_sbom(request: pytest.FixtureRequest, mode: str) -> None:
    """Notebook 05 finds the SPDX SBOM whose subject is the image, in the layout and (through
    the sha256-<hex> tag fallback) in the registry."""
    run: Run = request.getfixturevalue(f"{mode}_run")
    assert "application/spdx+json subject: True" in all_text(run("05-tags-referrers-compare"))


# --------------------------------------------------------------------------- what git keeps


@pytest.mark.parametrize("stem", STEMS)
def test_saved_outputs_hold_no_error_stderr_or_traceback(stem: str) -> None:
    """The outputs kept in git show no error, nothing written to stderr and no traceback."""
    assert problems(nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)) == []


@pytest.mark.parametrize("stem", STEMS)
def test_saved_outputs_hold_no_absolute_path_or_secret(stem: str) -> None:
    """No saved output or metadata names a path of the machine that ran it, a token or a
    password."""
    notebook = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    shown = [(cell_id, output_text(output)) for cell_id, output in outputs(notebook)]
    shown += [(cell.id, json.dumps(cell.metadata)) for cell in notebook.cells]
    shown.append(("notebook metadata", json.dumps(notebook.metadata)))
    leaks = {f"{where}: {m.group(0)}" for where, text in shown for m in FORBIDDEN.finditer(text)}
    assert leaks == set()


@pytest.mark.parametrize("stem", STEMS)
def test_saved_outputs_come_from_one_run_top_to_bottom(stem: str) -> None:
    """Code cells were executed once each, in order, with no widget view or state kept."""
    notebook = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    counts = [c.execution_count for c in notebook.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))
    assert not any(WIDGET_VIEW in o.get("data", {}) for _, o in outputs(notebook))
    assert "widgets" not in notebook.metadata
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("stem", STEMS)
def test_images_are_chosen_in_the_first_code_cell_only(stem: str) -> None:
    """The first code cell reads the OCIINSPECT_* variables and falls back offline; no later
    cell reads the environment."""
    notebook = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    first, *rest = [c.source for c in notebook.cells if c.cell_type == "code"]
    assert 'os.environ.get("OCIINSPECT_' in first
    assert "OCIINSPECT_OFFLINE" in first
    assert stem == HANDSHAKE or "oi.SAMPLE" in first
    assert not any("os.environ" in source for source in rest)


def test_notebooks_readme_lists_every_notebook() -> None:
    """notebooks/README.md links every notebook, and its Binder badge opens the quick start."""
    readme = (NOTEBOOK_DIR / "README.md").read_text()
    assert [p for p in NOTEBOOKS if f"]({p.name})" not in readme] == []
    badge = re.search(r"urlpath=lab/tree/(notebooks/[\w.-]+\.ipynb)", readme)
    assert badge is not None and (ROOT / badge.group(1)).is_file()


# --------------------------------------------------------------------------- saving outputs


def _clean_for_git(notebook: nbformat.NotebookNode) -> None:
    """Drop widget views (no live kernel to render them) and name the usual kernel."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
    notebook.metadata.pop("widgets", None)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }


def save_outputs() -> None:
    """Execute every notebook and write it back with its outputs (see the module docstring)."""
    if env.proxies_configured():
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = env.LOOPBACK_NO_PROXY
    with tempfile.TemporaryDirectory(prefix="ociinspect-notebooks-") as tmp:
        work = Path(tmp)
        seeded = seed_storage(work / "seed")
        registry = start_registry("token", work / "token", seeded.storage, seeded.seeded)
        try:
            live = rig_variables(registry)
            for path in NOTEBOOKS:
                variables = live if path.stem == HANDSHAKE else OFFLINE
                home = work / path.stem
                notebook = execute(path, kernel_env(home, variables), home)
                _clean_for_git(notebook)
                found = problems(notebook)
                if found:
                    raise SystemExit(f"{path.name}: {found}")
                nbformat.write(notebook, path)
                print(f"saved {path.relative_to(ROOT)}")
        finally:
            registry.stop()


if __name__ == "__main__":
    save_outputs()
