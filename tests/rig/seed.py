"""The images every rig registry starts with, built by ociinspect.testing.build and pushed by
skopeo.

Seeding happens once per session: a throw-away open registry (no redirect, no auth) receives
every image through ``skopeo copy --preserve-digests`` (``--all`` for indexes), then its storage
directory is the template each mode's registry copies. So every registry holds the same
content, with the digests computed here.

skopeo 1.9.3's ``oci:`` transport only finds OCI media types in ``index.json``, so images with
Docker media types go through skopeo's ``dir:`` transport instead (``manifest.json``, blobs named
by hex digest, ``<hex>.manifest.json`` for the instances of a list), which keeps their bytes.

=======================  =====================================================================
``demo/single:latest``   OCI manifest, linux/amd64, 4 layers (gzip, zstd, none, gzip): every
``demo/single:1.0``      entry type, whiteouts, an overwritten file; history with empty steps
``demo/multi:latest``    OCI index: linux/amd64, linux/arm64/v8, linux/arm/v7 + 3 attestations
``demo/docker:latest``   Docker schema2 manifest, linux/amd64, 2 gzip layers
``demo/dockerlist:latest``  Docker manifest list: linux/amd64, linux/arm64/v8
``demo/big:latest``      OCI manifest with one ~2 MiB incompressible gzip layer
``private/secret:latest``  OCI manifest; in token mode only alice may pull it
``demo/signed:latest``   OCI index signed, attested and with SBOMs, as cosign, oras and BuildKit
                         leave them, pushed through the registry API (not skopeo): see
                         :mod:`rig.supply`
=======================  =====================================================================
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ociinspect.testing import build
from ociinspect.testing.build import Root
from ociinspect.values import mediatypes as mt

from . import supply
from .env import child_env

SINGLE = "demo/single:latest"
SINGLE_ALIAS = "demo/single:1.0"
MULTI = "demo/multi:latest"
DOCKER = "demo/docker:latest"
DOCKER_LIST = "demo/dockerlist:latest"
BIG = "demo/big:latest"
PRIVATE = "private/secret:latest"
PLATFORMS = ("linux/amd64", "linux/arm64/v8", "linux/arm/v7")
#: Every seeded reference, in catalog order (cheap to import, for parametrize).
REFERENCES = (SINGLE, SINGLE_ALIAS, MULTI, DOCKER, DOCKER_LIST, BIG, PRIVATE)


@dataclass(frozen=True)
class SeededImage:
    """What a repository:tag in every rig registry holds."""

    repository: str
    tag: str
    root: Root

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def digest(self) -> str:
        return self.root.digest

    @property
    def media_type(self) -> str:
        return self.root.media_type

    @property
    def raw(self) -> bytes:
        """The exact manifest/index bytes the registry serves."""
        top = self.root.index if isinstance(self.root, build.BuiltIndex) else self.root.manifest
        return top.data

    def image(self, platform: str | None = None) -> build.BuiltImage:
        """The image itself, or the one for ``platform`` when this is an index."""
        if isinstance(self.root, build.BuiltIndex):
            return self.root.image_for(platform or "linux/amd64")
        return self.root


def noise(size: int, seed: bytes) -> bytes:
    """``size`` deterministic, incompressible bytes (a SHA-256 counter stream)."""
    blocks = (hashlib.sha256(seed + i.to_bytes(8, "big")).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def _single() -> build.BuiltImage:
    base = build.layer(
        [
            build.directory("bin"),
            build.directory("dev"),
            build.directory("etc"),
            build.directory("tmp", mode=0o1777),
            build.directory("usr"),
            build.directory("usr/bin"),
            build.directory("var"),
            build.directory("var/log"),
            build.file("bin/sh", b"#!rig shell\n" * 8, mode=0o755),
            build.hardlink("bin/sh-hardlink", "bin/sh"),
            build.symlink("usr/bin/sh", "/bin/sh"),
            build.char_device("dev/null", 1, 3),
            build.block_device("dev/sda", 8, 0),
            build.fifo("dev/initctl"),
            build.file("etc/hostname", b"rig\n"),
            build.file("etc/os-release", b"ID=rig\n"),
            build.file("etc/shadow", b"root:*:19000::::::\n", mode=0o640, gid=42),
            build.file("usr/bin/tool", b"tool\n", mode=0o4755, uid=1000, gid=1000),
            build.file("var/log/old.log", b"old\n"),
        ]
    )
    changes = build.layer(
        [
            build.whiteout("etc/os-release"),
            build.opaque_whiteout("var/log"),
            build.file("var/log/app.log", b"new\n"),
            build.file("etc/motd", b"hello\n"),
        ],
        compression="zstd",
    )
    app = build.layer(
        [
            build.directory("app"),
            build.file("app/data.bin", noise(65536, b"v1")),
            build.file("app/run", b"#!/bin/sh\necho run\n", mode=0o755),
        ],
        compression="none",
    )
    update = build.layer(
        [
            build.file("app/data.bin", noise(65536, b"v2")),
            build.file("app/config.json", b'{"debug":false}\n'),
        ]
    )
    history = [
        build.Step("ADD rootfs.tar / # buildkit", comment="buildkit.dockerfile.v0"),
        build.Step("ENV APP=demo", empty_layer=True),
        build.Step("RUN rm /etc/os-release && rm -rf /var/log/* && echo new > /var/log/app.log"),
        build.Step("COPY app /app # buildkit", author="rig <rig@example.invalid>"),
        build.Step("WORKDIR /app", empty_layer=True),
        build.Step("RUN ./update-data"),
        build.Step('CMD ["/app/run"]', empty_layer=True),
    ]
    return build.image(
        [base, changes, app, update],
        platform="linux/amd64",
        history=history,
        env=["PATH=/usr/bin:/bin", "APP=demo"],
        labels={"org.opencontainers.image.title": "single", "rig.role": "seed"},
        entrypoint=["/bin/sh", "-c"],
        cmd=["/app/run"],
        user="1000:1000",
        working_dir="/app",
        exposed_ports=["8080/tcp", "53/udp"],
        volumes=["/data"],
        stop_signal="SIGTERM",
        author="ociinspect rig",
    )


def _multi() -> build.BuiltIndex:
    base = build.layer([build.directory("etc"), build.file("etc/os-release", b"ID=rig\n")])
    images = []
    for platform in PLATFORMS:
        arch = build.layer([build.file("etc/arch", platform + "\n")])
        images.append(
            build.image(
                [base, arch],
                platform=platform,
                cmd=["/bin/sh"],
                history=[
                    build.Step("ADD base /"),
                    build.Step("ENV A=1", empty_layer=True),
                    build.Step(f"RUN echo {platform} > /etc/arch"),
                    build.Step('CMD ["/bin/sh"]', empty_layer=True),
                ],
            )
        )
    return build.index(images)


def _docker() -> build.BuiltImage:
    layers = [
        build.layer([build.directory("etc"), build.file("etc/docker", b"schema2\n")]),
        build.layer([build.file("hello", b"hello from docker media types\n")]),
    ]
    return build.image(layers, docker=True, cmd=["/hello"])


def _docker_list() -> build.BuiltIndex:
    images = [
        build.image([build.layer([build.file("arch", p + "\n")])], platform=p, docker=True)
        for p in PLATFORMS[:2]
    ]
    return build.index(images, docker=True)


def _big() -> build.BuiltImage:
    return build.image([build.layer([build.file("big.bin", noise(2 * 1024 * 1024, b"big"))])])


def _private() -> build.BuiltImage:
    return build.image(
        [build.layer([build.file("secret.txt", b"only alice may read this\n")])],
        labels={"rig.visibility": "private"},
    )


def catalog() -> dict[str, SeededImage]:
    """Every seeded ``repository:tag`` -> what it holds (deterministic)."""
    single = _single()
    roots: dict[str, Root] = {
        SINGLE: single,
        SINGLE_ALIAS: single,
        MULTI: _multi(),
        DOCKER: _docker(),
        DOCKER_LIST: _docker_list(),
        BIG: _big(),
        PRIVATE: _private(),
    }
    out = {}
    for ref, root in roots.items():
        repository, _, tag = ref.rpartition(":")
        out[ref] = SeededImage(repository, tag, root)
    return out


def write_dir(directory: Path, root: Root) -> Path:
    """skopeo's ``dir:`` layout (Directory Transport Version 1.1) holding ``root``'s bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "version").write_text("Directory Transport Version: 1.1\n")
    top = root.index if isinstance(root, build.BuiltIndex) else root.manifest
    for blob in root.blobs():
        hex_ = blob.digest.split(":", 1)[1]
        if blob is top:
            (directory / "manifest.json").write_bytes(blob.data)
        elif mt.kind(blob.media_type) in ("manifest", "index"):
            (directory / f"{hex_}.manifest.json").write_bytes(blob.data)
        else:
            (directory / hex_).write_bytes(blob.data)
    return directory


