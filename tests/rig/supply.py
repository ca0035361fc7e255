"""A signed, attested two-platform image for the supply-chain tests, pushed through the registry
API as cosign, oras and BuildKit would leave it.

``demo/signed:latest`` is an OCI index (linux/amd64, linux/arm64/v8) with BuildKit-style
attestation manifests (an SPDX SBOM statement and a SLSA v1 provenance statement per platform),
and around it::

    index ............................. demo/signed:latest
    ├── cosign signature (.sig tag)     sha256-<index>.sig: simple signing, certificate, chain,
    │                                   Rekor bundle annotation
    └── Sigstore bundle (referrer)      subject = the index: a DSSE in-toto vulnerability report
    linux/amd64 image
    ├── cosign attestation (.att tag)   sha256-<amd64>.att: DSSE, SLSA v0.2 provenance
    └── SPDX SBOM (referrer)            subject = the amd64 image (application/spdx+json)
        └── cosign signature (referrer) subject = the SBOM manifest (depth 2)
    linux/arm64/v8 image
    └── CycloneDX SBOM (.sbom tag)      sha256-<arm64>.sbom, as ``cosign attach sbom`` writes it

distribution 2.8 has no referrers API, so whoever pushes a referrer keeps the fallback index
tagged ``sha256-<hex>`` of its subject up to date (distribution-spec "Pushing Manifests with
Subject"; oras and cosign's OCI 1.1 mode do the same): one per subject here. The documents
inside are the real ones of ``tests/data/attestations`` (see SOURCES.md there), their
``subject`` set to the digests of this image. Signatures are real Ed25519 signatures (cosign
accepts Ed25519 keys) over the exact payloads, made with a key derived from a fixed seed, and
the certificates are made here with the ``cryptography`` package: a signing certificate naming
:data:`IDENTITY` and the Fulcio issuer extensions (:data:`ISSUER`), issued by a rig CA. The Rekor
entries are well-formed but made up (no transparency log runs here). Everything is
deterministic: the same digests on every run.

:func:`push` sends it all to a registry over the distribution API (blob uploads, manifest PUTs);
:func:`write_layout` writes the same graph as an OCI image layout (cosign tags as ref names,
referrers as untagged entries, as oras and regctl keep them in a layout).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID, ObjectIdentifier

from ociinspect.testing import build
from ociinspect.values import mediatypes as mt

REPOSITORY = "demo/signed"
TAG = "latest"
REFERENCE = f"{REPOSITORY}:{TAG}"
PLATFORMS = ("linux/amd64", "linux/arm64/v8")
DATA = Path(__file__).resolve().parents[1] / "data" / "attestations"

#: The identity (an e-mail subject alternative name) and OIDC issuer the certificates claim.
IDENTITY = "release-bot@rig.example"
ISSUER = "https://issuer.rig.example"

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SPDX_JSON = "application/spdx+json"
CYCLONEDX_JSON = "application/vnd.cyclonedx+json"
COSIGN_SIG_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"

_FULCIO_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
_FULCIO_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
_START = datetime(2024, 1, 1, tzinfo=UTC)
_LOG_ID = hashlib.sha256(b"rig transparency log").digest()


# --------------------------------------------------------------------------- keys and signing


def _key(seed: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest())


SIGNING_KEY = _key("ociinspect rig signer")
CA_KEY = _key("ociinspect rig CA")


def public_key_pem() -> bytes:
    """The signer's public key (what ``cosign verify --key`` would be given)."""
    return SIGNING_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _der_utf8(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 128
    return bytes([0x0C, len(data)]) + data


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ociinspect rig"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@functools.cache
def certificates() -> tuple[x509.Certificate, x509.Certificate]:
    """(the signing certificate, the CA certificate that issued it); Ed25519 signatures are
    deterministic, so are these."""
    ca_name = _name("rig CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(CA_KEY.public_key())
        .serial_number(1)
        .not_valid_before(_START)
        .not_valid_after(_START.replace(year=2034))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(CA_KEY, None)
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca_name)
        .public_key(SIGNING_KEY.public_key())
        .serial_number(0x5EED)
        .not_valid_before(_START)
        .not_valid_after(_START.replace(minute=10))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(IDENTITY)]), critical=True)
        .add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier(_FULCIO_ISSUER_V1), ISSUER.encode()),
            critical=False,
        )
        .add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier(_FULCIO_ISSUER_V2), _der_utf8(ISSUER)),
            critical=False,
        )
        .sign(CA_KEY, None)
    )
    return leaf, ca


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding (secure-systems-lab/dsse protocol.md): what is signed."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _rekor_bundle(signature: bytes, payload: bytes, index: int) -> str:
    """cosign's ``dev.sigstore.cosign/bundle`` annotation: well-formed, made up (no log here)."""
    body = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
            "signature": {"content": _b64(signature)},
        },
    }
    promise = SIGNING_KEY.sign(build.canonical_json(body))
    return json.dumps(
        {
            "SignedEntryTimestamp": _b64(promise),
            "Payload": {
                "body": _b64(build.canonical_json(body)),
                "integratedTime": int(_START.timestamp()) + index,
                "logIndex": index,
                "logID": _LOG_ID.hex(),
            },
        },
        sort_keys=True,
    )


