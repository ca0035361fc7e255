"""Every notebook runs top to bottom in every kind of place a learner starts from, and what it
keeps in git is clean.

Modes (each notebook runs once per mode; the tests of a mode share those runs):

============  ================================================================================
``offline``   ``OCIINSPECT_OFFLINE=1``: every lesson falls back to the demo registry it starts
              in its own kernel (what Binder without network, or a laptop on a train, gets)
``demo``      the images on a demo registry (``python -m ociinspect.demo``) the test runs; it
              counts the pulls each notebook spends (README's notebook table)
``layout``    ``OCIINSPECT_IMAGE=oci:DIR:latest``: an image stored as files
``open``      the registry rig without auth (Debian's docker-registry; blobs via its CDN)
``basic``     the rig with htpasswd Basic auth, alice's login in the kernel's ``~/.docker``
``token``     the rig with token auth (anonymous pulls)
``429``       the token rig behind a proxy answering ``429 TOOMANYREQUESTS`` (no pulls left) to
              every manifest request: the notebooks fall back to the demo registry
============  ================================================================================

Each notebook runs in a kernel of this very interpreter (a kernelspec written to a temporary
directory points at ``sys.executable``) with a scrubbed environment: HOME and the disk cache in
temporary directories, no proxies, the ``OCIINSPECT_*`` variables of the mode.

``python tests/test_notebooks.py`` executes the notebooks again and saves their outputs: every
notebook offline, that is against the demo registry in its kernel, so the outputs GitHub shows
are real HTTP exchanges. Widget views are not saved (they render only with a live kernel), nor
is per-cell timing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
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

from rig import ALICE, Proxy, Registry, env, seed  # noqa: E402

from ociinspect._sample import SAMPLE_DIR  # noqa: E402
from ociinspect.demo import DemoRegistry  # noqa: E402
from ociinspect.testing import build, samples  # noqa: E402
from ociinspect.values import mediatypes as mt  # noqa: E402

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
STEMS = [path.stem for path in NOTEBOOKS]
KERNEL = "ociinspect-notebook-tests"
HANDSHAKE = "04-token-handshake"
TOUR = "01-tour-of-an-image"
#: Lessons about a registry's HTTP exchanges: never run on files.
HTTP_LESSONS = (TOUR, HANDSHAKE)
#: The rig repository the notebooks look at: the seeded single image plus an SBOM referring to it.
RIG_REPOSITORY = "scratch/notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: Lines a cell may have: notebooks are short-celled.
MAX_CELL_LINES = 30
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
#: Secrets that must appear in no output of any run (saved or not).
SECRETS = re.compile("|".join([re.escape(ALICE.password), r"Bearer [A-Za-z0-9_-]{20,}"]))

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


def printed(notebook: nbformat.NotebookNode) -> str:
    """What the cells printed (stdout), in order."""
    return "".join(
        str(o.text) for _, o in outputs(notebook) if o.output_type == "stream"
    )


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


def _rig_http(registry: Registry) -> requests.Session:
    """An HTTP session allowed to push to :data:`RIG_REPOSITORY` as alice, whatever the mode."""
    session = requests.Session()
    session.trust_env = False  # loopback only, never a proxy
    if registry.mode == "basic":
        session.auth = (ALICE.name, ALICE.password)
    elif registry.mode == "token":
        assert registry.token_server is not None
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
    return session


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
    session, base = _rig_http(registry), registry.url
    for blob in (*image.blobs(), *sbom_blobs):
        if mt.kind(blob.media_type) not in ("manifest", "index"):
            started = session.post(f"{base}/v2/{RIG_REPOSITORY}/blobs/uploads/", timeout=30)
            assert started.status_code == 202, started.text
            location = urljoin(base, started.headers["Location"])
            separator = "&" if "?" in location else "?"
            done = session.put(f"{location}{separator}digest={blob.digest}", data=blob.data,
                               headers={"Content-Type": "application/octet-stream"}, timeout=30)
            assert done.status_code == 201, done.text
    for reference, blob in (("latest", image.manifest), (sbom.digest, sbom),
                            (image.digest.replace(":", "-"), referrers)):
        answer = session.put(f"{base}/v2/{RIG_REPOSITORY}/manifests/{reference}", data=blob.data,
                             headers={"Content-Type": blob.media_type}, timeout=30)
        assert answer.status_code == 201, answer.text
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


def demo_variables(demo: DemoRegistry) -> dict[str, str]:
    return {
        "OCIINSPECT_IMAGE": demo.ref("sample:latest"),
        "OCIINSPECT_IMAGE_B": demo.ref("sample:2.0"),
        "OCIINSPECT_MULTIARCH_IMAGE": demo.ref("sample:latest"),
        "OCIINSPECT_OTHER_IMAGE": demo.ref("other/hello:latest"),
    }


def docker_login(home: Path, host: str) -> None:
    """alice's login for ``host`` in the kernel's ``~/.docker/config.json``, as docker login
    writes it."""
    pair = base64.b64encode(f"{ALICE.name}:{ALICE.password}".encode()).decode()
    config = home / "home" / ".docker" / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"auths": {host: {"auth": pair}}}))


OFFLINE = {"OCIINSPECT_OFFLINE": "1"}


class Runner:
    """Executes a notebook (by stem) on first request in one mode, keeps the result for the
    other tests, and counts the pulls a demo registry saw while it ran."""

    def __init__(
        self,
        variables: dict[str, str],
        workdir: Path,
        prepare: Callable[[Path], None] | None = None,
        demo: DemoRegistry | None = None,
    ) -> None:
        self.variables, self.workdir, self.prepare, self.demo = variables, workdir, prepare, demo
        self.done: dict[str, nbformat.NotebookNode] = {}
        self.pulls: dict[str, int] = {}

    def __call__(self, stem: str) -> nbformat.NotebookNode:
        if stem not in self.done:
            home = self.workdir / stem
            home.mkdir(parents=True, exist_ok=True)
            if self.prepare is not None:
                self.prepare(home)
            before = self.demo.pulls if self.demo is not None else 0
            notebook = execute(NOTEBOOK_DIR / f"{stem}.ipynb", kernel_env(home, self.variables),
                               home)
            if self.demo is not None:
                self.pulls[stem] = self.demo.pulls - before
            self.done[stem] = notebook
        return self.done[stem]


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    return Runner(OFFLINE, tmp_path_factory.mktemp("notebooks-offline"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    with DemoRegistry() as demo:
        yield Runner(demo_variables(demo), tmp_path_factory.mktemp("notebooks-demo"), demo=demo)


@pytest.fixture(scope="module")
def layout_run(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    work = tmp_path_factory.mktemp("notebooks-layout")
    layout = shutil.copytree(SAMPLE_DIR, work / "layout")
    return Runner({"OCIINSPECT_IMAGE": f"oci:{layout}:latest"}, work)


@pytest.fixture(scope="module")
def open_run(registry_open_session: Registry, tmp_path_factory: pytest.TempPathFactory) -> Runner:
    return Runner(rig_variables(registry_open_session), tmp_path_factory.mktemp("notebooks-open"))


@pytest.fixture(scope="module")
def basic_run(registry_basic_session: Registry, tmp_path_factory: pytest.TempPathFactory) -> Runner:
    registry = registry_basic_session
    return Runner(rig_variables(registry), tmp_path_factory.mktemp("notebooks-basic"),
                  prepare=lambda home: docker_login(home, registry.host))


@pytest.fixture(scope="module")
def token_run(registry_token_session: Registry, tmp_path_factory: pytest.TempPathFactory) -> Runner:
    return Runner(rig_variables(registry_token_session), tmp_path_factory.mktemp("notebooks-token"))


@pytest.fixture(scope="module")
def ratelimited_run(
    registry_token_session: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runner]:
    """The token rig behind a proxy that answers 429 (no pulls left) to every manifest
    request, as Docker Hub does when an address has spent its pulls."""
    variables = rig_variables(registry_token_session)
    with Proxy(registry_token_session.url) as proxy:
        exhausted = {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600",
                     "Retry-After": "3600"}
        proxy.faults.fail(429, times=None, path="/manifests/", headers=exhausted)
        moved = {k: v.replace(registry_token_session.host, proxy.host)
                 for k, v in variables.items()}
        yield Runner(moved, tmp_path_factory.mktemp("notebooks-429"))


MODES = [
    "offline",
    "demo",
    "layout",
    pytest.param("open", marks=pytest.mark.registry),
    pytest.param("basic", marks=pytest.mark.registry),
    pytest.param("token", marks=pytest.mark.registry),
    pytest.param("ratelimited", marks=pytest.mark.registry),
]


def runner_for(request: pytest.FixtureRequest, mode: str) -> Runner:
    runner: Runner = request.getfixturevalue(f"{mode}_run")
    return runner


# --------------------------------------------------------------------------- every mode


@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("mode", MODES)
def test_notebook_runs_cleanly(request: pytest.FixtureRequest, mode: str, stem: str) -> None:
    """Every cell runs without an error, stderr or traceback, and no output holds a password
    or a token."""
    notebook = runner_for(request, mode)(stem)
    assert problems(notebook) == []
    assert SECRETS.findall(all_text(notebook)) == []


def _expected_source(mode: str, stem: str, host: str | None) -> str:
    """What the first cell's 'source:' line must say in ``mode``."""
    if mode in ("offline", "ratelimited"):
        return "the demo registry in this kernel"
    if mode == "layout":
        return "the demo registry" if stem in HTTP_LESSONS else "stored as files"
    if mode in ("open", "basic") and stem == HANDSHAKE:
        return "the demo registry"
    return f"{host} answered"


