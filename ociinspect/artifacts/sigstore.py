"""Sigstore bundles (v0.1, v0.2, v0.3) read into the same :class:`~.cosign.Signature` record.

Source: sigstore/protobuf-specs protos/sigstore_bundle.proto, sigstore_common.proto and
sigstore_rekor.proto, in their protobuf JSON form:

- ``mediaType`` is one of :data:`~.cosign.SIGSTORE_BUNDLE_MEDIA_TYPES` ("Clients must be able
  to accept media type using the previously defined formats").
- ``verificationMaterial`` is REQUIRED and holds exactly one of ``publicKey`` (a ``hint``),
  ``x509CertificateChain`` (``certificates[*].rawBytes``, the leaf first) or ``certificate``
  (``rawBytes``); ``tlogEntries`` and ``timestampVerificationData`` are optional.
- The content is exactly one of ``messageSignature`` (``signature`` REQUIRED,
  ``messageDigest`` optional) or ``dsseEnvelope``, which "MUST have exactly one signature".
- A ``tlogEntries`` entry has ``logIndex`` and ``integratedTime`` (int64: a JSON string or
  number, absent when zero), ``logId.keyId`` and ``kindVersion``.
- ``bytes`` fields are base64, standard or URL-safe, padded or not (protobuf JSON mapping).

The bundle is listed, not verified; verify with ``cosign verify-blob --bundle`` or a Sigstore
client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._json import MiB, Reader, at, check_count, decode_base64, json_type, load_object, unix_time
from .cosign import (
    DEFAULT_MAX_CHAIN,
    SIGSTORE_BUNDLE_MEDIA_TYPES,
    Signature,
    TlogEntry,
    certificate_fields,
)
from .intoto import DEFAULT_ENVELOPE_MAX_BYTES, DEFAULT_MAX_SIGNATURES, envelope_from_json

#: A bundle holds its DSSE envelope inline: the envelope's default plus room for material.
DEFAULT_MAX_BYTES = DEFAULT_ENVELOPE_MAX_BYTES + 1 * MiB
DEFAULT_MAX_TLOG_ENTRIES = 64

_MATERIAL = ("publicKey", "x509CertificateChain", "certificate")
_CONTENT = ("messageSignature", "dsseEnvelope")
_HASH_ALGORITHMS = frozenset(
    {"HASH_ALGORITHM_UNSPECIFIED", "SHA2_256", "SHA2_384", "SHA2_512", "SHA3_256", "SHA3_384"}
)


def parse_sigstore_bundle(
    raw: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_chain: int = DEFAULT_MAX_CHAIN,
    max_tlog_entries: int = DEFAULT_MAX_TLOG_ENTRIES,
) -> Signature:
    """A Sigstore bundle's signature, key material and first log entry, as a Signature."""
    what = "Sigstore bundle"
    doc = load_object(raw, what, max_bytes)
    r = Reader(what)
    media_type = r.string(doc, "mediaType", "", required=True)
    version = None
    if media_type is not None:
        version = SIGSTORE_BUNDLE_MEDIA_TYPES.get(media_type)
        if version is None:
            known = ", ".join(sorted(SIGSTORE_BUNDLE_MEDIA_TYPES))
            r.fail("mediaType", f"{media_type!r} is not a Sigstore bundle media type ({known})")
    material = r.object(doc, "verificationMaterial", "", required=True) or {}
    fields: dict[str, Any] = {}
    present = [k for k in _MATERIAL if material.get(k) is not None]
    if material and len(present) != 1:
        r.fail(
            "verificationMaterial",
            f"needs exactly one of {', '.join(_MATERIAL)}, got {len(present)}",
        )
    elif present:
        fields.update(_key_material(r, material, present[0], max_chain))
    tlog = _tlog(r, material, max_tlog_entries)

    contents = [k for k in _CONTENT if doc.get(k) is not None]
    if len(contents) != 1:
        r.fail("", f"needs exactly one of {', '.join(_CONTENT)}, got {len(contents)}")
    elif contents[0] == "messageSignature":
        fields.update(_message_signature(r, doc))
    else:
        envelope_json = r.object(doc, "dsseEnvelope", "")
        if envelope_json is not None:
            envelope = envelope_from_json(
                envelope_json,
                b"",
                what=what,
                path="dsseEnvelope",
                max_signatures=DEFAULT_MAX_SIGNATURES,
                urlsafe=True,
                unpadded=True,
            )
            if len(envelope.signatures) != 1:
                count = len(envelope.signatures)
                r.fail(
                    "dsseEnvelope.signatures",
                    f"a bundle's envelope has exactly one signature, got {count}",
                )
            else:
                fields.update(envelope=envelope, signature=envelope.signatures[0].sig)
    r.done()
    fields.setdefault("signature", b"")
    return Signature(
        source="sigstore-bundle",
        media_type=media_type,
        bundle_version=version,
        tlog_log_index=tlog.log_index if tlog else None,
        tlog_integrated_time=tlog.integrated_time if tlog else None,
        tlog_log_id=tlog.log_id if tlog else None,
        tlog_kind=tlog.kind if tlog else None,
        **fields,
    )


