"""in-toto Statements (v0.1 and v1), the DSSE envelopes that carry them, and predicate kinds.

Rules, with their sources (in-toto/attestation and secure-systems-lab/dsse):

- spec/v1/statement.md and spec/v0.1.0/README.md "Statement": ``_type`` is
  ``https://in-toto.io/Statement/v1`` or ``.../v0.1``; ``subject`` is required and each
  element MUST have ``digest`` set; ``predicateType`` is required; ``predicate`` is an optional
  object ("Unset is treated the same as set-but-empty"). In v0.1 ``subject[*].name`` is
  required and MUST be non-empty; in v1 it is optional. At least one subject is required, as
  the reference code's ``Statement.Validate`` (go/v1/statement.go) requires.
- spec/v1/digest_set.md, and go/v1/resource_descriptor.go ``Validate``: digests of known
  algorithms are hex of the algorithm's length; other algorithms are opaque.
- spec/v1/README.md "Parsing rules": unrecognised fields are ignored.
- DSSE envelope.md "Parsing rules": ``payload``, ``payloadType``, ``signatures`` and each
  ``signatures[*].sig`` are REQUIRED "even if empty"; ``keyid`` is optional and unset is the
  same as empty; "Base64() is Base64 encoding ... Either standard or URL-safe encoding is
  allowed" (padded, RFC 4648 sections 4 and 5).
- spec/v1/envelope.md: an in-toto payload has ``payloadType``
  ``application/vnd.in-toto+json`` or ``application/vnd.in-toto.<predicate>+json``.

Nothing here checks a signature: :class:`DsseSignature` holds the signature bytes as found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ociinspect.errors import InvalidAttestationError

from ._json import MiB, Reader, at, check_count, decode_base64, json_type, load_object

STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_TYPES = frozenset({STATEMENT_V01, STATEMENT_V1})
#: The DSSE ``payloadType`` (and OCI layer media type) of an in-toto Statement.
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_IN_TOTO_PAYLOAD = re.compile(r"application/vnd\.in-toto(\.[A-Za-z0-9_.-]+)?\+json")

#: A statement's predicate may be a whole SBOM: the same default as the SBOM parsers.
DEFAULT_MAX_BYTES = 16 * MiB
#: An envelope carries its statement in base64 (4/3 of the size) plus signatures.
DEFAULT_ENVELOPE_MAX_BYTES = 24 * MiB
DEFAULT_MAX_SUBJECTS = 10_000
DEFAULT_MAX_SIGNATURES = 256

SLSA_PROVENANCE_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
SPDX_DOCUMENT = "https://spdx.dev/Document"
CYCLONEDX_BOM = "https://cyclonedx.org/bom"
COSIGN_CUSTOM = "https://cosign.sigstore.dev/attestation/v1"
COSIGN_VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"
INTOTO_VULNS = "https://in-toto.io/attestation/vulns"
OPENVEX = "https://openvex.dev/ns"

#: Predicate types matched exactly. cosign wrote its own types without the ``https://`` scheme
#: until sigstore/cosign#2717 (Feb 2023, "Add missing schemes to cosign predicate types"), and
#: such attestations are still in registries.
_EXACT_KINDS = {
    SLSA_PROVENANCE_V02: "slsa-provenance-v0.2",
    SLSA_PROVENANCE_V1: "slsa-provenance-v1",
    COSIGN_CUSTOM: "cosign-custom",
    COSIGN_CUSTOM.removeprefix("https://"): "cosign-custom",
    COSIGN_VULN: "vuln",
    COSIGN_VULN.removeprefix("https://"): "vuln",
}
#: Predicate types that may carry a version path segment: ``https://spdx.dev/Document/v2.3``
#: (in-toto spec/predicates/spdx2.md), ``https://cyclonedx.org/bom/v1.4`` (cyclonedx.md),
#: ``https://in-toto.io/attestation/vulns/v0.2`` (vulns_02.md), ``https://openvex.dev/ns/v0.2.0``.
_FAMILY_KINDS = (
    (SPDX_DOCUMENT, "spdx"),
    (CYCLONEDX_BOM, "cyclonedx"),
    (INTOTO_VULNS, "vuln"),
    (OPENVEX, "openvex"),
)

KINDS = frozenset(
    {"slsa-provenance-v0.2", "slsa-provenance-v1", "spdx", "cyclonedx", "vuln"}
    | {"cosign-custom", "openvex"}
)


def kind_of(predicate_type: str) -> str:
    """A short kind for a known predicate type (see :data:`KINDS`); other types are returned
    unchanged, so the URI itself stays visible."""
    kind = _EXACT_KINDS.get(predicate_type)
    if kind is not None:
        return kind
    for base, family in _FAMILY_KINDS:
        if predicate_type == base or predicate_type.startswith(base + "/"):
            return family
    return predicate_type


@dataclass(frozen=True)
class Subject:
    """One ``subject`` entry: the artifact the statement is about, matched by digest."""

    name: str | None
    digest: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True)
class Statement:
    """An in-toto Statement; ``predicate`` is the read-only JSON object (empty when unset)."""

    type: str
    predicate_type: str
    subjects: tuple[Subject, ...]
    predicate: Mapping[str, Any] = field(repr=False, hash=False)
    raw: bytes = field(repr=False)

    @property
    def kind(self) -> str:
        """:func:`kind_of` the predicate type."""
        return kind_of(self.predicate_type)

    @property
    def version(self) -> str:
        """``"0.1"`` or ``"1"``."""
        return self.type.rsplit("/v", 1)[1]


@dataclass(frozen=True)
class DsseSignature:
    """One DSSE signature as found: ``keyid`` ("" when unset) and the decoded ``sig`` bytes."""

    keyid: str
    sig: bytes = field(repr=False)


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope: the decoded ``payload`` bytes (what was signed) and its signatures."""

    payload_type: str
    payload: bytes = field(repr=False)
    signatures: tuple[DsseSignature, ...]
    raw: bytes = field(repr=False)

    @property
    def is_in_toto(self) -> bool:
        """Whether ``payloadType`` says the payload is an in-toto Statement."""
        return bool(_IN_TOTO_PAYLOAD.fullmatch(self.payload_type))

    def statement(
        self, *, max_bytes: int = DEFAULT_MAX_BYTES, max_subjects: int = DEFAULT_MAX_SUBJECTS
    ) -> Statement:
        """The in-toto Statement in the payload (InvalidAttestationError for other payloads)."""
        if not self.is_in_toto:
            raise InvalidAttestationError(
                "DSSE envelope",
                f"payloadType: {self.payload_type!r} is not an in-toto statement "
                f"({IN_TOTO_PAYLOAD_TYPE} or application/vnd.in-toto.<predicate>+json)",
                ("payloadType",),
            )
        return parse_statement(
            self.payload, max_bytes=max_bytes, max_subjects=max_subjects, what="DSSE payload"
        )


