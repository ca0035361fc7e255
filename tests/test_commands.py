"""Every command ociinspect prints runs: the curl lines made from a live trace are executed by
bash against the registry rig (open, Basic and token mode, blobs through the CDN) and against
the demo registry, and every document or blob they save hashes to the digest it was asked
for; skopeo's lines from tool_commands run too.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from rig import ALICE, Registry, env, rig_session, seed

import ociinspect as oi
from ociinspect.commands import (
    LOGIN,
    curl_commands,
    curl_for,
    tool_commands,
    trace_commands,
)
from ociinspect.demo import DemoRegistry
from ociinspect.distribution.trace import Exchange

pytestmark = pytest.mark.registry

_SAVED = re.compile(r"'(?P<url>[^']+)' -o (?P<name>\S+) && sha256sum (?P=name)$")
_SUM = re.compile(r"^(?P<hex>[0-9a-f]{64})  (?P<name>\S+)$", re.MULTILINE)


def _exercise(session: oi.Session, ref: str) -> None:
    """What a lesson does: the platforms table, one image's layers and a layer's files, tags
    and referrers."""
    found = oi.open(ref, session=session)
    if isinstance(found, oi.ImageIndex):
        oi.platforms(found, session=session)
    img = oi.image(found, session=session)
    oi.files(img, -1, session=session)
    oi.tags(ref, session=session)
    oi.referrers(img, session=session)


def run_lines(lines: list[str], workdir: Path, user: str = "", password: str = "") -> str:
    """Run ``lines`` as one bash script (stop at the first failure); returns stdout."""
    script = "set -euo pipefail\n" + "\n".join(lines) + "\n"
    variables = {**env.child_env(workdir), "REGISTRY_USER": user, "REGISTRY_PASSWORD": password}
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=workdir,
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{done.stderr}\n--- script ---\n{script}"
    return done.stdout


def expected_digests(lines: list[str], exchanges: list[Exchange]) -> dict[str, str]:
    """File name -> the digest its bytes must hash to: the URL's digest, or for a tag the
    Docker-Content-Digest the registry answered."""
    by_url = {e.url: e for e in exchanges if e.status == 200}
    wanted = {}
    for line in lines:
        match = _SAVED.search(line)
        if match is None:
            continue
        url, name = match.group("url"), match.group("name")
        tail = url.rsplit("/", 1)[1]
        if tail.startswith("sha256:"):
            wanted[name] = tail
        else:
            wanted[name] = by_url[url].response_headers["Docker-Content-Digest"]
    return wanted


def check_curl(session: oi.Session, workdir: Path, user: str = "", password: str = "") -> int:
    """Run the session's trace as curl and check every saved file; returns how many."""
    exchanges = list(session.trace)
    lines = curl_commands(exchanges, session)
    output = run_lines(lines, workdir, user, password)
    hashed = {m.group("name"): f"sha256:{m.group('hex')}" for m in _SUM.finditer(output)}
    wanted = expected_digests(lines, exchanges)
    assert wanted and hashed == wanted
    return len(wanted)


@pytest.mark.parametrize("mode", ["open", "basic", "token"])
def test_printed_curl_lines_fetch_bytes_with_the_right_digests(
    request: pytest.FixtureRequest, mode: str, tmp_path: Path
) -> None:
    """Against each rig mode (logged in as alice where there is a login), the curl lines of
    a lesson's trace run in bash and each saved manifest, config and layer hashes to its
    digest; the login is passed as -u "$REGISTRY_USER:$REGISTRY_PASSWORD", never a value."""
    registry: Registry = request.getfixturevalue(f"registry_{mode}")
    creds = oi.Credentials(ALICE.name, ALICE.password) if mode != "open" else None
    session = rig_session(credentials=creds)
    for name in (seed.MULTI, seed.SINGLE):
        _exercise(session, registry.ref(name))
    lines = curl_commands(list(session.trace), session)
    assert ALICE.password not in "\n".join(lines)
    assert (LOGIN in "\n".join(lines)) == (mode != "open")
    assert any("'Accept: " in line and "/manifests/sha256:" in line for line in lines)
    assert check_curl(session, tmp_path, ALICE.name, ALICE.password) >= 10


