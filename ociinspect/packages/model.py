"""The one record every package parser returns, and the errors they raise.

A :class:`Package` is what a package manager's own database says is on an image: the manager
(``dpkg``, ``apk``, ``rpm``, ``python``), the name and version exactly as that manager writes
them, the architecture, the source package and the licence where the database has them, and
the manager's other fields in ``extra`` (strings only, so a table of packages has one dtype per
column). Nothing here reads a file.

Errors::

    OCIInspectError
    └── InvalidDocumentError (also ValueError)
        └── PackageDatabaseError        a package database or metadata file does not parse
            └── UnreadableDatabaseError a database in a format ociinspect cannot read
                                        (rpm's Berkeley DB and NDB backends)

Inputs over a byte limit raise :class:`~ociinspect.errors.SizeLimitError` before any work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ..errors import InvalidDocumentError, SizeLimitError

Manager = Literal["dpkg", "apk", "rpm", "python"]
#: The managers a :class:`Package` may come from.
MANAGERS: frozenset[str] = frozenset({"dpkg", "apk", "rpm", "python"})


@dataclass(frozen=True)
class Package:
    """One package as its manager's database records it.

    ``version`` is the full version the manager compares (dpkg ``[epoch:]upstream[-revision]``,
    apk ``1.2.3-r4``, rpm ``[epoch:]version-release``, Python's ``Version``). ``source`` is the
    source package (dpkg ``Source``, apk origin ``o``, rpm ``SOURCERPM``); ``None`` where the
    database has none. ``extra`` holds the manager's other fields, documented per parser.
    """

    manager: Manager
    name: str
    version: str
    architecture: str | None = None
    source: str | None = None
    license: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.manager not in MANAGERS:
            raise ValueError(f"unknown package manager {self.manager!r}")
        if not self.name:
            raise ValueError("a package needs a name")
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))


class PackageDatabaseError(InvalidDocumentError):
    """A package database (or one package's metadata file) does not parse.

    ``what`` names the file (``"dpkg status /var/lib/dpkg/status"``), ``reason`` says where and
    what is wrong (``"line 12: ..."``). Nothing is returned from a file that raised.
    """


class UnreadableDatabaseError(PackageDatabaseError):
    """A database in a format ociinspect recognises but cannot read (rpm Berkeley DB, NDB)."""

    def __init__(self, what: str, reason: str, *, backend: str) -> None:
        self.backend = backend
        super().__init__(what, reason)
        self.args = (f"cannot read {what}: {reason}",)  # not "invalid": it is a valid database


def check_size(what: str, data: bytes, limit: int) -> None:
    """Refuse ``data`` over ``limit`` bytes before any parsing (raises SizeLimitError)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) > limit:
        raise SizeLimitError(what, limit, len(data))


def decode_text(what: str, data: bytes) -> str:
    """UTF-8 text of a database (a BOM dropped; undecodable bytes become U+FFFD).

    Package databases are UTF-8 by convention only (dpkg copies control fields byte for byte),
    so one Latin-1 description must not cost the whole table; the structure is still checked
    strictly by each parser. A NUL byte means a binary file, and raises.
    """
    text = bytes(data).decode("utf-8", errors="replace")
    if "\x00" in text:
        raise PackageDatabaseError(what, f"NUL byte at offset {bytes(data).index(0)}: not text")
    return text.removeprefix("\ufeff")


__all__ = [
    "MANAGERS",
    "Manager",
    "Package",
    "PackageDatabaseError",
    "UnreadableDatabaseError",
]
