"""Public registries as they are: Docker Hub, GHCR, Quay, Google Artifact Registry, Amazon ECR
and Azure Container Registry, each reproduced on loopback, over TLS, under its real host names.

A *personality* is a set of TLS fronts (one per public host group, each on its own loopback
address and an ephemeral port) in front of an open ``docker-registry`` holding the rig's seeded
images under the personality's repository names. The fronts enforce the registry's own
authentication (challenges, token endpoints, Basic, OAuth2 exchanges), answer with its headers,
limits and error bodies, and redirect blobs to its CDN host the way the real service does; each
module's docstring lists every behaviour with its source.

Use::

    from personalities import start
    from personalities.resolver import curl_args, session

    hub = start("dockerhub", tmp_path, seed_storage=seeded_storage.storage)
    client = session(hub.resolve, hub.ca_bundle)   # requests, mapped to the fronts
    client.get("https://registry-1.docker.io/v2/")  # 401 + Bearer challenge
    ["curl", *curl_args(hub.resolve, hub.ca_bundle), "https://registry-1.docker.io/v2/"]
    hub.configure(rate_limit=3)                    # change a documented knob while running
    hub.configure(throttle=2)                      # every personality: its own 429, twice
    hub.counters.pulls()                           # what was counted
    hub.reset(); hub.stop()

Nothing edits ``/etc/hosts`` or resolves a real name: a client is handed ``resolve`` (host ->
(ip, port)) and the CA bundle, and must connect to the mapped address while keeping the name
for SNI, certificate checks and ``Host`` (see :mod:`personalities.resolver`).

Fixtures (``hub``, ``ghcr``, …, ``running``, ``loopback_guard``) are in
:mod:`personalities.fixtures`, shared through tests/conftest.py; :mod:`personalities.protocol`
holds the protocol tests every personality passes with ociinspect itself
(``tests/test_personality_<name>.py``).
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from . import acr, dockerhub, ecr, gar, ghcr, quay
from .backend import Backend
from .ca import CertificateAuthority, create_ca
from .common import Credentials, Service
from .front import Counters, TlsFront

#: personality name -> (service class, settings class)
KINDS: Mapping[str, tuple[type[Service], type[Any]]] = MappingProxyType(
    {
        "dockerhub": (dockerhub.DockerHub, dockerhub.Settings),
        "ghcr": (ghcr.Ghcr, ghcr.Settings),
        "quay": (quay.Quay, quay.Settings),
        "gar": (gar.Gar, gar.Settings),
        "ecr": (ecr.Ecr, ecr.Settings),
        "acr": (acr.Acr, acr.Settings),
    }
)
NAMES = tuple(KINDS)


@dataclass
class _Runtime:
    service: Service
    backend: Backend
    fronts: list[TlsFront]
    initial: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: bool = False


@dataclass(frozen=True)
class Personality:
    """A running personality, as a client and a test see it."""

    name: str
    #: The registry's API host (``registry-1.docker.io``), first of :attr:`hosts`.
    registry_host: str
    #: The registry part of image references (``docker.io`` for Docker Hub, else the API host).
    reference_host: str
    #: Every host name served (registry, token service, CDN…).
    hosts: tuple[str, ...]
    #: host name -> (loopback address, port) a client must connect to for that name.
    resolve: Mapping[str, tuple[str, int]]
    #: PEM file of the CA that signed every front's certificate.
    ca_bundle: Path
    #: What ``docker login`` would be given for this registry.
    credentials: Credentials
    counters: Counters
    #: Public repository name -> seeded repository whose content it holds.
    repositories: Mapping[str, str]
    _runtime: _Runtime = field(repr=False, compare=False)

    @property
    def settings(self) -> Any:
        """The settings in force (a frozen dataclass of the personality's module)."""
        return self._runtime.service.settings

    def url(self, path: str, host: str | None = None) -> str:
        """``https://<registry host><path>`` (the public name, no port: map it with ``resolve``)."""
        return f"https://{host or self.registry_host}{path}"

    def configure(self, **changes: Any) -> None:
        """Change settings while running (``hub.configure(rate_limit=3)``); :meth:`reset` undoes."""
        if "ip_block" in changes:
            raise ValueError("ip_block is fixed once the fronts listen")
        service = self._runtime.service
        service.settings = dataclasses.replace(service.settings, **changes)

    def reset(self) -> None:
        """Back to the state after :func:`start`: settings; no tokens, rate buckets or records."""
        service = self._runtime.service
        service.settings = self._runtime.initial
        service.forget()
        self.counters.clear()

    def stop(self) -> None:
        """Stop every front and the backend registry; safe to call twice."""
        runtime = self._runtime
        with runtime.lock:
            if runtime.stopped:
                return
            runtime.stopped = True
        for front in runtime.fronts:
            front.stop()
        runtime.backend.stop()


def start(
    personality: str,
    workdir: Path,
    *,
    seed_storage: Path,
    ca: CertificateAuthority | None = None,
    **settings: Any,
) -> Personality:
    """Start ``personality`` (one of :data:`NAMES`) with files under ``workdir``.

    ``seed_storage`` is the rig's seeded registry storage (``SeedResult.storage``); ``ca`` signs
    the fronts' certificate (a new CA in ``workdir/ca`` when None); ``settings`` override the
    personality's ``Settings`` fields (``rate_limit=3``…).
    """
    if personality not in KINDS:
        raise ValueError(f"unknown personality {personality!r}; known: {', '.join(NAMES)}")
    service_type, settings_type = KINDS[personality]
    fields = {f.name for f in dataclasses.fields(settings_type)}
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise ValueError(f"{personality} has no settings {unknown}; known: {sorted(fields)}")
    chosen = settings_type(**settings)
    workdir.mkdir(parents=True, exist_ok=True)
    authority = ca if ca is not None else create_ca(workdir / "ca")
    seeds = {name: repo.seed for name, repo in service_type.repositories.items()}
    backend = Backend(workdir / "backend", seed_storage, seeds)
    fronts: list[TlsFront] = []
    try:
        counters = Counters()
        service = service_type(backend, counters, chosen)
        sites = service.sites()
        hosts = tuple(h for site in sites for h in site.hosts)
        leaf = authority.issue(hosts, f"{personality}-{secrets.token_hex(4)}")
        for site in sites:
            fronts.append(TlsFront(site.app, site.ip, site.hosts, leaf, counters))
    except BaseException:
        for front in fronts:
            front.stop()
        backend.stop()
        raise
    resolve = {host: front.address for front in fronts for host in front.hosts}
    return Personality(
        name=personality,
        registry_host=hosts[0],
        reference_host=getattr(service, "reference_host", hosts[0]),
        hosts=hosts,
        resolve=MappingProxyType(resolve),
        ca_bundle=authority.bundle,
        credentials=service.credentials(),
        counters=counters,
        repositories=MappingProxyType(seeds),
        _runtime=_Runtime(service, backend, fronts, chosen),
    )


__all__ = ["KINDS", "NAMES", "Credentials", "Personality", "start"]
