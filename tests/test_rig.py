"""The registry rig really works: plain requests and skopeo against the real docker-registry."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import subprocess
import time
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding
from rig import ALICE, BOB, Registry, env, seed, start_registry
from rig.registry import parse_access_line

from ociinspect.values import mediatypes as mt

pytestmark = pytest.mark.registry

ACCEPT = ", ".join(mt.MANIFEST_ACCEPT)
PUBLIC = [ref for ref in seed.REFERENCES if not ref.startswith("private/")]


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _manifest_url(registry: Registry, reference: str) -> str:
    repository, _, tag = reference.rpartition(":")
    return f"{registry.url}/v2/{repository}/manifests/{tag}"


def _token(registry: Registry, scope: str, auth: tuple[str, str] | None = None) -> str:
    assert registry.token_server is not None
    answer = requests.get(
        registry.token_server.realm,
        auth=auth,
        timeout=10,
        params={"service": registry.token_server.service, "scope": scope},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": ACCEPT}


def _skopeo(*args: str, home: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["skopeo", *args], capture_output=True, timeout=120, check=False, env=env.child_env(home)
    )


# ------------------------------------------------------------------------------- open mode


def test_open_registry_answers_the_version_check(registry_open: Registry) -> None:
    """GET /v2/ on the open registry is 200 with the distribution API version header."""
    answer = requests.get(f"{registry_open.url}/v2/", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert registry_open.host.startswith("127.0.0.1:")


@pytest.mark.parametrize("reference", seed.REFERENCES, ids=lambda ref: f"{ref} is served")
def test_open_registry_serves_every_seeded_manifest(
    registry_open: Registry, reference: str
) -> None:
    """Each seeded tag answers the exact bytes whose sha256 is the digest the builder made."""
    expected = registry_open.seeded[reference]
    answer = requests.get(
        _manifest_url(registry_open, reference), timeout=10, headers={"Accept": ACCEPT}
    )
    assert answer.status_code == 200
    assert answer.content == expected.raw
    assert _sha256(answer.content) == answer.headers["Docker-Content-Digest"] == expected.digest
    assert mt.strip_parameters(answer.headers["Content-Type"]) == expected.media_type


def test_blob_get_redirects_to_the_cdn_which_serves_the_bytes(registry_open: Registry) -> None:
    """A blob GET is a 307 to 127.0.0.2 and the CDN answers the blob's exact bytes."""
    layer = registry_open.seeded[seed.MULTI].image("linux/arm/v7").layers[1]
    url = f"{registry_open.url}/v2/demo/multi/blobs/{layer.digest}"
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 307
    hex_ = layer.digest.split(":")[1]
    assert registry_open.cdn is not None
    assert answer.headers["Location"] == (
        f"{registry_open.cdn.url}/docker/registry/v2/blobs/sha256/{hex_[:2]}/{hex_}/data"
    )
    assert answer.headers["Location"].startswith("http://127.0.0.2:")
    followed = requests.get(url, timeout=10)
    assert followed.content == layer.data
    assert [(r.method, r.status) for r in registry_open.cdn.requests()] == [("GET", 200)]


def test_blob_head_redirects_too(registry_open: Registry) -> None:
    """distribution 2.8.2 redirects HEAD of a blob as well as GET."""
    config = registry_open.seeded[seed.SINGLE].image().config
    answer = requests.head(f"{registry_open.url}/v2/demo/single/blobs/{config.digest}", timeout=10)
    assert answer.status_code == 307
    assert answer.headers["Location"].startswith("http://127.0.0.2:")


