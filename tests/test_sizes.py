"""Uncompressed layer sizes: estimates (gzip ISIZE, zstd header), exact sizes once streamed,
range reads of local and registry sources, the new table columns, progress bars, and a layer of
several hundred MB listed from the real registry with bounded memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import zstandard
from rig import Registry, rig_session, seed, session_for
from rig.seed import skopeo_copy

import ociinspect as oi
from ociinspect import progress
from ociinspect.cache import BlobCache
from ociinspect.layers import sizes
from ociinspect.layers.sizes import UncompressedSize, estimate_gzip, from_head, from_tail
from ociinspect.sources.archive import OciArchiveSource
from ociinspect.sources.layout import LayoutSource
from ociinspect.testing import build
from ociinspect.values import mediatypes as mt
from ociinspect.values.models import Descriptor

NA = pd.NA
MiB = 1 << 20
GiB = 1 << 30
registry = pytest.mark.registry


def unpacked(blob: build.Blob) -> int:
    """The true uncompressed size of a built layer."""
    if blob.media_type.endswith("gzip"):
        return len(gzip.decompress(blob.data))
    if blob.media_type.endswith("zstd"):
        return len(zstandard.ZstdDecompressor().decompress(blob.data))
    return blob.size


def mixed_image() -> build.BuiltImage:
    """Three layers: gzip, zstd (with its content size) and uncompressed."""
    return build.image(
        [
            build.layer([build.file("etc/a", b"a" * 5000)]),
            build.layer([build.file("etc/b", b"b" * 7000)], compression="zstd"),
            build.layer([build.file("etc/c", b"c" * 900)], compression="none"),
        ]
    )


# --------------------------------------------------------------------------- pure estimates


@pytest.mark.parametrize(
    ("isize", "compressed", "expected"),
    [
        (5000, 1000, 5000),
        (300 * MiB, 100 * MiB, 300 * MiB),
        (50 * MiB, 100 * MiB, 4 * GiB + 50 * MiB),
        (2 * GiB, 3 * GiB, 6 * GiB),
        (2 * GiB, 2 * GiB, 6 * GiB),
        (int(1.1 * GiB), 1 * GiB, int(1.1 * GiB)),
        (0, 10, 0),
        (0, 1 * MiB, None),
    ],
    ids=[
        "a small layer's ISIZE is its size",
        "a plausible ISIZE under 4 GiB is taken as it is",
        "an ISIZE smaller than the compressed size means 4 GiB more",
        "3 GiB compressed with 2 GiB ISIZE can only be 6 GiB",
        "2 GiB compressed leans to the typical ratio: 6 GiB rather than 2",
        "a poorly compressible 1 GiB layer keeps its ISIZE",
        "an empty tiny gzip is empty",
        "no multiple of 4 GiB fits deflate's best ratio: unknown",
    ],
)
def test_gzip_isize_becomes_a_size_consistent_with_the_compressed_size(
    isize: int, compressed: int, expected: int | None
) -> None:
    """ISIZE is the size modulo 2**32; multiples of 4 GiB are added as deflate's bounds and
    the typical ratio say."""
    assert estimate_gzip(isize % 2**32, compressed) == expected


def test_a_gzip_tail_gives_an_estimate_and_too_little_data_gives_unknown() -> None:
    """The last four bytes of a real gzip stream name its size; fewer bytes name nothing."""
    data = gzip.compress(b"x" * 123_456)
    assert from_tail(data[-4:], len(data)) == UncompressedSize(123_456, False, "gzip-isize")
    assert from_tail(data[-3:], len(data)) == sizes.UNKNOWN


@pytest.mark.parametrize(
    ("blob", "expected"),
    [
        (zstandard.ZstdCompressor().compress(b"y" * 70_000), 70_000),
        (zstandard.ZstdCompressor(write_content_size=False).compress(b"y" * 70_000), None),
        (
            zstandard.ZstdCompressor().compress(b"z" * 10)
            + zstandard.ZstdCompressor(level=1).compress(seed.noise(200_000, b"frames")),
            None,
        ),
        (b"not zstd at all, just text", None),
    ],
    ids=[
        "a frame that states its content size gives it",
        "a frame without a content size gives unknown",
        "a first frame far smaller than the blob is one of several: unknown",
        "bytes that are not zstd give unknown",
    ],
)
def test_a_zstd_header_gives_its_content_size_only_when_it_can_be_the_whole(
    blob: bytes, expected: int | None
) -> None:
    """Frame_Content_Size of the first frame, when stated and plausible for the whole blob."""
    found = from_head(blob[:18], len(blob))
    assert found.size == expected
    assert found.exact is False


@pytest.mark.parametrize(
    "arguments",
    [(10, True, "gzip-isize"), (10, False, "listed"), (None, False, "listed"),
     (-1, True, "listed")],
    ids=["an estimate cannot be exact", "a listed size is exact", "a listed size has a value",
         "a size is not negative"],
)
def test_uncompressed_size_refuses_inconsistent_values(arguments: tuple[Any, ...]) -> None:
    """The value type validates itself: ``exact`` must follow from ``how``."""
    with pytest.raises(ValueError):
        UncompressedSize(*arguments)


def test_what_a_descriptor_alone_says() -> None:
    """An uncompressed layer is its size (exact); eStargz annotates an estimate; else unknown."""
    plain = Descriptor(mt.OCI_LAYER, "sha256:" + "a" * 64, 900)
    gz = Descriptor(mt.OCI_LAYER_GZIP, "sha256:" + "b" * 64, 900)
    annotated = Descriptor(
        mt.OCI_LAYER_GZIP, "sha256:" + "c" * 64, 900,
        annotations={"io.containers.estargz.uncompressed-size": "4096"},
    )
    assert sizes.without_io(plain) == UncompressedSize(900, True, "uncompressed")
    assert sizes.without_io(gz) == sizes.UNKNOWN
    assert sizes.without_io(annotated) == UncompressedSize(4096, False, "annotation")


# --------------------------------------------------------------------------- local sources


def test_local_sources_read_ranges_in_place(tmp_path: Path) -> None:
    """A layout directory and a tar of it read suffixes, prefixes and clipped ranges alike."""
    img = mixed_image()
    layout = build.write_layout(tmp_path / "layout", img, tags=["v1"])
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted(layout.rglob("*")):
            tar.add(path, arcname=path.relative_to(layout).as_posix(), recursive=False)
    blob = img.layers[0]
    for source in (LayoutSource(layout, "v1"), OciArchiveSource(archive, "v1")):
        assert source.blob_range(blob.digest, -4).data == blob.data[-4:]
        assert source.blob_range(blob.digest, 0, 17).data == blob.data[:18]
        assert source.blob_range(blob.digest, 5, 10**9).data == blob.data[5:]
        assert source.blob_range(blob.digest, -(10**9)).data == blob.data
        assert source.blob_range(blob.digest, -4).whole is False


def test_layers_of_a_layout_estimate_then_know_exactly_once_listed(tmp_path: Path) -> None:
    """gzip and zstd layers are estimated from a few bytes; listing one makes it exact."""
    img = mixed_image()
    build.write_layout(tmp_path / "layout", img, tags=["v1"])
    ref = f"oci:{tmp_path / 'layout'}:v1"
    s = rig_session()
    truth = [unpacked(b) for b in img.layers]
    table = oi.layers(ref, session=s)
    assert table["uncompressed_size"].tolist() == truth
    assert table["uncompressed_exact"].tolist() == [False, False, True]
    assert str(table["uncompressed_size"].dtype) == "Int64"
    assert str(table["uncompressed_exact"].dtype) == "bool"
    oi.files(ref, 1, session=s)
    again = oi.layers(ref, sizes="none", session=s)
    assert again["uncompressed_exact"].tolist() == [False, True, True]
    assert again["uncompressed_size"].tolist() == truth


def test_sizes_none_does_no_reading_and_exact_reads_every_layer(tmp_path: Path) -> None:
    """``none``: only the uncompressed layer is known; ``exact``: every layer, exactly."""
    img = mixed_image()
    build.write_layout(tmp_path / "layout", img, tags=["v1"])
    ref = f"oci:{tmp_path / 'layout'}:v1"
    s = rig_session()
    none = oi.layers(ref, sizes="none", session=s)["uncompressed_size"].tolist()
    assert none == [NA, NA, img.layers[2].size]
    exact = oi.layers(ref, sizes="exact", session=s)
    assert exact["uncompressed_size"].tolist() == [unpacked(b) for b in img.layers]
    assert exact["uncompressed_exact"].all()
    with pytest.raises(ValueError, match="sizes must be one of"):
        oi.layers(ref, sizes="some", session=s)


def test_platforms_sum_layer_sizes_only_when_asked(tmp_path: Path) -> None:
    """platforms() estimates nothing by default; with sizes= it sums each image's layers."""
    images = [mixed_image(), build.image([build.layer([build.file("x", b"x" * 3000)])],
                                         platform="linux/arm64")]
    build.write_layout(tmp_path / "layout", build.index(images), tags=["v1"])
    ref = f"oci:{tmp_path / 'layout'}:v1"
    s = rig_session()
    default = oi.platforms(ref, session=s)
    assert default["uncompressed_size"].tolist()[:2] == [NA, NA]
    estimated = oi.platforms(ref, sizes="estimate", session=s)
    assert estimated["uncompressed_size"].tolist()[:2] == [
        sum(unpacked(b) for b in img.layers) for img in images
    ]
    assert estimated["uncompressed_exact"].tolist()[:2] == [False, False]
    attestations = estimated[estimated["kind"] == "attestation"]
    assert attestations["uncompressed_size"].isna().all()


