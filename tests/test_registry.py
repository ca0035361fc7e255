"""The distribution client against the real registry rig: docker-registry, token server, CDN."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from rig import ALICE, BOB, Registry, seed

from ociinspect import registry
from ociinspect.distribution import auth
from ociinspect.distribution.client import RegistryClient
from ociinspect.distribution.credentials import Credentials
from ociinspect.distribution.protocol import MAX_MANIFEST_SIZE
from ociinspect.distribution.retry import RetryPolicy
from ociinspect.errors import (
    DeniedError,
    DigestMismatchError,
    InvalidReferenceError,
    NotFoundError,
    RateLimitedError,
    SizeLimitError,
    UnauthorizedError,
)
from ociinspect.values import mediatypes
from ociinspect.values.digest import Digest

pytestmark = pytest.mark.registry

SCOPE_MULTI = "repository:demo/multi:pull"


def client(**kwargs: object) -> RegistryClient:
    """A client that never reads the developer's own auth files and never really sleeps."""
    kwargs.setdefault("credential_lookup", None)
    kwargs.setdefault("sleep", lambda seconds: None)
    return RegistryClient(**kwargs)  # type: ignore[arg-type]


def alice() -> Credentials:
    return Credentials(ALICE.name, ALICE.password)


# -- manifests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", seed.REFERENCES[:-1], ids=lambda r: f"tag {r} matches its seed")
def test_manifest_by_tag_returns_exact_bytes_and_digest(registry_open: Registry, ref: str) -> None:
    """A tag fetch returns the registry's exact bytes, their digest and the media type."""
    seeded = registry_open.seeded[ref]
    repo, _, tag = ref.rpartition(":")
    info = client().get_manifest(registry_open.host, repo, tag)
    assert info.raw == seeded.raw
    assert info.digest == seeded.digest
    assert info.media_type == seeded.media_type
    assert info.json == json.loads(seeded.raw)


def test_docker_media_types_are_not_converted_to_schema1(registry_open: Registry) -> None:
    """Sending every Accept type keeps a Docker v2 manifest a Docker v2 manifest."""
    info = client().get_manifest(registry_open.host, "demo/docker", "latest")
    assert info.media_type == mediatypes.DOCKER_MANIFEST
    assert info.json["schemaVersion"] == 2


def test_manifest_by_digest_is_verified_and_keeps_the_requested_digest(
    registry_open: Registry,
) -> None:
    """A by-digest fetch answers with the digest asked for."""
    seeded = registry_open.seeded[seed.MULTI]
    info = client().get_manifest(registry_open.host, "demo/multi", seeded.digest)
    assert info.digest == seeded.digest
    assert info.media_type == mediatypes.OCI_INDEX


def test_unknown_digest_is_not_found_with_the_registry_code(registry_open: Registry) -> None:
    """A digest the registry lacks raises NotFoundError carrying MANIFEST_UNKNOWN and the URL."""
    missing = "sha256:" + "0" * 64
    with pytest.raises(NotFoundError) as err:
        client().get_manifest(registry_open.host, "demo/multi", missing)
    assert "MANIFEST_UNKNOWN" in err.value.codes
    assert err.value.status == 404
    assert f"/v2/demo/multi/manifests/{missing}" in str(err.value)


@pytest.mark.parametrize(
    "reference", ["bad tag", "sha256:abc", "-leading-dash", "x" * 129], ids=str.strip
)
def test_malformed_reference_is_refused_before_any_request(
    registry_open: Registry, reference: str
) -> None:
    """A tag or digest that cannot be valid raises InvalidReferenceError and sends nothing."""
    c = client()
    with pytest.raises(InvalidReferenceError):
        c.get_manifest(registry_open.host, "demo/single", reference)
    assert len(c.trace) == 0


def test_digest_is_computed_when_the_header_is_missing(registry_open: Registry) -> None:
    """Without Docker-Content-Digest the digest is the sha256 of the bytes received."""
    proxy = registry_open.proxy()
    proxy.faults.strip_header("Docker-Content-Digest", path=r"/manifests/")
    c = client()
    info = c.get_manifest(proxy.host, "demo/single", "latest")
    assert info.digest == registry_open.seeded[seed.SINGLE].digest
    fetched = [e for e in c.trace if e.purpose == "manifest"]
    assert fetched and all("Docker-Content-Digest" not in e.response_headers for e in fetched)


