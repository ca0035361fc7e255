"""Build OCI images byte for byte reproducibly: layers, configs, manifests, indexes, layouts.

The builder is what the test rig seeds registries with and what makes the bundled sample image,
so the same inputs must give the same digests on every machine::

    from ociinspect.testing import build

    base = build.layer([build.directory("etc"), build.file("etc/hostname", b"box\\n")])
    app = build.layer([build.file("app/run.sh", b"#!/bin/sh\\n", mode=0o755)], compression="zstd")
    img = build.image(
        [base, app],
        platform="linux/arm64/v8",
        cmd=["/app/run.sh"],
        history=[build.Step("ADD base"), build.Step("ENV A=1", empty_layer=True),
                 build.Step("COPY app")],
    )
    build.write_layout("out/", build.index([img]), tags=["latest"])

How reproducibility is reached (each is a rule of the builder, not an accident):

- tar and its compression: see :mod:`ociinspect.testing.build_layers`, which writes the layers
  (:func:`layer` and the entry functions, re-exported here).
- JSON: ``sort_keys=True``, compact separators ``(",", ":")``, UTF-8 without ASCII escapes,
  no trailing newline. Digests are taken over exactly the bytes written.
- ``created`` defaults to :data:`DEFAULT_CREATED`; nothing reads the clock.

Attestations follow BuildKit: one extra manifest per image in an index, with platform
``unknown/unknown``, annotations ``vnd.docker.reference.type: attestation-manifest`` and
``vnd.docker.reference.digest: <image manifest digest>``, and one ``application/vnd.in-toto+json``
layer holding an in-toto statement about the image.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from ..values import mediatypes as mt
from .build_layers import (
    DEFAULT_MTIME,
    Blob,
    Compression,
    EntryType,
    Member,
    block_device,
    char_device,
    compress,
    directory,
    fifo,
    file,
    hardlink,
    layer,
    opaque_whiteout,
    symlink,
    tar,
    whiteout,
)

#: Config and history ``created`` when none is given (the same instant as DEFAULT_MTIME).
DEFAULT_CREATED = "2024-01-01T00:00:00Z"

IN_TOTO = "application/vnd.in-toto+json"
REF_NAME = "org.opencontainers.image.ref.name"
ATTESTATION_TYPE = "vnd.docker.reference.type"
ATTESTATION_DIGEST = "vnd.docker.reference.digest"

_DOCKER_LAYER = {"gzip": mt.DOCKER_LAYER_GZIP, "none": mt.DOCKER_LAYER}


def canonical_json(value: Any) -> bytes:
    """The one JSON style of this module: sorted keys, compact separators, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def json_blob(value: Any, media_type: str) -> Blob:
    """A blob holding ``value`` as canonical JSON."""
    return Blob(media_type, canonical_json(value))


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class Step:
    """One history entry. ``empty_layer`` steps (ENV, CMD, ...) have no layer of their own."""

    created_by: str
    empty_layer: bool = False
    created: str | None = None
    author: str | None = None
    comment: str | None = None

    def to_json(self, default_created: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "created": self.created or default_created,
            "created_by": self.created_by,
        }
        if self.author is not None:
            out["author"] = self.author
        if self.comment is not None:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out


