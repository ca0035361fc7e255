"""A fleet for inventory tests: hundreds of repositories, thousands of tags, seeded in seconds.

:func:`seed_fleet` talks to a running registry through the distribution API only (plus, for the
two cases the API cannot make, the storage directory the rig gives): a few shared blobs are
uploaded once (``POST`` then monolithic ``PUT``) into the base repository and then *mounted* into
every repository that needs them (``POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<base>``,
distribution spec "Mounting a blob from another repository"), so a repository costs one request
per blob it references, never the bytes. Manifests and indexes are ``PUT`` by digest (children)
and by tag. A bounded thread pool (8) over one keep-alive ``requests.Session`` does the work.

Layout (``repositories=300, platforms=4``; ``P`` is ``platforms``; ``<team>`` is one of ten)::

    fleet/base/os                 OCI indexes of P platforms; tags 1 (rootfs gen 1), 2, latest -> 2
    fleet/<team>/svc-NNN          i % 12 in 0..7: "index"    OCI index of P platform manifests
    fleet/<team>/tools/svc-NNN    (every 25th name is one level deeper)
                                  i % 12 == 8:    "attested" as "index", and the newest version
                                                  carries BuildKit attestation manifests
                                  i % 12 == 9:    "dockerlist" Docker manifest list + schema2
                                  i % 12 in 10..11: "single" one linux/amd64 manifest per tag
                                                  (OCI, or Docker schema2 when i % 24 == 23)
    fleet/broken/child-deleted    index tag 1.0 whose second platform manifest was DELETEd
    fleet/broken/emptied          its only manifest DELETEd by digest: listed, no tags
    fleet/broken/revision-missing tag ``gone`` listed, manifest revision link removed on disk;
                                  tag ``kept`` is healthy
    fleet/legacy/schema1          tag v1: a signed Docker schema1 manifest (see below)
    private/fleet/vault           an OCI index only alice may pull (token mode; rig.users)

Why each part, by the inventory behaviour it exercises:

- *Size*: >= 1,000 tags of P platforms over >= 300 repositories, so catalog pagination
  (``?n=&last=`` and ``Link``), bounded concurrency and per-registry request counts are real.
- *Tags per repository* cycle through :data:`TAG_COUNTS` (1 to 8); a repository of ``t`` tags
  holds about ``t/3`` versions (``1.0.0``, ``1.1.0``, ...) and the rest are aliases
  (``latest``, ``stable``, ``lts`` -> oldest, ...) that share a digest: digest de-duplication.
- *Created* dates span 2018 to 2025 (16 half-year eras): age columns, "stale since" filters.
  Configs carry labels that change with the era (``licenses`` on odd eras, a legacy
  ``maintainer`` before 2020): label columns with gaps.
- *Same bytes in many repositories*: Docker schema2 manifests cannot carry annotations, so
  "dockerlist" repositories of one era share platform manifest digests: cross-repository
  de-duplication. OCI platform manifests carry ``org.opencontainers.image.source`` and differ.
- *Base images*: "index" repositories whose number is a multiple of 3 annotate their platform
  manifests with ``org.opencontainers.image.base.name`` (``<registry host>/fleet/base/os:latest``)
  and ``base.digest`` (the base platform manifest they were built on); images from before 2022
  were built on rootfs gen 1, which ``latest`` no longer is: an "outdated base" report has true
  rows.
- *Attestations*: BuildKit's layout (``unknown/unknown`` entries with
  ``vnd.docker.reference.type: attestation-manifest`` and ``vnd.docker.reference.digest``), an
  in-toto SLSA provenance layer whose subject is the platform manifest digest: platform counts
  must not count them.
- *Broken rows* (:class:`BrokenCase`, each with the registry's exact answer):
  ``child-deleted`` is made with the API (``DELETE`` of an untagged child by digest; 2.8.2
  untags only tags that point at the deleted digest), the state ``garbage-collect
  --delete-untagged`` leaves behind for multi-platform images. ``emptied`` is the API's own
  delete of a tagged manifest: 2.8.2 removes its tags too, so the repository stays in
  ``_catalog`` with ``"tags": null``. A *listed* tag without its manifest cannot be made with the
  API (because of that untagging), so ``revision-missing`` removes the repository's revision
  link ``_manifests/revisions/sha256/<hex>/link`` on disk, which is what a half-finished delete
  or a partial storage copy leaves. ``private/fleet/vault`` is refused to bob (token mode).
- *Schema1*: 2.8.2 refuses schema1 pushes unless ``compatibility.schema1.enabled`` is set (the
  rig does not set it): a validly signed schema1 ``PUT`` is answered ``500 UNKNOWN`` ("manifest
  schema v1 unsupported"), an unsigned one ``400 MANIFEST_INVALID``. So the seeder tries the
  API first and, when refused, writes the files a schema1-enabled 2.8.2 writes for the same
  push (the canonical payload as blob data, the revision link and the tag's ``current`` and
  ``index`` links; the test compares them file by file with such a registry). On ``GET`` the
  registry re-signs the payload with its own key and serves
  ``application/vnd.docker.distribution.manifest.v1+prettyjws``.

Everything but the ``base.name`` host is deterministic: the same digests on every run.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ociinspect.errors import RegistryError, RegistryErrorDetail

from .users import ANONYMOUS, BOB, PRIVATE_PREFIX

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
IN_TOTO = "application/vnd.in-toto+json"
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST, SCHEMA1_SIGNED))

PLATFORMS = (
    "linux/amd64",
    "linux/arm64/v8",
    "linux/arm/v7",
    "linux/ppc64le",
    "linux/s390x",
    "linux/386",
    "linux/riscv64",
)
#: Tags per repository, cycled (mean 5).
TAG_COUNTS = (1, 2, 3, 5, 6, 7, 8, 8)
TEAMS = ("payments", "search", "identity", "data", "web", "platform", "ml", "edge", "mobile", "ops")
#: Alias tags, in the order a repository gains them, and which version each points at.
ALIASES = (
    ("latest", -1),
    ("stable", -2),
    ("lts", 0),
    ("edge", -1),
    ("prod", -2),
    ("previous", -2),
    ("main", -1),
    ("release", -1),
)
ERAS = 16  # half years from 2018-01 to 2025-07
MAX_REPOSITORIES = 2000
MAX_TAGS = 64
MAX_WORKERS = 32

BROKEN_CHILD_DELETED = "child-deleted"
BROKEN_EMPTIED = "emptied"
BROKEN_EMPTIED_TAGS = "emptied-tags"
BROKEN_REVISION_MISSING = "revision-missing"
BROKEN_PRIVATE_BOB = "private-bob"
BROKEN_PRIVATE_ANONYMOUS = "private-anonymous"
LEGACY_SCHEMA1 = "schema1"


class FleetSeedError(RegistryError):
    """The registry refused or garbled a request the seeder needed; nothing more is pushed."""


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class FleetTag:
    """One tag as ``tags/list`` shows it, and what its manifest holds."""

    repository: str
    tag: str
    digest: str
    media_type: str
    platforms: tuple[str, ...]  # image platforms only; attestation entries are not counted


@dataclass(frozen=True)
class FleetRepository:
    """One repository ``_catalog`` lists, and which part of the layout it is."""

    name: str
    kind: str  # base, index, attested, dockerlist, single, broken, legacy, private


@dataclass(frozen=True)
class BrokenCase:
    """A request an inventory makes that does not give a healthy row, and what it answers."""

    name: str  # stable id, one of the BROKEN_* / LEGACY_* constants
    repository: str
    method: str
    path: str  # path and query, e.g. /v2/fleet/broken/emptied/manifests/1.0
    identity: str  # who asks: "alice", "bob" or "anonymous"
    status: int
    error_code: str | None  # the registry's errors[0].code; None for a 2xx answer
    media_type: str | None  # Content-Type of a 2xx manifest answer
    how: str  # how the seeder made it, with the registry's own answers
    inventory: str  # what an inventory should show for it
    modes: tuple[str, ...] = ("open", "basic", "token")  # rig modes in which it holds


@dataclass(frozen=True)
class FleetSeed:
    """What :func:`seed_fleet` pushed, what is broken on purpose, and what it cost."""

    base_url: str
    repositories: tuple[FleetRepository, ...]  # every repository _catalog lists, sorted
    tags: tuple[FleetTag, ...]  # every tag tags/list lists
    broken: tuple[BrokenCase, ...]
    manifests: int  # distinct (repository, digest) manifests and indexes stored
    manifest_puts: int
    blobs: int  # distinct blob digests referenced
    uploads: int  # blobs sent as bytes (POST + PUT)
    mounts: int  # blobs linked by cross-repository mount
    requests: int  # HTTP requests to the registry
    token_requests: int  # HTTP requests to the token server
    seconds: float

    def tags_of(self, repository: str) -> tuple[str, ...]:
        return tuple(t.tag for t in self.tags if t.repository == repository)

    def case(self, name: str) -> BrokenCase:
        return next(c for c in self.broken if c.name == name)


# ----------------------------------------------------------------------------- blobs


@dataclass(frozen=True)
class _Blob:
    data: bytes
    media_type: str
    digest: str

    def descriptor(self, media_type: str | None = None, **extra: Any) -> dict[str, Any]:
        out = {"mediaType": media_type or self.media_type, "digest": self.digest}
        return {**out, "size": len(self.data), **extra}


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob(data: bytes, media_type: str) -> _Blob:
    return _Blob(data, media_type, _sha256(data))


def _json(document: dict[str, Any], media_type: str) -> _Blob:
    return _blob(json.dumps(document, separators=(",", ":")).encode(), media_type)


def _noise(size: int, seed: str) -> bytes:
    blocks = (hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def _tar(entries: Iterable[tuple[str, bytes | None, int]]) -> bytes:
    """A deterministic ustar: (path, content or None for a directory, mode)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, content, mode in entries:
            info = tarfile.TarInfo(path)
            info.mtime, info.mode, info.uname, info.gname = 1514764800, mode, "root", "root"
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


