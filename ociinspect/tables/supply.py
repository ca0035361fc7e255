"""Supply-chain tables: referrer edges and their tree, attestations, SBOM packages, provenance,
signatures. Pure: records in (:class:`~ociinspect.supply.discovery.Attached`), tables out.

Columns every table here shares:

=============  =======  ====================================================================
``subject``    string   the digest the artifact is attached to (by ``subject`` field, cosign
                        tag or BuildKit's ``vnd.docker.reference.digest``)
``platform``   string   the platform of the image the row is about, or hangs under (<NA> for
                        the index itself); ``subject_platform`` in the referrers table
``found_by``   string   how the artifact was found: ``referrers API``, ``tag fallback``,
                        ``cosign tag``, ``layout`` or ``index`` (BuildKit), comma-joined
                        when more than one way found it
``manifest``   string   the digest of the artifact's manifest
``layer``      string   the digest of the layer the row was read from
``error``      string   why this row's artifact or layer could not be read, else <NA>
=============  =======  ====================================================================

Nothing here verifies a signature: ``identity`` and ``issuer`` are what a certificate *claims*,
``claims_subject`` only compares the digest a payload names with the row's subject.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..artifacts.cosign import Signature
from ..artifacts.intoto import Statement
from ..artifacts.layers import BUNDLE, IN_TOTO, NOTATION, SIMPLESIGNING, Document, summary
from ..artifacts.provenance import Provenance
from ..terminal import safe
from ..values.units import format_size, short_digest
from .frame import INT, OPTIONAL_INT, STRING, TIME, Table, table, utc
from .index import error_text

if TYPE_CHECKING:
    from ..supply.discovery import Attached, Node

OPTIONAL_BOOL = pd.BooleanDtype()

REFERRER_EDGES_COLUMNS: dict[str, Any] = {
    "subject": STRING,
    "subject_kind": STRING,
    "subject_platform": STRING,
    "depth": INT,
    "digest": STRING,
    "artifact_type": STRING,
    "media_type": STRING,
    "size": INT,
    "kind": STRING,
    "predicate_type": STRING,
    "found_by": STRING,
    "tag": STRING,
    "annotations": STRING,
    "error": STRING,
}

ATTESTATIONS_COLUMNS: dict[str, Any] = {
    "subject": STRING,
    "platform": STRING,
    "kind": STRING,
    "predicate_type": STRING,
    "statement_type": STRING,
    "statement_subjects": STRING,
    "about_subject": OPTIONAL_BOOL,
    "signatures": OPTIONAL_INT,
    "found_by": STRING,
    "manifest": STRING,
    "layer": STRING,
    "media_type": STRING,
    "size": INT,
    "error": STRING,
}

SBOM_COLUMNS: dict[str, Any] = {
    "subject": STRING,
    "platform": STRING,
    "format": STRING,
    "name": STRING,
    "version": STRING,
    "license": STRING,
    "purl": STRING,
    "supplier": STRING,
    "type": STRING,
    "document": STRING,
    "found_by": STRING,
    "manifest": STRING,
    "layer": STRING,
}

PROVENANCE_COLUMNS: dict[str, Any] = {
    "subject": STRING,
    "platform": STRING,
    "slsa_version": STRING,
    "builder_id": STRING,
    "build_type": STRING,
    "frontend": STRING,
    "build_args": STRING,
    "parameters": STRING,
    "config_source": STRING,
    "entry_point": STRING,
    "invocation_id": STRING,
    "started_on": TIME,
    "finished_on": TIME,
    "materials": INT,
    "found_by": STRING,
    "manifest": STRING,
    "layer": STRING,
}

MATERIALS_COLUMNS: dict[str, Any] = {
    "subject": STRING,
    "platform": STRING,
    "builder_id": STRING,
    "uri": STRING,
    "digest": STRING,
    "found_by": STRING,
    "layer": STRING,
}

SIGNATURES_COLUMNS: dict[str, Any] = {
    "subject": STRING,
    "platform": STRING,
    "format": STRING,
    "signed_digest": STRING,
    "signed_reference": STRING,
    "claims_subject": OPTIONAL_BOOL,
    "predicate_type": STRING,
    "identity": STRING,
    "issuer": STRING,
    "certificate_sha256": STRING,
    "key_hint": STRING,
    "tlog_index": OPTIONAL_INT,
    "tlog_time": TIME,
    "tlog_kind": STRING,
    "found_by": STRING,
    "manifest": STRING,
    "layer": STRING,
    "error": STRING,
}


def _json(value: Mapping[str, Any] | None) -> str | None:
    if not value:
        return None
    return json.dumps(dict(value), sort_keys=True, ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    """JSON for the read-only mappings and tuples the parsers return."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(type(value).__name__)