def parse_platform(text: str) -> dict[str, str]:
    """``"linux/arm64/v8"`` -> ``{"os": "linux", "architecture": "arm64", "variant": "v8"}``."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform must be os/arch[/variant], got {text!r}")
    out = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        out["variant"] = parts[2]
    return out


@dataclass(frozen=True)
class BuiltImage:
    """A built image: its manifest blob, config blob and layer blobs."""

    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]
    platform: tuple[tuple[str, str], ...] = ()
    #: Annotations of this image's entry in an index (not of the manifest itself).
    index_annotations: tuple[tuple[str, str], ...] = ()

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def media_type(self) -> str:
        return self.manifest.media_type

    @property
    def size(self) -> int:
        return self.manifest.size

    def blobs(self) -> Iterator[Blob]:
        """Every blob this image needs: layers, config, then the manifest."""
        yield from self.layers
        yield self.config
        yield self.manifest

    def descriptor(self) -> dict[str, Any]:
        """The index entry for this image (with platform and annotations when set)."""
        desc = self.manifest.descriptor()
        if self.platform:
            desc["platform"] = dict(self.platform)
        if self.index_annotations:
            desc["annotations"] = dict(self.index_annotations)
        return desc


def _config_section(
    env: Sequence[str],
    labels: Mapping[str, str] | None,
    entrypoint: Sequence[str] | None,
    cmd: Sequence[str] | None,
    user: str | None,
    working_dir: str | None,
    exposed_ports: Iterable[str],
    volumes: Iterable[str],
    stop_signal: str | None,
) -> dict[str, Any]:
    section: dict[str, Any] = {}
    if env:
        section["Env"] = list(env)
    if labels:
        section["Labels"] = dict(labels)
    if entrypoint is not None:
        section["Entrypoint"] = list(entrypoint)
    if cmd is not None:
        section["Cmd"] = list(cmd)
    if user is not None:
        section["User"] = user
    if working_dir is not None:
        section["WorkingDir"] = working_dir
    ports: dict[str, dict[str, Any]] = {port: {} for port in exposed_ports}
    if ports:
        section["ExposedPorts"] = ports
    mounts: dict[str, dict[str, Any]] = {volume: {} for volume in volumes}
    if mounts:
        section["Volumes"] = mounts
    if stop_signal is not None:
        section["StopSignal"] = stop_signal
    return section


def image(
    layers: Sequence[Blob],
    *,
    platform: str = "linux/amd64",
    os_version: str | None = None,
    env: Sequence[str] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
    labels: Mapping[str, str] | None = None,
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] | None = None,
    user: str | None = None,
    working_dir: str | None = None,
    exposed_ports: Iterable[str] = (),
    volumes: Iterable[str] = (),
    stop_signal: str | None = None,
    created: str = DEFAULT_CREATED,
    author: str | None = None,
    history: Sequence[Step] | None = None,
    annotations: Mapping[str, str] | None = None,
    docker: bool = False,
) -> BuiltImage:
    """An image manifest + config over ``layers``.

    ``history`` must have exactly one non-empty step per layer, in order (image-spec config.md:
    history entries without ``empty_layer`` map to ``rootfs.diff_ids``); by default one
    ``created_by: "layer N"`` step per layer. ``docker=True`` writes Docker schema2 media types
    (gzip or uncompressed layers only); ``annotations`` go on the manifest (OCI only).
    """
    steps = [*history] if history is not None else [Step(f"layer {i}") for i in range(len(layers))]
    if (non_empty := sum(not s.empty_layer for s in steps)) != len(layers):
        raise ValueError(f"history has {non_empty} non-empty steps for {len(layers)} layers")
    if any(b.diff_id is None for b in layers):
        raise ValueError("every layer needs a diff_id (build it with layer())")
    plat = parse_platform(platform)
    config: dict[str, Any] = {
        **plat,
        "created": created,
        "config": _config_section(
            env, labels, entrypoint, cmd, user, working_dir, exposed_ports, volumes, stop_signal
        ),
        "rootfs": {"type": "layers", "diff_ids": [b.diff_id for b in layers]},
        "history": [s.to_json(created) for s in steps],
    }
    if os_version is not None:
        config["os.version"] = os_version
        plat["os.version"] = os_version
    if author is not None:
        config["author"] = author
    if docker:
        if annotations:
            raise ValueError("Docker schema2 manifests carry no annotations")
        config_blob = json_blob(config, mt.DOCKER_CONFIG)
        layer_descs = [b.descriptor(_docker_layer_type(b)) for b in layers]
        manifest_type = mt.DOCKER_MANIFEST
    else:
        config_blob = json_blob(config, mt.OCI_CONFIG)
        layer_descs = [b.descriptor() for b in layers]
        manifest_type = mt.OCI_MANIFEST
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config_blob.descriptor(),
        "layers": layer_descs,
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    return BuiltImage(
        json_blob(manifest, manifest_type), config_blob, tuple(layers), tuple(sorted(plat.items()))
    )


def _docker_layer_type(blob: Blob) -> str:
    comp = mt.compression(blob.media_type)
    if comp not in _DOCKER_LAYER:
        raise ValueError(f"Docker schema2 has no media type for {comp} layers ({blob.digest})")
    return _DOCKER_LAYER[comp]


def attestation(subject: BuiltImage, *, name: str = "pkg:docker/ociinspect/sample") -> BuiltImage:
    """A BuildKit-style attestation manifest for ``subject`` (an in-toto SLSA provenance)."""
    statement = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": name, "digest": {"sha256": subject.digest.split(":", 1)[1]}}],
        "predicate": {"builder": {"id": "ociinspect.build"}, "buildType": "ociinspect.build/v1"},
    }
    body = Blob(
        IN_TOTO,
        canonical_json(statement),
        diff_id=None,
        annotations=(("in-toto.io/predicate-type", "https://slsa.dev/provenance/v0.2"),),
    )
    config = json_blob(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [body.digest]},
        },
        mt.OCI_CONFIG,
    )
    manifest = json_blob(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [body.descriptor()],
        },
        mt.OCI_MANIFEST,
    )
    return BuiltImage(
        manifest,
        config,
        (body,),
        (("architecture", "unknown"), ("os", "unknown")),
        ((ATTESTATION_DIGEST, subject.digest), (ATTESTATION_TYPE, "attestation-manifest")),
    )


# --------------------------------------------------------------------------- indexes and layouts


@dataclass(frozen=True)
class BuiltIndex:
    """A built index (or Docker manifest list) with the images it lists."""

    index: Blob
    images: tuple[BuiltImage, ...]
    attestations: tuple[BuiltImage, ...] = ()

    @property
    def digest(self) -> str:
        return self.index.digest

    @property
    def media_type(self) -> str:
        return self.index.media_type

    @property
    def size(self) -> int:
        return self.index.size

    def blobs(self) -> Iterator[Blob]:
        """Every blob of every listed manifest, then the index itself."""
        for img in (*self.images, *self.attestations):
            yield from img.blobs()
        yield self.index

    def descriptor(self) -> dict[str, Any]:
        return self.index.descriptor()

    def image_for(self, platform: str) -> BuiltImage:
        """The image built for ``platform`` ("linux/arm64/v8"); KeyError when absent."""
        wanted = sorted(parse_platform(platform).items())
        for img in self.images:
            if sorted((k, v) for k, v in img.platform if k != "os.version") == wanted:
                return img
        raise KeyError(platform)


def index(
    images: Sequence[BuiltImage],
    *,
    attestations: bool | None = None,
    docker: bool = False,
    annotations: Mapping[str, str] | None = None,
) -> BuiltIndex:
    """An OCI index (or, ``docker=True``, a Docker manifest list) over ``images``.

    Image entries come first in the order given, then (OCI only, default on) one attestation
    manifest per image, as BuildKit writes them.
    """
    want = mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST
    for img in images:
        if img.media_type != want:
            raise ValueError(f"{img.digest} is {img.media_type}; this index kind lists {want}")
        if not img.platform:
            raise ValueError(f"{img.digest} has no platform")
    with_attestations = (not docker) if attestations is None else attestations
    if docker and (with_attestations or annotations):
        raise ValueError("Docker manifest lists carry no attestations or annotations")
    extra = tuple(attestation(img) for img in images) if with_attestations else ()
    media_type = mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [img.descriptor() for img in (*images, *extra)],
    }
    if annotations:
        body["annotations"] = dict(annotations)
    return BuiltIndex(json_blob(body, media_type), tuple(images), extra)


#: What a layout or registry tag can point at.
Root: TypeAlias = BuiltImage | BuiltIndex


def write_layout(
    directory: str | os.PathLike[str],
    root: Root | Mapping[str, Root],
    tags: Sequence[str] = ("latest",),
) -> Path:
    """Write an OCI image layout (image-spec image-layout.md) and return its path.

    ``root`` is one image/index tagged with each of ``tags`` (``tags=()`` lists it untagged),
    or a mapping ``{tag: image_or_index}``. Blobs already present are not rewritten;
    ``index.json`` is replaced.
    """
    out = Path(directory)
    if isinstance(root, Mapping):
        entries: list[tuple[str | None, Root]] = sorted(root.items())
    else:
        entries = [(tag, root) for tag in tags] or [(None, root)]
    blob_dir = out / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    for _, item in entries:
        for blob in item.blobs():
            target = blob_dir / blob.digest.split(":", 1)[1]
            if not target.exists():
                target.write_bytes(blob.data)
    manifests = []
    for tag, item in entries:
        desc = item.descriptor()
        if tag is not None:
            desc["annotations"] = {**desc.get("annotations", {}), REF_NAME: tag}
        manifests.append(desc)
    (out / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    (out / "index.json").write_bytes(
        canonical_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests})
    )
    return out


__all__ = [
    "ATTESTATION_DIGEST",
    "ATTESTATION_TYPE",
    "DEFAULT_CREATED",
    "DEFAULT_MTIME",
    "IN_TOTO",
    "REF_NAME",
    "Blob",
    "Compression",
    "Member",
    "EntryType",
    "BuiltImage",
    "BuiltIndex",
    "Root",
    "Step",
    "attestation",
    "block_device",
    "canonical_json",
    "char_device",
    "compress",
    "directory",
    "fifo",
    "file",
    "hardlink",
    "image",
    "index",
    "json_blob",
    "layer",
    "opaque_whiteout",
    "parse_platform",
    "symlink",
    "tar",
    "whiteout",
    "write_layout",
]