# --------------------------------------------------------------------------- documents


def _data(name: str) -> Any:
    return json.loads((DATA / name).read_bytes())


def _subject(digest: str, name: str) -> list[dict[str, Any]]:
    return [{"name": name, "digest": {"sha256": digest.split(":", 1)[1]}}]


def simple_signing(digest: str, reference: str) -> bytes:
    """cosign's simple-signing payload for ``digest`` (SIGNATURE_SPEC.md), compact as cosign
    writes it."""
    payload = {
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": {"creator": "ociinspect rig"},
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def spdx_statement(image: build.BuiltImage) -> dict[str, Any]:
    """BuildKit's SPDX statement (docs/attestations/sbom.md) about ``image``."""
    statement = _data("buildkit-sbom-spdx.intoto.json")
    statement["subject"] = _subject(image.digest, "pkg:docker/demo/signed@latest")
    return statement


def provenance_v1_statement(image: build.BuiltImage) -> dict[str, Any]:
    """BuildKit's SLSA v1 ``mode=min`` statement, with the request of slsa-definitions.md
    (frontend gateway.v0, a ``build-arg:``), about ``image``."""
    statement = _data("buildkit-provenance-v1-min.intoto.json")
    statement["subject"] = _subject(image.digest, "pkg:docker/demo/signed@latest")
    external = statement["predicate"]["buildDefinition"]["externalParameters"]
    external["request"] = _data("buildkit-slsa-definitions-request-v1.json")
    return statement


def provenance_v02_statement(image: build.BuiltImage) -> dict[str, Any]:
    """A cosign ``--type slsaprovenance`` statement: zlabjp's real BuildKit v0.2 predicate."""
    return {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": _subject(image.digest, "rig.example/demo/signed"),
        "predicate": _data("zlabjp-buildkit-provenance-v02.predicate.json"),
    }


def vuln_statement(index: build.BuiltIndex) -> dict[str, Any]:
    """The in-toto vulns v0.2 example statement, about the index."""
    statement = _data("intoto-vulns-v0.2.intoto.json")
    statement["subject"] = _subject(index.digest, "rig.example/demo/signed")
    return statement


# --------------------------------------------------------------------------- manifests


def _oci_config(layers: list[build.Blob]) -> build.Blob:
    """The config cosign writes for its signature and attestation images."""
    return build.json_blob(
        {
            "architecture": "",
            "config": {},
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [b.digest for b in layers]},
        },
        mt.OCI_CONFIG,
    )


