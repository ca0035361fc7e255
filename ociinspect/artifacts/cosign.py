"""cosign's signatures: simple-signing payloads, signature-layer annotations, and tags.

Sources: sigstore/cosign specs/SIGNATURE_SPEC.md ("Properties", "Tag-based Discovery",
"OCI Image Manifest V1", "Simple Signing"), pkg/oci/static/signature.go (annotation keys),
pkg/oci/internal/signature/layer.go (how cosign reads them: the signature annotation must be
present and is standard base64; certificate and chain are PEM, empty meaning absent; the
bundle is JSON), pkg/oci/remote/remote.go ``normalize`` (``sha256:abc`` -> ``sha256-abc.sig``),
pkg/oci/remote/options.go (suffixes ``sig``, ``att``, ``sbom``), pkg/types/media.go and
pkg/cosign/attestation/attestation.go (media and predicate types); containers/image
docs/containers-signature.5.md (the simple-signing JSON format).

A signature is listed with its claims (:class:`Signature`), never verified: the certificate's
identity is what the certificate says, not that Fulcio issued it, and the Rekor bundle is
read, not checked. To verify, use ``cosign verify`` / ``cosign verify-attestation`` (or a
Sigstore client) with the identity and issuer you expect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ociinspect.errors import InvalidCosignTagError, InvalidDigestError, SizeLimitError

from . import _x509
from ._json import MiB, Reader, at, decode_base64, freeze, json_type, load_object, unix_time
from .intoto import DEFAULT_ENVELOPE_MAX_BYTES, IN_TOTO_PAYLOAD_TYPE, Envelope, parse_envelope

# --- media types and artifact types -------------------------------------------------------
#: cosign's simple-signing payload layer (SIGNATURE_SPEC.md "Simple Signing").
SIMPLESIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
#: cosign ``.att`` layers: a DSSE envelope around an in-toto statement.
DSSE_ENVELOPE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
#: BuildKit attestation layers: a bare in-toto statement.
IN_TOTO_MEDIA_TYPE = IN_TOTO_PAYLOAD_TYPE
#: BuildKit's attestation manifest ``artifactType`` (docs/attestations/attestation-storage.md).
DOCKER_ATTESTATION_MANIFEST_TYPE = "application/vnd.docker.attestation.manifest.v1+json"
#: The current Sigstore bundle media type (protobuf-specs protos/sigstore_bundle.proto).
SIGSTORE_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
#: Every Sigstore bundle media type a client must accept, with its version.
SIGSTORE_BUNDLE_MEDIA_TYPES: Mapping[str, str] = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": "0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2": "0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3": "0.3",
    SIGSTORE_BUNDLE_MEDIA_TYPE: "0.3",
}
#: ``cosign attach sbom`` media types (pkg/types/media.go).
SPDX_MEDIA_TYPE = "text/spdx"
SPDX_JSON_MEDIA_TYPE = "text/spdx+json"
CYCLONEDX_JSON_MEDIA_TYPE = "application/vnd.cyclonedx+json"
CYCLONEDX_XML_MEDIA_TYPE = "application/vnd.cyclonedx+xml"
SYFT_JSON_MEDIA_TYPE = "application/vnd.syft+json"

# --- annotation keys (pkg/oci/static/signature.go) ------------------------------------------
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
RFC3161_TIMESTAMP_ANNOTATION = "dev.sigstore.cosign/rfc3161timestamp"
#: cosign writes the predicate type on each ``.att`` layer; BuildKit uses its own key.
COSIGN_PREDICATE_TYPE_ANNOTATION = "predicateType"
BUILDKIT_PREDICATE_TYPE_ANNOTATION = "in-toto.io/predicate-type"

#: SIGNATURE_SPEC.md: ``critical.type`` of cosign signatures; containers/image's own type.
SIMPLE_SIGNING_TYPES = frozenset({"cosign container image signature", "atomic container signature"})
TAG_SUFFIXES = ("sig", "att", "sbom")
_SUFFIX_PROBLEM = "suffix {suffix!r} is not one of " + ", ".join(TAG_SUFFIXES)

DEFAULT_PAYLOAD_MAX_BYTES = 1 * MiB
DEFAULT_ANNOTATION_MAX_BYTES = 1 * MiB
DEFAULT_MAX_CHAIN = 16

# --- digests (image-spec descriptor.md "Digests") ---------------------------------------------
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_REGISTERED = {"sha256": 64, "sha512": 128}


def digest_problem(value: str) -> str | None:
    """descriptor.md: ``algorithm:encoded``; sha256/sha512 are lowercase hex of 64/128."""
    if not _DIGEST.fullmatch(value):
        return "does not match the grammar algorithm:encoded"
    algorithm, _, encoded = value.partition(":")
    size = _REGISTERED.get(algorithm)
    if size is not None and not re.fullmatch(f"[0-9a-f]{{{size}}}", encoded):
        return f"{algorithm} digests are {size} lowercase hex digits"
    return None


# --- simple signing ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SimpleSigning:
    """A simple-signing payload: the manifest digest that was signed, the reference it was
    signed for, and the optional claims (empty when ``null``)."""

    digest: str
    reference: str
    type: str
    optional: Mapping[str, Any] = field(hash=False)
    raw: bytes = field(repr=False)


def parse_simple_signing(
    raw: bytes, *, max_bytes: int = DEFAULT_PAYLOAD_MAX_BYTES
) -> SimpleSigning:
    """A cosign simple-signing payload (``critical.identity.docker-reference``,
    ``critical.image.docker-manifest-digest``, ``critical.type``, ``optional``).

    Keys of ``critical`` are matched ignoring case, as cosign's Go decoder does and as
    SIGNATURE_SPEC.md's own example (``Docker-manifest-digest``) needs."""
    what = "cosign simple-signing payload"
    doc = load_object(raw, what, max_bytes)
    r = Reader(what)
    critical = _folded(r, doc, "critical", "", "object", True)
    identity = image = None
    reference = digest = type_ = None
    if critical is not None:
        identity = _folded(r, critical, "identity", "critical", "object", True)
        image = _folded(r, critical, "image", "critical", "object", True)
        type_ = _folded(r, critical, "type", "critical", "string", True)
    if identity is not None:
        reference = _folded(r, identity, "docker-reference", "critical.identity", "string", True)
    if image is not None:
        digest = _folded(r, image, "docker-manifest-digest", "critical.image", "string", True)
        if digest is not None and (problem := digest_problem(digest)):
            r.fail("critical.image.docker-manifest-digest", f"invalid digest {digest!r}: {problem}")
    if type_ is not None and type_ not in SIMPLE_SIGNING_TYPES:
        r.fail("critical.type", f"{type_!r} is not {' or '.join(sorted(SIMPLE_SIGNING_TYPES))}")
    optional = _folded(r, doc, "optional", "", "object", False)
    frozen = freeze(optional or {}, what, "optional")
    r.done()
    assert digest is not None and reference is not None and type_ is not None
    return SimpleSigning(digest, reference, type_, frozen, bytes(raw))