@dataclass(frozen=True)
class _Layer:
    blob: _Blob
    diff_id: str


def _layer(entries: Iterable[tuple[str, bytes | None, int]]) -> _Layer:
    raw = _tar(entries)
    return _Layer(_blob(gzip.compress(raw, compresslevel=6, mtime=0), OCI_LAYER), _sha256(raw))


def _era_date(era: int) -> str:
    return f"{2018 + era // 2}-{1 + 6 * (era % 2):02d}-15T09:30:00Z"


def _gen(era: int) -> int:
    """Rootfs generation an era's images were built on: gen 2 from 2022 on."""
    return 1 if era < 8 else 2


def _platform_fields(platform: str) -> dict[str, str]:
    os_, arch, *variant = platform.split("/")
    return {"architecture": arch, "os": os_, **({"variant": variant[0]} if variant else {})}


class _Pool:
    """Every shared blob: rootfs layers per (gen, platform), three app layers, configs per
    (era, platform) and base configs per (gen, platform)."""

    def __init__(self, platforms: Sequence[str]) -> None:
        self.rootfs: dict[tuple[int, str], _Layer] = {}
        for gen in (1, 2):
            for platform in platforms:
                self.rootfs[gen, platform] = _layer(
                    [
                        ("bin", None, 0o755),
                        ("etc", None, 0o755),
                        ("bin/sh", _noise(2048, f"sh-{gen}-{platform}"), 0o755),
                        ("etc/os-release", f"ID=fleet\nVERSION_ID={gen}\n".encode(), 0o644),
                        ("etc/platform", f"{platform}\n".encode(), 0o644),
                    ]
                )
        self.app = [
            _layer(
                [
                    ("app", None, 0o755),
                    ("app/run", b"#!/bin/sh\nexec /app/server\n", 0o755),
                    ("app/VERSION", f"{n + 1}\n".encode(), 0o644),
                    ("app/data.bin", _noise(4096 * (n + 1), f"app-{n}"), 0o644),
                ]
            )
            for n in range(3)
        ]
        self.configs = {(era, p): self._config(era, p) for era in range(ERAS) for p in platforms}
        self.base_configs = {
            (gen, p): self._base_config(gen, p) for gen in (1, 2) for p in platforms
        }

    def app_layers(self, era: int, platform: str) -> list[_Layer]:
        return [self.rootfs[_gen(era), platform], self.app[min(era // 6, 2)]]

    def _config(self, era: int, platform: str) -> _Blob:
        created = _era_date(era)
        labels = {
            "org.opencontainers.image.vendor": "Fleet Example",
            "org.opencontainers.image.created": created,
            "fleet.era": str(era),
        }
        if era % 2:
            labels["org.opencontainers.image.licenses"] = "Apache-2.0"
        if era < 4:
            labels["maintainer"] = "ops@fleet.example.invalid"
        layers = self.app_layers(era, platform)
        steps = [
            {"created": created, "created_by": f"ADD rootfs-gen{_gen(era)}.tar / # buildkit"},
            {"created": created, "created_by": "COPY app /app # buildkit"},
            {"created": created, "created_by": 'CMD ["/app/run"]', "empty_layer": True},
        ]
        return _json(
            {
                "created": created,
                **_platform_fields(platform),
                "config": {
                    "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
                    "Cmd": ["/app/run"],
                    "WorkingDir": "/app",
                    "Labels": labels,
                },
                "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
                "history": steps,
            },
            OCI_CONFIG,
        )

    def _base_config(self, gen: int, platform: str) -> _Blob:
        created = "2018-01-02T00:00:00Z" if gen == 1 else "2022-01-03T00:00:00Z"
        return _json(
            {
                "created": created,
                **_platform_fields(platform),
                "config": {"Cmd": ["/bin/sh"], "Labels": {"fleet.base.gen": str(gen)}},
                "rootfs": {"type": "layers", "diff_ids": [self.rootfs[gen, platform].diff_id]},
                "history": [{"created": created, "created_by": f"ADD rootfs-gen{gen}.tar /"}],
            },
            OCI_CONFIG,
        )

    def all_blobs(self) -> list[_Blob]:
        layers = [*self.rootfs.values(), *self.app]
        return [
            *(layer.blob for layer in layers),
            *self.configs.values(),
            *self.base_configs.values(),
        ]


def _image_manifest(
    config: _Blob, layers: Sequence[_Layer], *, docker: bool = False, annotations: Any = None
) -> _Blob:
    if docker:
        document = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": config.descriptor(DOCKER_CONFIG),
            "layers": [layer.blob.descriptor(DOCKER_LAYER) for layer in layers],
        }
        return _json(document, DOCKER_MANIFEST)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.blob.descriptor() for layer in layers],
    }
    if annotations:
        document["annotations"] = annotations
    return _json(document, OCI_MANIFEST)


