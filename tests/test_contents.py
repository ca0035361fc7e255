"""Layer contents: streamed listing, limits, merge with whiteouts, wasted space, tables.

Every archive is built here in memory with Python's tarfile, gzip/zlib and zstandard.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pandas as pd
import pytest
import zstandard
from pandas.api.types import pandas_dtype

from ociinspect.errors import ArchiveError, SizeLimitError
from ociinspect.layers.compression import gzip_isize, zstd_content_size
from ociinspect.layers.contents import LayerListing, Limits, TarEntry, iter_entries, mode_string
from ociinspect.layers.overlay import MergedEntry, WastedCopy, analyse, merge, wasted
from ociinspect.tables.files import (
    FILES_COLUMNS,
    FILESYSTEM_COLUMNS,
    WASTED_COLUMNS,
    files_frame,
    filesystem_frame,
    wasted_frame,
)

MiB = 1 << 20
GiB = 1 << 30
MTIME = 1_700_000_000


# --- building archives -------------------------------------------------------------------------


@dataclass
class M:
    """One member to write: a file unless ``kind`` says otherwise."""

    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    pax: dict[str, str] | None = None


def make_tar(members: Iterable[M], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.type = m.kind
            info.mode = m.mode
            info.uid, info.gid = m.uid, m.gid
            info.uname, info.gname = "root", "root"
            info.mtime = MTIME
            info.linkname = m.link
            if m.kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                info.devmajor, info.devminor = 1, 3
            if m.pax:
                info.pax_headers = dict(m.pax)
            info.size = len(m.data)
            tar.addfile(info, io.BytesIO(m.data) if m.data else None)
    return buf.getvalue()


def compress(raw: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(raw, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor(write_checksum=True).compress(raw)
    return raw


def chunked(blob: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(blob), size):
        yield blob[start : start + size]


def list_raw(raw: bytes, compression: str = "none", limits: Limits | None = None) -> list[TarEntry]:
    return list(iter_entries([compress(raw, compression)], compression, limits=limits))


def by_path(entries: Iterable[TarEntry]) -> dict[str, TarEntry]:
    return {e.path: e for e in entries}


COMPRESSIONS = ["gzip", "zstd", "none"]

EVERY_TYPE = [
    M("etc/", kind=tarfile.DIRTYPE, mode=0o755),
    M("etc/hosts", b"127.0.0.1 localhost\n"),
    M("bin/tool", b"\x7fELF" + bytes(3000), mode=0o755),
    M("bin/alias", kind=tarfile.SYMTYPE, link="tool", mode=0o777),
    M("bin/again", kind=tarfile.LNKTYPE, link="bin/tool", mode=0o755),
    M("dev/null", kind=tarfile.CHRTYPE, mode=0o666),
    M("dev/sda", kind=tarfile.BLKTYPE, mode=0o660),
    M("run/pipe", kind=tarfile.FIFOTYPE, mode=0o644),
]
EVERY_TYPE_EXPECTED = [
    ("etc", "dir", 0, "drwxr-xr-x", None),
    ("etc/hosts", "file", 20, "-rw-r--r--", None),
    ("bin/tool", "file", 3004, "-rwxr-xr-x", None),
    ("bin/alias", "symlink", 0, "lrwxrwxrwx", "tool"),
    ("bin/again", "hardlink", 0, "-rwxr-xr-x", "bin/tool"),
    ("dev/null", "char", 0, "crw-rw-rw-", None),
    ("dev/sda", "block", 0, "brw-rw----", None),
    ("run/pipe", "fifo", 0, "prw-r--r--", None),
]


# --- listing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 509, 1 << 16], ids=["one byte", "509 bytes", "64 KiB"])
@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_every_entry_type_is_listed(compression: str, chunk: int) -> None:
    """Files, dirs, symlinks, hardlinks, devices and fifos list with path, size, mode and link."""
    blob = compress(make_tar(EVERY_TYPE), compression)
    entries = list(iter_entries(chunked(blob, chunk), compression))
    got = [(e.path, e.type, e.size, e.mode_string, e.link_target) for e in entries]
    assert got == EVERY_TYPE_EXPECTED
    devices = [(e.devmajor, e.devminor) for e in entries if e.type in ("char", "block")]
    assert devices == [(1, 3), (1, 3)]
    assert {(e.uid, e.gid, e.uname, e.mtime) for e in entries} == {(0, 0, "root", float(MTIME))}


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_diff_id_and_uncompressed_size_match_the_tar(compression: str) -> None:
    """After exhaustion diff_id is the sha256 of the whole uncompressed tar and sizes are exact."""
    raw = make_tar(EVERY_TYPE)
    blob = compress(raw, compression)
    listing = iter_entries(chunked(blob, 1000), compression, what="sha256:abc")
    assert isinstance(listing, LayerListing)
    assert len(list(listing)) == len(EVERY_TYPE)
    assert listing.done
    assert listing.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert listing.uncompressed_size == len(raw)
    assert listing.compressed_size == len(blob)
    assert listing.entry_count == len(EVERY_TYPE)


def test_totals_are_refused_before_the_listing_ends() -> None:
    """diff_id and uncompressed_size raise until the whole stream has been read."""
    listing = iter_entries([make_tar(EVERY_TYPE)], "none")
    next(listing)
    assert not listing.done
    with pytest.raises(RuntimeError, match="once listing has ended"):
        _ = listing.diff_id
    with pytest.raises(RuntimeError):
        _ = listing.uncompressed_size


def test_closing_early_leaves_totals_unset() -> None:
    """close() stops the listing; the totals stay unknown rather than wrong."""
    listing = iter_entries(chunked(compress(make_tar(EVERY_TYPE), "gzip"), 64), "gzip")
    next(listing)
    listing.close()
    assert list(listing) == []
    assert not listing.done


def test_chunks_may_be_any_bytes_like_object() -> None:
    """bytearray and memoryview chunks list and hash like bytes."""
    raw = make_tar(EVERY_TYPE)
    chunks = [bytearray(raw[:700]), memoryview(raw)[700:]]
    listing = iter_entries(chunks, "none")
    assert len(list(listing)) == len(EVERY_TYPE)
    assert listing.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize(
    ("kind", "mode", "expected"),
    [
        ("file", 0o755, "-rwxr-xr-x"),
        ("file", 0o4755, "-rwsr-xr-x"),
        ("file", 0o4644, "-rwSr--r--"),
        ("file", 0o2755, "-rwxr-sr-x"),
        ("file", 0o2745, "-rwxr-Sr-x"),
        ("dir", 0o1777, "drwxrwxrwt"),
        ("dir", 0o1776, "drwxrwxrwT"),
        ("symlink", 0o777, "lrwxrwxrwx"),
        ("hardlink", 0o600, "-rw-------"),
        ("char", 0o666, "crw-rw-rw-"),
        ("block", 0o660, "brw-rw----"),
        ("fifo", 0o600, "prw-------"),
        ("other", 0o644, "?rw-r--r--"),
    ],
    ids=[
        "a plain executable",
        "setuid over execute shows s",
        "setuid without execute shows S",
        "setgid over execute shows s",
        "setgid without execute shows S",
        "sticky over execute shows t",
        "sticky without execute shows T",
        "a symlink starts with l",
        "a hardlink shows as a regular file",
        "a char device starts with c",
        "a block device starts with b",
        "a fifo starts with p",
        "an unknown type starts with ?",
    ],
)
def test_mode_string_reads_like_ls(kind: str, mode: int, expected: str) -> None:
    """mode_string renders type letter, rwx and setuid/setgid/sticky bits as ls -l does."""
    assert mode_string(kind, mode) == expected


def test_special_bits_come_through_the_archive() -> None:
    """A setuid binary and a sticky directory keep their bits and mode_string from the tar."""
    raw = make_tar([M("tmp", kind=tarfile.DIRTYPE, mode=0o1777), M("su", b"x", mode=0o4755)])
    got = [(e.mode, e.mode_string) for e in list_raw(raw)]
    assert got == [(0o1777, "drwxrwxrwt"), (0o4755, "-rwsr-xr-x")]


LONG = "deep/" * 40 + "name.txt"  # 208 characters: over ustar's 100/155 split

ODD_NAMES = [
    ("./etc/passwd", tarfile.PAX_FORMAT, "etc/passwd", False),
    ("/etc/shadow", tarfile.PAX_FORMAT, "etc/shadow", True),
    ("../../escape", tarfile.PAX_FORMAT, "../../escape", True),
    ("a/../../b", tarfile.PAX_FORMAT, "a/../../b", True),
    ("usr//lib/./x", tarfile.PAX_FORMAT, "usr/lib/x", False),
    (".bashrc", tarfile.PAX_FORMAT, ".bashrc", False),
    (LONG, tarfile.PAX_FORMAT, LONG, False),
    (LONG, tarfile.GNU_FORMAT, LONG, False),
    ("x" * 150 + "/" + "y" * 90, tarfile.USTAR_FORMAT, "x" * 150 + "/" + "y" * 90, False),
]


@pytest.mark.parametrize(
    ("name", "fmt", "path", "unsafe"),
    ODD_NAMES,
    ids=[
        "a ./ prefix is stripped",
        "an absolute path is made relative and flagged unsafe",
        "leading .. components are kept and flagged unsafe",
        "an inner .. component is kept and flagged unsafe",
        "doubled slashes and . components are dropped",
        "a dotfile is not mistaken for ./",
        "a PAX long name is read whole",
        "a GNU long name is read whole",
        "a ustar prefix and name are joined",
    ],
)
def test_odd_names_are_normalised_and_flagged(name: str, fmt: int, path: str, unsafe: bool) -> None:
    """Paths are normalised for display, the raw name is kept, escapes are flagged not refused."""
    (entry,) = list_raw(make_tar([M(name, b"data")], fmt=fmt))
    assert (entry.path, entry.unsafe_path) == (path, unsafe)
    assert entry.raw_name == name.encode()
    assert entry.name == name


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["PAX", "GNU"])
def test_long_link_targets_are_read_whole(fmt: int) -> None:
    """A link target over 100 bytes comes through a PAX linkpath or a GNU long link header."""
    target = "/opt/" + "t" * 200
    members = [M("target" + LONG, b"x"), M("s", kind=tarfile.SYMTYPE, link=target)]
    entries = by_path(list_raw(make_tar(members, fmt=fmt)))
    assert entries["s"].link_target == target
    assert "target" + LONG in entries


def test_the_layer_root_entry_is_listed_as_dot() -> None:
    """A ./ entry (tar -C dir .) is the layer root, listed with path '.'."""
    (root, child) = list_raw(make_tar([M("./", kind=tarfile.DIRTYPE), M("./a", b"1")]))
    assert (root.path, root.type, child.path) == (".", "dir", "a")


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["PAX", "GNU"])
def test_non_utf8_names_keep_their_bytes(fmt: int) -> None:
    """Undecodable bytes show as U+FFFD in path; raw_name keeps them; names never collide."""
    names = [
        b"caf\xe9".decode("utf-8", "surrogateescape"),
        b"caf\xe8".decode("utf-8", "surrogateescape"),
    ]
    entries = list_raw(make_tar([M(n, b"x") for n in names], fmt=fmt))
    assert [e.path for e in entries] == ["caf\ufffd", "caf\ufffd"]
    assert [e.raw_name for e in entries] == [b"caf\xe9", b"caf\xe8"]
    assert all(e.undecodable for e in entries)
    assert not any(e.duplicate for e in entries)
    assert [m.path for m in merge([entries])] == ["caf\ufffd", "caf\ufffd"]
    frame = files_frame(entries)
    frame.to_json(date_format="iso")  # display-safe: no lone surrogates reach pandas


def test_hardlinks_to_missing_files_are_flagged() -> None:
    """A hardlink whose target was not listed before it is flagged; one to a listed file is not."""
    members = [
        M("a", b"1"),
        M("ok", kind=tarfile.LNKTYPE, link="./a"),
        M("gone", kind=tarfile.LNKTYPE, link="nowhere"),
        M("up", kind=tarfile.LNKTYPE, link="../outside"),
    ]
    got = {
        e.path: (e.link_target, e.link_missing, e.unsafe_path) for e in list_raw(make_tar(members))
    }
    assert got["ok"] == ("a", False, False)
    assert got["gone"] == ("nowhere", True, False)
    assert got["up"] == ("../outside", True, True)


def test_duplicate_entries_are_both_listed() -> None:
    """The same path twice in one layer is listed twice, the second flagged as a duplicate."""
    entries = list_raw(make_tar([M("f", b"old"), M("./f", b"newer")]))
    assert [(e.path, e.size, e.duplicate) for e in entries] == [("f", 3, False), ("f", 5, True)]


@pytest.mark.parametrize(
    ("name", "whiteout", "target"),
    [
        ("etc/.wh.passwd", "file", "etc/passwd"),
        (".wh.opt", "file", "opt"),
        ("var/cache/.wh..wh..opq", "opaque", "var/cache"),
        (".wh..wh..opq", "opaque", "."),
        ("x/.wh..wh.plnk", "meta", None),
        ("x/.wh.", "file", None),
        ("x/not.wh.file", None, None),
    ],
    ids=[
        "a whiteout names its sibling",
        "a whiteout at the root names a top-level path",
        "an opaque whiteout names its directory",
        "an opaque whiteout at the root names the root",
        "aufs metadata is marked meta",
        "a whiteout naming nothing has no target",
        "a name merely containing .wh. is no whiteout",
    ],
)
def test_whiteouts_are_recognised(name: str, whiteout: str | None, target: str | None) -> None:
    """.wh.<name> and .wh..wh..opq are listed with their kind and the path they act on."""
    (entry,) = list_raw(make_tar([M(name)]))
    assert (entry.whiteout, entry.whiteout_target) == (whiteout, target)


def test_a_pax_size_beyond_8_gib_is_listed_before_the_truncation_is_reported() -> None:
    """A PAX size over ustar's 8 GiB is read; the missing data is then a truncation error."""
    info = tarfile.TarInfo("huge.img")
    info.size = 9 * GiB
    raw = info.tobuf(format=tarfile.PAX_FORMAT) + bytes(4096)
    listing = iter_entries([raw], "none", what="layer sha256:feed")
    entry = next(listing)
    assert (entry.path, entry.size) == ("huge.img", 9 * GiB)
    with pytest.raises(ArchiveError, match="layer sha256:feed"):
        next(listing)


