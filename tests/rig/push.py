"""Push a built image or index (:mod:`ociinspect.testing.build`) to an open rig registry over the
distribution push API (monolithic blob uploads, then manifests, then the tag)."""

from __future__ import annotations

import requests

from ociinspect.testing import build
from ociinspect.values import mediatypes as mt


def push(base_url: str, repository: str, root: build.Root, tag: str = "latest") -> str:
    """Push every blob and manifest of ``root`` to ``repository`` at ``base_url`` (an open
    registry: ``http://127.0.0.1:PORT``), tag the top one ``tag``; return its digest."""
    client = requests.Session()
    client.trust_env = False  # loopback only, never a proxy
    top = root.index if isinstance(root, build.BuiltIndex) else root.manifest
    manifests: list[build.Blob] = []
    for blob in root.blobs():
        if mt.kind(blob.media_type) in ("manifest", "index"):
            if blob is not top:
                manifests.append(blob)
            continue
        start = client.post(f"{base_url}/v2/{repository}/blobs/uploads/", timeout=30)
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        if location.startswith("/"):
            location = base_url + location
        joiner = "&" if "?" in location else "?"
        done = client.put(
            f"{location}{joiner}digest={blob.digest}",
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        assert done.status_code == 201, done.text
    for blob in [*manifests, top]:
        reference = tag if blob is top else blob.digest
        answer = client.put(
            f"{base_url}/v2/{repository}/manifests/{reference}",
            data=blob.data,
            headers={"Content-Type": blob.media_type},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
    return top.digest
