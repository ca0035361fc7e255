"""The demo registry (ociinspect.demo) speaks the distribution protocol, as real tools see it,
and keeps its bounds: loopback only, bounded connections and scratch space, stops cleanly.

skopeo (containers/image) is the independent client: it inspects every tag, and copies an
image into the scratch repository with chunked PATCH uploads.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import zstandard
from rig import env

import ociinspect as oi
from ociinspect.demo import USER, DemoRegistry, demo_store, formats
from ociinspect.demo.formats import CHUNKED_MAGIC, CHUNKED_POSITION, FORMAT_TAGS
from ociinspect.demo.http import MAX_CONNECTIONS
from ociinspect.errors import RateLimitedError, SettingsError
from ociinspect.layers.reader import ImageReader
from ociinspect.testing import build
from ociinspect.values import mediatypes as mt

ROOT = Path(__file__).resolve().parents[1]
TAGS = [
    "sample:latest",
    "sample:1.0",
    "sample:2.0",
    "other/hello:latest",
    *(f"formats:{tag}" for tag in FORMAT_TAGS),
]


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoRegistry]:
    registry = DemoRegistry().start()
    yield registry
    registry.stop()


@pytest.fixture(autouse=True)
def no_handler_failures(request: pytest.FixtureRequest) -> Iterator[None]:
    """No test leaves a traceback in a demo server (a client hanging up is not one here)."""
    yield
    if "demo" in request.fixturenames:
        registry: DemoRegistry = request.getfixturevalue("demo")
        servers = (registry.registry, registry.token_server, registry.cdn)
        failures = [f for s in servers for f in s.failures if "Bad request version" not in f]
        assert failures == []


def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only, never a proxy
    return session


def token(demo: DemoRegistry, scope: str, auth: tuple[str, str] | None = None) -> str:
    answer = http().get(
        demo.token_url, params={"service": "ociinspect-demo", "scope": scope}, auth=auth, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def session_for(demo: DemoRegistry | None = None, **changes: object) -> oi.Session:
    settings = oi.Settings(cache=False, progress=False, docker_config=False)
    return oi.Session(settings.replace(**changes), sleep=lambda seconds: None)


def skopeo(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", *args], capture_output=True, text=True, timeout=120, env=env.child_env(home)
    )


# --------------------------------------------------------------------------- the protocol


@pytest.mark.registry
@pytest.mark.parametrize("tag", TAGS)
def test_skopeo_inspects_every_tag(demo: DemoRegistry, tag: str, tmp_path: Path) -> None:
    """skopeo reads each tag's raw manifest (bytes hashing to the registry's digest) and
    inspects it, through the token handshake and the CDN redirect."""
    name, _, reference = tag.partition(":")
    expected, _ = demo.store.resolve(name, reference) or ("", "")
    raw = skopeo(
        "inspect", "--raw", "--tls-verify=false", f"docker://{demo.ref(tag)}", home=tmp_path
    )
    assert raw.returncode == 0, raw.stderr
    assert "sha256:" + hashlib.sha256(raw.stdout.encode()).hexdigest() == expected
    full = skopeo("inspect", "--tls-verify=false", f"docker://{demo.ref(tag)}", home=tmp_path)
    assert full.returncode == 0, full.stderr
    assert json.loads(full.stdout)["Name"] == f"{demo.host}/{name}"


def test_first_request_is_challenged_with_the_token_server(demo: DemoRegistry) -> None:
    """An anonymous manifest GET answers 401 with a Bearer challenge naming the realm, the
    service and the scope; the token answers every field a client reads."""
    answer = http().get(f"{demo.url}/v2/sample/manifests/latest", timeout=10)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == (
        f'Bearer realm="{demo.token_url}",service="ociinspect-demo",scope="repository:sample:pull"'
    )
    assert answer.json()["errors"][0]["code"] == "UNAUTHORIZED"
    body = http().get(demo.token_url, params={"scope": "repository:sample:pull"}, timeout=10).json()
    assert set(body) == {"token", "access_token", "expires_in", "issued_at"}


def test_wrong_password_is_refused_by_the_token_server(demo: DemoRegistry) -> None:
    """A wrong password earns a 401 with a Basic challenge, not an anonymous token."""
    answer = http().get(
        demo.token_url, params={"scope": "repository:sample:pull"}, auth=(USER, "wrong"), timeout=10
    )
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic ")


def test_ociinspect_pulls_through_the_handshake_and_the_cdn(demo: DemoRegistry) -> None:
    """ociinspect's platforms table of sample:latest costs one 401 and one token; blobs come
    from the CDN origin, which never sees an Authorization header."""
    session = session_for()
    mark = len(demo.log)
    table = oi.platforms(demo.ref("sample:latest"), session=session)
    assert list(table["kind"]) == ["image"] * 3 + ["attestation"] * 3
    assert session.trace.count("token") == 1
    assert sum(e.status == 401 for e in session.trace) == 1
    cdn = [s for s in list(demo.log)[mark:] if s.origin == "cdn"]
    assert cdn and {s.authorization for s in cdn} == {""}
    assert {s.status for s in cdn} == {200}
    redirected = [e for e in session.trace if e.status == 307]
    assert redirected and all(
        e.response_headers["Location"].startswith(demo.cdn_url) for e in redirected
    )


def test_cdn_refuses_a_forwarded_authorization_header(demo: DemoRegistry) -> None:
    """Like S3, the CDN answers 400 when a client forwards the registry's token across the
    redirect (curl --location-trusted would)."""
    bearer = token(demo, "repository:sample:pull")
    digest = next(iter(demo.store.repositories["sample"].blobs))
    hop = http().get(
        f"{demo.url}/v2/sample/blobs/{digest}",
        headers={"Authorization": f"Bearer {bearer}"},
        allow_redirects=False,
        timeout=10,
    )
    assert hop.status_code == 307
    forwarded = http().get(
        hop.headers["Location"], headers={"Authorization": f"Bearer {bearer}"}, timeout=10
    )
    assert forwarded.status_code == 400
    clean = http().get(hop.headers["Location"], timeout=10)
    assert (
        clean.status_code == 200 and "sha256:" + hashlib.sha256(clean.content).hexdigest() == digest
    )


@pytest.mark.parametrize(
    "change",
    ["signature=0", "expires=1"],
    ids=["a tampered signature", "an expired URL"],
)
def test_cdn_refuses_a_url_it_did_not_sign(demo: DemoRegistry, change: str) -> None:
    """A pre-signed URL with another signature or an expiry in the past is 403."""
    digest = next(iter(demo.store.repositories["sample"].blobs))
    url = demo.cdn_location(digest)
    key, _, value = change.partition("=")
    parts = [p if not p.startswith(f"{key}=") else f"{key}={value}" for p in url.split("&")]
    parts[0] = parts[0] if key != "expires" else parts[0].split("?")[0] + f"?expires={value}"
    assert http().get("&".join(parts), timeout=10).status_code == 403


@pytest.mark.parametrize(
    ("header", "expected"),
    [("bytes=0-9", (0, 10)), ("bytes=5-", (5, None)), ("bytes=-4", (-4, None))],
    ids=["a first span", "an open end", "a suffix"],
)
def test_cdn_answers_ranges(
    demo: DemoRegistry, header: str, expected: tuple[int, int | None]
) -> None:
    """Range requests get 206 with exactly the bytes asked for and a Content-Range."""
    digest = demo.store.repositories["sample"].tags["latest"]
    data = demo.store.data[digest]
    answer = http().get(demo.cdn_location(digest), headers={"Range": header}, timeout=10)
    assert answer.status_code == 206
    assert answer.content == data[slice(*expected)]
    assert answer.headers["Content-Range"].endswith(f"/{len(data)}")


def test_tags_are_listed_page_by_page(demo: DemoRegistry) -> None:
    """tags/list honours n and last and links the next page; ociinspect follows the links."""
    bearer = token(demo, "repository:sample:pull")
    first = http().get(
        f"{demo.url}/v2/sample/tags/list?n=2",
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=10,
    )
    assert first.json()["tags"] == ["1.0", "2.0"]
    assert first.headers["Link"] == '</v2/sample/tags/list?last=2.0&n=2>; rel="next"'
    session = session_for()
    listed = list(session.client.list_tags(demo.host, "sample", page_size=2))
    assert listed == sorted(demo.store.repositories["sample"].tags)


def test_referrers_api_lists_the_sbom_and_the_sigstore_bundle(demo: DemoRegistry) -> None:
    """The referrers API lists the SBOM of the amd64 image and cosign's bundle of the index,
    with their artifact types and annotations; a filter says it was applied."""
    session = session_for()
    index = oi.open(demo.ref("sample:latest"), session=session)
    assert isinstance(index, oi.ImageIndex)
    listed = session.client.referrers(demo.host, "sample", index.digest).json["manifests"]
    assert [m["artifactType"] for m in listed] == ["application/vnd.dev.sigstore.bundle.v0.3+json"]
    assert listed[0]["annotations"]["dev.sigstore.bundle.content"] == "message-signature"
    sboms = oi.referrers(oi.image(index, "linux/amd64"), session=session)
    assert list(sboms["artifact_type"]) == ["application/spdx+json"]
    bearer = token(demo, "repository:sample:pull")
    filtered = http().get(
        f"{demo.url}/v2/sample/referrers/{index.digest}?artifactType=application/spdx+json",
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=10,
    )
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert filtered.json()["manifests"] == []


def test_legacy_cosign_signature_tag_points_at_a_simplesigning_payload(demo: DemoRegistry) -> None:
    """The index also has cosign's legacy sha256-<hex>.sig tag, whose payload names it."""
    session = session_for()
    index = oi.open(demo.ref("sample:latest"), session=session)
    sig = oi.image(demo.ref(f"sample:{index.digest.replace(':', '-')}.sig"), session=session)
    layer = sig.layers[0]
    assert layer.media_type == "application/vnd.dev.cosign.simplesigning.v1+json"
    payload = json.loads(sig.source.blob(layer.digest, layer.size))
    assert payload["critical"]["image"]["docker-manifest-digest"] == index.digest