def test_a_large_pax_header_within_the_limit_is_read() -> None:
    """A 200 KiB PAX path is accepted under the default 1 MiB header limit."""
    name = "d/" * 100_000 + "f"
    (entry,) = list_raw(make_tar([M(name, b"x")]))
    assert entry.path == name


def test_a_pax_header_over_the_limit_is_refused_before_it_is_read() -> None:
    """A 2 MiB PAX record is refused with SizeLimitError when max_pax_header is 1 MiB."""
    raw = make_tar([M("f", b"x", pax={"comment": "c" * (2 * MiB)})])
    with pytest.raises(SizeLimitError, match="tar header data") as caught:
        list_raw(raw, limits=Limits(max_pax_header=MiB))
    assert caught.value.limit == MiB


def _gnu_long_name_chain(links: int) -> bytes:
    """``links`` GNU long-name headers in a row, then a file: each one replaces the last name."""
    out = []
    for i in range(links):
        name = f"name{i}".encode() + b"\0"
        info = tarfile.TarInfo("././@LongLink")
        info.type = tarfile.GNUTYPE_LONGNAME
        info.size = len(name)
        out.append(info.tobuf(format=tarfile.GNU_FORMAT) + name.ljust(512, b"\0"))
    out.append(make_tar([M("file", b"x")], fmt=tarfile.GNU_FORMAT))
    return b"".join(out)


