"""A small registry in the box, for lessons: the real protocol on loopback, offline.

::

    from ociinspect import demo

    registry = demo.start()                 # or: python -m ociinspect.demo
    ref = registry.ref("sample:latest")     # "127.0.0.1:PORT/sample:latest"
    oi.platforms(ref)                       # a 401, a token, manifests, blobs via the CDN

:class:`DemoRegistry` serves the bundled sample and a few teaching images read-only (see
:mod:`ociinspect.demo.content`) through the distribution API: a token server that answers the
registry's ``Bearer`` challenge (:mod:`~ociinspect.demo.tokens`), blob downloads redirected to
a second loopback origin acting as the CDN (:mod:`~ociinspect.demo.cdn`), tags and catalog
pages, the referrers API, optional Docker Hub rate-limit headers and a 429 after N pulls. It
accepts pushes only into repositories under ``scratch/``, in memory and bounded
(:data:`~ociinspect.demo.content.SCRATCH_MAX_BYTES`), for the lesson that builds an image by
hand. It listens on loopback only, serves at most
:data:`~ociinspect.demo.http.MAX_CONNECTIONS` connections at once, and stops with the process
(a Jupyter kernel) or with :meth:`DemoRegistry.stop`.

It is a teaching device built on the standard library's HTTP server, not a registry to keep
images in; ociinspect's own tests talk to Debian's real ``docker-registry``.
"""

from __future__ import annotations

from .content import SCRATCH_MAX_BYTES, Store, demo_store
from .server import DemoRegistry, Seen, start
from .tokens import SCRATCH_PREFIX, SERVICE, USER

__all__ = [
    "SCRATCH_MAX_BYTES",
    "SCRATCH_PREFIX",
    "SERVICE",
    "USER",
    "DemoRegistry",
    "Seen",
    "Store",
    "demo_store",
    "start",
]