def test_lying_digest_header_raises(registry_open: Registry) -> None:
    """A Docker-Content-Digest header that does not match the bytes is a digest mismatch."""
    proxy = registry_open.proxy()
    lie = "sha256:" + "1" * 64
    proxy.faults.set_header("Docker-Content-Digest", lie, path=r"/manifests/")
    with pytest.raises(DigestMismatchError) as err:
        client().get_manifest(proxy.host, "demo/single", "latest")
    assert err.value.expected == lie


def test_tampered_manifest_by_digest_raises_and_returns_nothing(registry_open: Registry) -> None:
    """Bytes that do not hash to the requested digest raise DigestMismatchError."""
    seeded = registry_open.seeded[seed.SINGLE]
    proxy = registry_open.proxy()
    proxy.faults.strip_header("Docker-Content-Digest", path=r"/manifests/")
    proxy.faults.tamper(lambda body: body.replace(b'"size":', b'"size": '), path=r"/manifests/")
    with pytest.raises(DigestMismatchError) as err:
        client().get_manifest(proxy.host, "demo/single", seeded.digest)
    assert err.value.expected == seeded.digest
    assert err.value.actual != seeded.digest


def test_manifest_over_the_size_limit_is_refused(registry_open: Registry) -> None:
    """A manifest body over 4 MiB raises SizeLimitError before it is read."""
    proxy = registry_open.proxy()
    proxy.faults.tamper(lambda body: body + b" " * (5 * 1024 * 1024), path=r"/manifests/")
    with pytest.raises(SizeLimitError) as err:
        client().get_manifest(proxy.host, "demo/single", "latest")
    assert err.value.limit == MAX_MANIFEST_SIZE


def test_head_resolves_a_tag_with_one_request(registry_open: Registry) -> None:
    """head_manifest returns digest, size and type after exactly one HEAD."""
    seeded = registry_open.seeded[seed.MULTI]
    info = client().head_manifest(registry_open.host, "demo/multi", "latest")
    assert (info.digest, info.size) == (seeded.digest, len(seeded.raw))
    assert info.media_type == mediatypes.OCI_INDEX
    records = [r for r in registry_open.requests() if r.path.startswith("/v2/demo")]
    assert [(r.method, r.path) for r in records] == [("HEAD", "/v2/demo/multi/manifests/latest")]


# -- blobs and the CDN --------------------------------------------------------------------------


def test_blob_download_follows_the_cdn_redirect_without_credentials(
    registry_token: Registry,
) -> None:
    """Blobs come from 127.0.0.2 after a 307, and no Authorization header ever arrives there."""
    image = registry_token.seeded[seed.SINGLE].image()
    c = client(credentials=alice())
    for blob in (image.config, *image.layers):
        assert c.get_blob(registry_token.host, "demo/single", blob.digest) == blob.data
    cdn = registry_token.cdn
    assert cdn is not None
    received = cdn.requests()
    assert len(received) == 1 + len(image.layers)
    assert all(not r.has_header("Authorization") for r in received)
    hops = [(e.status, e.url.split("/")[2]) for e in c.trace if e.purpose == "blob"]
    assert (307, registry_token.host) in hops
    assert any(host.startswith("127.0.0.2:") and status == 200 for status, host in hops)


def test_tampered_blob_raises_and_returns_nothing(registry_open: Registry) -> None:
    """A blob whose bytes changed on the CDN raises DigestMismatchError."""
    layer = registry_open.seeded[seed.SINGLE].image().layers[0]
    assert registry_open.cdn is not None
    registry_open.cdn.faults.tamper(lambda body: body[:-1] + bytes([body[-1] ^ 1]))
    with pytest.raises(DigestMismatchError) as err:
        client().get_blob(registry_open.host, "demo/single", layer.digest)
    assert err.value.expected == layer.digest


