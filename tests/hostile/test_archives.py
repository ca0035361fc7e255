"""Hostile local content: layer tarballs, OCI layouts and archives built to hurt.

tests/test_contents.py and tests/test_sources_local.py cover the ordinary broken cases (bombs
and PAX limits on bare listings, missing blobs, bad manifest.json fields). Here the same kinds of
attack travel the whole way a user's call takes them (``api.files`` over an OCI layout), plus the
file-system tricks a layout or archive can play: FIFOs and directories where blobs should be,
links to host files, documents nested or sized to exhaust the parser.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ociinspect import api, navigation
from ociinspect.errors import ArchiveError, InvalidDocumentError, SizeLimitError, SourceError
from ociinspect.layers.contents import Limits
from ociinspect.sources.archive import DockerArchiveSource, OciArchiveSource
from ociinspect.sources.layout import LayoutSource
from ociinspect.testing import build
from ociinspect.values import mediatypes as mt
from ociinspect.values.digest import sha256

SMALL = Limits(max_uncompressed=8 << 20, max_entries=1000, max_pax_header=16 << 10)
HOST_FILE = Path("/etc/passwd")


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A tar written member by member, exactly as given (no path checks)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt, encoding="utf-8",
                      errors="surrogateescape") as archive:
        for info, data in members:
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **fields: Any) -> tuple[
    tarfile.TarInfo, bytes
]:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def raw_layer(tar: bytes, compression: str = "gzip") -> build.Blob:
    """A layer blob of any tar bytes (build.layer would refuse hostile names)."""
    media = {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD, "none": mt.OCI_LAYER}
    return build.Blob(media[compression], build.compress(tar, compression),  # type: ignore[arg-type]
                      diff_id=sha256(tar))


def layout_of(tmp_path: Path, *layers: build.Blob) -> str:
    """An OCI layout holding an image of ``layers``; returns its ``oci:`` reference."""
    directory = tmp_path / "layout"
    build.write_layout(directory, build.image(list(layers)))
    return f"oci:{directory}"


# -- layer tarballs through the whole stack ---------------------------------------------------

HOSTILE_ENTRIES = [
    member("../../escape.txt", data=b"x"),
    member("/etc/absolute.txt", data=b"x"),
    member("a/../../b.txt", data=b"x"),
    member("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
    member("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0),
    member("run/pipe", tarfile.FIFOTYPE),
    member("root-link", tarfile.SYMTYPE, linkname="/"),
    member("shadow-link", tarfile.LNKTYPE, linkname="../../etc/shadow"),
    member("caf\udce9-latin1.txt", data=b"x"),
    member("deep/" + "d" * 200 + "/" + "e" * 200 + "/long.txt", data=b"x"),
    member("x", tarfile.REGTYPE, data=b"x", pax_headers={"comment": "c" * 8000}),
]


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_hostile_entries_are_listed_flagged_and_never_extracted(
    tmp_path: Path, compression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`..`, absolute names, devices, FIFOs, links to / and outside, non-UTF-8 and very long
    names are listed as rows, unsafe ones flagged; not one file appears on disk."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    ref = layout_of(tmp_path, raw_layer(tar_bytes(HOSTILE_ENTRIES), compression))
    table = api.files(ref, 0, limits=SMALL)
    assert len(table) == len(HOSTILE_ENTRIES)
    unsafe = dict(zip(table["path"], table["unsafe_path"], strict=True))
    assert unsafe["../../escape.txt"] and unsafe["etc/absolute.txt"] and unsafe["a/../../b.txt"]
    assert table.set_index("path").loc["shadow-link", "unsafe_path"]
    assert set(table["type"]) >= {"char", "block", "fifo", "symlink", "hardlink", "file"}
    assert any("\ufffd" in p for p in table["path"])
    assert list(work.iterdir()) == [] and not (tmp_path / "escape.txt").exists()
    merged = api.filesystem(ref, limits=SMALL)
    assert "dev/null" in set(merged["path"])


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_decompression_bomb_in_a_layout_stops_at_the_limit(
    tmp_path: Path, compression: str
) -> None:
    """A layer inflating to 256 MiB stops near an 8 MiB limit with SizeLimitError, fast."""
    bomb = tar_bytes([member("zeros", data=bytes(256 << 20))])
    ref = layout_of(tmp_path, raw_layer(bomb, compression))
    started = time.monotonic()
    with pytest.raises(SizeLimitError) as err:
        api.files(ref, 0, limits=SMALL)
    assert time.monotonic() - started < 5.0
    assert err.value.limit == SMALL.max_uncompressed


def test_a_pax_header_over_the_limit_is_refused_through_the_api(tmp_path: Path) -> None:
    """A 64 KiB PAX record is refused (16 KiB limit) before it is read."""
    layer = tar_bytes([member("x", data=b"x", pax_headers={"comment": "p" * (64 << 10)})])
    with pytest.raises(SizeLimitError):
        api.files(layout_of(tmp_path, raw_layer(layer)), 0, limits=SMALL)


def test_too_many_entries_is_an_archive_error(tmp_path: Path) -> None:
    """5000 tiny entries against a limit of 1000: ArchiveError, not a huge table."""
    layer = tar_bytes([member(f"f{i}") for i in range(5000)], fmt=tarfile.USTAR_FORMAT)
    with pytest.raises(ArchiveError):
        api.files(layout_of(tmp_path, raw_layer(layer)), 0, limits=SMALL)


@pytest.mark.parametrize(
    "whiteout",
    ["a/../.wh.etc", "../.wh.etc", ".wh...", ".wh..", "/.wh.etc/../x", "a/.wh..wh..opq/../x"],
)
def test_whiteouts_with_dot_dot_never_remove_what_lies_outside(
    tmp_path: Path, whiteout: str
) -> None:
    """A whiteout whose name climbs with `..` does not delete etc/passwd of a lower layer."""
    lower = raw_layer(tar_bytes([member("etc", tarfile.DIRTYPE),
                                 member("etc/passwd", data=b"root:x:0:0")]))
    upper = raw_layer(tar_bytes([member("a", tarfile.DIRTYPE), member(whiteout)]))
    merged = api.filesystem(layout_of(tmp_path, lower, upper), limits=SMALL)
    assert "etc/passwd" in set(merged["path"])


# -- OCI layouts ------------------------------------------------------------------------------


@pytest.fixture
def layout(tmp_path: Path, sample: build.BuiltImage) -> Path:
    directory = tmp_path / "layout"
    build.write_layout(directory, sample)
    return directory


def _blob_file(directory: Path, digest: str) -> Path:
    return directory / "blobs" / "sha256" / digest.split(":")[1]


def test_a_fifo_where_a_blob_should_be_does_not_block(
    layout: Path, sample: build.BuiltImage
) -> None:
    """A named pipe in blobs/ would block an open() forever: it is refused as missing."""
    path = _blob_file(layout, sample.config.digest)
    path.unlink()
    os.mkfifo(path)
    result: list[BaseException] = []

    def read() -> None:
        try:
            LayoutSource(layout).blob(sample.config.digest)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():  # unblock the reader so the test process can exit, then fail
        with open(path, "wb"):
            pass
        pytest.fail("reading a FIFO blob blocked")
    assert isinstance(result[0], SourceError)


def test_a_directory_where_a_blob_should_be_is_a_source_error(
    layout: Path, sample: build.BuiltImage
) -> None:
    """A directory named like a blob is no blob."""
    path = _blob_file(layout, sample.layers[0].digest)
    path.unlink()
    path.mkdir()
    with pytest.raises(SourceError), LayoutSource(layout).open_blob(sample.layers[0].digest) as c:
        b"".join(c)


@pytest.mark.parametrize(
    "text",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000],
    ids=["arrays nested 100000 deep", "objects nested 100000 deep"],
)
def test_an_index_json_nested_too_deep_is_invalid(layout: Path, text: bytes) -> None:
    """index.json nested past Python's recursion limit is an InvalidDocumentError."""
    (layout / "index.json").write_bytes(text)
    with pytest.raises(InvalidDocumentError):
        LayoutSource(layout).root()