# --------------------------------------------------------------------------- the registry rig


def blob_requests(registry_open: Registry, image: str | None = None) -> list[Any]:
    """CDN requests (blob downloads land there after the registry's 307), for the layers of
    ``image`` (a seeded reference; every platform of an index) or any blob."""
    assert registry_open.cdn is not None
    found = registry_open.cdn.requests()
    if image is None:
        return found
    root = registry_open.seeded[image].root
    images = root.images if isinstance(root, build.BuiltIndex) else [root]
    layers = {b.digest.split(":")[1] for img in images for b in img.layers}
    return [r for r in found if r.path.split("/")[-2] in layers]


@registry
def test_registry_layers_cost_one_range_request_per_compressed_layer(
    registry_open: Registry, tmp_path: Path
) -> None:
    """gzip layers ask for ``bytes=-4``, zstd for ``bytes=0-17``; values match the layers."""
    built = registry_open.seeded[seed.SINGLE].image()
    table = oi.layers(
        registry_open.ref(seed.SINGLE), session=session_for(BlobCache(tmp_path / "cache"))
    )
    assert table["uncompressed_size"].tolist() == [unpacked(b) for b in built.layers]
    assert table["uncompressed_exact"].tolist() == [False, False, True, False]
    requests = blob_requests(registry_open, seed.SINGLE)
    assert sorted(r.header("Range") or "" for r in requests) == [
        "bytes=-4", "bytes=-4", "bytes=0-17"
    ]
    assert all(r.status == 206 for r in requests)


