"""Supply chain in tables: what is attached to an image, what it says, and who signed it.

::

    import ociinspect as oi

    oi.referrers("app:1.0")                       # the index's own referrers (cosign signs it)
    oi.referrers("app:1.0", all_platforms=True, depth=2)  # and each image's, and theirs
    oi.attestations("app:1.0")                    # every in-toto statement, with its kind
    oi.sbom("app:1.0", platform="linux/arm64")    # packages: name, version, license, purl
    oi.provenance("app:1.0")                      # builder, build type, build args, times
    oi.signatures("app:1.0")                      # signed digest, identity, issuer, Rekor entry

Artifacts are found four ways and every row says which (``found_by``): the referrers API, its
``sha256-<hex>`` tag fallback, cosign's ``sha256-<hex>.sig|.att|.sbom`` tags, an OCI layout's
manifests whose ``subject`` matches; the attestation tables add BuildKit's attestation
manifests listed in the index (see :mod:`.discovery`). Each artifact's layers are read within
their parser's size cap (:mod:`ociinspect.artifacts.layers`; ``max_bytes=`` replaces it),
refused from the descriptor's size before any byte is fetched.

Errors: :func:`referrers`, :func:`attestations` and :func:`signatures` list what could not be
read in an ``error`` column (a typed error, one line) and go on; :func:`sbom` and
:func:`provenance` raise it (``InvalidAttestationError``, ``SizeLimitError``,
``CountLimitError``, naming the layer, the artifact and its subject): a table of packages or
builds is never half of a document.

Signatures are listed with their claims, not verified: verifying needs the signer's key, or
Sigstore's trust root (fetched with TUF) and the certificate chain and log entry checked
against it, which is what ``cosign verify`` does. The Python client, sigstore-python, verifies
Sigstore bundles of files; it does not read cosign's signatures attached to images, so
ociinspect does not pretend to. ``claims_subject`` only compares the digest a payload names
with the digest it is attached to.

Tables and their columns: :mod:`ociinspect.tables.supply`; the referrers tree for drawing:
:func:`~ociinspect.tables.supply.referrer_tree` and :func:`~ociinspect.tables.supply.tree_lines`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from ..artifacts import cosign as _cosign
from ..artifacts.cyclonedx import cyclonedx_from_predicate
from ..artifacts.layers import (
    COSIGN_ARTIFACT_TYPES,
    CYCLONEDX,
    NOTATION_ARTIFACT_TYPE,
    SPDX,
    Document,
)
from ..artifacts.provenance import Provenance, provenance_from_statement
from ..artifacts.spdx import spdx_from_predicate
from ..errors import OCIInspectError
from ..navigation import Image, ImageIndex
from ..navigation import open as _open_ref
from ..session import Session
from ..tables.frame import Table
from ..tables.supply import (
    ReferrerNode,
    attestations_frame,
    materials_frame,
    provenance_frame,
    referrer_edges_frame,
    referrer_tree,
    sbom_frame,
    signatures_frame,
    tree_lines,
)
from ..values.platforms import Platform
from . import discovery
from .discovery import MAX_DEPTH, MAX_EDGES, Attached, Edge, Node

Ref = str | Image | ImageIndex
T = TypeVar("T")

PROVENANCE_KINDS = ("slsa-provenance-v0.2", "slsa-provenance-v1")
_SIGNATURE_TYPES = frozenset(
    {COSIGN_ARTIFACT_TYPES["sig"], NOTATION_ARTIFACT_TYPE, *_cosign.SIGSTORE_BUNDLE_MEDIA_TYPES}
)


def _open(ref: Ref, session: Session | None) -> Image | ImageIndex:
    if isinstance(ref, (Image, ImageIndex)):
        return ref
    return _open_ref(ref, session=session)


def _platform(platform: Platform | str | None) -> str | None:
    return str(platform) if platform is not None else None


def referrers(
    ref: Ref,
    platform: Platform | str | None = None,
    artifact_type: str | None = None,
    *,
    all_platforms: bool = False,
    depth: int = 1,
    cosign: bool = True,
    read: bool = True,
    max_bytes: int | None = None,
    max_edges: int = MAX_EDGES,
    session: Session | None = None,
) -> Table:
    """Artifacts attached to the image, one row per edge (subject -> artifact), with how each
    was found (columns: :func:`~ociinspect.tables.supply.referrer_edges_frame`).

    On an index: the index's own referrers (``cosign sign`` signs the index), and with
    ``all_platforms=True`` those of each of its images too; with ``platform``, only that
    image's. ``depth=2`` follows referrers of referrers (a signature on an SBOM), up to
    :data:`~.discovery.MAX_DEPTH`. ``artifact_type`` keeps the depth-1 artifacts of that type
    (and what hangs under them). ``cosign=False`` skips cosign's tags (three HEADs per
    subject); ``read=False`` reads no layer (``kind`` then comes from media types and
    annotations). :func:`~ociinspect.tables.supply.referrer_tree` turns the table into a tree.
    """
    found = _open(ref, session)
    nodes = discovery.roots(found, _platform(platform), images=all_platforms)
    edges = discovery.walk(
        found.source, nodes, depth, cosign=cosign, artifact_type=artifact_type,
        max_edges=max_edges,
    )
    return referrer_edges_frame(
        discovery.load(found.source, edges, read=read, max_bytes=max_bytes), nodes
    )


def attached(
    ref: Ref,
    platform: Platform | str | None = None,
    *,
    depth: int = 1,
    cosign: bool = True,
    max_bytes: int | None = None,
    max_edges: int = MAX_EDGES,
    session: Session | None = None,
) -> list[Attached]:
    """Everything attached to an image, read: the records behind :func:`attestations`,
    :func:`sbom`, :func:`provenance` and :func:`signatures`.

    The subjects are the index and every image of it (or, with ``platform``, that image; or
    the image itself). Found: BuildKit's attestation manifests in the index, referrers (API,
    fallback, layout) and cosign's tags, to ``depth``."""
    found = _open(ref, session)
    nodes = discovery.roots(found, _platform(platform), images=True)
    edges = discovery.index_attestations(found, nodes)
    edges += discovery.walk(found.source, nodes, depth, cosign=cosign, max_edges=max_edges)
    return discovery.load(found.source, edges, read=True, max_bytes=max_bytes)


