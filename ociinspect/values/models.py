"""Frozen types named after the image-spec, each built from raw bytes with the bytes kept.

Digests are always computed over the bytes that were fetched, never over re-serialised JSON, so
:class:`Index`, :class:`Manifest` and :class:`ImageConfig` carry ``raw`` beside the parsed fields.

Which kind of document a body is (:func:`detect_media_type`, used by :func:`parse_document`):

1. The Content-Type (``media_type`` argument, parameters stripped) decides, unless it is absent or
   generic (``application/json``, ``application/octet-stream``, ``text/plain``): CDNs in front of
   registries send those for anything. Docker schema1 types are refused; other types that are not an
   OCI index/manifest or Docker manifest list/schema2 manifest raise UnsupportedMediaTypeError.
2. Else the body's ``mediaType`` decides, with the same rules.
3. Else the shape decides, as distribution and containers/image do: ``manifests`` means an OCI
   index, ``config``/``layers`` an OCI manifest (only OCI makes ``mediaType`` optional; Docker
   schema2 and manifest lists MUST carry it), both or neither is an error.

Whatever decided, a body ``mediaType`` that differs from the Content-Type is an error
(distribution's ``UnmarshalManifest`` tests); a Docker type without a body ``mediaType`` is an
error; an index must not have ``config``/``layers`` and a manifest must not have ``manifests``
(distribution's ``validateIndex``/``validateManifest``). ``schemaVersion: 1`` anywhere is Docker
schema1: refused.

Validation collects every problem, so an error names each bad field by path, e.g.
``invalid OCI image manifest sha256:…: layers[2].digest: invalid digest 'sha256:abc': …``.
A JSON ``null`` counts as absent (Go's encoding/json, which every reference implementation uses).

Choices where validators disagree: OCI manifests need at least one layer (image-spec's JSON
schema); Docker schema2 layers must have a Docker layer type (containers/image); a descriptor's
embedded ``data`` must be base64 of ``size`` bytes on parse, and is checked against ``digest``
when used (:meth:`Descriptor.verified_data`), because real fixtures pair data with placeholder
digests and image-spec leaves that check to "content consumers".
"""

from __future__ import annotations

import json as _json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import InvalidDocumentError, UnsupportedMediaTypeError
from . import mediatypes as mt
from ._validate import (
    Check,
    at,
    decode_data,
    env_problem,
    json_type,
    load_object,
    size_problem,
    url_problem,
)
from .digest import Digest, sha256

if TYPE_CHECKING:
    from .platforms import Platform


@dataclass(frozen=True)
class ManifestInfo:
    """A manifest or index as fetched: the exact bytes, their digest and media type.

    ``media_type`` is the Content-Type without parameters, else the body's ``mediaType``;
    ``digest`` is always ``"sha256:…"`` (or the sha512 digest asked for) of ``raw``.
    """

    media_type: str | None
    digest: Digest
    raw: bytes = field(repr=False)
    json: Any = field(repr=False, compare=False, default=None)

    def _repr_html_(self) -> str:
        """Notebook HTML (:func:`ociinspect.display.manifest_info_html`); no I/O."""
        from ..display import manifest_info_html

        return manifest_info_html(self)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", Digest.parse(self.digest))  # text: parsed here

    @classmethod
    def from_bytes(
        cls, raw: bytes, digest: Digest, media_type: str | None = None
    ) -> ManifestInfo:
        """Parse ``raw`` as JSON (raising InvalidDocumentError) and fill ``media_type``."""
        from ..errors import InvalidDocumentError

        try:
            parsed = _json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidDocumentError(f"manifest {digest}", f"not JSON: {exc}") from None
        except RecursionError:
            raise InvalidDocumentError(f"manifest {digest}", "JSON nested too deeply") from None
        if not isinstance(parsed, dict):
            raise InvalidDocumentError(
                f"manifest {digest}", f"expected a JSON object, got {type(parsed).__name__}"
            )
        body_type = parsed.get("mediaType")
        return cls(
            media_type or (body_type if isinstance(body_type, str) else None), digest, raw, parsed
        )


# --------------------------------------------------------------------------------------------
# Which documents are read, and as what. The JSON-shape checks are in ._validate.

