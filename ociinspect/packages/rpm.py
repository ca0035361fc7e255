"""rpm's database of installed packages, and the rpm header format it stores.

Current Fedora, RHEL 9 / UBI 9, CentOS Stream, Amazon Linux 2023 and Mariner keep the database
in SQLite (rpm >= 4.16, ``%_db_backend sqlite``): ``rpmdb.sqlite``, table ``Packages (hnum
INTEGER PRIMARY KEY, blob BLOB)``, one rpm header blob per installed package (``gpg-pubkey``
entries included: imported signing keys are stored as pseudo-packages).
:func:`parse_rpmdb` reads it with the standard library's ``sqlite3`` from a temporary copy
(SQLite needs a file; it is opened read-only and immutable, so no journal or lock file is made,
and deleted afterwards). Older images keep a Berkeley DB ``Packages`` (RHEL <= 8, CentOS 7,
Amazon Linux 2) and SUSE an NDB ``Packages.db``: both are recognised by their magic and refused
with :class:`~ociinspect.packages.model.UnreadableDatabaseError` saying why.

Before SQLite sees the bytes: a file whose length disagrees with the page count in its SQLite
header (a truncated copy, which would otherwise read as fewer packages) is refused. SQLite then
runs with a budget of virtual-machine steps and a 64 MiB limit per value, and ``Packages`` must
be a table with ``hnum`` and ``blob``. Only the main file is read: changes still in an
``rpmdb.sqlite-wal`` beside it are not seen (rpm checkpoints when it closes the database, so an
image normally has none).

The header blob (rpm ``docs/manual/format.md`` "Header"; ``lib/header.c``), all integers
big-endian: ``il`` (int32, index entries) and ``dl`` (int32, data bytes), then ``il`` 16-byte
entries ``tag, type, offset, count``, then ``dl`` bytes of data; a stored blob has no magic
(that belongs to the header in a package file). :func:`parse_header` checks what rpm's
``hdrblobInit`` / ``hdrblobVerifyInfo`` / ``hdrblobVerifyRegion`` check before it trusts one:

- ``0 < il <= 0xffff`` (``HEADER_TAGS_MAX``), ``0 <= dl <= 0x0fffffff`` (``HEADER_DATA_MAX``) and
  the blob is exactly ``8 + 16*il + dl`` bytes long;
- a leading region entry (tag 61, 62 or 63) is ``BIN`` with count 16, its 16-byte trailer lies
  inside the data, names the same region tag, and points back at most ``il`` entries;
- every other entry: tag >= 100 (``HEADER_I18NTABLE``), a known type (1-9), the offset aligned
  for its type, inside the data, not before the end of the previous entry's data, and the
  data (``count`` fixed-size items, or ``count`` NUL-terminated strings; ``STRING`` has count
  1) ends inside the data store.

Tags read (where a tag appears twice, the first entry counts): NAME 1000, VERSION 1001,
RELEASE 1002, EPOCH 1003, SUMMARY 1004, SIZE 1009, LICENSE 1014, ARCH 1022, SOURCERPM 1044,
LONGSIZE 5009. :attr:`Package.version` is rpm's EVR,
``[epoch:]version-release`` (the epoch shown when the tag is present, as ``%{EVR}`` does);
:attr:`Package.source` is the source rpm's file name (``bash-5.2.26-3.fc40.src.rpm``), ``None``
for imported keys, whose SOURCERPM is the literal ``(none)``. ``extra``: ``version``,
``release``, ``epoch`` (when present), ``summary``, ``installed_size`` (bytes), ``hnum``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .model import Package, PackageDatabaseError, UnreadableDatabaseError, check_size

#: rpm database paths in lookup order: the SQLite database (Fedora >= 36 moved it to
#: /usr/lib/sysimage/rpm, leaving /var/lib/rpm a symlink), then the formats refused with a
#: clear error: SUSE's NDB and the Berkeley DB of older RHEL/CentOS/Amazon Linux.
SQLITE_PATHS: tuple[str, ...] = (
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    "/var/lib/rpm/rpmdb.sqlite",
)
NDB_PATHS: tuple[str, ...] = ("/usr/lib/sysimage/rpm/Packages.db", "/var/lib/rpm/Packages.db")
BDB_PATHS: tuple[str, ...] = ("/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/Packages")
RPMDB_PATHS: tuple[str, ...] = SQLITE_PATHS + NDB_PATHS + BDB_PATHS

#: Limits checked before work.
MAX_RPMDB_BYTES = 1024 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_PACKAGES = 100_000
#: SQLite virtual-machine steps allowed for one database (a hostile schema cannot spin).
MAX_SQLITE_STEPS = 500_000_000

HEADER_TAGS_MAX = 0xFFFF
HEADER_DATA_MAX = 0x0FFFFFFF
HEADER_I18NTABLE = 100
REGION_TAGS = frozenset({61, 62, 63})  # HEADERIMAGE, HEADERSIGNATURES, HEADERIMMUTABLE

TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_SUMMARY = 1000, 1001, 1002, 1003, 1004
TAG_SIZE, TAG_LICENSE, TAG_ARCH, TAG_SOURCERPM, TAG_LONGSIZE = 1009, 1014, 1022, 1044, 5009

# rpmTagType: 0 NULL, 1 CHAR, 2 INT8, 3 INT16, 4 INT32, 5 INT64, 6 STRING, 7 BIN,
# 8 STRING_ARRAY, 9 I18NSTRING. Fixed sizes (also the alignment) of the non-string types:
_FIXED_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1}
_STRING, _STRING_ARRAY, _I18NSTRING, _BIN = 6, 8, 9, 7
_INT_FORMAT = {2: "B", 3: "H", 4: "I", 5: "Q"}

SQLITE_MAGIC = b"SQLite format 3\x00"
NDB_MAGIC = b"RpmP"  # ('R' | 'p' << 8 | 'm' << 16 | 'P' << 24), little-endian (rpmpkg.c)
#: Berkeley DB meta page: magic at offset 12, in the byte order of the machine that wrote it.
BDB_MAGICS = {0x00061561: "hash", 0x00053162: "btree"}


@dataclass(frozen=True)
class _Entry:
    tag: int
    type: int
    offset: int
    count: int


def parse_rpmdb(data: bytes, *, where: str = SQLITE_PATHS[1]) -> list[Package]:
    """Every package of an rpm SQLite database, by ``hnum``; BDB and NDB raise clearly."""
    what = f"rpm database {where}"
    check_size(what, data, MAX_RPMDB_BYTES)
    data = bytes(data)
    if not data.startswith(SQLITE_MAGIC):
        raise _not_sqlite(what, data)
    _check_sqlite_size(what, data)
    with _readonly_copy(data) as path:
        rows = _packages_rows(what, path)
    return [
        parse_header(blob, where=f"rpm header hnum {hnum} in {where}", hnum=hnum)
        for hnum, blob in rows
    ]


def parse_header(blob: bytes, *, where: str = "rpm header", hnum: int | None = None) -> Package:
    """One stored rpm header blob as a Package (the checks are in the module doc)."""
    what = where
    check_size(what, blob, MAX_HEADER_BYTES)
    blob = bytes(blob)
    entries, store = _index(what, blob)
    values = _wanted(what, entries, store)
    name = _required(what, values, TAG_NAME, "NAME")
    version = _required(what, values, TAG_VERSION, "VERSION")
    release = _required(what, values, TAG_RELEASE, "RELEASE")
    if not name:
        raise PackageDatabaseError(what, "empty NAME")
    epoch = values.get(TAG_EPOCH)
    if epoch is not None and not isinstance(epoch, int):
        raise PackageDatabaseError(what, "tag EPOCH is not a number")
    evr = f"{version}-{release}" if epoch is None else f"{epoch}:{version}-{release}"
    extra = {"version": version, "release": release}
    if epoch is not None:
        extra["epoch"] = str(epoch)
    summary = _string(what, values, TAG_SUMMARY, "SUMMARY")
    if summary:
        extra["summary"] = summary
    size = values.get(TAG_LONGSIZE, values.get(TAG_SIZE))
    if isinstance(size, int):
        extra["installed_size"] = str(size)
    if hnum is not None:
        extra["hnum"] = str(hnum)
    return Package(
        manager="rpm",
        name=name,
        version=evr,
        architecture=_string(what, values, TAG_ARCH, "ARCH") or None,
        source=_source_rpm(_string(what, values, TAG_SOURCERPM, "SOURCERPM")),
        license=_string(what, values, TAG_LICENSE, "LICENSE") or None,
        extra=extra,
    )


def _string(what: str, values: dict[int, str | int], tag: int, label: str) -> str | None:
    value = values.get(tag)
    if isinstance(value, int):
        raise PackageDatabaseError(what, f"tag {label} is a number, expected a string")
    return value


def _required(what: str, values: dict[int, str | int], tag: int, label: str) -> str:
    value = _string(what, values, tag, label)
    if value is None:
        raise PackageDatabaseError(what, f"no {label} tag")
    return value


def _source_rpm(value: str | None) -> str | None:
    # rpm stores the literal "(none)" as the SOURCERPM of an imported key (gpg-pubkey), the
    # same text it prints for a missing tag: both mean "no source package".
    return None if value in (None, "", "(none)") else value


def _index(what: str, blob: bytes) -> tuple[list[_Entry], bytes]:
    if len(blob) < 8:
        raise PackageDatabaseError(what, f"{len(blob)} bytes: shorter than the 8-byte intro")
    il, dl = struct.unpack_from(">ii", blob)
    if not 0 < il <= HEADER_TAGS_MAX:
        raise PackageDatabaseError(what, f"index count {il} outside 1..{HEADER_TAGS_MAX}")
    if not 0 <= dl <= HEADER_DATA_MAX:
        raise PackageDatabaseError(what, f"data length {dl} outside 0..{HEADER_DATA_MAX}")
    expected = 8 + 16 * il + dl
    if len(blob) != expected:
        raise PackageDatabaseError(
            what, f"{len(blob)} bytes, but il={il} and dl={dl} make {expected}"
        )
    entries = [_Entry(*struct.unpack_from(">IIiI", blob, 8 + 16 * i)) for i in range(il)]
    store = blob[8 + 16 * il :]
    first = 0
    if entries[0].tag in REGION_TAGS:
        _check_region(what, entries[0], il, store)
        first = 1
    end = 0
    for number, entry in enumerate(entries[first:], start=first):
        length = _data_length(what, number, entry, store)
        if entry.offset < end:
            raise PackageDatabaseError(
                what,
                f"entry {number} (tag {entry.tag}): data at {entry.offset} overlaps the "
                f"previous entry's, which ends at {end}",
            )
        end = entry.offset + length
    return entries, store


def _check_region(what: str, region: _Entry, il: int, store: bytes) -> None:
    if region.type != _BIN or region.count != 16:
        raise PackageDatabaseError(
            what, f"region tag {region.tag}: type {region.type} count {region.count}, not BIN 16"
        )
    if not 0 <= region.offset <= len(store) - 16:
        raise PackageDatabaseError(
            what, f"region trailer at {region.offset} outside {len(store)} data bytes"
        )
    tag, type_, offset, count = struct.unpack_from(">IIiI", store, region.offset)
    if region.tag == 62 and tag == 61:  # rpm: old packages have HEADERIMAGE there
        tag = 62
    back = -offset
    if tag != region.tag or type_ != _BIN or count != 16 or back % 16 or not 0 < back // 16 <= il:
        raise PackageDatabaseError(
            what,
            f"region trailer (tag {tag} type {type_} offset {offset} count {count}) "
            f"does not close region {region.tag} of {il} entries",
        )


def _data_length(what: str, number: int, entry: _Entry, store: bytes) -> int:
    def bad(reason: str) -> PackageDatabaseError:
        return PackageDatabaseError(what, f"entry {number} (tag {entry.tag}): {reason}")

    if entry.tag < HEADER_I18NTABLE:
        raise bad(f"tag below {HEADER_I18NTABLE} outside a region entry")
    if not 0 <= entry.offset < len(store):
        raise bad(f"offset {entry.offset} outside {len(store)} data bytes")
    if entry.count < 1 or entry.count > len(store):
        raise bad(f"count {entry.count} impossible in {len(store)} data bytes")
    size = _FIXED_SIZE.get(entry.type)
    if size is not None:
        if entry.offset % size:
            raise bad(f"offset {entry.offset} not aligned to {size} for type {entry.type}")
        length = size * entry.count
        if entry.offset + length > len(store):
            raise bad(f"{entry.count} items of {size} bytes run past the data")
        return length
    if entry.type not in (_STRING, _STRING_ARRAY, _I18NSTRING):
        raise bad(f"unknown type {entry.type}")
    if entry.type == _STRING and entry.count != 1:
        raise bad(f"STRING with count {entry.count}")
    end = _strings_end(store, entry.offset, entry.count)
    if end < 0:
        raise bad(f"{entry.count} NUL-terminated strings run past the data")
    return end - entry.offset


def _strings_end(store: bytes, start: int, count: int) -> int:
    """Where ``count`` NUL-terminated strings from ``start`` end, or -1; linear in their size.

    Counting NULs in doubling windows, then halving, keeps a hostile count (millions of
    empty strings) in C loops instead of one Python step per string.
    """
    lo, need, step = start, count, max(count, 64)
    while True:
        hi = min(len(store), lo + step)
        found = store.count(b"\x00", lo, hi)
        if found >= need:
            break
        if hi == len(store):
            return -1
        need, lo, step = need - found, hi, step * 2
    while hi - lo > 64:
        mid = (lo + hi) // 2
        found = store.count(b"\x00", lo, mid)
        if found >= need:
            hi = mid
        else:
            need, lo = need - found, mid
    for _ in range(need):
        lo = store.index(b"\x00", lo) + 1
    return lo


def _wanted(what: str, entries: list[_Entry], store: bytes) -> dict[int, str | int]:
    wanted = {
        TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_SUMMARY, TAG_SIZE,
        TAG_LICENSE, TAG_ARCH, TAG_SOURCERPM, TAG_LONGSIZE,
    }  # fmt: skip
    values: dict[int, str | int] = {}
    for entry in entries:
        if entry.tag not in wanted or entry.tag in values:
            continue
        if entry.type in (_STRING, _STRING_ARRAY, _I18NSTRING):
            nul = store.index(b"\x00", entry.offset)  # checked by _data_length
            values[entry.tag] = store[entry.offset : nul].decode("utf-8", errors="replace")
        elif entry.type in _INT_FORMAT:
            (values[entry.tag],) = struct.unpack_from(
                ">" + _INT_FORMAT[entry.type], store, entry.offset
            )
        else:
            raise PackageDatabaseError(what, f"tag {entry.tag} has unexpected type {entry.type}")
    return values


def _not_sqlite(what: str, data: bytes) -> PackageDatabaseError:
    if data[:4] == NDB_MAGIC:
        return UnreadableDatabaseError(
            what,
            "this is an rpm NDB database (Packages.db, SUSE's backend): ociinspect reads only "
            "rpm's SQLite database; list it with `rpm -qa --dbpath DIR` on a SUSE system",
            backend="ndb",
        )
    if len(data) >= 16:
        for order in ("<", ">"):
            (magic,) = struct.unpack_from(order + "I", data, 12)
            if magic in BDB_MAGICS:
                return UnreadableDatabaseError(
                    what,
                    f"this is an rpm Berkeley DB ({BDB_MAGICS[magic]}) database, the format of "
                    "RHEL/CentOS <= 8 and Amazon Linux 2: ociinspect reads only rpm's SQLite "
                    "database (rpm >= 4.16); `rpmdb --rebuilddb` with "
                    "`--define '_db_backend sqlite'` converts one",
                    backend="bdb",
                )
    return PackageDatabaseError(
        what, f"not an rpm database: starts with {data[:16]!r}, not SQLite, NDB or Berkeley DB"
    )


def _check_sqlite_size(what: str, data: bytes) -> None:
    """A truncated file would read as fewer packages: compare with the header's page count.

    SQLite file format, "1.3 The database header": page size at offset 16 (1 means 65536),
    "in-header database size" (pages) at 28, valid when the "version-valid-for number" at 92
    equals the "file change counter" at 24.
    """
    if len(data) < 100:
        raise PackageDatabaseError(what, f"{len(data)} bytes: shorter than the SQLite header")
    (page_size,) = struct.unpack_from(">H", data, 16)
    page_size = 65536 if page_size == 1 else page_size
    change_counter, pages = struct.unpack_from(">II", data, 24)
    (valid_for,) = struct.unpack_from(">I", data, 92)
    if valid_for == change_counter and pages and len(data) != page_size * pages:
        raise PackageDatabaseError(
            what,
            f"{len(data)} bytes, but its header says {pages} pages of {page_size} bytes "
            f"({page_size * pages}): truncated or padded",
        )


@contextlib.contextmanager
def _readonly_copy(data: bytes) -> Iterator[Path]:
    """``data`` in a private temporary file, deleted (with its directory) on exit."""
    with tempfile.TemporaryDirectory(prefix="ociinspect-rpmdb-") as tmp:
        with tempfile.NamedTemporaryFile(dir=tmp, suffix=".sqlite", delete=False) as handle:
            handle.write(data)
        yield Path(handle.name)


#: SQLite calls the progress handler every this many virtual-machine steps.
_STEPS_PER_CALL = 10_000


def _packages_rows(what: str, path: Path) -> list[tuple[int, bytes]]:
    calls = 0

    def budget() -> int:
        nonlocal calls
        calls += 1
        return int(calls * _STEPS_PER_CALL > MAX_SQLITE_STEPS)

    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise PackageDatabaseError(what, f"SQLite cannot open it: {exc}") from None
    try:
        conn.text_factory = _lenient_text  # a damaged schema must not raise UnicodeDecodeError
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_HEADER_BYTES)
        conn.set_progress_handler(budget, _STEPS_PER_CALL)
        return _rows(what, conn)
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        # UnicodeDecodeError: Python decodes SQLite's error message, which can quote a
        # damaged schema's bytes.
        if calls * _STEPS_PER_CALL > MAX_SQLITE_STEPS:
            reason = f"reading took more than {MAX_SQLITE_STEPS} SQLite steps"
        elif "too big" in str(exc):
            reason = f"a header blob is over the limit of {MAX_HEADER_BYTES} bytes"
        elif isinstance(exc, UnicodeDecodeError):
            reason = "SQLite: the database schema is damaged (undecodable text)"
        else:
            reason = f"SQLite: {exc}"
        raise PackageDatabaseError(what, reason) from None
    finally:
        conn.close()


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _rows(what: str, conn: sqlite3.Connection) -> list[tuple[int, bytes]]:
    """``(hnum, blob)`` of rpm's ``Packages`` table, after checking it is one."""
    conn.execute("PRAGMA trusted_schema = OFF")
    kinds = [kind for (kind,) in conn.execute(
        "SELECT type FROM sqlite_master WHERE name = 'Packages'"
    )]  # fmt: skip
    if kinds != ["table"]:
        raise PackageDatabaseError(
            what, f"no 'Packages' table (found {kinds or 'nothing'}): not an rpm database"
        )
    columns = {row[1] for row in conn.execute("PRAGMA table_info('Packages')")}
    if not {"hnum", "blob"} <= columns:
        raise PackageDatabaseError(
            what, f"table 'Packages' has columns {sorted(columns)}, not hnum and blob"
        )
    rows: list[tuple[int, bytes]] = []
    for hnum, blob in conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum"):
        if not isinstance(hnum, int) or not isinstance(blob, bytes):
            raise PackageDatabaseError(
                what,
                f"row hnum={hnum!r}: expected an integer and a blob, got "
                f"{type(hnum).__name__} and {type(blob).__name__}",
            )
        rows.append((hnum, blob))
        if len(rows) > MAX_PACKAGES:
            raise PackageDatabaseError(what, f"more than {MAX_PACKAGES} packages")
    return rows


__all__ = [
    "BDB_PATHS",
    "MAX_HEADER_BYTES",
    "MAX_PACKAGES",
    "MAX_RPMDB_BYTES",
    "NDB_PATHS",
    "RPMDB_PATHS",
    "SQLITE_PATHS",
    "parse_header",
    "parse_rpmdb",
]
