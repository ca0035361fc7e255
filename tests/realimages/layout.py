"""Small readers and writers for an OCI image layout (image-spec ``image-layout.md``).

Only what the fixtures need: find a tag in ``index.json`` (the ``org.opencontainers.image.ref.name``
annotation, ``annotations.md``), read a manifest and config as raw bytes plus parsed JSON, and
write a blob under ``blobs/<alg>/<encoded>``. Digests are always computed from bytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._tools import sha256_bytes

REF_NAME = "org.opencontainers.image.ref.name"
_MAX_DOCUMENT = 4 << 20


@dataclass(frozen=True)
class Document:
    """A JSON document of a layout: its bytes, its digest and its parsed value."""

    raw: bytes
    digest: str
    value: Any


def blob_path(layout: Path, digest: str) -> Path:
    """Where ``digest`` lives in ``layout`` (``blobs/sha256/<hex>``)."""
    algorithm, _, encoded = digest.partition(":")
    if algorithm != "sha256" or len(encoded) != 64:
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return layout / "blobs" / algorithm / encoded


def read_document(path: Path) -> Document:
    """Read a JSON file (at most 4 MiB) as a Document."""
    size = path.stat().st_size
    if size > _MAX_DOCUMENT:
        raise ValueError(f"{path}: {size} bytes is over the 4 MiB document limit")
    raw = path.read_bytes()
    return Document(raw=raw, digest=sha256_bytes(raw), value=json.loads(raw))


def index_entry(layout: Path, tag: str) -> dict[str, Any]:
    """The descriptor in ``index.json`` whose ref.name annotation is ``tag``."""
    index = read_document(layout / "index.json").value
    found = [
        entry for entry in index["manifests"] if entry.get("annotations", {}).get(REF_NAME) == tag
    ]
    if len(found) != 1:
        names = [entry.get("annotations", {}).get(REF_NAME) for entry in index["manifests"]]
        raise LookupError(f"{layout}: {len(found)} entries tagged {tag!r} (tags: {names})")
    return found[0]


def manifest(layout: Path, tag: str) -> Document:
    """The manifest that ``tag`` names."""
    return read_document(blob_path(layout, index_entry(layout, tag)["digest"]))


def config(layout: Path, tag: str) -> Document:
    """The config of the manifest that ``tag`` names."""
    return read_document(blob_path(layout, manifest(layout, tag).value["config"]["digest"]))


def write_blob(layout: Path, data: bytes) -> str:
    """Store ``data`` as a blob (a new file, renamed into place) and return its digest."""
    digest = sha256_bytes(data)
    path = blob_path(layout, digest)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return digest


def dumps_like_go(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it (compact, key order kept), as umoci and skopeo do."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode("utf-8")