@pytest.mark.parametrize("mode", MODES)
def test_first_cell_says_what_it_chose_and_why(request: pytest.FixtureRequest, mode: str) -> None:
    """The first cell prints each image and one 'source:' line: the registry that answered,
    the files, or the demo registry and why (a 429 says so)."""
    runner = runner_for(request, mode)
    host = None
    if mode not in ("offline", "layout"):
        host = runner.variables["OCIINSPECT_IMAGE"].split("/", 1)[0]
    for stem in STEMS:
        text = first_printed(runner(stem))
        assert re.search(r"^IMAGE *= ", text, re.MULTILINE), stem
        assert _expected_source(mode, stem, host) in text, (stem, text)
        if mode == "ratelimited":
            assert "429" in text, text


@pytest.mark.parametrize("mode", ["offline", pytest.param("token", marks=pytest.mark.registry)])
def test_quickstart_browser_finishes_loading(request: pytest.FixtureRequest, mode: str) -> None:
    """The quick start's image browser ends its background load in state 'ready'."""
    assert "('ready', " in all_text(runner_for(request, mode)("00-quickstart"))


@pytest.mark.parametrize("mode", ["offline", pytest.param("token", marks=pytest.mark.registry)])
def test_handshake_notebook_shows_what_its_prose_claims(
    request: pytest.FixtureRequest, mode: str
) -> None:
    """The live handshake shows 401 -> token -> 200, no second token request for the same
    scope, the Authorization header sent to the registry but not to the CDN; on the demo, the
    CDN refusing a forwarded token."""
    text = all_text(runner_for(request, mode)(HANDSHAKE))
    assert re.search(r"token requests: 1 before, 1 after; 401 answers since: 0", text)
    assert "to the registry:  Bearer <redacted>" in text
    assert "to the CDN:       (no Authorization header)" in text
    if mode == "offline":
        assert "forwarding the token to the CDN: 400 InvalidArgument" in text