@pytest.mark.parametrize(
    ("range_header", "status", "span"),
    [
        ("bytes=0-9", 206, slice(0, 10)),
        ("bytes=100-", 206, slice(100, None)),
        ("bytes=-16", 206, slice(-16, None)),
        ("bytes=999999999-", 416, slice(0, 0)),
    ],
    ids=["a closed range", "an open-ended range", "a suffix range", "a range past the end"],
)
def test_cdn_supports_single_ranges(
    registry_open: Registry, range_header: str, status: int, span: slice
) -> None:
    """The CDN answers 206 with the requested slice, or 416 when the range cannot be met."""
    big = registry_open.seeded[seed.BIG].image().layers[0]
    assert registry_open.cdn is not None
    answer = requests.get(
        f"{registry_open.cdn.url}{_blob_path(big.digest)}",
        timeout=10,
        headers={"Range": range_header},
    )
    assert answer.status_code == status
    if status == 206:
        assert answer.content == big.data[span]
        assert answer.headers["Content-Range"].endswith(f"/{big.size}")


def _blob_path(digest: str) -> str:
    hex_ = digest.split(":")[1]
    return f"/docker/registry/v2/blobs/sha256/{hex_[:2]}/{hex_}/data"


def test_cdn_records_headers_so_a_leaked_authorization_would_show(registry_open: Registry) -> None:
    """The CDN keeps each request's headers: an Authorization sent to it is visible."""
    assert registry_open.cdn is not None
    digest = registry_open.seeded[seed.DOCKER].image().config.digest
    requests.get(
        f"{registry_open.cdn.url}{_blob_path(digest)}",
        timeout=10,
        headers={"Authorization": "Bearer leaked"},
    )
    (seen,) = registry_open.cdn.requests()
    assert seen.header("authorization") == "Bearer leaked"
    assert seen.path == _blob_path(digest)


def test_access_log_counts_requests_since_reset(registry_open: Registry) -> None:
    """registry.requests() parses the access log and starts empty for each test."""
    assert registry_open.requests() == []
    for _ in range(3):
        requests.get(f"{registry_open.url}/v2/", timeout=10)
    requests.head(_manifest_url(registry_open, seed.SINGLE), headers={"Accept": ACCEPT}, timeout=10)
    records = registry_open.requests()
    assert [(r.method, r.path, r.status) for r in records] == [("GET", "/v2/", 200)] * 3 + [
        ("HEAD", "/v2/demo/single/manifests/latest", 200)
    ]
    assert len(registry_open.requests(since_reset=False)) > len(records)
    assert any('"listening on' in line for line in registry_open.log_lines())


def test_access_log_line_parsing() -> None:
    """A combined-format line becomes an AccessRecord; other text is ignored."""
    line = (
        '127.0.0.1 - - [27/Nov/2026:01:55:51 +0000] "GET /v2/a/b/manifests/x?y=1 HTTP/1.1" '
        '404 96 "" "ua/1 \\"q\\""'
    )
    record = parse_access_line(line)
    assert record is not None
    assert (record.method, record.path, record.target, record.status, record.size) == (
        "GET",
        "/v2/a/b/manifests/x",
        "/v2/a/b/manifests/x?y=1",
        404,
        96,
    )
    assert parse_access_line("time=x level=info msg=hello") is None


# ------------------------------------------------------------------------------- proxy


def test_proxy_passes_redirects_through_unchanged(registry_open: Registry) -> None:
    """Through the proxy a blob GET is still a 307 with the registry's Location."""
    proxy = registry_open.proxy()
    digest = registry_open.seeded[seed.SINGLE].image().config.digest
    direct = requests.get(
        f"{registry_open.url}/v2/demo/single/blobs/{digest}", allow_redirects=False, timeout=10
    )
    via = requests.get(
        f"{proxy.url}/v2/demo/single/blobs/{digest}", allow_redirects=False, timeout=10
    )
    assert via.status_code == 307
    assert via.headers["Location"] == direct.headers["Location"]
    assert proxy.count("GET", "/blobs/") == 1