@pytest.mark.parametrize(
    ("links", "limits", "error"),
    [
        (100, Limits(max_pax_header=64 * 1024), SizeLimitError),
        (3000, Limits(), ArchiveError),
    ],
    ids=[
        "a chain of GNU long-name headers hits the header limit",
        "a chain too deep for tarfile's recursion is refused, not a crash",
    ],
)
def test_chained_extended_headers_are_refused(
    links: int, limits: Limits, error: type[Exception]
) -> None:
    """Thousands of chained GNU long-name headers never crash the listing."""
    with pytest.raises(error, match="tar header data|chained extended headers"):
        list_raw(_gnu_long_name_chain(links), limits=limits)


def test_a_short_chain_of_gnu_long_names_lists_one_entry() -> None:
    """Two GNU long-name headers in a row give one entry named by the first (tarfile's reading;
    Go's archive/tar would take the second): an ambiguous archive, listed without failing."""
    (entry,) = list_raw(_gnu_long_name_chain(2))
    assert (entry.path, entry.type, entry.size) == ("name0", "file", 1)


def test_max_entries_stops_the_listing() -> None:
    """Past Limits.max_entries the listing raises ArchiveError after yielding that many."""
    listing = iter_entries(
        [make_tar([M(f"f{i}") for i in range(5)])], "none", limits=Limits(max_entries=3)
    )
    got = []
    with pytest.raises(ArchiveError, match="more than 3 entries"):
        for entry in listing:
            got.append(entry.path)
    assert got == ["f0", "f1", "f2"]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_uncompressed": 0}, {"max_entries": -1}, {"max_pax_header": 100}, {"max_entries": True}],
    ids=["zero bytes", "negative entries", "a header limit below two blocks", "a bool"],
)
def test_limits_validate_themselves(kwargs: dict[str, int]) -> None:
    """Limits refuses values that could not be meant."""
    with pytest.raises(ValueError):
        Limits(**kwargs)


