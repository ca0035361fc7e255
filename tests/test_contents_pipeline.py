"""The listing's fast path: headers read in place, decompression ahead of the walk, the diff_id
hashed on a helper thread. It must give what tarfile and the one-piece-at-a-time pipeline give.

The layers are real: GNU tar (``--format=posix``, every entry with a PAX header, and
``--format=gnu``) over a tree of a few thousand files written here, compressed by the ``zstd``
and ``gzip`` commands (tests/run.sh installs zstd; tar and gzip are in every Debian system).
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ociinspect import api
from ociinspect.errors import ArchiveError, DigestMismatchError, SizeLimitError
from ociinspect.layers import contents
from ociinspect.layers.contents import Limits, iter_entries
from ociinspect.testing import build
from ociinspect.values import mediatypes as mt
from ociinspect.values.digest import sha256

MiB = 1 << 20
KiB = 1 << 10
MTIME = 1_717_243_200

# tarfile's own field and checksum readers (module functions its typeshed stubs leave out)
nti: Callable[[bytes], int] = tarfile.nti  # type: ignore[attr-defined]
calc_chksums: Callable[[bytes], tuple[int, int]] = tarfile.calc_chksums  # type: ignore[attr-defined]


# --- real layers ---------------------------------------------------------------------------------


def _tree(root: Path) -> None:
    """About 2,450 entries, 14 MiB: dense runs of small files, a few big incompressible ones,
    long and non-ASCII names, symlinks and hardlinks."""
    rng = random.Random(15)
    words = b"layer tar header zstd gzip entry whiteout digest manifest config \n"
    for d in range(40):
        folder = root / f"usr/share/pkg{d:02}"
        folder.mkdir(parents=True)
        for f in range(60):
            size = rng.choice([0, 17, 300, 511, 512, 513, 2000, 4096, 9000])
            (folder / f"file{f:03}.txt").write_bytes((words * (size // len(words) + 1))[:size])
    deep = root / ("long-directory-name-" * 4) / ("even-longer-component-" * 4)
    deep.mkdir(parents=True)
    (deep / "a-file-whose-path-is-over-one-hundred-bytes.txt").write_bytes(b"deep\n")
    (root / "usr/share/pkg00/ünïcödé naïve.txt").write_bytes(b"u\n")
    big = root / "opt/big"
    big.mkdir(parents=True)
    for n in range(6):
        (big / f"blob{n}.bin").write_bytes(rng.randbytes(MiB + 333 * n))
    os.symlink("../share/pkg00/file000.txt", root / "usr/share/link")
    os.link(root / "usr/share/pkg01/file001.txt", root / "usr/share/hardlink")
    for path in [*root.rglob("*"), root]:
        os.utime(path, (MTIME, MTIME), follow_symlinks=False)


def _gnu_tar(source: Path, out: Path, fmt: str) -> None:
    subprocess.run(
        ["tar", "--create", f"--file={out}", f"--directory={source}", f"--format={fmt}",
         "--sort=name", "--numeric-owner", "--owner=0", "--group=0", "--", "usr", "opt",
         ("long-directory-name-" * 4)],
        check=True, env={**os.environ, "LC_ALL": "C.UTF-8"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[bytes, bytes]]:
    """``{(format, compression): (blob, tar)}`` for GNU tar's posix and gnu formats."""
    work = tmp_path_factory.mktemp("pipeline")
    _tree(work / "root")
    made: dict[tuple[str, str], tuple[bytes, bytes]] = {}
    for fmt in ("posix", "gnu"):
        tar_path = work / f"{fmt}.tar"
        _gnu_tar(work / "root", tar_path, fmt)
        tar = tar_path.read_bytes()
        zstd = subprocess.run(["zstd", "-3", "-q", "-c", str(tar_path)], check=True,
                              capture_output=True).stdout  # fmt: skip
        gz = subprocess.run(["gzip", "-6", "-n", "-c", str(tar_path)], check=True,
                            capture_output=True).stdout  # fmt: skip
        made[fmt, "zstd"], made[fmt, "gzip"], made[fmt, "none"] = (zstd, tar), (gz, tar), (tar, tar)
    return made