def attestations(
    ref: Ref,
    platform: Platform | str | None = None,
    *,
    depth: int = 1,
    cosign: bool = True,
    max_bytes: int | None = None,
    session: Session | None = None,
) -> Table:
    """The in-toto statements about an image: BuildKit's attestation manifests, cosign's
    ``.att`` envelopes, Sigstore bundles and other referrers, one row per statement with its
    ``predicateType`` and kind (columns: :func:`~ociinspect.tables.supply.attestations_frame`).
    A statement that cannot be read is a row with its typed error."""
    return attestations_frame(
        attached(ref, platform, depth=depth, cosign=cosign, max_bytes=max_bytes, session=session)
    )


def _parsed(item: Attached, doc: Document, parse: Callable[..., T], *args: Any, **kw: Any) -> T:
    """``parse(*args, **kw)``, its typed error naming the layer and the artifact."""
    try:
        return parse(*args, **kw)
    except OCIInspectError as exc:
        where = discovery.describe(item.edge, doc.position, doc.layer)
        raise discovery.located(exc, where) from None


def _may_hold(edge: Edge, suffixes: tuple[str, ...]) -> bool:
    """Whether an artifact that could not be loaded might have held an SBOM/provenance (then
    the table would be partial without it): not when it is a signature, or a cosign tag of
    another kind."""
    if edge.tag is not None:
        return edge.tag.rpartition(".")[2] in suffixes
    return edge.artifact_type not in _SIGNATURE_TYPES


def _check_loaded(items: list[Attached], suffixes: tuple[str, ...]) -> None:
    for item in items:
        if item.error is not None and _may_hold(item.edge, suffixes):
            raise item.error