def _digest_set(digests: Mapping[str, str]) -> str | None:
    return ", ".join(f"{alg}:{value}" for alg, value in digests.items()) or None


def _subject_digests(statement: Statement) -> list[str]:
    """A statement's subject digests as ``alg:hex``."""
    return [f"{alg}:{value}" for s in statement.subjects for alg, value in s.digest.items()]


def _columns(spec: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {name: [] for name in spec}


def _append(columns: dict[str, list[Any]], row: Mapping[str, Any]) -> None:
    for name, values in columns.items():
        values.append(row.get(name))


def _where(item: Attached) -> dict[str, Any]:
    edge = item.edge
    return {
        "subject": edge.subject.digest,
        "platform": edge.subject.platform,
        "found_by": ", ".join(edge.found_by),
        "manifest": edge.referrer.digest,
    }


# --------------------------------------------------------------------------- referrers


def referrer_edges_frame(attached: Iterable[Attached], roots: Sequence[Node] = ()) -> Table:
    """One row per edge: an artifact attached to a subject (the image, the index, one of its
    images, or an artifact found at the depth before).

    ==================  ======  ===========================================================
    column              dtype   meaning
    ==================  ======  ===========================================================
    ``subject``         string  the digest the artifact is attached to
    ``subject_kind``    string  ``index``, ``image`` or ``artifact``
    ``subject_platform`` string the platform of the image the edge hangs under (<NA> for
                                the index's own)
    ``depth``           int64   1 = attached to a root, 2 = to an artifact of depth 1, ...
    ``digest``          string  the artifact's manifest digest
    ``artifact_type``   string  its ``artifactType``; for a cosign tag without one, cosign's
                                ``application/vnd.dev.cosign.artifact.<sig|att|sbom>.v1+json``
    ``media_type``      string  the artifact manifest's media type
    ``size``            int64   bytes of that manifest
    ``kind``            string  what its layers say (:mod:`ociinspect.artifacts.layers`):
                                ``simplesigning``, ``spdx``, ``slsa-provenance-v1``, ...
    ``predicate_type``  string  the in-toto ``predicateType`` of its statements
    ``found_by``        string  ``referrers API``, ``tag fallback``, ``cosign tag``,
                                ``layout`` (comma-joined when several)
    ``tag``             string  the cosign tag it was found under
    ``annotations``     string  the descriptor's annotations, JSON (sorted keys)
    ``error``           string  why its manifest or a layer could not be read
    ==================  ======  ===========================================================

    ``attrs["roots"]`` lists the roots asked about (digest, kind, platform), so
    :func:`referrer_tree` shows a root that has nothing attached too.
    """
    columns = _columns(REFERRER_EDGES_COLUMNS)
    for item in attached:
        edge, desc = item.edge, item.edge.referrer
        errors = [error_text(item.error)] if item.error is not None else []
        errors += [error_text(d.error) for d in item.documents if d.error is not None]
        manifest = item.manifest
        own_type = getattr(manifest, "artifact_type", None) if manifest is not None else None
        _append(
            columns,
            {
                "subject": edge.subject.digest,
                "subject_kind": edge.subject.kind,
                "subject_platform": edge.subject.platform,
                "depth": edge.depth,
                "digest": desc.digest,
                "artifact_type": edge.artifact_type or own_type,
                "media_type": manifest.media_type if manifest is not None else desc.media_type,
                "size": desc.size,
                "kind": summary(item.documents, "kind"),
                "predicate_type": summary(item.documents, "predicate_type"),
                "found_by": ", ".join(edge.found_by),
                "tag": edge.tag,
                "annotations": _json(desc.annotations),
                "error": "; ".join(errors) or None,
            },
        )
    out = table(columns, REFERRER_EDGES_COLUMNS, size_columns=("size",))
    out.attrs["roots"] = [
        {"digest": str(n.digest), "kind": n.kind, "platform": n.platform} for n in roots
    ]
    return out


@dataclass(frozen=True)
class ReferrerNode:
    """One node of the referrers tree: a root (``kind`` ``index`` or ``image``) or an attached
    artifact, with what is attached to it in ``children``. ``label`` is one line of plain text
    (escape it before printing it to a terminal: see :func:`tree_lines`)."""

    digest: str
    kind: str | None
    label: str
    platform: str | None = None
    artifact_type: str | None = None
    found_by: str | None = None
    tag: str | None = None
    size: int | None = None
    error: str | None = None
    depth: int = 0
    children: tuple[ReferrerNode, ...] = ()


def _text(value: Any) -> str | None:
    """A cell as text; None for a missing value (None, <NA>, NaN)."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value)


_COSIGN_TAG = re.compile(r"([a-z0-9]+)-([0-9a-f]{12})[0-9a-f]+(\.[a-z]+)")


def _short_tag(tag: str) -> str:
    """``sha256-<64 hex>.sig`` -> ``sha256-0123456789ab….sig``; other tags as they are."""
    match = _COSIGN_TAG.fullmatch(tag)
    return f"{match[1]}-{match[2]}…{match[3]}" if match else tag


def referrer_tree(
    edges: pd.DataFrame, roots: Sequence[Mapping[str, Any]] | None = None
) -> tuple[ReferrerNode, ...]:
    """The edge table of :func:`ociinspect.supply.referrers` as a tree, for drawing (the CLI's
    ``--tree``, the image browser's Referrers view). Pure.

    ``roots`` (``digest``, ``kind``, ``platform`` mappings) default to ``edges.attrs["roots"]``,
    else to the subjects of the depth-1 rows. An artifact attached to two subjects appears
    under each; a node's children are the rows whose ``subject`` is its digest and whose
    ``depth`` is one more than its own."""
    given = roots if roots is not None else edges.attrs.get("roots") or []
    root_list: list[Mapping[str, Any]] = list(given)
    if not root_list:
        seen: set[str] = set()
        for row in edges[edges["depth"] == 1].itertuples(index=False):
            subject = str(row.subject)
            if subject not in seen:
                seen.add(subject)
                root_list.append(
                    {"digest": subject, "kind": _text(row.subject_kind),
                     "platform": _text(row.subject_platform)}
                )
    by_subject: dict[tuple[str, int], list[Any]] = {}
    for row in edges.itertuples(index=False):
        by_subject.setdefault((str(row.subject), int(str(row.depth))), []).append(row)

    def build(digest: str, depth: int) -> tuple[ReferrerNode, ...]:
        out = []
        for row in by_subject.get((digest, depth + 1), []):
            kind = _text(row.kind)
            what = kind or _text(row.artifact_type) or _text(row.media_type) or "artifact"
            found = _text(row.found_by)
            tag = _text(row.tag)
            how = f"{found} {_short_tag(tag)}" if tag else found
            size = format_size(int(row.size))
            label = f"{what}  {short_digest(str(row.digest))}  {size}  ({how})"
            error = _text(row.error)
            if error:
                label += f"  error: {error}"
            out.append(
                ReferrerNode(
                    str(row.digest), kind, label, _text(row.subject_platform),
                    _text(row.artifact_type), found, tag, int(row.size), error, depth + 1,
                    build(str(row.digest), depth + 1),
                )
            )
        return tuple(out)

    nodes = []
    for root in root_list:
        digest = str(root["digest"])
        kind = _text(root.get("kind"))
        platform = _text(root.get("platform"))
        label = f"{platform or kind or 'subject'}  {short_digest(digest)}"
        nodes.append(ReferrerNode(digest, kind, label, platform, children=build(digest, 0)))
    return tuple(nodes)


def tree_lines(nodes: Sequence[ReferrerNode]) -> list[str]:
    """The tree as text lines with box-drawing branches, every label made terminal-safe
    (:func:`ociinspect.terminal.safe`)."""
    lines: list[str] = []

    def draw(children: Sequence[ReferrerNode], prefix: str) -> None:
        for i, child in enumerate(children):
            last = i == len(children) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{safe(child.label)}")
            draw(child.children, prefix + ("    " if last else "│   "))

    for node in nodes:
        lines.append(safe(node.label))
        if not node.children:
            lines.append("└── (nothing attached)")
        draw(node.children, "")
    return lines


# --------------------------------------------------------------------------- attestations


def attestations_frame(attached: Iterable[Attached]) -> Table:
    """One row per in-toto statement attached to the subjects (a BuildKit attestation layer,
    a cosign ``.att`` envelope, a Sigstore bundle's envelope, an OCI 1.1 referrer), or per
    such layer (or artifact) that could not be read, with the typed error.

    ``kind`` and ``predicate_type`` as in the referrers table; ``statement_type`` is ``v0.1``
    or ``v1``; ``statement_subjects`` the statement's own ``subject`` digests
    (``sha256:<hex>``, comma-joined) and ``about_subject`` whether they include the row's
    ``subject`` (<NA> when unread); ``signatures`` counts the signatures of the envelope
    (0 for a bare statement, as BuildKit stores them); ``media_type``/``size`` are the layer's.
    """
    columns = _columns(ATTESTATIONS_COLUMNS)
    for item in attached:
        where = _where(item)
        if item.error is not None:
            _append(columns, {**where, "error": error_text(item.error), "size": 0})
            continue
        for doc in item.documents:
            unread = doc.statement is None and doc.error is None
            if doc.reader not in (IN_TOTO, BUNDLE) or unread:
                continue
            row = {**where, "layer": doc.layer.digest, "media_type": doc.layer.media_type,
                   "size": doc.layer.size, "kind": doc.kind, "predicate_type": doc.predicate_type}
            statement = doc.statement
            if statement is not None:
                digests = _subject_digests(statement)
                row.update(
                    statement_type=f"v{statement.version}",
                    statement_subjects=", ".join(digests) or None,
                    about_subject=str(item.edge.subject.digest) in digests,
                    signatures=len(doc.envelope.signatures) if doc.envelope is not None else 0,
                )
            if doc.error is not None:
                row["error"] = error_text(doc.error)
            _append(columns, row)
    return table(columns, ATTESTATIONS_COLUMNS, size_columns=("size",))


# --------------------------------------------------------------------------- SBOMs


def _spdx_license(concluded: str | None, declared: str | None) -> str | None:
    """SPDX 2.3 7.13/7.15: the concluded license, else the declared one; NOASSERTION and NONE
    say nothing is known."""
    for value in (concluded, declared):
        if value is not None and value not in ("NOASSERTION", "NONE"):
            return value
    return None


def sbom_frame(attached: Iterable[Attached]) -> Table:
    """One row per package of every SBOM attached to the subjects: SPDX (``packages``) and
    CycloneDX (``components``, nested ones flattened), in-toto statements and documents
    attached as they are alike.

    ``format`` is ``SPDX-2.3`` or ``CycloneDX 1.6`` (the document's own version); ``license``
    is SPDX's ``licenseConcluded``, else ``licenseDeclared`` (NOASSERTION/NONE count as
    absent), or CycloneDX's licenses (ids, names or an expression, comma-joined);
    ``supplier`` is SPDX's ``supplier`` as written (``Organization: …``) or the CycloneDX
    supplier's ``name``; ``type`` is the CycloneDX component type (<NA> for SPDX);
    ``document`` is the SPDX document's ``name`` or the BOM's ``serialNumber``.
    """
    columns = _columns(SBOM_COLUMNS)
    for item in attached:
        where = _where(item)
        for doc in item.documents:
            spdx, bom = doc.spdx, doc.cyclonedx
            base = {**where, "layer": doc.layer.digest}
            if spdx is not None:
                for package in spdx.packages:
                    _append(columns, {
                        **base, "format": spdx.spdx_version, "document": spdx.name,
                        "name": package.name, "version": package.version,
                        "license": _spdx_license(
                            package.license_concluded, package.license_declared
                        ),
                        "purl": package.purl, "supplier": package.supplier,
                    })
            if bom is not None:
                for component in bom.components:
                    licenses = ", ".join(lic.value for lic in component.licenses) or None
                    _append(columns, {
                        **base, "format": f"CycloneDX {bom.spec_version}",
                        "document": bom.serial_number, "name": component.name,
                        "version": component.version, "license": licenses,
                        "purl": component.purl, "supplier": component.supplier,
                        "type": component.type,
                    })
    return table(columns, SBOM_COLUMNS)


# --------------------------------------------------------------------------- provenance


#: Where each version keeps its times (SLSA v0.2 ``metadata``, v1 ``runDetails.metadata``).
_TIME_PATHS = {
    ("0.2", "started_on"): ("metadata", "buildStartedOn"),
    ("0.2", "finished_on"): ("metadata", "buildFinishedOn"),
    ("1", "started_on"): ("runDetails", "metadata", "startedOn"),
    ("1", "finished_on"): ("runDetails", "metadata", "finishedOn"),
}


def _exact_time(doc: Document, p: Provenance, name: str) -> pd.Timestamp | None:
    """A provenance time to the nanosecond, as the document writes it (BuildKit writes
    nanoseconds; the parsed record holds Python's microseconds)."""
    parsed = utc(getattr(p, name))
    value: Any = doc.statement.predicate if doc.statement is not None else None
    for key in _TIME_PATHS[(p.slsa_version, name)]:
        value = value.get(key) if isinstance(value, Mapping) else None
    if parsed is None or not isinstance(value, str):
        return parsed
    try:
        exact = pd.Timestamp(value)
    except ValueError:
        return parsed
    # The same instant, to the microsecond: only then are the extra digits trusted.
    if exact.tzinfo is None or exact.floor("us") != parsed.floor("us"):
        return parsed
    return exact.tz_convert("UTC")


def provenance_frame(found: Iterable[tuple[Attached, Document, Provenance]]) -> Table:
    """One row per SLSA provenance (v0.2 and v1, read into one shape, see
    :mod:`ociinspect.artifacts.provenance`).

    ``builder_id``, ``build_type``, ``invocation_id``, ``started_on``/``finished_on`` (UTC, to
    the nanosecond as written);
    ``frontend`` and ``build_args`` (JSON object, ``build-arg:`` keys without the prefix) for
    BuildKit; ``parameters`` the external parameters (v0.2 ``invocation.parameters``), JSON;
    ``config_source`` its uri and ``entry_point`` the Dockerfile path; ``materials`` counts
    the resolved dependencies (``provenance(ref, materials=True)`` lists them).
    """
    columns = _columns(PROVENANCE_COLUMNS)
    for item, doc, p in found:
        source = p.config_source
        _append(columns, {
            **_where(item), "layer": doc.layer.digest, "slsa_version": p.slsa_version,
            "builder_id": p.builder_id, "build_type": p.build_type, "frontend": p.frontend,
            "build_args": _json(p.build_args), "parameters": _json(p.external_parameters),
            "config_source": source.uri if source else None,
            "entry_point": source.entry_point if source else None,
            "invocation_id": p.invocation_id,
            "started_on": _exact_time(doc, p, "started_on"),
            "finished_on": _exact_time(doc, p, "finished_on"),
            "materials": len(p.resolved_dependencies),
        })
    return table(columns, PROVENANCE_COLUMNS)


def materials_frame(found: Iterable[tuple[Attached, Document, Provenance]]) -> Table:
    """One row per material (v0.2 ``materials``, v1 ``resolvedDependencies``) of every
    provenance: its ``uri`` and ``digest`` (every algorithm of its digest set,
    ``alg:hex``, comma-joined)."""
    columns = _columns(MATERIALS_COLUMNS)
    for item, doc, p in found:
        base = {**_where(item), "layer": doc.layer.digest, "builder_id": p.builder_id}
        for dependency in p.resolved_dependencies:
            _append(columns, {**base, "uri": dependency.uri,
                              "digest": _digest_set(dependency.digest)})
    return table(columns, MATERIALS_COLUMNS)


# --------------------------------------------------------------------------- signatures


def _format(doc: Document, signature: Signature | None) -> str:
    if doc.reader == SIMPLESIGNING:
        return "cosign simple signing"
    if doc.reader == BUNDLE:
        version = signature.bundle_version if signature is not None else None
        return f"sigstore bundle v{version}" if version else "sigstore bundle"
    if doc.kind == NOTATION:
        return "notation"
    return "cosign DSSE" if signature is not None else "DSSE"


def _is_signature(doc: Document) -> bool:
    if doc.reader in (SIMPLESIGNING, BUNDLE) or doc.kind == NOTATION:
        return True
    return doc.reader == IN_TOTO and (doc.envelope is not None or doc.signature is not None
                                      or doc.layer.media_type.startswith("application/vnd.dsse"))


def signatures_frame(attached: Iterable[Attached]) -> Table:
    """One row per signature attached to the subjects, with what its payload claims. Not
    verified (see :mod:`ociinspect.artifacts`).

    ``format``: ``cosign simple signing`` (a ``.sig`` layer), ``cosign DSSE`` (an ``.att``
    envelope with cosign's annotations), ``DSSE``, ``sigstore bundle v0.3``, ``notation`` (a
    Notary Project signature, listed, not read). ``signed_digest`` is the digest the payload
    names (simple signing's ``docker-manifest-digest``; a statement's subject digests; a
    bundle's message digest) and ``signed_reference`` the ``docker-reference``;
    ``claims_subject`` says whether ``signed_digest`` names the row's ``subject``.
    ``identity`` (the certificate's first subject alternative name) and ``issuer`` (Fulcio's
    OIDC issuer extension) are the certificate's claims; ``key_hint`` a bundle's public-key
    hint; ``tlog_*`` the Rekor entry the signer attached (index, integrated time, kind).
    """
    columns = _columns(SIGNATURES_COLUMNS)
    for item in attached:
        where = _where(item)
        for doc in item.documents:
            if not _is_signature(doc):
                continue
            sig = doc.signature
            row: dict[str, Any] = {**where, "layer": doc.layer.digest, "format": _format(doc, sig),
                                   "predicate_type": doc.predicate_type}
            signed: list[str] = []
            if sig is not None and sig.simple_signing is not None:
                signed = [sig.simple_signing.digest]
                row["signed_reference"] = sig.simple_signing.reference
            elif doc.statement is not None:
                signed = _subject_digests(doc.statement)
            elif sig is not None and sig.message_digest is not None:
                algorithm = (sig.message_digest_algorithm or "").replace("SHA2_", "sha")
                signed = [f"{algorithm.lower() or 'digest'}:{sig.message_digest.hex()}"]
            if signed:
                row["signed_digest"] = ", ".join(signed)
                row["claims_subject"] = str(item.edge.subject.digest) in signed
            if sig is not None:
                row.update(
                    identity=sig.identity, issuer=sig.issuer,
                    certificate_sha256=sig.certificate_sha256, key_hint=sig.public_key_hint,
                    tlog_index=sig.tlog_log_index, tlog_time=utc(sig.tlog_integrated_time),
                    tlog_kind=sig.tlog_kind,
                )
            if doc.error is not None:
                row["error"] = error_text(doc.error)
            _append(columns, row)
    return table(columns, SIGNATURES_COLUMNS)


__all__ = [
    "ATTESTATIONS_COLUMNS",
    "MATERIALS_COLUMNS",
    "PROVENANCE_COLUMNS",
    "REFERRER_EDGES_COLUMNS",
    "SBOM_COLUMNS",
    "SIGNATURES_COLUMNS",
    "ReferrerNode",
    "attestations_frame",
    "materials_frame",
    "provenance_frame",
    "referrer_tree",
    "referrer_edges_frame",
    "sbom_frame",
    "signatures_frame",
    "tree_lines",
]
