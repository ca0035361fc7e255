"""Private: the certificates of cosign signatures and Sigstore bundles.

PEM is split and decoded with the standard library (RFC 7468 section 2: ``-----BEGIN
CERTIFICATE-----``, base64 of the DER, ``-----END CERTIFICATE-----``), so the DER bytes and
their SHA-256 fingerprint are always available. Reading what a certificate says (its subject
alternative names, the Fulcio extensions, validity) needs the ``cryptography`` package; when it
cannot be imported, :func:`describe` returns None and the caller says so.

Fulcio's extensions (sigstore/fulcio docs/oid-info.md, "Extension values"): under
``1.3.6.1.4.1.57264.1``, ``.1`` to ``.6`` hold raw strings without DER encoding; ``.8`` to
``.22`` hold DER-encoded UTF8String (tag 0x0C); ``.1`` (deprecated) and ``.8`` are the OIDC
issuer; ``.7`` names the OtherName subject alternative name (a DER UTF8String).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

crypto: Any
try:  # optional: a test dependency of ociinspect, not a runtime one
    from cryptography import x509 as crypto
except ImportError:  # pragma: no cover - the test suite has cryptography
    crypto = None

FULCIO_ARC = "1.3.6.1.4.1.57264.1"
FULCIO_ISSUER = FULCIO_ARC + ".1"
FULCIO_OTHERNAME_SAN = FULCIO_ARC + ".7"
FULCIO_ISSUER_V2 = FULCIO_ARC + ".8"
_RAW_STRING_ARCS = frozenset(range(1, 7))

NO_CRYPTOGRAPHY = (
    "certificate not decoded: the 'cryptography' package is not installed "
    "(identity and issuer need it; the DER bytes and fingerprint are shown)"
)

_PEM_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----(?P<body>[A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----"
)


def pem_certificates(text: str) -> tuple[bytes, ...] | None:
    """The DER of each CERTIFICATE block, in order; None unless the text is only such blocks
    (and whitespace), or a block is not base64."""
    out: list[bytes] = []
    end = 0
    for match in _PEM_BLOCK.finditer(text):
        if text[end : match.start()].strip():
            return None
        end = match.end()
        body = "".join(match.group("body").split())
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
        if not der or der[0] != 0x30:  # X.690: a Certificate is a DER SEQUENCE
            return None
        out.append(der)
    if text[end:].strip() or not out:
        return None
    return tuple(out)


def fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a certificate's DER, lowercase hex."""
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class CertificateInfo:
    """What a certificate says, as read by ``cryptography`` (nothing here is verified)."""

    subject: str
    issuer: str
    serial_number: str
    not_before: datetime
    not_after: datetime
    subject_alternative_names: tuple[str, ...]
    oidc_issuer: str | None
    fulcio_extensions: Mapping[str, str] = field(default_factory=dict, hash=False, repr=False)


def available() -> bool:
    """Whether certificates can be decoded (the ``cryptography`` package imported)."""
    return crypto is not None


def describe(der: bytes) -> CertificateInfo | None:
    """The certificate's names and Fulcio claims; None without ``cryptography``.
    Raises ValueError when the DER is not a certificate."""
    if crypto is None:
        return None
    cert = crypto.load_der_x509_certificate(der)
    sans: list[str] = []
    fulcio: dict[str, str] = {}
    for ext in cert.extensions:
        oid = ext.oid.dotted_string
        if isinstance(ext.value, crypto.SubjectAlternativeName):
            sans.extend(_san(name) for name in ext.value)
        elif oid.startswith(FULCIO_ARC + "."):
            value = _fulcio_value(oid, getattr(ext.value, "value", b""))
            if value is not None:
                fulcio[oid] = value
    issuer = fulcio.get(FULCIO_ISSUER_V2) or fulcio.get(FULCIO_ISSUER)
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial_number=format(cert.serial_number, "x"),
        not_before=_utc(cert, "not_valid_before"),
        not_after=_utc(cert, "not_valid_after"),
        subject_alternative_names=tuple(sans),
        oidc_issuer=issuer,
        fulcio_extensions=MappingProxyType(fulcio),
    )


def _utc(cert: Any, name: str) -> datetime:
    value = getattr(cert, name + "_utc", None)  # cryptography >= 42
    if value is None:  # pragma: no cover - older cryptography
        value = getattr(cert, name).replace(tzinfo=UTC)
    result: datetime = value
    return result


def _san(name: Any) -> str:
    if isinstance(name, crypto.OtherName):
        text = der_utf8(name.value)
        return text if text is not None else name.value.hex()
    if isinstance(name, crypto.DirectoryName):
        return str(name.value.rfc4514_string())
    return str(name.value)


def _fulcio_value(oid: str, data: bytes) -> str | None:
    arc = oid.removeprefix(FULCIO_ARC + ".")
    if arc.isdigit() and int(arc) in _RAW_STRING_ARCS:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return der_utf8(data)


def der_utf8(data: bytes) -> str | None:
    """X.690 DER of a UTF8String (tag 0x0C, definite length); None for anything else."""
    if len(data) < 2 or data[0] != 0x0C:
        return None
    length = data[1]
    offset = 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            return None
        length = int.from_bytes(data[2 : 2 + count], "big")
        offset = 2 + count
    if len(data) != offset + length:
        return None
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError:
        return None