def _folded(
    r: Reader, obj: Mapping[str, Any], key: str, path: str, kind: str, required: bool
) -> Any:
    """``obj[key]``, the key matched ignoring case (Go's encoding/json); two keys that differ
    only in case are ambiguous."""
    matches = [k for k in obj if k.lower() == key.lower()]
    if len(matches) > 1:
        r.fail(at(path, key), f"ambiguous: {', '.join(sorted(matches))}")
        return None
    return r.get(obj, matches[0] if matches else key, path, kind, required)


# --- the signature record -------------------------------------------------------------------
@dataclass(frozen=True)
class Signature:
    """One signature with its claims, as found: from cosign layer annotations
    (``source="cosign"``) or a Sigstore bundle (``source="sigstore-bundle"``). Not verified.

    ``signature`` is the decoded signature (empty for a cosign ``.att`` layer, whose signature
    is inside the DSSE ``envelope``). ``identity`` (the certificate's first subject alternative
    name) and ``issuer`` (the OIDC issuer from Fulcio's extension .8, else .1) need the
    ``cryptography`` package: without it they are None, ``certificate_info`` is None and
    ``identity_note`` says why; ``certificate`` (DER), ``certificate_sha256`` and ``chain`` are
    shown either way. The ``tlog_*`` fields come from the Rekor bundle annotation or the
    bundle's first ``tlogEntries`` entry; ``tlog_log_id`` is hex in both.
    """

    source: str
    media_type: str | None
    signature: bytes = field(repr=False)
    certificate: bytes | None = field(default=None, repr=False)
    certificate_sha256: str | None = None
    chain: tuple[bytes, ...] = field(default=(), repr=False)
    public_key_hint: str | None = None
    identity: str | None = None
    issuer: str | None = None
    certificate_info: _x509.CertificateInfo | None = field(default=None, repr=False)
    identity_note: str | None = None
    tlog_log_index: int | None = None
    tlog_integrated_time: datetime | None = None
    tlog_log_id: str | None = None
    tlog_kind: str | None = None
    message_digest_algorithm: str | None = None
    message_digest: bytes | None = field(default=None, repr=False)
    bundle_version: str | None = None
    simple_signing: SimpleSigning | None = field(default=None, repr=False)
    envelope: Envelope | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TlogEntry:
    """The fields of a transparency-log entry that a signature record shows."""

    log_index: int | None
    integrated_time: datetime | None
    log_id: str | None
    kind: str | None = None