def test_oversized_index_and_manifest_are_refused_before_reading(
    layout: Path, sample: build.BuiltImage
) -> None:
    """A 5 MiB manifest its descriptor agrees with, and a 17 MiB index.json (sparse files),
    raise SizeLimitError unread."""
    with open(_blob_file(layout, sample.digest), "r+b") as handle:
        handle.truncate(5 << 20)
    entry = {**sample.manifest.descriptor(), "size": 5 << 20}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    with pytest.raises(SizeLimitError):
        LayoutSource(layout).root()
    with open(layout / "index.json", "r+b") as handle:
        handle.truncate(17 << 20)
    with pytest.raises(SizeLimitError):
        LayoutSource(layout).root()


def test_an_index_nested_past_the_depth_limit_is_refused(
    layout: Path, sample: build.BuiltImage
) -> None:
    """Eight indexes inside each other: navigation stops at its depth limit, typed."""
    descriptor = sample.manifest.descriptor()
    for _ in range(8):
        raw = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                          "manifests": [descriptor]}).encode()
        _blob_file(layout, sha256(raw)).write_bytes(raw)
        descriptor = {"mediaType": mt.OCI_INDEX, "digest": sha256(raw), "size": len(raw)}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2,
                                                   "manifests": [descriptor]}))
    with pytest.raises(InvalidDocumentError, match="nested deeper"):
        navigation.image(f"oci:{layout}")


