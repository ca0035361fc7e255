"""What is attached to an image, and how it was found; then what each attached thing says.

Four ways to find an artifact about a manifest (``found_by``), tried together:

=================  ==========================================================================
``referrers API``  ``GET /v2/<name>/referrers/<digest>`` (distribution-spec v1.1 "Listing
                   Referrers"): manifests whose ``subject`` is the digest
``tag fallback``   the index tagged ``sha256-<hex>`` that pushers keep where the API is
                   missing ("Referrers Tag Schema"); asked only when the API is not there
``cosign tag``     cosign's tags ``sha256-<hex>.sig``, ``.att`` and ``.sbom``, resolved with a
                   HEAD each (a HEAD is not a pull on Docker Hub); in a layout, ref names
``layout``         an OCI layout's manifests whose ``subject`` is the digest
``index``          BuildKit's attestation manifests, entries of the image index that
                   ``describe`` one of its images (only for the attestation tables)
=================  ==========================================================================

An artifact found two ways for one subject is one edge whose ``found_by`` names both.
:func:`walk` follows referrers of referrers (a signature on an SBOM) level by level to a
bounded depth, each level's lookups concurrently; a subject is asked once, so a loop ends.
:func:`load` then fetches each artifact's manifest and reads its layers within their size caps
(:mod:`ociinspect.artifacts.layers`); a layer that cannot be read carries its typed error,
never half a document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

from ..artifacts import layers as documents
from ..artifacts.cosign import TAG_SUFFIXES, cosign_tag
from ..artifacts.layers import Document
from ..errors import (
    CountLimitError,
    InvalidAttestationError,
    InvalidCosignTagError,
    InvalidDigestError,
    InvalidDocumentError,
    NotFoundError,
    OCIInspectError,
    SizeLimitError,
    SourceError,
)
from ..navigation import Image, ImageIndex, image
from ..sources import Source
from ..sources.layout import REF_NAME, LayoutSource
from ..sources.registry import RegistrySource
from ..values.digest import Digest
from ..values.entries import ATTESTATION, IMAGE, INDEX
from ..values.models import Descriptor, Index, Manifest, parse_document

API, FALLBACK, COSIGN, LAYOUT, IN_INDEX = (
    "referrers API", "tag fallback", "cosign tag", "layout", "index",
)
FOUND_BY = (API, FALLBACK, COSIGN, LAYOUT, IN_INDEX)
#: Deepest ``depth=`` a walk accepts (a signature of a signature of an SBOM is depth 3).
MAX_DEPTH = 8
#: Most edges a walk collects before it stops with CountLimitError (``max_edges=``).
MAX_EDGES = 1000
#: Lookups and artifact loads in flight at once (each holds one pooled connection).
MAX_WORKERS = 16

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Node:
    """Something artifacts can be attached to: the index, one of its images, or an artifact.
    ``platform`` is the platform of the image it is, or hangs under (None for the index)."""

    digest: Digest
    media_type: str
    kind: str
    platform: str | None = None


@dataclass(frozen=True)
class Edge:
    """One artifact attached to one subject, found at ``depth`` (1 = attached to a root)."""

    subject: Node
    referrer: Descriptor
    depth: int
    found_by: tuple[str, ...]
    tag: str | None = None

    @property
    def artifact_type(self) -> str | None:
        """The descriptor's ``artifactType``; for a cosign tag without one, cosign's own type
        for what the tag holds (``application/vnd.dev.cosign.artifact.sig.v1+json`` ...)."""
        if self.referrer.artifact_type is not None or self.tag is None:
            return self.referrer.artifact_type
        suffix = self.tag.rpartition(".")[2]
        return documents.COSIGN_ARTIFACT_TYPES.get(suffix)


@dataclass(frozen=True)
class Attached:
    """An edge with what its artifact holds: the manifest and each layer read (or why the
    manifest could not be loaded, in ``error``)."""

    edge: Edge
    manifest: Manifest | Index | None
    documents: tuple[Document, ...] = ()
    error: BaseException | None = None


def _pool(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(items))) as pool:
        return list(pool.map(function, items))


# --------------------------------------------------------------------------- roots


def roots(found: Image | ImageIndex, platform: str | None, images: bool) -> list[Node]:
    """The subjects a call is about: an image alone; for an index and a ``platform``, that
    platform's image; else the index itself and, with ``images``, each of its images."""
    if isinstance(found, Image) or platform is not None:
        img = image(found, platform)  # PlatformNotFoundError when it is not there
        shown = str(img.platform) if img.platform is not None else None
        return [Node(img.digest, img.manifest.media_type, IMAGE, shown)]
    nodes = [Node(found.digest, found.index.media_type, INDEX)]
    if images:
        nodes += [
            Node(e.descriptor.digest, e.descriptor.media_type, e.kind, e.platform_string)
            for e in found.entries
            if e.kind in (IMAGE, INDEX)
        ]
    return nodes