def certificate_fields(r: Reader, der: bytes | None, path: str) -> dict[str, Any]:
    """The Signature fields that come from a leaf certificate's DER (shared with bundles)."""
    if der is None:
        return {}
    out: dict[str, Any] = {"certificate": der, "certificate_sha256": _x509.fingerprint(der)}
    try:
        info = _x509.describe(der)
    except ValueError as exc:
        r.fail(path, f"not an X.509 certificate: {exc}")
        return out
    if info is None:
        out["identity_note"] = _x509.NO_CRYPTOGRAPHY
        return out
    sans = info.subject_alternative_names
    out.update(certificate_info=info, identity=sans[0] if sans else None, issuer=info.oidc_issuer)
    return out


def parse_signature_layer(
    annotations: Mapping[str, str],
    *,
    media_type: str | None = None,
    payload: bytes | None = None,
    max_annotation_bytes: int = DEFAULT_ANNOTATION_MAX_BYTES,
    max_payload_bytes: int | None = None,
    max_chain: int = DEFAULT_MAX_CHAIN,
) -> Signature:
    """A :class:`Signature` from one layer descriptor of a cosign ``.sig``/``.att`` manifest.

    ``annotations`` must hold the signature annotation (empty for ``.att`` layers); the
    certificate, chain and Rekor bundle annotations are optional. With the layer's bytes as
    ``payload``, a simple-signing payload is parsed into ``simple_signing`` and a DSSE layer
    into ``envelope`` (``media_type`` says which; ``max_payload_bytes`` bounds the payload,
    by default 1 MiB for simple signing and 24 MiB for an envelope)."""
    what = "cosign signature layer"
    r = Reader(what)
    for key in (SIGNATURE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, BUNDLE_ANNOTATION):
        value = annotations.get(key)
        if value is not None and not isinstance(value, str):
            r.fail(at("annotations", key), f"expected string, got {json_type(value)}")
        elif value is not None and (size := len(value.encode("utf-8"))) > max_annotation_bytes:
            raise SizeLimitError(f"{what} annotation {key}", max_annotation_bytes, size)
    r.done()
    b64 = annotations.get(SIGNATURE_ANNOTATION)
    signature = b""
    if b64 is None:
        r.fail(at("annotations", SIGNATURE_ANNOTATION), "missing (required)")
    else:
        decoded = decode_base64(b64)
        if decoded is None:
            r.fail(at("annotations", SIGNATURE_ANNOTATION), "not base64 (RFC 4648 section 4)")
        signature = decoded or b""
    fields: dict[str, Any] = {}
    cert_pem = annotations.get(CERTIFICATE_ANNOTATION) or ""
    if cert_pem:
        certs = _x509.pem_certificates(cert_pem)
        if certs is None:
            r.fail(at("annotations", CERTIFICATE_ANNOTATION), "not PEM certificates")
        else:
            where = at("annotations", CERTIFICATE_ANNOTATION)
            fields.update(certificate_fields(r, certs[0], where))
    chain: tuple[bytes, ...] = ()
    chain_pem = annotations.get(CHAIN_ANNOTATION) or ""
    if chain_pem:
        parsed = _x509.pem_certificates(chain_pem)
        if parsed is None:
            r.fail(at("annotations", CHAIN_ANNOTATION), "not PEM certificates")
        elif len(parsed) > max_chain:
            r.fail(at("annotations", CHAIN_ANNOTATION), f"more than {max_chain} certificates")
        else:
            chain = parsed
    bundle_json = annotations.get(BUNDLE_ANNOTATION) or ""
    tlog = None
    if bundle_json:
        tlog = _rekor_bundle(r, bundle_json, at("annotations", BUNDLE_ANNOTATION))
    simple = envelope = None
    if payload is not None and media_type == SIMPLESIGNING_MEDIA_TYPE:
        limit = DEFAULT_PAYLOAD_MAX_BYTES if max_payload_bytes is None else max_payload_bytes
        simple = parse_simple_signing(payload, max_bytes=limit)
    elif payload is not None and media_type == DSSE_ENVELOPE_MEDIA_TYPE:
        limit = DEFAULT_ENVELOPE_MAX_BYTES if max_payload_bytes is None else max_payload_bytes
        envelope = parse_envelope(payload, max_bytes=limit)
    r.done()
    return Signature(
        source="cosign",
        media_type=media_type,
        signature=signature,
        chain=chain,
        tlog_log_index=tlog.log_index if tlog else None,
        tlog_integrated_time=tlog.integrated_time if tlog else None,
        tlog_log_id=tlog.log_id if tlog else None,
        tlog_kind=tlog.kind if tlog else None,
        simple_signing=simple,
        envelope=envelope,
        **fields,
    )


