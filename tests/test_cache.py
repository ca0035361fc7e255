"""The on-disk blob cache: verified atomic writes, verified reads, LRU pruning, the default."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ociinspect import cache as cache_module
from ociinspect.cache import BlobCache, CacheStats
from ociinspect.errors import DigestMismatchError, InvalidDigestError, SizeMismatchError
from ociinspect.values.digest import Digest
from ociinspect.values.models import ManifestInfo

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def files(root: Path) -> set[str]:
    """Every file under ``root`` (temporary dotfiles included), relative to it."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return str(Digest.of(data, algorithm))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def cache(root: Path) -> BlobCache:
    return BlobCache(root, max_bytes=None)


# -- round trips ---------------------------------------------------------------------------------

ROUND_TRIPS = [
    (b"", "sha256"),
    (b"hello layer", "sha256"),
    (os.urandom(3 * 1024 * 1024 + 7), "sha256"),
    (b"hello layer", "sha512"),
]
ROUND_TRIP_IDS = [
    "an empty blob round-trips",
    "a small blob round-trips",
    "a blob of several chunks round-trips",
    "a sha512-addressed blob round-trips",
]


@pytest.mark.parametrize(("data", "algorithm"), ROUND_TRIPS, ids=ROUND_TRIP_IDS)
def test_put_then_every_reader_returns_the_bytes(
    cache: BlobCache, root: Path, data: bytes, algorithm: str
) -> None:
    """What put stores, get/open/path return, at blobs/<algorithm>/<hex>."""
    digest = digest_of(data, algorithm)
    stored = cache.put(digest, data)
    assert stored == root / "blobs" / algorithm / digest.split(":")[1]
    assert cache.has(digest)
    assert cache.get(digest) == data
    handle = cache.open(digest)
    assert handle is not None
    with handle:
        assert handle.read() == data
    found = cache.path(digest)
    assert found is not None and found.read_bytes() == data
    assert files(root) == {f"blobs/{algorithm}/{digest.split(':')[1]}"}


@pytest.mark.parametrize(
    "size",
    [None, 6],
    ids=["a stream without a size is stored", "a stream of the promised size is stored"],
)
def test_put_stream_stores_the_chunks(cache: BlobCache, size: int | None) -> None:
    """put_stream writes the concatenated chunks under their digest."""
    digest = digest_of(b"abcdef")
    cache.put_stream(digest, iter([b"ab", b"cd", b"ef"]), size=size)
    assert cache.get(digest) == b"abcdef"


def test_a_miss_is_none_and_creates_nothing(tmp_path: Path) -> None:
    """Reading an absent digest returns None everywhere and does not create the directory."""
    cache = BlobCache(tmp_path / "never", max_bytes=None)
    digest = digest_of(b"absent")
    assert (cache.get(digest), cache.open(digest), cache.path(digest)) == (None, None, None)
    assert cache.get_manifest(digest) is None
    assert not cache.has(digest)
    assert not (tmp_path / "never").exists()
    assert cache.stats() == CacheStats(entries=0, bytes=0, hits=0, misses=4)


@pytest.mark.parametrize(
    "key",
    ["latest", "docker.io/library/ubuntu:latest", "sha256:abc", "md5:" + "0" * 32],
    ids=[
        "a tag is refused as a key",
        "a full reference is refused as a key",
        "a short digest is refused as a key",
        "an unsupported algorithm is refused as a key",
    ],
)
def test_only_digests_are_keys(cache: BlobCache, root: Path, key: str) -> None:
    """Tags are never cached: anything but a valid digest raises InvalidDigestError."""
    with pytest.raises(InvalidDigestError):
        cache.put(key, b"x")
    with pytest.raises(InvalidDigestError):
        cache.get(key)
    assert not root.exists()


# -- failed writes leave nothing -----------------------------------------------------------------