def index_attestations(found: Image | ImageIndex, nodes: Iterable[Node]) -> list[Edge]:
    """BuildKit's attestation manifests of an index that describe one of ``nodes``."""
    if not isinstance(found, ImageIndex):
        return []
    by_digest: dict[str, Node] = {str(n.digest): n for n in nodes}
    return [
        Edge(by_digest[e.describes], e.descriptor, 1, (IN_INDEX,))
        for e in found.entries
        if e.kind == ATTESTATION and e.describes is not None and e.describes in by_digest
    ]


# --------------------------------------------------------------------------- one subject


def _listed(source: Source, digest: Digest) -> tuple[list[Descriptor], str | None]:
    """The referrers a source lists for ``digest``, and how it found them."""
    if isinstance(source, RegistrySource):
        if source.offline:
            raise SourceError(f"offline: the referrers of {source.name} are never cached")
        info, how = source.client.find_referrers(source.registry, source.repository, digest)
        found_by = {"api": API, "tag": FALLBACK}.get(how)
    else:
        info = source.referrers(digest)
        found_by = LAYOUT
    doc = parse_document(info.raw, info.media_type or None, info.digest)
    if not isinstance(doc, Index):
        raise InvalidDocumentError(f"referrers of {digest}", "the answer is not an index")
    return list(doc.manifests), found_by


def _tagged(source: Source, tag: str) -> Descriptor | None:
    """The manifest a cosign tag names in ``source``, None when there is no such tag."""
    if isinstance(source, RegistrySource):
        try:
            head = source.client.head_manifest(source.registry, source.repository, tag)
        except NotFoundError:
            return None
        media_type, size = head.media_type, head.size
        if head.manifest is not None:
            media_type, size = head.manifest.media_type, len(head.manifest.raw)
        if size is None or not media_type:
            info = source.manifest(head.digest)
            media_type, size = info.media_type or media_type, len(info.raw)
        return Descriptor(media_type or "", head.digest, size)
    if isinstance(source, LayoutSource):
        for entry in source.index.manifests:
            if entry.annotations.get(REF_NAME) == tag:
                return entry
    return None


def _cosign_tags(digest: Digest) -> list[str]:
    try:
        return [cosign_tag(digest, suffix) for suffix in TAG_SUFFIXES]
    except (InvalidCosignTagError, InvalidDigestError):
        return []  # a digest cosign makes no tag of (an unknown algorithm, a too long tag)


Found = list[tuple[Descriptor, str, str | None]]


def _probe(source: Source, task: tuple[Node, str | None]) -> Found:
    """One lookup: the listing of a subject (``tag`` None) or one of its cosign tags."""
    node, tag = task
    if tag is None:
        listed, how = _listed(source, node.digest)
        return [(d, how, None) for d in listed] if how is not None else []
    desc = _tagged(source, tag)
    return [(desc, COSIGN, tag)] if desc is not None else []


def direct(
    source: Source, nodes: Sequence[Node], cosign: bool = True, depth: int = 1
) -> list[Edge]:
    """The artifacts attached to each of ``nodes``, all looked up concurrently: one edge per
    (subject, artifact), in the order of ``nodes``, listing first, then cosign's tags."""
    tasks: list[tuple[Node, str | None]] = []
    for node in nodes:
        tasks.append((node, None))
        if cosign:
            tasks.extend((node, tag) for tag in _cosign_tags(node.digest))
    answers = _pool(lambda task: _probe(source, task), tasks)
    edges: dict[tuple[str, str], Edge] = {}
    for (node, _), found in zip(tasks, answers, strict=True):
        for desc, how, tag in found:
            key = (node.digest, desc.digest)
            known = edges.get(key)
            if known is None:
                edges[key] = Edge(node, desc, depth, (how,), tag)
            elif how not in known.found_by:
                edges[key] = replace(known, found_by=(*known.found_by, how), tag=known.tag or tag)
    return list(edges.values())


# --------------------------------------------------------------------------- walking