def _rekor_bundle(r: Reader, text: str, path: str) -> TlogEntry | None:
    """SIGNATURE_SPEC.md "bundle": ``SignedEntryTimestamp`` and ``Payload`` with ``body``,
    ``integratedTime``, ``logIndex`` and ``logID`` are REQUIRED."""
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        r.fail(path, f"not JSON: {exc}")
        return None
    if not isinstance(doc, Mapping):
        r.fail(path, f"expected a JSON object, got {json_type(doc)}")
        return None
    set_ = r.string(doc, "SignedEntryTimestamp", path, required=True)
    if set_ is not None and decode_base64(set_) is None:
        r.fail(at(path, "SignedEntryTimestamp"), "not base64 (RFC 4648 section 4)")
    payload = r.object(doc, "Payload", path, required=True)
    if payload is None:
        return None
    here = at(path, "Payload")
    if payload.get("body") is None:
        r.fail(at(here, "body"), "missing (required)")
    integrated = r.get(payload, "integratedTime", here, "integer", True)
    index = r.get(payload, "logIndex", here, "integer", True)
    log_id = r.string(payload, "logID", here, required=True)
    kind = None
    body = payload.get("body")
    if isinstance(body, str) and (decoded := decode_base64(body)) is not None:
        kind = _rekor_kind(decoded)
    return TlogEntry(index, unix_time(integrated), log_id, kind)


def _rekor_kind(body: bytes) -> str | None:
    """The ``kind`` of a Rekor entry body (``hashedrekord``, ``intoto``, ``dsse`` ...)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None
    kind = doc.get("kind") if isinstance(doc, dict) else None
    return kind if isinstance(kind, str) else None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 section 6)")


# --- tags -------------------------------------------------------------------------------------
#: distribution reference grammar: ``tag := [\w][\w.-]{0,127}``.
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_COSIGN_TAG = re.compile(r"(?P<alg>[a-z0-9]+)-(?P<hex>[0-9a-f]+)\.(?P<suffix>[a-z]+)")


@dataclass(frozen=True)
class CosignTag:
    """A tag of cosign's scheme: the digest it is about and what it holds."""

    digest: str
    suffix: str
    prefix: str = ""

    def __str__(self) -> str:
        return cosign_tag(self.digest, self.suffix, prefix=self.prefix)


