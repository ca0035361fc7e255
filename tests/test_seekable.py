"""The seekable gzip index (zran over libz through ctypes) and the layer index it is stored in."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from ociinspect.errors import ArchiveError
from ociinspect.layers import layerindex, seekable
from ociinspect.testing import build_layers as bl

RNG = random.Random(12)


def mixed(size: int) -> bytes:
    """Text and random bytes mixed, so deflate makes both stored and Huffman blocks."""
    parts, total = [], 0
    while total < size:
        part = RNG.randbytes(RNG.randint(0, 40_000)) if RNG.random() < 0.3 else (
            b"line %d of text\n" % total
        ) * RNG.randint(1, 3000)  # fmt: skip
        parts.append(part)
        total += len(part)
    return b"".join(parts)[:size]


DATA = mixed(6 * 1024 * 1024)
SINGLE = gzip.compress(DATA, 6)
MULTI = gzip.compress(DATA[:2_500_000], 1) + gzip.compress(DATA[2_500_000:], 9)


def chunks(blob: bytes, size: int = 65_536) -> list[bytes]:
    return [blob[i : i + size] for i in range(0, len(blob), size)]


@pytest.mark.parametrize("blob", [SINGLE, MULTI], ids=["one gzip member", "two gzip members"])
def test_random_spans_decode_from_the_index(blob: bytes) -> None:
    """Any uncompressed span decodes from the compressed bytes the index names, and no more."""
    indexer = seekable.GzipIndexer(spacing=256 * 1024)
    assert b"".join(indexer.inflate(chunks(blob))) == DATA
    index = indexer.index()
    assert len(index.points) > 5
    for _ in range(200):
        start = RNG.randrange(len(DATA))
        end = min(start + RNG.randint(0, 300_000), len(DATA))
        span = index.span(start, end)
        last = len(blob) - 1 if span.last is None else span.last
        assert last - span.first < (end - start) + 2 * 256 * 1024 + 70_000
        part = blob[span.first : last + 1]
        skip = start - (span.point.out if span.point else 0)
        pieces = seekable.inflate_span(chunks(part, 4000), span.point, skip, end - start, "t")
        got = b"".join(pieces)
        assert got == DATA[start:end]


@pytest.mark.parametrize(
    ("blob", "words"),
    [
        (SINGLE[: len(SINGLE) // 2], "truncated"),
        (SINGLE[:5000] + bytes(5000) + SINGLE[10000:], "corrupt"),
        (b"", "empty"),
    ],
    ids=["a truncated stream", "a corrupt stream", "an empty stream"],
)
def test_broken_gzip_is_an_archive_error(blob: bytes, words: str) -> None:
    """Truncated, corrupt and empty streams raise ArchiveError, as the listing's decoder does."""
    with pytest.raises(ArchiveError, match=words):
        for _ in seekable.GzipIndexer().inflate(chunks(blob)):
            pass


def layer_blob() -> bl.Blob:
    return bl.layer(
        [
            bl.file("a.txt", "alpha\n"),
            bl.file("big.bin", RNG.randbytes(3 * 1024 * 1024)),
            bl.hardlink("b.txt", "a.txt"),
            bl.file("z.txt", "omega\n"),
        ]
    )


def test_layer_index_round_trips_and_refuses_damage() -> None:
    """dumps/loads give the same members and access points; a flipped byte or another digest
    gives None (the caller rebuilds)."""
    blob = layer_blob()
    index = layerindex.index_layer(
        chunks(blob.data), "gzip", blob.digest, diff_id=blob.diff_id, what="t"
    )
    raw = layerindex.dumps(index)
    back = layerindex.loads(raw, blob.digest)
    assert back is not None and back.members == index.members
    assert back.seek == index.seek
    assert back.entry("b.txt")[1].link_index == back.entry("a.txt")[0]  # type: ignore[index]
    damaged = raw[:-10] + bytes([raw[-10] ^ 1]) + raw[-9:]
    assert layerindex.loads(damaged, blob.digest) is None
    assert layerindex.loads(raw, "sha256:" + "0" * 64) is None


def test_the_pass_checks_blob_digest_and_diff_id() -> None:
    """A pass raises when the blob is not its digest or the tar not its diff_id."""
    blob = layer_blob()
    with pytest.raises(Exception, match="digest mismatch"):
        layerindex.index_layer(
            chunks(blob.data), "gzip", "sha256:" + "1" * 64, diff_id=None, what="t"
        )
    with pytest.raises(Exception, match="diff_id"):
        layerindex.index_layer(
            chunks(blob.data), "gzip", blob.digest, diff_id="sha256:" + "2" * 64, what="t"
        )


def test_members_carry_the_sha256_of_their_bytes() -> None:
    """Each regular file's recorded sha256 is that of its bytes (what span reads are checked
    against)."""
    import hashlib

    blob = layer_blob()
    index = layerindex.index_layer(
        chunks(blob.data), "gzip", blob.digest, diff_id=blob.diff_id, what="t"
    )
    found = index.entry("z.txt")
    assert found is not None and found[1].sha256 == hashlib.sha256(b"omega\n").hexdigest()
    assert zlib.crc32(b"") == 0  # zlib itself is importable alongside the ctypes binding