@registry
def test_a_listed_layer_is_known_exactly_by_a_later_run_without_requests(
    registry_open: Registry, tmp_path: Path
) -> None:
    """files() records the exact size and diff_id in the cache; a later run reads them there."""
    built = registry_open.seeded[seed.SINGLE].image()
    ref, cache = registry_open.ref(seed.SINGLE), BlobCache(tmp_path / "cache")
    oi.layers(ref, session=session_for(cache))
    oi.files(ref, 0, session=session_for(cache))
    meta = cache.get_meta(built.layers[0].digest)["uncompressed"]
    assert meta == {"size": unpacked(built.layers[0]), "exact": True, "how": "listed",
                    "diffId": built.layers[0].diff_id}
    session_for(cache).forget()  # as a new process would start
    registry_open.reset()
    table = oi.layers(ref, session=session_for(cache))
    assert table["uncompressed_exact"].tolist() == [True, False, True, False]
    assert table["uncompressed_size"].tolist() == [unpacked(b) for b in built.layers]
    assert blob_requests(registry_open, seed.SINGLE) == []


@registry
def test_a_cdn_that_ignores_range_gives_exact_sizes_from_the_one_download(
    registry_open: Registry, tmp_path: Path
) -> None:
    """A 200 with the whole blob is verified, cached and decompressed: exact, one request."""
    built = registry_open.seeded[seed.SINGLE].image()
    gz = built.layers[3]
    assert registry_open.cdn is not None
    registry_open.cdn.faults.fail(200, times=None, path=gz.digest.split(":")[1], body=gz.data,
                                  headers={"Content-Type": "application/octet-stream"})
    cache = BlobCache(tmp_path / "cache")
    table = oi.layers(registry_open.ref(seed.SINGLE), session=session_for(cache))
    assert table["uncompressed_size"].tolist()[3] == unpacked(gz)
    assert table["uncompressed_exact"].tolist() == [False, False, True, True]
    known = session_for(cache).sizes.known(gz.digest, cache)
    assert known == UncompressedSize(unpacked(gz), True, "whole-blob", gz.diff_id)
    assert cache.has(gz.digest)
    hits = [r for r in blob_requests(registry_open) if gz.digest.split(":")[1] in r.path]
    assert len(hits) == 1


