"""The command lines that repeat what the browser shows, with other tools. Pure: text in, text out.

:func:`image_commands` gives ``crane``, ``skopeo`` and ``docker`` lines for the image shown,
by digest, so they fetch exactly the bytes on screen. The HTTP tab's ``curl`` lines come from
:mod:`ociinspect.commands` (one place decides how an exchange is repeated).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One command line and what it does."""

    what: str
    line: str


def _quote(text: str) -> str:
    return shlex.quote(text)


def image_commands(
    source_name: str,
    manifest_digest: str,
    *,
    index_digest: str | None = None,
    repository: str | None = None,
    plain_http: bool = False,
) -> list[Command]:
    """Lines for the image shown. ``source_name`` is the source's name (``docker://REF``,
    ``oci:DIR:TAG``, ``oci-archive:…``, ``docker-archive:…``); ``repository`` is
    ``registry/repository`` for a registry source; ``plain_http`` adds the flags each tool
    needs for a registry without TLS (loopback registries)."""
    if source_name.startswith("docker://") and repository:
        image = f"{repository}@{manifest_digest}"
        crane = "crane --insecure" if plain_http else "crane"
        skopeo = "skopeo inspect --tls-verify=false" if plain_http else "skopeo inspect"
        lines = []
        if index_digest:
            lines.append(
                Command(
                    "the index, as served",
                    f"{crane} manifest {_quote(f'{repository}@{index_digest}')}",
                )
            )
        lines += [
            Command("this image's manifest, as served", f"{crane} manifest {_quote(image)}"),
            Command("its config", f"{crane} config {_quote(image)}"),
            Command("what skopeo says of it", f"{skopeo} {_quote('docker://' + image)}"),
            Command("pull exactly this image", f"docker pull {_quote(image)}"),
        ]
        return lines
    for scheme in ("oci:", "oci-archive:", "docker-archive:"):
        if source_name.startswith(scheme):
            return [
                Command("what skopeo says of it", f"skopeo inspect {_quote(source_name)}"),
                Command("the manifest, as stored", f"skopeo inspect --raw {_quote(source_name)}"),
                Command("its config", f"skopeo inspect --config --raw {_quote(source_name)}"),
            ]
    return []


def shell_block(commands: Iterable[Command]) -> str:
    """Commands as one copyable block, each after a ``#`` comment saying what it does."""
    return "\n".join(f"# {c.what}\n{c.line}" for c in commands)


__all__ = ["Command", "image_commands", "shell_block"]