def skopeo_source(workdir: Path, name: str, root: Root) -> str:
    """Write ``root`` where skopeo can read it; return the source image name."""
    target = workdir / name.replace("/", "_").replace(":", "_")
    if root.media_type in (mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST):
        return f"dir:{write_dir(target, root)}"
    build.write_layout(target, root, tags=["seed"])
    return f"oci:{target}:seed"


def skopeo_copy(
    source: str, destination: str, *, all_images: bool, home: Path, creds: str | None = None
) -> None:
    """``skopeo copy --preserve-digests`` to a plain-http registry; raise with stderr on error."""
    command = [
        "skopeo",
        "copy",
        "--quiet",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--retry-times=2",
    ]
    command += ["--all"] if all_images else []
    command += [f"--dest-creds={creds}"] if creds else ["--dest-no-creds"]
    result = subprocess.run(
        [*command, source, destination],
        capture_output=True,
        text=True,
        env=child_env(home),
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"skopeo copy {source} {destination} failed: {result.stderr.strip()}")


def push_all(host: str, seeded: dict[str, SeededImage], workdir: Path) -> float:
    """Push every seeded image to ``host`` (open registry); return the seconds it took."""
    started = time.monotonic()
    by_repo: dict[str, list[SeededImage]] = {}
    for item in seeded.values():
        by_repo.setdefault(item.repository, []).append(item)

    def push_repo(items: list[SeededImage]) -> None:
        for item in items:
            source = skopeo_source(workdir / "sources", item.reference, item.root)
            skopeo_copy(
                source,
                f"docker://{host}/{item.reference}",
                all_images=isinstance(item.root, build.BuiltIndex),
                home=workdir / "home",
            )

    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(push_repo, items) for items in by_repo.values()]:
            future.result()
    return time.monotonic() - started


@dataclass(frozen=True)
class SeedResult:
    """A seeded storage directory to copy, what it holds, and how long seeding took."""

    storage: Path
    seeded: dict[str, SeededImage]
    seconds: float


def seed_storage(workdir: Path) -> SeedResult:
    """Push :func:`catalog` into a throw-away open registry and keep its storage directory."""
    from .registry import RegistryProcess, registry_config

    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir()
    seeded = catalog()
    process = RegistryProcess(workdir, registry_config("seed", storage))
    try:
        push_all(process.host, seeded, workdir)
        supply.push(f"http://{process.host}")
    finally:
        process.stop()
    return SeedResult(storage, seeded, time.monotonic() - started)