def test_download_to_file_is_atomic_and_reports_progress(
    registry_open: Registry, tmp_path: Path
) -> None:
    """download_blob writes the verified blob and calls progress; a bad blob leaves nothing."""
    big = registry_open.seeded[seed.BIG].image().layers[0]
    seen: list[int] = []
    target = tmp_path / "big.tar.gz"
    c = client()
    c.download_blob(registry_open.host, "demo/big", big.digest, target,
                    size=big.size, progress=lambda done, total: seen.append(done))
    assert Digest.of(target.read_bytes()) == Digest.parse(big.digest)
    assert seen[-1] == big.size and len(seen) >= 2
    assert registry_open.cdn is not None
    registry_open.cdn.faults.tamper(lambda body: body[:-1] + bytes([body[-1] ^ 1]))
    bad = tmp_path / "bad.tar.gz"
    with pytest.raises(DigestMismatchError):
        c.download_blob(registry_open.host, "demo/big", big.digest, bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tar.gz"]


def test_blob_size_disagreeing_with_descriptor_raises(registry_open: Registry) -> None:
    """A blob longer than its descriptor's size is refused."""
    layer = registry_open.seeded[seed.SINGLE].image().layers[0]
    with pytest.raises(Exception) as err:
        client().get_blob(registry_open.host, "demo/single", layer.digest, size=layer.size - 1)
    assert type(err.value).__name__ == "SizeMismatchError"


# -- the token handshake and its cache ----------------------------------------------------------


def test_one_token_serves_every_call_on_one_scope(registry_token: Registry) -> None:
    """Index, manifests, configs and layers of an image cost one token request in all."""
    seeded = registry_token.seeded[seed.MULTI]
    c = client()
    index = c.get_manifest(registry_token.host, "demo/multi", "latest")
    calls = 1
    for entry in index.json["manifests"]:
        m = c.get_manifest(registry_token.host, "demo/multi", entry["digest"])
        calls += 1
        for blob in [m.json["config"], *m.json["layers"]]:
            c.get_blob(registry_token.host, "demo/multi", blob["digest"], size=blob["size"])
            calls += 1
    assert index.digest == seeded.digest
    assert calls > 10
    server = registry_token.token_server
    assert server is not None
    assert server.count() == 1
    assert server.count(scope=SCOPE_MULTI, identity="anonymous") == 1
    assert c.trace.count("token") == 1
    # The first request met the challenge; every later one carried the token up front.
    assert sum(1 for r in registry_token.requests() if r.status == 401) == 1


def test_sixteen_threads_cause_one_token_request(registry_token: Registry) -> None:
    """Concurrent callers on one scope share a single handshake and get identical answers."""
    c = client()
    c.ping(registry_token.host)  # learn the challenge, as a first call would
    results: list[str] = []
    barrier = threading.Barrier(16)

    def fetch() -> None:
        barrier.wait()
        results.append(c.get_manifest(registry_token.host, "demo/multi", "latest").digest)

    threads = [threading.Thread(target=fetch) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [registry_token.seeded[seed.MULTI].digest] * 16
    assert registry_token.token_server is not None
    assert registry_token.token_server.count(scope=SCOPE_MULTI) == 1


def test_expired_token_is_renewed_once(registry_token: Registry) -> None:
    """When the cached token's lifetime has passed, the next call earns exactly one new token."""
    now = [1000.0]
    cache = auth.TokenCache(clock=lambda: now[0])
    c = client(token_cache=cache)
    c.get_manifest(registry_token.host, "demo/multi", "latest")
    c.get_manifest(registry_token.host, "demo/multi", "latest")
    server = registry_token.token_server
    assert server is not None and server.count() == 1
    now[0] += 301  # the rig's tokens say expires_in=300
    c.get_manifest(registry_token.host, "demo/multi", "latest")
    c.get_manifest(registry_token.host, "demo/multi", "latest")
    assert server.count() == 2


def test_token_refused_by_the_registry_is_replaced_once(registry_token: Registry) -> None:
    """A cached token answered with 401 triggers one fresh handshake, then succeeds."""
    c = client()
    c.get_manifest(registry_token.host, "demo/multi", "latest")
    assert c.token_cache is not None
    (key,) = [k for k in c.token_cache._tokens]  # noqa: SLF001 - poison the one cached token
    c.token_cache._tokens[key] = auth.Token("not-a-jwt", 1e12)  # noqa: SLF001
    info = c.get_manifest(registry_token.host, "demo/multi", "latest")
    assert info.digest == registry_token.seeded[seed.MULTI].digest
    assert registry_token.token_server is not None
    assert registry_token.token_server.count() == 2


def test_cache_disabled_earns_a_token_per_call(registry_token: Registry) -> None:
    """token_cache=None turns caching off: every call does its own handshake."""
    c = client(token_cache=None)
    for _ in range(3):
        c.get_manifest(registry_token.host, "demo/multi", "latest")
    assert registry_token.token_server is not None
    assert registry_token.token_server.count() == 3


def test_private_repository_is_denied_anonymously(registry_token: Registry) -> None:
    """Without credentials a private repository raises an auth error naming the request."""
    with pytest.raises((UnauthorizedError, DeniedError)) as err:
        client().get_manifest(registry_token.host, "private/secret", "latest")
    assert "private/secret" in str(err.value)
    assert err.value.status in (401, 403)


def test_private_repository_is_served_with_credentials(registry_token: Registry) -> None:
    """alice's credentials earn a token for the private repository; bob's do not."""
    seeded = registry_token.seeded[seed.PRIVATE]
    info = client(credentials=alice()).get_manifest(registry_token.host, "private/secret", "latest")
    assert info.digest == seeded.digest
    server = registry_token.token_server
    assert server is not None and server.count(identity=ALICE.name) == 1
    with pytest.raises((UnauthorizedError, DeniedError)):
        client(credentials=Credentials(BOB.name, BOB.password)).get_manifest(
            registry_token.host, "private/secret", "latest"
        )


def test_anonymous_token_never_serves_a_credentialed_call(registry_token: Registry) -> None:
    """Tokens are cached per identity: the same cache earns one token per identity."""
    cache = auth.TokenCache()
    client(token_cache=cache).get_manifest(registry_token.host, "demo/multi", "latest")
    client(token_cache=cache, credentials=alice()).get_manifest(
        registry_token.host, "demo/multi", "latest"
    )
    server = registry_token.token_server
    assert server is not None
    assert server.count(identity="anonymous") == 1 and server.count(identity=ALICE.name) == 1


def test_wrong_password_is_unauthorized_without_leaking_it(registry_token: Registry) -> None:
    """A bad password raises UnauthorizedError whose text holds no password."""
    c = client(credentials=Credentials(ALICE.name, "wrong-password-123"))
    with pytest.raises(UnauthorizedError) as err:
        c.get_manifest(registry_token.host, "private/secret", "latest")
    assert "wrong-password-123" not in str(err.value) + repr(err.value)
    for exchange in c.trace:
        assert "wrong-password-123" not in repr(exchange) + str(exchange.request_headers)


def test_docker_config_credentials_are_used(
    registry_token: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credentials found in $DOCKER_CONFIG/config.json open the private repository."""
    import base64

    secret = base64.b64encode(f"{ALICE.name}:{ALICE.password}".encode()).decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {registry_token.host: {"auth": secret}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "missing-auth.json"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    c = RegistryClient(sleep=lambda s: None)
    info = c.get_manifest(registry_token.host, "private/secret", "latest")
    assert info.digest == registry_token.seeded[seed.PRIVATE].digest


def test_basic_auth_registry(registry_basic: Registry) -> None:
    """An htpasswd registry answers with Basic credentials and refuses without them."""
    seeded = registry_basic.seeded[seed.SINGLE]
    info = client(credentials=alice()).get_manifest(registry_basic.host, "demo/single", "latest")
    assert info.digest == seeded.digest
    with pytest.raises(UnauthorizedError):
        client().get_manifest(registry_basic.host, "demo/single", "latest")
    with pytest.raises(UnauthorizedError) as err:
        client(credentials=Credentials(ALICE.name, "nope-nope")).get_manifest(
            registry_basic.host, "demo/single", "latest"
        )
    assert "nope-nope" not in str(err.value)


def test_basic_credentials_do_not_reach_the_cdn(registry_basic: Registry) -> None:
    """Basic credentials stay with the registry when a blob redirects to 127.0.0.2."""
    layer = registry_basic.seeded[seed.SINGLE].image().layers[0]
    client(credentials=alice()).get_blob(registry_basic.host, "demo/single", layer.digest)
    assert registry_basic.cdn is not None
    received = registry_basic.cdn.requests()
    assert received and all(not r.has_header("Authorization") for r in received)


# -- retries ------------------------------------------------------------------------------------


def test_429_with_retry_after_is_retried(registry_open: Registry) -> None:
    """Two 429 answers with Retry-After: 1 are waited out, then the manifest arrives."""
    proxy = registry_open.proxy()
    proxy.faults.rate_limit(times=2, retry_after="1", path=r"/manifests/")
    slept: list[float] = []
    info = client(sleep=slept.append).get_manifest(proxy.host, "demo/single", "latest")
    assert info.digest == registry_open.seeded[seed.SINGLE].digest
    assert slept == [1.0, 1.0]
    assert proxy.count("GET", r"/manifests/") == 3


def test_rate_limit_that_never_ends_raises_rate_limited(registry_open: Registry) -> None:
    """When 429 outlasts the retry budget, RateLimitedError says so, with the registry code."""
    proxy = registry_open.proxy()
    proxy.faults.rate_limit(times=None, retry_after=None, path=r"/manifests/")
    c = client(retry=RetryPolicy(attempts=3))
    with pytest.raises(RateLimitedError) as err:
        c.get_manifest(proxy.host, "demo/single", "latest")
    assert err.value.status == 429 and "TOOMANYREQUESTS" in err.value.codes
    assert proxy.count("GET", r"/manifests/") == 3


def test_server_errors_are_retried(registry_open: Registry) -> None:
    """A 503 burst shorter than the budget is invisible to the caller."""
    proxy = registry_open.proxy()
    proxy.faults.fail(503, times=2, path=r"/manifests/")
    info = client().get_manifest(proxy.host, "demo/single", "latest")
    assert info.digest == registry_open.seeded[seed.SINGLE].digest
    assert proxy.count("GET", r"/manifests/") == 3


# -- listings -----------------------------------------------------------------------------------


def test_tags_are_listed_lazily(registry_open: Registry) -> None:
    """list_tags sends nothing until the iterator is consumed, then lists every tag."""
    c = client()
    tags = c.list_tags(registry_open.host, "demo/single", page_size=1)
    assert registry_open.count(lambda r: "/tags/list" in r.path) == 0
    assert sorted(tags) == ["1.0", "latest"]
    assert registry_open.count(lambda r: "/tags/list" in r.path) >= 1


def test_catalog_follows_link_pagination(registry_open: Registry) -> None:
    """With n=2 the catalog arrives in pages joined by Link headers (distribution 2.8 pages
    the catalog; it ignores n for tags)."""
    repos = list(client().catalog(registry_open.host, page_size=2))
    assert repos == sorted(set(repos))
    assert {"demo/single", "demo/multi", "demo/big", "private/secret"} <= set(repos)
    pages = registry_open.count(lambda r: r.path == "/v2/_catalog")
    assert pages >= len(repos) // 2


def test_catalog_needs_the_catalog_scope(registry_token: Registry) -> None:
    """alice may list the catalog (registry:catalog:*); it holds the seeded repositories."""
    repos = list(client(credentials=alice()).catalog(registry_token.host))
    assert {"demo/single", "demo/multi", "private/secret"} <= set(repos)
    server = registry_token.token_server
    assert server is not None and server.count(scope="registry:catalog:*") == 1


def test_referrers_fall_back_to_the_tag_schema(registry_open: Registry) -> None:
    """distribution 2.8 has no referrers API: the sha256-<hex> tag is tried, else empty."""
    seeded = registry_open.seeded[seed.SINGLE]
    info = client().referrers(registry_open.host, "demo/single", seeded.digest)
    assert info.json["manifests"] == []
    assert info.media_type == mediatypes.OCI_INDEX
    paths = [r.path for r in registry_open.requests()]
    hexpart = seeded.digest.split(":")[1]
    assert f"/v2/demo/single/referrers/{seeded.digest}" in paths
    assert f"/v2/demo/single/manifests/sha256-{hexpart}" in paths


# -- the original contract ----------------------------------------------------------------------


def test_module_functions_thread_one_cache(registry_token: Registry) -> None:
    """manifest() echoes the cache it was given; blob() reuses it; one token in all."""
    cache = auth.TokenCache()
    info, returned = registry.manifest(registry_token.host, "demo/single", "latest", cache)
    assert returned is cache
    config = info.json["config"]
    data = registry.blob(registry_token.host, "demo/single", config["digest"], returned)
    assert Digest.of(data) == Digest.parse(config["digest"])
    assert registry_token.token_server is not None
    assert registry_token.token_server.count() == 1


def test_trace_records_the_handshake_without_secrets(registry_token: Registry) -> None:
    """The trace shows 401, token and retried request in order, with credentials redacted."""
    c = client(credentials=alice())
    c.get_manifest(registry_token.host, "private/secret", "latest")
    steps = [(e.purpose, e.status) for e in c.trace]
    assert steps == [("manifest", 401), ("token", 200), ("manifest", 200)]
    text = repr(list(c.trace)) + "".join(str(e.request_headers) for e in c.trace)
    assert ALICE.password not in text
    assert "Bearer <redacted>" in str(c.trace.since(0)[2].request_headers)
    assert "Basic <redacted>" in str(c.trace.since(0)[1].request_headers)


def test_netrc_never_injects_credentials(
    registry_basic: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ~/.netrc entry for the registry is ignored: requests must not send it by itself."""
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {ALICE.name} password {ALICE.password}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    proxy = registry_basic.proxy()
    with pytest.raises(UnauthorizedError):
        client().get_manifest(proxy.host, "demo/single", "latest")
    assert proxy.requests() and all(not r.has_header("Authorization") for r in proxy.requests())


def test_a_cdn_401_never_earns_a_token_with_the_registry_credentials(
    registry_token: Registry,
) -> None:
    """A 401 from the CDN a blob was redirected to is an error, not a challenge to answer."""
    cdn = registry_token.cdn
    assert cdn is not None
    steal = f"{cdn.url}/steal"
    cdn.faults.fail(401, times=None, path=r"/docker/", headers={
        "WWW-Authenticate": f'Bearer realm="{steal}",service="cdn"'})
    layer = registry_token.seeded[seed.PRIVATE].image().layers[0]
    c = client(credentials=alice())
    with pytest.raises(UnauthorizedError) as err:
        c.get_blob(registry_token.host, "private/secret", layer.digest)
    assert "127.0.0.2" in str(err.value)
    assert not [r for r in cdn.requests() if r.path.startswith("/steal")]
    assert all(not r.has_header("Authorization") for r in cdn.requests())
    # The registry's own challenge is still the one remembered: the next call just works.
    cdn.faults.clear()
    assert c.get_blob(registry_token.host, "private/secret", layer.digest) == layer.data
    assert registry_token.token_server is not None
    assert registry_token.token_server.count(identity=ALICE.name) == 1


def test_repository_scoped_auth_json_credentials_are_used(
    registry_token: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An auth.json key naming host/namespace (podman's) serves that namespace's pulls."""
    import base64

    secret = base64.b64encode(f"{ALICE.name}:{ALICE.password}".encode()).decode()
    auth_file = tmp_path / "auth.json"
    scoped = {f"{registry_token.host}/private": {"auth": secret}}
    auth_file.write_text(json.dumps({"auths": scoped}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
    c = RegistryClient(sleep=lambda s: None)
    info = c.get_manifest(registry_token.host, "private/secret", "latest")
    assert info.digest == registry_token.seeded[seed.PRIVATE].digest
    assert registry_token.token_server is not None
    assert registry_token.token_server.count(identity=ALICE.name) == 1
    assert c.credentials_for(registry_token.host, "demo/single") is None