def test_a_cached_token_gets_its_token_line_from_the_remembered_challenge(
    registry_token: Registry, tmp_path: Path
) -> None:
    """A slice of the trace after the token was earned still runs: the token line comes from
    the challenge the session remembers."""
    session = rig_session()
    oi.open(registry_token.ref(seed.MULTI), session=session)
    mark = session.trace.mark()
    img = oi.image(registry_token.ref(seed.MULTI), platform="linux/arm64", session=session)
    _ = img.config
    later = session.trace.since(mark)
    assert not any(e.purpose == "token" for e in later)
    lines = curl_commands(later, session)
    assert lines[0].startswith("TOKEN=$(curl -fsS '")
    hashed = dict(
        (m.group("name"), m.group("hex")) for m in _SUM.finditer(run_lines(lines, tmp_path))
    )
    assert hashed  # the manifest and config were fetched and hashed


def test_curl_lines_run_against_the_demo_registry(tmp_path: Path) -> None:
    """The demo's token handshake and CDN redirect reproduce in curl, digests checked."""
    with DemoRegistry() as demo:
        session = rig_session()
        _exercise(session, demo.ref("sample:latest"))
        assert check_curl(session, tmp_path) >= 10


def test_trace_commands_adds_a_curl_column(registry_token: Registry) -> None:
    """trace_commands is the trace table plus curl: <NA> for the 401 and the CDN hop, a line
    for the token, manifest and blob requests."""
    session = rig_session()
    img = oi.image(registry_token.ref(seed.SINGLE), session=session)
    oi.files(img, 0, session=session)
    frame = trace_commands(session.trace)
    assert str(frame["curl"].dtype) == "string"
    by_status = dict(zip(frame["status"], frame["curl"], strict=False))
    assert by_status[401] is pd.NA
    assert frame["curl"].str.startswith("TOKEN=$(").sum() == 1
    cdn = frame[frame["url"].str.contains("127.0.0.2")]
    assert len(cdn) >= 1 and cdn["curl"].isna().all()


@pytest.mark.parametrize(
    ("status", "purpose", "url"),
    [
        (401, "manifest", "http://127.0.0.1:5000/v2/a/manifests/latest"),
        (None, "manifest", "http://127.0.0.1:5000/v2/a/manifests/latest"),
        (200, "blob", "http://127.0.0.2:9/x?signature=<redacted>"),
    ],
    ids=["a 401", "a failure without an answer", "a URL whose signature was redacted"],
)
def test_what_curl_cannot_or_need_not_repeat_has_no_line(
    status: int | None, purpose: str, url: str
) -> None:
    """No line for a 401 (the token line covers it), a request that got no answer, or a URL
    whose secret part the trace redacted."""
    assert (
        curl_for(
            Exchange(method="GET", url=url, status=status, purpose=purpose, elapsed=0.0, bytes=0)
        )
        is None
    )


@pytest.mark.parametrize("mode", ["open", "basic", "token"])
def test_printed_skopeo_lines_run(
    request: pytest.FixtureRequest, mode: str, tmp_path: Path
) -> None:
    """tool_commands' skopeo lines for the rig's index run as printed (with --creds from the
    variables where the registry wants a login), platform overrides included."""
    registry: Registry = request.getfixturevalue(f"registry_{mode}")
    lines = tool_commands(registry.ref(seed.MULTI), platform="linux/arm64/v8", login=mode != "open")
    output = run_lines(lines["skopeo"], tmp_path, ALICE.name, ALICE.password)
    assert '"Architecture": "arm64"' in output
    assert all("--tls-verify=false" in line for line in lines["skopeo"])
    assert any("--plain-http" in line for line in lines["oras"])
    assert lines["regctl"][0] == f"regctl registry set --tls disabled {registry.host}"


def test_tool_lines_for_a_public_image_use_tls_and_the_image_shown() -> None:
    """For a public image the lines name that image (not a fixed one) and carry no
    plain-http flag."""
    lines = tool_commands(
        "ghcr.io/owner/app:1.2",
        platform="linux/amd64",
        layer="sha256:" + "a" * 64,
        compression="zstd",
    )
    text = "\n".join(line for tool in lines.values() for line in tool)
    assert "--insecure" not in text and "--plain-http" not in text and "tls" not in text
    assert "crane manifest ghcr.io/owner/app:1.2" in text
    assert "crane blob ghcr.io/owner/app@sha256:" + "a" * 64 + " | zstd -dc | tar -tv" in text
