"""SPDX 2.2 and 2.3 JSON documents: the document's identity and one record per package.

Field rules, from the SPDX 2.3 specification (spdx/spdx-spec, chapters/):

- 6.1 ``spdxVersion`` (``SPDX-2.2`` or ``SPDX-2.3`` are read), 6.3 ``SPDXID``, 6.4 ``name``,
  6.5 ``documentNamespace``, 6.8/6.9 ``creationInfo.creators`` and ``creationInfo.created``
  are required (6.9's ``YYYY-MM-DDThh:mm:ssZ``; fractions of a second, as syft writes, are
  accepted); 6.7 ``creationInfo.licenseListVersion`` is optional.
- 7.1 ``name`` and 7.2 ``SPDXID`` are required for a package; 7.3 ``versionInfo``, 7.5
  ``supplier``, 7.13 ``licenseConcluded``, 7.15 ``licenseDeclared`` and 7.21 ``externalRefs``
  are optional. A package's purl is the ``referenceLocator`` of an external reference whose
  ``referenceType`` is ``purl`` (Annex F.3.5; the category is ``PACKAGE-MANAGER`` in 2.3 and
  ``PACKAGE_MANAGER`` in 2.2 JSON, so it is not compared).

An SPDX document arrives on its own (``cosign attach sbom``, ``text/spdx+json``) or as the
predicate of an in-toto statement (BuildKit's and ``cosign attest --type spdxjson``):
:func:`parse_spdx` reads the first, :func:`spdx_from_predicate` the second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._json import MiB, Reader, at, check_count, json_type, load_object

SPDX_VERSIONS = frozenset({"SPDX-2.2", "SPDX-2.3"})
DEFAULT_MAX_BYTES = 16 * MiB
DEFAULT_MAX_PACKAGES = 200_000


@dataclass(frozen=True)
class SpdxPackage:
    """One ``packages`` entry. ``purl`` is the first purl reference; ``purls`` all of them."""

    spdx_id: str
    name: str
    version: str | None
    license_concluded: str | None
    license_declared: str | None
    supplier: str | None
    purl: str | None
    purls: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpdxDocument:
    """The document's identity (chapter 6) and its packages, in document order."""

    spdx_version: str
    spdx_id: str
    name: str
    namespace: str
    data_license: str | None
    created: datetime
    creators: tuple[str, ...]
    license_list_version: str | None
    packages: tuple[SpdxPackage, ...]


def parse_spdx(
    raw: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_packages: int = DEFAULT_MAX_PACKAGES,
) -> SpdxDocument:
    """An SPDX 2.2/2.3 JSON document from its bytes."""
    doc = load_object(raw, "SPDX document", max_bytes)
    return spdx_from_predicate(doc, max_packages=max_packages)


def spdx_from_predicate(
    doc: Mapping[str, Any],
    *,
    max_packages: int = DEFAULT_MAX_PACKAGES,
    what: str = "SPDX document",
) -> SpdxDocument:
    """An SPDX document from parsed JSON, e.g. ``Statement.predicate`` of an SPDX statement."""
    r = Reader(what)
    version = r.string(doc, "spdxVersion", "", required=True)
    if version is not None and version not in SPDX_VERSIONS:
        r.fail("spdxVersion", f"{version!r} is not read (reads {', '.join(sorted(SPDX_VERSIONS))})")
    spdx_id = r.nonempty_string(doc, "SPDXID", "")
    name = r.string(doc, "name", "", required=True)
    namespace = r.string(doc, "documentNamespace", "", required=True)
    data_license = r.string(doc, "dataLicense", "")
    info = r.object(doc, "creationInfo", "", required=True)
    created: datetime | None = None
    creators: tuple[str, ...] = ()
    license_list: str | None = None
    if info is not None:
        created = r.timestamp(info, "created", "creationInfo", required=True)
        creators = r.strings(info, "creators", "creationInfo", required=True)
        license_list = r.string(info, "licenseListVersion", "creationInfo")

    packages: list[SpdxPackage] = []
    items = r.array(doc, "packages", "") or ()
    check_count(len(items), max_packages, f"{what} packages", "max_packages")
    for i, item in enumerate(items):
        package = _package(r, item, at("packages", i))
        if package is not None:
            packages.append(package)
    r.done()
    assert version and spdx_id and name is not None and namespace is not None and created
    return SpdxDocument(
        spdx_version=version,
        spdx_id=spdx_id,
        name=name,
        namespace=namespace,
        data_license=data_license,
        created=created,
        creators=creators,
        license_list_version=license_list,
        packages=tuple(packages),
    )


def _package(r: Reader, item: Any, path: str) -> SpdxPackage | None:
    if not isinstance(item, Mapping):
        r.fail(path, f"expected object, got {json_type(item)}")
        return None
    spdx_id = r.nonempty_string(item, "SPDXID", path)
    name = r.string(item, "name", path, required=True)
    purls: list[str] = []
    refs = r.array(item, "externalRefs", path) or ()
    for j, ref in enumerate(refs):
        here = at(at(path, "externalRefs"), j)
        if not isinstance(ref, Mapping):
            r.fail(here, f"expected object, got {json_type(ref)}")
            continue
        ref_type = r.string(ref, "referenceType", here, required=True)
        locator = r.string(ref, "referenceLocator", here, required=True)
        if ref_type == "purl" and locator is not None:
            purls.append(locator)
    package = SpdxPackage(
        spdx_id=spdx_id or "",
        name=name or "",
        version=r.string(item, "versionInfo", path),
        license_concluded=r.string(item, "licenseConcluded", path),
        license_declared=r.string(item, "licenseDeclared", path),
        supplier=r.string(item, "supplier", path),
        purl=purls[0] if purls else None,
        purls=tuple(purls),
    )
    return package if spdx_id and name is not None else None


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PACKAGES",
    "SPDX_VERSIONS",
    "SpdxDocument",
    "SpdxPackage",
    "parse_spdx",
    "spdx_from_predicate",
]