@dataclass(frozen=True)
class Attestation:
    """A statement, and the envelope it came in (None for a bare statement, as BuildKit
    stores them; cosign ``.att`` layers and Sigstore bundles carry an envelope)."""

    statement: Statement
    envelope: Envelope | None = None


def parse_statement(
    raw: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_subjects: int = DEFAULT_MAX_SUBJECTS,
    what: str = "in-toto statement",
) -> Statement:
    """An in-toto Statement v0.1 or v1 from its JSON bytes."""
    doc = load_object(raw, what, max_bytes)
    return statement_from_json(doc, bytes(raw), what=what, max_subjects=max_subjects)


def statement_from_json(
    doc: Mapping[str, Any],
    raw: bytes,
    *,
    what: str = "in-toto statement",
    max_subjects: int = DEFAULT_MAX_SUBJECTS,
) -> Statement:
    """A Statement from already parsed JSON (``raw`` is kept as its bytes)."""
    r = Reader(what)
    type_ = r.string(doc, "_type", "", required=True)
    if type_ is not None and type_ not in STATEMENT_TYPES:
        r.fail("_type", f"{type_!r} is not {STATEMENT_V01} or {STATEMENT_V1}")
        type_ = None
    predicate_type = r.nonempty_string(doc, "predicateType", "")
    subjects: list[Subject] = []
    items = r.array(doc, "subject", "", required=True)
    if items is not None:
        check_count(len(items), max_subjects, f"{what} subject", "max_subjects")
        if not items:
            r.fail("subject", "must hold at least one subject")
    for i, item in enumerate(items or ()):
        path = at("subject", i)
        if not isinstance(item, Mapping):
            r.fail(path, f"expected object, got {json_type(item)}")
            continue
        if type_ == STATEMENT_V01:
            name: str | None = r.nonempty_string(item, "name", path)
        else:
            name = r.string(item, "name", path)
        digest = r.digest_set(item, "digest", path, required=True)
        subjects.append(Subject(name, MappingProxyType(digest)))
    predicate = r.frozen(doc, "predicate", "")
    r.done()
    assert type_ is not None and predicate_type is not None
    return Statement(type_, predicate_type, tuple(subjects), predicate, bytes(raw))


