"""What the demo registry serves: a content-addressed store of repositories.

Read-only content, made when the demo starts (about 400 KiB in memory):

=====================  ========================================================================
repository             tags
=====================  ========================================================================
``sample``             ``latest`` and ``1.0``: the bundled sample (an index of 3 platforms and
                       3 attestations; an SPDX SBOM refers to its linux/amd64 image); ``2.0``:
                       the next version (same base layers, a new config file and a new layer);
                       cosign-style signatures of the ``latest`` index, both ways cosign
                       stores them: a Sigstore bundle as an OCI 1.1 referrer, and the legacy
                       ``sha256-<hex>.sig`` tag (placeholders of the right shape: nothing here
                       is a real signature)
``other/hello``        ``latest``: a one-layer image, for a second repository's token
``formats``            one filesystem as ``docker-v2``, ``oci-gzip``, ``oci-zstd``,
                       ``oci-zstd-chunked``, ``oci-estargz`` and ``oci-uncompressed``
=====================  ========================================================================

Repositories under ``scratch/`` accept pushes (see :class:`Scratch`): at most
:data:`SCRATCH_MAX_BYTES` in all, in memory, gone when the demo stops.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .._sample import SAMPLE_DIR
from ..testing import build
from ..values import mediatypes as mt
from .formats import format_images
from .tokens import SCRATCH_PREFIX

#: The scratch space: bytes of blobs and manifests pushed, in all.
SCRATCH_MAX_BYTES = 64 * 1024 * 1024
#: Uploads open at once, and repositories under scratch/.
SCRATCH_MAX_UPLOADS = 16
SCRATCH_MAX_REPOSITORIES = 16
#: Largest manifest accepted (as distribution's default, and ociinspect's reading limit).
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: Tags kept per scratch repository.
SCRATCH_MAX_TAGS = 256

SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
CREATED = "2024-01-01T00:14:00Z"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Repository:
    """Tags, the manifests of a repository (digest -> media type) and the blobs it holds."""

    tags: dict[str, str] = field(default_factory=dict)
    manifests: dict[str, str] = field(default_factory=dict)
    blobs: set[str] = field(default_factory=set)


class ScratchFull(Exception):
    """A push would exceed a bound of the scratch space; the message says which."""


class Store:
    """Bytes by digest, and repositories that list what they hold. Thread-safe.
    ``scratch_max_bytes`` bounds what pushes may add."""

    def __init__(self, scratch_max_bytes: int = SCRATCH_MAX_BYTES) -> None:
        self.data: dict[str, bytes] = {}
        self.repositories: dict[str, Repository] = {}
        self._lock = threading.RLock()
        self.scratch_bytes = 0
        self.scratch_max_bytes = scratch_max_bytes

    # -- reading ------------------------------------------------------------------------------

    def repository(self, name: str) -> Repository | None:
        return self.repositories.get(name)

    def resolve(self, name: str, reference: str) -> tuple[str, str] | None:
        """(digest, media type) of a manifest by tag or digest in repository ``name``."""
        repo = self.repositories.get(name)
        if repo is None:
            return None
        digest = reference if ":" in reference else repo.tags.get(reference)
        if digest is None or digest not in repo.manifests:
            return None
        return digest, repo.manifests[digest]

    def blob(self, name: str, digest: str) -> bytes | None:
        repo = self.repositories.get(name)
        if repo is None or (digest not in repo.blobs and digest not in repo.manifests):
            return None
        return self.data.get(digest)

    def referrers(self, name: str, digest: str) -> list[dict[str, Any]]:
        """Descriptors of the manifests of ``name`` whose ``subject`` is ``digest``, with their
        ``artifactType`` and annotations (distribution-spec "Listing Referrers")."""
        repo = self.repositories.get(name)
        found = []
        for candidate, media_type in sorted((repo.manifests if repo else {}).items()):
            doc = json.loads(self.data[candidate])
            subject = doc.get("subject")
            if not isinstance(subject, dict) or subject.get("digest") != digest:
                continue
            entry: dict[str, Any] = {
                "mediaType": media_type,
                "digest": candidate,
                "size": len(self.data[candidate]),
            }
            kind = doc.get("artifactType") or doc.get("config", {}).get("mediaType")
            if kind:
                entry["artifactType"] = kind
            if doc.get("annotations"):
                entry["annotations"] = doc["annotations"]
            found.append(entry)
        return found

    # -- adding read-only content -------------------------------------------------------------

    def add(self, name: str, blobs: Iterable[build.Blob], tags: Iterable[str] = ()) -> None:
        """Add ``blobs`` to repository ``name``; manifests and indexes are listed as such,
        and the last blob is tagged with ``tags``."""
        repo = self.repositories.setdefault(name, Repository())
        last = None
        for blob in blobs:
            self.data[blob.digest] = blob.data
            if mt.kind(blob.media_type) in ("manifest", "index"):
                repo.manifests[blob.digest] = blob.media_type
            else:
                repo.blobs.add(blob.digest)
            last = blob
        for tag in tags:
            assert last is not None
            repo.tags[tag] = last.digest

    # -- the scratch space --------------------------------------------------------------------

    def writable(self, name: str) -> bool:
        return name.startswith(SCRATCH_PREFIX)

    def put_blob(self, name: str, data: bytes) -> str:
        """Store a pushed blob in scratch repository ``name``; returns its digest."""
        digest = sha256(data)
        with self._lock:
            repo = self._scratch_repo(name)
            if digest not in self.data:
                self._charge(len(data))
                self.data[digest] = data
            repo.blobs.add(digest)
        return digest

    def mount(self, name: str, digest: str, source: str) -> bool:
        """Cross-repository mount: list a blob ``source`` holds in ``name`` too."""
        with self._lock:
            if self.blob(source, digest) is None:
                return False
            self._scratch_repo(name).blobs.add(digest)
            return True

    def put_manifest(self, name: str, reference: str, data: bytes, media_type: str) -> str:
        """Store a pushed manifest (already checked) and tag it when ``reference`` is a tag."""
        digest = sha256(data)
        with self._lock:
            repo = self._scratch_repo(name)
            new_tag = ":" not in reference and reference not in repo.tags
            if new_tag and len(repo.tags) >= SCRATCH_MAX_TAGS:
                raise ScratchFull(f"a scratch repository keeps at most {SCRATCH_MAX_TAGS} tags")
            if digest not in self.data:
                self._charge(len(data))
                self.data[digest] = data
            repo.manifests[digest] = media_type
            if ":" not in reference:
                repo.tags[reference] = digest
        return digest

    def _scratch_repo(self, name: str) -> Repository:
        repo = self.repositories.get(name)
        if repo is None:
            count = sum(1 for n in self.repositories if n.startswith(SCRATCH_PREFIX))
            if count >= SCRATCH_MAX_REPOSITORIES:
                raise ScratchFull(
                    f"the demo keeps at most {SCRATCH_MAX_REPOSITORIES} scratch repositories"
                )
            repo = self.repositories[name] = Repository()
        return repo

    def _charge(self, size: int) -> None:
        if self.scratch_bytes + size > self.scratch_max_bytes:
            raise ScratchFull(
                f"the demo's scratch space holds at most {self.scratch_max_bytes} bytes "
                f"({self.scratch_bytes} used); restart the demo to empty it"
            )
        self.scratch_bytes += size


# --------------------------------------------------------------------------- building it


def _layout_blobs(directory: Any = SAMPLE_DIR) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """Every blob of the bundled layout, and its index.json entries."""
    blobs = {
        f"sha256:{path.name}": path.read_bytes()
        for path in (directory / "blobs" / "sha256").iterdir()
    }
    return blobs, json.loads((directory / "index.json").read_bytes())["manifests"]


def _walk(blobs: dict[str, bytes], digest: str, media_type: str) -> Iterable[build.Blob]:
    """The blobs a manifest or index reaches, children first, then the document itself."""
    doc = json.loads(blobs[digest])
    if mt.kind(media_type) == "index":
        for entry in doc.get("manifests", []):
            yield from _walk(blobs, entry["digest"], entry["mediaType"])
    else:
        for desc in (doc["config"], *doc.get("layers", [])):
            yield build.Blob(desc["mediaType"], blobs[desc["digest"]])
    yield build.Blob(media_type, blobs[digest])


def _next_version(blobs: dict[str, bytes], index_digest: str) -> build.BuiltIndex:
    """sample:2.0: each platform's image keeps layers 0-3, gets a new config file (layer 4)
    and a new layer 5; labels and history say so."""
    index = json.loads(blobs[index_digest])
    images = []
    for entry in index["manifests"]:
        if entry.get("platform", {}).get("os") == "unknown":
            continue
        manifest = json.loads(blobs[entry["digest"]])
        config = json.loads(blobs[manifest["config"]["digest"]])
        kept = [
            build.Blob(d["mediaType"], blobs[d["digest"]], diff_id=config["rootfs"]["diff_ids"][i])
            for i, d in enumerate(manifest["layers"][:4])
        ]
        settings = {"debug": False, "greeting": "hello again", "listen": ":8080", "version": 2}
        new = [
            build.layer(
                [build.file("app/config.json", json.dumps(settings, indent=2).encode() + b"\n")]
            ),
            build.layer(
                [
                    build.directory("app/static"),
                    build.file("app/static/style.css", b"body { font-family: sans-serif; }\n"),
                ]
            ),
        ]
        history = [build.Step(**_step(h)) for h in config["history"]]
        buildkit = "buildkit.dockerfile.v0"
        history[7] = build.Step(
            "COPY config.prod.json /app/config.json # buildkit",
            created="2024-02-01T00:00:00Z",
            comment=buildkit,
        )
        history.insert(
            8,
            build.Step(
                "COPY static /app/static # buildkit",
                created="2024-02-01T00:01:00Z",
                comment=buildkit,
            ),
        )
        section = config["config"]
        images.append(
            build.image(
                [*kept, *new],
                platform="/".join(
                    p for p in (config["os"], config["architecture"], config.get("variant")) if p
                ),
                env=section["Env"],
                labels={**section["Labels"], "org.opencontainers.image.version": "2.0"},
                entrypoint=section["Entrypoint"],
                cmd=section["Cmd"],
                user=section["User"],
                working_dir=section["WorkingDir"],
                exposed_ports=section["ExposedPorts"],
                volumes=section["Volumes"],
                stop_signal=section.get("StopSignal"),
                author=config.get("author"),
                created="2024-02-01T00:02:00Z",
                history=history,
            )
        )
    return build.index(images)


def _step(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "created_by": entry.get("created_by", ""),
        "empty_layer": bool(entry.get("empty_layer")),
        "created": entry.get("created"),
        "comment": entry.get("comment"),
    }


def _signatures(index_digest: str, index_size: int) -> list[build.Blob]:
    """A Sigstore bundle referrer (cosign BUNDLE_SPEC.md) and a legacy ``.sig`` manifest
    (cosign SIGNATURE_SPEC.md) for the sample index: shapes only, the signatures are
    placeholders."""
    empty = build.Blob(mt.OCI_EMPTY, b"{}")
    subject = {"mediaType": mt.OCI_INDEX, "digest": index_digest, "size": index_size}
    message = base64.b64encode(bytes.fromhex(index_digest.split(":", 1)[1])).decode()
    placeholder = base64.b64encode(b"ociinspect demo: not a real signature").decode()
    bundle = build.Blob(
        SIGSTORE_BUNDLE,
        build.canonical_json(
            {
                "mediaType": SIGSTORE_BUNDLE,
                "verificationMaterial": {"publicKey": {"hint": "ociinspect-demo (placeholder)"}},
                "messageSignature": {
                    "messageDigest": {"algorithm": "SHA2_256", "digest": message},
                    "signature": placeholder,
                },
            }
        ),
    )
    referrer = build.json_blob(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "artifactType": SIGSTORE_BUNDLE,
            "config": empty.descriptor(),
            "layers": [bundle.descriptor()],
            "subject": subject,
            "annotations": {
                "dev.sigstore.bundle.content": "message-signature",
                "org.opencontainers.image.created": CREATED,
            },
        },
        mt.OCI_MANIFEST,
    )
    payload = build.Blob(
        SIMPLESIGNING,
        build.canonical_json(
            {
                "critical": {
                    "identity": {"docker-reference": "sample"},
                    "image": {"docker-manifest-digest": index_digest},
                    "type": "cosign container image signature",
                },
                "optional": None,
            }
        ),
        annotations=(("dev.cosignproject.cosign/signature", placeholder),),
    )
    config = build.json_blob(
        {
            "architecture": "",
            "os": "",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [payload.digest]},
        },
        mt.OCI_CONFIG,
    )
    legacy = build.json_blob(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [payload.descriptor()],
        },
        mt.OCI_MANIFEST,
    )
    return [empty, bundle, referrer, payload, config, legacy]


def demo_store(scratch_max_bytes: int = SCRATCH_MAX_BYTES) -> Store:
    """The demo's content (see the module docstring)."""
    store = Store(scratch_max_bytes)
    blobs, entries = _layout_blobs()
    for entry in entries:
        tag = entry.get("annotations", {}).get(build.REF_NAME)
        store.add(
            "sample", _walk(blobs, entry["digest"], entry["mediaType"]), tags=[tag] if tag else []
        )
    latest = store.repositories["sample"].tags["latest"]
    store.add("sample", _next_version(blobs, latest).blobs(), tags=["2.0"])
    signatures = _signatures(latest, len(blobs[latest]))
    store.add("sample", signatures[:3])
    store.add("sample", signatures[3:], tags=[latest.replace(":", "-") + ".sig"])
    hello = build.image(
        [
            build.layer(
                [
                    build.directory("bin"),
                    build.file("bin/hello", b"#!/bin/sh\necho hello\n", mode=0o755),
                ]
            )
        ],
        cmd=["/bin/hello"],
        history=[build.Step("COPY hello /bin/hello # buildkit")],
    )
    store.add("other/hello", hello.blobs(), tags=["latest"])
    for tag, image in format_images().items():
        store.add("formats", image.blobs(), tags=[tag])
    return store


__all__ = [
    "MAX_MANIFEST_BYTES",
    "SCRATCH_MAX_BYTES",
    "SCRATCH_MAX_REPOSITORIES",
    "SCRATCH_MAX_TAGS",
    "SCRATCH_MAX_UPLOADS",
    "SIGSTORE_BUNDLE",
    "SIMPLESIGNING",
    "Repository",
    "ScratchFull",
    "Store",
    "demo_store",
    "sha256",
]