def test_put_with_the_wrong_digest_raises_and_writes_nothing(cache: BlobCache, root: Path) -> None:
    """A mismatch raises DigestMismatchError naming both digests and adds no file at all."""
    cache.put(digest_of(b"existing"), b"existing")
    before = files(root)
    wrong = digest_of(b"expected")
    with pytest.raises(DigestMismatchError) as caught:
        cache.put(wrong, b"something else")
    assert caught.value.expected == wrong
    assert caught.value.actual == digest_of(b"something else")
    assert files(root) == before
    assert not cache.has(wrong)


def test_put_manifest_with_the_wrong_digest_writes_nothing(cache: BlobCache, root: Path) -> None:
    """A manifest whose bytes do not hash to its digest is refused before any sidecar is written."""
    info = ManifestInfo(OCI_MANIFEST, digest_of(b"{}"), b'{"schemaVersion": 2}')
    with pytest.raises(DigestMismatchError):
        cache.put_manifest(info)
    assert not root.exists() or files(root) == set()


def _explodes_after_one_chunk(seen: list[set[str]], folder: Path) -> Iterator[bytes]:
    yield b"first chunk"
    seen.append({p.name for p in folder.iterdir()})
    raise ConnectionResetError("download broke")


STREAM_FAILURES = [
    (lambda: iter([b"not", b" it"]), digest_of(b"other"), None, DigestMismatchError),
    (lambda: iter([b"abc", b"def"]), digest_of(b"abcdef"), 5, SizeMismatchError),
    (lambda: iter([b"abc"]), digest_of(b"abc"), 4, SizeMismatchError),
]


@pytest.mark.parametrize(
    ("chunks", "digest", "size", "error"),
    STREAM_FAILURES,
    ids=[
        "a stream hashing to another digest leaves nothing",
        "a stream longer than its size leaves nothing",
        "a stream shorter than its size leaves nothing",
    ],
)
def test_put_stream_that_fails_verification_leaves_nothing(
    cache: BlobCache, root: Path, chunks, digest: str, size: int | None, error: type[Exception]
) -> None:
    """Verification failures raise and remove the temporary file."""
    with pytest.raises(error):
        cache.put_stream(digest, chunks(), size=size)
    assert files(root) == set()


def test_put_stream_whose_source_raises_midway_leaves_nothing(cache: BlobCache, root: Path) -> None:
    """An exception from the chunk iterator propagates; its temporary file is removed."""
    digest = digest_of(b"first chunk and more")
    folder = root / "blobs" / "sha256"
    seen: list[set[str]] = []
    with pytest.raises(ConnectionResetError):
        cache.put_stream(digest, _explodes_after_one_chunk(seen, folder))
    assert len(seen) == 1 and any(name.endswith(".part") for name in seen[0])  # it did exist
    assert files(root) == set()
    assert cache.get(digest) is None


# -- corruption ----------------------------------------------------------------------------------

READERS = {
    "get": lambda c, d: c.get(d),
    "open": lambda c, d: c.open(d),
    "path": lambda c, d: c.path(d),
    "get_manifest": lambda c, d: c.get_manifest(d),
}


@pytest.mark.parametrize(
    "reader",
    list(READERS),
    ids=[f"{name} reports a corrupted entry as a miss" for name in READERS],
)
def test_a_corrupted_entry_is_deleted_and_missed(cache: BlobCache, reader: str) -> None:
    """An entry whose bytes no longer hash to its name is deleted and counted as a miss."""
    raw = b'{"schemaVersion": 2, "mediaType": "%s"}' % OCI_MANIFEST.encode()
    stored = cache.put_manifest(ManifestInfo(OCI_MANIFEST, digest_of(raw), raw))
    stored.write_bytes(raw.replace(b"2", b"3"))
    assert READERS[reader](cache, digest_of(raw)) is None
    assert not stored.exists()
    assert cache.stats().misses == 1 and cache.stats().hits == 0