def _index(
    entries: list[dict[str, Any]], *, docker: bool = False, annotations: Any = None
) -> _Blob:
    media_type = DOCKER_LIST if docker else OCI_INDEX
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
    if annotations:
        document["annotations"] = annotations
    return _json(document, media_type)


def _attestation(repository: str, version: str, platform: str, subject: _Blob) -> list[_Blob]:
    """BuildKit's attestation manifest for one platform: [statement, config, manifest]."""
    predicate_type = "https://slsa.dev/provenance/v0.2"
    platform_query = quote(platform, safe="")
    statement = _json(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": predicate_type,
            "subject": [
                {
                    "name": f"pkg:docker/{repository}@{version}?platform={platform_query}",
                    "digest": {"sha256": subject.digest.split(":", 1)[1]},
                }
            ],
            "predicate": {
                "builder": {"id": ""},
                "buildType": "https://mobyproject.org/buildkit@v1",
                "invocation": {"configSource": {"entryPoint": "Dockerfile"}},
                "metadata": {"reproducible": False, "completeness": {"parameters": True}},
            },
        },
        IN_TOTO,
    )
    config = _json(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [statement.digest]},
        },
        OCI_CONFIG,
    )
    layer = statement.descriptor(annotations={"in-toto.io/predicate-type": predicate_type})
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [layer],
        },
        OCI_MANIFEST,
    )
    return [statement, config, manifest]


# ----------------------------------------------------------------------------- schema1


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


#: A fixed P-256 key, so the libtrust key id (``kid``) is the same on every run.
_SCHEMA1_KEY = ec.derive_private_key(0xF1EE7, ec.SECP256R1())


def _libtrust_jwk() -> dict[str, str]:
    public = _SCHEMA1_KEY.public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # libtrust's key id: SHA-256 of the DER public key, first 240 bits, base32, groups of 4.
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    numbers = public.public_numbers()
    return {
        "crv": "P-256",
        "kid": ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4)),
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