def test_proxy_injects_rate_limits_then_recovers(registry_open: Registry) -> None:
    """A rate_limit rule answers 429 with Retry-After the given number of times, then forwards."""
    proxy = registry_open.proxy()
    proxy.faults.rate_limit(times=2, retry_after="3", path="/manifests/")
    url = _manifest_url(registry_open, seed.SINGLE).replace(registry_open.url, proxy.url)
    answers = [requests.get(url, headers={"Accept": ACCEPT}, timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3"
    assert answers[0].json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert _sha256(answers[2].content) == registry_open.seeded[seed.SINGLE].digest
    assert [r.status for r in proxy.requests()] == [429, 429, 200]
    assert len([r for r in registry_open.requests() if "/manifests/" in r.path]) == 1


def test_proxy_strips_headers_and_tampers_bodies(registry_open: Registry) -> None:
    """strip_header drops Docker-Content-Digest; tamper rewrites the body and its length."""
    proxy = registry_open.proxy()
    proxy.faults.strip_header("Docker-Content-Digest")
    proxy.faults.tamper(lambda body: body + b" ", times=1)
    url = _manifest_url(registry_open, seed.SINGLE).replace(registry_open.url, proxy.url)
    first = requests.get(url, headers={"Accept": ACCEPT}, timeout=10)
    second = requests.get(url, headers={"Accept": ACCEPT}, timeout=10)
    assert "Docker-Content-Digest" not in first.headers
    assert first.content == registry_open.seeded[seed.SINGLE].raw + b" "
    assert int(first.headers["Content-Length"]) == len(first.content)
    assert second.content == registry_open.seeded[seed.SINGLE].raw


def test_proxy_injects_server_errors_and_drops(registry_open: Registry) -> None:
    """fail(503) answers 503 once; drop closes the connection without an answer."""
    proxy = registry_open.proxy()
    proxy.faults.fail(503, times=1)
    assert requests.get(f"{proxy.url}/v2/", timeout=10).status_code == 503
    assert requests.get(f"{proxy.url}/v2/", timeout=10).status_code == 200
    proxy.faults.drop(times=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{proxy.url}/v2/", timeout=10)
    assert [r.status for r in proxy.requests()] == [503, 200, None]


def test_proxy_delays_matching_requests(registry_open: Registry) -> None:
    """delay() holds matching requests back for the given time and leaves others alone."""
    proxy = registry_open.proxy()
    proxy.faults.delay(0.3, path="/manifests/")
    started = time.monotonic()
    assert requests.get(f"{proxy.url}/v2/", timeout=10).status_code == 200
    quick = time.monotonic() - started
    url = _manifest_url(registry_open, seed.SINGLE).replace(registry_open.url, proxy.url)
    started = time.monotonic()
    assert requests.get(url, headers={"Accept": ACCEPT}, timeout=10).status_code == 200
    assert quick < 0.3 <= time.monotonic() - started


def test_proxy_truncates_bodies(registry_open: Registry) -> None:
    """truncate promises the full Content-Length but sends fewer bytes, then closes."""
    proxy = registry_open.proxy()
    proxy.faults.truncate(10, path="/manifests/")
    url = _manifest_url(registry_open, seed.SINGLE).replace(registry_open.url, proxy.url)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url, headers={"Accept": ACCEPT}, timeout=10)


def test_proxies_stop_at_reset(registry_open: Registry) -> None:
    """reset() (run between tests) stops the test's proxies and frees their ports."""
    proxy = registry_open.proxy()
    host, port = proxy.host.split(":")
    registry_open.reset()
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, int(port)), 1):
        pass


# ------------------------------------------------------------------------------- token mode


def test_token_registry_challenges_with_the_token_server_realm(registry_token: Registry) -> None:
    """An anonymous manifest GET is 401 with a Bearer challenge naming realm, service, scope."""
    assert registry_token.token_server is not None
    answer = requests.get(
        _manifest_url(registry_token, seed.SINGLE), timeout=10, headers={"Accept": ACCEPT}
    )
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == (
        f'Bearer realm="{registry_token.token_server.realm}",service="ociinspect-rig",'
        'scope="repository:demo/single:pull"'
    )


