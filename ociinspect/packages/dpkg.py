"""dpkg's database of installed packages: ``/var/lib/dpkg/status`` and distroless's ``status.d``.

Both are deb822(5) "control" data. The rules :func:`parse_status` applies, from deb822(5)
"SYNTAX" and dpkg's own parser (``lib/dpkg/parse.c``):

- "The file consists of one or more paragraphs of fields. [...] Paragraphs are separated by
  empty lines. Parsers may accept lines consisting solely of U+0020 SPACE and U+0009 TAB as
  paragraph separators": so does this parser.
- "Each field consists of the field name, followed by a colon and then the data/value
  associated with that field. The field name [...] must not begin with U+0023 HASH or U+002D
  HYPHEN-MINUS": a line that starts a field must be ``Name: value`` with such a name.
- "[...] lines that begin with a space or tab are continuation lines of the preceding field"
  (multiline fields such as ``Description`` and ``Conffiles``).
- "Field names are not case-sensitive"; a field given twice in one paragraph is an error
  (dpkg: "duplicate value for '%s' field").
- Comment lines (``#``) are allowed only in source package control files (deb822 "Lines
  starting with U+0023 ‘#’ [...] are comment lines that are only permitted in source package
  control files"): in a status file they are refused.

Every paragraph needs ``Package`` and ``Version`` (a package that is ``not-installed`` can
still have a paragraph: then ``Version`` may be missing and is read as ``""``).
``Status`` (``want flag status``, dpkg-query(1)) is kept in ``extra["status"]`` for the
caller: :func:`is_installed` is true for ``install ok installed``, dpkg's only state of a
fully installed package; ``dpkg-query -W`` lists every paragraph whose status is not
``not-installed``.

``Source`` is ``name`` or ``name (version)`` (deb-control(5): "If the source version differs
from the binary version, then the source-name will be followed by a source-version in
parenthesis"): :attr:`Package.source` is the name (the binary name when absent), and
``extra["source_version"]`` the version (the binary version when absent).

``extra``: ``status`` (when present), ``source_version``, ``installed_size`` (bytes, from
dpkg's KiB), ``section``, ``priority``, ``maintainer``, ``multi_arch``, ``homepage`` and
``summary`` (the first line of ``Description``) where present. dpkg keeps no licence in its
database (it is in ``/usr/share/doc/<package>/copyright``): :attr:`Package.license` is ``None``.

distroless images have no ``status`` file but ``/var/lib/dpkg/status.d/<name>``, one control
paragraph per package and without ``Status`` (its presence means installed), next to
``<name>.md5sums`` files that are not control data: :func:`status_d_files` picks the files to
read, :func:`parse_status_d` reads one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .model import Package, PackageDatabaseError, check_size, decode_text

#: dpkg's status file (dpkg(1) "FILES": "/var/lib/dpkg/status: Statuses of available packages").
STATUS_PATH = "/var/lib/dpkg/status"
#: distroless's directory of per-package control files.
STATUS_D_DIR = "/var/lib/dpkg/status.d/"
#: Suffixes of files in status.d that are not control paragraphs.
STATUS_D_NOT_CONTROL = (".md5sums", ".conffiles", ".list", ".sha256sums")

#: Limits checked before parsing. A full Debian desktop's status file is about 3 MiB.
MAX_STATUS_BYTES = 64 * 1024 * 1024
MAX_PACKAGES = 100_000
MAX_STATUS_D_FILES = 100_000
MAX_STATUS_D_FILE_BYTES = 1024 * 1024

#: deb822 field names: US-ASCII printable except colon, not starting with "#" or "-".
_FIELD = re.compile(r"([!-9;-~][!-9;-~]*):(.*)\Z")
_SOURCE = re.compile(r"(\S+)(?:\s+\((\S+)\))?\Z")
INSTALLED = "install ok installed"


def parse_status(data: bytes, *, where: str = STATUS_PATH) -> list[Package]:
    """Every paragraph of a dpkg status file, in file order (see the module doc for rules)."""
    what = f"dpkg status {where}"
    check_size(what, data, MAX_STATUS_BYTES)
    return [
        _package(what, line, fields, need_status=True)
        for line, fields in _paragraphs(what, decode_text(what, data))
    ]


def parse_status_d(data: bytes, *, where: str = STATUS_D_DIR + "<name>") -> list[Package]:
    """The paragraph(s) of one distroless ``status.d/<name>`` file (``Status`` optional)."""
    what = f"dpkg status.d file {where}"
    check_size(what, data, MAX_STATUS_D_FILE_BYTES)
    paragraphs = _paragraphs(what, decode_text(what, data))
    if not paragraphs:
        raise PackageDatabaseError(what, "no control paragraph (empty file)")
    return [_package(what, line, fields, need_status=False) for line, fields in paragraphs]


def status_d_files(paths: Iterable[str], *, limit: int = MAX_STATUS_D_FILES) -> list[str]:
    """The paths in ``paths`` that are control files directly inside ``status.d``, sorted.

    Accepts image paths with or without a leading ``/`` or ``./``; returns them as given.
    More than ``limit`` raises PackageDatabaseError (nothing partial).
    """
    found: list[str] = []
    prefix = STATUS_D_DIR.lstrip("/")
    for path in paths:
        rel = path.removeprefix("./").lstrip("/")
        if not rel.startswith(prefix):
            continue
        name = rel[len(prefix) :]
        if not name or "/" in name or name.startswith(".") or name.endswith(STATUS_D_NOT_CONTROL):
            continue
        found.append(path)
        if len(found) > limit:
            raise PackageDatabaseError(
                f"dpkg {STATUS_D_DIR}", f"more than {limit} files (raise limit= to read them)"
            )
    return sorted(found)


def is_installed(package: Package) -> bool:
    """True for dpkg's ``install ok installed``, and for a status.d paragraph without Status."""
    return package.manager == "dpkg" and package.extra.get("status", INSTALLED) == INSTALLED