def walk(
    source: Source,
    nodes: Sequence[Node],
    depth: int = 1,
    *,
    cosign: bool = True,
    artifact_type: str | None = None,
    max_edges: int = MAX_EDGES,
) -> list[Edge]:
    """Every artifact attached to ``nodes`` (depth 1), to artifacts found at depth 1 (depth
    2), and so on to ``depth``: one edge per (subject, artifact). ``artifact_type`` keeps only
    the depth-1 artifacts of that type (and what is attached to them). More than
    ``max_edges`` edges is a CountLimitError (nothing partial is returned)."""
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be 1 to {MAX_DEPTH}, got {depth!r}")
    seen = {n.digest for n in nodes}
    frontier, edges = list(nodes), []
    for level in range(1, depth + 1):
        found = direct(source, frontier, cosign, level)
        if level == 1 and artifact_type is not None:
            found = [e for e in found if e.artifact_type == artifact_type]
        edges.extend(found)
        if len(edges) > max_edges:
            what = f"artifacts attached to {nodes[0].digest} (to depth {level})"
            raise CountLimitError(what, max_edges, len(edges), "max_edges")
        frontier = []
        for edge in found:
            if edge.referrer.digest not in seen:
                seen.add(edge.referrer.digest)
                frontier.append(
                    Node(edge.referrer.digest, edge.referrer.media_type, "artifact",
                         edge.subject.platform)
                )
        if not frontier:
            break
    return edges


# --------------------------------------------------------------------------- loading


def located(error: BaseException, where: str) -> BaseException:
    """A parser's typed error, of the same class, naming the layer and artifact it came from."""
    if isinstance(error, CountLimitError):
        return CountLimitError(f"{error.what} ({where})", error.limit, error.size or 0,
                               error.argument)
    if isinstance(error, SizeLimitError):
        return SizeLimitError(f"{error.what} ({where})", error.limit, error.size)
    if isinstance(error, InvalidAttestationError):
        return InvalidAttestationError(f"{error.what} ({where})", error.reason, error.fields)
    return error


def describe(edge: Edge, position: int, layer: Descriptor) -> str:
    """Where a layer is: ``layer 0 sha256:… of sha256:…, attached to sha256:… (cosign tag)``."""
    return (
        f"layer {position} {layer.digest} of {edge.referrer.digest}, attached to "
        f"{edge.subject.digest} ({', '.join(edge.found_by)})"
    )


def _document(
    source: Source, edge: Edge, position: int, layer: Descriptor, read: bool,
    max_bytes: int | None,
) -> Document:
    reader = documents.reader_for(layer.media_type)
    if not read or reader is None:
        return documents.annotated(position, layer)
    where = describe(edge, position, layer)
    try:
        documents.check_size(layer, reader, f"{reader} layer", max_bytes)
        data = layer.verified_data()
        if data is None:
            limit = documents.limit_for(reader, max_bytes)
            data = source.blob(layer.digest, layer.size, max_size=limit)
        return documents.read(position, layer, data, max_bytes)
    except OCIInspectError as exc:
        return replace(documents.annotated(position, layer), error=located(exc, where))


def _load_one(
    source: Source, edge: Edge, read: bool, max_bytes: int | None
) -> tuple[Manifest | Index | None, tuple[Document, ...], BaseException | None]:
    desc = edge.referrer
    try:
        info = source.manifest(desc.digest, desc.size)
        doc = parse_document(info.raw, info.media_type or desc.media_type, info.digest)
    except OCIInspectError as exc:
        return None, (), exc
    if isinstance(doc, Index):
        return doc, (), None
    found = tuple(
        _document(source, edge, i, layer, read, max_bytes)
        for i, layer in enumerate(doc.layers)
    )
    return doc, found, None


def load(
    source: Source, edges: Sequence[Edge], *, read: bool = True, max_bytes: int | None = None
) -> list[Attached]:
    """Each edge with its artifact's manifest and layers (``read=False``: kinds from the
    descriptors only, no layer fetched). Each artifact is loaded once, concurrently."""
    first: dict[str, Edge] = {}
    for edge in edges:
        first.setdefault(edge.referrer.digest, edge)
    unique = list(first.values())
    loaded = dict(
        zip(
            (e.referrer.digest for e in unique),
            _pool(lambda e: _load_one(source, e, read, max_bytes), unique),
            strict=True,
        )
    )
    return [Attached(edge, *loaded[edge.referrer.digest]) for edge in edges]


__all__ = [
    "API",
    "COSIGN",
    "FALLBACK",
    "FOUND_BY",
    "IN_INDEX",
    "LAYOUT",
    "MAX_DEPTH",
    "MAX_EDGES",
    "Attached",
    "Edge",
    "Node",
    "describe",
    "direct",
    "index_attestations",
    "load",
    "located",
    "roots",
    "walk",
]
