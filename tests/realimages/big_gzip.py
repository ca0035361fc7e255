"""``big_gzip``: one umoci gzip layer of about 100 MiB that does not compress.

300 files ``/data/bNNN.bin`` of 340 to 344 KiB each, bytes from ``random.Random(seed).randbytes``
(so gzip cannot shrink them: compressed size ~ uncompressed size), plus small text files that
umoci's lexical walk puts at the start (``/data/a-start.txt``), in the middle
(``/data/b150-middle.txt``, just before ``b150.bin``) and at the end (``/data/z-end.txt``, then
``/etc/hostname``: ``data`` sorts before ``etc``) of the tar. Reading one small file after the
layer has been read once must cost a few blocks, not the ~100 MiB of the layer: the test for
seekable reads. Built only when asked (about 2 s and 200 MiB of disk while building).
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import layout as oci
from ._tools import CREATED, TAR_MTIME, gunzip_size, run
from .facts import layer_members

TAG = "v1"
SEED = 20240601
BINARIES = 300
BINARY_SIZE = 340 * 1024
TEXTS = {
    "/etc/hostname": b"big-gzip\n",
    "/data/a-start.txt": b"first small text file, near the start of the layer\n",
    "/data/b150-middle.txt": b"second small text file, in the middle of the layer\n",
    "/data/z-end.txt": b"third small text file, at the very end of the layer\n",
}


@dataclass(frozen=True)
class TextFile:
    """A small text file of the layer, where its bytes start in the uncompressed tar."""

    path: str
    content: bytes
    tar_offset: int


@dataclass(frozen=True)
class BigGzipImage:
    """The built ``big_gzip`` image (see the module docstring)."""

    layout: Path
    tag: str
    manifest_digest: str
    layer_digest: str
    layer_size: int
    diff_id: str
    entries: int
    uncompressed_size: int
    texts: tuple[TextFile, ...]
    binaries: int
    seed: int

    @property
    def ref(self) -> str:
        """``oci:<layout>:v1``."""
        return f"oci:{self.layout}:{self.tag}"

    def text(self, path: str) -> TextFile:
        """The text file at ``path``; LookupError if it is not one of TEXTS."""
        for text in self.texts:
            if text.path == path:
                return text
        raise LookupError(f"{path!r} is not one of the text files {list(TEXTS)}")


def binary_size(n: int) -> int:
    """The size of ``/data/b{n:03d}.bin``."""
    return BINARY_SIZE + (n * 97) % 4096


def binary_content(seed: int = SEED) -> list[bytes]:
    """The bytes of every ``/data/bNNN.bin``, in order (about 100 MiB in memory)."""
    generator = random.Random(seed)
    return [generator.randbytes(binary_size(n)) for n in range(BINARIES)]


def build_big_gzip(dest: Path, seed: int = SEED) -> BigGzipImage:
    """Build the image into ``dest`` (created; must not exist yet)."""
    dest.mkdir(parents=True)
    layout, work = dest / "layout", dest / "work"
    run(["umoci", "init", "--layout", str(layout)])
    run(["umoci", "new", "--image", f"{layout}:empty"])
    bundle = work / "bundle"
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:empty", str(bundle)])
    rootfs = bundle / "rootfs"
    (rootfs / "data").mkdir()
    (rootfs / "etc").mkdir()
    generator = random.Random(seed)
    for n in range(BINARIES):
        (rootfs / f"data/b{n:03d}.bin").write_bytes(generator.randbytes(binary_size(n)))
    for path, content in TEXTS.items():
        (rootfs / path.lstrip("/")).write_bytes(content)
    for entry in [*sorted(rootfs.rglob("*"), reverse=True), rootfs]:
        entry.chmod(0o755 if entry.is_dir() else 0o644)
        os.utime(entry, (TAR_MTIME, TAR_MTIME))
    run(
        [
            "umoci",
            "repack",
            "--image",
            f"{layout}:{TAG}",
            "--history.created",
            CREATED,
            "--history.created_by",
            f"python3: {BINARIES} random files (seed {seed}), 4 text files",
            str(bundle),
        ]
    )
    # the config's "created" is the clock's time of umoci new; fix it so digests repeat
    run(["umoci", "config", "--image", f"{layout}:{TAG}", "--created", CREATED, "--no-history"])
    run(["umoci", "rm", "--image", f"{layout}:empty"])
    run(["umoci", "gc", "--layout", str(layout)])
    shutil.rmtree(work)

    manifest = oci.manifest(layout, TAG)
    (layer,) = manifest.value["layers"]
    members = layer_members(layout, layer["digest"], layer["mediaType"])
    offsets = {"/" + m.name: m.offset_data for m in members if m.isreg()}
    return BigGzipImage(
        layout=layout,
        tag=TAG,
        manifest_digest=manifest.digest,
        layer_digest=layer["digest"],
        layer_size=layer["size"],
        diff_id=oci.config(layout, TAG).value["rootfs"]["diff_ids"][0],
        entries=len(members),
        uncompressed_size=gunzip_size(oci.blob_path(layout, layer["digest"])),
        texts=tuple(TextFile(path, content, offsets[path]) for path, content in TEXTS.items()),
        binaries=BINARIES,
        seed=seed,
    )