def _paragraphs(what: str, text: str) -> list[tuple[int, dict[str, str]]]:
    """(first line number, {folded field name: value}) per paragraph, in file order."""
    paragraphs: list[tuple[int, dict[str, str]]] = []
    fields: dict[str, list[str]] = {}  # continuation lines appended, joined once at the end
    start = 0
    last: list[str] | None = None

    def close() -> None:
        paragraphs.append((start, {key: "\n".join(lines) for key, lines in fields.items()}))
        if len(paragraphs) > MAX_PACKAGES:
            raise PackageDatabaseError(what, f"more than {MAX_PACKAGES} paragraphs")

    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip(" \t"):
            if fields:
                close()
            fields, last = {}, None
            continue
        if line[0] in " \t":
            if last is None:
                raise PackageDatabaseError(what, f"line {number}: continuation line before a field")
            last.append(line)
            continue
        match = _FIELD.match(line)
        if not match or line[0] in "#-":
            raise PackageDatabaseError(
                what, f"line {number}: not a 'Field: value' line: {line[:60]!r}"
            )
        name = match.group(1)
        key = name.lower()
        if key in fields:
            raise PackageDatabaseError(what, f"line {number}: duplicate value for {name!r} field")
        if not fields:
            start = number
        last = fields[key] = [match.group(2).strip(" \t")]
    if fields:
        close()
    return paragraphs


def _package(what: str, line: int, fields: dict[str, str], *, need_status: bool) -> Package:
    get = fields.get
    name = get("package")
    if not name:
        raise PackageDatabaseError(what, f"paragraph at line {line}: no Package field")
    status = get("status")
    if status is None and need_status:
        raise PackageDatabaseError(what, f"package {name!r} (line {line}): no Status field")
    if status is not None and len(status.split()) != 3:
        raise PackageDatabaseError(
            what, f"package {name!r} (line {line}): Status {status!r} is not 'want flag status'"
        )
    version = get("version")
    if version is None:
        if status is None or status.split()[2] != "not-installed":
            raise PackageDatabaseError(what, f"package {name!r} (line {line}): no Version field")
        version = ""
    source, source_version = name, version
    raw_source = get("source")
    if raw_source:
        match = _SOURCE.match(raw_source)
        if not match:
            raise PackageDatabaseError(
                what,
                f"package {name!r} (line {line}): Source {raw_source!r} is not 'name (version)'",
            )
        source = match.group(1)
        source_version = match.group(2) or version
    extra = {"source_version": source_version}
    if status is not None:
        extra["status"] = status
    size = get("installed-size", "")
    if size.isdigit():
        extra["installed_size"] = str(int(size) * 1024)  # dpkg counts KiB
    for key, out in (
        ("section", "section"),
        ("priority", "priority"),
        ("maintainer", "maintainer"),
        ("multi-arch", "multi_arch"),
        ("homepage", "homepage"),
    ):
        value = get(key)
        if value:
            extra[out] = value
    description = get("description")
    if description:
        extra["summary"] = description.split("\n", 1)[0]
    return Package(
        manager="dpkg",
        name=name,
        version=version,
        architecture=get("architecture") or None,
        source=source,
        license=None,
        extra=extra,
    )


__all__ = [
    "INSTALLED",
    "MAX_PACKAGES",
    "MAX_STATUS_BYTES",
    "MAX_STATUS_D_FILES",
    "MAX_STATUS_D_FILE_BYTES",
    "STATUS_D_DIR",
    "STATUS_D_NOT_CONTROL",
    "STATUS_PATH",
    "is_installed",
    "parse_status",
    "parse_status_d",
    "status_d_files",
]
