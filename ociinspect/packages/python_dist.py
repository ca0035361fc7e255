"""Installed Python distributions: ``*.dist-info/METADATA`` and ``*.egg-info/PKG-INFO``.

The Core Metadata specification (packaging.python.org, "Core metadata specifications"): "The
standard file format for metadata (including in wheels and installed projects) is based on the
format of email headers. [...] the practical standard is set by what the standard library
:mod:`email.parser` module can parse using the :data:`~email.policy.compat32` policy" -- so
:func:`parse_metadata` uses exactly that (as :mod:`importlib.metadata` does), on the header
block only (everything before the first empty line; the body is the long description).
"Metadata-Version", "Name" and "Version" are the required fields; a file without Name or
Version, or with either twice, raises PackageDatabaseError. The same format is used by an
``.egg-info`` directory's ``PKG-INFO`` and by an ``.egg-info`` *file* (distutils installs).

:attr:`Package.license` is, in order: ``License-Expression`` (metadata 2.4, an SPDX
expression); ``License`` when it is one line (older metadata; many projects put the whole
licence text there, which is no table value); else the ``License ::`` classifiers' last
parts joined with ``"; "`` (``MIT License``); else ``None``. ``extra``: ``metadata_version``,
``summary``, ``requires_python`` where present.

:func:`metadata_paths` picks, from an image's file list, the metadata files to read: under the
system and ``/usr/local`` ``lib[64]/pythonX.Y/{site,dist}-packages`` (and Debian's
``/usr/lib/python3/dist-packages``), and any ``site-packages`` or ``dist-packages`` below
``/opt`` (virtual environments, conda).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.parser import HeaderParser
from email.policy import compat32

from .model import Package, PackageDatabaseError, check_size, decode_text

#: Limits checked before work (a METADATA with its long description is rarely over 100 KiB).
MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_METADATA_FILES = 20_000
MAX_PATH_CHARS = 4096

_SITE = (
    r"(?:usr/(?:local/)?lib(?:64)?/python\d+(?:\.\d+)?t?/(?:site|dist)-packages"
    r"|opt/(?:[^/]+/)*?(?:site|dist)-packages)"
)
_METADATA_FILE = re.compile(_SITE + r"/[^/]+\.(?:dist-info/METADATA|egg-info/PKG-INFO)")
_EGG_INFO_FILE = re.compile(_SITE + r"/[^/]+\.egg-info")
_BLANK_LINE = re.compile(r"\r?\n\r?\n")


def parse_metadata(data: bytes, *, where: str = "METADATA") -> Package:
    """One installed distribution's core metadata as a Package (see the module doc)."""
    what = f"Python metadata {where}"
    check_size(what, data, MAX_METADATA_BYTES)
    text = decode_text(what, data)
    blank = _BLANK_LINE.search(text)
    headers = HeaderParser(policy=compat32).parsestr(text[: blank.start() + 1] if blank else text)

    name = _required(what, headers.get_all("Name"), "Name")
    version = _required(what, headers.get_all("Version"), "Version")
    extra = {
        key: value
        for key, field in (
            ("metadata_version", "Metadata-Version"),
            ("summary", "Summary"),
            ("requires_python", "Requires-Python"),
        )
        if (value := _first(headers.get_all(field)))
    }
    licence = _license(
        headers.get_all("License-Expression"),
        headers.get_all("License"),
        headers.get_all("Classifier"),
    )
    return Package(manager="python", name=name, version=version, license=licence, extra=extra)


def metadata_paths(paths: Iterable[str], *, limit: int = MAX_METADATA_FILES) -> list[str]:
    """The metadata files among an image's ``paths`` (with or without a leading ``/``), sorted.

    ``X.dist-info/METADATA`` and ``X.egg-info/PKG-INFO`` in a site directory, and
    ``X.egg-info`` itself when it is a file (no path below it; a path ending in ``/`` is a
    directory). More than ``limit`` raises PackageDatabaseError (nothing partial).
    """
    found: list[str] = []
    egg_files: dict[str, str] = {}
    parents: set[str] = set()
    for path in paths:
        if len(path) > MAX_PATH_CHARS:
            continue
        rel = path.removeprefix("./").lstrip("/")
        if rel.endswith("/"):
            parents.add(rel.rstrip("/"))
            continue
        parent = rel.rpartition("/")[0]
        if parent.endswith(".egg-info"):
            parents.add(parent)
        if _METADATA_FILE.fullmatch(rel):
            found.append(path)
        elif _EGG_INFO_FILE.fullmatch(rel):
            egg_files[rel] = path
        if len(found) + len(egg_files) > limit:
            raise PackageDatabaseError(
                "Python metadata files", f"more than {limit} (raise limit= to read them)"
            )
    found.extend(path for rel, path in egg_files.items() if rel not in parents)
    return sorted(found)


def _required(what: str, values: list[str] | None, field: str) -> str:
    """The one value of a required field (core metadata: Name and Version are required)."""
    if values and len(values) > 1:
        raise PackageDatabaseError(what, f"{field} given {len(values)} times")
    value = _first(values)
    if not value:
        raise PackageDatabaseError(
            what, f"no {field} field (core metadata requires Name and Version): not a "
            "METADATA or PKG-INFO file?"
        )  # fmt: skip
    return value


def _first(values: list[str] | None) -> str | None:
    return str(values[0]).strip() or None if values else None


def _license(
    expressions: list[str] | None, licenses: list[str] | None, classifiers: list[str] | None
) -> str | None:
    expression = _first(expressions)
    if expression:
        return expression
    text = _first(licenses)
    if text and "\n" not in text:
        return text
    names = [
        str(c).rpartition("::")[2].strip()
        for c in classifiers or []
        if str(c).startswith("License ::")
    ]
    return "; ".join(n for n in names if n) or None


__all__ = ["MAX_METADATA_BYTES", "MAX_METADATA_FILES", "metadata_paths", "parse_metadata"]