def test_zstd_chunked_layer_is_plain_zstd_with_a_table_of_contents(demo: DemoRegistry) -> None:
    """zstd decompresses the zstd:chunked layer to the tar its diff_id names; the annotation's
    position finds the compressed table of contents, and the footer ends with the magic."""
    img = oi.image(demo.ref("formats:oci-zstd-chunked"), session=session_for())
    layer = img.layers[0]
    data = img.source.blob(layer.digest, layer.size)
    tar = subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
    assert "sha256:" + hashlib.sha256(tar).hexdigest() == img.config.diff_ids[0]
    offset, length, size, kind = map(int, layer.annotations[CHUNKED_POSITION].split(":"))
    toc = json.loads(zstandard.ZstdDecompressor().decompress(data[offset : offset + length]))
    assert len(json.dumps(toc, separators=(",", ":"))) == size and kind == 1
    files = [e for e in toc["entries"] if e["type"] == "reg"]
    first = files[0]
    frame = zstandard.ZstdDecompressor().decompress(data[first["offset"] : first["endOffset"]])
    assert "sha256:" + hashlib.sha256(frame[: first["size"]]).hexdigest() == first["digest"]
    assert data.endswith(CHUNKED_MAGIC)


def test_estargz_layer_is_plain_gzip_read_through_its_table_of_contents(
    demo: DemoRegistry,
) -> None:
    """gzip -d gives the tar the diff_id names (with the landmark first and the TOC last, as
    ctr-remote writes them); read_file of the demo's eStargz image goes through the footer and
    TOC with no pass, and the TOC's index equals the one a verified pass builds."""
    img = oi.image(demo.ref("formats:oci-estargz"), session=session_for())
    layer = img.layers[0]
    data = img.source.blob(layer.digest, layer.size)
    tar = subprocess.run(["gzip", "-dc"], input=data, capture_output=True, check=True).stdout
    assert "sha256:" + hashlib.sha256(tar).hexdigest() == img.config.diff_ids[0]
    names = subprocess.run(["tar", "-tf", "-"], input=tar, capture_output=True, check=True)
    listed = names.stdout.decode().split()
    assert listed[0] == ".no.prefetch.landmark" and listed[-1] == "stargz.index.json"
    reader = ImageReader(img)
    wanted = next(m for m in formats.members() if m.path.endswith("chapter-03.txt"))
    assert reader.read("/" + wanted.path) == wanted.data
    assert reader.passes == 0 and reader.range_requests == 3  # footer, TOC, the file's member
    from_toc = [(m.key, m.type, m.size, m.sha256) for m in reader.index(0).members]
    assert from_toc == [(m.key, m.type, m.size, m.sha256) for m in reader._pass(0).members]  # noqa: SLF001


