"""The images the benchmarks push: realistic shapes, deterministic bytes.

``bench/multi:latest``  an OCI index of 8 platforms plus one BuildKit attestation manifest per
                        platform (16 entries), each image with 6 gzip layers and a config whose
                        history has 14 steps, as a multi-arch base image has
``bench/big:latest``    one uncompressed tar layer of ``--blob-mib`` MiB of incompressible
                        data, written to disk as it is generated (never held in memory)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ociinspect.testing import build
from ociinspect.values import mediatypes as mt

MULTI = "bench/multi:latest"
BIG = "bench/big:latest"
PLATFORMS = (
    "linux/amd64",
    "linux/arm64/v8",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/386",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
)
_PART = 64 * 1024 * 1024
_CHUNK = 4 * 1024 * 1024


def _image(platform: str) -> build.BuiltImage:
    arch = platform.replace("/", "-")
    layers = [
        build.layer(
            [
                build.directory("etc"),
                build.file("etc/os-release", b"ID=bench\nVERSION_ID=1\n"),
                build.file(f"lib/ld-{arch}.so", arch.encode() * 4096, mode=0o755),
            ]
        ),
        build.layer([build.file("usr/lib/libc.so.6", (arch * 997).encode(), mode=0o755)]),
        build.layer([build.file("usr/bin/python3", (arch * 3001).encode(), mode=0o755)]),
        build.layer([build.file("app/requirements.txt", b"requests\npandas\n")]),
        build.layer([build.file("app/main.py", b"print('hello')\n" * 50)]),
        build.layer([build.file("app/VERSION", b"1.0.0\n")]),
    ]
    run = [
        "ADD rootfs.tar.xz / # buildkit",
        "RUN apt-get update && apt-get install -y libc6 # buildkit",
        "RUN apt-get install -y python3 # buildkit",
        "COPY requirements.txt /app/ # buildkit",
        "COPY main.py /app/ # buildkit",
        "RUN echo 1.0.0 > /app/VERSION # buildkit",
    ]
    empty = [
        'CMD ["bash"]',
        "ENV LANG=C.UTF-8",
        "ENV PYTHONUNBUFFERED=1",
        "WORKDIR /app",
        "USER 1000:1000",
        "EXPOSE 8080/tcp",
        "LABEL org.opencontainers.image.source=https://example.invalid/bench",
        'CMD ["python3", "/app/main.py"]',
    ]
    steps = [build.Step(run[0], comment="buildkit.dockerfile.v0")]
    steps += [build.Step(text, empty_layer=True) for text in empty[:4]]
    steps += [build.Step(text, comment="buildkit.dockerfile.v0") for text in run[1:]]
    steps += [build.Step(text, empty_layer=True) for text in empty[4:]]
    return build.image(
        layers,
        platform=platform,
        history=steps,
        env=[
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
            "PYTHONUNBUFFERED=1",
        ],
        labels={
            "org.opencontainers.image.source": "https://example.invalid/bench",
            "org.opencontainers.image.version": "1.0.0",
            "org.opencontainers.image.title": f"bench {platform}",
        },
        cmd=["python3", "/app/main.py"],
        user="1000:1000",
        working_dir="/app",
        exposed_ports=["8080/tcp"],
    )


def multi() -> build.BuiltIndex:
    """The 8-platform index with attestations (16 entries)."""
    return build.index([_image(p) for p in PLATFORMS])


@dataclass(frozen=True)
class BigLayout:
    """An OCI layout holding ``bench/big`` (tag ``seed``), and its layer's digest and size."""

    path: Path
    layer_digest: str
    layer_size: int

    @property
    def layer_path(self) -> Path:
        return self.path / "blobs" / "sha256" / self.layer_digest.split(":", 1)[1]


class _Noise:
    """``size`` incompressible bytes from a seeded generator, produced chunk by chunk."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.left = size
        self.rng = rng

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return self.rng.bytes(n) if n else b""


class _HashingFile(io.RawIOBase):
    def __init__(self, out: io.BufferedWriter) -> None:
        self.out = out
        self.hasher = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.hasher.update(data)
        self.out.write(data)
        self.size += len(data)
        return len(data)


def big_layout(directory: Path, mib: int) -> BigLayout:
    """Write (once; reused while ``directory`` holds a finished one) the big image's layout."""
    marker = directory / "done.json"
    if marker.is_file():
        found = json.loads(marker.read_text())
        return BigLayout(directory, found["digest"], found["size"])
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    tmp = blobs / ".layer.part"
    rng = np.random.Generator(np.random.PCG64(20240101))
    with tmp.open("wb") as raw:
        sink = _HashingFile(raw)  # type: ignore[arg-type]
        with tarfile.open(  # type: ignore[call-overload]
            fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT, bufsize=_CHUNK
        ) as tar:
            tar.copybufsize = _CHUNK  # type: ignore[attr-defined]  # else 16 KiB copies
            left = mib * 1024 * 1024 - 10240  # tar's end-of-archive and headers, roughly
            part = 0
            while left > 0:
                size = min(_PART, left)
                info = tarfile.TarInfo(f"data/part-{part:03d}.bin")
                info.size, info.mtime, info.mode = size, build.DEFAULT_MTIME, 0o644
                tar.addfile(info, _Noise(size, rng))  # type: ignore[arg-type]
                left -= size + 512
                part += 1
    digest = f"sha256:{sink.hasher.hexdigest()}"
    os.replace(tmp, blobs / digest.split(":", 1)[1])
    layer = {"mediaType": mt.OCI_LAYER, "digest": digest, "size": sink.size}
    config = build.json_blob(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": build.DEFAULT_CREATED,
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [digest]},
            "history": [{"created": build.DEFAULT_CREATED, "created_by": "ADD data /data"}],
        },
        mt.OCI_CONFIG,
    )
    manifest = build.json_blob(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [layer],
        },
        mt.OCI_MANIFEST,
    )
    for blob in (config, manifest):
        (blobs / blob.digest.split(":", 1)[1]).write_bytes(blob.data)
    entry = {**manifest.descriptor(), "annotations": {build.REF_NAME: "seed"}}
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [entry]}
    (directory / "index.json").write_bytes(build.canonical_json(index))
    (directory / "oci-layout").write_bytes(build.canonical_json({"imageLayoutVersion": "1.0.0"}))
    marker.write_text(json.dumps({"digest": digest, "size": sink.size}))
    return BigLayout(directory, digest, sink.size)