@pytest.mark.parametrize("reference", PUBLIC, ids=lambda ref: f"{ref} with an anonymous token")
def test_anonymous_token_pulls_public_manifests(registry_token: Registry, reference: str) -> None:
    """An anonymous token for a public repository fetches the expected manifest bytes."""
    repository = reference.rpartition(":")[0]
    token = _token(registry_token, f"repository:{repository}:pull")
    answer = requests.get(
        _manifest_url(registry_token, reference), headers=_bearer(token), timeout=10
    )
    assert answer.status_code == 200
    assert _sha256(answer.content) == registry_token.seeded[reference].digest


def test_token_is_an_rs256_jwt_distribution_accepts(registry_token: Registry) -> None:
    """The JWT is RS256 with an x5c certificate and a plain-string aud equal to the service."""
    server = registry_token.token_server
    assert server is not None
    token = _token(registry_token, "repository:demo/single:pull", auth=(ALICE.name, ALICE.password))
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert base64.b64decode(header["x5c"][0]) == server.certificate.public_bytes(Encoding.DER)
    public_key = server.certificate.public_key()
    assert isinstance(public_key, RSAPublicKey)
    claims = jwt.decode(
        token,
        public_key,
        algorithms=["RS256"],
        audience=server.service,
        issuer=server.issuer,
    )
    assert claims["aud"] == "ociinspect-rig"
    assert claims["sub"] == "alice"
    assert claims["access"] == [{"type": "repository", "name": "demo/single", "actions": ["pull"]}]
    assert {"exp", "nbf", "iat", "jti"} <= claims.keys()


def test_blob_redirect_carries_no_authorization_to_the_cdn(registry_token: Registry) -> None:
    """With a Bearer token, the blob's 307 is followed to the CDN without Authorization."""
    token = _token(registry_token, "repository:demo/multi:pull")
    layer = registry_token.seeded[seed.MULTI].image("linux/amd64").layers[0]
    answer = requests.get(
        f"{registry_token.url}/v2/demo/multi/blobs/{layer.digest}",
        headers=_bearer(token),
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.content == layer.data
    assert answer.history[0].status_code == 307
    assert registry_token.cdn is not None
    (seen,) = registry_token.cdn.requests()
    assert not seen.has_header("Authorization")


@pytest.mark.parametrize(
    ("auth", "allowed"),
    [
        (None, False),
        ((BOB.name, BOB.password), False),
        ((ALICE.name, ALICE.password), True),
    ],
    ids=["anonymous is refused", "bob is authenticated but refused", "alice may pull"],
)
def test_private_repository_is_only_for_alice(
    registry_token: Registry, auth: tuple[str, str] | None, allowed: bool
) -> None:
    """private/ repositories grant pull to alice only; others get 401 insufficient_scope."""
    token = _token(registry_token, "repository:private/secret:pull", auth=auth)
    answer = requests.get(
        _manifest_url(registry_token, seed.PRIVATE), headers=_bearer(token), timeout=10
    )
    if allowed:
        assert answer.status_code == 200
        assert _sha256(answer.content) == registry_token.seeded[seed.PRIVATE].digest
    else:
        assert answer.status_code == 401
        assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]


def test_token_server_refuses_wrong_passwords(registry_token: Registry) -> None:
    """Wrong Basic credentials at the token endpoint are a 401, recorded as invalid."""
    assert registry_token.token_server is not None
    answer = requests.get(
        registry_token.token_server.realm,
        auth=(ALICE.name, "wrong"),
        params={"scope": "repository:demo/single:pull"},
        timeout=10,
    )
    assert answer.status_code == 401
    assert registry_token.token_server.count(identity="invalid:alice") == 1