def cosign_tag(digest: str, suffix: str = "sig", *, prefix: str = "") -> str:
    """``sha256:<hex>`` -> ``[prefix]sha256-<hex>.<suffix>`` (cosign's ``normalize``).

    InvalidDigestError for a bad digest; InvalidCosignTagError for an unknown suffix or a tag
    over the 128 characters a tag may have (a sha512 digest makes 139)."""
    problem = digest_problem(digest)
    if problem is None and digest.partition(":")[0] not in _REGISTERED:
        problem = f"cosign tags are made from {' or '.join(_REGISTERED)} digests"
    if problem:
        raise InvalidDigestError(digest, problem)
    algorithm, _, encoded = digest.partition(":")
    tag = f"{prefix}{algorithm}-{encoded}.{suffix}"
    if suffix not in TAG_SUFFIXES:
        raise InvalidCosignTagError(tag, _SUFFIX_PROBLEM.format(suffix=suffix))
    if not _TAG.fullmatch(tag):
        raise InvalidCosignTagError(
            tag, f"{len(tag)} characters; a tag is [\\w][\\w.-] of at most 128 (distribution)"
        )
    return tag


def parse_cosign_tag(tag: str, *, prefix: str = "") -> CosignTag:
    """``[prefix]sha256-<hex>.sig|.att|.sbom`` -> :class:`CosignTag` (InvalidCosignTagError
    for any other tag)."""
    if not tag.startswith(prefix):
        raise InvalidCosignTagError(tag, f"does not start with the prefix {prefix!r}")
    match = _COSIGN_TAG.fullmatch(tag[len(prefix) :])
    if not match:
        raise InvalidCosignTagError(tag, "not <algorithm>-<hex>.<suffix>")
    algorithm, encoded, suffix = match.group("alg", "hex", "suffix")
    if suffix not in TAG_SUFFIXES:
        raise InvalidCosignTagError(tag, _SUFFIX_PROBLEM.format(suffix=suffix))
    digest = f"{algorithm}:{encoded}"
    problem = digest_problem(digest)
    if problem is None and algorithm not in _REGISTERED:
        problem = f"unknown algorithm {algorithm!r}"
    if problem:
        raise InvalidCosignTagError(tag, f"{digest} is not a digest: {problem}")
    return CosignTag(digest, suffix, prefix)


__all__ = [
    "BUILDKIT_PREDICATE_TYPE_ANNOTATION",
    "BUNDLE_ANNOTATION",
    "CERTIFICATE_ANNOTATION",
    "CHAIN_ANNOTATION",
    "COSIGN_PREDICATE_TYPE_ANNOTATION",
    "CYCLONEDX_JSON_MEDIA_TYPE",
    "CYCLONEDX_XML_MEDIA_TYPE",
    "DEFAULT_ANNOTATION_MAX_BYTES",
    "DEFAULT_MAX_CHAIN",
    "DEFAULT_PAYLOAD_MAX_BYTES",
    "DOCKER_ATTESTATION_MANIFEST_TYPE",
    "DSSE_ENVELOPE_MEDIA_TYPE",
    "IN_TOTO_MEDIA_TYPE",
    "RFC3161_TIMESTAMP_ANNOTATION",
    "SIGNATURE_ANNOTATION",
    "SIGSTORE_BUNDLE_MEDIA_TYPE",
    "SIGSTORE_BUNDLE_MEDIA_TYPES",
    "SIMPLESIGNING_MEDIA_TYPE",
    "SIMPLE_SIGNING_TYPES",
    "SPDX_JSON_MEDIA_TYPE",
    "SPDX_MEDIA_TYPE",
    "SYFT_JSON_MEDIA_TYPE",
    "TAG_SUFFIXES",
    "CosignTag",
    "Signature",
    "SimpleSigning",
    "TlogEntry",
    "cosign_tag",
    "digest_problem",
    "parse_cosign_tag",
    "parse_signature_layer",
    "parse_simple_signing",
]