_SAVED = re.compile(r"'(?P<url>[^']+)' -o (?P<name>\S+) && sha256sum (?P=name)$")
_SUM = re.compile(r"^(?P<hex>[0-9a-f]{64})  (?P<name>\S+)$", re.MULTILINE)


@pytest.mark.parametrize("stem", HTTP_LESSONS)
@pytest.mark.parametrize(
    "mode", [pytest.param(m, marks=pytest.mark.registry) for m in ("open", "basic", "token")]
)
def test_printed_curl_commands_run_and_fetch_the_right_bytes(
    request: pytest.FixtureRequest, mode: str, stem: str, tmp_path: Path
) -> None:
    """The curl lines the HTTP lessons print run in bash against the rig (with the login in
    REGISTRY_USER/REGISTRY_PASSWORD where needed), and every blob or manifest saved by digest
    hashes to that digest."""
    text = printed(runner_for(request, mode)(stem))
    lines = [line for line in text.splitlines() if line.startswith(("curl ", "TOKEN=$(curl "))]
    if mode in ("open", "basic") and stem == HANDSHAKE:
        assert "the demo registry" in text  # not this registry: the demo's lines, demo gone
        return
    assert lines
    script = "set -euo pipefail\n" + "\n".join(lines) + "\n"
    variables = {**env.child_env(tmp_path), "REGISTRY_USER": ALICE.name,
                 "REGISTRY_PASSWORD": ALICE.password}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=variables,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + script
    hashed = {m.group("name"): m.group("hex") for m in _SUM.finditer(done.stdout)}
    checked = 0
    for line in lines:
        match = _SAVED.search(line)
        tail = match.group("url").rsplit("/", 1)[1] if match else ""
        if match and tail.startswith("sha256:"):
            assert hashed[match.group("name")] == tail.split(":", 1)[1]
            checked += 1
    assert checked >= (2 if stem == TOUR else 1)


