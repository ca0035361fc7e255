"""``many_files``: one umoci layer of 15,483 tar entries, and skopeo's conversions of it.

The layer holds ``/tree/dDD/sS/fFF.txt`` for 30 x 10 x 50 = 15,000 regular files (sizes 0 to
~1.5 KiB, content from :func:`expected_content`), 333 directories (the root, ``/tree``,
``/links`` and the 330 below ``/tree``), and ``/links/lNNN.txt``:
150 hardlinks, one to every 100th file. umoci walks in lexical order, so ``links/`` comes first
and its names carry the data; the ``tree/`` names of those inodes are stored as tar hardlinks.

Variants (each its own OCI layout, tag ``v1``), all from the gzip one:

- ``gzip``: umoci repack, ``application/vnd.oci.image.layer.v1.tar+gzip``;
- ``zstd``: ``skopeo copy --dest-compress-format zstd``;
- ``zstd:chunked``: ``skopeo copy --dest-compress-format zstd:chunked``; skopeo 1.9.3 writes the
  layer annotations ``io.containers.zstd-chunked.manifest-checksum`` and
  ``io.containers.zstd-chunked.manifest-position`` (``offset:length:uncompressed length:type``),
  the older keys: newer containers/storage writes ``io.github.containers.zstd-chunked.*`` and a
  ``tarsplit-position`` too. The checksum is the sha256 of the compressed table of contents (a
  zstd frame, wrapped in a skippable frame, at that position); the blob ends with a footer whose
  last 8 bytes are ``GnUlInUx``. Decompressed, the tar stream is unchanged (same diff_id, same
  config);
- ``v2s2``: ``skopeo copy --format v2s2``: a Docker schema 2 manifest (and config and layer
  media types) stored in an OCI layout's index.json;
- plus ``docker-archive.tar``: ``skopeo copy`` to ``docker-archive:`` (uncompressed layers,
  ``manifest.json`` with ``RepoTags`` ``docker.io/example/many-files:v1``).

This is the browser's "15,000 files" image and the compression-format matrix.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import layout as oci
from ._tools import CREATED, TAR_MTIME, gunzip_size, run
from .facts import layer_members

TAG = "v1"
DIRECTORIES, SUBDIRECTORIES, FILES = 30, 10, 50
LINK_EVERY = 100
DOCKER_ARCHIVE_REF = "example/many-files:v1"
VARIANTS = ("gzip", "zstd", "zstd:chunked", "v2s2")

_SKOPEO_ARGS = {
    "zstd": ["--dest-compress-format", "zstd"],
    "zstd:chunked": ["--dest-compress-format", "zstd:chunked"],
    "v2s2": ["--format", "v2s2"],
}


@dataclass(frozen=True)
class Variant:
    """One stored form of the image: where it is and what its manifest says."""

    name: str
    layout: Path
    tag: str
    made_by: str
    manifest_media_type: str
    manifest_digest: str
    config_digest: str
    layer_media_type: str
    layer_digest: str
    layer_size: int
    layer_annotations: tuple[tuple[str, str], ...]

    @property
    def ref(self) -> str:
        """``oci:<layout>:v1``."""
        return f"oci:{self.layout}:{self.tag}"


@dataclass(frozen=True)
class ManyFilesImage:
    """The built ``many_files`` image (see the module docstring). Counts are of the layer's tar:
    ``entries`` = ``directories`` + ``regular_files`` + ``len(hardlinks)``."""

    variants: tuple[Variant, ...]
    docker_archive: Path
    docker_archive_ref: str
    diff_id: str
    uncompressed_size: int
    entries: int
    directories: int
    regular_files: int
    hardlinks: tuple[tuple[str, str], ...]
    names: int

    def variant(self, name: str) -> Variant:
        """The variant called ``name`` (one of VARIANTS)."""
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise LookupError(f"no variant {name!r}; there are {VARIANTS}")


def file_path(d: int, s: int, f: int) -> str:
    """The absolute path of file ``f`` in subdirectory ``s`` of directory ``d``."""
    return f"/tree/d{d:02d}/s{s}/f{f:02d}.txt"


def expected_content(path: str) -> bytes:
    """The bytes of ``/tree/dDD/sS/fFF.txt`` (or of its ``/links/`` name): empty for every 97th
    file, else a line naming the file repeated 0 to 39 times plus a counter line."""
    if path.startswith("/links/"):
        number = int(path[len("/links/l") : -len(".txt")]) * LINK_EVERY
        d, rest = divmod(number, SUBDIRECTORIES * FILES)
        s, f = divmod(rest, FILES)
        path = file_path(d, s, f)
    parts = path.split("/")
    d, s, f = int(parts[2][1:]), int(parts[3][1:]), int(parts[4][1:3])
    number = (d * SUBDIRECTORIES + s) * FILES + f
    if number % 97 == 0:
        return b""
    line = f"{path} file {number}\n".encode()
    return line * ((d * s + f) % 40) + f"#{number:05d}\n".encode()


def link_path(n: int) -> str:
    """The absolute path of hardlink ``n`` (to file number ``n * 100``)."""
    return f"/links/l{n:03d}.txt"


def build_many_files(dest: Path) -> ManyFilesImage:
    """Build every variant into ``dest`` (created; must not exist yet)."""
    dest.mkdir(parents=True)
    gzip_layout = dest / "gzip"
    work = dest / "work"
    run(["umoci", "init", "--layout", str(gzip_layout)])
    run(["umoci", "new", "--image", f"{gzip_layout}:empty"])
    bundle = work / "bundle"
    run(["umoci", "unpack", "--rootless", "--image", f"{gzip_layout}:empty", str(bundle)])
    _write_tree(bundle / "rootfs")
    run(
        [
            "umoci",
            "repack",
            "--image",
            f"{gzip_layout}:{TAG}",
            "--history.created",
            CREATED,
            "--history.created_by",
            "python3: 15,000 files in /tree, 150 hardlinks in /links",
            str(bundle),
        ]
    )
    # the config's "created" is the clock's time of umoci new; fix it so digests repeat
    run(
        ["umoci", "config", "--image", f"{gzip_layout}:{TAG}", "--created", CREATED, "--no-history"]
    )
    run(["umoci", "rm", "--image", f"{gzip_layout}:empty"])
    run(["umoci", "gc", "--layout", str(gzip_layout)])
    shutil.rmtree(work)

    variants = [_variant("gzip", gzip_layout, "umoci repack")]
    source = f"oci:{gzip_layout}:{TAG}"
    for name, args in _SKOPEO_ARGS.items():
        target = dest / name.replace(":", "-")
        command = ["skopeo", "copy", "--quiet", *args, source, f"oci:{target}:{TAG}"]
        run(command)
        variants.append(_variant(name, target, " ".join(command[:-2])))
    archive = dest / "docker-archive.tar"
    run(["skopeo", "copy", "--quiet", source, f"docker-archive:{archive}:{DOCKER_ARCHIVE_REF}"])

    first = variants[0]
    members = layer_members(gzip_layout, first.layer_digest, first.layer_media_type)
    hardlinks = tuple((m.name, m.linkname) for m in members if m.islnk())
    directories = sum(1 for m in members if m.isdir())
    regular = sum(1 for m in members if m.isreg())
    config = oci.config(gzip_layout, TAG).value
    return ManyFilesImage(
        variants=tuple(variants),
        docker_archive=archive,
        docker_archive_ref=DOCKER_ARCHIVE_REF,
        diff_id=config["rootfs"]["diff_ids"][0],
        uncompressed_size=gunzip_size(oci.blob_path(gzip_layout, first.layer_digest)),
        entries=len(members),
        directories=directories,
        regular_files=regular,
        hardlinks=hardlinks,
        names=regular + len(hardlinks),
    )


def _write_tree(rootfs: Path) -> None:
    paths: list[Path] = []
    for d in range(DIRECTORIES):
        for s in range(SUBDIRECTORIES):
            directory = rootfs / f"tree/d{d:02d}/s{s}"
            directory.mkdir(parents=True)
            for f in range(FILES):
                path = rootfs / file_path(d, s, f).lstrip("/")
                path.write_bytes(expected_content(file_path(d, s, f)))
                paths.append(path)
    links = rootfs / "links"
    links.mkdir()
    for n in range(len(paths) // LINK_EVERY):
        os.link(paths[n * LINK_EVERY], rootfs / link_path(n).lstrip("/"))
    for path in [*sorted(rootfs.rglob("*"), reverse=True), rootfs]:
        os.utime(path, (TAR_MTIME, TAR_MTIME), follow_symlinks=False)


def _variant(name: str, layout: Path, made_by: str) -> Variant:
    entry = oci.index_entry(layout, TAG)
    manifest = oci.manifest(layout, TAG)
    (layer,) = manifest.value["layers"]
    return Variant(
        name=name,
        layout=layout,
        tag=TAG,
        made_by=made_by,
        manifest_media_type=entry["mediaType"],
        manifest_digest=manifest.digest,
        config_digest=manifest.value["config"]["digest"],
        layer_media_type=layer["mediaType"],
        layer_digest=layer["digest"],
        layer_size=layer["size"],
        layer_annotations=tuple(sorted(layer.get("annotations", {}).items())),
    )