#: Docker "Image Manifest V2, Schema 2" layer types (containers/image SupportedSchema2MediaType).
DOCKER_LAYER_TYPES = frozenset(
    {mt.DOCKER_LAYER_GZIP, mt.DOCKER_LAYER, mt.DOCKER_LAYER_FOREIGN_GZIP, mt.DOCKER_LAYER_FOREIGN}
)
_KNOWN = mt.INDEX_TYPES | mt.MANIFEST_TYPES
_DOCKER_TYPES = frozenset({mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST})
_NAMES = {
    mt.OCI_INDEX: "OCI image index",
    mt.OCI_MANIFEST: "OCI image manifest",
    mt.DOCKER_MANIFEST_LIST: "Docker manifest list",
    mt.DOCKER_MANIFEST: "Docker image manifest",
}
SCHEMA1_MESSAGE = (
    "Docker image manifest v2 schema 1 is deprecated and not supported (current Docker no longer "
    "pulls it; registries convert to it only for clients that do not ask for v2). Ask for v2 "
    "with Accept: " + ", ".join(mt.MANIFEST_ACCEPT) + " (ociinspect sends these); if the "
    "registry still answers schema1, the image was pushed by Docker < 1.10: re-push it with a "
    "current client, e.g. `skopeo copy --format v2s2 docker://SRC docker://DST`"
)


def canonical_document(body: Mapping[str, Any], media_type: str) -> ManifestInfo:
    """A document ociinspect writes itself (an empty referrers answer, a filtered index, a
    layout's synthesised index), serialised one way only: sorted keys, no spaces, UTF-8. So the
    same content always has the same bytes and digest, wherever it is made."""
    raw = _json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return ManifestInfo.from_bytes(raw, sha256(raw), media_type)


def oci_index(manifests: Sequence[Mapping[str, Any]] = ()) -> ManifestInfo:
    """An OCI index listing ``manifests`` (none: what ``referrers`` answers when nothing refers
    to a subject), in :func:`canonical_document` form."""
    body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": list(manifests)}
    return canonical_document(body, mt.OCI_INDEX)


