"""``tampered``: broken copies of a built layout, each broken in exactly one place.

- :func:`wrong_diff_id`: the config's ``rootfs.diff_ids[i]`` is a well-formed digest of other
  bytes; the config is re-hashed and the manifest and index.json point at the new digests, so
  every descriptor verifies and only the diff_id check (digest of the DEcompressed layer) fails.
- :func:`truncated_layer`: the layer blob keeps its file name (its digest) but holds only its
  first bytes; the manifest is untouched, so digest, size and decompression all fail.
- :func:`wrong_layer_size`: ``layers[i].size`` in the manifest is off by ``delta``; the manifest
  is re-hashed and index.json fixed, so only the size check of that layer fails.

Documents are edited as parsed JSON and written back the way Go writes them (compact, key order
kept, a trailing newline kept); each edit first checks that re-serialising the untouched
document gives its exact bytes, so the new bytes differ only in the edited value. Digests are
computed from the new bytes. The copy's blobs are hardlinks of the source's where the file
system allows: changed blobs are always new files (never written in place), and the old, now
unreferenced, blobs are kept.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import layout as oci
from ._tools import sha256_bytes


@dataclass(frozen=True)
class Tampered:
    """A broken copy: where it is, what is wrong, what the documents claim and what is true."""

    layout: Path
    tag: str
    kind: str
    layer: int
    layer_digest: str
    manifest_digest: str
    config_digest: str
    claimed: str
    actual: str
    what: str

    @property
    def ref(self) -> str:
        """``oci:<layout>:<tag>``."""
        return f"oci:{self.layout}:{self.tag}"


def copy_layout(source: Path, dest: Path) -> None:
    """Copy an OCI layout: ``oci-layout`` and ``index.json`` copied, blobs hardlinked (copied
    when the file system cannot link). ``dest`` must not exist."""
    dest.mkdir(parents=True)
    for name in ("oci-layout", "index.json"):
        shutil.copyfile(source / name, dest / name)
    for directory in (source / "blobs").iterdir():
        (dest / "blobs" / directory.name).mkdir(parents=True)
        for blob in directory.iterdir():
            target = dest / "blobs" / directory.name / blob.name
            try:
                os.link(blob, target)
            except OSError:
                shutil.copyfile(blob, target)


def wrong_diff_id(source: Path, dest: Path, tag: str, layer: int = 0) -> Tampered:
    """A copy of ``source`` whose config lists a wrong diff_id for ``layer`` of ``tag``."""
    copy_layout(source, dest)
    manifest = oci.manifest(dest, tag)
    config = oci.config(dest, tag)
    actual = config.value["rootfs"]["diff_ids"][layer]
    claimed = sha256_bytes(f"not the diff_id of layer {layer}: {actual}".encode())

    def edit_config(value: Any) -> None:
        value["rootfs"]["diff_ids"][layer] = claimed

    config_digest = oci.write_blob(dest, _rewrite(config.raw, edit_config, "config"))

    def edit_manifest(value: Any) -> None:
        value["config"]["digest"] = config_digest

    manifest_digest = _replace_manifest(dest, tag, _rewrite(manifest.raw, edit_manifest, tag))
    return Tampered(
        layout=dest,
        tag=tag,
        kind="diff_id",
        layer=layer,
        layer_digest=manifest.value["layers"][layer]["digest"],
        manifest_digest=manifest_digest,
        config_digest=config_digest,
        claimed=claimed,
        actual=actual,
        what=f"config rootfs.diff_ids[{layer}] is {claimed}; the layer decompresses to {actual}",
    )


def truncated_layer(
    source: Path, dest: Path, tag: str, layer: int = 0, keep: int | None = None
) -> Tampered:
    """A copy of ``source`` whose blob of ``layer`` holds only its first ``keep`` bytes (half by
    default) under its old name."""
    copy_layout(source, dest)
    manifest = oci.manifest(dest, tag)
    descriptor = manifest.value["layers"][layer]
    path = oci.blob_path(dest, descriptor["digest"])
    data = path.read_bytes()
    keep = len(data) // 2 if keep is None else keep
    if not 0 <= keep < len(data):
        raise ValueError(f"keep={keep} must be below the blob's {len(data)} bytes")
    path.unlink()  # a hardlink of the source's blob: never truncate it in place
    path.write_bytes(data[:keep])
    return Tampered(
        layout=dest,
        tag=tag,
        kind="truncated",
        layer=layer,
        layer_digest=descriptor["digest"],
        manifest_digest=manifest.digest,
        config_digest=manifest.value["config"]["digest"],
        claimed=f"{descriptor['digest']} ({descriptor['size']} bytes)",
        actual=f"{sha256_bytes(data[:keep])} ({keep} bytes)",
        what=f"blob {descriptor['digest']} truncated from {len(data)} to {keep} bytes",
    )


def wrong_layer_size(
    source: Path, dest: Path, tag: str, layer: int = 0, delta: int = 1
) -> Tampered:
    """A copy of ``source`` whose manifest says ``layer`` is ``delta`` bytes bigger than it is."""
    if delta == 0:
        raise ValueError("delta=0 would not tamper with anything")
    copy_layout(source, dest)
    manifest = oci.manifest(dest, tag)
    descriptor = manifest.value["layers"][layer]
    actual, claimed = descriptor["size"], descriptor["size"] + delta
    if claimed < 0:
        raise ValueError(f"size {actual} + delta {delta} is negative")

    def edit_manifest(value: Any) -> None:
        value["layers"][layer]["size"] = claimed

    manifest_digest = _replace_manifest(dest, tag, _rewrite(manifest.raw, edit_manifest, tag))
    return Tampered(
        layout=dest,
        tag=tag,
        kind="size",
        layer=layer,
        layer_digest=descriptor["digest"],
        manifest_digest=manifest_digest,
        config_digest=manifest.value["config"]["digest"],
        claimed=str(claimed),
        actual=str(actual),
        what=f"manifest says layer {layer} has {claimed} bytes; the blob has {actual}",
    )


def _rewrite(raw: bytes, edit: Callable[[Any], None], what: str) -> bytes:
    body = raw.rstrip(b"\n")
    newlines = raw[len(body) :]  # Go's json.Encoder (umoci) ends a document with "\n"
    value = json.loads(body)
    if oci.dumps_like_go(value) != body:
        raise ValueError(f"{what}: re-serialising does not give the original bytes; not edited")
    edit(value)
    return oci.dumps_like_go(value) + newlines


def _replace_manifest(layout: Path, tag: str, raw: bytes) -> str:
    digest = oci.write_blob(layout, raw)
    index = oci.read_document(layout / "index.json")

    def edit_index(value: Any) -> None:
        for entry in value["manifests"]:
            if entry.get("annotations", {}).get(oci.REF_NAME) == tag:
                entry["digest"], entry["size"] = digest, len(raw)

    temporary = layout / "index.json.tmp"
    temporary.write_bytes(_rewrite(index.raw, edit_index, "index.json"))
    os.replace(temporary, layout / "index.json")
    return digest
