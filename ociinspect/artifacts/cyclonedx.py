"""CycloneDX 1.4, 1.5 and 1.6 JSON BOMs: the BOM's identity and its components, flattened.

Rules from the CycloneDX JSON schemas (CycloneDX/specification, schema/bom-1.{4,5,6}.schema.json):

- The BOM requires ``bomFormat`` (the constant ``CycloneDX``) and ``specVersion``; ``version``
  is an integer (default 1); ``metadata.timestamp`` is a JSON-schema ``date-time``;
  ``metadata.component`` is the component the BOM describes.
- A component requires ``type`` and ``name``; ``version``, ``group``, ``purl``, ``publisher``
  (a string), ``supplier`` (an organizationalEntity, whose ``name`` is kept), ``bom-ref`` and
  ``licenses`` are optional, and ``components`` nests further components.
- ``licenses`` is a "licenseChoice": a list of ``{"license": {...}}`` entries, each with
  ``id`` (an SPDX license id) or ``name``, or a list of one ``{"expression": "..."}``.

Nested components are flattened depth first, parents before children; each record keeps its
``depth`` (0 = a top-level component) and the index of its ``parent`` in the flattened tuple.
Nesting and count are bounded (``max_depth``, ``max_components``), walked without recursion.
A BOM arrives on its own (``application/vnd.cyclonedx+json``) or as the predicate of an
in-toto statement (``https://cyclonedx.org/bom``): :func:`parse_cyclonedx` reads the first,
:func:`cyclonedx_from_predicate` the second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._json import MiB, Reader, at, check_count, json_type, load_object

SPEC_VERSIONS = frozenset({"1.4", "1.5", "1.6"})
DEFAULT_MAX_BYTES = 16 * MiB
DEFAULT_MAX_COMPONENTS = 200_000
DEFAULT_MAX_DEPTH = 32


@dataclass(frozen=True)
class CdxLicense:
    """One license of a component: ``kind`` is ``"id"``, ``"name"`` or ``"expression"``."""

    kind: str
    value: str


@dataclass(frozen=True)
class CdxComponent:
    """One component; ``parent`` is the index of the enclosing component in the flat tuple."""

    type: str
    name: str
    version: str | None
    group: str | None
    purl: str | None
    bom_ref: str | None
    supplier: str | None
    publisher: str | None
    licenses: tuple[CdxLicense, ...] = ()
    depth: int = 0
    parent: int | None = None


@dataclass(frozen=True)
class CycloneDxBom:
    """The BOM's identity, the component it describes, and all its components, flattened."""

    spec_version: str
    serial_number: str | None
    version: int
    timestamp: datetime | None
    subject: CdxComponent | None
    components: tuple[CdxComponent, ...]