# --------------------------------------------------------------------------- rate limits


def test_rate_limit_headers_count_gets_and_not_heads() -> None:
    """With a limit, manifest answers carry Docker Hub's headers; a HEAD spends nothing, a
    GET one pull."""
    with DemoRegistry(rate_limit=10) as demo:
        client = session_for().client
        client.head_manifest(demo.host, "sample", "latest")
        assert demo.pulls == 0
        client.get_manifest(demo.host, "sample", "latest")
        assert demo.pulls == 1
        last = [e for e in client.trace if e.status == 200][-1]
        assert last.response_headers["ratelimit-remaining"] == "9;w=21600"
        assert last.response_headers["ratelimit-limit"] == "10;w=21600"


def test_manifest_gets_past_the_limit_answer_429() -> None:
    """After N pulls a GET is 429 TOOMANYREQUESTS with Retry-After and remaining 0, which
    ociinspect raises as RateLimitedError; HEAD still answers."""
    with DemoRegistry(fail_after=2, retry_after=0) as demo:
        client = session_for().client
        for _ in range(2):
            client.get_manifest(demo.host, "sample", "latest")
        with pytest.raises(RateLimitedError, match="TOOMANYREQUESTS"):
            client.get_manifest(demo.host, "sample", "latest")
        refused = [e for e in client.trace if e.status == 429][-1]
        assert refused.response_headers["Retry-After"] == "0"
        assert refused.response_headers["ratelimit-remaining"] == "0;w=21600"
        assert client.head_manifest(demo.host, "sample", "latest").digest