def test_token_server_counts_requests_per_scope_and_identity(registry_token: Registry) -> None:
    """Every token request is recorded with its scopes, identity and headers."""
    server = registry_token.token_server
    assert server is not None
    _token(registry_token, "repository:demo/single:pull")
    _token(registry_token, "repository:demo/single:pull", auth=(ALICE.name, ALICE.password))
    _token(registry_token, "repository:demo/multi:pull")
    assert server.count() == 3
    assert server.count(scope="repository:demo/single:pull") == 2
    assert server.count(scope="repository:demo/single:pull", identity="alice") == 1
    assert server.count(identity="anonymous") == 2
    alice = [r for r in server.requests() if r.identity == "alice"][0]
    assert (alice.header("Authorization") or "").startswith("Basic ")


def test_token_server_expiry_is_configurable(registry_token: Registry) -> None:
    """expires_in is echoed in the body (or left out) and sets the JWT lifetime."""
    server = registry_token.token_server
    assert server is not None
    server.expires_in = 7
    body = requests.get(
        server.realm, timeout=10, params={"scope": "repository:demo/single:pull"}
    ).json()
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert body["expires_in"] == 7
    assert claims["exp"] - claims["iat"] == 7
    server.expires_in = None
    assert "expires_in" not in requests.get(server.realm, timeout=10).json()


def test_token_server_can_answer_garbage(registry_token: Registry) -> None:
    """A fault rule makes the token endpoint answer what a hostile test asks for."""
    server = registry_token.token_server
    assert server is not None
    server.faults.fail(200, body=b"<html>not a token</html>", times=1)
    garbage = requests.get(server.realm, timeout=10, params={"scope": "repository:x:pull"})
    assert (garbage.status_code, garbage.content) == (200, b"<html>not a token</html>")
    assert "token" in requests.get(server.realm, timeout=10).json()
    assert server.count(scope="repository:x:pull") == 1


def test_token_server_oauth2_post_and_refresh_tokens(registry_token: Registry) -> None:
    """POST /token with a password grant issues a refresh token that a refresh grant accepts."""
    server = registry_token.token_server
    assert server is not None
    first = requests.post(
        server.realm,
        timeout=10,
        data={
            "grant_type": "password",
            "username": ALICE.name,
            "password": ALICE.password,
            "service": server.service,
            "scope": "repository:private/secret:pull",
            "client_id": "rig-test",
            "access_type": "offline",
        },
    ).json()
    refreshed = requests.post(
        server.realm,
        timeout=10,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "service": server.service,
            "scope": "repository:private/secret:pull",
        },
    ).json()
    answer = requests.get(
        _manifest_url(registry_token, seed.PRIVATE),
        headers=_bearer(refreshed["access_token"]),
        timeout=10,
    )
    assert answer.status_code == 200
    assert server.count(method="POST", identity="alice") == 2


def test_skopeo_pushes_with_alice_but_not_anonymously(
    registry_token: Registry, tmp_path: Path
) -> None:
    """The token server grants push to alice only, so skopeo can seed through token auth."""
    source = f"docker://{registry_token.host}/{seed.DOCKER}"
    target = f"docker://{registry_token.host}/scratch/pushed:latest"
    common = [
        "copy",
        "--quiet",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--src-no-creds",
    ]
    denied = _skopeo(*common, "--dest-no-creds", source, target, home=tmp_path)
    assert denied.returncode != 0
    assert b"unauthorized" in denied.stderr.lower() or b"denied" in denied.stderr.lower()
    pushed = _skopeo(
        *common, f"--dest-creds={ALICE.name}:{ALICE.password}", source, target, home=tmp_path
    )
    assert pushed.returncode == 0, pushed.stderr
    token = _token(registry_token, "repository:scratch/pushed:pull")
    answer = requests.get(
        f"{registry_token.url}/v2/scratch/pushed/manifests/latest",
        headers=_bearer(token),
        timeout=10,
    )
    assert _sha256(answer.content) == registry_token.seeded[seed.DOCKER].digest
    assert registry_token.token_server is not None
    assert registry_token.token_server.count(identity="alice") >= 1


