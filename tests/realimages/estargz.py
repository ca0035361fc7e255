"""``estargz``: the debian image plus a one-big-file layer, converted to eStargz by ctr-remote.

Tools: containerd 1.6 (a private daemon: its own root, state and socket in a temporary
directory, stopped before the build returns) and ``ctr-remote`` of stargz-snapshotter 0.12:

1. ``skopeo copy`` the debian image's final tag into a work layout, and add a fourth layer
   (GNU tar + ``umoci raw add-layer``) holding one file, ``/opt/estargz/big.bin``: the debian
   image's own three biggest files (``perl5.36.0``, ``bash``, ``ldconfig``) end to end, 6,057,088
   bytes of real machine code. That tag (``gzip`` in the final layout) is the source;
2. ``skopeo copy`` it to an ``oci-archive:``; ``ctr-remote images import --no-unpack
   --base-name``; ``ctr-remote images convert --estargz --oci --estargz-chunk-size 65536``;
   ``ctr-remote images export``; ``skopeo copy`` of the exported OCI archive into
   ``<dest>/layout`` as tag ``estargz``. The build checks that skopeo kept the manifest, config
   and layer blobs byte for byte (so the layer annotations too).

What the conversion does to a layer (stargz-snapshotter's ``estargz`` package, docs/estargz.md):
the tar is rewritten as a sequence of gzip members: one per file (its tar header travels in the
member before it), a new member every 65,536 bytes of a file (a ``chunk``), then a member
holding a tar with one file, ``stargz.index.json`` (the TOC), then a 51-byte empty member, the
footer, whose gzip FEXTRA subfield ``SG`` holds ``%016xSTARGZ``: the TOC member's offset. It
still is one valid gzip stream. Two entries are ADDED to every layer's tar: a first regular file
``.no.prefetch.landmark`` (one byte, 0x0f, mode 0: no ``--estargz-record-in`` was given) and a
last one, ``stargz.index.json`` (the TOC JSON itself). An unpacker that does not know eStargz
(umoci, for one) therefore puts both at the root of the merged filesystem,
the top layer's copies winning: :data:`METADATA_PATHS`. Every other tar member is kept as it
was, in the same order, with the same header fields and bytes (checked by the build). The
manifest gives each layer two annotations, ``containerd.io/snapshot/stargz/toc.digest`` (the
sha256 of the TOC JSON, uncompressed) and ``io.containers.estargz.uncompressed-size``; the
config gets the new diff_ids and nothing else changes.

Facts, each checked against the blobs by the build: per layer its descriptor, annotations,
diff_id, TOC offset and the file with the most chunks (:func:`read_toc` parses a blob's footer
and TOC independently of ociinspect); the image's most-chunked file; the reference tree,
``umoci unpack --rootless`` of the ``estargz`` tag (kept in ``rootfs``), which must equal the
debian image's tree plus the big file plus the two metadata files. Needs root (containerd).
The build is reproducible: the same digests on every run (Go's gzip at level 9 is deterministic,
the conversion keeps the configs' fixed times).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from . import layout as oci
from ._tools import ToolFailedError, add_tar_layer, run, sha256_file
from .debian import DebianImage, build_debian
from .facts import TreeFacts, tree_facts

TAG = "estargz"
#: The source image in the same layout: the debian layers plus the big-file layer, plain gzip.
GZIP_TAG = "gzip"
CHUNK_SIZE = 65536
IMAGE_NAME = "example.com/ociinspect/estargz"
BIG_FILE = "/opt/estargz/big.bin"
#: The debian image's files whose bytes, end to end, make BIG_FILE.
BIG_FILE_PARTS = ("/usr/bin/perl5.36.0", "/bin/bash", "/sbin/ldconfig")

TOC_NAME = "stargz.index.json"
NO_PREFETCH_LANDMARK = ".no.prefetch.landmark"
#: What ctr-remote adds to every layer and a non-eStargz unpacker shows at the root.
METADATA_PATHS = ("/" + NO_PREFETCH_LANDMARK, "/" + TOC_NAME)
TOC_DIGEST_ANNOTATION = "containerd.io/snapshot/stargz/toc.digest"
UNCOMPRESSED_SIZE_ANNOTATION = "io.containers.estargz.uncompressed-size"
#: estargz.FooterSize: gzip header 10, XLEN 2, SI1 SI2 LEN 4, "%016xSTARGZ" 22, deflate 5,
#: CRC32 and ISIZE 8.
FOOTER_SIZE = 51

_NAMESPACE = "ociinspect"
_START_SECONDS = 30.0
_STOP_SECONDS = 10.0
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux


@dataclass(frozen=True)
class Toc:
    """One eStargz blob's table of contents as stored: where its gzip member starts, the JSON's
    bytes and digest, and the parsed ``entries`` (reg, chunk, dir, symlink, hardlink, ...)."""

    offset: int
    raw: bytes
    digest: str
    version: int
    entries: tuple[Mapping[str, Any], ...]

    def chunks(self) -> Counter[str]:
        """How many chunks each regular file has: its ``reg`` entry plus its ``chunk`` entries."""
        return Counter(entry["name"] for entry in self.entries if entry["type"] in ("reg", "chunk"))

    def most_chunked(self) -> tuple[str, int]:
        """The file with the most chunks (``/``-rooted) and how many (ties: first in the TOC)."""
        name, count = self.chunks().most_common(1)[0]
        return "/" + name, count


@dataclass(frozen=True)
class EstargzLayer:
    """One converted layer: descriptor, annotations, diff_id, TOC, and the gzip layer it was
    made from. ``entries`` counts the gunzipped tar's members, the two added ones included."""

    index: int
    media_type: str
    digest: str
    size: int
    annotations: tuple[tuple[str, str], ...]
    toc_digest: str
    uncompressed_size: int
    diff_id: str
    toc_offset: int
    entries: int
    most_chunked: tuple[str, int]
    source_digest: str
    source_diff_id: str


