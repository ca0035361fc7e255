"""A test certificate authority, made with ``cryptography``, for the registry personalities.

:func:`create_ca` writes a self-signed CA (EC P-256) to a directory;
:meth:`CertificateAuthority.issue` writes a leaf certificate, signed by it, for a list of DNS
names (all in the SubjectAlternativeName, which is what clients check: RFC 6125 section 6.4).
Clients trust the CA by its bundle file (``curl --cacert``, ``requests``' ``verify=``), never
the system store, so nothing here can vouch for a real host outside the test process.

The certificates carry what strict verifiers ask for (RFC 5280 section 4.2): the CA has
``basicConstraints`` CA:TRUE (critical), ``keyUsage`` keyCertSign/cRLSign and a subject key
identifier; a leaf has CA:FALSE, ``keyUsage`` digitalSignature, ``extendedKeyUsage`` serverAuth
and an authority key identifier. Lifetimes are short (two days by default).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: A DNS name a leaf may carry: labels of letters, digits and hyphens (no wildcards).
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
#: At most this many names in one leaf (the personalities need under ten).
MAX_NAMES = 64


@dataclass(frozen=True)
class LeafFiles:
    """A server certificate (PEM, leaf only) and its private key (PEM, PKCS#8, unencrypted)."""

    cert: Path
    key: Path
    names: tuple[str, ...]


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA on disk: ``bundle`` is the certificate clients trust, ``key`` signs leaves."""

    directory: Path
    bundle: Path
    key: Path
    days: int = 2

    def issue(self, names: Iterable[str], stem: str) -> LeafFiles:
        """Write ``<stem>.pem`` and ``<stem>-key.pem`` for ``names`` (DNS SANs) into the CA's
        directory; the first name is also the subject CN."""
        wanted = tuple(dict.fromkeys(n.lower().rstrip(".") for n in names))
        if not wanted or len(wanted) > MAX_NAMES:
            raise ValueError(f"a leaf needs 1 to {MAX_NAMES} names, got {len(wanted)}")
        bad = [n for n in wanted if not _DNS_NAME.match(n)]
        if bad:
            raise ValueError(f"not DNS names a test leaf may carry: {bad}")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", stem):
            raise ValueError(f"file stem {stem!r}: letters, digits, '_', '.', '-' only")
        ca_key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(self.bundle.read_bytes())
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{self.key} does not hold an EC private key")
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, wanted[0])]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=self.days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signing=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in wanted]), critical=False
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_path = self.directory / f"{stem}.pem"
        key_path = self.directory / f"{stem}-key.pem"
        _write_key(key_path, key)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return LeafFiles(cert_path, key_path, wanted)


def create_ca(
    directory: Path, *, days: int = 2, name: str = "ociinspect personalities test CA"
) -> CertificateAuthority:
    """Make a fresh CA in ``directory`` (created if missing): ``ca.pem`` and ``ca-key.pem``."""
    if not 1 <= days <= 30:
        raise ValueError(f"a test CA lives 1 to 30 days, not {days}")
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ociinspect tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    bundle, key_path = directory / "ca.pem", directory / "ca-key.pem"
    _write_key(key_path, key)
    bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CertificateAuthority(directory, bundle, key_path, days)


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    """digitalSignature for a TLS server leaf; keyCertSign and cRLSign for the CA."""
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Write ``key`` as PKCS#8 PEM readable by the owner only."""
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(data)
