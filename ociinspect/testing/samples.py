"""The bundled sample image, and the deterministic builder that made it.

``ociinspect/sample/`` is an OCI image layout (image-spec image-layout.md) holding one index,
tagged ``latest`` and ``1.0``, of three platforms (linux/amd64, linux/arm64/v8, linux/arm/v7),
each with a BuildKit-style attestation manifest (``unknown/unknown``), plus one SBOM artifact
whose ``subject`` is the linux/amd64 image (an untagged entry of ``index.json``, as oras and
regctl keep referrers in a layout). Every image has five layers with real, small files:

=====  ===========  =========================================================================
layer  compression  what it does
=====  ===========  =========================================================================
0      gzip         the base filesystem (an arch-specific ``bin/busybox``, ``/etc``, a log)
1      gzip         installs ``/usr/local/bin/hello``, leaves a package cache in /var/cache
2      zstd         cleans up: whiteouts delete ``/var/cache/pkg`` and ``/var/log/build.log``
3      gzip         ``COPY app /app`` (the same blob on every platform)
4      gzip         overwrites ``/app/config.json`` (so the first copy is wasted space)
=====  ===========  =========================================================================

and a history of thirteen steps, eight of them ``empty_layer`` (ENV, LABEL, WORKDIR, USER,
EXPOSE, VOLUME, ENTRYPOINT, CMD). Nothing reads the clock or the machine: ``python -m
ociinspect.testing.samples OUTDIR`` writes the same bytes everywhere, which a test checks against
the shipped copy file by file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from .._sample import SAMPLE, SAMPLE_DIR
from ..values import mediatypes as mt
from . import build

PLATFORMS = ("linux/amd64", "linux/arm64/v8", "linux/arm/v7")
TAGS = ("latest", "1.0")
SBOM_TYPE = "application/spdx+json"

_START = 1_704_067_200  # 2024-01-01T00:00:00Z, build.DEFAULT_MTIME


def _time(minutes: int) -> str:
    """RFC 3339 UTC time ``minutes`` after 2024-01-01T00:00:00Z."""
    hours, mins = divmod(minutes, 60)
    return f"2024-01-01T{hours:02d}:{mins:02d}:00Z"


def noise(size: int, seed: str) -> bytes:
    """``size`` deterministic, incompressible bytes (a SHA-256 counter stream)."""
    blocks = (
        hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(size // 32 + 1)
    )
    return b"".join(blocks)[:size]


def _base(platform: str) -> build.Blob:
    arch = platform.split("/", 1)[1]
    return build.layer(
        [
            *(build.directory(d) for d in ("bin", "etc", "usr", "usr/local", "usr/local/bin")),
            *(build.directory(d) for d in ("var", "var/cache", "var/log")),
            build.directory("tmp", mode=0o1777),
            build.file("bin/busybox", noise(20 * 1024, f"busybox {arch}"), mode=0o755),
            build.symlink("bin/sh", "busybox"),
            build.symlink("bin/ls", "busybox"),
            build.file("etc/os-release", "ID=sample\nNAME=\"ociinspect sample\"\nVERSION_ID=1.0\n"),
            build.file("etc/hostname", "sample\n"),
            build.file(
                "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"
            ),
            build.file("var/log/build.log", "".join(f"step {i}: ok\n" for i in range(64))),
        ]
    )


def _install(platform: str) -> build.Blob:
    return build.layer(
        [
            build.file(
                "usr/local/bin/hello",
                f'#!/bin/sh\necho "${{GREETING:-hello}} from {platform}"\n',
                mode=0o755,
            ),
            *(build.directory(d) for d in ("usr/share", "usr/share/doc", "usr/share/doc/hello")),
            build.file("usr/share/doc/hello/README", "hello: says hello.\n"),
            build.directory("var/cache/pkg"),
            build.file("var/cache/pkg/index.bin", noise(12 * 1024, f"pkg index {platform}")),
        ]
    )


def _cleanup() -> build.Blob:
    return build.layer(
        [build.whiteout("var/cache/pkg"), build.whiteout("var/log/build.log")],
        compression="zstd",
    )


def _config_json(debug: bool) -> bytes:
    settings = {"debug": debug, "greeting": "hello", "listen": ":8080"}
    settings["routes"] = [f"/api/v1/item/{i}" for i in range(48)]
    return json.dumps(settings, indent=2, sort_keys=True).encode() + b"\n"


def _app() -> build.Blob:
    return build.layer(
        [
            build.directory("app"),
            build.file("app/config.json", _config_json(debug=True)),
            build.file("app/index.html", "<!doctype html><title>sample</title><p>hello</p>\n"),
        ]
    )


def _app_config() -> build.Blob:
    return build.layer([build.file("app/config.json", _config_json(debug=False))])


def _history(platform: str) -> list[build.Step]:
    steps = [
        ("ADD rootfs.tar / # buildkit", False, "buildkit.dockerfile.v0"),
        ("ENV PATH=/usr/local/bin:/usr/bin:/bin APP_ENV=production", True, None),
        (f"RUN /bin/sh -c install-hello --arch {platform} # buildkit", False, None),
        ("RUN /bin/sh -c rm -rf /var/cache/pkg /var/log/build.log # buildkit", False, None),
        ("LABEL org.opencontainers.image.title=ociinspect-sample", True, None),
        ("WORKDIR /app", True, None),
        ("COPY app /app # buildkit", False, "buildkit.dockerfile.v0"),
        ("COPY config.prod.json /app/config.json # buildkit", False, "buildkit.dockerfile.v0"),
        ("USER app", True, None),
        ("EXPOSE map[8080/tcp:{}]", True, None),
        ("VOLUME [/data]", True, None),
        ('ENTRYPOINT ["/usr/local/bin/hello"]', True, None),
        ('CMD ["--port", "8080"]', True, None),
    ]
    return [
        build.Step(text, empty_layer=empty, created=_time(i), comment=comment)
        for i, (text, empty, comment) in enumerate(steps)
    ]


def sample_image(platform: str) -> build.BuiltImage:
    """One platform's image of the sample."""
    return build.image(
        [_base(platform), _install(platform), _cleanup(), _app(), _app_config()],
        platform=platform,
        env=[
            "PATH=/usr/local/bin:/usr/bin:/bin",
            "APP_ENV=production",
            "GREETING=hello",
        ],
        labels={
            "org.opencontainers.image.title": "ociinspect-sample",
            "org.opencontainers.image.version": "1.0",
            "org.opencontainers.image.description": "The sample image bundled with ociinspect",
            "org.opencontainers.image.licenses": "Apache-2.0",
        },
        entrypoint=["/usr/local/bin/hello"],
        cmd=["--port", "8080"],
        user="app",
        working_dir="/app",
        exposed_ports=["8080/tcp"],
        volumes=["/data"],
        stop_signal="SIGTERM",
        author="ociinspect",
        created=_time(12),
        history=_history(platform),
    )


