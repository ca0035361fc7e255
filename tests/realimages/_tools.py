"""Running the real tools (umoci, skopeo, dpkg-deb, GNU tar) and hashing files."""

from __future__ import annotations

import gzip
import hashlib
import os
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

#: What every build needs on PATH; .ci/run installs umoci and skopeo (dpkg-deb and tar are in
#: every Debian system). The estargz image also needs containerd and ctr-remote (Debian's
#: containerd and stargz-snapshotter packages).
TOOLS = ("umoci", "skopeo", "dpkg-deb", "tar")

#: Fixed timestamps, so that configs, history and tar headers of the tar-made layers do not
#: depend on the clock (umoci's layer 0 keeps the .debs' own file times).
CREATED = "2024-06-01T12:00:00Z"
TAR_MTIME = 1717243200  # 2024-06-01T12:00:00Z

_TIMEOUT_SECONDS = 300
_CHUNK = 1 << 20


class ToolFailedError(RuntimeError):
    """A real tool exited non-zero or is missing; says which command and what it printed."""

    def __init__(self, argv: Sequence[str], detail: str) -> None:
        self.argv = tuple(argv)
        self.detail = detail
        command = " ".join(self.argv)
        super().__init__(
            f"{command!r} failed: {detail.strip()[-2000:]} "
            "(tests/realimages needs umoci, skopeo, dpkg-deb and GNU tar, and for the estargz "
            "image containerd and stargz-snapshotter's ctr-remote, as root: see tests/run.sh)"
        )


def run(argv: Sequence[str], *, cwd: Path | None = None, stdout_path: Path | None = None) -> str:
    """Run ``argv``; return its stdout (or write it to ``stdout_path``); raise ToolFailedError."""
    env = dict(os.environ, LC_ALL="C", TZ="UTC")
    try:
        if stdout_path is not None:
            with stdout_path.open("wb") as out:
                done = subprocess.run(
                    list(argv),
                    cwd=cwd,
                    env=env,
                    stdout=out,
                    stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL,
                    timeout=_TIMEOUT_SECONDS,
                    check=False,
                )
            text = ""
        else:
            done = subprocess.run(
                list(argv),
                cwd=cwd,
                env=env,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=_TIMEOUT_SECONDS,
                check=False,
            )
            text = done.stdout.decode("utf-8", "replace")
    except FileNotFoundError as error:
        raise ToolFailedError(argv, f"not installed ({error})") from error
    except subprocess.TimeoutExpired as error:
        raise ToolFailedError(argv, f"no answer in {_TIMEOUT_SECONDS} s") from error
    if done.returncode != 0:
        raise ToolFailedError(
            argv, f"exit {done.returncode}: {done.stderr.decode('utf-8', 'replace')}"
        )
    return text


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """The OCI digest (``sha256:<hex>``) of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def gnu_tar(source: Path, destination: Path) -> None:
    """Pack the tree under ``source`` as a layer tar the way a build tool would, with GNU tar.

    Member names are relative (``etc/issue``, no ``./``), sorted, owned by 0:0, with one fixed
    mtime; hardlinks are kept (the first name in sort order carries the data).
    """
    members = sorted(os.listdir(source))
    if not members:
        raise ToolFailedError(["tar", str(source)], "nothing to pack: the directory is empty")
    run(
        [
            "tar",
            "--create",
            f"--file={destination}",
            f"--directory={source}",
            "--format=gnu",
            "--sort=name",
            "--numeric-owner",
            "--owner=0",
            "--group=0",
            f"--mtime=@{TAR_MTIME}",
            "--",
            *members,
        ]
    )


def add_tar_layer(layout: Path, base: str, tag: str, tree: Path, created_by: str) -> None:
    """Pack ``tree`` with :func:`gnu_tar` (beside it, as ``<tree>.tar``) and add it as a new
    layer on ``layout:base`` with ``umoci raw add-layer``, tagged ``tag``; the history step
    says ``created_by`` at :data:`CREATED`."""
    archive = tree.with_suffix(".tar")
    gnu_tar(tree, archive)
    run(
        [
            "umoci", "raw", "add-layer", "--image", f"{layout}:{base}", "--tag", tag,
            "--history.created", CREATED, "--history.created_by", created_by, str(archive),
        ]
    )  # fmt: skip


def os_release_pairs(path: Path) -> tuple[tuple[str, str], ...]:
    """KEY=value pairs of os-release(5), shell quoting removed."""
    pairs = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), " ".join(shlex.split(value))))
    return tuple(pairs)


def gunzip_size(path: Path) -> int:
    """How many bytes the gzip file at ``path`` decompresses to (every member), streamed."""
    total = 0
    with gzip.open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            total += len(chunk)
    return total
