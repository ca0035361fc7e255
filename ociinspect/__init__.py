"""ociinspect: look inside container images (OCI and Docker) from Jupyter.

::

    import ociinspect as oi

    oi.platforms(oi.SAMPLE)              # images and attestations of an index, with sizes
    oi.layers("alpine:3.20", platform="linux/arm64")
    oi.history(oi.SAMPLE)                # every build step, with the layer it made
    oi.compare("app:1.0", "app:1.1")     # shared / added / removed layers, config changes
    oi.wasted(oi.SAMPLE)                 # bytes shipped but hidden by later layers
    oi.changes(oi.SAMPLE)                # what each layer did to each path (dive's view)
    oi.validate(oi.SAMPLE)               # every blob read and checked (crane validate)
    oi.referrers(oi.SAMPLE, all_platforms=True, depth=2)  # signatures, SBOMs: the tree's edges
    oi.sbom(oi.SAMPLE)                   # packages of the attached SBOMs (also provenance(),
                                         # attestations(), signatures(): ociinspect.supply)

Each table function is in :mod:`ociinspect.api` (columns in :mod:`ociinspect.tables`).
:func:`open` (what a reference names: an index or an image) and :func:`image` (always one
image, choosing a platform) navigate (:mod:`ociinspect.navigation`); layer contents are listed by
:mod:`ociinspect.layers.contents` and merged by :mod:`ociinspect.layers.overlay`. Errors are the
classes of :mod:`ociinspect.errors`, all subclasses of ``errors.OCIInspectError``.
"""

from __future__ import annotations

from . import errors
from ._sample import SAMPLE
from .api import (
    annotations,
    changes,
    compare,
    config,
    env,
    files,
    filesystem,
    history,
    labels,
    layers,
    platforms,
    referrers,
    tags,
    wasted,
)
from .distribution.credentials import Credentials
from .navigation import Image, ImageIndex, image, open
from .pulls import ratelimit
from .reading import open_file, os_release, packages, read_file
from .session import Session, Settings, default_session, set_default_session
from .supply import attestations, provenance, sbom, signatures
from .validate import validate

__version__ = "0.1.0"

__all__ = [
    "SAMPLE",
    "Credentials",
    "Image",
    "ImageIndex",
    "Session",
    "Settings",
    "__version__",
    "annotations",
    "attestations",
    "changes",
    "compare",
    "config",
    "default_session",
    "env",
    "errors",
    "files",
    "filesystem",
    "history",
    "image",
    "labels",
    "layers",
    "open",
    "open_file",
    "os_release",
    "packages",
    "platforms",
    "provenance",
    "ratelimit",
    "read_file",
    "referrers",
    "sbom",
    "set_default_session",
    "signatures",
    "tags",
    "validate",
    "wasted",
]
