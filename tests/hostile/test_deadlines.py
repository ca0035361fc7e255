"""Every call ends: deadlines for exchanges and operations, a minimum rate for blobs.

A server that sends one byte at a time, never pausing long enough for a read timeout, keeps a
read alive for as long as it likes. Each case drips a different part of an answer (the status
line and headers, a manifest, a token, an error body, a blob) or drags an operation out over
many slow hops, with the session's deadlines set low, and expects a
:class:`~ociinspect.errors.DeadlineError` naming what was slow and the setting that bounds it,
within a few seconds, with nothing in the disk cache. Without deadlines each case runs for
tens of seconds.
"""

from __future__ import annotations

import time

import pytest
from kit import cached_files, make_session
from servers import FakeRegistry, Reply, Request, ScriptedServer, always, challenge_401, json_reply

from ociinspect.cache import BlobCache
from ociinspect.errors import DeadlineError, NotFoundError, TransportError
from ociinspect.session import Settings
from ociinspect.testing import build

DRIP = 0.1  # seconds between bytes: far under any read timeout


def _dripping(route: str, **drip: float) -> object:
    """A FakeRegistry tweak dripping the answers to paths containing ``route``."""

    def tweak(request: Request, reply: Reply) -> Reply:
        if route in request.route:
            reply.drip = drip.get("body", 0.0)
            reply.drip_head = drip.get("head", 0.0)
        return reply

    return tweak


def test_a_manifest_dripped_byte_by_byte_ends_at_the_request_deadline(
    fake: FakeRegistry, cache: BlobCache
) -> None:
    """A manifest body at 10 bytes/s (50 s for this one) ends after request_deadline=1 s."""
    fake.tweak = _dripping("/manifests/", body=DRIP)  # type: ignore[assignment]
    session = make_session(cache, request_deadline=1.0)
    start = time.monotonic()
    with pytest.raises(DeadlineError) as err:
        session.source(fake.ref()).root()
    assert time.monotonic() - start < 5
    text = str(err.value)
    assert "manifest" in text and "request_deadline" in text and "1 s" in text
    assert err.value.what and err.value.received is not None and err.value.received > 0
    assert isinstance(err.value, TransportError)
    assert cached_files(cache) == []


def test_headers_dripped_byte_by_byte_end_at_the_request_deadline(fake: FakeRegistry) -> None:
    """A status line and headers at 10 bytes/s end after request_deadline=1 s, before any
    answer exists."""
    fake.tweak = _dripping("/manifests/", head=DRIP)  # type: ignore[assignment]
    session = make_session(request_deadline=1.0)
    start = time.monotonic()
    with pytest.raises(DeadlineError) as err:
        session.client.get_manifest(fake.host, fake.repository, "latest")
    assert time.monotonic() - start < 5
    assert "no complete answer within the 1 s deadline" in str(err.value)
    assert err.value.status is None


def test_a_dripping_token_endpoint_ends_at_the_deadline() -> None:
    """A token answer dripped at 10 bytes/s (a 300-byte body: 30 s) ends after 1 s with a
    DeadlineError naming the token request."""
    body = json_reply(200, {"token": "t" * 280})
    body.drip = DRIP
    with ScriptedServer(always(body)) as tokens:
        challenge = challenge_401(f'Bearer realm="{tokens.url}/token",service="s"')
        with ScriptedServer(always(challenge)) as registry:
            session = make_session(request_deadline=1.0)
            start = time.monotonic()
            with pytest.raises(DeadlineError) as err:
                session.client.get_manifest(registry.host, "a/b", "latest")
            assert time.monotonic() - start < 5
    assert "token" in str(err.value) and err.value.what.startswith("token")


def test_a_dripping_error_body_does_not_hold_the_failure_back(fake: FakeRegistry) -> None:
    """A 404 whose error body drips is still a NotFoundError after about request_deadline:
    the body is given up, not waited for."""

    def tweak(request: Request, reply: Reply) -> Reply:
        if "/manifests/" in request.route:
            body = b'{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "' + b"x" * 400 + b'"}]}'
            return Reply(404, [("Content-Type", "application/json")], body, drip=DRIP)
        return reply

    fake.tweak = tweak  # type: ignore[assignment]
    session = make_session(request_deadline=1.0)
    start = time.monotonic()
    with pytest.raises(NotFoundError):
        session.client.get_manifest(fake.host, fake.repository, "latest")
    assert time.monotonic() - start < 5


def test_a_blob_under_the_minimum_rate_ends_after_the_grace(
    fake: FakeRegistry, sample: build.BuiltImage, cache: BlobCache
) -> None:
    """A layer dripped at 10 bytes/s against min_blob_rate=1 KiB/s ends one second after its
    grace, with a DeadlineError naming the blob and the rate; the cache keeps nothing."""
    fake.tweak = _dripping("/blobs/", body=DRIP)  # type: ignore[assignment]
    session = make_session(cache, request_deadline=1.0, min_blob_rate=1024)
    layer = sample.layers[0]
    source = session.source(fake.ref())
    start = time.monotonic()
    with pytest.raises(DeadlineError) as err, source.open_blob(layer.digest) as chunks:
        b"".join(chunks)
    assert time.monotonic() - start < 5
    text = str(err.value)
    assert f"blob {fake.repository}@{layer.digest}" in text and "min_blob_rate" in text
    assert cached_files(cache) == []


def test_a_blob_at_a_good_rate_is_not_cut(
    fake: FakeRegistry, sample: build.BuiltImage, cache: BlobCache
) -> None:
    """Control: the same blob served at full speed under the same bounds arrives whole."""
    session = make_session(cache, request_deadline=1.0, min_blob_rate=1024)
    layer = sample.layers[0]
    assert session.source(fake.ref()).blob(layer.digest, len(layer.data)) == layer.data


def test_an_operation_of_slow_hops_ends_at_the_operation_deadline() -> None:
    """Redirect hops that each take 0.4 s (each within the request deadline) end when the
    operation deadline of 1.5 s runs out, not after all ten."""
    hops: list[int] = []

    def script(request: Request) -> Reply:
        hops.append(1)
        return Reply(307, [("Location", f"/v2/a/b/manifests/hop{len(hops)}")], stall=0.4)

    with ScriptedServer(script) as registry:
        session = make_session(request_deadline=1.0, operation_deadline=1.5)
        start = time.monotonic()
        with pytest.raises(DeadlineError) as err:
            session.client.get_manifest(registry.host, "a/b", "latest")
        elapsed = time.monotonic() - start
    assert 1.4 < elapsed < 4
    assert "operation_deadline" in str(err.value) and len(hops) <= 5


def test_deadlines_come_from_the_environment() -> None:
    """OCIINSPECT_REQUEST_DEADLINE, _OPERATION_DEADLINE, _MIN_BLOB_RATE and _MAX_CONFIG_SIZE
    set the session's bounds; 'off' removes one; garbage is a SettingsError naming it."""
    env = {"OCIINSPECT_REQUEST_DEADLINE": "2.5", "OCIINSPECT_OPERATION_DEADLINE": "off",
           "OCIINSPECT_MIN_BLOB_RATE": "32K", "OCIINSPECT_MAX_CONFIG_SIZE": "1M", "HOME": "/x"}
    found = Settings.from_env(env)
    assert (found.request_deadline, found.operation_deadline) == (2.5, None)
    assert (found.min_blob_rate, found.max_config_size) == (32 * 1024, 1024 * 1024)
    with pytest.raises(ValueError, match="OCIINSPECT_REQUEST_DEADLINE"):
        Settings.from_env({"OCIINSPECT_REQUEST_DEADLINE": "soon"})