# --------------------------------------------------------------------------------------------
# Descriptor


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class Descriptor:
    """image-spec descriptor.md: what a piece of content is, where it is, and how big.

    ``data`` holds the decoded embedded content (``None`` when absent): its base64 form and its
    length are checked on construction; its digest is checked by :meth:`verified_data`, when it is
    used instead of fetching the blob ("SHOULD be verified ... by content consumers").
    ``raw`` is the JSON object it was read from (empty when built in code).
    """

    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    platform: Platform | None = field(default=None, hash=False)
    artifact_type: str | None = None
    data: bytes | None = field(default=None, repr=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    def _repr_html_(self) -> str:
        """Notebook HTML (:func:`ociinspect.display.descriptor_html`); no I/O."""
        from ..display import descriptor_html

        return descriptor_html(self)

    def __post_init__(self) -> None:
        object.__setattr__(self, "urls", tuple(self.urls))
        object.__setattr__(self, "annotations", _frozen_map(self.annotations))
        object.__setattr__(self, "raw", _frozen_map(self.raw))
        check = Check()
        fields = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        check.media_type(fields, "mediaType", "", True)
        if check.string(fields, "digest", "", True) is not None:
            check.digest(self.digest, "digest")
        if check.get(fields, "size", "", int, True) is not None:
            check.fail("size", size_problem(self.size))
        for i, url in enumerate(self.urls):
            check.fail(f"urls[{i}]", url_problem(url) if isinstance(url, str) else "not a string")
        check.string_map({"annotations": self.annotations}, "annotations", "")
        if self.artifact_type is not None:
            check.media_type({"artifactType": self.artifact_type}, "artifactType", "", False)
        if self.data is not None and isinstance(self.size, int) and len(self.data) != self.size:
            check.fail("data", f"decodes to {len(self.data)} bytes, size says {self.size}")
        check.done(f"descriptor {self.digest}")
        object.__setattr__(self, "digest", Digest.from_document(self.digest))  # text: parsed here

    @classmethod
    def from_dict(cls, obj: Any, where: str = "descriptor") -> Descriptor:
        """Read a descriptor JSON object; raise InvalidDocumentError naming each bad field."""
        check = Check()
        descriptor = _read_descriptor(check, obj, "")
        check.done(where)
        assert descriptor is not None
        return descriptor

    @property
    def compression(self) -> str | None:
        """``gzip``/``zstd``/``none`` for a layer media type, else None (mediatypes.compression)."""
        return mt.compression(self.media_type)

    @property
    def reference_type(self) -> str | None:
        """BuildKit's ``vnd.docker.reference.type`` entry annotation (``attestation-manifest``)."""
        return self.annotations.get("vnd.docker.reference.type")

    @property
    def reference_digest(self) -> str | None:
        """BuildKit's ``vnd.docker.reference.digest``: the image manifest an entry is about."""
        return self.annotations.get("vnd.docker.reference.digest")

    @property
    def is_attestation(self) -> bool:
        """An index entry for BuildKit attestations (platform unknown/unknown): not an image."""
        return self.reference_type == "attestation-manifest"

    def verified_data(self) -> bytes | None:
        """The embedded ``data`` after checking it hashes to ``digest`` (None when absent).

        Raises DigestMismatchError on a mismatch, InvalidDigestError for an algorithm that
        ociinspect cannot verify.
        """
        if self.data is None:
            return None
        return Digest.parse(self.digest).verify(self.data, f"embedded data of {self.digest}")


def _read_platform(check: Check, obj: Any, path: str) -> Platform | None:
    """image-index.md "platform": ``architecture`` and ``os`` REQUIRED strings; ``os.version``,
    ``variant`` strings; ``os.features``, ``features`` arrays of strings."""
    if not isinstance(obj, dict):
        check.fail(path, f"expected object, got {json_type(obj)}")
        return None
    before = len(check.problems)
    check.string(obj, "architecture", path, True)
    check.string(obj, "os", path, True)
    check.string(obj, "os.version", path)
    check.string(obj, "variant", path)
    check.strings(obj, "os.features", path)
    check.strings(obj, "features", path)
    if len(check.problems) > before:
        return None
    from .platforms import Platform

    try:
        return Platform.from_dict(obj)
    except (ValueError, TypeError, KeyError) as exc:
        check.fail(path, str(exc))
        return None


def _read_descriptor(check: Check, obj: Any, path: str) -> Descriptor | None:
    """descriptor.md "Properties": mediaType, digest, size REQUIRED; the rest OPTIONAL."""
    if not isinstance(obj, dict):
        check.fail(path, f"expected a descriptor (object), got {json_type(obj)}")
        return None
    before = len(check.problems)
    media_type = check.media_type(obj, "mediaType", path, True)
    digest = check.string(obj, "digest", path, True)
    if digest is not None:
        check.digest(digest, at(path, "digest"))
    size = check.get(obj, "size", path, int, True)
    if size is not None:
        check.fail(at(path, "size"), size_problem(size))
    urls = check.strings(obj, "urls", path) or ()
    for i, url in enumerate(urls):
        check.fail(at(at(path, "urls"), i), url_problem(url))
    annotations = check.string_map(obj, "annotations", path)
    artifact_type = check.media_type(obj, "artifactType", path, False)
    data = None
    text = check.string(obj, "data", path)
    if text is not None:
        data, problem = decode_data(text)
        check.fail(at(path, "data"), problem)
        if data is not None and size is not None and len(data) != size:
            check.fail(at(path, "data"), f"decodes to {len(data)} bytes, size says {size}")
    platform = None
    if obj.get("platform") is not None:
        platform = _read_platform(check, obj["platform"], at(path, "platform"))
    if len(check.problems) > before:
        return None
    assert digest is not None
    return Descriptor(
        media_type, Digest.from_document(digest), size, urls, annotations, platform,
        artifact_type, data, obj,
    )


def parse_descriptor(raw: bytes) -> Descriptor:
    """A descriptor (``application/vnd.oci.descriptor.v1+json``) from its JSON bytes."""
    what = f"descriptor {sha256(bytes(raw))}"
    return Descriptor.from_dict(load_object(raw, what), what)


# --------------------------------------------------------------------------------------------
# Index and Manifest


@dataclass(frozen=True)
class Index:
    """image-index.md (and Docker's manifest list): manifests for several platforms or purposes."""

    raw: bytes = field(repr=False)
    digest: Digest
    media_type: str
    schema_version: int
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "manifests", tuple(self.manifests))
        object.__setattr__(self, "annotations", _frozen_map(self.annotations))
        if self.media_type not in mt.INDEX_TYPES:
            raise InvalidDocumentError(f"index {self.digest}", f"not an index: {self.media_type}")

    @classmethod
    def from_bytes(
        cls, raw: bytes, media_type: str | None = None, digest: Digest | None = None
    ) -> Index:
        """:func:`parse_document`, insisting on an index."""
        doc = parse_document(raw, media_type, digest)
        if not isinstance(doc, Index):
            raise InvalidDocumentError(f"index {doc.digest}", f"got a {_NAMES[doc.media_type]}")
        return doc


