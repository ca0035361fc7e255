"""Read any file of an image without pulling it, and know what the image runs.

::

    import ociinspect as oi

    oi.read_file("debian:bookworm", "/etc/os-release")      # bytes, as a container sees them
    with oi.open_file(ref, "/usr/bin/bash") as f: ...       # a verified binary file object
    oi.os_release(ref)                                       # one row: id, version_id, ...
    oi.packages(ref)                                         # one row per installed package

Paths resolve as in a container started from the image (whiteouts, opaque directories,
hardlinks, symlinks kept inside the root): see :mod:`ociinspect.layers.reader`, which also says
what is verified when. Reading stops at the first layer that decides the path; a layer read once
leaves an index in the disk cache, so later reads of any path in it fetch only the compressed
span they need (a Range request, or a read in place of a local blob). zstd:chunked layers are
read through their table of contents from the first read on.

``max_size`` (default: the session's ``max_read_bytes``, 64 MiB, ``OCIINSPECT_MAX_READ_BYTES``)
refuses a larger file with :class:`~ociinspect.errors.SizeLimitError` before any of its bytes
is read; :func:`open_file` has no limit unless one is given.

:func:`packages` reads every package database :data:`ociinspect.packages.DATABASES` names
(dpkg ``status`` and distroless ``status.d``, apk ``installed``, rpm's SQLite ``rpmdb.sqlite``,
Python ``*.dist-info/METADATA``); the ``layer`` of a package is the lowest layer from which on
every layer's copy of its database lists it at its final version (for one-file-per-package
databases, the layer of that file). An rpm Berkeley DB or NDB database raises
:class:`~ociinspect.packages.UnreadableDatabaseError` (nothing partial is returned).
"""

from __future__ import annotations

from typing import BinaryIO

from .errors import ImagePathNotFoundError, NotAFileError
from .layers.reader import Found, ImageReader
from .navigation import Image, ImageIndex
from .navigation import image as _choose_image
from .navigation import open as _open_ref
from .packages import DATABASES, OS_RELEASE_PATHS, Database, Package, parse_os_release
from .packages import dpkg as _dpkg
from .session import Session, session_of
from .tables import Table
from .tables.packages import os_release_frame, packages_frame
from .values.platforms import Platform

__all__ = ["open_file", "os_release", "packages", "read_file"]

Ref = str | Image | ImageIndex
#: Bytes of one package database read at most (a full desktop's dpkg status is ~3 MiB; an
#: rpmdb.sqlite of a large image ~100 MiB).
MAX_DATABASE_BYTES = 256 * 1024 * 1024


def _image(ref: Ref, platform: Platform | str | None, session: Session | None) -> Image:
    found = ref if isinstance(ref, (Image, ImageIndex)) else _open_ref(ref, session=session)
    return _choose_image(found, platform)


def read_file(
    ref: Ref,
    path: str,
    platform: Platform | str | None = None,
    *,
    session: Session | None = None,
    max_size: int | None = None,
) -> bytes:
    """The bytes of ``path`` in the image ``ref`` names (for an index, ``platform``'s image).

    Raises :class:`~ociinspect.errors.ImagePathNotFoundError`,
    :class:`~ociinspect.errors.NotAFileError` (a directory, device, FIFO),
    :class:`~ociinspect.errors.SymlinkLoopError`, and
    :class:`~ociinspect.errors.SizeLimitError` over ``max_size`` (see the module doc)."""
    img = _image(ref, platform, session)
    limit = max_size if max_size is not None else session_of(session).settings.max_read_bytes
    with ImageReader(img) as reader:
        return reader.read(path, limit)


def open_file(
    ref: Ref,
    path: str,
    platform: Platform | str | None = None,
    *,
    session: Session | None = None,
    max_size: int | None = None,
) -> BinaryIO:
    """``path`` as a binary file object (close it; ``with`` works). Its bytes are checked
    before it is returned: a layer streamed for it matched its digest and diff_id, or a span
    read matched the sha256 the layer's verified index (or zstd:chunked TOC) records; else the
    call fails. Held in memory up to 8 MiB, beyond that in a temporary file."""
    img = _image(ref, platform, session)
    with ImageReader(img) as reader:
        return reader.open(path, max_size)