@registry
def test_platforms_estimate_each_distinct_layer_once(registry_open: Registry) -> None:
    """Three images sharing a base layer: four range requests, sums equal to the truth."""
    seeded = registry_open.seeded[seed.MULTI]
    ref = registry_open.ref(seed.MULTI)
    default = oi.platforms(ref, session=session_for(None))
    assert default["uncompressed_size"].isna().all()
    assert blob_requests(registry_open, seed.MULTI) == []
    table = oi.platforms(ref, sizes="estimate", session=session_for(None))
    expected = [sum(unpacked(b) for b in seeded.image(p).layers) for p in seed.PLATFORMS]
    assert table["uncompressed_size"].tolist()[:3] == expected
    assert len(blob_requests(registry_open, seed.MULTI)) == 4


@registry
def test_sizes_exact_streams_each_layer_and_agrees_with_the_diff_ids(
    registry_open: Registry,
) -> None:
    """``exact`` downloads the layers: exact sizes, and the diff_ids computed match the config."""
    built = registry_open.seeded[seed.SINGLE].image()
    s = rig_session()
    table = oi.layers(registry_open.ref(seed.SINGLE), sizes="exact", session=s)
    assert table["uncompressed_exact"].all()
    assert table["uncompressed_size"].tolist() == [unpacked(b) for b in built.layers]
    for blob in built.layers[:2]:
        found = s.sizes.known(blob.digest)
        assert found is not None and found.diff_id == blob.diff_id


# --------------------------------------------------------------------------- progress


@pytest.mark.parametrize(
    ("enabled", "size", "shown"),
    [
        (True, 10, True),
        (None, 9 * MiB, True),
        (None, 1 * MiB, False),
        (False, 9 * MiB, False),
    ],
    ids=[
        "progress=True shows a bar even for a small blob",
        "by default a blob of 8 MiB or more shows a bar",
        "by default a small blob shows none",
        "progress=False silences a large blob",
    ],
)
def test_when_a_download_shows_a_bar(enabled: bool | None, size: int, shown: bool) -> None:
    """One policy decides: the explicit choice, else an 8 MiB threshold (a session with
    progress off, e.g. from OCIINSPECT_PROGRESS=0, passes False)."""
    bar = progress.bar_for(enabled, size, "layer")
    assert (bar is not None) == shown
    if bar is not None:
        assert isinstance(bar, progress.TqdmProgress)


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[progress.Progress]:
    """Every bar made, with tqdm writing to a string instead of the terminal."""
    made: list[progress.Progress] = []
    original = progress.make_progress

    def spy(enabled: bool | None = None, label: str = "", **options: Any) -> progress.Progress:
        bar = original(enabled, label, file=io.StringIO(), **options)
        made.append(bar)
        return bar

    monkeypatch.setattr(progress, "make_progress", spy)
    return made


@registry
@pytest.mark.parametrize("cached", [True, False], ids=["into the disk cache", "without a cache"])
def test_files_with_progress_counts_every_downloaded_byte(
    registry_open: Registry, tmp_path: Path, bars: list[progress.Progress], cached: bool
) -> None:
    """progress=True: one tqdm bar per layer streamed, ending at the layer's size."""
    layer = registry_open.seeded[seed.BIG].image().layers[0]
    cache = BlobCache(tmp_path / "cache") if cached else None
    oi.files(registry_open.ref(seed.BIG), 0, progress=True, session=session_for(cache))
    assert len(bars) == 1
    bar = bars[0]
    assert isinstance(bar, progress.TqdmProgress)
    assert (bar.n, bar.total, bar.bar.n) == (layer.size, layer.size, layer.size)
    assert bar.label.startswith("layer 1/1 sha256:")