@dataclass(frozen=True)
class Schema1Image:
    """The fleet's legacy image: its layers and its Docker schema1 manifest, both forms."""

    repository: str
    tag: str
    layers: tuple[bytes, ...]  # gzip layer blobs, bottom first
    payload: bytes  # the canonical manifest (what the registry stores and digests)
    signed: bytes  # the same with its libtrust signature block (what a client pushes)

    @property
    def digest(self) -> str:
        return _sha256(self.payload)


def schema1_image(prefix: str = "fleet", platform: str = "linux/amd64") -> Schema1Image:
    """The fleet's ``<prefix>/legacy/schema1:v1``, built on the pool's era-0 layers."""
    repository, tag = f"{prefix}/legacy/schema1", "v1"
    layers = [layer.blob for layer in _Pool([platform]).app_layers(0, platform)]
    payload, signed = _schema1_manifest(repository, tag, layers)
    return Schema1Image(repository, tag, tuple(b.data for b in layers), payload, signed)


def _schema1_manifest(repository: str, tag: str, layers: Sequence[_Blob]) -> tuple[bytes, bytes]:
    """(canonical payload, signed pretty JWS) of a Docker schema1 manifest, as Docker 1.x
    pushed them: 3-space indented JSON, ``fsLayers`` top layer first, one ES256 libtrust
    signature whose protected header holds ``formatLength`` and ``formatTail`` (libtrust's
    jsonsign.go), so that payload = signed bytes up to formatLength + formatTail."""
    ids = [hashlib.sha256(f"{repository}:{layer.digest}".encode()).hexdigest() for layer in layers]
    history = []
    for n, layer_id in enumerate(ids):
        entry: dict[str, Any] = {"id": layer_id, "created": "2016-03-01T12:00:00Z"}
        if n:
            entry["parent"] = ids[n - 1]
        entry["container_config"] = {"Cmd": [f"/bin/sh -c #(nop) ADD layer {n}"]}
        if n == len(ids) - 1:
            entry |= {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]}}
        history.append({"v1Compatibility": json.dumps(entry, separators=(",", ":"))})
    document = {
        "schemaVersion": 1,
        "name": repository,
        "tag": tag,
        "architecture": "amd64",
        "fsLayers": [{"blobSum": layer.digest} for layer in reversed(layers)],
        "history": list(reversed(history)),
    }
    payload = json.dumps(document, indent=3).encode()
    format_length = len(payload[: len(payload.rstrip()) - 1].rstrip())
    protected = _b64url(
        json.dumps(
            {
                "formatLength": format_length,
                "formatTail": _b64url(payload[format_length:]),
                "time": "2016-03-01T12:00:00Z",
            },
            separators=(",", ":"),
        ).encode()
    )
    der = _SCHEMA1_KEY.sign(f"{protected}.{_b64url(payload)}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = {
        "header": {"jwk": _libtrust_jwk(), "alg": "ES256"},
        "signature": _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big")),
        "protected": protected,
    }
    block = json.dumps([signature], indent=3).replace("\n", "\n   ")
    signed = payload[:format_length] + b',\n   "signatures": ' + block.encode() + b"\n}"
    return payload, signed


def storage_root(storage_dir: Path) -> Path:
    """The filesystem driver's root inside a rig storage directory."""
    return storage_dir / "docker" / "registry" / "v2"


def write_manifest_to_storage(storage_dir: Path, repository: str, tag: str, payload: bytes) -> str:
    """Write what 2.8.2 writes when it stores a manifest and tags it (paths.go's layout):
    ``blobs/sha256/<xx>/<hex>/data``, ``repositories/<name>/_manifests/revisions/sha256/<hex>/link``
    and the tag's ``current/link`` and ``index/sha256/<hex>/link``; each link holds the digest."""
    digest = _sha256(payload)
    hex_ = digest.split(":", 1)[1]
    root = storage_root(storage_dir)
    manifests = root / "repositories" / repository / "_manifests"
    files = {
        root / "blobs" / "sha256" / hex_[:2] / hex_ / "data": payload,
        manifests / "revisions" / "sha256" / hex_ / "link": digest.encode(),
        manifests / "tags" / tag / "current" / "link": digest.encode(),
        manifests / "tags" / tag / "index" / "sha256" / hex_ / "link": digest.encode(),
    }
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return digest


# ----------------------------------------------------------------------------- HTTP


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def _errors(response: requests.Response) -> list[RegistryErrorDetail]:
    try:
        body = response.json()
        return [
            RegistryErrorDetail(str(e.get("code")), str(e.get("message", "")), e.get("detail"))
            for e in body.get("errors", [])
        ]
    except (ValueError, AttributeError):
        return []


def error_code(response: requests.Response) -> str | None:
    """The first ``errors[].code`` of a registry answer, or None."""
    errors = _errors(response)
    return errors[0].code if errors else None


