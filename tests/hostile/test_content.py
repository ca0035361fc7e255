"""Content a hostile registry serves: wrong bytes, lying headers, cut bodies, bad documents.

Every case goes through :class:`RegistrySource` backed by a :class:`BlobCache` in tmp and expects
one typed error, with nothing (entry, metadata or temporary file) left in the cache.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kit import cached_files, make_client, make_session
from rig import Registry, seed
from servers import FakeRegistry, Reply, Request

from ociinspect import navigation
from ociinspect.cache import BlobCache
from ociinspect.errors import (
    DigestMismatchError,
    InvalidDocumentError,
    OCIInspectError,
    RegistryError,
    SizeLimitError,
    SizeMismatchError,
    TransportError,
    UnsupportedMediaTypeError,
)
from ociinspect.sources.registry import RegistrySource
from ociinspect.testing import build
from ociinspect.values import mediatypes
from ociinspect.values.reference import parse

Tweak = Callable[[Request, Reply], Reply]


def source(fake: FakeRegistry, cache: BlobCache, identifier: str = "latest") -> RegistrySource:
    return RegistrySource(parse(fake.ref(identifier)), make_session(cache))


def on(route: str, change: Callable[[Reply], Reply]) -> Tweak:
    """A tweak that changes answers whose path contains ``route`` (``/manifests/``, ``/blobs/``)."""
    return lambda request, reply: change(reply) if route in request.route else reply


def flip_last_byte(reply: Reply) -> Reply:
    return replace(reply, body=reply.body[:-1] + bytes([reply.body[-1] ^ 1]))


def set_header(name: str, value: str | None) -> Callable[[Reply], Reply]:
    def change(reply: Reply) -> Reply:
        kept = [(k, v) for k, v in reply.headers if k.lower() != name.lower()]
        return replace(reply, headers=kept + ([(name, value)] if value is not None else []))

    return change


LIE = "sha256:" + "1" * 64


def read(what: str, sample: build.BuiltImage) -> Callable[[RegistrySource], Any]:
    """How a case reads: the tag, the manifest by digest, a layer whole or streamed."""
    layer = sample.layers[0]
    if what == "tag":
        return lambda src: src.root()
    if what == "manifest":
        return lambda src: src.manifest(sample.digest)
    if what == "blob":
        return lambda src: src.blob(layer.digest)
    if what == "stream":

        def stream(src: RegistrySource) -> bytes:
            with src.open_blob(layer.digest) as chunks:
                return b"".join(chunks)

        return stream
    raise AssertionError(what)


FAULTS: list[tuple[str, str, Tweak, type[OCIInspectError]]] = [
    ("blob", "a blob with one byte flipped", on("/blobs/", flip_last_byte), DigestMismatchError),
    ("stream", "a streamed blob with one byte flipped", on("/blobs/", flip_last_byte),
     DigestMismatchError),
    ("manifest", "a manifest by digest with one byte flipped", on("/manifests/", flip_last_byte),
     DigestMismatchError),
    ("tag", "a Docker-Content-Digest header that lies",
     on("/manifests/", set_header("Docker-Content-Digest", LIE)), DigestMismatchError),
    ("tag", "a Docker-Content-Digest header that is no digest",
     on("/manifests/", set_header("Docker-Content-Digest", "sha256:not-hex")), DigestMismatchError),
    ("manifest", "a lying digest header on a by-digest fetch",
     on("/manifests/", set_header("Docker-Content-Digest", LIE)), DigestMismatchError),
    ("tag", "a Content-Length longer than the manifest",
     on("/manifests/", lambda r: replace(r, length=len(r.body) + 100)), TransportError),
    ("blob", "a Content-Length longer than the blob",
     on("/blobs/", lambda r: replace(r, length=len(r.body) + 100)), TransportError),
    ("tag", "a Content-Length shorter than the manifest",
     on("/manifests/", lambda r: replace(r, length=len(r.body) - 10)), DigestMismatchError),
    ("tag", "a short Content-Length and no digest header",
     on("/manifests/", lambda r: set_header("Docker-Content-Digest", None)(
         replace(r, length=len(r.body) - 10))), InvalidDocumentError),
    ("stream", "a Content-Length shorter than the blob",
     on("/blobs/", lambda r: replace(r, length=len(r.body) - 10)), DigestMismatchError),
    ("tag", "a manifest cut off mid-body", on("/manifests/", lambda r: replace(r, cut=40)),
     TransportError),
    ("stream", "a blob cut off mid-body", on("/blobs/", lambda r: replace(r, cut=40)),
     TransportError),
    ("blob", "a chunked blob cut off mid-body",
     on("/blobs/", lambda r: replace(r, chunked=True, cut=40)), TransportError),
    ("tag", "a manifest over 4 MiB without Content-Length",
     on("/manifests/", lambda r: replace(r, body=r.body + b" " * (4 << 20), chunked=True)),
     SizeLimitError),
    ("stream", "206 Partial Content to a whole-blob GET",
     on("/blobs/", lambda r: replace(r, status=206, body=r.body[:50])), DigestMismatchError),
    ("tag", "a gzip-encoded manifest although identity was asked",
     on("/manifests/", lambda r: replace(r, body=gzip.compress(r.body),
                                         headers=[*r.headers, ("Content-Encoding", "gzip")])),
     DigestMismatchError),
    ("blob", "another blob's bytes", on("/blobs/", lambda r: replace(r, body=b"other bytes")),
     DigestMismatchError),
]


@pytest.mark.parametrize(
    ("what", "tweak", "error"),
    [pytest.param(w, t, e, id=f"{name} raises {e.__name__}") for w, name, t, e in FAULTS],
)
def test_bad_content_raises_and_caches_nothing(
    fake: FakeRegistry,
    cache: BlobCache,
    sample: build.BuiltImage,
    what: str,
    tweak: Tweak,
    error: type[OCIInspectError],
) -> None:
    """Wrong bytes, lying headers and cut bodies raise one typed error; the cache stays empty."""
    fake.tweak = tweak
    with pytest.raises(error):
        read(what, sample)(source(fake, cache))
    assert cached_files(cache) == []


def test_the_untouched_fake_serves_verified_content(
    fake: FakeRegistry, cache: BlobCache, sample: build.BuiltImage
) -> None:
    """Control case: without faults every read succeeds and lands in the cache."""
    src = source(fake, cache)
    assert src.root().digest == sample.digest
    assert read("stream", sample)(src) == sample.layers[0].data
    assert src.blob(sample.config.digest) == sample.config.data
    entries = {f"blobs/sha256/{b.digest.split(':')[1]}" for b in (sample.manifest, sample.config,
                                                                  *sample.layers)}
    assert entries <= set(cached_files(cache))
    assert not any(name.endswith(".part") for name in cached_files(cache))


def test_missing_digest_header_gives_the_computed_digest(
    fake: FakeRegistry, cache: BlobCache, sample: build.BuiltImage
) -> None:
    """Without Docker-Content-Digest the tag resolves to the sha256 of the bytes received."""
    fake.tweak = on("/manifests/", set_header("Docker-Content-Digest", None))
    info = source(fake, cache).root()
    assert (info.digest, info.raw) == (sample.digest, sample.manifest.data)
    head = make_client().head_manifest(fake.host, fake.repository, "latest")
    assert head.digest == sample.digest
    assert [r.method for r in fake.requests("/v2/hostile/app/manifests/")] == ["GET", "HEAD", "GET"]


@pytest.mark.parametrize("delta", [-1, 1], ids=["one byte less", "one byte more"])
@pytest.mark.parametrize("what", ["manifest", "blob", "stream"])
def test_descriptor_size_that_disagrees_with_the_bytes_raises(
    fake: FakeRegistry, cache: BlobCache, sample: build.BuiltImage, what: str, delta: int
) -> None:
    """A descriptor size off by one byte either way is a SizeMismatchError; nothing is cached."""
    src = source(fake, cache)
    layer = sample.layers[0]
    with pytest.raises(SizeMismatchError) as err:
        if what == "manifest":
            src.manifest(sample.digest, size=sample.size + delta)
        elif what == "blob":
            src.blob(layer.digest, size=layer.size + delta)
        else:
            with src.open_blob(layer.digest, size=layer.size + delta) as chunks:
                b"".join(chunks)
    assert err.value.expected in (sample.size + delta, layer.size + delta)
    assert cached_files(cache) == []


def test_blob_over_max_size_is_refused(
    fake: FakeRegistry, cache: BlobCache, sample: build.BuiltImage
) -> None:
    """max_size stops a blob even when the server announces no Content-Length."""
    fake.tweak = on("/blobs/", lambda r: replace(r, chunked=True))
    with pytest.raises(SizeLimitError):
        source(fake, cache).blob(sample.layers[0].digest, max_size=sample.layers[0].size - 1)
    assert cached_files(cache) == []


def test_cut_download_leaves_no_file(
    fake: FakeRegistry, sample: build.BuiltImage, tmp_path: Path
) -> None:
    """download_blob of a body cut short raises TransportError and leaves nothing behind."""
    fake.tweak = on("/blobs/", lambda r: replace(r, cut=len(r.body) // 2))
    layer = sample.layers[0]
    with pytest.raises(TransportError):
        make_client().download_blob(fake.host, fake.repository, layer.digest, tmp_path / "l")
    assert list(tmp_path.iterdir()) == []


DEEP = b"[" * 100_000 + b"]" * 100_000
DOCUMENTS = [
    ("truncated JSON", b'{"schemaVersion": 2, "layers": [', mediatypes.OCI_MANIFEST),
    ("an empty body", b"", mediatypes.OCI_MANIFEST),
    ("a JSON array", b"[]", mediatypes.OCI_MANIFEST),
    ("a JSON string", b'"application/vnd.oci.image.manifest.v1+json"', mediatypes.OCI_MANIFEST),
    ("a JSON number", b"2", mediatypes.OCI_INDEX),
    ("JSON null", b"null", mediatypes.OCI_INDEX),
    ("bytes that are not UTF-8", b'{"schemaVersion": 2, "x": "\xff\xfe"}', mediatypes.OCI_MANIFEST),
    ("arrays nested 100000 deep", DEEP, mediatypes.OCI_MANIFEST),
    ("objects nested 50000 deep", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
    ("an HTML login page", b"<html><body>Please sign in</body></html>", "text/html"),
]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [pytest.param(b, t, id=f"{name} is an invalid document") for name, b, t in DOCUMENTS],
)
def test_malformed_documents_raise_invalid_document(
    fake: FakeRegistry, cache: BlobCache, body: bytes, content_type: str
) -> None:
    """Bodies that are not a JSON object raise InvalidDocumentError from root() and open()."""
    fake.add_manifest(body, content_type, tag="broken")
    with pytest.raises(InvalidDocumentError):
        source(fake, cache, "broken").root()
    with pytest.raises(InvalidDocumentError):
        navigation.open(fake.ref("broken"), session=make_session(cache))
    assert cached_files(cache) == []


def _manifest_json(sample: build.BuiltImage) -> dict[str, Any]:
    return json.loads(sample.manifest.data)


MEDIA_TYPES: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], str]] = [
    ("a schema1 signed Content-Type", lambda m: m, mediatypes.DOCKER_MANIFEST_V1_SIGNED),
    ("a schema1 Content-Type", lambda m: m, mediatypes.DOCKER_MANIFEST_V1),
    ("a schemaVersion 1 body sent as application/json",
     lambda m: {"schemaVersion": 1, "name": "hostile/app", "tag": "latest", "fsLayers": []},
     "application/json"),
    ("an unknown Content-Type", lambda m: m, "application/vnd.example.thing+json"),
    ("an unknown body mediaType under a generic Content-Type",
     lambda m: {**m, "mediaType": "application/vnd.example.thing+json"},
     "application/octet-stream"),
    ("a JSON object that is no manifest", lambda m: {"hello": "world"}, "application/json"),
]


@pytest.mark.parametrize(
    ("change", "content_type"),
    [pytest.param(c, t, id=f"{name} is unsupported") for name, c, t in MEDIA_TYPES],
)
def test_schema1_and_unknown_media_types_are_unsupported(
    fake: FakeRegistry,
    cache: BlobCache,
    sample: build.BuiltImage,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    content_type: str,
) -> None:
    """Schema1 and unknown types raise UnsupportedMediaTypeError, never a half-read image."""
    fake.add_manifest(json.dumps(change(_manifest_json(sample))).encode(), content_type, "odd")
    with pytest.raises(UnsupportedMediaTypeError):
        navigation.open(fake.ref("odd"), session=make_session(cache))


def test_schema1_answer_fails_in_the_client_before_caching(
    fake: FakeRegistry, cache: BlobCache, sample: build.BuiltImage
) -> None:
    """A registry answering schema1 to a v2 Accept is refused by get_manifest itself."""
    fake.add_manifest(sample.manifest.data, mediatypes.DOCKER_MANIFEST_V1_SIGNED, "v1")
    with pytest.raises(UnsupportedMediaTypeError) as err:
        source(fake, cache, "v1").root()
    assert err.value.media_type == mediatypes.DOCKER_MANIFEST_V1_SIGNED
    assert cached_files(cache) == []


def test_index_content_type_over_a_manifest_body_is_invalid(
    fake: FakeRegistry, cache: BlobCache, sample: build.BuiltImage
) -> None:
    """A Content-Type that contradicts the body's shape is an InvalidDocumentError."""
    fake.add_manifest(sample.manifest.data, mediatypes.OCI_INDEX, "mixed")
    with pytest.raises(InvalidDocumentError):
        navigation.open(fake.ref("mixed"), session=make_session(cache))


