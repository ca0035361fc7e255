"""Alpine's apk database of installed packages: ``/lib/apk/db/installed``.

The format (apk-tools ``src/database.c``, documented in the Alpine wiki's "Apk spec", section
"Installed Database"): one package per block of lines, blocks separated by an empty line;
each line is ``X:value`` with a one-letter key ``X``. The keys read here:

==== ============================ =========================================
key  meaning                      becomes
==== ============================ =========================================
P    package name                 :attr:`Package.name` (required)
V    version (``1.2.3-r4``)       :attr:`Package.version` (required)
A    architecture                 :attr:`Package.architecture`
o    origin: the source package   :attr:`Package.source`
L    licence (SPDX-like)          :attr:`Package.license`
T    description                  ``extra["summary"]``
U    URL                          ``extra["url"]``
m    maintainer                   ``extra["maintainer"]``
S, I package size, installed size ``extra["size"]``, ``extra["installed_size"]``
t, c build time, aports commit    ``extra["build_time"]``, ``extra["commit"]``
C    checksum of the control data ``extra["checksum"]``
R    one installed file           counted in ``extra["files"]``
==== ============================ =========================================

Other keys (``D`` depends, ``p`` provides, ``F`` directories, ``Z`` file checksums, ...) are
checked for form and skipped. A block without ``P`` or ``V``, a line that is not ``X:value``,
or ``P``/``V`` given twice in one block (a missing separator) raises PackageDatabaseError.

Since apk-tools 3 and usr-merged distributions (Wolfi), the database may live in
``/usr/lib/apk/db/installed`` with ``/lib/apk/db`` a symlink to it.
"""

from __future__ import annotations

from .model import Package, PackageDatabaseError, check_size, decode_text

#: Where apk keeps its database, in lookup order.
INSTALLED_PATHS: tuple[str, ...] = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")

MAX_INSTALLED_BYTES = 64 * 1024 * 1024
MAX_PACKAGES = 100_000

_EXTRA = {
    "T": "summary",
    "U": "url",
    "m": "maintainer",
    "S": "size",
    "I": "installed_size",
    "t": "build_time",
    "c": "commit",
    "C": "checksum",
}
_SINGLE = frozenset("PVAoL") | frozenset(_EXTRA)


def parse_installed(data: bytes, *, where: str = INSTALLED_PATHS[0]) -> list[Package]:
    """Every package block of an apk ``installed`` database, in file order."""
    what = f"apk database {where}"
    check_size(what, data, MAX_INSTALLED_BYTES)
    text = decode_text(what, data)
    packages: list[Package] = []
    block: dict[str, str] = {}
    files = 0
    start = 0  # first line of the current block; 0 between blocks
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line:
            if start:
                packages.append(_package(what, start, block, files))
                if len(packages) > MAX_PACKAGES:
                    raise PackageDatabaseError(what, f"more than {MAX_PACKAGES} packages")
            block, files, start = {}, 0, 0
            continue
        if len(line) < 2 or line[1] != ":" or not line[0].isascii() or not line[0].isalpha():
            raise PackageDatabaseError(what, f"line {number}: not a 'X:value' line: {line[:60]!r}")
        key, value = line[0], line[2:]
        if not start:
            start = number
        if key in _SINGLE:
            if key in block:
                raise PackageDatabaseError(
                    what, f"line {number}: {key!r} given twice in one package (missing blank line?)"
                )
            block[key] = value
        elif key == "R":
            files += 1
    if start:
        packages.append(_package(what, start, block, files))
    if len(packages) > MAX_PACKAGES:
        raise PackageDatabaseError(what, f"more than {MAX_PACKAGES} packages")
    return packages


def _package(what: str, line: int, block: dict[str, str], files: int) -> Package:
    name = block.get("P")
    if not name:
        raise PackageDatabaseError(what, f"package at line {line}: no name (P:)")
    version = block.get("V")
    if not version:
        raise PackageDatabaseError(what, f"package {name!r} (line {line}): no version (V:)")
    extra = {out: block[key] for key, out in _EXTRA.items() if block.get(key)}
    extra["files"] = str(files)
    return Package(
        manager="apk",
        name=name,
        version=version,
        architecture=block.get("A") or None,
        source=block.get("o") or None,
        license=block.get("L") or None,
        extra=extra,
    )


__all__ = ["INSTALLED_PATHS", "MAX_INSTALLED_BYTES", "MAX_PACKAGES", "parse_installed"]
