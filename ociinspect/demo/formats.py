"""Teaching images the demo builds when it starts: one filesystem in every format.

The same files (a small, compressible tree of text) packed as Docker schema2 (gzip), OCI with
gzip, zstd, zstd:chunked and no compression, so a lesson can put the manifests side by side and
compare sizes. Deterministic: same bytes, same digests, on every start and machine.

zstd:chunked (containers/storage ``pkg/chunked/compressor``) is a zstd stream in which every
file's content is a frame of its own, followed by *skippable* frames (RFC 8878 section 3.1.2,
magic ``0x184D2A50``–``0x184D2A5F``) that hold a table of contents and a footer. A plain zstd
decoder skips those frames and sees an ordinary tar, so ``diff_id`` is the tar's digest as
always; a reader that knows the format reads the footer, then the table of contents (which
lists each file's ``offset``/``endOffset`` in the blob and its digest) and fetches only the
files it needs with HTTP Range requests. The layer descriptor carries the annotations
``io.github.containers.zstd-chunked.manifest-checksum`` (the digest of the compressed table)
and ``…manifest-position`` (``offset:length:uncompressed length:type``, type 1 for the
eStargz-style "CRFS" table).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import struct
import tarfile
from typing import Any

from ..testing import build
from ..values import mediatypes as mt

#: What the layer's annotations are called (containers/storage pkg/chunked/internal).
CHUNKED_CHECKSUM = "io.github.containers.zstd-chunked.manifest-checksum"
CHUNKED_POSITION = "io.github.containers.zstd-chunked.manifest-position"
#: The footer's magic, "GNUlInUx" (containers/storage pkg/chunked/internal ZstdChunkedFrameMagic).
CHUNKED_MAGIC = b"GNUlInUx"
_SKIPPABLE_MAGIC = 0x184D2A50
_MANIFEST_TYPE_CRFS = 1

_WORDS = (
    "layer",
    "digest",
    "manifest",
    "index",
    "config",
    "blob",
    "registry",
    "token",
    "scope",
    "tag",
    "platform",
    "tar",
    "gzip",
    "zstd",
    "history",
    "whiteout",
    "overlay",
    "referrer",
    "descriptor",
    "media",
    "type",
    "schema",
    "annotation",
)


def _text(seed: str, size: int) -> bytes:
    """``size`` bytes of deterministic, compressible text."""
    out, i = [], 0
    length = 0
    while length < size:
        word = _WORDS[hashlib.sha256(f"{seed}:{i}".encode()).digest()[0] % len(_WORDS)]
        out.append(word)
        length += len(word) + 1
        i += 1
    return (" ".join(out).encode() + b"\n")[:size]


def members() -> list[build.Member]:
    """The tree every format packs: docs, a script and some data."""
    files = [
        build.file(f"usr/share/doc/demo/chapter-{n:02d}.txt", _text(f"chapter {n}", 6000 + 300 * n))
        for n in range(16)
    ]
    return [
        *(build.directory(d) for d in ("usr", "usr/share", "usr/share/doc", "usr/share/doc/demo")),
        *files,
        build.directory("usr/local"),
        build.directory("usr/local/bin"),
        build.file("usr/local/bin/demo", b"#!/bin/sh\necho formats demo\n", mode=0o755),
    ]


def _frame(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=3, write_content_size=True).compress(data)


def _skippable(payload: bytes) -> bytes:
    return struct.pack("<II", _SKIPPABLE_MAGIC, len(payload)) + payload


def zstd_chunked_layer(entries: list[build.Member]) -> build.Blob:
    """A zstd:chunked layer of ``entries``: frames per tar header and per file's content,
    then the compressed table of contents and the footer as skippable frames."""
    raw = build.tar(entries)
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        infos = archive.getmembers()
    frames: list[bytes] = []
    toc: list[dict[str, Any]] = []
    at = 0  # where the next frame starts in the blob
    position = 0  # where the next frame starts in the tar
    for info in infos:
        header = raw[position : info.offset_data]
        frames.append(_frame(header))
        at += len(frames[-1])
        end_of_data = info.offset_data + ((info.size + 511) // 512) * 512
        entry: dict[str, Any] = {
            "type": "dir" if info.isdir() else "reg" if info.isfile() else "symlink",
            "name": info.name,
            "mode": info.mode,
            "uid": info.uid,
            "gid": info.gid,
            "modtime": "2024-01-01T00:00:00Z",
        }
        if info.isfile() and info.size:
            content = raw[info.offset_data : end_of_data]
            frames.append(_frame(content))
            entry.update(
                size=info.size,
                digest="sha256:" + hashlib.sha256(content[: info.size]).hexdigest(),
                offset=at,
                endOffset=at + len(frames[-1]),
            )
            at += len(frames[-1])
        toc.append(entry)
        position = end_of_data
    frames.append(_frame(raw[position:]))  # end-of-archive blocks and padding
    at += len(frames[-1])
    table = json.dumps({"version": 1, "entries": toc}, separators=(",", ":")).encode()
    compressed_table = _frame(table)
    manifest_offset = at + 8  # the table starts after the skippable frame's 8-byte header
    frames.append(_skippable(compressed_table))
    footer = struct.pack(
        "<QQQQQQQ",
        manifest_offset,
        len(compressed_table),
        len(table),
        _MANIFEST_TYPE_CRFS,
        0,
        0,
        0,
    )
    frames.append(_skippable(footer + CHUNKED_MAGIC))
    checksum = "sha256:" + hashlib.sha256(compressed_table).hexdigest()
    annotations = {
        CHUNKED_CHECKSUM: checksum,
        CHUNKED_POSITION: f"{manifest_offset}:{len(compressed_table)}:{len(table)}:1",
    }
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    return build.Blob(
        mt.OCI_LAYER_ZSTD,
        b"".join(frames),
        diff_id=diff_id,
        annotations=tuple(sorted(annotations.items())),
    )


#: eStargz's descriptor annotations (containerd/stargz-snapshotter docs/estargz.md).
ESTARGZ_TOC_DIGEST = "containerd.io/snapshot/stargz/toc.digest"
ESTARGZ_UNCOMPRESSED_SIZE = "io.containers.estargz.uncompressed-size"
ESTARGZ_LANDMARK = ".no.prefetch.landmark"


def _gzip_member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def _estargz_footer(toc_offset: int) -> bytes:
    """The 51-byte footer: an empty gzip member whose Extra subfield ``SG`` holds
    ``%016xSTARGZ`` (the TOC's offset)."""
    extra = b"SG" + struct.pack("<H", 22) + b"%016xSTARGZ" % toc_offset
    header = b"\x1f\x8b\x08\x04" + bytes(4) + b"\x00\xff" + struct.pack("<H", len(extra))
    return header + extra + b"\x01\x00\x00\xff\xff" + bytes(8)  # empty stored block, CRC, size


def estargz_layer(entries: list[build.Member]) -> build.Blob:
    """An eStargz layer of ``entries``, laid out as ``ctr-remote images convert --estargz``
    lays one out: a landmark file first (``.no.prefetch.landmark``, one byte 0x0f); each
    regular file's content starts a gzip member of its own (its tar header ends the member
    before); then a member holding a tar of ``stargz.index.json`` (the TOC: every entry, with
    the ``offset`` of its content's member and its digest) and the end of the archive; then the
    footer. Still one valid gzip stream of one tar: the two added files are files of the layer
    to a runtime that does not know eStargz."""
    landmark = build.file(ESTARGZ_LANDMARK, b"\x0f", mode=0)
    raw = build.tar([landmark, *entries], sort=False)
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        infos = archive.getmembers()
    members: list[bytes] = []
    current = bytearray()
    at = position = 0  # where the next member starts in the blob; the next header in the tar
    toc: list[dict[str, Any]] = []
    for info in infos:
        current += raw[position : info.offset_data]
        end_of_data = info.offset_data + ((info.size + 511) // 512) * 512
        kind = "dir" if info.isdir() else "reg" if info.isfile() else "symlink"
        entry: dict[str, Any] = {
            "name": info.name + ("/" if info.isdir() else ""),
            "type": kind,
            "modtime": "2024-01-01T00:00:00Z",
            "mode": info.mode,
            "uid": info.uid,
            "gid": info.gid,
        }
        if info.issym():
            entry["linkName"] = info.linkname
        if info.isfile() and info.size:
            members.append(_gzip_member(bytes(current)))
            at += len(members[-1])
            data = raw[info.offset_data : info.offset_data + info.size]
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            entry.update(size=info.size, offset=at, digest=digest, chunkDigest=digest)
            current = bytearray()
        current += raw[info.offset_data : end_of_data]
        toc.append(entry)
        position = end_of_data
    members.append(_gzip_member(bytes(current)))
    at += len(members[-1])
    table = json.dumps({"version": 1, "entries": toc}, separators=(",", ":")).encode()
    index = tarfile.TarInfo("stargz.index.json")
    index.size, index.mode, index.mtime = len(table), 0o644, 0
    tail = index.tobuf(tarfile.USTAR_FORMAT) + table + bytes(-len(table) % 512) + bytes(1024)
    blob = b"".join(members) + _gzip_member(tail) + _estargz_footer(at)
    tar_bytes = raw[:position] + tail
    annotations = {
        ESTARGZ_TOC_DIGEST: "sha256:" + hashlib.sha256(table).hexdigest(),
        ESTARGZ_UNCOMPRESSED_SIZE: str(len(tar_bytes)),
    }
    return build.Blob(
        mt.OCI_LAYER_GZIP,
        blob,
        diff_id="sha256:" + hashlib.sha256(tar_bytes).hexdigest(),
        annotations=tuple(sorted(annotations.items())),
    )


#: Tag -> how the formats repository packs the tree.
FORMAT_TAGS = (
    "docker-v2", "oci-gzip", "oci-zstd", "oci-zstd-chunked", "oci-estargz", "oci-uncompressed",
)  # fmt: skip


def format_images() -> dict[str, build.BuiltImage]:
    """One image per :data:`FORMAT_TAGS` entry, all of the same files."""
    tree = members()
    layers = {
        "docker-v2": build.layer(tree, "gzip"),
        "oci-gzip": build.layer(tree, "gzip"),
        "oci-zstd": build.layer(tree, "zstd"),
        "oci-zstd-chunked": zstd_chunked_layer(tree),
        "oci-estargz": estargz_layer(tree),
        "oci-uncompressed": build.layer(tree, "none"),
    }
    history = [build.Step("COPY docs /usr/share/doc/demo # buildkit")]
    return {
        tag: build.image(
            [blob],
            docker=tag == "docker-v2",
            labels={"org.opencontainers.image.title": "ociinspect demo: formats"},
            cmd=["/usr/local/bin/demo"],
            history=history,
        )
        for tag, blob in layers.items()
    }


__all__ = [
    "CHUNKED_CHECKSUM",
    "CHUNKED_MAGIC",
    "CHUNKED_POSITION",
    "FORMAT_TAGS",
    "format_images",
    "members",
    "zstd_chunked_layer",
]