@dataclass(frozen=True)
class Manifest:
    """manifest.md (and Docker's v2 schema 2): one image or artifact, its config and layers."""

    raw: bytes = field(repr=False)
    digest: Digest
    media_type: str
    schema_version: int
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    def _repr_html_(self) -> str:
        """Notebook HTML (:func:`ociinspect.display.manifest_html`); no I/O."""
        from ..display import manifest_html

        return manifest_html(self)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "annotations", _frozen_map(self.annotations))
        if self.media_type not in mt.MANIFEST_TYPES:
            raise InvalidDocumentError(
                f"manifest {self.digest}", f"not a manifest type: {self.media_type}"
            )

    @classmethod
    def from_bytes(
        cls, raw: bytes, media_type: str | None = None, digest: Digest | None = None
    ) -> Manifest:
        """:func:`parse_document`, insisting on a manifest."""
        doc = parse_document(raw, media_type, digest)
        if not isinstance(doc, Manifest):
            raise InvalidDocumentError(f"manifest {doc.digest}", f"got a {_NAMES[doc.media_type]}")
        return doc

    @property
    def is_artifact(self) -> bool:
        """manifest.md "Guidelines for Artifact Usage": ``artifactType`` is set, or the config is
        not an image config (e.g. the empty descriptor). A Docker manifest whose config is
        ``application/octet-stream`` (pushed by old Docker) is still an image."""
        if self.artifact_type:
            return True
        if self.config.media_type in mt.CONFIG_TYPES:
            return False
        legacy = self.media_type == mt.DOCKER_MANIFEST
        return not (legacy and self.config.media_type == "application/octet-stream")


def _content_digest(raw: bytes, digest: Digest | None, what: str) -> Digest:
    if digest is None:
        return sha256(raw)
    return Digest.parse(digest).verify_digest(raw, what)


def _decide(body: Mapping[str, Any], media_type: str | None, what: str) -> str:
    """The media type a body is read as; the rules are in the module docstring."""
    content_type = mt.strip_parameters(media_type)
    if content_type in mt.GENERIC_CONTENT_TYPES:
        content_type = None
    declared = body.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise InvalidDocumentError(what, f"mediaType: expected string, got {json_type(declared)}")
    version = body.get("schemaVersion")
    if (type(version) is int and version == 1) or {content_type, declared} & mt.SCHEMA1_TYPES:
        raise UnsupportedMediaTypeError(what, content_type or declared, SCHEMA1_MESSAGE)
    chosen = content_type or declared
    if chosen is not None and chosen not in _KNOWN:
        raise UnsupportedMediaTypeError(
            what, chosen, f"unsupported media type {chosen!r} (reads: {', '.join(sorted(_KNOWN))})"
        )
    if content_type is not None and declared is not None and declared != content_type:
        raise InvalidDocumentError(
            what, f"mediaType {declared!r} in the body does not match Content-Type {content_type!r}"
        )
    has_index = body.get("manifests") is not None
    has_manifest = body.get("config") is not None or body.get("layers") is not None
    if chosen is None:
        if has_index and has_manifest:
            raise InvalidDocumentError(what, "no mediaType, both 'manifests' and 'config'/'layers'")
        if not (has_index or has_manifest):
            raise UnsupportedMediaTypeError(
                what, None, f"not a manifest or index: no mediaType, no 'manifests', no "
                f"'config'/'layers' (schemaVersion {version!r})"
            )
        chosen = mt.OCI_INDEX if has_index else mt.OCI_MANIFEST
    if chosen in mt.INDEX_TYPES and has_manifest:
        raise InvalidDocumentError(what, "expected index but found manifest ('config'/'layers')")
    if chosen in mt.MANIFEST_TYPES and has_index:
        raise InvalidDocumentError(what, "expected manifest but found index ('manifests')")
    if chosen in _DOCKER_TYPES and declared is None:
        raise InvalidDocumentError(what, f"mediaType: missing (a {_NAMES[chosen]} MUST declare it)")
    return chosen