@dataclass(frozen=True)
class Artifact:
    """A manifest with the blobs it needs; ``subject`` is the digest it is about (by field or
    by tag), ``tag`` the cosign tag it is pushed under (None for an OCI 1.1 referrer)."""

    name: str
    manifest: build.Blob
    blobs: tuple[build.Blob, ...]
    subject: str
    tag: str | None = None
    artifact_type: str | None = None
    documents: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return self.manifest.digest


def _manifest(
    config: build.Blob,
    layers: list[build.Blob],
    *,
    artifact_type: str | None = None,
    subject: build.Blob | None = None,
    subject_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> build.Blob:
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [b.descriptor() for b in layers],
    }
    if artifact_type is not None:
        body["artifactType"] = artifact_type
    if subject is not None:
        body["subject"] = subject.descriptor(subject_type)
    if annotations:
        body["annotations"] = dict(annotations)
    return build.json_blob(body, mt.OCI_MANIFEST)


def cosign_tag(digest: str, suffix: str) -> str:
    return digest.replace(":", "-") + "." + suffix


def _signature_layer(digest: str, index: int) -> tuple[build.Blob, bytes]:
    leaf, ca = certificates()
    payload = simple_signing(digest, f"rig.example/{REPOSITORY}")
    signature = SIGNING_KEY.sign(payload)
    annotations = (
        ("dev.cosignproject.cosign/signature", _b64(signature)),
        ("dev.sigstore.cosign/bundle", _rekor_bundle(signature, payload, index)),
        ("dev.sigstore.cosign/certificate", _pem(leaf)),
        ("dev.sigstore.cosign/chain", _pem(ca)),
    )
    return build.Blob(SIMPLESIGNING, payload, annotations=annotations), signature


def cosign_signature(target: build.Blob | build.BuiltIndex) -> Artifact:
    """``cosign sign`` of the index: a ``.sig`` tag holding one simple-signing layer."""
    layer, _ = _signature_layer(target.digest, 4242)
    config = _oci_config([layer])
    manifest = _manifest(config, [layer])
    return Artifact(
        "index signature", manifest, (layer, config), target.digest,
        tag=cosign_tag(target.digest, "sig"), documents={layer.digest: layer.data},
    )


def cosign_attestation(image: build.BuiltImage) -> Artifact:
    """``cosign attest --type slsaprovenance`` of the amd64 image: a ``.att`` tag holding one
    DSSE envelope, signed, with the certificate and the predicate type annotated."""
    leaf, ca = certificates()
    statement = build.canonical_json(provenance_v02_statement(image))
    signature = SIGNING_KEY.sign(pae(IN_TOTO_PAYLOAD, statement))
    envelope = {
        "payload": _b64(statement),
        "payloadType": IN_TOTO_PAYLOAD,
        "signatures": [{"keyid": "", "sig": _b64(signature)}],
    }
    annotations = (
        ("dev.cosignproject.cosign/signature", ""),
        ("dev.sigstore.cosign/certificate", _pem(leaf)),
        ("dev.sigstore.cosign/chain", _pem(ca)),
        ("predicateType", "https://slsa.dev/provenance/v0.2"),
    )
    layer = build.Blob(DSSE, build.canonical_json(envelope), annotations=annotations)
    config = _oci_config([layer])
    manifest = _manifest(config, [layer])
    return Artifact(
        "amd64 attestation", manifest, (layer, config), image.digest,
        tag=cosign_tag(image.digest, "att"), documents={layer.digest: statement},
    )


def cosign_sbom(image: build.BuiltImage) -> Artifact:
    """``cosign attach sbom --type cyclonedx`` of the arm64 image: a ``.sbom`` tag whose one
    layer is the CycloneDX 1.6 example BOM, unsigned."""
    layer = build.Blob(CYCLONEDX_JSON, (DATA / "cyclonedx-valid-bom-1.6.json").read_bytes())
    config = _oci_config([layer])
    manifest = _manifest(config, [layer])
    return Artifact(
        "arm64 SBOM", manifest, (layer, config), image.digest,
        tag=cosign_tag(image.digest, "sbom"), documents={layer.digest: layer.data},
    )