def sbom(
    ref: Ref,
    platform: Platform | str | None = None,
    *,
    depth: int = 1,
    cosign: bool = True,
    max_bytes: int | None = None,
    session: Session | None = None,
) -> Table:
    """The packages of every SBOM attached to an image: SPDX and CycloneDX, as in-toto
    statements (BuildKit, ``cosign attest``) or documents attached as they are (``cosign
    attach sbom``, an OCI 1.1 referrer); one row per package with name, version, license,
    purl, supplier and the document format (columns:
    :func:`~ociinspect.tables.supply.sbom_frame`). A malformed or oversized SBOM raises its
    typed error, naming the layer."""
    items = attached(ref, platform, depth=depth, cosign=cosign, max_bytes=max_bytes,
                     session=session)
    _check_loaded(items, ("sbom", "att"))
    return sbom_frame([replace(item, documents=_sboms(item)) for item in items])


def _sboms(item: Attached) -> tuple[Document, ...]:
    """The item's documents, SBOM statements' predicates parsed (or their errors raised)."""
    docs = []
    for doc in item.documents:
        if doc.error is not None and doc.kind in (SPDX, CYCLONEDX):
            raise doc.error
        predicate = doc.statement.predicate if doc.statement is not None else None
        if predicate is not None and doc.kind == SPDX:
            spdx = _parsed(item, doc, spdx_from_predicate, predicate, what="SPDX predicate")
            doc = replace(doc, spdx=spdx)
        elif predicate is not None and doc.kind == CYCLONEDX:
            what = "CycloneDX predicate"
            bom = _parsed(item, doc, cyclonedx_from_predicate, predicate, what=what)
            doc = replace(doc, cyclonedx=bom)
        docs.append(doc)
    return tuple(docs)


def _provenances(items: list[Attached]) -> list[tuple[Attached, Document, Provenance]]:
    _check_loaded(items, ("att",))
    found = []
    for item in items:
        for doc in item.documents:
            if doc.kind not in PROVENANCE_KINDS:
                continue
            if doc.error is not None:
                raise doc.error
            statement = doc.statement
            if statement is not None:
                read = _parsed(item, doc, provenance_from_statement, statement)
                found.append((item, doc, read))
    return found


def provenance(
    ref: Ref,
    platform: Platform | str | None = None,
    *,
    materials: bool = False,
    depth: int = 1,
    cosign: bool = True,
    max_bytes: int | None = None,
    session: Session | None = None,
) -> Table:
    """The SLSA provenance (v0.2 and v1) attached to an image, one row per document: builder
    id, build type, invocation parameters (BuildKit's frontend and build arguments), config
    source, timestamps and a count of materials (columns:
    :func:`~ociinspect.tables.supply.provenance_frame`). ``materials=True``: one row per
    material instead, with its uri and digests. A malformed or oversized provenance raises
    its typed error, naming the layer."""
    items = attached(ref, platform, depth=depth, cosign=cosign, max_bytes=max_bytes,
                     session=session)
    found = _provenances(items)
    return materials_frame(found) if materials else provenance_frame(found)


def signatures(
    ref: Ref,
    platform: Platform | str | None = None,
    *,
    depth: int = 1,
    cosign: bool = True,
    max_bytes: int | None = None,
    session: Session | None = None,
) -> Table:
    """The signatures attached to an image (cosign ``.sig`` tags, ``.att`` envelopes, Sigstore
    bundles, notation signatures, as tags or referrers), one row per signature with its
    payload's claims: the digest signed, the identity and issuer of the certificate, the
    transparency-log entry (columns: :func:`~ociinspect.tables.supply.signatures_frame`).
    ``depth=2`` adds signatures of what is attached (an SBOM's). Not verified: see the
    module docstring."""
    return signatures_frame(
        attached(ref, platform, depth=depth, cosign=cosign, max_bytes=max_bytes, session=session)
    )


def tree(ref: Ref, **options: Any) -> tuple[ReferrerNode, ...]:
    """:func:`referrers` (same options; ``all_platforms`` and ``depth=2`` by default) as a
    tree of :class:`~ociinspect.tables.supply.ReferrerNode`."""
    options.setdefault("all_platforms", True)
    options.setdefault("depth", 2)
    return referrer_tree(referrers(ref, **options))


__all__ = [
    "MAX_DEPTH",
    "MAX_EDGES",
    "Attached",
    "Edge",
    "Node",
    "ReferrerNode",
    "attached",
    "attestations",
    "provenance",
    "referrer_tree",
    "referrers",
    "sbom",
    "signatures",
    "tree",
    "tree_lines",
]