def sample_index() -> build.BuiltIndex:
    """The three images and their attestations."""
    return build.index([sample_image(p) for p in PLATFORMS])


def sbom_artifact(subject: build.BuiltImage) -> tuple[build.Blob, list[build.Blob]]:
    """An SPDX SBOM artifact (image-spec manifest.md "Guidelines for Artifact Usage": empty
    config, ``artifactType``, ``subject``): its manifest and the blobs it needs."""
    empty = build.Blob(mt.OCI_EMPTY, b"{}")
    document = {  # SPDX 2.3: chapter 6's required fields, and one package (chapter 7)
        "SPDXID": "SPDXRef-DOCUMENT",
        "creationInfo": {"created": _time(13), "creators": ["Tool: ociinspect-samples"]},
        "dataLicense": "CC0-1.0",
        "documentNamespace": "https://ociinspect.invalid/spdx/sample-1.0",
        "name": "ociinspect-sample",
        "packages": [
            {
                "SPDXID": "SPDXRef-hello",
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceLocator": "pkg:generic/hello@1.0",
                        "referenceType": "purl",
                    }
                ],
                "licenseConcluded": "Apache-2.0",
                "name": "hello",
                "supplier": "Organization: ociinspect",
                "versionInfo": "1.0",
            }
        ],
        "spdxVersion": "SPDX-2.3",
    }
    sbom = build.Blob(SBOM_TYPE, build.canonical_json(document))
    manifest = build.json_blob(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "artifactType": SBOM_TYPE,
            "config": empty.descriptor(),
            "layers": [sbom.descriptor()],
            "subject": subject.manifest.descriptor(),
            "annotations": {"org.opencontainers.image.created": _time(13)},
        },
        mt.OCI_MANIFEST,
    )
    return manifest, [empty, sbom]


def write_sample(directory: str | Path) -> Path:
    """Write the sample layout into ``directory`` (which should be empty or absent)."""
    out = Path(directory)
    index = sample_index()
    build.write_layout(out, index, tags=TAGS)
    manifest, blobs = sbom_artifact(index.image_for("linux/amd64"))
    for blob in (*blobs, manifest):
        (out / "blobs" / "sha256" / blob.digest.split(":", 1)[1]).write_bytes(blob.data)
    listing = json.loads((out / "index.json").read_bytes())
    entry = manifest.descriptor()
    entry["artifactType"] = SBOM_TYPE
    listing["manifests"].append(entry)
    (out / "index.json").write_bytes(build.canonical_json(listing))
    return out


def _clear(directory: Path) -> None:
    """Remove what a previous sample left (only the layout's own files)."""
    shutil.rmtree(directory / "blobs", ignore_errors=True)
    for name in ("index.json", "oci-layout"):
        (directory / name).unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ociinspect.testing.samples OUTDIR [--force]``."""
    parser = argparse.ArgumentParser(
        prog="python -m ociinspect.testing.samples",
        description="Write the bundled sample OCI layout (byte for byte reproducible).",
    )
    parser.add_argument("outdir", type=Path, help="directory to write (empty or absent)")
    parser.add_argument(
        "--force", action="store_true", help="replace a layout already in OUTDIR"
    )
    args = parser.parse_args(argv)
    out: Path = args.outdir
    if out.exists() and any(out.iterdir()):
        if not args.force:
            parser.error(f"{out} is not empty (pass --force to replace the layout in it)")
        _clear(out)
    write_sample(out)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({total / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "PLATFORMS",
    "SAMPLE",
    "SAMPLE_DIR",
    "TAGS",
    "main",
    "noise",
    "sample_image",
    "sample_index",
    "sbom_artifact",
    "write_sample",
]