def chunked(blob: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(blob), size):
        yield blob[start : start + size]


def outcome(
    chunks: Iterator[bytes], compression: str, limits: Limits | None = None
) -> tuple[Any, ...]:
    """Every entry listed, then the totals or the error (type and message)."""
    listing = iter_entries(chunks, compression, limits=limits, what="layer L")
    entries = []
    try:
        for entry in listing:
            entries.append(entry)
    except Exception as exc:  # the outcome compared is the error itself
        return entries, type(exc).__name__, str(exc)
    return entries, listing.diff_id, listing.uncompressed_size


@pytest.fixture
def no_threads_left() -> Iterator[None]:
    """Whatever the test does, every helper thread it started has ended when it returns."""
    before = threading.active_count()
    yield
    assert threading.active_count() == before


@pytest.fixture
def one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Switch to the listing as it was: a piece made when the walk asks for it, the diff_id
    hashed by the walk's thread."""

    def switch() -> None:
        monkeypatch.setattr(contents, "_AHEAD", 1)
        monkeypatch.setattr(contents, "_THREAD_AFTER", 1 << 62)

    return switch


# --- the same listing as tarfile's ----------------------------------------------------------


@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
@pytest.mark.parametrize("fmt", ["posix", "gnu"])
def test_real_gnu_tar_layers_list_as_tarfile_and_gnu_tar_read_them(
    layers: dict[tuple[str, str], tuple[bytes, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
    compression: str,
    no_threads_left: None,
) -> None:
    """A GNU tar layer lists the same with the fast path as with tarfile alone, names as
    ``tar -t`` prints them, and its diff_id and size are those of the tar."""
    blob, tar = layers[fmt, compression]
    fast = outcome(chunked(blob, 64 * KiB), compression)
    entries, diff_id, size = fast
    assert diff_id == "sha256:" + hashlib.sha256(tar).hexdigest() and size == len(tar)
    assert len(entries) > 2400
    listed = subprocess.run(["tar", "-t", "--quoting-style=literal"], input=tar, check=True,
                            capture_output=True).stdout.decode().splitlines()  # fmt: skip
    assert [e.path for e in entries] == [name.rstrip("/") for name in listed]
    assert any(len(e.path) > 100 for e in entries) and any("ü" in e.path for e in entries)
    assert {e.type for e in entries} == {"dir", "file", "symlink", "hardlink"}
    monkeypatch.setattr(contents, "_fast_header", lambda buf, offset: None)
    assert outcome(chunked(blob, 64 * KiB), compression) == fast


@pytest.mark.parametrize("size", [512, 700, 1536, 4 * MiB], ids=lambda n: f"{n} bytes")
def test_headers_across_piece_boundaries_list_the_same(
    layers: dict[tuple[str, str], tuple[bytes, bytes]], size: int
) -> None:
    """Pieces that cut PAX header groups anywhere (read block by block, not in place) list
    exactly as one whole piece does."""
    _, tar = layers["posix", "none"]
    assert outcome(chunked(tar, size), "none") == outcome(iter([tar]), "none")


# --- the same outcome as one piece at a time ----------------------------------------------------


def _flip(blob: bytes, at: float) -> bytes:
    i = int(len(blob) * at)
    return blob[:i] + bytes([blob[i] ^ 0x55]) + blob[i + 1 :]


def _failing(blob: bytes, at: float) -> Iterator[bytes]:
    cut = int(len(blob) * at)
    yield from chunked(blob[:cut], 256 * KiB)
    raise ConnectionResetError("peer went away")


CASES: dict[str, tuple[Callable[[bytes], Iterator[bytes]], Limits | None]] = {
    "intact": (lambda blob: chunked(blob, MiB), None),
    "truncated": (lambda blob: chunked(blob[: len(blob) * 6 // 10], MiB), None),
    "corrupt early": (lambda blob: chunked(_flip(blob, 0.3), MiB), None),
    "corrupt late": (lambda blob: chunked(_flip(blob, 0.8), MiB), None),
    "source fails midway": (lambda blob: _failing(blob, 0.5), None),
    "over max_uncompressed": (lambda blob: chunked(blob, MiB), Limits(max_uncompressed=5 * MiB)),
    "over max_entries": (lambda blob: chunked(blob, MiB), Limits(max_entries=1000)),
}


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
@pytest.mark.parametrize("case", list(CASES))
def test_reading_ahead_changes_nothing_but_speed(
    layers: dict[tuple[str, str], tuple[bytes, bytes]],
    one_at_a_time: Callable[[], None],
    case: str,
    compression: str,
    no_threads_left: None,
) -> None:
    """Intact, truncated, corrupt, cut by its source or over a limit: the entries listed before
    the end and the error (its type and message) are those of the one-piece-at-a-time listing;
    no helper thread outlives either."""
    blob, _ = layers["posix", compression]
    feed, limits = CASES[case]
    ahead = outcome(feed(blob), compression, limits)
    one_at_a_time()
    assert outcome(feed(blob), compression, limits) == ahead
    if case != "intact":
        assert isinstance(ahead[1], str) and len(ahead) == 3 and ahead[1] in {
            "ArchiveError", "ConnectionResetError", "SizeLimitError"
        }  # fmt: skip
    if case in ("truncated", "source fails midway", "over max_uncompressed"):
        assert len(ahead[0]) > 100  # entries before the failure were listed first


def test_a_decompressor_error_while_reading_ahead_is_the_archive_error_of_the_layer(
    layers: dict[tuple[str, str], tuple[bytes, bytes]], no_threads_left: None
) -> None:
    """A zstd stream corrupted near its end fails as a corrupt zstd stream naming the layer,
    after the entries before the damage."""
    blob, _ = layers["posix", "zstd"]
    with pytest.raises(ArchiveError, match=r"^layer L: corrupt zstd stream in frame 1"):
        list(iter_entries(chunked(_flip(blob, 0.97), MiB), "zstd", what="layer L"))


def test_the_uncompressed_limit_stops_the_decompressor_itself(
    layers: dict[tuple[str, str], tuple[bytes, bytes]], no_threads_left: None
) -> None:
    """Over max_uncompressed: SizeLimitError within a piece of the limit, and not one piece is
    decompressed (or compressed byte read) past the one that crossed it."""
    blob, _ = layers["posix", "zstd"]
    consumed = 0

    def feed() -> Iterator[bytes]:
        nonlocal consumed
        for chunk in chunked(blob, 64 * KiB):
            consumed += len(chunk)
            yield chunk

    with pytest.raises(SizeLimitError, match="uncompressed") as caught:
        list(iter_entries(feed(), "zstd", limits=Limits(max_uncompressed=4 * MiB)))
    assert caught.value.size is not None and 4 * MiB < caught.value.size <= 5 * MiB
    assert consumed < len(blob) / 2


# --- bounded, and ahead --------------------------------------------------------------------------


def test_decompression_runs_ahead_of_the_walk_by_a_bounded_number_of_pieces(
    layers: dict[tuple[str, str], tuple[bytes, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    no_threads_left: None,
) -> None:
    """Before the first entry, _AHEAD pieces are made (and handed to the hasher); at no time
    are more than _AHEAD made pieces waiting for the walk."""
    blob, _ = layers["posix", "zstd"]
    made = taken = most = 0
    real = contents.decompressor("zstd")

    def counting(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
        nonlocal made
        for piece in real(chunks, what):
            made += 1
            yield piece

    real_took = contents._AheadStream._took

    def took(self: contents._AheadStream, piece: bytes) -> None:
        nonlocal taken, most
        taken += 1
        most = max(most, made - taken)
        real_took(self, piece)

    monkeypatch.setattr(contents, "decompressor", lambda compression: counting)
    monkeypatch.setattr(contents._AheadStream, "_took", took)
    listing = iter_entries(chunked(blob, MiB), "zstd")
    next(listing)
    assert made == contents._AHEAD
    entries = [*listing]
    assert len(entries) > 2400 and 0 < most < contents._AHEAD
    assert made == taken


def test_closing_a_listing_midway_stops_its_threads(
    layers: dict[tuple[str, str], tuple[bytes, bytes]], no_threads_left: None
) -> None:
    """A listing closed after a few entries (the diff_id's thread running) leaves no thread
    and no totals."""
    blob, _ = layers["posix", "zstd"]
    listing = iter_entries(chunked(blob, MiB), "zstd")
    assert len([next(listing) for _ in range(10)]) == 10
    assert threading.active_count() >= 2  # the hasher is at work
    listing.close()
    assert not listing.done
    with pytest.raises(RuntimeError):
        _ = listing.diff_id


# --- through the API: the blob is still verified ------------------------------------------------


def test_a_tampered_zstd_blob_fails_its_digest_after_listing(
    tmp_path: Path, layers: dict[tuple[str, str], tuple[bytes, bytes]], no_threads_left: None
) -> None:
    """A zstd layer whose bytes changed but still decompress to the same tar (a skippable
    frame's content altered, same size) is refused by its blob digest."""
    blob, tar = layers["posix", "zstd"]
    skippable = (0x184D2A50).to_bytes(4, "little") + (16).to_bytes(4, "little")
    good = blob + skippable + b"A" * 16
    layer = build.Blob(mt.OCI_LAYER_ZSTD, good, diff_id=sha256(tar))
    directory = build.write_layout(tmp_path / "layout", build.image([layer]))
    path = directory / "blobs" / "sha256" / layer.digest.split(":", 1)[1]
    ref = f"oci:{directory}"
    assert len(api.files(ref, 0)) > 2400
    path.write_bytes(blob + skippable + b"B" * 16)
    with pytest.raises(DigestMismatchError, match=layer.digest):
        api.files(ref, 0)


# --- the parsers the fast path uses, against tarfile's ------------------------------------------


FIELDS = [
    (b"0000644\x00", 0o644), (b"0000644 ", 0o644), (b"00000020352\x00", 0o20352),
    (b"023553\x00 ", 0o23553), (b"  644 \x00\x00", 0o644), (b"\x00" * 8, 0), (b" " * 8, 0),
    (b"\x00 \x00 ", 0), (b"+644\x00", 0o644), (b"-1\x00", -1), (b"6_44\x00", 0o644),
    (b"\t644\n\x00", 0o644), (b"0o644\x00", 0o644),
    # refused here, so tarfile decides (text after the NUL, base-256, a blank int() keeps;
    # tarfile reads these five and refuses the last two):
    (b"644\x00junk", None), (b"6\x0044", None), (b"\x80\x00\x00\x01", None),
    (b"\xff" * 8, None), (b"\x1c644\x00", None), (b"9\x00", None), (b"12 34\x00", None),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), FIELDS, ids=[repr(f) for f, _ in FIELDS])
def test_a_number_read_here_is_the_number_tarfile_reads(field: bytes, value: int | None) -> None:
    """_number gives tarfile's nti value, or refuses (ValueError) so that tarfile decides."""
    if value is None:
        with pytest.raises(ValueError):
            contents._number(field)
    else:
        assert contents._number(field) == value == nti(field)


def test_numbers_agree_with_tarfile_on_random_fields() -> None:
    """On 50,000 random fields of digits, blanks and NULs the same holds, and most parse."""
    rng = random.Random(15)
    alphabet = b"0123456789 \x00\t+-_a\x80"
    parsed = 0
    for _ in range(50_000):
        field = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 13)))
        try:
            ours = contents._number(field)
        except ValueError:
            continue
        parsed += 1
        assert ours == nti(field), field
    assert parsed > 1000


def test_the_checksum_test_agrees_with_tarfile(
    layers: dict[tuple[str, str], tuple[bytes, bytes]],
) -> None:
    """On real header blocks and random ones (0xFF-filled too, the largest sums) a checksum is
    accepted exactly when tarfile's calc_chksums has it; off by 65521 it is refused."""
    rng = random.Random(15)
    _, tar = layers["gnu", "none"]
    blocks = [tar[i : i + 512] for i in range(0, 200 * 512, 512)]
    blocks += [rng.randbytes(512) for _ in range(2000)] + [b"\xff" * 512, bytes(512)]
    for block in blocks:
        unsigned, signed = calc_chksums(block)
        for candidate in (unsigned, signed, unsigned + 65521, unsigned - 65521, unsigned + 1):
            expected = candidate in (unsigned, signed)
            assert contents._checksum_ok(block, candidate) is expected