# --------------------------------------------------------------------------- pushing


def _push(
    demo: DemoRegistry, repository: str, image: build.BuiltImage, tag: str
) -> requests.Response:
    """Push ``image`` by hand, as the build-by-hand lesson does: POST + PUT per blob, then
    the manifest."""
    bearer = token(demo, f"repository:{repository}:pull,push", auth=(USER, demo.tokens.password))
    client = http()
    client.headers["Authorization"] = f"Bearer {bearer}"
    for blob in (*image.layers, image.config):
        started = client.post(f"{demo.url}/v2/{repository}/blobs/uploads/", timeout=10)
        assert started.status_code == 202
        done = client.put(
            f"{demo.url}{started.headers['Location']}?digest={blob.digest}",
            data=blob.data,
            timeout=10,
        )
        assert done.status_code == 201, done.text
    return client.put(
        f"{demo.url}/v2/{repository}/manifests/{tag}",
        data=image.manifest.data,
        headers={"Content-Type": image.media_type},
        timeout=10,
    )


def _tiny(content: bytes = b"hi\n") -> build.BuiltImage:
    return build.image([build.layer([build.file("hello.txt", content)])])


@pytest.mark.registry
def test_an_image_pushed_by_hand_is_what_skopeo_inspects(
    demo: DemoRegistry, tmp_path: Path
) -> None:
    """Blobs uploaded and a manifest PUT into scratch/ answer 201 with the digest, and skopeo
    inspects the result by tag."""
    image = _tiny()
    answer = _push(demo, "scratch/by-hand", image, "v1")
    assert answer.status_code == 201 and answer.headers["Docker-Content-Digest"] == image.digest
    shown = skopeo(
        "inspect", "--tls-verify=false", f"docker://{demo.ref('scratch/by-hand:v1')}", home=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["Digest"] == image.digest


@pytest.mark.registry
def test_skopeo_copies_into_scratch_with_the_demo_login(demo: DemoRegistry, tmp_path: Path) -> None:
    """skopeo copy (chunked PATCH uploads, mounts, manifest PUT) into scratch/ succeeds with
    the demo user's login, and the copy has the source's digest."""
    source = f"docker://{demo.ref('sample:2.0')}"
    target = f"docker://{demo.ref('scratch/copy:2.0')}"
    copied = skopeo(
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--dest-creds",
        f"{USER}:{demo.tokens.password}",
        source,
        target,
        home=tmp_path,
    )
    assert copied.returncode == 0, copied.stderr
    assert demo.store.resolve("scratch/copy", "2.0") is not None
    assert demo.store.resolve("scratch/copy", "2.0")[0] == demo.store.resolve("sample", "2.0")[0]


@pytest.mark.parametrize("who", ["anonymous", "the demo user"])
def test_read_only_repositories_refuse_pushes(demo: DemoRegistry, who: str) -> None:
    """Nobody pushes outside scratch/: the token grants no push there, so the registry
    answers 401 insufficient_scope."""
    auth = (USER, demo.tokens.password) if who != "anonymous" else None
    bearer = token(demo, "repository:sample:pull,push", auth=auth)
    answer = http().post(
        f"{demo.url}/v2/sample/blobs/uploads/",
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=10,
    )
    assert answer.status_code == 401
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]