def test_large_entries_are_fingerprinted_on_read_and_verify_rehashes(root: Path) -> None:
    """Above verify_limit a read checks size and a sampled fingerprint (a changed entry is
    re-hashed, deleted and reported as damaged); verify() always re-hashes."""
    cache = BlobCache(root, max_bytes=None, verify_limit=4)
    good, bad = b"sound content", b"rotten content"
    cache.put(digest_of(good), good)
    stored = cache.put(digest_of(bad), bad)
    stored.write_bytes(b"rotten CONTENT")
    assert cache.get(digest_of(good)) == good
    assert cache.get(digest_of(bad)) is None
    assert cache.damaged(digest_of(bad)) and not cache.damaged(digest_of(bad))
    assert cache.verify(digest_of(good)) is True
    assert cache.verify(digest_of(bad)) is False
    assert not cache.has(digest_of(bad))
    assert cache.verify(digest_of(b"absent")) is False


# -- manifests -----------------------------------------------------------------------------------

MANIFESTS = [
    (OCI_INDEX, b'{"schemaVersion": 2, "manifests": []}', OCI_INDEX),
    (DOCKER_LIST, b'{"schemaVersion": 2, "manifests": []}', DOCKER_LIST),
    (OCI_INDEX, b'{"schemaVersion": 2, "mediaType": "%s"}' % OCI_MANIFEST.encode(), OCI_INDEX),
    (None, b'{"schemaVersion": 2, "mediaType": "%s"}' % OCI_MANIFEST.encode(), OCI_MANIFEST),
]


@pytest.mark.parametrize(
    ("media_type", "raw", "expected"),
    MANIFESTS,
    ids=[
        "an OCI index without mediaType in its body keeps its type",
        "a Docker manifest list keeps its type",
        "the stored Content-Type wins over the body's mediaType",
        "a manifest stored without a type takes the body's mediaType",
    ],
)
def test_manifests_keep_their_media_type(
    root: Path, media_type: str | None, raw: bytes, expected: str
) -> None:
    """get_manifest, even from another BlobCache on the same directory, returns the media type."""
    info = ManifestInfo.from_bytes(raw, digest_of(raw), media_type)
    BlobCache(root, max_bytes=None).put_manifest(info)
    again = BlobCache(root, max_bytes=None).get_manifest(info.digest)
    assert again is not None
    assert (again.media_type, again.digest, again.raw) == (expected, info.digest, raw)
    assert again.json == info.json


# -- eviction ------------------------------------------------------------------------------------


def _age(cache: BlobCache, digest: str, mtime: float) -> None:
    path = cache.path(digest)
    assert path is not None
    os.utime(path, (mtime, mtime))


def test_prune_evicts_least_recently_used_first(cache: BlobCache) -> None:
    """Oldest mtime goes first, and a read makes an entry the most recent."""
    blobs = {name: name.encode() * 10 for name in "abcd"}
    for i, (_name, data) in enumerate(blobs.items()):
        cache.put(digest_of(data), data)
        _age(cache, digest_of(data), 1_000_000 + i)  # a oldest ... d newest
    assert cache.get(digest_of(blobs["a"])) == blobs["a"]  # a becomes the newest
    assert cache.prune(max_bytes=20) == [digest_of(blobs["b"]), digest_of(blobs["c"])]
    assert cache.size() == 20
    assert cache.prune(max_bytes=10) == [digest_of(blobs["d"])]
    assert cache.has(digest_of(blobs["a"]))
    assert cache.prune(max_bytes=0) == [digest_of(blobs["a"])]
    assert cache.prune(max_bytes=0) == []


def test_put_over_the_bound_prunes_but_keeps_what_it_wrote(root: Path) -> None:
    """A put that passes max_bytes evicts the oldest entries, never the entry just written."""
    cache = BlobCache(root, max_bytes=25)
    first, second, third = b"1" * 10, b"2" * 10, b"3" * 10
    for i, data in enumerate((first, second)):
        cache.put(digest_of(data), data)
        _age(cache, digest_of(data), 1_000_000 + i)
    cache.put(digest_of(third), third)
    assert not cache.has(digest_of(first))
    assert cache.has(digest_of(second)) and cache.has(digest_of(third))
    huge = b"4" * 100
    cache.put(digest_of(huge), huge)
    assert cache.get(digest_of(huge)) == huge
    assert cache.stats().entries == 1