def _bytes(r: Reader, obj: Mapping[str, Any], key: str, path: str, required: bool) -> bytes | None:
    text = r.string(obj, key, path, required)
    if text is None:
        return None
    value = decode_base64(text, urlsafe=True, unpadded=True)
    if value is None:
        r.fail(at(path, key), "not base64 (RFC 4648)")
    return value


def _key_material(
    r: Reader, material: Mapping[str, Any], kind: str, max_chain: int
) -> dict[str, Any]:
    path = at("verificationMaterial", kind)
    if kind == "publicKey":
        key = r.object(material, kind, "verificationMaterial") or {}
        return {"public_key_hint": r.string(key, "hint", path)}
    if kind == "certificate":
        cert = r.object(material, kind, "verificationMaterial") or {}
        der = _bytes(r, cert, "rawBytes", path, required=True)
        return certificate_fields(r, der, at(path, "rawBytes"))
    chain = r.object(material, kind, "verificationMaterial") or {}
    items = r.array(chain, "certificates", path, required=True) or ()
    check_count(len(items), max_chain, "Sigstore bundle certificates", "max_chain")
    ders: list[bytes] = []
    for i, item in enumerate(items):
        here = at(at(path, "certificates"), i)
        if not isinstance(item, Mapping):
            r.fail(here, f"expected object, got {json_type(item)}")
            continue
        der = _bytes(r, item, "rawBytes", here, required=True)
        if der is not None:
            ders.append(der)
    if not items:
        r.fail(at(path, "certificates"), "must hold the leaf certificate")
    if not ders:
        return {}
    out = certificate_fields(r, ders[0], at(at(path, "certificates"), 0))
    out["chain"] = tuple(ders[1:])
    return out


def _message_signature(r: Reader, doc: Mapping[str, Any]) -> dict[str, Any]:
    message = r.object(doc, "messageSignature", "") or {}
    signature = _bytes(r, message, "signature", "messageSignature", required=True)
    out: dict[str, Any] = {"signature": signature or b""}
    digest = r.object(message, "messageDigest", "messageSignature")
    if digest is not None:
        here = "messageSignature.messageDigest"
        algorithm = r.string(digest, "algorithm", here)
        if algorithm is not None and algorithm not in _HASH_ALGORITHMS:
            r.fail(at(here, "algorithm"), f"unknown HashAlgorithm {algorithm!r}")
        out.update(
            message_digest_algorithm=algorithm,
            message_digest=_bytes(r, digest, "digest", here, required=False),
        )
    return out


def _tlog(r: Reader, material: Mapping[str, Any], limit: int) -> TlogEntry | None:
    entries = r.array(material, "tlogEntries", "verificationMaterial") or ()
    check_count(len(entries), limit, "Sigstore bundle tlogEntries", "max_tlog_entries")
    first: TlogEntry | None = None
    for i, entry in enumerate(entries):
        here = at("verificationMaterial.tlogEntries", i)
        if not isinstance(entry, Mapping):
            r.fail(here, f"expected object, got {json_type(entry)}")
            continue
        index = _int64(r, entry, "logIndex", here)
        integrated = _int64(r, entry, "integratedTime", here)
        log_id = r.object(entry, "logId", here, required=True) or {}
        key_id = _bytes(r, log_id, "keyId", at(here, "logId"), required=bool(log_id))
        kind_version = r.object(entry, "kindVersion", here, required=True) or {}
        kind = r.string(kind_version, "kind", at(here, "kindVersion"))
        if first is None:
            first = TlogEntry(index, unix_time(integrated), key_id.hex() if key_id else None, kind)
    return first


def _int64(r: Reader, obj: Mapping[str, Any], key: str, path: str) -> int | None:
    """protobuf JSON int64: a decimal string or a number; absent means 0."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit() and len(value) <= 20:
        return int(value)
    r.fail(at(path, key), f"expected an int64 (string or number), got {json_type(value)}")
    return None


__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_TLOG_ENTRIES", "parse_sigstore_bundle"]