def test_head_with_a_digest_header_that_is_no_digest_is_a_registry_error(
    fake: FakeRegistry,
) -> None:
    """HEAD answered with an unparsable Docker-Content-Digest raises RegistryError."""
    fake.tweak = on("/manifests/", set_header("Docker-Content-Digest", "md5:abc"))
    with pytest.raises(RegistryError) as err:
        make_client().head_manifest(fake.host, fake.repository, "latest")
    assert err.value.method == "HEAD"


# -- the same through the real registry, its proxy and its CDN ---------------------------------

@pytest.mark.registry
def test_tampered_cdn_blob_streamed_into_the_cache_leaves_nothing(
    registry_open: Registry, cache: BlobCache
) -> None:
    """A layer corrupted on the CDN fails verification while streaming; the cache stays empty."""
    seeded = registry_open.seeded[seed.SINGLE]
    layer = seeded.image().layers[0]
    assert registry_open.cdn is not None
    registry_open.cdn.faults.tamper(lambda body: body[:-1] + bytes([body[-1] ^ 1]))
    src = RegistrySource(parse(registry_open.ref(seed.SINGLE)), make_session(cache))
    with pytest.raises(DigestMismatchError), src.open_blob(layer.digest, layer.size) as chunks:
        b"".join(chunks)
    assert cached_files(cache) == []


@pytest.mark.registry
def test_tampered_manifest_by_digest_through_a_proxy_leaves_nothing(
    registry_open: Registry, cache: BlobCache
) -> None:
    """A proxy that rewrites a manifest fetched by digest is caught; nothing is cached."""
    seeded = registry_open.seeded[seed.MULTI]
    proxy = registry_open.proxy()
    proxy.faults.tamper(lambda body: body.replace(b"arm64", b"amd64"), path=r"/manifests/sha256")
    ref = parse(f"{proxy.host}/demo/multi@{seeded.digest}")
    with pytest.raises(DigestMismatchError) as err:
        RegistrySource(ref, make_session(cache)).root()
    assert err.value.expected == seeded.digest
    assert cached_files(cache) == []