@pytest.mark.parametrize("mode", MODES)
def test_exercises_check_every_solution(request: pytest.FixtureRequest, mode: str) -> None:
    """The exercises notebook's four solutions pass their checks, in every mode."""
    text = printed(runner_for(request, mode)("09-exercises"))
    assert text.count("✓ ") == 4 and "✗ " not in text


def test_build_by_hand_is_what_skopeo_inspects(offline_run: Runner) -> None:
    """The image built by hand is accepted (201) with the digest computed in the notebook,
    a wrong digest is refused, and skopeo inspects the pushed image with that digest."""
    text = printed(offline_run("06-build-an-image-by-hand"))
    digest = re.search(r"manifest digest: (sha256:[0-9a-f]{64})", text)
    assert digest is not None
    assert "the registry's digest is ours: True" in text
    assert "400 DIGEST_INVALID" in text
    assert f"{{'Digest': '{digest.group(1)}'" in text
    assert "True True" in text  # ociinspect reads the same digest and diff_id back


@pytest.mark.parametrize("mode", ["offline", "demo"])
def test_referrers_notebook_finds_both_kinds_of_cosign_signature_and_the_sbom(
    request: pytest.FixtureRequest, mode: str
) -> None:
    """On the demo registry notebook 05 finds the Sigstore bundle (referrers API), the legacy
    .sig tag (cosign tag) and the SPDX SBOM's package."""
    text = all_text(runner_for(request, mode)("05-tags-referrers-compare"))
    for expected in ("sigstore-bundle", "cosign tag", "referrers API", "pkg:generic/hello@1.0"):
        assert expected in text


def test_rate_limit_notebook_meets_a_429(offline_run: Runner) -> None:
    """Notebook 08 shows the headers, counts pulls, and meets the 429 after six pulls."""
    text = all_text(offline_run("08-rate-limits"))
    assert "the demo registry counted 4 pulls" in text
    assert "RateLimitedError: GET" in text and "429 TOOMANYREQUESTS" in text
    assert "'ratelimit-remaining': '0;w=21600'" in text


def test_media_types_notebook_reads_one_file_of_a_chunked_layer(offline_run: Runner) -> None:
    """Notebook 07 shows one diff_id for all formats and a zstd:chunked file fetched by two
    Range requests and checked against the table of contents."""
    text = all_text(offline_run("07-media-types-and-compression"))
    assert "one diff_id for all but eStargz: True" in text
    assert "TOC matches the annotation: True" in text
    assert "digest matches the table: True" in text
    assert text.count(" 206 ") + text.count("206\n") >= 1