def test_files_of_a_layout_with_progress_counts_the_bytes_read(
    tmp_path: Path, bars: list[progress.Progress]
) -> None:
    """A local source has no download: the bar follows the bytes the listing reads."""
    img = mixed_image()
    build.write_layout(tmp_path / "layout", img, tags=["v1"])
    oi.filesystem(f"oci:{tmp_path / 'layout'}:v1", progress=True)
    assert [bar.n for bar in bars] == [b.size for b in img.layers]  # type: ignore[attr-defined]


@registry
def test_no_bar_by_default_in_tests_nor_when_silenced(
    registry_open: Registry, bars: list[progress.Progress]
) -> None:
    """A session with progress off (OCIINSPECT_PROGRESS=0) and progress=False show nothing."""
    ref = registry_open.ref(seed.BIG)
    oi.files(ref, 0, session=session_for(None))
    oi.files(ref, 0, progress=False, session=session_for(None))
    assert bars == []


# --------------------------------------------------------------------------- a big layer


def _write_zero_layer(path: Path, files: int, each: int) -> tuple[str, str, int]:
    """A gzip (level 1) tar of ``files`` zero-filled files, streamed to ``path``.

    Returns (digest, diff_id, uncompressed size); nothing is held in memory."""
    tar_hash, total = hashlib.sha256(), 0
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    zero = bytes(MiB)
    with path.open("wb") as out:

        def write(data: bytes) -> None:
            nonlocal total
            tar_hash.update(data)
            total += len(data)
            out.write(compressor.compress(data))

        for number in range(files):
            info = tarfile.TarInfo(f"zeros/{number}.bin")
            info.size, info.mode, info.mtime = each, 0o644, 0
            write(info.tobuf(format=tarfile.PAX_FORMAT))
            for _ in range(each // MiB):
                write(zero)
        write(bytes(2 * tarfile.BLOCKSIZE))
        out.write(compressor.flush())
    blob_hash = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            blob_hash.update(chunk)
    return f"sha256:{blob_hash.hexdigest()}", f"sha256:{tar_hash.hexdigest()}", total


def _write_layout(directory: Path, layer: Path, digest: str, diff_id: str) -> None:
    """An OCI layout holding one image whose only layer is ``layer`` (moved in)."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layer.rename(blobs / digest.split(":")[1])

    def put(body: dict[str, Any]) -> dict[str, Any]:
        raw = json.dumps(body, sort_keys=True).encode()
        hexdigest = hashlib.sha256(raw).hexdigest()
        (blobs / hexdigest).write_bytes(raw)
        return {"digest": f"sha256:{hexdigest}", "size": len(raw)}

    config = put({"architecture": "amd64", "os": "linux", "config": {},
                  "rootfs": {"type": "layers", "diff_ids": [diff_id]}})
    size = (blobs / digest.split(":")[1]).stat().st_size
    manifest = put({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, **config},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": digest, "size": size}],
    })
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [
        {"mediaType": mt.OCI_MANIFEST, **manifest,
         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    (directory / "index.json").write_text(json.dumps(index))
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


@registry
def test_a_layer_of_300_mb_is_listed_from_the_registry_in_bounded_memory(
    registry_open: Registry, tmp_path: Path
) -> None:
    """300 MiB of tar (zero files, gzip level 1) lists with a traced peak under 64 MiB, and
    its exact size and diff_id are recorded."""
    started = time.monotonic()
    digest, diff_id, size = _write_zero_layer(tmp_path / "layer.tar.gz", files=3, each=100 * MiB)
    _write_layout(tmp_path / "layout", tmp_path / "layer.tar.gz", digest, diff_id)
    skopeo_copy(f"oci:{tmp_path / 'layout'}:latest",
                f"docker://{registry_open.ref('scratch/big:latest')}",
                all_images=False, home=tmp_path / "home")
    cache = BlobCache(tmp_path / "cache")
    tracemalloc.start()
    try:
        table = oi.files(registry_open.ref("scratch/big:latest"), 0, session=session_for(cache))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert table["size"].tolist() == [100 * MiB] * 3
    assert peak < 64 * MiB, f"peak {peak / MiB:.1f} MiB"
    found = oi.layers(registry_open.ref("scratch/big:latest"), sizes="none",
                      session=session_for(cache))
    assert found["uncompressed_size"].tolist() == [size]
    assert found["uncompressed_exact"].tolist() == [True]
    session_for(cache).forget()
    known = session_for(cache).sizes.known(digest, cache)
    assert known == UncompressedSize(size, True, "listed", diff_id)
    assert time.monotonic() - started < 30