def detect_media_type(raw: bytes, media_type: str | None = None) -> str:
    """The media type :func:`parse_document` reads ``raw`` as, checking only kind and shape."""
    what = f"manifest {sha256(bytes(raw))}"
    return _decide(load_object(raw, what), media_type, what)


def _common(
    check: Check, body: Mapping[str, Any]
) -> tuple[int, dict[str, str], Descriptor | None, Any]:
    """manifest.md / image-index.md: schemaVersion REQUIRED and MUST be 2; annotations, subject
    (a descriptor), artifactType (RFC 6838) OPTIONAL."""
    version = check.get(body, "schemaVersion", "", int, True)
    if version is not None and version != 2:
        check.fail("schemaVersion", f"must be 2, got {version}")
    annotations = check.string_map(body, "annotations", "")
    subject = None
    if body.get("subject") is not None:
        subject = _read_descriptor(check, body["subject"], "subject")
    artifact_type = check.media_type(body, "artifactType", "", False)
    return version or 0, annotations, subject, artifact_type


def _descriptors(check: Check, body: Mapping[str, Any], key: str) -> list[Descriptor]:
    items = check.get(body, key, "", list, True) or []
    found = [_read_descriptor(check, item, f"{key}[{i}]") for i, item in enumerate(items)]
    return [d for d in found if d is not None]


def _read_index(raw: bytes, digest: Digest, media_type: str, body: Mapping[str, Any]) -> Index:
    """image-index.md "Image Index Property Descriptions": manifests REQUIRED (may be empty)."""
    check = Check()
    version, annotations, subject, artifact_type = _common(check, body)
    manifests = _descriptors(check, body, "manifests")
    check.done(f"{_NAMES[media_type]} {digest}")
    return Index(
        raw, digest, media_type, version, tuple(manifests), annotations, subject, artifact_type
    )


def _read_manifest(
    raw: bytes, digest: Digest, media_type: str, body: Mapping[str, Any]
) -> Manifest:
    """manifest.md "Image Manifest Property Descriptions": config and layers REQUIRED."""
    check = Check()
    version, annotations, subject, artifact_type = _common(check, body)
    config = None
    if body.get("config") is None:
        check.fail("config", "missing (required)")
    else:
        config = _read_descriptor(check, body["config"], "config")
    layers = _descriptors(check, body, "layers")
    stored = (config.size if config is not None else 0) + sum(d.size for d in layers)
    if stored > 2**63 - 1:  # each fits int64, the image cannot: no table could hold it
        check.fail("layers", f"config and layer sizes add up to {stored}, more than int64")
    if media_type == mt.OCI_MANIFEST and body.get("layers") == []:
        # image-spec schema/image-manifest-schema.json: "layers": {"minItems": 1}
        check.fail("layers", "must have at least one entry (image-spec manifest schema)")
    items = body.get("layers")
    if media_type == mt.DOCKER_MANIFEST and isinstance(items, list):
        # Docker "Image Manifest V2, Schema 2" layer types (containers/image Schema2FromManifest)
        for i, layer in enumerate(items):
            kind = layer.get("mediaType") if isinstance(layer, dict) else None
            if isinstance(kind, str) and kind not in DOCKER_LAYER_TYPES:
                check.fail(f"layers[{i}].mediaType", f"{kind!r} is not a Docker schema2 layer type")
    check.done(f"{_NAMES[media_type]} {digest}")
    assert config is not None
    return Manifest(
        raw, digest, media_type, version, config, tuple(layers), annotations, subject, artifact_type
    )