@dataclass(frozen=True)
class EstargzImage:
    """The built ``estargz`` image (see the module docstring)."""

    layout: Path
    tag: str
    gzip_tag: str
    manifest_digest: str
    config_digest: str
    gzip_manifest_digest: str
    chunk_size: int
    layers: tuple[EstargzLayer, ...]
    most_chunked: tuple[str, int]
    big_file: str
    big_file_size: int
    rootfs: Path
    tree: TreeFacts
    metadata_paths: tuple[str, ...] = METADATA_PATHS

    @property
    def ref(self) -> str:
        """``oci:<layout>:estargz``."""
        return f"oci:{self.layout}:{self.tag}"

    @property
    def gzip_ref(self) -> str:
        """``oci:<layout>:gzip``: the same image before conversion."""
        return f"oci:{self.layout}:{self.gzip_tag}"

    def file_sha256(self, *, metadata: bool = False) -> dict[str, str]:
        """Path -> hex sha256 of every regular file of the merged filesystem; the two eStargz
        metadata files only if ``metadata``."""
        return {
            fact.path: fact.sha256
            for fact in self.tree.files
            if metadata or fact.path not in self.metadata_paths
        }


def parse_footer(footer: bytes) -> int:
    """The TOC offset in an eStargz footer (the blob's last 51 bytes); ValueError if it is not
    one (estargz.go: an empty gzip member, FLG.FEXTRA, subfield ``SG`` of ``%016xSTARGZ``)."""
    if len(footer) != FOOTER_SIZE:
        raise ValueError(f"an eStargz footer is {FOOTER_SIZE} bytes, not {len(footer)}")
    if footer[:3] != b"\x1f\x8b\x08" or not footer[3] & 0x04:
        raise ValueError(f"footer is not a gzip member with FEXTRA: {footer[:4].hex()}")
    xlen = int.from_bytes(footer[10:12], "little")
    subfield, length = footer[12:14], int.from_bytes(footer[14:16], "little")
    payload = footer[16:38]
    if xlen != 26 or subfield != b"SG" or length != 22 or payload[16:] != b"STARGZ":
        raise ValueError(f"footer's extra field is not SG %016xSTARGZ: {footer[10:38]!r}")
    member = zlib.decompressobj(31)
    if member.decompress(footer) != b"" or not member.eof or member.unused_data:
        raise ValueError("footer is not one empty gzip member")
    return int(payload[:16], 16)