#: README's notebook table: notebook number -> pulls (manifest GETs) against the demo registry.
PULLS_ROW = re.compile(r"^\| \[(?P<number>\d\d) – [^]]+\]\([^)]+\) \|.*\| (?P<pulls>\d+) \|$",
                       re.MULTILINE)


def test_pulls_each_notebook_spends_are_the_readmes(demo_run: Runner) -> None:
    """Each notebook spends, against the registry its images are on (the demo registry's
    sample: an index of 3 platforms and 3 attestations), the pulls README's table states."""
    stated = {m.group("number"): int(m.group("pulls"))
              for m in PULLS_ROW.finditer((ROOT / "README.md").read_text())}
    for stem in STEMS:
        demo_run(stem)
    measured = {stem[:2]: demo_run.pulls[stem] for stem in STEMS}
    assert stated == measured, f"measured: {measured}"


# --------------------------------------------------------------------------- the sources


def _code(stem: str) -> list[str]:
    notebook = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    return [c.source for c in notebook.cells if c.cell_type == "code"]


@pytest.mark.parametrize("stem", STEMS)
def test_notebooks_start_with_the_helper_and_import_no_private_module(stem: str) -> None:
    """The first code cell is the helper's notebook.start(...); no cell reads the environment
    or imports a private module; cells are short."""
    first, *rest = _code(stem)
    assert "notebook.start(" in first and len(first.splitlines()) <= 8
    for source in (first, *rest):
        assert "os.environ" not in source
        assert not re.search(r"(from|import)\s+(ociinspect\.)?(\w+\.)*_\w+", source), source
        assert len(source.splitlines()) <= MAX_CELL_LINES


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
def test_saved_outputs_come_from_one_run_against_the_demo_registry(stem: str) -> None:
    """Code cells were executed once each, in order, against the demo registry, with no
    widget view or state kept."""
    notebook = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    counts = [c.execution_count for c in notebook.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))
    assert not any(WIDGET_VIEW in o.get("data", {}) for _, o in outputs(notebook))
    assert "widgets" not in notebook.metadata
    assert notebook.metadata.kernelspec.name == "python3"
    assert "source: the demo registry in this kernel" in first_printed(notebook)


def test_saved_http_lessons_show_real_exchanges() -> None:
    """GitHub shows real HTTP exchanges: the tour's saved outputs hold the 401, the token
    request and the CDN redirect; the handshake's the token and the CDN without the header."""
    tour = all_text(nbformat.read(NOTEBOOK_DIR / f"{TOUR}.ipynb", as_version=4))
    assert "401" in tour and "TOKEN=$(curl -fsS 'http://127.0.0.1:" in tour and "307" in tour
    handshake = all_text(nbformat.read(NOTEBOOK_DIR / f"{HANDSHAKE}.ipynb", as_version=4))
    assert "to the CDN:       (no Authorization header)" in handshake


def test_notebooks_readmes_list_every_notebook() -> None:
    """notebooks/README.md and README.md link every notebook, and the badge opens the quick
    start."""
    readme = (NOTEBOOK_DIR / "README.md").read_text()
    top = (ROOT / "README.md").read_text()
    assert [p for p in NOTEBOOKS if f"]({p.name})" not in readme] == []
    assert [p for p in NOTEBOOKS if f"](notebooks/{p.name})" not in top] == []
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


def save_outputs(stems: list[str] | None = None) -> None:
    """Execute the notebooks against the demo registry and write them back with outputs."""
    if env.proxies_configured():
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = env.LOOPBACK_NO_PROXY
    with tempfile.TemporaryDirectory(prefix="ociinspect-notebooks-") as tmp:
        for path in NOTEBOOKS:
            if stems and path.stem not in stems:
                continue
            home = Path(tmp) / path.stem
            notebook = execute(path, kernel_env(home, OFFLINE), home)
            _clean_for_git(notebook)
            found = problems(notebook)
            if found:
                raise SystemExit(f"{path.name}: {found}")
            nbformat.write(notebook, path)
            print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    save_outputs(sys.argv[1:])