def test_an_unknown_compression_is_refused() -> None:
    """Only gzip, zstd and none are known compressions."""
    with pytest.raises(ValueError, match="bzip2"):
        iter_entries([b""], "bzip2")


# --- decompression bombs -----------------------------------------------------------------------


def _zero_file_tar_stream(total: int) -> Iterator[bytes]:
    """A tar holding one file of ``total`` zero bytes, produced lazily 1 MiB at a time."""
    info = tarfile.TarInfo("zeros")
    info.size = total
    yield info.tobuf(format=tarfile.USTAR_FORMAT)
    block = bytes(MiB)
    for _ in range(total // MiB):
        yield block
    yield bytes(1024)


def _gzip_stream(pieces: Iterable[bytes], level: int = 1) -> Iterator[bytes]:
    """gzip ``pieces`` on the fly."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    for piece in pieces:
        out = compressor.compress(piece)
        if out:
            yield out
    yield compressor.flush()


def _bomb(compression: str) -> bytes:
    pieces = _zero_file_tar_stream(256 * MiB)
    if compression == "gzip":
        return b"".join(_gzip_stream(pieces, level=9))
    return zstandard.ZstdCompressor(level=3).compress(b"".join(pieces))


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_decompression_bomb_stops_near_the_limit(compression: str) -> None:
    """256 MiB of zeros in a few KB stop at an 8 MiB limit, after reading a sliver of the blob."""
    blob = _bomb(compression)
    assert len(blob) < 512 * 1024
    consumed = 0

    def feed() -> Iterator[bytes]:
        nonlocal consumed
        for chunk in chunked(blob, 256):
            consumed += len(chunk)
            yield chunk

    with pytest.raises(SizeLimitError, match="uncompressed") as caught:
        list(iter_entries(feed(), compression, limits=Limits(max_uncompressed=8 * MiB)))
    assert caught.value.size is not None
    assert 8 * MiB < caught.value.size <= 9 * MiB
    assert consumed < len(blob) / 4


def test_the_uncompressed_limit_applies_to_plain_tar_too() -> None:
    """An uncompressed layer over max_uncompressed is refused as it streams."""
    with pytest.raises(SizeLimitError):
        list(
            iter_entries(
                _zero_file_tar_stream(16 * MiB), "none", limits=Limits(max_uncompressed=8 * MiB)
            )
        )


# --- broken streams ----------------------------------------------------------------------------

TAR = make_tar([M("a", b"A" * 10), M("b", b"B" * 600), M("c", b"C")], fmt=tarfile.USTAR_FORMAT)
GZ = gzip.compress(TAR, mtime=0)
ZST = zstandard.ZstdCompressor(write_checksum=True).compress(TAR)


def _flip(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 0xFF]) + blob[at + 1 :]


def _bad_checksum_second_header() -> bytes:
    return TAR[:1024] + b"X" + TAR[1025:]  # second header's name, checksum not updated


BROKEN = [
    (GZ[: len(GZ) // 2], "gzip", "truncated gzip"),
    (GZ[:-4], "gzip", "truncated gzip"),
    (_flip(GZ, 11), "gzip", "corrupt gzip"),
    (_flip(GZ, 3), "gzip", "corrupt gzip"),
    (_flip(GZ, len(GZ) - 6), "gzip", "corrupt gzip"),
    (GZ + b"trailing garbage", "gzip", "corrupt gzip"),
    (b"", "gzip", "empty gzip"),
    (ZST[: len(ZST) // 2], "zstd", "truncated zstd"),
    (ZST[:-1], "zstd", "truncated zstd"),
    (_flip(ZST, len(ZST) // 2), "zstd", "corrupt zstd"),
    (b"\x00" * 64, "zstd", "corrupt zstd"),
    (ZST + b"\x28\xb5", "zstd", "truncated zstd"),
    (b"", "zstd", "empty zstd"),
    (b"", "none", "malformed tar"),
    (b"this is not a tar archive " * 40, "none", "malformed tar"),
    (TAR[:1200], "none", "truncated tar"),
    (TAR[: 1024 + 100], "none", "truncated tar"),
    (TAR[:1600], "none", "malformed tar"),
    (_bad_checksum_second_header(), "none", "invalid tar header"),
]


@pytest.mark.parametrize(
    ("blob", "compression", "message"),
    BROKEN,
    ids=[
        "gzip cut in half",
        "gzip without its trailer",
        "gzip with a flipped byte in the deflate block header",
        "gzip with reserved header flags set",
        "gzip with a flipped CRC",
        "gzip followed by garbage",
        "an empty gzip blob",
        "zstd cut in half",
        "zstd without its last byte",
        "zstd with a flipped byte",
        "zeros that are no zstd frame",
        "zstd followed by half a magic number",
        "an empty zstd blob",
        "an empty tar",
        "text that is no tar",
        "a tar cut inside a file's data",
        "a tar cut inside a header",
        "a tar cut inside a long file's data",
        "a tar whose second header has a bad checksum",
    ],
)
def test_broken_blobs_raise_archive_error_naming_the_layer(
    blob: bytes, compression: str, message: str
) -> None:
    """Truncated or corrupt compression and tar data raise ArchiveError that names the layer."""
    with pytest.raises(ArchiveError, match=message) as caught:
        list(
            iter_entries(chunked(blob, 100) if blob else [], compression, what="layer sha256:0123")
        )
    assert "layer sha256:0123" in str(caught.value)


def test_a_tar_ending_on_a_header_boundary_without_end_marker_is_accepted() -> None:
    """Data ending right after a member (no zero blocks) lists fine, as GNU tar and Go accept."""
    end = 3 * 512 + 1024 + 512 + 512  # a: hdr+data, b: hdr+2 blocks, c: hdr+data
    listing = iter_entries([TAR[:end]], "none")
    assert [e.path for e in listing] == ["a", "b", "c"]
    assert listing.uncompressed_size == end


def test_concatenated_gzip_members_are_one_stream() -> None:
    """A multi-member gzip blob (RFC 1952) lists as the concatenation of its members."""
    blob = gzip.compress(TAR[:1024], mtime=0) + gzip.compress(TAR[1024:], mtime=0)
    listing = iter_entries(chunked(blob, 33), "gzip")
    assert [e.path for e in listing] == ["a", "b", "c"]
    assert listing.diff_id == "sha256:" + hashlib.sha256(TAR).hexdigest()


def test_zstd_frames_and_skippable_frames_are_one_stream() -> None:
    """Several zstd frames, with a skippable frame between them, list as one stream."""
    skippable = (0x184D2A53).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"12345"
    cctx = zstandard.ZstdCompressor(write_content_size=False)
    blob = cctx.compress(TAR[:700]) + skippable + cctx.compress(TAR[700:])
    listing = iter_entries(chunked(blob, 10), "zstd")
    assert [e.path for e in listing] == ["a", "b", "c"]
    assert listing.uncompressed_size == len(TAR)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_errors_of_the_chunk_source_pass_through_unchanged(compression: str) -> None:
    """A network error raised by the chunk iterator reaches the caller as itself."""
    blob = compress(TAR, compression)

    def source() -> Iterator[bytes]:
        yield blob[:100]
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError, match="peer went away"):
        list(iter_entries(source(), compression))


# --- bounded memory ----------------------------------------------------------------------------


def test_a_300_mb_layer_streams_in_bounded_memory() -> None:
    """Listing a lazily generated 300 MiB gzip layer keeps traced memory under 64 MiB."""
    sizes = [100 * MiB, 100 * MiB, 100 * MiB]

    def layer() -> Iterator[bytes]:
        block = bytes(MiB)
        for index, size in enumerate(sizes):
            info = tarfile.TarInfo(f"big/{index}.bin")
            info.size = size
            yield info.tobuf(format=tarfile.USTAR_FORMAT)
            for _ in range(size // MiB):
                yield block
        yield bytes(1024)

    digest = hashlib.sha256()
    expected_size = 0
    for piece in layer():
        digest.update(piece)
        expected_size += len(piece)

    started = time.monotonic()
    tracemalloc.start()
    try:
        listing = iter_entries(_gzip_stream(layer()), "gzip")
        entries = list(listing)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.size for e in entries] == sizes
    assert listing.uncompressed_size == expected_size
    assert listing.diff_id == "sha256:" + digest.hexdigest()
    assert peak < 64 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"
    assert time.monotonic() - started < 60


# --- size estimates ----------------------------------------------------------------------------


def test_gzip_isize_reads_the_trailer() -> None:
    """ISIZE is the little-endian uncompressed size in the last 4 bytes."""
    assert gzip_isize(GZ[-4:]) == len(TAR)


def test_gzip_isize_sees_only_the_last_member() -> None:
    """For multi-member gzip ISIZE counts the last member only (documented limitation)."""
    blob = gzip.compress(b"a" * 1000) + gzip.compress(b"b" * 10)
    assert gzip_isize(blob[-4:]) == 10


def test_gzip_isize_wants_four_bytes() -> None:
    """Anything but 4 bytes is a caller error."""
    with pytest.raises(ValueError):
        gzip_isize(b"\x00\x01")


@pytest.mark.parametrize("size", [0, 1, 255, 256, 65_791, 65_792, 300_000])
def test_zstd_content_size_matches_zstandard(size: int) -> None:
    """Frame_Content_Size agrees with zstandard for every field width that sizes select."""
    frame = zstandard.ZstdCompressor().compress(b"z" * size)
    assert zstd_content_size(frame[:18]) == size
    assert zstandard.get_frame_parameters(frame).content_size == size


def test_zstd_content_size_reads_an_8_byte_field_and_dictionary_id() -> None:
    """A header with a window byte, a 4-byte dictionary id and an 8-byte size is parsed."""
    header = (
        (0xFD2FB528).to_bytes(4, "little")
        + bytes([0b11_0_0_0_0_11])  # FCS 8 bytes, not single segment, DID 4 bytes
        + bytes([0x58])  # window descriptor
        + (7).to_bytes(4, "little")
        + (5 * GiB).to_bytes(8, "little")
    )
    assert zstd_content_size(header) == 5 * GiB
    assert zstandard.get_frame_parameters(header).content_size == 5 * GiB


@pytest.mark.parametrize(
    "blob",
    [
        zstandard.ZstdCompressor(write_content_size=False).compress(b"x" * 100),
        (0x184D2A50).to_bytes(4, "little") + bytes(8),
    ],
    ids=["a streamed frame records no size", "a skippable frame comes first"],
)
def test_zstd_content_size_is_none_when_unknown(blob: bytes) -> None:
    """No Frame_Content_Size field gives None."""
    assert zstd_content_size(blob) is None


@pytest.mark.parametrize(
    "blob",
    [b"\x1f\x8b\x08\x00\x00\x00", b"\x28\xb5\x2f", (0xFD2FB528).to_bytes(4, "little") + b"\xc0"],
    ids=["gzip is no zstd", "three bytes are too few", "a header cut before its size field"],
)
def test_zstd_content_size_refuses_what_is_not_a_frame_header(blob: bytes) -> None:
    """Bad magic or too few bytes raise ArchiveError."""
    with pytest.raises(ArchiveError, match="zstd frame header"):
        zstd_content_size(blob)


# --- merge and wasted space --------------------------------------------------------------------

D = tarfile.DIRTYPE
SCENARIO = [
    [  # layer 0: the base
        M("etc", kind=D, mode=0o755),
        M("etc/config", b"c" * 100),
        M("app", kind=D, mode=0o755),
        M("app/main.py", b"m" * 1000),
        M("app/data.bin", b"d" * 5000),
        M("app/link", kind=tarfile.SYMTYPE, link="main.py", mode=0o777),
        M("cache", kind=D, mode=0o755),
        M("cache/a", b"a" * 300),
        M("cache/b", b"b" * 400),
        M("docs", kind=D, mode=0o755),
        M("docs/readme", b"r" * 50),
    ],
    [  # layer 1: overwrite, delete, opaque, a duplicate, a whiteout of its own file
        M("app/main.py", b"M" * 1200, mode=0o755),
        M("etc/.wh.config"),
        M("cache", kind=D, mode=0o700),
        M("cache/.wh..wh..opq"),
        M("cache/c", b"c" * 10),
        M("tmp/x", b"x" * 700),
        M("tmp/x", b"X" * 800),
        M("etc/.wh.new"),
        M("etc/new", b"n" * 30),
    ],
    [  # layer 2: a file over a directory, an overwrite, a whiteout of a directory, dir over dir
        M("docs", b"D" * 20),
        M("app/main.py", b"3" * 1500),
        M(".wh.tmp"),
        M("app", kind=D, mode=0o750),
    ],
    [  # layer 3: delete a whole tree and add into it again, delete one file, whiteout nothing
        M(".wh.app"),
        M("app/new", b"5" * 5),
        M("cache/.wh.c"),
        M("cache/.wh.ghost"),
    ],
]

EXPECTED_FILESYSTEM = [
    # path, type, size, mode, layer
    ("app/new", "file", 5, "-rw-r--r--", 3),
    ("cache", "dir", 0, "drwx------", 1),
    ("docs", "file", 20, "-rw-r--r--", 2),
    ("etc", "dir", 0, "drwxr-xr-x", 0),
    ("etc/new", "file", 30, "-rw-r--r--", 1),
]

EXPECTED_WASTE = [
    # path, size, added_in, superseded_in, how
    ("etc/config", 100, 0, 1, "deleted"),
    ("cache/a", 300, 0, 1, "hidden"),
    ("cache/b", 400, 0, 1, "hidden"),
    ("app/main.py", 1000, 0, 1, "overwritten"),
    ("tmp/x", 700, 1, 1, "overwritten"),
    ("tmp/x", 800, 1, 2, "deleted"),
    ("docs/readme", 50, 0, 2, "overwritten"),
    ("app/main.py", 1200, 1, 2, "overwritten"),
    ("app/data.bin", 5000, 0, 3, "deleted"),
    ("app/main.py", 1500, 2, 3, "deleted"),
    ("cache/c", 10, 1, 3, "deleted"),
]
# Every file entry of every layer: 6850 + 2740 + 1520 + 5 bytes.
EXPECTED_FILE_BYTES = (
    (100 + 1000 + 5000 + 300 + 400 + 50) + (1200 + 10 + 700 + 800 + 30) + (20 + 1500) + 5
)
EXPECTED_WASTED_BYTES = 11_060  # the sizes above; what survives is 5 + 20 + 30 = 55 bytes


@pytest.fixture(scope="module")
def scenario() -> list[list[TarEntry]]:
    """The four layers, written as gzip tars and listed back."""
    return [list_raw(make_tar(layer), "gzip") for layer in SCENARIO]


def test_merge_applies_whiteouts_and_replacements(scenario: list[list[TarEntry]]) -> None:
    """The merged filesystem matches the hand-computed result of the four-layer scenario."""
    got = [(m.path, m.type, m.size, m.mode_string, m.layer) for m in merge(scenario)]
    assert got == EXPECTED_FILESYSTEM


def test_wasted_counts_each_superseded_copy_once(scenario: list[list[TarEntry]]) -> None:
    """Every superseded copy appears once, with the layer that added it and the one that won."""
    result = wasted(scenario)
    got = [(c.path, c.size, c.added_in, c.superseded_in, c.how) for c in result.copies]
    assert got == EXPECTED_WASTE
    assert result.wasted_bytes == EXPECTED_WASTED_BYTES == sum(row[1] for row in EXPECTED_WASTE)
    assert result.file_bytes == EXPECTED_FILE_BYTES == 11_115
    assert result.efficiency == pytest.approx(55 / 11_115)


def test_a_file_written_in_three_layers_wastes_the_first_two() -> None:
    """Written in layers 0, 1, 2: waste is size0 + size1, efficiency counts all three copies."""
    layers = [list_raw(make_tar([M("f", b"x" * size)])) for size in (10, 20, 40)]
    result = wasted(layers)
    assert [(c.size, c.added_in, c.superseded_in) for c in result.copies] == [
        (10, 0, 1),
        (20, 1, 2),
    ]
    assert (result.wasted_bytes, result.file_bytes) == (30, 70)
    assert result.efficiency == pytest.approx(1 - 30 / 70)


def test_a_whiteout_does_not_touch_its_own_layer() -> None:
    """A whiteout and a file of the same name in one layer: the file stays (layer.md)."""
    layers = [[], list_raw(make_tar([M("f", b"new"), M(".wh.f")]))]
    assert [(m.path, m.layer) for m in merge(layers)] == [("f", 1)]


def test_an_opaque_whiteout_at_the_root_hides_everything_below() -> None:
    """.wh..wh..opq at the layer root hides every lower path; the upper layer's own stay."""
    lower = list_raw(make_tar([M("a", b"1"), M("d", kind=D), M("d/b", b"22")]))
    upper = list_raw(make_tar([M(".wh..wh..opq"), M("c", b"333")]))
    merged, result = analyse([lower, upper])
    assert [(m.path, m.layer) for m in merged] == [("c", 1)]
    assert [(c.path, c.how) for c in result.copies] == [("a", "hidden"), ("d/b", "hidden")]


def test_a_directory_replacing_a_file_and_a_symlink_replacing_a_directory() -> None:
    """Any non-directory over a directory drops its subtree; a directory over a file replaces it."""
    lower = list_raw(make_tar([M("x", b"file"), M("y", kind=D), M("y/z", b"zz")]))
    upper = list_raw(make_tar([M("x", kind=D), M("y", kind=tarfile.SYMTYPE, link="x")]))
    merged, result = analyse([lower, upper])
    assert [(m.path, m.type, m.link_target) for m in merged] == [
        ("x", "dir", None),
        ("y", "symlink", "x"),
    ]
    assert [(c.path, c.how) for c in result.copies] == [
        ("x", "overwritten"),
        ("y/z", "overwritten"),
    ]


def test_an_image_without_files_is_fully_efficient() -> None:
    """No file bytes at all: efficiency is 1.0, nothing wasted."""
    result = wasted([list_raw(make_tar([M("d", kind=D)]))])
    assert (result.copies, result.wasted_bytes, result.efficiency) == ((), 0, 1.0)


def test_wasted_copy_validates_how() -> None:
    """WastedCopy refuses a reason outside overwritten/deleted/hidden."""
    with pytest.raises(ValueError):
        WastedCopy("p", 1, 0, 1, "evicted")


# --- tables ------------------------------------------------------------------------------------


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {str(name): str(dtype) for name, dtype in frame.dtypes.items()}


@pytest.mark.parametrize(
    ("build", "columns"),
    [
        (files_frame, FILES_COLUMNS),
        (filesystem_frame, FILESYSTEM_COLUMNS),
        (wasted_frame, WASTED_COLUMNS),
    ],
    ids=["the files frame", "the filesystem frame", "the wasted frame"],
)
def test_empty_input_gives_an_empty_frame_with_typed_columns(
    build: Callable[[list[object]], pd.DataFrame], columns: dict[str, object]
) -> None:
    """No rows still gives every documented column with its dtype."""
    frame = build([])
    assert frame.empty
    assert list(frame.columns) == list(columns)
    assert _dtypes(frame) == {name: str(pandas_dtype(d)) for name, d in columns.items()}


def test_files_frame_columns_and_values() -> None:
    """files_frame has the documented columns, dtypes and one row per entry in archive order."""
    members = [
        M("bin/tool", b"x" * 7, mode=0o4755, uid=1000, gid=50),
        M("bin/alias", kind=tarfile.SYMTYPE, link="tool", mode=0o777),
        M("/etc/.wh.gone"),
    ]
    frame = files_frame(list_raw(make_tar(members)))
    assert list(frame.columns) == list(FILES_COLUMNS)
    assert _dtypes(frame) == {
        "path": "string",
        "type": "category",
        "size": "int64",
        "mode": "string",
        "mode_octal": "string",
        "uid": "int64",
        "gid": "int64",
        "mtime": "datetime64[ns, UTC]",
        "link_target": "string",
        "whiteout": "category",
        "unsafe_path": "bool",
        "uname": "string",
        "gname": "string",
        "whiteout_target": "string",
        "link_missing": "bool",
        "duplicate": "bool",
    }
    first = frame.iloc[0]
    assert (first["path"], first["type"], first["size"]) == ("bin/tool", "file", 7)
    assert (first["mode"], first["mode_octal"], first["uid"], first["gid"]) == (
        "-rwsr-xr-x",
        "4755",
        1000,
        50,
    )
    assert first["mtime"] == pd.Timestamp(MTIME, unit="s", tz="UTC")
    assert pd.isna(first["link_target"]) and pd.isna(first["whiteout"])
    assert frame["link_target"].tolist()[1] == "tool"
    assert frame.iloc[2][["path", "whiteout", "whiteout_target", "unsafe_path"]].tolist() == [
        "etc/.wh.gone",
        "file",
        "etc/gone",
        True,
    ]
    assert list(frame["type"].cat.categories) == [
        "file",
        "dir",
        "symlink",
        "hardlink",
        "char",
        "block",
        "fifo",
        "other",
    ]


def test_files_frame_turns_unrepresentable_times_into_nat() -> None:
    """An mtime beyond datetime64[ns] (year 2262) becomes NaT instead of failing."""
    entry = TarEntry("f", "f", "file", 0, 0o644, 0, 0, "", "", 1e13)
    assert pd.isna(files_frame([entry])["mtime"].iloc[0])


def test_filesystem_and_wasted_frames_hold_the_scenario(scenario: list[list[TarEntry]]) -> None:
    """The merged and wasted frames carry the hand-computed rows and sum to the totals."""
    merged, result = analyse(scenario)
    fs = filesystem_frame(merged)
    assert list(fs.columns) == list(FILESYSTEM_COLUMNS)
    assert [
        tuple(row) for row in fs[["path", "type", "size", "mode", "layer"]].itertuples(index=False)
    ] == EXPECTED_FILESYSTEM
    waste = wasted_frame(result)
    assert list(waste.columns) == list(WASTED_COLUMNS)
    assert [tuple(row) for row in waste.itertuples(index=False)] == EXPECTED_WASTE
    assert waste["size"].sum() == result.wasted_bytes
    assert wasted_frame(result.copies).equals(waste)


def test_merged_entries_are_frozen_values() -> None:
    """MergedEntry and TarEntry are immutable."""
    merged = MergedEntry("p", "file", 1, 0o644, 0)
    with pytest.raises(AttributeError):
        merged.size = 2  # type: ignore[misc]
    assert merged.mode_string == "-rw-r--r--"
