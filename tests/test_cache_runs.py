"""The disk cache across runs: a second run fetches nothing it already has (in this process or a
new one), a tag is always revalidated with one HEAD, offline mode answers from the cache and says
so, a tampered blob leaves nothing behind; and the cache's metadata, tag hints and bound."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from rig import Registry, seed, session_for
from rig.env import child_env

import ociinspect as oi
from ociinspect import cache as cache_module
from ociinspect.cache import BlobCache
from ociinspect.errors import DigestMismatchError, SourceError, TransportError
from ociinspect.session import Settings
from ociinspect.sources import open_source
from ociinspect.sources.registry import OfflineWarning
from ociinspect.values.digest import sha256

registry = pytest.mark.registry


def cdn_count(registry_open: Registry) -> int:
    assert registry_open.cdn is not None
    return len(registry_open.cdn.requests())


def summary(registry_open: Registry) -> tuple[int, int]:
    """(registry requests, CDN requests) since the last reset."""
    return len(registry_open.requests()), cdn_count(registry_open)


# --------------------------------------------------------------------------- second runs


@registry
def test_content_by_digest_is_fetched_once_across_sources(
    registry_open: Registry, tmp_path: Path
) -> None:
    """Two sources sharing a cache: the second run over an image by digest sends nothing."""
    digest = registry_open.seeded[seed.SINGLE].digest
    ref = f"{registry_open.host}/demo/single@{digest}"
    cache = BlobCache(tmp_path / "cache")

    def run() -> list[object]:
        return [
            oi.layers(ref, session=session_for(cache))["uncompressed_size"].tolist(),
            oi.files(ref, 3, session=session_for(cache))["path"].tolist(),
            oi.config(ref, session=session_for(cache))["digest"].tolist(),
        ]

    first = run()
    assert summary(registry_open) != (0, 0)
    session_for(cache).forget()  # as a new process would start
    registry_open.reset()
    assert run() == first
    assert summary(registry_open) == (0, 0)


RUN = """
import json, sys
import ociinspect as oi
session = oi.Session(docker_config=False)
image = oi.image(sys.argv[1], session=session)
layers = oi.layers(image)
files = oi.files(image, 0)
print(json.dumps({"sizes": layers["uncompressed_size"].tolist(),
                  "exact": layers["uncompressed_exact"].tolist(), "files": len(files)}))