def os_release(
    ref: Ref, platform: Platform | str | None = None, *, session: Session | None = None
) -> Table:
    """The image's os-release(5) as one row (``id``, ``version_id``, ``pretty_name``, ...).

    ``/etc/os-release`` first, then ``/usr/lib/os-release`` (os-release(5)); when neither is
    there (a scratch image, some distroless ones), the row is empty but for ``note``, which
    says so: nothing is guessed. ``attrs["fields"]`` holds every key the file set."""
    img = _image(ref, platform, session)
    with ImageReader(img) as reader:
        for path in OS_RELEASE_PATHS:
            try:
                key, found = reader.resolve(path, 64 * 1024)
                data = reader.open_found(key, found, 64 * 1024).read()
            except (ImagePathNotFoundError, NotAFileError):
                continue
            parsed = parse_os_release(data, where=path)
            out = os_release_frame(parsed, path, reader.data_member(key, found)[0], None)
            out.attrs["fields"] = dict(parsed.fields)
            return out
    note = (
        f"no os-release: neither {' nor '.join(OS_RELEASE_PATHS)} is a file in this image "
        "(a scratch or distroless image without one): the OS is not known"
    )
    out = os_release_frame(None, None, None, note)
    out.attrs["fields"] = {}
    return out


def packages(
    ref: Ref, platform: Platform | str | None = None, *, session: Session | None = None
) -> Table:
    """One row per installed package of every package database in the image (columns in
    :mod:`ociinspect.tables.packages`); dpkg packages marked ``not-installed`` are left out,
    as ``dpkg-query -W`` does."""
    img = _image(ref, platform, session)
    rows: list[tuple[Package, int | None, str | None, str]] = []
    with ImageReader(img) as reader:
        wanted = {p.lstrip("/") for db in DATABASES if db.lookup == "file" for p in db.paths}
        prefixes = tuple(p.lstrip("/") for db in DATABASES if db.lookup == "select"
                         for p in db.paths)  # fmt: skip
        reader.also_capture = lambda m: m.type == "file" and (
            m.key in wanted or (m.key.startswith(prefixes) and m.size <= MAX_DATABASE_BYTES)
        )
        for layer in range(len(img.layers) - 1, -1, -1):
            reader.index(layer)
        for database in DATABASES:
            if database.lookup == "file":
                rows += _file_database(reader, database)
            else:
                rows += _selected_database(reader, database)
    return packages_frame(rows)


def _keep(package: Package) -> bool:
    if package.manager != "dpkg":
        return True
    status = package.extra.get("status")
    return status is None or status.split()[-1] != "not-installed"


def _layer_digest(reader: ImageReader, layer: int | None) -> str | None:
    return None if layer is None else str(reader.layers[layer].digest)


def _file_database(
    reader: ImageReader, database: Database
) -> list[tuple[Package, int | None, str | None, str]]:
    """A one-file database: the merged copy gives the packages; each layer's own copy says
    which layer brought each package at its final version."""
    for path in database.paths:
        try:
            key, found = reader.resolve(path, MAX_DATABASE_BYTES)
            data = reader.open_found(key, found, MAX_DATABASE_BYTES).read()
        except (ImagePathNotFoundError, NotAFileError):
            continue
        final = [p for p in database.parse(data, path) if _keep(p)]
        versions: list[tuple[int, set[tuple[str, str, str | None]]]] = []
        for layer in range(found.layer + 1):
            entry = reader.index(layer).entry(key)
            if entry is None or entry[1].type not in ("file", "hardlink"):
                continue
            if layer == found.layer:
                listed = final
            else:
                own = reader.open_found(key, Found(layer, entry[0], entry[1]), MAX_DATABASE_BYTES)
                with own:
                    listed = [p for p in database.parse(own.read(), path) if _keep(p)]
            versions.append((layer, {(p.name, p.version, p.architecture) for p in listed}))
        rows: list[tuple[Package, int | None, str | None, str]] = []
        for package in final:
            ident = (package.name, package.version, package.architecture)
            layer = found.layer
            for seen_in, listed_there in reversed(versions):
                if ident not in listed_there:
                    break
                layer = seen_in
            rows.append((package, layer, _layer_digest(reader, layer), path))
        return rows
    return []


def _selected_database(
    reader: ImageReader, database: Database
) -> list[tuple[Package, int | None, str | None, str]]:
    """A database of one file per package (distroless status.d, Python metadata): every file
    of the merged filesystem its ``select`` picks, each from the layer that holds it."""
    assert database.select is not None
    roots = tuple(p.lstrip("/") for p in database.paths)
    candidates: set[str] = set()
    for layer in range(len(reader.layers)):
        for member in reader.index(layer).members:
            if member.whiteout is None and member.key.startswith(roots):
                candidates.add("/" + member.key)
    rows: list[tuple[Package, int | None, str | None, str]] = []
    for path in database.select(sorted(candidates)):
        try:
            key, found = reader.resolve(path, MAX_DATABASE_BYTES)
            data = reader.open_found(key, found, MAX_DATABASE_BYTES).read()
        except (ImagePathNotFoundError, NotAFileError):
            continue  # deleted by a later layer, or not a file: not installed
        for package in database.parse(data, path):
            if package.manager == "dpkg" and not _dpkg.is_installed(package) and not _keep(
                package
            ):
                continue
            rows.append((package, found.layer, _layer_digest(reader, found.layer), path))
    return rows
