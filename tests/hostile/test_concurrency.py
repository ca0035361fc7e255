"""Many threads, one client: one token handshake, identical answers, one cache entry.

The registry rig in token mode, started cold (no ping, no cached challenge) for every test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from kit import cached_files, make_client, make_session
from rig import Registry, seed
from rig.httpd import wait_until

from ociinspect.cache import BlobCache
from ociinspect.errors import DigestMismatchError, OCIInspectError, TokenError
from ociinspect.sources.registry import RegistrySource
from ociinspect.values.reference import parse

pytestmark = pytest.mark.registry

THREADS = 32
SCOPE = "repository:demo/multi:pull"
T = TypeVar("T")


def together(work: Callable[[int], T], threads: int = THREADS) -> list[T | BaseException]:
    """Run ``work(i)`` in ``threads`` threads released at once; results or exceptions, in order."""
    barrier = threading.Barrier(threads, timeout=10)

    def run(i: int) -> T | BaseException:
        barrier.wait()
        try:
            return work(i)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertions
            return exc

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, range(threads)))


def test_32_cold_threads_cause_exactly_one_token_request(registry_token: Registry) -> None:
    """32 threads on one repository, nothing learned yet: one token request, identical bytes."""
    seeded = registry_token.seeded[seed.MULTI]
    client = make_client()
    results = together(lambda i: client.get_manifest(registry_token.host, "demo/multi", "latest"))
    assert all(not isinstance(r, BaseException) for r in results), results
    assert {(r.digest, r.raw) for r in results} == {(seeded.digest, seeded.raw)}  # type: ignore[union-attr]
    server = registry_token.token_server
    assert server is not None
    assert server.count() == 1 and server.count(scope=SCOPE) == 1
    assert client.trace.count("token") == 1


def test_32_threads_mixing_operations_share_one_token(registry_token: Registry) -> None:
    """Tag GETs, HEADs, by-digest GETs and blob reads from 32 threads share one handshake."""
    seeded = registry_token.seeded[seed.MULTI]
    image = seeded.image("linux/arm64/v8")
    client = make_client()
    host = registry_token.host

    def work(i: int) -> str:
        kind = i % 4
        if kind == 0:
            return client.get_manifest(host, "demo/multi", "latest").digest
        if kind == 1:
            return client.head_manifest(host, "demo/multi", "latest").digest
        if kind == 2:
            return client.get_manifest(host, "demo/multi", image.digest).digest
        return str(len(client.get_blob(host, "demo/multi", image.config.digest)))

    results = together(work)
    expected = [seeded.digest, seeded.digest, image.digest, str(image.config.size)] * (THREADS // 4)
    assert results == expected
    assert registry_token.token_server is not None
    assert registry_token.token_server.count() == 1


def test_a_slow_token_server_still_sees_one_request(registry_token: Registry) -> None:
    """With the token endpoint taking 0.3 s, 32 waiting threads still share one fetch."""
    server = registry_token.token_server
    assert server is not None
    server.faults.delay(0.3)
    client = make_client()
    digests = together(lambda i: client.get_manifest(registry_token.host, "demo/multi", "latest"))
    assert len({d.digest for d in digests}) == 1  # type: ignore[union-attr]
    assert server.count() == 1
    assert client.token_cache is not None and client.token_cache.stats.fetches == 1


def test_a_failing_token_fetch_fails_every_waiter_once(registry_token: Registry) -> None:
    """A token endpoint answering 500 fails all 32 threads with TokenError after one retried
    flight: the endpoint sees `attempts` requests, not 32 times that."""
    server = registry_token.token_server
    assert server is not None
    server.faults.delay(0.25)
    server.faults.fail(500, times=None)
    client = make_client()
    errors = together(lambda i: client.get_manifest(registry_token.host, "demo/multi", "latest"))
    assert all(isinstance(e, TokenError) for e in errors), errors
    attempts = client.retry.attempts
    wait_until(lambda: len(server.requests()) >= attempts, 5.0, "token requests to be recorded")
    assert len(server.requests()) == attempts


def _source(registry: Registry, cache: BlobCache) -> RegistrySource:
    return RegistrySource(parse(registry.ref(seed.BIG)), make_session(cache))


def _stream(src: RegistrySource, digest: str, size: int) -> bytes:
    with src.open_blob(digest, size) as chunks:
        return b"".join(chunks)


def test_32_threads_streaming_one_blob_into_one_cache(
    registry_token: Registry, cache: BlobCache
) -> None:
    """Concurrent downloads of one 2 MiB layer into one cache: identical bytes, one entry."""
    layer = registry_token.seeded[seed.BIG].image().layers[0]
    src = _source(registry_token, cache)
    results = together(lambda i: _stream(src, layer.digest, layer.size), threads=THREADS)
    assert all(r == layer.data for r in results)
    hexdigest = layer.digest.split(":")[1]
    assert cached_files(cache) == [f"blobs/sha256/{hexdigest}"]


def test_32_threads_meeting_a_tampered_cdn_all_fail_and_cache_nothing(
    registry_token: Registry, cache: BlobCache
) -> None:
    """Every thread reading a corrupted layer gets DigestMismatchError; no entry, no temp file."""
    layer = registry_token.seeded[seed.BIG].image().layers[0]
    assert registry_token.cdn is not None
    registry_token.cdn.faults.tamper(lambda body: body[:-1] + bytes([body[-1] ^ 1]))
    src = _source(registry_token, cache)
    results = together(lambda i: _stream(src, layer.digest, layer.size), threads=THREADS)
    assert all(isinstance(r, DigestMismatchError) for r in results), [type(r) for r in results]
    assert cached_files(cache) == []
    assert all(isinstance(r, OCIInspectError) for r in results)