"""


@registry
def test_a_second_process_revalidates_the_tag_with_one_head_and_nothing_else(
    registry_open: Registry, tmp_path: Path
) -> None:
    """Run 1 (a process) opens the tag once and fetches manifest, config, ranges and a layer;
    run 2 (another process, same cache directory) sends one HEAD for the tag and reads
    everything else from disk."""
    env = child_env(tmp_path / "home")
    env["OCIINSPECT_CACHE_DIR"] = str(tmp_path / "cache")

    def run() -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-c", RUN, registry_open.ref(seed.SINGLE)],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, object] = json.loads(done.stdout)
        return result

    first = run()
    methods = sorted(f"{r.method} {r.path.split('/')[4]}" for r in registry_open.requests())
    assert methods == ["GET blobs"] * 5 + ["GET manifests"]  # config, 3 ranges, layer 0
    assert cdn_count(registry_open) == 5
    registry_open.reset()
    second = run()
    assert [(r.method, r.path) for r in registry_open.requests()] == [
        ("HEAD", "/v2/demo/single/manifests/latest")
    ]
    assert cdn_count(registry_open) == 0
    assert second["sizes"] == first["sizes"] and second["files"] == first["files"]
    assert (first["exact"], second["exact"]) == (
        [False, False, True, False], [True, False, True, False]
    )


@registry
def test_a_moved_tag_is_followed_by_the_head(registry_open: Registry, tmp_path: Path) -> None:
    """The cache remembers where a tag pointed; when it moves, the HEAD finds the new digest."""
    cache = BlobCache(tmp_path / "cache")
    ref = registry_open.ref("demo/single:latest")
    assert oi.open(ref, session=session_for(cache)).digest == registry_open.seeded[
        seed.SINGLE
    ].digest
    other = registry_open.seeded[seed.DOCKER].digest
    cache.put_tag(str(open_source(ref).reference), other)  # a stale hint
    session_for(cache).forget()
    registry_open.reset()
    assert oi.open(ref, session=session_for(cache)).digest == registry_open.seeded[
        seed.SINGLE
    ].digest
    assert [r.method for r in registry_open.requests()] == ["HEAD"]


@registry
def test_a_head_without_a_digest_header_costs_one_get_not_two(
    registry_open: Registry, tmp_path: Path
) -> None:
    """When the HEAD answer has no Docker-Content-Digest, the GET it falls back to is used:
    the manifest is not fetched again by digest."""
    proxy = registry_open.proxy()
    cache = BlobCache(tmp_path / "cache")  # holds a hint for the tag, but not the manifest
    ref = f"{proxy.host}/demo/single:latest"
    digest = registry_open.seeded[seed.SINGLE].digest
    cache.put_tag(str(open_source(ref).reference), digest)
    proxy.faults.strip_header("Docker-Content-Digest", method="HEAD")
    assert oi.open(ref, session=session_for(cache)).digest == registry_open.seeded[
        seed.SINGLE
    ].digest
    assert [(r.method, r.path) for r in proxy.requests()] == [
        ("HEAD", "/v2/demo/single/manifests/latest"),
        ("GET", "/v2/demo/single/manifests/latest"),
    ]


# --------------------------------------------------------------------------- offline


@pytest.fixture
def stopped(registry_open: Registry, tmp_path: Path) -> tuple[str, str, BlobCache]:
    """A tag and a digest reference through a proxy, run once into a cache, then the proxy
    stopped (the session's registry keeps running)."""
    proxy = registry_open.proxy()
    cache = BlobCache(tmp_path / "cache")
    tag = f"{proxy.host}/demo/single:latest"
    digest = f"{proxy.host}/demo/single@{registry_open.seeded[seed.SINGLE].digest}"
    oi.layers(tag, session=session_for(cache))
    oi.files(tag, 0, session=session_for(cache))
    proxy.stop()
    session_for(cache).forget()
    return tag, digest, cache


@registry
def test_without_offline_mode_an_unreachable_registry_is_an_error_that_names_the_way_out(
    stopped: tuple[str, str, BlobCache],
) -> None:
    """The tag cannot be revalidated: TransportError, saying the cache could answer offline."""
    tag, _, cache = stopped
    with pytest.raises(TransportError) as err:
        oi.layers(tag, session=session_for(cache))
    assert "OCIINSPECT_OFFLINE=1" in str(err.value) and "connection" in str(err.value)


@registry
def test_content_by_digest_needs_no_registry_even_without_offline_mode(
    stopped: tuple[str, str, BlobCache],
) -> None:
    """A digest reference is answered from the cache: no request, so no failure."""
    _, digest, cache = stopped
    files = oi.files(digest, 0, session=session_for(cache))
    assert "bin/sh" in files["path"].tolist()
    assert oi.layers(digest, sizes="none", session=session_for(cache))[
        "uncompressed_exact"
    ].tolist() == [True, False, True, False]


@registry
@pytest.mark.parametrize(
    "how", ["option", "environment"], ids=["offline=True", "OCIINSPECT_OFFLINE=1"]
)
def test_offline_mode_answers_a_tag_from_the_cache_with_a_warning(
    stopped: tuple[str, str, BlobCache], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Offline: the tag's last digest is used, and an OfflineWarning says it was not checked."""
    tag, _, cache = stopped
    if how == "option":
        session = session_for(cache, offline=True)
    else:
        monkeypatch.setenv("OCIINSPECT_OFFLINE", "1")
        offline = Settings.from_env().offline
        session = session_for(cache, offline=offline)
    options = {"session": session}
    with pytest.warns(OfflineWarning, match="not revalidated"):
        found = oi.image(tag, **options)
    assert found.digest == stopped[1].rsplit("@", 1)[1]
    assert found.source.notes and "not revalidated" in found.source.notes[0]  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OfflineWarning)
        assert len(oi.files(tag, 0, **options)) > 0
        table = oi.layers(tag, **options)
    assert table["uncompressed_size"].notna().all()


@registry
def test_offline_mode_refuses_what_the_cache_does_not_hold(
    stopped: tuple[str, str, BlobCache], registry_open: Registry
) -> None:
    """Offline: a tag never resolved, a blob never fetched and tags() are SourceErrors."""
    tag, digest, cache = stopped
    host = tag.split("/")[0]
    with pytest.raises(SourceError, match="never resolved"):
        oi.open(f"{host}/demo/multi:latest", session=session_for(cache, offline=True))
    with pytest.raises(SourceError, match="offline: the tags"):
        oi.tags(tag, session=session_for(cache, offline=True))
    with pytest.raises(SourceError, match="not in"):
        oi.files(digest, 1, session=session_for(cache, offline=True))
    with pytest.raises(SourceError, match="no disk cache"):
        oi.open(digest, session=session_for(None, offline=True))


# --------------------------------------------------------------------------- integrity


@registry
def test_a_tampered_layer_leaves_nothing_in_the_cache(
    registry_open: Registry, tmp_path: Path
) -> None:
    """The CDN flips a byte of a layer: DigestMismatchError, no entry, no temporary file, and
    no size recorded for it."""
    layer = registry_open.seeded[seed.SINGLE].image().layers[0]
    assert registry_open.cdn is not None
    registry_open.cdn.faults.tamper(lambda body: body[:-1] + bytes([body[-1] ^ 1]),
                                    path=layer.digest.split(":")[1])
    cache = BlobCache(tmp_path / "cache")
    with pytest.raises(DigestMismatchError):
        oi.files(registry_open.ref(seed.SINGLE), 0, session=session_for(cache))
    assert not cache.has(layer.digest)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".part")]
    assert "uncompressed" not in cache.get_meta(layer.digest)
    assert session_for(cache).sizes.known(layer.digest, cache) is None