def read_toc(blob: Path) -> Toc:
    """Parse an eStargz blob's footer and TOC member (one gzip member, a tar of one file,
    ``stargz.index.json``, ending exactly where the footer starts)."""
    data = blob.read_bytes()
    offset = parse_footer(data[-FOOTER_SIZE:])
    end = len(data) - FOOTER_SIZE
    if not 0 <= offset < end:
        raise ValueError(f"{blob}: TOC offset {offset} is outside the blob (footer at {end})")
    member = zlib.decompressobj(31)
    tar_bytes = member.decompress(memoryview(data)[offset:end])
    if not member.eof or member.unused_data:
        raise ValueError(f"{blob}: the TOC at {offset} is not one gzip member up to the footer")
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
        members = tar.getmembers()
        if [m.name for m in members] != [TOC_NAME] or not members[0].isreg():
            raise ValueError(f"{blob}: TOC tar holds {[m.name for m in members]}, not {TOC_NAME}")
        stream = tar.extractfile(members[0])
        assert stream is not None
        raw = stream.read()
    value = json.loads(raw)
    return Toc(
        offset=offset,
        raw=raw,
        digest="sha256:" + hashlib.sha256(raw).hexdigest(),
        version=value["version"],
        entries=tuple(value["entries"]),
    )


def build_estargz(
    dest: Path, debian: DebianImage | None = None, chunk_size: int = CHUNK_SIZE
) -> EstargzImage:
    """Build the ``estargz`` image into ``dest`` (created; must not exist yet): ``dest/layout``
    holds tags ``estargz`` and ``gzip``, ``dest/unpacked/rootfs`` the reference unpack. Without
    ``debian``, the debian image is built first into ``dest/debian``."""
    dest.mkdir(parents=True)
    if debian is None:
        debian = build_debian(dest / "debian")
    work = dest / "work"
    work.mkdir()
    base = work / "base"
    run(["skopeo", "copy", "--quiet", debian.ref, f"oci:{base}:{debian.tag}"])
    if oci.manifest(base, debian.tag).digest != debian.manifest_digest:
        raise ToolFailedError(["skopeo", "copy", debian.ref], "the manifest changed in the copy")
    _add_big_file_layer(base, debian)

    layout = dest / "layout"
    run(["skopeo", "copy", "--quiet", f"oci:{base}:big", f"oci:{layout}:{GZIP_TAG}"])
    source = work / "source.tar"
    run(["skopeo", "copy", "--quiet", f"oci:{base}:big", f"oci-archive:{source}:big"])
    exported = work / "estargz.tar"
    with _containerd() as address:
        ctr = ["ctr-remote", "--address", address, "--namespace", _NAMESPACE, "images"]
        run([*ctr, "import", "--no-unpack", "--base-name", IMAGE_NAME, str(source)])
        printed = run(
            [
                *ctr,
                "convert",
                "--estargz",
                "--oci",
                "--estargz-chunk-size",
                str(chunk_size),
                f"{IMAGE_NAME}:big",
                f"{IMAGE_NAME}:{TAG}",
            ]
        )
        run([*ctr, "export", str(exported), f"{IMAGE_NAME}:{TAG}"])
    run(["skopeo", "copy", "--quiet", f"oci-archive:{exported}:{TAG}", f"oci:{layout}:{TAG}"])

    manifest = oci.manifest(layout, TAG)
    if printed.strip() != manifest.digest:
        raise ToolFailedError(["ctr-remote", "images", "convert"], f"printed {printed.strip()!r}")
    _check_blobs_kept(exported, layout, manifest.digest)
    layers = _layers(layout)
    unpacked = dest / "unpacked"
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:{TAG}", str(unpacked)])
    shutil.rmtree(work)
    rootfs = unpacked / "rootfs"
    tree = tree_facts(rootfs)
    _check_tree(tree, debian, layers[-1])
    big = tree.file(BIG_FILE)
    return EstargzImage(
        layout=layout,
        tag=TAG,
        gzip_tag=GZIP_TAG,
        manifest_digest=manifest.digest,
        config_digest=manifest.value["config"]["digest"],
        gzip_manifest_digest=oci.manifest(layout, GZIP_TAG).digest,
        chunk_size=chunk_size,
        layers=layers,
        most_chunked=max((layer.most_chunked for layer in layers), key=lambda pair: pair[1]),
        big_file=BIG_FILE,
        big_file_size=big.size,
        rootfs=rootfs,
        tree=tree,
    )