_EMPTY = build.Blob(mt.OCI_EMPTY, b"{}")


def bundle_referrer(index: build.BuiltIndex) -> Artifact:
    """A Sigstore bundle v0.3 whose DSSE envelope carries a vulnerability report about the
    index, attached as an OCI 1.1 referrer (as ``cosign attest`` does with the new bundle
    format)."""
    leaf, _ = certificates()
    statement = build.canonical_json(vuln_statement(index))
    signature = SIGNING_KEY.sign(pae(IN_TOTO_PAYLOAD, statement))
    bundle = {
        "mediaType": BUNDLE,
        "verificationMaterial": {
            "certificate": {"rawBytes": _b64(leaf.public_bytes(serialization.Encoding.DER))},
            "tlogEntries": [
                {
                    "logIndex": "4243",
                    "logId": {"keyId": _b64(_LOG_ID)},
                    "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                    "integratedTime": str(int(_START.timestamp()) + 4243),
                }
            ],
        },
        "dsseEnvelope": {
            "payload": _b64(statement),
            "payloadType": IN_TOTO_PAYLOAD,
            "signatures": [{"sig": _b64(signature)}],
        },
    }
    predicate = vuln_statement(index)["predicateType"]
    layer = build.Blob(
        BUNDLE,
        build.canonical_json(bundle),
        annotations=(("dev.sigstore.bundle.predicateType", predicate),),
    )
    manifest = _manifest(
        _EMPTY, [layer], artifact_type=BUNDLE, subject=index.index,
        annotations={"dev.sigstore.bundle.predicateType": predicate,
                     "org.opencontainers.image.created": "2024-01-01T00:05:00Z"},
    )
    return Artifact(
        "index vulnerability report", manifest, (layer, _EMPTY), index.digest,
        artifact_type=BUNDLE, documents={layer.digest: statement},
    )


def sbom_referrer(image: build.BuiltImage) -> Artifact:
    """The SPDX 2.3 example document attached to the amd64 image as an OCI 1.1 referrer
    (``oras attach --artifact-type application/spdx+json``)."""
    layer = build.Blob(SPDX_JSON, (DATA / "spdx-example-v2.3.spdx.json").read_bytes())
    manifest = _manifest(
        _EMPTY, [layer], artifact_type=SPDX_JSON, subject=image.manifest,
        annotations={"org.opencontainers.image.created": "2024-01-01T00:06:00Z"},
    )
    return Artifact(
        "amd64 SBOM", manifest, (layer, _EMPTY), image.digest,
        artifact_type=SPDX_JSON, documents={layer.digest: layer.data},
    )


def signature_referrer(target: Artifact) -> Artifact:
    """A cosign signature of an artifact, attached as an OCI 1.1 referrer (cosign's
    ``--registry-referrers-mode oci-1-1``): depth 2 under the image."""
    layer, _ = _signature_layer(target.digest, 4244)
    manifest = _manifest(
        _EMPTY, [layer], artifact_type=COSIGN_SIG_ARTIFACT, subject=target.manifest,
        annotations={"org.opencontainers.image.created": "2024-01-01T00:07:00Z"},
    )
    return Artifact(
        "SBOM signature", manifest, (layer, _EMPTY), target.digest,
        artifact_type=COSIGN_SIG_ARTIFACT, documents={layer.digest: layer.data},
    )