# --------------------------------------------------------------------------- cache facts


DIGEST = "sha256:" + "ab" * 32


def test_metadata_merges_and_outlives_eviction_but_not_clear(tmp_path: Path) -> None:
    """put_meta merges keys; a pruned entry keeps its facts; clear() removes them."""
    cache = BlobCache(tmp_path)
    data = b"layer bytes"
    key = sha256(data)
    cache.put(key, data)
    cache.put_meta(key, {"uncompressed": {"size": 1}})
    cache.put_meta(key, {"other": True})
    assert cache.get_meta(key) == {"uncompressed": {"size": 1}, "other": True}
    assert cache.prune(0) == [key]
    assert cache.get_meta(key)["other"] is True
    cache.clear()
    assert cache.get_meta(key) == {}


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b"x" * (cache_module.MAX_META_BYTES + 10)],
    ids=["broken JSON reads as nothing", "a non-object reads as nothing",
         "an oversized file reads as nothing"],
)
def test_damaged_metadata_reads_as_empty(tmp_path: Path, body: bytes) -> None:
    """A metadata file that is not a small JSON object is ignored, not an error."""
    cache = BlobCache(tmp_path)
    path = tmp_path / "meta" / "sha256" / f"{'ab' * 32}.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(body)
    assert cache.get_meta(DIGEST) == {}


def test_tag_hints_are_remembered_per_reference_and_cleared(tmp_path: Path) -> None:
    """put_tag/tag round-trip per full reference; tags() lists them; clear() forgets them."""
    cache = BlobCache(tmp_path)
    cache.put_tag("127.0.0.1:5000/a/b:latest", DIGEST)
    assert cache.tag("127.0.0.1:5000/a/b:latest") == DIGEST
    assert cache.tag("127.0.0.1:5000/a/b:other") is None
    assert cache.tags() == {"127.0.0.1:5000/a/b:latest": DIGEST}
    cache.clear()
    assert cache.tag("127.0.0.1:5000/a/b:latest") is None and cache.tags() == {}


@registry
def test_an_unwritable_cache_is_warned_about_and_bypassed(
    registry_open: Registry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Content fetched and verified is returned even when the cache cannot be written."""
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache directory should be")
    cache = BlobCache(blocked / "cache")
    ref = registry_open.ref("demo/single:latest")
    with caplog.at_level("WARNING", logger="ociinspect"):
        table = oi.layers(ref, session=session_for(cache), sizes="none")
        files = oi.files(ref, 0, session=session_for(cache), progress=False)
    assert len(table) == 4 and len(files) > 0
    assert "disk cache not writable" in caplog.text