def parse_document(
    raw: bytes, media_type: str | None = None, digest: Digest | None = None
) -> Index | Manifest:
    """Read a manifest or index from its exact bytes.

    ``media_type`` is the Content-Type it came with (None when unknown); ``digest``, when given, is
    verified against ``raw`` (DigestMismatchError), else sha256 of ``raw`` is computed. Raises
    UnsupportedMediaTypeError for schema1 and unknown types, InvalidDocumentError naming every bad
    field otherwise.
    """
    raw = bytes(raw)
    actual = _content_digest(raw, digest, f"manifest {digest}")
    what = f"manifest {actual}"
    body = load_object(raw, what)
    kind = _decide(body, media_type, what)
    if kind in mt.INDEX_TYPES:
        return _read_index(raw, actual, kind, body)
    return _read_manifest(raw, actual, kind, body)


# --------------------------------------------------------------------------------------------
# Image configuration


def _parse_time(value: str | None) -> datetime | None:
    """config.md "created": RFC 3339 section 5.6; None when absent or not parseable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class History:
    """config.md "history": one build step; ``empty_layer`` steps added no layer."""

    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool = False

    @property
    def created_at(self) -> datetime | None:
        return _parse_time(self.created)


@dataclass(frozen=True)
class ImageConfig:
    """config.md: the image's platform, run-time defaults, history and layer diff_ids.

    ``entrypoint``/``cmd`` are None when absent or null (Docker distinguishes that from ``[]``);
    ``created`` is kept as written, :attr:`created_at` parses it (None if it does not parse).
    """

    raw: bytes = field(repr=False)
    digest: Digest
    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    created: str | None = None
    author: str | None = None
    env: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    user: str | None = None
    working_dir: str | None = None
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str | None = None
    history: tuple[History, ...] = ()
    diff_ids: tuple[str, ...] = ()
    rootfs_type: str = "layers"

    def _repr_html_(self) -> str:
        """Notebook HTML (:func:`ociinspect.display.config_html`); no I/O."""
        from ..display import config_html

        return config_html(self)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen_map(self.labels))

    @classmethod
    def from_bytes(cls, raw: bytes, digest: Digest | None = None) -> ImageConfig:
        """Same as :func:`parse_config`."""
        return parse_config(raw, digest)

    @property
    def created_at(self) -> datetime | None:
        return _parse_time(self.created)

    @property
    def env_dict(self) -> dict[str, str]:
        """``Env`` as a dict, split at the first ``=``; a later entry wins, as in Docker."""
        return dict(entry.split("=", 1) for entry in self.env if "=" in entry)

    @property
    def ports(self) -> tuple[tuple[int, str], ...]:
        """config.md ExposedPorts keys ``port/tcp``, ``port/udp``, ``port`` (tcp by default) as
        ``(port, protocol)``; keys that are not of that form are only in :attr:`exposed_ports`."""
        found = []
        for key in self.exposed_ports:
            number, _, proto = key.partition("/")
            if number.isascii() and number.isdigit() and int(number) <= 65535:
                found.append((int(number), (proto or "tcp").lower()))
        return tuple(found)

    @property
    def platform(self) -> Platform:
        """The platform this config declares (config.md architecture, os, variant, os.*)."""
        from .platforms import Platform

        fields: dict[str, Any] = {"os": self.os, "architecture": self.architecture}
        if self.variant:
            fields["variant"] = self.variant
        if self.os_version:
            fields["os.version"] = self.os_version
        if self.os_features:
            fields["os.features"] = list(self.os_features)
        return Platform.from_dict(fields)


def _read_history(check: Check, body: Mapping[str, Any]) -> tuple[History, ...]:
    """config.md "history": array of objects with created, author, created_by, comment strings
    and empty_layer boolean, all OPTIONAL."""
    steps = []
    for i, item in enumerate(check.get(body, "history", "", list, False) or ()):
        path = f"history[{i}]"
        if not isinstance(item, dict):
            check.fail(path, f"expected object, got {json_type(item)}")
            continue
        created, created_by, author, comment = (
            check.string(item, key, path) for key in ("created", "created_by", "author", "comment")
        )
        empty = check.get(item, "empty_layer", path, bool, False)
        steps.append(History(created, created_by, author, comment, bool(empty)))
    return tuple(steps)


def parse_config(raw: bytes, digest: Digest | None = None) -> ImageConfig:
    """An image config (OCI or Docker) from its exact bytes; ``digest`` is verified if given."""
    raw = bytes(raw)
    actual = _content_digest(raw, digest, f"image config {digest}")
    what = f"image config {actual}"
    body = load_object(raw, what)
    check = Check()
    # config.md: architecture and os REQUIRED strings; variant, os.version, os.features OPTIONAL.
    architecture = check.string(body, "architecture", "", True)
    os_name = check.string(body, "os", "", True)
    variant = check.string(body, "variant", "")
    os_version = check.string(body, "os.version", "")
    os_features = check.strings(body, "os.features", "") or ()
    created = check.string(body, "created", "")
    author = check.string(body, "author", "")
    run = check.get(body, "config", "", dict, False) or {}
    # config.md "config": run-time defaults, all OPTIONAL.
    env = check.strings(run, "Env", "config") or ()
    for i, entry in enumerate(env):
        check.fail(f"config.Env[{i}]", env_problem(entry))
    config_fields = {
        "labels": check.string_map(run, "Labels", "config"),
        "entrypoint": check.strings(run, "Entrypoint", "config"),
        "cmd": check.strings(run, "Cmd", "config"),
        "user": check.string(run, "User", "config"),
        "working_dir": check.string(run, "WorkingDir", "config"),
        "exposed_ports": check.key_set(run, "ExposedPorts", "config"),
        "volumes": check.key_set(run, "Volumes", "config"),
        "stop_signal": check.string(run, "StopSignal", "config"),
    }
    # config.md "rootfs": REQUIRED; type MUST be "layers"; diff_ids REQUIRED array of digests.
    rootfs = check.get(body, "rootfs", "", dict, True)
    rootfs_type = diff_ids = None
    if rootfs is not None:
        rootfs_type = check.string(rootfs, "type", "rootfs", True)
        if rootfs_type is not None and rootfs_type != "layers":
            check.fail("rootfs.type", f"MUST be 'layers', got {rootfs_type!r}")
        diff_ids = check.strings(rootfs, "diff_ids", "rootfs", True)
    diff_ids = diff_ids or ()
    for i, diff_id in enumerate(diff_ids):
        check.digest(diff_id, f"rootfs.diff_ids[{i}]")
    history = _read_history(check, body)
    check.done(what)
    return ImageConfig(
        raw, actual, architecture, os_name, variant, os_version, os_features, created, author,
        env, history=history, diff_ids=diff_ids, rootfs_type=rootfs_type or "layers",
        **config_fields,
    )


def layer_history(config: ImageConfig) -> list[History | None]:
    """The history step that made each layer: one entry per ``diff_ids`` item, in order.

    Steps with ``empty_layer`` made no layer and are skipped (config.md "history"). When history
    has too few layer-making steps the missing ones are None; extra steps are ignored.
    """
    steps = [step for step in config.history if not step.empty_layer]
    return [steps[i] if i < len(steps) else None for i in range(len(config.diff_ids))]


# --------------------------------------------------------------------------------------------
# Image layout header


@dataclass(frozen=True)
class LayoutHeader:
    """image-layout.md "oci-layout file": ``{"imageLayoutVersion": "1.0.0"}``."""

    raw: bytes = field(repr=False)
    image_layout_version: str


def parse_layout_header(raw: bytes) -> LayoutHeader:
    """An ``oci-layout`` file: a JSON object whose ``imageLayoutVersion`` is a REQUIRED string."""
    raw = bytes(raw)
    body = load_object(raw, "oci-layout")
    check = Check()
    version = check.string(body, "imageLayoutVersion", "", True)
    check.done("oci-layout")
    return LayoutHeader(raw, version)


__all__ = [
    "DOCKER_LAYER_TYPES",
    "SCHEMA1_MESSAGE",
    "Descriptor",
    "History",
    "ImageConfig",
    "Index",
    "LayoutHeader",
    "Manifest",
    "ManifestInfo",
    "detect_media_type",
    "layer_history",
    "parse_config",
    "parse_descriptor",
    "parse_document",
    "parse_layout_header",
]