def _buildkit_attestation(image: build.BuiltImage) -> build.BuiltImage:
    """BuildKit's attestation manifest for ``image``: an SPDX and a SLSA v1 statement."""
    layers = []
    for statement in (spdx_statement(image), provenance_v1_statement(image)):
        layers.append(
            build.Blob(
                build.IN_TOTO,
                build.canonical_json(statement),
                annotations=(("in-toto.io/predicate-type", statement["predicateType"]),),
            )
        )
    config = build.json_blob(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [b.digest for b in layers]},
        },
        mt.OCI_CONFIG,
    )
    manifest = build.json_blob(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [b.descriptor() for b in layers],
        },
        mt.OCI_MANIFEST,
    )
    return build.BuiltImage(
        manifest,
        config,
        tuple(layers),
        (("architecture", "unknown"), ("os", "unknown")),
        (
            (build.ATTESTATION_DIGEST, image.digest),
            (build.ATTESTATION_TYPE, "attestation-manifest"),
        ),
    )


def _images() -> list[build.BuiltImage]:
    base = build.layer([build.directory("etc"), build.file("etc/os-release", b"ID=signed\n")])
    return [
        build.image(
            [base, build.layer([build.file("etc/arch", p + "\n")])],
            platform=p,
            cmd=["/bin/sh"],
            labels={"org.opencontainers.image.title": "signed"},
        )
        for p in PLATFORMS
    ]


@dataclass(frozen=True)
class Chain:
    """Everything :func:`push` sends, and what the tests expect to find."""

    index: build.BuiltIndex
    index_signature: Artifact
    index_report: Artifact
    amd64_attestation: Artifact
    amd64_sbom: Artifact
    sbom_signature: Artifact
    arm64_sbom: Artifact

    def image(self, platform: str) -> build.BuiltImage:
        return self.index.image_for(platform)

    @property
    def artifacts(self) -> tuple[Artifact, ...]:
        return (
            self.index_signature, self.index_report, self.amd64_attestation,
            self.amd64_sbom, self.sbom_signature, self.arm64_sbom,
        )

    @property
    def referrers(self) -> tuple[Artifact, ...]:
        """The OCI 1.1 referrers (with a ``subject`` field), in push order."""
        return tuple(a for a in self.artifacts if a.tag is None)

    def fallback_indexes(self) -> dict[str, build.Blob]:
        """``sha256-<hex>`` tag -> the referrers index a pusher keeps there (distribution-spec
        "Referrers Tag Schema"): each referrer's descriptor with its ``artifactType`` and
        ``annotations``."""
        by_subject: dict[str, list[dict[str, Any]]] = {}
        for artifact in self.referrers:
            body = json.loads(artifact.manifest.data)
            entry = artifact.manifest.descriptor()
            entry["artifactType"] = body.get("artifactType") or body["config"]["mediaType"]
            if body.get("annotations"):
                entry["annotations"] = body["annotations"]
            by_subject.setdefault(artifact.subject, []).append(entry)
        return {
            subject.replace(":", "-"): build.json_blob(
                {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": entries},
                mt.OCI_INDEX,
            )
            for subject, entries in by_subject.items()
        }


@functools.cache
def chain() -> Chain:
    """The whole graph (deterministic; built once per process)."""
    images = _images()
    attestations = tuple(_buildkit_attestation(img) for img in images)
    body = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [img.descriptor() for img in (*images, *attestations)],
    }
    index = build.BuiltIndex(build.json_blob(body, mt.OCI_INDEX), tuple(images), attestations)
    amd64, arm64 = images
    sbom = sbom_referrer(amd64)
    return Chain(
        index=index,
        index_signature=cosign_signature(index),
        index_report=bundle_referrer(index),
        amd64_attestation=cosign_attestation(amd64),
        amd64_sbom=sbom,
        sbom_signature=signature_referrer(sbom),
        arm64_sbom=cosign_sbom(arm64),
    )


# --------------------------------------------------------------------------- pushing


def _blobs(c: Chain) -> Iterator[build.Blob]:
    seen: set[str] = set()
    everything = [*c.index.blobs(), *(b for a in c.artifacts for b in a.blobs)]
    for blob in everything:
        if mt.kind(blob.media_type) in ("manifest", "index") or blob.digest in seen:
            continue
        seen.add(blob.digest)
        yield blob