# ------------------------------------------------------------------------------- basic mode


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        (None, 401),
        ((ALICE.name, ALICE.password), 200),
        ((BOB.name, BOB.password), 200),
        ((ALICE.name, "wrong"), 401),
    ],
    ids=[
        "no credentials are refused",
        "alice is let in",
        "bob is let in",
        "a wrong password is refused",
    ],
)
def test_htpasswd_registry_checks_basic_credentials(
    registry_basic: Registry, auth: tuple[str, str] | None, status: int
) -> None:
    """The htpasswd registry lets rig users in with Basic auth and challenges everyone else."""
    answer = requests.get(
        _manifest_url(registry_basic, seed.PRIVATE),
        auth=auth,
        timeout=10,
        headers={"Accept": ACCEPT},
    )
    assert answer.status_code == status
    if status == 401:
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="ociinspect-rig"'
    else:
        assert _sha256(answer.content) == registry_basic.seeded[seed.PRIVATE].digest


def test_basic_auth_is_not_sent_to_the_cdn(registry_basic: Registry) -> None:
    """Following a blob redirect from the htpasswd registry sends no Authorization onward."""
    layer = registry_basic.seeded[seed.SINGLE].image().layers[2]
    answer = requests.get(
        f"{registry_basic.url}/v2/demo/single/blobs/{layer.digest}",
        auth=(ALICE.name, ALICE.password),
        timeout=10,
    )
    assert answer.content == layer.data
    assert registry_basic.cdn is not None
    assert [r.has_header("Authorization") for r in registry_basic.cdn.requests()] == [False]


# ------------------------------------------------------------------------------- skopeo


@pytest.mark.parametrize("reference", seed.REFERENCES, ids=lambda ref: f"skopeo sees {ref}")
def test_skopeo_inspect_raw_gives_the_expected_digest(
    registry_token: Registry, reference: str, tmp_path: Path
) -> None:
    """skopeo (a second, independent client) reads back each seeded image's exact bytes."""
    result = _skopeo(
        "inspect",
        "--raw",
        "--tls-verify=false",
        f"--creds={ALICE.name}:{ALICE.password}",
        f"docker://{registry_token.ref(reference)}",
        home=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert _sha256(result.stdout) == registry_token.seeded[reference].digest


def test_every_mode_holds_the_same_seeded_content(
    registry_open: Registry, registry_basic: Registry
) -> None:
    """Registries copy one seeded storage, so a tag has the same digest in every mode."""
    auth = (ALICE.name, ALICE.password)
    for registry in (registry_open, registry_basic):
        answer = requests.get(
            _manifest_url(registry, seed.DOCKER_LIST),
            auth=auth,
            timeout=10,
            headers={"Accept": ACCEPT},
        )
        assert answer.headers["Docker-Content-Digest"] == registry.seeded[seed.DOCKER_LIST].digest
    assert registry_open.storage_dir != registry_basic.storage_dir


# ------------------------------------------------------------------------------- lifecycle


def test_a_stopped_registry_leaves_no_process_or_port(tmp_path: Path) -> None:
    """stop() ends the registry process, the CDN and the token server and frees their ports."""
    registry = start_registry("token", tmp_path / "extra", None, {})
    assert registry.token_server is not None and registry.cdn is not None
    endpoints = [registry.host, registry.cdn.host, registry.token_server.host]
    assert requests.get(f"{registry.url}/v2/", timeout=10).status_code == 401
    process = registry.process.process
    registry.stop()
    assert process.poll() is not None
    for endpoint in endpoints:
        host, port = endpoint.split(":")
        with pytest.raises(ConnectionRefusedError), socket.create_connection((host, int(port)), 1):
            pass
    registry.stop()  # idempotent


def test_seed_catalog_is_deterministic() -> None:
    """Building the seed catalog twice gives the same digests (so expectations are stable)."""
    first, second = seed.catalog(), seed.catalog()
    assert tuple(first) == seed.REFERENCES
    assert {k: v.digest for k, v in first.items()} == {k: v.digest for k, v in second.items()}
    assert json.loads(first[seed.MULTI].raw)["mediaType"] == mt.OCI_INDEX