def _add_big_file_layer(base: Path, debian: DebianImage) -> None:
    tree = base.parent / "big"
    target = tree / BIG_FILE.lstrip("/")
    target.parent.mkdir(parents=True)
    with target.open("wb") as out:
        for part in BIG_FILE_PARTS:
            out.write((debian.rootfs / part.lstrip("/")).read_bytes())
    target.chmod(0o644)
    for directory in (target.parent, target.parent.parent):
        directory.chmod(0o755)
    add_tar_layer(base, debian.tag, "big", tree, f"cat {' '.join(BIG_FILE_PARTS)} > {BIG_FILE}")


@contextmanager
def _containerd() -> Iterator[str]:
    """A private containerd (root, state, socket and opt dir in a new temporary directory, the
    CRI plugin and the snapshotters other than ``native`` off); yields its socket; stops it
    (SIGTERM, SIGKILL after 10 s) and removes the directory."""
    if os.geteuid() != 0:
        raise ToolFailedError(["containerd"], "must run as root (it owns a content store)")
    home = Path(tempfile.mkdtemp(prefix="ociinspect-containerd-"))
    try:
        address = home / "containerd.sock"
        if len(str(address)) > _MAX_SOCKET_PATH:
            raise ToolFailedError(["containerd"], f"socket path too long: {address}")
        config = home / "config.toml"
        config.write_text(_config(home, address))
        log_path = home / "containerd.log"
        argv = ["containerd", "--config", str(config)]
        with log_path.open("wb") as log:
            try:
                process = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
                )
            except FileNotFoundError as error:
                raise ToolFailedError(argv, f"not installed ({error})") from error
            try:
                _wait_until_serving(process, address, log_path, argv)
                yield str(address)
            finally:
                process.terminate()
                try:
                    process.wait(_STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _config(home: Path, address: Path) -> str:
    disabled = [
        "io.containerd.grpc.v1.cri",
        "io.containerd.snapshotter.v1.aufs",
        "io.containerd.snapshotter.v1.btrfs",
        "io.containerd.snapshotter.v1.devmapper",
        "io.containerd.snapshotter.v1.overlayfs",
        "io.containerd.snapshotter.v1.zfs",
    ]
    return "\n".join(
        [
            "version = 2",
            f'root = "{home / "root"}"',
            f'state = "{home / "state"}"',
            f"disabled_plugins = {json.dumps(disabled)}",
            "[grpc]",
            f'  address = "{address}"',
            '[plugins."io.containerd.internal.v1.opt"]',  # default /opt/containerd
            f'  path = "{home / "opt"}"',
            "",
        ]
    )


def _wait_until_serving(
    process: subprocess.Popen[bytes], address: Path, log_path: Path, argv: list[str]
) -> None:
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")
            raise ToolFailedError(argv, f"exit {process.returncode}: {log}")
        if address.exists():
            with socket.socket(socket.AF_UNIX) as probe, suppress(OSError):
                probe.connect(str(address))
                return
        time.sleep(0.05)
    log = log_path.read_text(errors="replace")
    raise ToolFailedError(argv, f"not serving on {address} after {_START_SECONDS:.0f} s: {log}")


def _check_blobs_kept(archive: Path, layout: Path, manifest_digest: str) -> None:
    """The manifest, config and layer blobs skopeo wrote are the exported archive's bytes."""
    manifest = oci.read_document(oci.blob_path(layout, manifest_digest)).value
    wanted = [manifest_digest, manifest["config"]["digest"]]
    wanted += [layer["digest"] for layer in manifest["layers"]]
    exported: dict[str, str] = {}
    with tarfile.open(archive, mode="r:") as tar:
        for member in tar:
            if member.isreg() and member.name.startswith("blobs/sha256/"):
                stream = tar.extractfile(member)
                assert stream is not None
                exported["sha256:" + member.name.rsplit("/", 1)[1]] = _sha256_stream(stream)
    for digest in wanted:
        kept = sha256_file(oci.blob_path(layout, digest))
        if exported.get(digest) != kept:
            raise ToolFailedError(
                ["skopeo", "copy", f"oci-archive:{archive}"],
                f"blob {digest} is not the exported bytes (exported {exported.get(digest)}, "
                f"written sha256:{kept})",
            )


def _layers(layout: Path) -> tuple[EstargzLayer, ...]:
    manifest = oci.manifest(layout, TAG).value
    diff_ids = oci.config(layout, TAG).value["rootfs"]["diff_ids"]
    sources = oci.manifest(layout, GZIP_TAG).value["layers"]
    source_diff_ids = oci.config(layout, GZIP_TAG).value["rootfs"]["diff_ids"]
    if not len(manifest["layers"]) == len(diff_ids) == len(sources):
        raise ValueError(f"{layout}: {TAG} and {GZIP_TAG} differ in their number of layers")
    layers = []
    for index, descriptor in enumerate(manifest["layers"]):
        blob = oci.blob_path(layout, descriptor["digest"])
        annotations = descriptor.get("annotations", {})
        toc = read_toc(blob)
        if annotations.get(TOC_DIGEST_ANNOTATION) != toc.digest:
            raise ValueError(f"layer {index}: annotation {annotations} but TOC digest {toc.digest}")
        members = _members(blob)
        length, diff_id = members.pop()
        if diff_id != diff_ids[index]:
            raise ValueError(f"layer {index}: gunzipped sha256 {diff_id}, config {diff_ids[index]}")
        if str(length) != annotations.get(UNCOMPRESSED_SIZE_ANNOTATION):
            raise ValueError(f"layer {index}: gunzipped {length} bytes, annotations {annotations}")
        source_blob = oci.blob_path(layout, sources[index]["digest"])
        _check_same_members(index, _members(source_blob)[:-1], members, toc)
        layers.append(
            EstargzLayer(
                index=index,
                media_type=descriptor["mediaType"],
                digest=descriptor["digest"],
                size=descriptor["size"],
                annotations=tuple(sorted(annotations.items())),
                toc_digest=toc.digest,
                uncompressed_size=length,
                diff_id=diff_id,
                toc_offset=toc.offset,
                entries=len(members),
                most_chunked=toc.most_chunked(),
                source_digest=sources[index]["digest"],
                source_diff_id=source_diff_ids[index],
            )
        )
    return tuple(layers)


def _members(blob: Path) -> list[Any]:
    """The header fields and content sha256 of every tar member of a gzip blob, then (as the
    last item) the gunzipped length and its ``sha256:`` digest."""
    rows: list[Any] = []
    with gzip.open(blob, "rb") as gunzipped:
        reader = _HashingReader(gunzipped)
        with tarfile.open(fileobj=cast(IO[bytes], reader), mode="r|") as tar:
            for m in tar:
                content = None
                if m.isreg():
                    data = tar.extractfile(m)
                    assert data is not None
                    content = "sha256:" + _sha256_stream(data)
                rows.append(
                    (m.name, m.type, m.size, m.mode, m.linkname, m.uid, m.gid, m.uname, m.gname)
                    + (m.mtime, m.devmajor, m.devminor, content)
                )
        rows.append(reader.finish())
    return rows


def _check_same_members(index: int, source: list[Any], converted: list[Any], toc: Toc) -> None:
    """The converted tar is the source tar with the landmark first and the TOC last; the TOC's
    per-file digests are the tar's contents."""
    first, last = converted[0], converted[-1]
    if first[0] != NO_PREFETCH_LANDMARK or last[0] != TOC_NAME or last[-1] != toc.digest:
        raise ValueError(f"layer {index}: starts with {first[0]!r}, ends with {last[:3]!r}")
    middle = converted[1:-1]
    if middle != source:
        differ = [(a, b) for a, b in zip(source, middle, strict=False) if a != b][:3]
        raise ValueError(
            f"layer {index}: eStargz tar differs from its source ({len(source)} members, "
            f"{len(middle)} after conversion), e.g. {differ}"
        )
    regular = {row[0]: row[-1] for row in converted[:-1] if row[-1] is not None}
    in_toc = {e["name"]: e.get("digest") for e in toc.entries if e["type"] == "reg"}
    if regular != in_toc:
        raise ValueError(f"layer {index}: the TOC's regular files or digests are not the tar's")


def _check_tree(tree: TreeFacts, debian: DebianImage, top: EstargzLayer) -> None:
    """umoci's unpack of the eStargz image = debian's + the big file + the metadata files."""
    files = {fact.path: (fact.size, fact.sha256, fact.mode) for fact in tree.files}
    expected = {fact.path: (fact.size, fact.sha256, fact.mode) for fact in debian.tree.files}
    big = files.get(BIG_FILE)
    toc = files.get("/" + TOC_NAME)
    landmark = files.get("/" + NO_PREFETCH_LANDMARK)
    rest = {path: row for path, row in files.items() if path not in (BIG_FILE, *METADATA_PATHS)}
    problems = []
    if rest != expected:
        problems.append(f"files {sorted(set(rest) ^ set(expected))[:5]} or their bytes differ")
    if big is None or big[2] != 0o644:
        problems.append(f"{BIG_FILE}: {big}")
    if toc is None or "sha256:" + toc[1] != top.toc_digest:
        problems.append(f"/{TOC_NAME} is not the top layer's TOC: {toc}")
    if landmark is None or landmark[1] != hashlib.sha256(b"\x0f").hexdigest():
        problems.append(f"/{NO_PREFETCH_LANDMARK}: {landmark}")
    if tree.symlinks != debian.tree.symlinks or tree.hardlink_groups != debian.tree.hardlink_groups:
        problems.append("symlinks or hardlinks differ")
    added = set(tree.directories) - set(debian.tree.directories)
    parents = {str(parent) for parent in Path(BIG_FILE).parents} - {"/"}
    if added != parents - set(debian.tree.directories) or not added <= parents:
        problems.append(f"directories differ: {sorted(added)}")
    if problems:
        raise ValueError("umoci unpack of the eStargz image: " + "; ".join(problems))


def _sha256_stream(stream: Any) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


class _HashingReader:
    """A gunzipping reader of a blob that hashes and counts the bytes it hands out."""

    def __init__(self, stream: gzip.GzipFile) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()
        self.uncompressed = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._digest.update(data)
        self.uncompressed += len(data)
        return data

    def finish(self) -> tuple[int, str]:
        """Read what the tar reader left (its end-of-archive blocks); length and digest."""
        while self.read(1 << 20):
            pass
        return self.uncompressed, "sha256:" + self._digest.hexdigest()