class Pusher:
    """The distribution push API over one ``requests.Session`` (loopback only, no proxy)."""

    def __init__(self, base_url: str, repository: str = REPOSITORY, token: str | None = None):
        self.base = base_url.rstrip("/")
        self.repository = repository
        self.http = requests.Session()
        self.http.trust_env = False
        if token is not None:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def upload(self, blob: build.Blob) -> None:
        """POST then a monolithic PUT (distribution-spec "Pushing a blob monolithically")."""
        started = self.http.post(f"{self.base}/v2/{self.repository}/blobs/uploads/", timeout=30)
        if started.status_code != 202:
            raise RuntimeError(f"upload of {blob.digest}: {started.status_code} {started.text}")
        location = urljoin(self.base, started.headers["Location"])
        separator = "&" if "?" in location else "?"
        done = self.http.put(
            f"{location}{separator}digest={blob.digest}",
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        if done.status_code != 201:
            raise RuntimeError(f"upload of {blob.digest}: {done.status_code} {done.text}")

    def put_manifest(self, reference: str, blob: build.Blob) -> None:
        answer = self.http.put(
            f"{self.base}/v2/{self.repository}/manifests/{reference}",
            data=blob.data,
            headers={"Content-Type": blob.media_type},
            timeout=30,
        )
        if answer.status_code != 201:
            raise RuntimeError(
                f"PUT manifest {self.repository}:{reference}: {answer.status_code} {answer.text}"
            )


def push(base_url: str, *, repository: str = REPOSITORY, token: str | None = None) -> Chain:
    """Push :func:`chain` to the registry at ``base_url`` (``http://127.0.0.1:PORT``): blobs,
    then manifests by digest, the index by tag, cosign's tags, the referrers by digest, and
    last the fallback indexes (as a pusher without the referrers API must)."""
    c = chain()
    pusher = Pusher(base_url, repository, token)
    for blob in _blobs(c):
        pusher.upload(blob)
    for img in (*c.index.images, *c.index.attestations):
        pusher.put_manifest(img.digest, img.manifest)
    pusher.put_manifest(TAG, c.index.index)
    for artifact in c.artifacts:
        pusher.put_manifest(artifact.tag or artifact.digest, artifact.manifest)
    for tag, listing in c.fallback_indexes().items():
        pusher.put_manifest(tag, listing)
    return c


def write_layout(directory: str | Path) -> Path:
    """The same graph as an OCI image layout: the index tagged ``latest``, cosign's artifacts
    under their tags, referrers as untagged entries (found by their ``subject``)."""
    c = chain()
    out = build.write_layout(directory, c.index, tags=(TAG,))
    blob_dir = out / "blobs" / "sha256"
    for artifact in c.artifacts:
        for blob in (*artifact.blobs, artifact.manifest):
            (blob_dir / blob.digest.split(":", 1)[1]).write_bytes(blob.data)
    listing = json.loads((out / "index.json").read_bytes())
    for artifact in c.artifacts:
        entry = artifact.manifest.descriptor()
        if artifact.tag is not None:
            entry["annotations"] = {build.REF_NAME: artifact.tag}
        elif artifact.artifact_type is not None:
            entry["artifactType"] = artifact.artifact_type
        listing["manifests"].append(entry)
    (out / "index.json").write_bytes(build.canonical_json(listing))
    return out


__all__ = [
    "IDENTITY",
    "ISSUER",
    "PLATFORMS",
    "REFERENCE",
    "REPOSITORY",
    "TAG",
    "Artifact",
    "Chain",
    "Pusher",
    "certificates",
    "chain",
    "cosign_tag",
    "pae",
    "public_key_pem",
    "push",
    "simple_signing",
    "write_layout",
]