# -- archives ---------------------------------------------------------------------------------


def _docker_archive(tmp_path: Path, config: str, *extra: tuple[tarfile.TarInfo, bytes]) -> Path:
    manifest = [{"Config": config, "RepoTags": ["hostile/app:1"], "Layers": ["l/layer.tar"]}]
    members = [member("manifest.json", data=json.dumps(manifest).encode()),
               member("l/layer.tar", data=build.tar([build.file("a", b"a")])), *extra]
    path = tmp_path / "docker.tar"
    path.write_bytes(tar_bytes(members))
    return path


@pytest.mark.parametrize(
    ("config", "extra"),
    [
        (str(HOST_FILE), ()),
        ("../../../../../.." + str(HOST_FILE), ()),
        ("c.json", (member("c.json", tarfile.SYMTYPE, linkname=str(HOST_FILE)),)),
        ("c.json", (member("c.json", tarfile.SYMTYPE, linkname="../../../../etc/passwd"),)),
        ("c.json", (member("c.json", tarfile.LNKTYPE, linkname="../../../../etc/passwd"),)),
    ],
    ids=["an absolute Config path", "a Config path climbing with ..",
         "a Config member that is a symlink to /etc/passwd",
         "a Config member that is a relative symlink out of the archive",
         "a Config member that is a hardlink out of the archive"],
)
def test_docker_archive_never_reads_host_files(
    tmp_path: Path, config: str, extra: tuple[tuple[tarfile.TarInfo, bytes], ...]
) -> None:
    """manifest.json and members pointing at host files raise SourceError; nothing of the
    host file is read."""
    with pytest.raises(SourceError) as err:
        DockerArchiveSource(_docker_archive(tmp_path, config, *extra)).root()
    assert "root:" not in str(err.value)


def test_oci_archive_blob_linked_to_a_host_file_is_missing(
    tmp_path: Path, sample: build.BuiltImage
) -> None:
    """An oci-archive whose config member is a symlink to /etc/passwd: SourceError."""
    blobs = {f"blobs/sha256/{b.digest.split(':')[1]}": b.data
             for b in (sample.manifest, *sample.layers)}
    index = {"schemaVersion": 2, "manifests": [sample.manifest.descriptor()]}
    members = [member("oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}'),
               member("index.json", data=json.dumps(index).encode()),
               *(member(name, data=data) for name, data in blobs.items()),
               member(f"blobs/sha256/{sample.config.digest.split(':')[1]}", tarfile.SYMTYPE,
                      linkname=str(HOST_FILE))]
    path = tmp_path / "oci.tar"
    path.write_bytes(tar_bytes(members))
    source = OciArchiveSource(path)
    assert source.root().digest == sample.digest
    with pytest.raises(SourceError):
        source.blob(sample.config.digest)


@pytest.mark.parametrize(
    "content",
    [gzip.compress(b"\x00\xff" * 5000), gzip.compress(b"x" * 5000)[:-20]],
    ids=["gzip of something that is no tar", "a gzip stream cut short"],
)
def test_a_broken_compressed_archive_leaves_no_temporary_copy(
    tmp_path: Path, content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .tar.gz that is no readable tar raises SourceError and its decompressed copy is gone."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    path = tmp_path / "junk.tar.gz"
    path.write_bytes(content)
    with pytest.raises(SourceError):
        OciArchiveSource(path)
    assert list(scratch.iterdir()) == []


def test_compressed_archive_bomb_is_refused_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gzip oci-archive that inflates past its bound raises SizeLimitError, no temp file left."""
    from ociinspect.errors import SizeLimitError
    from ociinspect.sources import archive

    bomb = tmp_path / "bomb.tar.gz"
    with gzip.open(bomb, "wb") as out:
        for _ in range(8):
            out.write(bytes(1 << 20))
    monkeypatch.setattr(archive, "MIN_EXPANSION_LIMIT", 1 << 20)
    monkeypatch.setattr(archive, "MAX_EXPANSION", 2)
    monkeypatch.setattr(archive.tempfile, "tempdir", str(tmp_path / "t"))
    (tmp_path / "t").mkdir()
    with pytest.raises(SizeLimitError) as err:
        archive.OciArchiveSource(bomb)
    assert err.value.limit == 1 << 20
    assert list((tmp_path / "t").iterdir()) == []
