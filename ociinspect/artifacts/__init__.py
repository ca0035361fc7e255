"""What the artifacts attached to an image say: attestations, SBOMs, provenance, signatures.

(The table functions over an image, ``attestations()``, ``sbom()``, ``provenance()`` and
``signatures()``, are in :mod:`ociinspect.supply`; this package is their parsers.)

Pure parsers: bytes (or already parsed JSON) in, frozen dataclasses out, no I/O. Each checks
the size before it parses (``max_bytes=``; 16 MiB for SBOMs, statements and provenance, 24 MiB
for DSSE envelopes and bundles, 1 MiB for cosign payloads and annotations) and bounds every
count it reads (``max_packages=``, ``max_components=``, ``max_depth=``, ``max_subjects=`` ...).
Bad input raises one typed error naming every bad field, and nothing half-read is returned:
:class:`InvalidAttestationError` (an ``InvalidDocumentError``), ``SizeLimitError`` for bytes,
:class:`CountLimitError` for counts, :class:`InvalidCosignTagError` for tags.

==============================  ===============================================================
module                          reads
==============================  ===============================================================
:mod:`.intoto`                  in-toto Statement v0.1/v1, DSSE envelopes, :func:`kind_of`
:mod:`.spdx`                    SPDX 2.2/2.3 JSON: document and packages
:mod:`.cyclonedx`               CycloneDX 1.4-1.6 JSON: BOM and components, nested ones flattened
:mod:`.provenance`              SLSA provenance v0.2 and v1 in one record, BuildKit's frontend
                                and build args
:mod:`.cosign`                  simple-signing payloads, ``.sig``/``.att`` layer annotations,
                                ``sha256-<hex>.sig|.att|.sbom`` tags, media types
:mod:`.sigstore`                Sigstore bundles v0.1-v0.3, into the same :class:`Signature`
:mod:`.layers`                  one layer of an attached artifact: which parser reads it (by
                                media type), within which size cap, into a ``Document``
==============================  ===============================================================

**Signatures are listed with their claims, not verified.** A :class:`Signature` shows the
signature bytes, the certificate and chain, the identity and OIDC issuer the certificate
names, and the transparency-log entry the signer attached, exactly as found: nothing checks
that the signature matches the payload, that Fulcio issued the certificate, or that Rekor holds
the entry. To verify, run ``cosign verify <image>`` (simple signing) or ``cosign
verify-attestation --type <type> <image>`` with ``--certificate-identity`` and
``--certificate-oidc-issuer`` (or ``--key``), or ``cosign verify-blob --bundle`` for a bundle.

Reading a certificate's identity needs the ``cryptography`` package (a test dependency of
ociinspect, not a runtime one). Without it, :attr:`Signature.identity`,
:attr:`Signature.issuer` and :attr:`Signature.certificate_info` are None and
:attr:`Signature.identity_note` says so; the certificate's DER bytes, its SHA-256
fingerprint, the chain, the public-key hint and the log entry are shown all the same.
"""

from __future__ import annotations

from ociinspect.errors import CountLimitError, InvalidAttestationError, InvalidCosignTagError

from .cosign import (
    BUNDLE_ANNOTATION,
    CERTIFICATE_ANNOTATION,
    CHAIN_ANNOTATION,
    CYCLONEDX_JSON_MEDIA_TYPE,
    DOCKER_ATTESTATION_MANIFEST_TYPE,
    DSSE_ENVELOPE_MEDIA_TYPE,
    IN_TOTO_MEDIA_TYPE,
    SIGNATURE_ANNOTATION,
    SIGSTORE_BUNDLE_MEDIA_TYPE,
    SIGSTORE_BUNDLE_MEDIA_TYPES,
    SIMPLESIGNING_MEDIA_TYPE,
    SPDX_JSON_MEDIA_TYPE,
    CosignTag,
    Signature,
    SimpleSigning,
    cosign_tag,
    parse_cosign_tag,
    parse_signature_layer,
    parse_simple_signing,
)
from .cyclonedx import (
    CdxComponent,
    CdxLicense,
    CycloneDxBom,
    cyclonedx_from_predicate,
    parse_cyclonedx,
)
from .intoto import (
    Attestation,
    DsseSignature,
    Envelope,
    Statement,
    Subject,
    kind_of,
    parse_attestation,
    parse_envelope,
    parse_statement,
)
from .provenance import (
    ConfigSource,
    Dependency,
    Provenance,
    parse_provenance,
    provenance_from_predicate,
    provenance_from_statement,
)
from .sigstore import parse_sigstore_bundle
from .spdx import SpdxDocument, SpdxPackage, parse_spdx, spdx_from_predicate

__all__ = [
    "BUNDLE_ANNOTATION",
    "CERTIFICATE_ANNOTATION",
    "CHAIN_ANNOTATION",
    "CYCLONEDX_JSON_MEDIA_TYPE",
    "DOCKER_ATTESTATION_MANIFEST_TYPE",
    "DSSE_ENVELOPE_MEDIA_TYPE",
    "IN_TOTO_MEDIA_TYPE",
    "SIGNATURE_ANNOTATION",
    "SIGSTORE_BUNDLE_MEDIA_TYPE",
    "SIGSTORE_BUNDLE_MEDIA_TYPES",
    "SIMPLESIGNING_MEDIA_TYPE",
    "SPDX_JSON_MEDIA_TYPE",
    "Attestation",
    "CdxComponent",
    "CdxLicense",
    "ConfigSource",
    "CosignTag",
    "CountLimitError",
    "CycloneDxBom",
    "Dependency",
    "DsseSignature",
    "Envelope",
    "InvalidAttestationError",
    "InvalidCosignTagError",
    "Provenance",
    "Signature",
    "SimpleSigning",
    "SpdxDocument",
    "SpdxPackage",
    "Statement",
    "Subject",
    "cosign_tag",
    "cyclonedx_from_predicate",
    "kind_of",
    "parse_attestation",
    "parse_cosign_tag",
    "parse_cyclonedx",
    "parse_envelope",
    "parse_provenance",
    "parse_signature_layer",
    "parse_sigstore_bundle",
    "parse_simple_signing",
    "parse_spdx",
    "parse_statement",
    "provenance_from_predicate",
    "provenance_from_statement",
    "spdx_from_predicate",
]