class FleetAccess:
    """HTTP to one registry as one identity (open, Basic, or Bearer with one cached token per
    set of scopes), counting requests. Thread-safe; the seeder and the tests both use it."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: tuple[str, str] | None = None,
        session: requests.Session | None = None,
        workers: int = 8,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        if session is None:
            session = requests.Session()
            session.trust_env = False  # loopback only, never a proxy or a netrc
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=workers)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()  # guards counts, scheme, tokens and the lock table
        self._probe_lock = threading.Lock()
        self._token_locks: dict[tuple[str, ...], threading.Lock] = {}
        self._scheme: str | None = None
        self._challenge: dict[str, str] = {}
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}

    @property
    def request_count(self) -> int:
        """Requests sent to the registry (every kind but ``token``)."""
        with self._lock:
            return sum(n for kind, n in self.counts.items() if kind != "token")

    def _count(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] += 1

    def _probe(self) -> str:
        """``GET /v2/`` once: "none", "basic" or "bearer" (and the Bearer challenge)."""
        with self._probe_lock:
            if self._scheme is not None:
                return self._scheme
            answer = self.session.get(f"{self.base_url}/v2/", timeout=30)
            self._count("probe")
            header = answer.headers.get("WWW-Authenticate", "")
            scheme = "none" if answer.status_code == 200 else header.split(" ", 1)[0].lower()
            if scheme not in ("none", "basic", "bearer"):
                url = f"{self.base_url}/v2/"
                raise FleetSeedError("GET", url, answer.status_code, _errors(answer))
            self._challenge = dict(_CHALLENGE.findall(header))
            self._scheme = scheme
            return scheme

    def _token(self, scopes: tuple[str, ...]) -> str:
        """A Bearer token for ``scopes`` from the challenge's realm, fetched once per scope set
        (concurrent askers wait for the one fetch) and again when it nears expiry."""
        key = tuple(sorted(scopes))
        with self._lock:
            fetching = self._token_locks.setdefault(key, threading.Lock())
        with fetching:
            with self._lock:
                cached = self._tokens.get(key)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            return self._fetch_token(key)

    def _fetch_token(self, key: tuple[str, ...]) -> str:
        realm = self._challenge["realm"]
        params = [("service", self._challenge.get("service", "")), *(("scope", s) for s in key)]
        answer = self.session.get(realm, params=params, auth=self.auth, timeout=30)
        self._count("token")
        if answer.status_code != 200:
            raise FleetSeedError("GET", realm, answer.status_code, _errors(answer), "token")
        body = answer.json()
        token = str(body.get("token") or body.get("access_token"))
        lifetime = max(int(body.get("expires_in") or 60) - 30, 1)
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + lifetime)
        return token

    def request(
        self,
        method: str,
        target: str,
        *,
        scopes: Sequence[str] = (),
        data: bytes | None = None,
        content_type: str | None = None,
        accept: str | None = None,
        expect: Sequence[int] | None = None,
        kind: str = "other",
        what: str = "",
    ) -> requests.Response:
        """``method`` ``target`` (a path or a URL); raise :class:`FleetSeedError` when the
        status is not in ``expect`` (None accepts any answer)."""
        scheme = self._probe()
        url = urljoin(self.base_url + "/", target)
        headers: dict[str, str] = {}
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        auth = None
        if scheme == "bearer":
            headers["Authorization"] = f"Bearer {self._token(tuple(scopes))}"
        elif scheme == "basic":
            auth = self.auth
        answer = self.session.request(
            method, url, data=data, headers=headers, auth=auth, timeout=60, allow_redirects=False
        )
        self._count(kind)
        if expect is not None and answer.status_code not in expect:
            path = urlsplit(url)._replace(query="").geturl()
            raise FleetSeedError(method, path, answer.status_code, _errors(answer), what or None)
        return answer


# ----------------------------------------------------------------------------- the plan


@dataclass
class _Version:
    name: str
    era: int
    top: _Blob | None = None
    children: list[_Blob] = field(default_factory=list)
    uploads: list[_Blob] = field(default_factory=list)  # attestation blobs, unique per image
    platforms: tuple[str, ...] = ()


@dataclass
class _Plan:
    name: str
    kind: str
    index: int  # position in the fleet: decides kind, names and variations
    versions: list[_Version]
    tags: list[tuple[str, int]]  # (tag, version index)
    mounts: list[_Blob] = field(default_factory=list)


def _version_names(count: int) -> list[str]:
    return [f"{1 + v // 4}.{v % 4}.0" for v in range(count)]


def _tag_plan(count: int) -> tuple[list[str], list[tuple[str, int]]]:
    """(version names, [(tag, version index)]) for a repository of ``count`` tags."""
    if count == 1:
        return ["1.0.0"], [("latest", 0)]
    versions = max((count + 2) // 3, count - len(ALIASES))
    names = _version_names(versions)
    tags = [(name, v) for v, name in enumerate(names)]
    for alias, which in ALIASES[: count - versions]:
        tags.append((alias, which if which >= 0 else max(0, versions + which)))
    return names, tags


def _kind(i: int) -> str:
    slot = i % 12
    if slot <= 7:
        return "index"
    return {8: "attested", 9: "dockerlist"}.get(slot, "single")


def _name(prefix: str, i: int) -> str:
    team = TEAMS[i % len(TEAMS)]
    return f"{prefix}/{team}/tools/svc-{i:03d}" if i % 25 == 24 else f"{prefix}/{team}/svc-{i:03d}"


class _Fleet:
    """Builds every document (pure) and pushes them through a :class:`FleetAccess`."""

    def __init__(
        self, access: FleetAccess, platforms: tuple[str, ...], prefix: str, workers: int
    ) -> None:
        self.access = access
        self.platforms = platforms
        self.prefix = prefix
        self.workers = workers
        self.pool = _Pool(platforms)
        self.base = f"{prefix}/base/os"
        self.host = urlsplit(access.base_url).netloc
        self.tags: list[FleetTag] = []
        self.stored: set[tuple[str, str]] = set()
        self.blob_digests: set[str] = {b.digest for b in self.pool.all_blobs()}
        self.manifest_puts = self.uploads = self.mounts = 0
        self._lock = threading.Lock()
        self.base_manifests = {
            (gen, p): _image_manifest(self.pool.base_configs[gen, p], [self.pool.rootfs[gen, p]])
            for gen in (1, 2)
            for p in platforms
        }

    # -- requests -------------------------------------------------------------------------

    def scopes(self, repository: str) -> tuple[str, ...]:
        """Push to ``repository``, and pull from the base repository blobs are mounted from."""
        return (f"repository:{repository}:pull,push", f"repository:{self.base}:pull")

    def upload(self, repository: str, blob: _Blob, scopes: Sequence[str]) -> None:
        started = self.access.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            scopes=scopes,
            expect=(202,),
            kind="upload",
            what=f"start upload of {blob.digest}",
        )
        self._finish(repository, blob, started, scopes)

    def _finish(
        self, repository: str, blob: _Blob, started: requests.Response, scopes: Sequence[str]
    ) -> None:
        location = started.headers["Location"]
        separator = "&" if "?" in location else "?"
        self.access.request(
            "PUT",
            f"{location}{separator}digest={blob.digest}",
            scopes=scopes,
            data=blob.data,
            content_type="application/octet-stream",
            expect=(201,),
            kind="upload",
            what=f"upload {blob.digest} into {repository}",
        )
        with self._lock:
            self.blob_digests.add(blob.digest)
            self.uploads += 1

    def mount(self, repository: str, blob: _Blob, scopes: Sequence[str]) -> None:
        """Link a blob from the base repository; upload it if the registry will not mount."""
        answer = self.access.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/?mount={blob.digest}&from={self.base}",
            scopes=scopes,
            expect=(201, 202),
            kind="mount",
            what=f"mount {blob.digest}",
        )
        if answer.status_code == 202:  # not mountable: the answer opened an upload instead
            self._finish(repository, blob, answer, scopes)
        else:
            with self._lock:
                self.mounts += 1

    def put(self, repository: str, reference: str, blob: _Blob, scopes: Sequence[str]) -> None:
        answer = self.access.request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            scopes=scopes,
            data=blob.data,
            content_type=blob.media_type,
            expect=(201,),
            kind="manifest",
            what=f"put {blob.media_type} {blob.digest} as {repository}:{reference}",
        )
        if answer.headers.get("Docker-Content-Digest") != blob.digest:
            raise FleetSeedError(
                "PUT",
                f"{self.access.base_url}/v2/{repository}/manifests/{reference}",
                answer.status_code,
                reason=f"digest {answer.headers.get('Docker-Content-Digest')} is not {blob.digest}",
            )
        with self._lock:
            self.stored.add((repository, blob.digest))
            self.manifest_puts += 1

    def delete(self, repository: str, digest: str) -> None:
        self.access.request(
            "DELETE",
            f"/v2/{repository}/manifests/{digest}",
            scopes=(f"repository:{repository}:pull,push,delete",),
            expect=(202,),
            kind="delete",
            what=f"delete {repository}@{digest}",
        )
        with self._lock:
            self.stored.discard((repository, digest))

    def record(self, repository: str, tag: str, blob: _Blob, platforms: Sequence[str]) -> None:
        with self._lock:
            self.tags.append(
                FleetTag(repository, tag, blob.digest, blob.media_type, tuple(platforms))
            )

    def parallel(self, function: Any, items: Iterable[Any]) -> None:
        """``function`` over ``items`` on the bounded pool; the first error cancels the rest."""
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = [pool.submit(function, item) for item in items]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    # -- documents (pure) -----------------------------------------------------------------

    def _base_annotations(self, era: int, platform: str) -> dict[str, str]:
        return {
            "org.opencontainers.image.base.name": f"{self.host}/{self.base}:latest",
            "org.opencontainers.image.base.digest": self.base_manifests[_gen(era), platform].digest,
        }

    def build(self, plan: _Plan, version: _Version, attest: bool) -> None:
        """Fill ``version`` with its documents and ``plan.mounts`` with the blobs it needs."""
        kind, repository, source = plan.kind, plan.name, f"https://git.fleet.invalid/{plan.name}"
        platforms = ("linux/amd64",) if kind == "single" else self.platforms
        docker = kind == "dockerlist" or (kind == "single" and plan.index % 24 == 23)
        images: list[tuple[str, _Blob]] = []
        for platform in platforms:
            config = self.pool.configs[version.era, platform]
            layers = self.pool.app_layers(version.era, platform)
            plan.mounts += [config, *(layer.blob for layer in layers)]
            annotations = None
            if not docker:
                annotations = {"org.opencontainers.image.source": source}
                if kind == "index" and plan.index % 3 == 0:
                    annotations |= self._base_annotations(version.era, platform)
            images.append(
                (platform, _image_manifest(config, layers, docker=docker, annotations=annotations))
            )
        version.platforms = platforms
        if kind == "single":
            version.top = images[0][1]
            return
        entries = [m.descriptor(platform=_platform_fields(p)) for p, m in images]
        version.children = [m for _, m in images]
        if attest:
            for platform, image in images:
                statement, config, manifest = _attestation(
                    repository, version.name, platform, image
                )
                version.uploads += [statement, config]
                version.children.append(manifest)
                references = {
                    "vnd.docker.reference.digest": image.digest,
                    "vnd.docker.reference.type": "attestation-manifest",
                }
                unknown = {"architecture": "unknown", "os": "unknown"}
                entries.append(manifest.descriptor(annotations=references, platform=unknown))
        annotations = None
        if not docker:
            annotations = {
                "org.opencontainers.image.created": _era_date(version.era),
                "org.opencontainers.image.source": source,
                "org.opencontainers.image.version": version.name,
            }
        version.top = _index(entries, docker=docker, annotations=annotations)

    def plan(
        self,
        i: int,
        tag_count: int,
        *,
        name: str | None = None,
        kind: str | None = None,
        tags: list[tuple[str, int]] | None = None,
    ) -> _Plan:
        """Repository ``i`` of the fleet (or a named one of the given kind and tags)."""
        kind = kind or _kind(i)
        names, planned = _tag_plan(tag_count)
        if tags is not None:
            planned, names = tags, _version_names(1 + max(v for _, v in tags))
        newest = ERAS - 1 - (i * 7) % ERAS
        step = 1 + i % 2
        count = len(names)
        versions = [
            _Version(version, max(0, newest - (count - 1 - v) * step))
            for v, version in enumerate(names)
        ]
        plan = _Plan(name or _name(self.prefix, i), kind, i, versions, planned)
        for v, version in enumerate(versions):
            self.build(plan, version, attest=kind == "attested" and v == count - 1)
        return plan

    # -- pushing --------------------------------------------------------------------------

    def push_plan(self, plan: _Plan) -> None:
        scopes = self.scopes(plan.name)
        for blob in {b.digest: b for b in plan.mounts}.values():
            self.mount(plan.name, blob, scopes)
        for version in plan.versions:
            for blob in version.uploads:
                self.upload(plan.name, blob, scopes)
            for child in version.children:
                self.put(plan.name, child.digest, child, scopes)
        for tag, v in plan.tags:
            version = plan.versions[v]
            assert version.top is not None
            self.put(plan.name, tag, version.top, scopes)
            self.record(plan.name, tag, version.top, version.platforms)

    def push_base(self) -> None:
        scopes = (f"repository:{self.base}:pull,push",)
        self.parallel(lambda blob: self.upload(self.base, blob, scopes), self.pool.all_blobs())
        for gen in (1, 2):
            children = [self.base_manifests[gen, p] for p in self.platforms]
            for child in children:
                self.put(self.base, child.digest, child, scopes)
            entries = [
                m.descriptor(platform=_platform_fields(p))
                for p, m in zip(self.platforms, children, strict=True)
            ]
            index = _index(entries, annotations={"org.opencontainers.image.version": str(gen)})
            for tag in (str(gen), "latest") if gen == 2 else (str(gen),):
                self.put(self.base, tag, index, scopes)
                self.record(self.base, tag, index, self.platforms)


# ----------------------------------------------------------------------------- broken cases


def _break(fleet: _Fleet, storage_dir: Path | None, identity: str) -> list[BrokenCase]:
    """Push the broken, private and legacy repositories; break them; say what each answers."""
    prefix, cases = fleet.prefix, []

    def case(
        name: str, repository: str, path: str, status: int, code: str | None, **more: Any
    ) -> None:
        more.setdefault("identity", identity)
        more.setdefault("media_type", None)
        cases.append(
            BrokenCase(name, repository, "GET", path, status=status, error_code=code, **more)
        )

    # An index whose second platform manifest is deleted by digest (the API; nothing untagged).
    name = f"{prefix}/broken/child-deleted"
    plan = fleet.plan(1, 1, name=name, kind="index", tags=[("1.0", 0)])
    fleet.push_plan(plan)
    version = plan.versions[0]
    victim = min(1, len(version.platforms) - 1)
    digest = version.children[victim].digest
    fleet.delete(name, digest)
    case(
        BROKEN_CHILD_DELETED,
        name,
        f"/v2/{name}/manifests/{digest}",
        404,
        "MANIFEST_UNKNOWN",
        how=f"DELETE /v2/{name}/manifests/{digest} (202), a platform manifest of the index "
        "tagged 1.0, which still lists it: the state garbage-collect --delete-untagged leaves",
        inventory=f"{name}:1.0 resolves; its {version.platforms[victim]} row is an error: "
        "MANIFEST_UNKNOWN",
    )

    # A repository whose only manifest is deleted by digest: 2.8.2 untags it too.
    name = f"{prefix}/broken/emptied"
    plan = fleet.plan(2, 1, name=name, kind="single", tags=[("1.0", 0)])
    fleet.push_plan(plan)
    top = plan.versions[0].top
    assert top is not None
    fleet.delete(name, top.digest)
    with fleet._lock:
        fleet.tags = [t for t in fleet.tags if t.repository != name]
    how = f"DELETE /v2/{name}/manifests/{top.digest} (202) of the manifest tagged 1.0; 2.8.2 "
    case(
        BROKEN_EMPTIED,
        name,
        f"/v2/{name}/manifests/1.0",
        404,
        "MANIFEST_UNKNOWN",
        how=how + "untags every tag that points at it",
        inventory="no row for 1.0 (the tag is gone); asked for by name: MANIFEST_UNKNOWN",
    )
    case(
        BROKEN_EMPTIED_TAGS,
        name,
        f"/v2/{name}/tags/list",
        200,
        None,
        how=how + 'keeps the repository, and tags/list answers "tags": null',
        inventory="a repository in _catalog with no tags: one row saying so, not an error",
    )

    # A listed tag whose manifest revision link is gone from storage.
    if storage_dir is not None:
        name = f"{prefix}/broken/revision-missing"
        plan = fleet.plan(3, 1, name=name, kind="single", tags=[("gone", 0), ("kept", 1)])
        fleet.push_plan(plan)
        gone = plan.versions[0].top
        assert gone is not None
        hex_ = gone.digest.split(":", 1)[1]
        revisions = storage_root(storage_dir) / "repositories" / name / "_manifests" / "revisions"
        (revisions / "sha256" / hex_ / "link").unlink()
        (revisions / "sha256" / hex_).rmdir()
        with fleet._lock:
            fleet.stored.discard((name, gone.digest))
        case(
            BROKEN_REVISION_MISSING,
            name,
            f"/v2/{name}/manifests/gone",
            404,
            "MANIFEST_UNKNOWN",
            how=f"pushed as {name}:gone, then the storage file _manifests/revisions/sha256/"
            f"{hex_}/link was removed (the API cannot leave a listed tag without its manifest: "
            "DELETE untags)",
            inventory="tags/list lists gone and kept; gone is an error row: MANIFEST_UNKNOWN",
        )

    # A repository only alice may pull (rig.users: private/ grants nothing to others).
    name = f"{PRIVATE_PREFIX}{prefix}/vault"
    fleet.push_plan(fleet.plan(5, 1, name=name, kind="index", tags=[("1.0", 0)]))
    for case_name, who, modes in (
        (BROKEN_PRIVATE_BOB, BOB.name, ("token",)),
        (BROKEN_PRIVATE_ANONYMOUS, ANONYMOUS, ("basic", "token")),
    ):
        case(
            case_name,
            name,
            f"/v2/{name}/manifests/1.0",
            401,
            "UNAUTHORIZED",
            identity=who,
            how=f"pushed by {identity}; the token server grants {who} nothing on private/ "
            "(rig.users.grant), so the registry answers 401 insufficient_scope",
            inventory=f"an error row for {name}:1.0 when {who} lists: access denied",
            modes=modes,
        )

    # A signed schema1 manifest: refused by the API unless schema1 is enabled, then stored.
    image = schema1_image(prefix)
    scopes = fleet.scopes(image.repository)
    if storage_dir is not None:
        for data in image.layers:
            fleet.mount(image.repository, _blob(data, OCI_LAYER), scopes)
    answer = fleet.access.request(
        "PUT",
        f"/v2/{image.repository}/manifests/{image.tag}",
        scopes=scopes,
        data=image.signed,
        content_type=SCHEMA1_SIGNED,
        kind="manifest",
        what="schema1 push",
    )
    said = " ".join([str(answer.status_code), *(e.code for e in _errors(answer))])
    if answer.status_code == 201:
        how = "PUT of a signed schema1 manifest: 201 (compatibility.schema1.enabled is set)"
    elif storage_dir is not None:
        write_manifest_to_storage(storage_dir, image.repository, image.tag, image.payload)
        how = (
            f"PUT of a validly signed schema1 manifest answered {said}; its canonical payload, "
            "revision link and tag links were then written to storage as a schema1-enabled "
            "2.8.2 writes them"
        )
    else:
        return cases
    with fleet._lock:
        fleet.stored.add((image.repository, image.digest))
    blob = _Blob(image.payload, SCHEMA1_SIGNED, image.digest)
    fleet.record(image.repository, image.tag, blob, ("linux/amd64",))
    case(
        LEGACY_SCHEMA1,
        image.repository,
        f"/v2/{image.repository}/manifests/{image.tag}",
        200,
        None,
        media_type=SCHEMA1_SIGNED,
        how=how,
        inventory="a row marked unsupported (Docker schema1); ociinspect raises "
        "UnsupportedMediaTypeError for it",
    )
    return cases


# ----------------------------------------------------------------------------- entry point


_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")


def seed_fleet(
    base_url: str,
    *,
    repositories: int = 300,
    tags_per_repository: int | Sequence[int] = TAG_COUNTS,
    platforms: int = 4,
    session: requests.Session | None = None,
    auth: tuple[str, str] | None = None,
    storage_dir: Path | None = None,
    workers: int = 8,
    prefix: str = "fleet",
) -> FleetSeed:
    """Push the fleet described in the module docstring to the registry at ``base_url``.

    ``auth`` is (user, password): sent as Basic, or to the token server when the registry
    challenges with Bearer (it needs pull and push everywhere, and delete: rig's alice).
    ``storage_dir`` is the registry's storage directory; without it the two cases that need
    it (``revision-missing``, the stored schema1 manifest) are left out.
    """
    counts = [tags_per_repository] if isinstance(tags_per_repository, int) else tags_per_repository
    if not 1 <= repositories <= MAX_REPOSITORIES:
        raise ValueError(f"repositories={repositories}: expected 1 to {MAX_REPOSITORIES}")
    if not 1 <= platforms <= len(PLATFORMS):
        raise ValueError(f"platforms={platforms}: expected 1 to {len(PLATFORMS)} ({PLATFORMS})")
    if not counts or any(not 1 <= n <= MAX_TAGS for n in counts):
        raise ValueError(f"tags_per_repository={tags_per_repository!r}: each 1 to {MAX_TAGS}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers={workers}: expected 1 to {MAX_WORKERS}")
    if not all(_COMPONENT.fullmatch(part) for part in prefix.split("/")):
        raise ValueError(f"prefix={prefix!r}: not a repository name (lower case, a-z0-9._-)")
    started = time.monotonic()
    access = FleetAccess(base_url, auth=auth, session=session, workers=workers)
    fleet = _Fleet(access, PLATFORMS[:platforms], prefix, workers)
    plans = [fleet.plan(i, counts[i % len(counts)]) for i in range(repositories)]
    fleet.push_base()
    fleet.parallel(fleet.push_plan, plans)
    broken = _break(fleet, storage_dir, auth[0] if auth else ANONYMOUS)
    kinds = {fleet.base: "base", **{plan.name: plan.kind for plan in plans}}
    kinds |= {case.repository: "broken" for case in broken}
    for tag in fleet.tags:
        if tag.media_type == SCHEMA1_SIGNED:
            kinds[tag.repository] = "legacy"
        elif tag.repository.startswith(PRIVATE_PREFIX):
            kinds[tag.repository] = "private"
    return FleetSeed(
        base_url=access.base_url,
        repositories=tuple(FleetRepository(n, k) for n, k in sorted(kinds.items())),
        tags=tuple(sorted(fleet.tags, key=lambda t: (t.repository, t.tag))),
        broken=tuple(broken),
        manifests=len(fleet.stored),
        manifest_puts=fleet.manifest_puts,
        blobs=len(fleet.blob_digests),
        uploads=fleet.uploads,
        mounts=fleet.mounts,
        requests=access.request_count,
        token_requests=access.counts["token"],
        seconds=time.monotonic() - started,
    )