def parse_cyclonedx(
    raw: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_components: int = DEFAULT_MAX_COMPONENTS,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> CycloneDxBom:
    """A CycloneDX 1.4-1.6 JSON BOM from its bytes."""
    doc = load_object(raw, "CycloneDX BOM", max_bytes)
    return cyclonedx_from_predicate(doc, max_components=max_components, max_depth=max_depth)


def cyclonedx_from_predicate(
    doc: Mapping[str, Any],
    *,
    max_components: int = DEFAULT_MAX_COMPONENTS,
    max_depth: int = DEFAULT_MAX_DEPTH,
    what: str = "CycloneDX BOM",
) -> CycloneDxBom:
    """A BOM from parsed JSON, e.g. ``Statement.predicate`` of a CycloneDX statement."""
    r = Reader(what)
    bom_format = r.string(doc, "bomFormat", "", required=True)
    if bom_format is not None and bom_format != "CycloneDX":
        r.fail("bomFormat", f"expected 'CycloneDX', got {bom_format!r}")
    spec = r.string(doc, "specVersion", "", required=True)
    if spec is not None and spec not in SPEC_VERSIONS:
        r.fail("specVersion", f"{spec!r} is not read (reads {', '.join(sorted(SPEC_VERSIONS))})")
    serial = r.string(doc, "serialNumber", "")
    version = r.get(doc, "version", "", "integer", False)
    metadata = r.object(doc, "metadata", "") or {}
    timestamp = r.timestamp(metadata, "timestamp", "metadata")
    subject = None
    top = r.object(metadata, "component", "metadata")
    if top is not None:
        subject = _component(r, top, "metadata.component", 0, None)

    flat: list[CdxComponent] = []
    roots = r.array(doc, "components", "") or ()
    check_count(len(roots), max_components, f"{what} components", "max_components")
    # An explicit stack: (JSON value, path, depth, parent index); reversed to keep order.
    stack: list[tuple[Any, str, int, int | None]] = [
        (item, at("components", i), 0, None) for i, item in reversed(list(enumerate(roots)))
    ]
    while stack:
        item, path, depth, parent = stack.pop()
        check_count(len(flat) + 1, max_components, f"{what} components", "max_components")
        check_count(depth + 1, max_depth, f"{what} component nesting at {path}", "max_depth")
        if not isinstance(item, Mapping):
            r.fail(path, f"expected object, got {json_type(item)}")
            continue
        component = _component(r, item, path, depth, parent)
        if component is None:
            continue
        index = len(flat)
        flat.append(component)
        children = r.array(item, "components", path) or ()
        here = at(path, "components")
        pending = [(child, at(here, j), depth + 1, index) for j, child in enumerate(children)]
        stack.extend(reversed(pending))
    r.done()
    assert spec is not None
    return CycloneDxBom(
        spec_version=spec,
        serial_number=serial,
        version=1 if version is None else version,
        timestamp=timestamp,
        subject=subject,
        components=tuple(flat),
    )


def _component(
    r: Reader, item: Mapping[str, Any], path: str, depth: int, parent: int | None
) -> CdxComponent | None:
    type_ = r.string(item, "type", path, required=True)
    name = r.string(item, "name", path, required=True)
    supplier = r.object(item, "supplier", path)
    supplier_name = r.string(supplier, "name", at(path, "supplier")) if supplier else None
    component = CdxComponent(
        type=type_ or "",
        name=name or "",
        version=r.string(item, "version", path),
        group=r.string(item, "group", path),
        purl=r.string(item, "purl", path),
        bom_ref=r.string(item, "bom-ref", path),
        supplier=supplier_name,
        publisher=r.string(item, "publisher", path),
        licenses=_licenses(r, item, path),
        depth=depth,
        parent=parent,
    )
    return component if type_ is not None and name is not None else None


def _licenses(r: Reader, item: Mapping[str, Any], path: str) -> tuple[CdxLicense, ...]:
    """The schema's licenseChoice: ``[{"license": {"id"|"name"}}, ...]`` or
    ``[{"expression": "..."}]``."""
    out: list[CdxLicense] = []
    where = at(path, "licenses")
    for i, entry in enumerate(r.array(item, "licenses", path) or ()):
        here = at(where, i)
        if not isinstance(entry, Mapping):
            r.fail(here, f"expected object, got {json_type(entry)}")
            continue
        if entry.get("expression") is not None:
            expression = r.string(entry, "expression", here)
            if expression is not None:
                out.append(CdxLicense("expression", expression))
            continue
        license_ = r.object(entry, "license", here)
        if license_ is None:
            if entry.get("license") is None:
                r.fail(here, "needs 'license' or 'expression'")
            continue
        inner = at(here, "license")
        id_ = r.string(license_, "id", inner)
        name = r.string(license_, "name", inner)
        if id_ is not None:
            out.append(CdxLicense("id", id_))
        elif name is not None:
            out.append(CdxLicense("name", name))
        elif license_.get("id") is None and license_.get("name") is None:
            r.fail(inner, "needs 'id' or 'name'")
    return tuple(out)


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_COMPONENTS",
    "DEFAULT_MAX_DEPTH",
    "SPEC_VERSIONS",
    "CdxComponent",
    "CdxLicense",
    "CycloneDxBom",
    "cyclonedx_from_predicate",
    "parse_cyclonedx",
]