def test_a_manifest_naming_a_missing_blob_is_refused(demo: DemoRegistry) -> None:
    """A manifest PUT whose layers were never pushed is 400 MANIFEST_BLOB_UNKNOWN, and
    nothing is tagged."""
    image = _tiny(b"never pushed\n")
    bearer = token(demo, "repository:scratch/missing:pull,push", auth=(USER, demo.tokens.password))
    answer = http().put(
        f"{demo.url}/v2/scratch/missing/manifests/v1",
        data=image.manifest.data,
        headers={"Content-Type": mt.OCI_MANIFEST, "Authorization": f"Bearer {bearer}"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
    assert demo.store.resolve("scratch/missing", "v1") is None


def test_a_blob_whose_digest_does_not_match_is_refused(demo: DemoRegistry) -> None:
    """A monolithic upload with a digest the bytes do not hash to is 400 DIGEST_INVALID."""
    bearer = token(demo, "repository:scratch/bad:pull,push", auth=(USER, demo.tokens.password))
    answer = http().post(
        f"{demo.url}/v2/scratch/bad/blobs/uploads/?digest=sha256:{'0' * 64}",
        data=b"not that",
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == "DIGEST_INVALID"


# --------------------------------------------------------------------------- bounds


def test_scratch_space_refuses_pushes_past_its_bound() -> None:
    """A push that would exceed the scratch space is 413 and stores nothing."""
    with DemoRegistry(store=demo_store(scratch_max_bytes=64 * 1024)) as demo:
        bearer = token(demo, "repository:scratch/big:pull,push", auth=(USER, demo.tokens.password))
        data = os.urandom(100 * 1024)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        answer = http().post(
            f"{demo.url}/v2/scratch/big/blobs/uploads/?digest={digest}",
            data=data,
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=10,
        )
        assert answer.status_code == 413
        assert demo.store.scratch_bytes == 0 and digest not in demo.store.data


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "example.com"])
def test_the_demo_listens_on_loopback_only(host: str) -> None:
    """Any address that is not loopback is refused before anything is bound."""
    with pytest.raises(SettingsError, match="loopback only"):
        DemoRegistry(host=host, store=demo_store())


def test_connections_past_the_bound_get_503(demo: DemoRegistry) -> None:
    """With MAX_CONNECTIONS idle connections open, the next one is answered 503 and closed."""
    host, port = demo.registry.server_address[:2]
    held = [socket.create_connection((host, port), timeout=5) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)
        extra = socket.create_connection((host, port), timeout=5)
        assert extra.recv(100).startswith(b"HTTP/1.1 503")
        extra.close()
    finally:
        for sock in held:
            sock.close()


def test_stop_closes_every_port() -> None:
    """After stop() the registry, token server and CDN refuse connections."""
    demo = DemoRegistry(store=demo_store()).start()
    addresses = [s.server_address[:2] for s in (demo.registry, demo.token_server, demo.cdn)]
    demo.stop()
    for address in addresses:
        with pytest.raises(OSError):
            socket.create_connection(address, timeout=2).close()
    assert not demo.running


def test_python_m_ociinspect_demo_serves_until_interrupted(tmp_path: Path) -> None:
    """python -m ociinspect.demo prints its references, answers /v2/ with a challenge, and
    exits 0 on Ctrl-C."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ociinspect.demo"],
        stdout=subprocess.PIPE,
        text=True,
        env={**env.child_env(tmp_path), "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        lines = []
        while not lines or "Ctrl-C" not in lines[-1]:
            lines.append(process.stdout.readline())
            assert lines[-1], "the demo exited early"
        url = lines[0].split()[3]
        assert http().get(f"{url}/v2/", timeout=10).status_code == 401
        assert any("/sample:latest" in line for line in lines)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill() if process.poll() is None else None


def test_the_demo_ends_with_its_process(tmp_path: Path) -> None:
    """A process that started a demo and did not stop it exits at once, and its port closes:
    the servers run in daemon threads (a kernel that restarts leaves nothing behind)."""
    code = (
        "from ociinspect import demo; d = demo.start(); "
        "print(d.registry.server_address[1], flush=True)"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env.child_env(tmp_path), "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0 and done.stderr == ""
    assert time.monotonic() - started < 30
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(done.stdout)), timeout=2).close()
