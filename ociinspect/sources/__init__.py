"""Image sources, chosen from a reference string with skopeo's transport names.

====================================  ===============================================
``alpine:3.20``, ``docker://…``       a registry (:class:`RegistrySource`)
``oci:DIR[:TAG]``                     an OCI image layout directory
``oci-archive:FILE[:TAG]``            a tar of an OCI image layout
``docker-archive:FILE[:REF]``         the output of ``docker save``
====================================  ===============================================
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SourceError
from .base import BlobRange, RangeSource, Source

if TYPE_CHECKING:
    from ..session import Session

TRANSPORTS = ("docker://", "oci:", "oci-archive:", "docker-archive:")


def _split_path(spec: str) -> tuple[str, str | None]:
    """``/a/b:tag`` -> (``/a/b``, ``tag``); a colon that is part of an existing path stays."""
    if Path(spec).exists():
        return spec, None
    path, sep, tag = spec.rpartition(":")
    if sep and path and "/" not in tag:
        return path, tag or None
    return spec, None


def _refuse_local_looking(ref: str) -> None:
    """A path or an unknown ``transport:`` is a mistake to name, not a registry to contact."""
    scheme = re.match(r"([a-z][a-z0-9+.-]*):/", ref)
    if scheme and "://" not in ref:
        raise SourceError(
            f"unsupported transport {scheme.group(1)!r} in {ref!r}; "
            f"supported: {', '.join(TRANSPORTS)} (or a plain registry reference)"
        )
    if ref.startswith(("/", "./", "../", "~")):
        raise SourceError(
            f"{ref!r} is a local path, not a registry reference: "
            f"use oci:{ref} (a layout directory) or oci-archive:/docker-archive: (a tar file)"
        )


def open_source(ref: str, session: Session | None = None) -> Source:
    """The source a reference string names. A registry source works through ``session`` (the
    default session when None): its client, disk cache, offline and progress settings."""
    if not isinstance(ref, str) or not ref.strip():
        raise SourceError(f"empty image reference: {ref!r}")
    ref = ref.strip()
    if ref.startswith("oci:"):
        from .layout import LayoutSource

        path, tag = _split_path(ref[len("oci:") :])
        return LayoutSource(path, tag)
    if ref.startswith("oci-archive:"):
        from .archive import OciArchiveSource

        path, tag = _split_path(ref[len("oci-archive:") :])
        return OciArchiveSource(path, tag)
    if ref.startswith("docker-archive:"):
        from .archive import DockerArchiveSource

        spec = ref[len("docker-archive:") :]
        path, _, name = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
        return DockerArchiveSource(path, name or None)
    from ..session import session_of
    from ..values.reference import parse
    from .registry import RegistrySource

    if ref.startswith("docker://"):
        ref = ref[len("docker://") :]
    else:
        _refuse_local_looking(ref)
    return RegistrySource(parse(ref), session_of(session))


__all__ = ["TRANSPORTS", "BlobRange", "RangeSource", "Source", "open_source"]