def test_prune_without_any_bound_keeps_everything(cache: BlobCache) -> None:
    """An unbounded cache's prune() evicts nothing."""
    cache.put(digest_of(b"x" * 50), b"x" * 50)
    assert cache.prune() == []
    assert cache.size() == 50


def test_temporary_files_are_not_entries_and_stale_ones_are_removed(
    cache: BlobCache, root: Path
) -> None:
    """size() ignores temporary files; a crashed writer's old one is removed, a fresh one kept."""
    cache.put(digest_of(b"entry"), b"entry")
    folder = root / "blobs" / "sha256"
    stale, fresh = folder / ".dead.part", folder / ".writing.part"
    stale.write_bytes(b"x" * 100)
    fresh.write_bytes(b"y" * 100)
    old = time.time() - cache_module.STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    assert cache.size() == 5
    assert not stale.exists() and fresh.exists()


def test_clear_removes_entries_and_metadata_and_resets_counters(
    cache: BlobCache, root: Path
) -> None:
    """After clear() nothing is cached and the counters start again."""
    raw = b'{"schemaVersion": 2}'
    cache.put_manifest(ManifestInfo(OCI_MANIFEST, digest_of(raw), raw))
    cache.put(digest_of(b"blob"), b"blob")
    cache.get(digest_of(b"blob"))
    cache.clear()
    assert files(root) == set()
    assert cache.stats() == CacheStats(entries=0, bytes=0, hits=0, misses=0)
    assert cache.get(digest_of(b"blob")) is None


def test_stats_and_repr(cache: BlobCache, root: Path) -> None:
    """stats() counts entries, bytes, hits and misses; repr is one short line."""
    cache.put(digest_of(b"12345"), b"12345")
    cache.put(digest_of(b"678"), b"678")
    cache.get(digest_of(b"12345"))
    cache.get(digest_of(b"nope"))
    assert cache.stats() == CacheStats(entries=2, bytes=8, hits=1, misses=1)
    assert repr(cache) == f"<BlobCache {str(root)!r} unbounded hits=1 misses=1>"
    assert "max=10.0 GiB" in repr(BlobCache(root))


def test_a_negative_bound_is_refused(root: Path) -> None:
    """max_bytes must be None or non-negative."""
    with pytest.raises(ValueError, match="max_bytes"):
        BlobCache(root, max_bytes=-1)


# -- concurrency ---------------------------------------------------------------------------------


def test_threads_putting_and_reading_the_same_digests_all_succeed(
    cache: BlobCache, root: Path
) -> None:
    """8 threads writing and reading the same digests see only whole, correct entries."""
    blobs = [bytes([i]) * (256 * 1024 + i) for i in range(5)]
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    wrong: list[str] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            for round_ in range(10):
                for i, data in enumerate(blobs):
                    digest = digest_of(data)
                    if (n + round_) % 2:
                        cache.put(digest, data)
                    else:
                        cache.put_stream(
                            digest, (data[k : k + 65536] for k in range(0, len(data), 65536))
                        )
                    for got in (cache.get(digest), cache.get(digest_of(blobs[(i + 1) % 5]))):
                        if got is not None and got not in blobs:
                            wrong.append(f"thread {n} read {len(got)} wrong bytes")
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and wrong == []
    assert files(root) == {f"blobs/sha256/{digest_of(d).split(':')[1]}" for d in blobs}
    assert cache.stats().hits >= 8 * 10 * 5


def _put_in_child(directory: str, count: int) -> None:
    child = BlobCache(directory, max_bytes=None)
    for i in range(count):
        data = str(i).encode() * 10_000
        child.put(digest_of(data), data)
        if child.get(digest_of(data)) != data:
            raise SystemExit(3)


def test_processes_sharing_a_directory_all_succeed(root: Path) -> None:
    """Four processes writing the same digests into one directory all exit cleanly."""
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_put_in_child, args=(str(root), 20)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0, 0, 0]
    cache = BlobCache(root, max_bytes=None)
    assert cache.stats().entries == 20
    assert all(cache.verify(digest_of(str(i).encode() * 10_000)) for i in range(20))
    assert not any(name.startswith(".") for name in os.listdir(root / "blobs" / "sha256"))