def parse_envelope(
    raw: bytes,
    *,
    max_bytes: int = DEFAULT_ENVELOPE_MAX_BYTES,
    max_signatures: int = DEFAULT_MAX_SIGNATURES,
) -> Envelope:
    """A DSSE JSON envelope from its bytes; the payload is decoded, not interpreted."""
    doc = load_object(raw, "DSSE envelope", max_bytes)
    return envelope_from_json(doc, bytes(raw), max_signatures=max_signatures)


def envelope_from_json(
    doc: Mapping[str, Any],
    raw: bytes,
    *,
    what: str = "DSSE envelope",
    path: str = "",
    max_signatures: int = DEFAULT_MAX_SIGNATURES,
    urlsafe: bool = True,
    unpadded: bool = False,
) -> Envelope:
    """An Envelope from parsed JSON; ``path`` prefixes field names (``dsseEnvelope`` in a
    Sigstore bundle, whose protobuf JSON also allows unpadded base64)."""
    r = Reader(what)
    payload_type = r.string(doc, "payloadType", path, required=True)
    payload = _base64_field(r, doc, "payload", path, urlsafe=urlsafe, unpadded=unpadded)
    signatures: list[DsseSignature] = []
    items = r.array(doc, "signatures", path, required=True)
    if items is not None:
        check_count(len(items), max_signatures, f"{what} signatures", "max_signatures")
    for i, item in enumerate(items or ()):
        here = at(at(path, "signatures"), i)
        if not isinstance(item, Mapping):
            r.fail(here, f"expected object, got {json_type(item)}")
            continue
        keyid = r.string(item, "keyid", here) or ""
        sig = _base64_field(r, item, "sig", here, urlsafe=urlsafe, unpadded=unpadded)
        if sig is not None:
            signatures.append(DsseSignature(keyid, sig))
    r.done()
    assert payload_type is not None and payload is not None
    return Envelope(payload_type, payload, tuple(signatures), bytes(raw))


def _base64_field(
    r: Reader, obj: Mapping[str, Any], key: str, path: str, *, urlsafe: bool, unpadded: bool
) -> bytes | None:
    text = r.string(obj, key, path, required=True)
    if text is None:
        return None
    value = decode_base64(text, urlsafe=urlsafe, unpadded=unpadded)
    if value is None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        r.fail(at(path, key), f"not base64 (RFC 4648): {shown!r}")
    return value


def parse_attestation(
    raw: bytes,
    *,
    max_bytes: int = DEFAULT_ENVELOPE_MAX_BYTES,
    max_subjects: int = DEFAULT_MAX_SUBJECTS,
    max_signatures: int = DEFAULT_MAX_SIGNATURES,
) -> Attestation:
    """A bare Statement (BuildKit's ``application/vnd.in-toto+json`` layers) or a DSSE envelope
    around one (cosign's ``application/vnd.dsse.envelope.v1+json`` layers), told apart by shape:
    an envelope has ``payloadType``."""
    doc = load_object(raw, "attestation", max_bytes)
    if "payloadType" in doc:
        envelope = envelope_from_json(doc, bytes(raw), max_signatures=max_signatures)
        statement = envelope.statement(max_bytes=max_bytes, max_subjects=max_subjects)
        return Attestation(statement, envelope)
    return Attestation(statement_from_json(doc, bytes(raw), max_subjects=max_subjects))


__all__ = [
    "COSIGN_CUSTOM",
    "COSIGN_VULN",
    "CYCLONEDX_BOM",
    "DEFAULT_ENVELOPE_MAX_BYTES",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_SIGNATURES",
    "DEFAULT_MAX_SUBJECTS",
    "INTOTO_VULNS",
    "IN_TOTO_PAYLOAD_TYPE",
    "KINDS",
    "OPENVEX",
    "SLSA_PROVENANCE_V02",
    "SLSA_PROVENANCE_V1",
    "SPDX_DOCUMENT",
    "STATEMENT_TYPES",
    "STATEMENT_V01",
    "STATEMENT_V1",
    "Attestation",
    "DsseSignature",
    "Envelope",
    "Statement",
    "Subject",
    "envelope_from_json",
    "kind_of",
    "parse_attestation",
    "parse_envelope",
    "parse_statement",
    "statement_from_json",
]
