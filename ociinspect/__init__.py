"""ociinspect: look inside container images (OCI and Docker) from Jupyter.

::

    import ociinspect as oi

    oi.platforms(oi.SAMPLE)              # images and attestations of an index, with sizes
    oi.layers("alpine:3.20", platform="linux/arm64")
    oi.history(oi.SAMPLE)                # every build step, with the layer it made
    oi.compare("app:1.0", "app:1.1")     # shared / added / removed layers, config changes
    oi.wasted(oi.SAMPLE)                 # bytes shipped but hidden by later layers

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
from .session import Session, Settings, default_session, set_default_session

__version__ = "0.1.0"

__all__ = [
    "SAMPLE",
    "Credentials",
    "Image",
    "ImageIndex",
    "Session",
    "Settings",
    "__version__",
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
    "platforms",
    "referrers",
    "set_default_session",
    "tags",
    "wasted",
]
