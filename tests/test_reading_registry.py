"""read_file against the registry rig: the bytes the CDN serves for a second read of a 100 MiB
gzip layer, the fallback when Range is ignored or answered wrongly, and zstd:chunked's TOC."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import rig
from realimages import BigGzipImage, RealImages
from realimages import layout as oci
from realimages.many_files import expected_content, file_path
from rig import Registry
from rig.seed import skopeo_copy

import ociinspect as oi
from ociinspect.layers.reader import ImageReader

registry = pytest.mark.registry


@pytest.fixture(scope="module")
def big(real_images: RealImages) -> BigGzipImage:
    """The ~100 MiB gzip layer image (built once)."""
    return real_images.big_gzip()


def push(registry: Registry, source: str, name: str, home: Path) -> str:
    """Copy an OCI layout image to the rig with skopeo (digests preserved); its reference."""
    skopeo_copy(source, f"docker://{registry.ref(name)}", all_images=False, home=home)
    return registry.ref(name)


def blob_gets(registry: Registry, digest: str) -> list[rig.Recorded]:
    assert registry.cdn is not None
    pattern = re.escape(digest.split(":", 1)[1]) + "/data"
    return [r for r in registry.cdn.requests() if r.method == "GET" and re.search(pattern, r.path)]


@registry
def test_a_second_read_transfers_under_5_percent_of_the_layer(
    registry_open: Registry, big: BigGzipImage, tmp_path: Path
) -> None:
    """The first read streams the layer once (and keeps its index); a new session on the same
    cache reads another path of the 100 MiB layer for less than 5% of it, counted at the CDN."""
    ref = push(registry_open, big.ref, "scratch/read-big:v1", tmp_path / "home")
    assert registry_open.cdn is not None
    first = oi.read_file(ref, "/data/a-start.txt", session=rig.rig_session(tmp_path / "cache"))
    assert first == big.text("/data/a-start.txt").content
    streamed = registry_open.cdn.bytes_sent()
    assert streamed >= big.layer_size
    registry_open.cdn.reset()
    session = rig.rig_session(tmp_path / "cache")
    reader = ImageReader(oi.image(ref, session=session))
    assert reader.read("/data/b150-middle.txt") == big.text("/data/b150-middle.txt").content
    served = registry_open.cdn.bytes_sent()
    assert 0 < served < 0.05 * big.layer_size, f"{served} bytes of {big.layer_size}"
    assert reader.passes == 0 and reader.notes == []
    assert all(r.header("Range") for r in blob_gets(registry_open, big.layer_digest))
    assert session.cache is not None and not session.cache.has(big.layer_digest)


@registry
def test_range_ignored_falls_back_to_a_verified_stream(
    registry_open: Registry, big: BigGzipImage, tmp_path: Path
) -> None:
    """When the CDN answers a Range request with the whole 100 MiB blob (200), the read
    streams the layer once more, verified, and still returns the right bytes."""
    ref = push(registry_open, big.ref, "scratch/read-big-norange:v1", tmp_path / "home")
    oi.read_file(ref, "/etc/hostname", session=rig.rig_session(tmp_path / "cache"))
    assert registry_open.cdn is not None
    whole = oci.blob_path(big.layout, big.layer_digest).read_bytes()
    registry_open.cdn.faults.fail(
        200, times=None, method="GET", path=big.layer_digest.split(":", 1)[1], body=whole,
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    reader = ImageReader(oi.image(ref, session=rig.rig_session(tmp_path / "cache")))
    assert reader.read("/data/z-end.txt") == big.text("/data/z-end.txt").content
    assert reader.passes == 1
    assert any("streamed the whole layer" in note for note in reader.notes)
    gets = blob_gets(registry_open, big.layer_digest)
    # the first read's stream, the Range answered with the whole blob, the fallback stream
    assert [(r.status, bool(r.header("Range"))) for r in gets] == [
        (200, False), (200, True), (200, False)
    ]


@registry
def test_a_tampered_range_answer_is_caught_and_streamed(
    registry_open: Registry, big: BigGzipImage, tmp_path: Path
) -> None:
    """A 206 answer whose bytes were changed fails the member's recorded sha256; the reader
    falls back to a verified stream and returns the right bytes."""
    ref = push(registry_open, big.ref, "scratch/read-big-tamper:v1", tmp_path / "home")
    oi.read_file(ref, "/etc/hostname", session=rig.rig_session(tmp_path / "cache"))
    assert registry_open.cdn is not None

    def flip(body: bytes) -> bytes:
        return bytes(b ^ 0x55 for b in body)

    registry_open.cdn.faults.tamper(flip, times=1, method="GET", path=big.layer_digest[7:])
    reader = ImageReader(oi.image(ref, session=rig.rig_session(tmp_path / "cache")))
    assert reader.read("/data/a-start.txt") == big.text("/data/a-start.txt").content
    assert reader.passes == 1 and reader.notes


@registry
def test_zstd_chunked_from_the_registry_fetches_the_toc_and_one_frame(
    registry_open: Registry, real_images: RealImages, tmp_path: Path
) -> None:
    """A zstd:chunked layer (skopeo 1.9) read from the registry costs its TOC and the file's
    frame: far less than the layer, and never a whole-blob GET."""
    many = real_images.many_files().variant("zstd:chunked")
    ref = push(registry_open, many.ref, "scratch/read-chunked:v1", tmp_path / "home")
    path = file_path(11, 2, 33)
    data = oi.read_file(ref, path, session=rig.rig_session(tmp_path / "cache"))
    assert data == expected_content(path)
    assert registry_open.cdn is not None
    assert registry_open.cdn.bytes_sent() < 0.3 * many.layer_size
    assert all(r.header("Range") for r in blob_gets(registry_open, many.layer_digest))
