"""What an image runs: its operating system and the packages its package managers installed.

Pure parsers, bytes in and frozen records out; nothing here reads an image. A reader finds
the files below in an image's merged filesystem (paths are absolute here; layer tar entries
have no leading ``/``; follow symlinks within the image), reads them, and passes the bytes in.

Which files each manager keeps, in lookup order (:data:`DATABASES`):

======== ============================ ======================================== ===============
manager  database                     paths (in lookup order)                  parser
======== ============================ ======================================== ===============
(OS)     os-release(5)                /etc/os-release, /usr/lib/os-release     parse_os_release
dpkg     status file                  /var/lib/dpkg/status                     parse_status
dpkg     distroless status.d          /var/lib/dpkg/status.d/<name>, every     parse_status_d
                                      file but ``*.md5sums`` and the like
                                      (:func:`~.dpkg.status_d_files`)
apk      installed database           /lib/apk/db/installed,                   parse_installed
                                      /usr/lib/apk/db/installed
rpm      SQLite rpmdb                 /usr/lib/sysimage/rpm/rpmdb.sqlite,      parse_rpmdb
                                      /var/lib/rpm/rpmdb.sqlite
rpm      NDB (SUSE) -- refused        /usr/lib/sysimage/rpm/Packages.db,       parse_rpmdb
                                      /var/lib/rpm/Packages.db                 (raises)
rpm      Berkeley DB -- refused       /var/lib/rpm/Packages,                   parse_rpmdb
                                      /usr/lib/sysimage/rpm/Packages           (raises)
python   installed distributions      */site-packages/*.dist-info/METADATA,    parse_metadata
                                      *.egg-info/PKG-INFO, ``*.egg-info`` files
                                      (:func:`~.python_dist.metadata_paths`)
======== ============================ ======================================== ===============

Every database that exists is read (an image can have dpkg *and* Python packages, and a
distroless image has status.d without status); within one :class:`Database` the first of its
``paths`` that exists is the one, and for the rpm rows the three databases are one lookup in
the order shown (a converted image may keep an old ``Packages`` beside ``rpmdb.sqlite``).

Every parser raises :class:`PackageDatabaseError` (an
:class:`~ociinspect.errors.InvalidDocumentError`) for input it cannot read, naming the file
and the line, entry or field; :class:`UnreadableDatabaseError` for rpm's Berkeley DB and NDB;
:class:`~ociinspect.errors.SizeLimitError` for input over its limit, before any work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from . import apk, dpkg, rpm
from .apk import parse_installed
from .dpkg import is_installed, parse_status, parse_status_d, status_d_files
from .model import MANAGERS, Manager, Package, PackageDatabaseError, UnreadableDatabaseError
from .os_release import OS_RELEASE_PATHS, OsRelease, parse_os_release
from .python_dist import metadata_paths, parse_metadata
from .rpm import parse_header, parse_rpmdb

#: How a reader finds a database's files: ``"file"``: the first of ``paths`` that exists;
#: ``"select"``: every path of the image that ``select`` picks (``paths`` are where to look).
Lookup = Literal["file", "select"]


@dataclass(frozen=True)
class Database:
    """One kind of package database: where it lives and how to read one of its files.

    ``parse(data, path)`` takes one file's bytes and its path in the image (used in error
    messages) and returns its packages.
    """

    manager: Manager
    name: str
    lookup: Lookup
    paths: tuple[str, ...]
    parse: Callable[[bytes, str], list[Package]]
    select: Callable[[Iterable[str]], list[str]] | None = None


def _status(data: bytes, path: str) -> list[Package]:
    return parse_status(data, where=path)


def _status_d(data: bytes, path: str) -> list[Package]:
    return parse_status_d(data, where=path)


def _apk(data: bytes, path: str) -> list[Package]:
    return parse_installed(data, where=path)


def _rpm(data: bytes, path: str) -> list[Package]:
    return parse_rpmdb(data, where=path)


def _python(data: bytes, path: str) -> list[Package]:
    return [parse_metadata(data, where=path)]


#: Every package database ociinspect knows, in the order a reader should try them.
DATABASES: tuple[Database, ...] = (
    Database("dpkg", "dpkg status", "file", (dpkg.STATUS_PATH,), _status),
    Database(
        "dpkg", "dpkg status.d (distroless)", "select", (dpkg.STATUS_D_DIR,), _status_d,
        dpkg.status_d_files,
    ),
    Database("apk", "apk installed", "file", apk.INSTALLED_PATHS, _apk),
    Database("rpm", "rpm database", "file", rpm.RPMDB_PATHS, _rpm),
    Database(
        "python", "Python distributions", "select",
        ("/usr/lib/", "/usr/lib64/", "/usr/local/lib/", "/usr/local/lib64/", "/opt/"),
        _python, metadata_paths,
    ),
)  # fmt: skip

__all__ = [
    "DATABASES",
    "MANAGERS",
    "OS_RELEASE_PATHS",
    "Database",
    "Lookup",
    "Manager",
    "OsRelease",
    "Package",
    "PackageDatabaseError",
    "UnreadableDatabaseError",
    "is_installed",
    "metadata_paths",
    "parse_header",
    "parse_installed",
    "parse_metadata",
    "parse_os_release",
    "parse_rpmdb",
    "parse_status",
    "parse_status_d",
    "status_d_files",
]
