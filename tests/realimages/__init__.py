"""Container images built with real tools, at real sizes, as OCI image layouts on disk.

Importable as ``realimages`` (tests/ is on sys.path, like ``rig``). Tools: Debian's ``umoci``
0.4.7 and ``skopeo`` 1.9.3 (installed by .ci/run), ``dpkg-deb`` and GNU ``tar``; inputs: the real
bookworm .debs in tests/data/debs (see its SOURCES.md). No network. Each builder takes a
directory that does not exist yet and returns a frozen dataclass of facts; :class:`RealImages`
builds each image at most once per instance (one instance per pytest session). Builds are
reproducible: the same inputs give the same digests (fixed times in configs, history and tar
headers; umoci's gzip and skopeo's zstd are deterministic).

``debian`` (:mod:`.debian`, 3 s of CPU) -- three layers, the real cases of a merged filesystem:

- layer 0, ``umoci repack`` of ``dpkg-deb -x`` of 11 .debs (base-files, bash, dash, debianutils,
  grep, hostname, libc-bin, ncurses-base, perl-base, sed, zlib1g) plus the ``/var/lib/dpkg``
  that dpkg would have written (``status`` with ``Status: install ok installed`` and
  ``Conffiles``, ``info/*.list``, ``info/*.md5sums``): an OS table (``/etc/os-release`` is
  base-files' relative symlink to ``../usr/lib/os-release``) and a package table (epoch, binNMU
  with ``Source: bash (5.2.15-2)``, ``Multi-Arch: same``, ``Architecture: all``). perl-base's
  ``/usr/bin/perl`` is stored with the data, ``/usr/bin/perl5.36.0`` as a tar hardlink to it;
- layer 1, GNU tar: whiteout of ``/usr/bin/perl`` (the data-carrying name: the surviving
  ``perl5.36.0`` must be read from the deleted name's entry in layer 0), a modified file, a
  mode-only change, an added hardlink pair;
- layer 2, GNU tar: an opaque directory (``.wh..wh..opq``), absolute, relative and looping
  symlinks, a file turned into a directory without a whiteout.

Facts: per-layer changes, the reference tree from ``umoci unpack --rootless`` (every regular
file's sha256, symlink targets, hardlink groups, bytes counted per inode and per name),
``dpkg-query -W`` output, os-release. Tags ``layer0``, ``layer1``, ``bookworm`` (= all three).

``many_files`` (:mod:`.many_files`, 11 s of CPU, 4.6 of them skopeo's zstd:chunked) -- one umoci
layer of 15,483 entries (15,000 files, 333 directories, 150 hardlinks), as gzip, zstd,
zstd:chunked (skopeo 1.9's ``io.containers.zstd-chunked.*`` annotations), Docker v2s2 in an OCI
layout, and a docker-archive tarball: the image browser at scale, and every compression and
format a reader meets.

``big_gzip`` (:mod:`.big_gzip`, 2 s of CPU, built only when asked) -- one ~100 MiB gzip layer of
random bytes with small text files at its start, middle and end: reading a second file must
transfer a small part of the layer.

``rpm`` (:mod:`.rpm`, 0.3 s, 0.5 s of CPU) -- packages installed by Debian 12's real ``rpm`` 4.18
into a tree laid out like current Fedora: ``rpmbuild`` of the specs in
tests/data/packages/rpm/SPECS, ``rpm --initdb`` (SQLite) and a real ``rpm -i`` (the packages'
files are in the image) with the database at ``/usr/lib/sysimage/rpm/rpmdb.sqlite``,
``/var/lib/rpm`` a symlink to it, and Fedora 42's os-release. Layer 0 installs hello-tiny and
libdemo, layer 1 libdemo-devel (and a whole new copy of the database). Tags ``rpm-layer0``,
``rpm``, and ``rpm-bdb``: the same packages with only a Berkeley DB ``/var/lib/rpm/Packages``.
Facts: ``rpm -qa`` of the unpacked final tag, the layer of each package, rpm's file digests.
Needs ``rpm`` (tests/run.sh installs it).

``estargz`` (:mod:`.estargz`, 5 s wall clock after ``debian``, 3 of them ctr-remote's) -- the
debian image plus a layer holding one 6,057,088-byte file (``/opt/estargz/big.bin``: the debian
image's three biggest files end to end), converted by stargz-snapshotter's ``ctr-remote images
convert --estargz --oci --estargz-chunk-size 65536`` in a private containerd (started and
stopped by the build; needs root): four eStargz layers with their
``containerd.io/snapshot/stargz/toc.digest`` and ``io.containers.estargz.uncompressed-size``
annotations, files of up to 93 chunks. Tags ``estargz`` and ``gzip`` (the image before
conversion). Each layer's tar gains ``.no.prefetch.landmark`` and ``stargz.index.json``, which a
plain unpacker shows at the root; otherwise the files are the debian image's. Facts: per-layer
TOC digest and offset (parsed by :func:`.estargz.read_toc`, not by ociinspect), diff_ids,
``umoci unpack`` of the result.

``tampered`` (:mod:`.tampered`) -- copies of a layout broken in one place: a wrong diff_id in a
re-hashed config, a truncated layer blob, a wrong layer size in a re-hashed manifest.

Suggested fixtures (tests/conftest.py)::

    @pytest.fixture(scope="session")
    def real_images(tmp_path_factory) -> RealImages:
        return RealImages(tmp_path_factory.mktemp("realimages"))

    @pytest.fixture(scope="session")
    def debian_image(real_images) -> DebianImage:
        return real_images.debian()
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from . import tampered
from ._tools import ToolFailedError
from .big_gzip import BigGzipImage, TextFile, build_big_gzip
from .debian import DebianImage, build_debian
from .estargz import EstargzImage, EstargzLayer, build_estargz
from .facts import Change, FileFact, LayerFacts, TreeFacts, tree_facts
from .many_files import ManyFilesImage, Variant, build_many_files
from .rpm import RpmImage, build_rpm
from .tampered import Tampered, truncated_layer, wrong_diff_id, wrong_layer_size

__all__ = [
    "BigGzipImage",
    "Change",
    "DebianImage",
    "EstargzImage",
    "EstargzLayer",
    "FileFact",
    "LayerFacts",
    "ManyFilesImage",
    "RealImages",
    "RpmImage",
    "Tampered",
    "TextFile",
    "ToolFailedError",
    "TreeFacts",
    "Variant",
    "build_big_gzip",
    "build_debian",
    "build_estargz",
    "build_many_files",
    "build_rpm",
    "tampered",
    "tree_facts",
    "truncated_layer",
    "wrong_diff_id",
    "wrong_layer_size",
]

_T = TypeVar("_T")


class RealImages:
    """Builds each image once, on first use, under ``root`` (a session temp directory), and
    makes tampered copies of the debian image on demand (each kind and layer once)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def debian(self) -> DebianImage:
        """The ``debian`` image (:func:`build_debian`)."""
        return self._once("debian", build_debian)

    def estargz(self) -> EstargzImage:
        """The ``estargz`` image (:func:`build_estargz`), converted from this instance's
        debian image plus a one-big-file layer."""
        image = self.debian()
        return self._once("estargz", lambda dest: build_estargz(dest, debian=image))

    def many_files(self) -> ManyFilesImage:
        """The ``many_files`` image and its variants (:func:`build_many_files`)."""
        return self._once("many_files", build_many_files)

    def big_gzip(self) -> BigGzipImage:
        """The ``big_gzip`` image (:func:`build_big_gzip`); ~100 MiB, so only when asked."""
        return self._once("big_gzip", build_big_gzip)

    def rpm(self) -> RpmImage:
        """The ``rpm`` image and its ``rpm-bdb`` sibling (:func:`build_rpm`)."""
        return self._once("rpm", build_rpm)

    def tampered(self, kind: str, layer: int = 0) -> Tampered:
        """A broken copy of the debian image's final tag: ``kind`` is ``diff_id``,
        ``truncated`` or ``size`` (see :mod:`.tampered`)."""
        makers = {"diff_id": wrong_diff_id, "truncated": truncated_layer, "size": wrong_layer_size}
        if kind not in makers:
            raise ValueError(f"tampered kind {kind!r} is not one of {sorted(makers)}")
        image = self.debian()
        make = makers[kind]
        return self._once(
            f"tampered-{kind}-{layer}",
            lambda dest: make(image.layout, dest, image.tag, layer),
        )

    def _once(self, name: str, build: Callable[[Path], _T]) -> _T:
        with self._lock:
            if name not in self._built:
                dest = self.root / name
                try:
                    self._built[name] = build(dest)
                except BaseException:
                    shutil.rmtree(dest, ignore_errors=True)  # a later call rebuilds from scratch
                    raise
            result: _T = self._built[name]
            return result
