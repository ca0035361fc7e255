"""One layer of an artifact attached to an image, read into what it says: bytes in, a Document out.

Which parser reads a layer is decided by its media type (:func:`reader_for`):

=====================================================  ==============  =====================
layer media type                                       reader          default size cap
=====================================================  ==============  =====================
``application/vnd.in-toto+json`` (BuildKit),           ``in-toto``     24 MiB (a statement,
``application/vnd.in-toto.<predicate>+json``,                          or an envelope around
``application/vnd.dsse.envelope.v1+json`` (cosign)                     one)
``application/vnd.dev.cosign.simplesigning.v1+json``   ``simplesigning``  1 MiB
``application/vnd.dev.sigstore.bundle…+json``          ``sigstore-bundle``  25 MiB
``application/spdx+json``, ``text/spdx+json``          ``spdx``        16 MiB
``application/vnd.cyclonedx+json``                     ``cyclonedx``   16 MiB
=====================================================  ==============  =====================

The caps are the parsers' own; ``max_bytes=`` replaces them.
A layer over its cap is refused from its descriptor's size, before a byte is fetched
(:func:`check_size`). Other layers (notation signatures, tag-value SPDX, anything unknown) are
not read; their kind comes from the media type alone.

A document's ``kind`` is the short name of what it says: for an in-toto statement,
:func:`~ociinspect.artifacts.kind_of` its ``predicateType`` (``slsa-provenance-v1``,
``spdx``, ``cyclonedx``, ``vuln``, ...; an unknown type is shown whole); ``simplesigning`` for
cosign's simple-signing payload; ``spdx`` / ``cyclonedx`` for an SBOM attached as it is;
``sigstore-bundle`` for a bundle that signs a message rather than a statement;
``notation-signature`` for a Notary Project signature.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import SizeLimitError
from ..values.models import Descriptor
from . import cosign as _cosign
from . import cyclonedx as _cyclonedx
from . import intoto as _intoto
from . import sigstore as _sigstore
from . import spdx as _spdx
from .cosign import Signature, parse_signature_layer
from .cyclonedx import CycloneDxBom, parse_cyclonedx
from .intoto import Envelope, Statement, kind_of, parse_attestation
from .sigstore import parse_sigstore_bundle
from .spdx import SpdxDocument, parse_spdx

IN_TOTO, SIMPLESIGNING, BUNDLE = "in-toto", "simplesigning", "sigstore-bundle"
SPDX, CYCLONEDX, NOTATION = "spdx", "cyclonedx", "notation-signature"

#: The Notary Project's signature artifact type (notaryproject/specifications, signature-spec).
NOTATION_ARTIFACT_TYPE = "application/vnd.cncf.notary.signature"
#: cosign's artifact types for what it attaches as OCI 1.1 referrers (pkg/oci/remote,
#: ``ArtifactType``): what its ``.sig``/``.att``/``.sbom`` tags hold, under that mode.
COSIGN_ARTIFACT_TYPES = {
    suffix: f"application/vnd.dev.cosign.artifact.{suffix}.v1+json"
    for suffix in _cosign.TAG_SUFFIXES
}

_IN_TOTO_TYPES = re.compile(r"application/vnd\.in-toto(\.[A-Za-z0-9_.-]+)?\+json")
_SPDX_TYPES = frozenset({"application/spdx+json", _cosign.SPDX_JSON_MEDIA_TYPE})
_CYCLONEDX_TYPES = frozenset({_cosign.CYCLONEDX_JSON_MEDIA_TYPE})
#: Layers whose kind is known from the media type, but that are not read.
_UNREAD_KINDS = {
    _cosign.SPDX_MEDIA_TYPE: SPDX,
    "application/spdx": SPDX,
    _cosign.CYCLONEDX_XML_MEDIA_TYPE: CYCLONEDX,
    _cosign.SYFT_JSON_MEDIA_TYPE: "syft",
    "application/jose+json": NOTATION,
    "application/cose": NOTATION,
}

#: Each reader's default cap on a layer's bytes: the parser's own default.
LIMITS = {
    IN_TOTO: _intoto.DEFAULT_ENVELOPE_MAX_BYTES,
    SIMPLESIGNING: _cosign.DEFAULT_PAYLOAD_MAX_BYTES,
    BUNDLE: _sigstore.DEFAULT_MAX_BYTES,
    SPDX: _spdx.DEFAULT_MAX_BYTES,
    CYCLONEDX: _cyclonedx.DEFAULT_MAX_BYTES,
}


def reader_for(media_type: str) -> str | None:
    """The reader of a layer of this media type (see the module table); None: not read."""
    if media_type == _cosign.DSSE_ENVELOPE_MEDIA_TYPE or _IN_TOTO_TYPES.fullmatch(media_type):
        return IN_TOTO
    if media_type == _cosign.SIMPLESIGNING_MEDIA_TYPE:
        return SIMPLESIGNING
    if media_type in _cosign.SIGSTORE_BUNDLE_MEDIA_TYPES:
        return BUNDLE
    if media_type in _SPDX_TYPES:
        return SPDX
    if media_type in _CYCLONEDX_TYPES:
        return CYCLONEDX
    return None


def limit_for(reader: str, max_bytes: int | None = None) -> int:
    """The cap on a layer's bytes for ``reader``: ``max_bytes``, else the parser's default."""
    return LIMITS[reader] if max_bytes is None else max_bytes


def check_size(layer: Descriptor, reader: str, what: str, max_bytes: int | None = None) -> None:
    """Refuse, before any byte is fetched, a layer whose descriptor says it is over the cap."""
    limit = limit_for(reader, max_bytes)
    if layer.size > limit:
        raise SizeLimitError(f"{what} (pass max_bytes= to read more)", limit, layer.size)


@dataclass(frozen=True)
class Document:
    """One layer of an attached artifact and what it says (the parsed records, or the typed
    error that reading it raised: never half of a document)."""

    position: int
    layer: Descriptor
    reader: str | None
    kind: str | None
    predicate_type: str | None = None
    statement: Statement | None = None
    envelope: Envelope | None = None
    signature: Signature | None = None
    spdx: SpdxDocument | None = None
    cyclonedx: CycloneDxBom | None = None
    error: BaseException | None = None


def annotated(position: int, layer: Descriptor) -> Document:
    """What a layer is, from its descriptor alone (no read): the kind its media type names,
    and the predicate type its annotations claim (cosign's ``predicateType``, BuildKit's
    ``in-toto.io/predicate-type``, the Sigstore bundle's ``dev.sigstore.bundle.predicateType``)."""
    reader = reader_for(layer.media_type)
    notes = layer.annotations
    predicate = (
        notes.get(_cosign.BUILDKIT_PREDICATE_TYPE_ANNOTATION)
        or notes.get(_cosign.COSIGN_PREDICATE_TYPE_ANNOTATION)
        or notes.get("dev.sigstore.bundle.predicateType")
    )
    if predicate is not None and reader in (IN_TOTO, BUNDLE):
        kind: str | None = kind_of(predicate)
    elif reader in (SIMPLESIGNING, BUNDLE, SPDX, CYCLONEDX):
        kind = reader
    else:
        kind = _UNREAD_KINDS.get(layer.media_type)
    return Document(position, layer, reader, kind, predicate)


def read(position: int, layer: Descriptor, data: bytes, max_bytes: int | None = None) -> Document:
    """Parse the bytes of a layer with its reader (:func:`reader_for`). Raises the parser's
    typed error (``InvalidAttestationError``, ``SizeLimitError``, ``CountLimitError``) for a
    document that is malformed, of the wrong shape or too large."""
    reader = reader_for(layer.media_type)
    if reader is None:
        return annotated(position, layer)
    limit = limit_for(reader, max_bytes)
    if reader == IN_TOTO:
        found = parse_attestation(data, max_bytes=limit)
        statement = found.statement
        signature = None
        if found.envelope is not None and _cosign.SIGNATURE_ANNOTATION in layer.annotations:
            signature = parse_signature_layer(
                layer.annotations, media_type=_cosign.DSSE_ENVELOPE_MEDIA_TYPE
            )
        return Document(
            position, layer, reader, statement.kind, statement.predicate_type,
            statement=statement, envelope=found.envelope, signature=signature,
        )
    if reader == SIMPLESIGNING:
        signature = parse_signature_layer(
            layer.annotations, media_type=layer.media_type, payload=data, max_payload_bytes=limit
        )
        return Document(position, layer, reader, SIMPLESIGNING, signature=signature)
    if reader == BUNDLE:
        signature = parse_sigstore_bundle(data, max_bytes=limit)
        envelope = signature.envelope
        if envelope is not None and envelope.is_in_toto:
            statement = envelope.statement(max_bytes=limit)
            return Document(
                position, layer, reader, statement.kind, statement.predicate_type,
                statement=statement, envelope=envelope, signature=signature,
            )
        return Document(position, layer, reader, BUNDLE, signature=signature, envelope=envelope)
    if reader == SPDX:
        return Document(position, layer, reader, SPDX, spdx=parse_spdx(data, max_bytes=limit))
    bom = parse_cyclonedx(data, max_bytes=limit)
    return Document(position, layer, reader, CYCLONEDX, cyclonedx=bom)


def summary(documents: tuple[Document, ...], what: str) -> str | None:
    """The distinct values of one field (``kind`` or ``predicate_type``) of some documents, in
    order, joined with ``", "``; None when there is none."""
    seen: list[str] = []
    for document in documents:
        value = getattr(document, what)
        if value is not None and value not in seen:
            seen.append(value)
    return ", ".join(seen) or None


def attested(layers: Sequence[Descriptor]) -> str | None:
    """What an attestation manifest's layers attest, from their descriptors alone (BuildKit
    annotates each with ``in-toto.io/predicate-type``): the kinds, comma-joined, e.g.
    ``"slsa-provenance-v0.2, spdx"``; None when no layer says."""
    return summary(tuple(annotated(i, d) for i, d in enumerate(layers)), "kind")


__all__ = [
    "BUNDLE",
    "COSIGN_ARTIFACT_TYPES",
    "CYCLONEDX",
    "IN_TOTO",
    "LIMITS",
    "NOTATION",
    "NOTATION_ARTIFACT_TYPE",
    "SIMPLESIGNING",
    "SPDX",
    "Document",
    "annotated",
    "attested",
    "check_size",
    "limit_for",
    "read",
    "reader_for",
    "summary",
]
