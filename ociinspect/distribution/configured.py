"""The mirrors in force for an environment, as :meth:`ociinspect.Settings.from_env` reads them.

Three layers, each applied over the one before the way a registries.conf drop-in is (a table
replaces the table of the same prefix; see :mod:`ociinspect.distribution.mirrors`):

1. containers' ``registries.conf`` with its ``registries.conf.d`` drop-ins, over Docker's
   ``/etc/docker/daemon.json`` ``registry-mirrors`` (:func:`~.mirrors.from_env`); not read when
   ``OCIINSPECT_REGISTRIES_CONF=0``;
2. ``OCIINSPECT_MIRRORS``: Docker Hub mirrors, comma or space separated
   (``mirror.gcr.io``, ``https://mirror.example:5000``, ``harbor.example/dockerhub``), or
   ``none`` for no Docker Hub mirror at all;
3. on Binder (``BINDER_LAUNCH_HOST`` or ``BINDER_REQUEST`` set, as mybinder.org's launcher
   sets them) when nothing above names a Docker Hub mirror: :data:`BINDER_MIRROR`, Google's
   public cache of Docker Hub. Binder users share a few addresses, and Docker Hub counts
   anonymous pulls per address: the notebooks' ``alpine``/``python`` defaults would meet
   ``429 TOOMANYREQUESTS`` soon.

A Session's own ``mirrors=[...]`` goes over all three (:meth:`ociinspect.Settings.replace`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import SettingsError, SizeLimitError
from ..values.reference import DEFAULT_REGISTRY
from .mirrors import (
    DOCKER_DAEMON_JSON,
    Mirror,
    MirrorConfig,
    MirrorConfigError,
    RegistryEntry,
    from_env,
)

#: Google's pull-through cache of Docker Hub (https://cloud.google.com/artifact-registry/docs/
#: pull-cached-dockerhub-images): ``mirror.gcr.io/library/alpine`` is ``docker.io/library/alpine``.
BINDER_MIRROR = "mirror.gcr.io"
BINDER_SOURCE = "Binder default (BINDER_LAUNCH_HOST or BINDER_REQUEST is set)"
MIRRORS_VARIABLE = "OCIINSPECT_MIRRORS"
READ_VARIABLE = "OCIINSPECT_REGISTRIES_CONF"
#: A repository name used to ask whether Docker Hub has mirrors configured.
_PROBE = "library/alpine"


def on_binder(env: Mapping[str, str]) -> bool:
    """Whether ``env`` is a Binder session's."""
    return bool(env.get("BINDER_LAUNCH_HOST", "").strip() or env.get("BINDER_REQUEST", "").strip())


def binder_config() -> MirrorConfig:
    """Docker Hub through :data:`BINDER_MIRROR`, then Docker Hub itself."""
    entry = RegistryEntry(
        DEFAULT_REGISTRY, DEFAULT_REGISTRY, mirrors=(Mirror(BINDER_MIRROR),), source=BINDER_SOURCE
    )
    return MirrorConfig((entry,), sources=(BINDER_SOURCE,))


def listed(text: str) -> list[str] | None:
    """``OCIINSPECT_MIRRORS``'s items; [] for ``none``; None when unset or blank."""
    text = text.strip()
    if not text:
        return None
    if text.lower() == "none":
        return []
    return [item for item in re.split(r"[,\s]+", text) if item]


def mirror_config(
    env: Mapping[str, str], *, read_files: bool = True, daemon_json: str | None = None
) -> MirrorConfig:
    """The configuration of :func:`~.mirrors.from_env` (unless ``read_files`` is False), then
    ``OCIINSPECT_MIRRORS``, then Binder's default (see the module doc). ``daemon_json`` names
    Docker's file (default: ``/etc/docker/daemon.json``)."""
    config = MirrorConfig()
    if read_files:
        try:
            config = from_env(env, daemon_json=daemon_json or DOCKER_DAEMON_JSON)
        except (MirrorConfigError, SizeLimitError) as exc:
            raise SettingsError(
                READ_VARIABLE,
                "",
                f"{exc}; fix that file, or set {READ_VARIABLE}=0 to read neither "
                "registries.conf nor daemon.json",
            ) from None
    text = env.get(MIRRORS_VARIABLE, "")
    items = listed(text)
    if items is not None:
        try:
            extra = MirrorConfig.from_mirrors(items, source=MIRRORS_VARIABLE)
        except (MirrorConfigError, SizeLimitError) as exc:
            raise SettingsError(MIRRORS_VARIABLE, text[:200], str(exc)) from None
        return config.merged(extra)
    if on_binder(env) and not config.has_mirrors(DEFAULT_REGISTRY, _PROBE):
        return config.merged(binder_config())
    return config


def docker_hub_route(config: MirrorConfig) -> tuple[tuple[str, ...], str | None]:
    """(mirrors, where they were configured) for Docker Hub's official images."""
    entry = config.find(f"{DEFAULT_REGISTRY}/{_PROBE}")
    if entry is None or not entry.mirrors:
        return (), None
    return tuple(m.location for m in entry.mirrors), entry.source


def docker_hub_note(config: MirrorConfig) -> str:
    """One line for a notebook's first cell: where Docker Hub images are read from in a
    session with this configuration (``session.settings.mirrors``), and why."""
    mirrors, source = docker_hub_route(config)
    if not mirrors:
        return (
            "Docker Hub images come from Docker Hub itself (no mirror configured): anonymous "
            "pulls are limited per address; oi.ratelimit() shows how many are left."
        )
    if source == BINDER_SOURCE:
        why = (
            "because this runs on Binder, whose users share a few addresses and would soon "
            "use up Docker Hub's anonymous pull limit"
        )
    else:
        why = f"as configured in {source}"
    return (
        f"Docker Hub images are read through {', '.join(mirrors)} first, then from Docker Hub "
        f"itself, {why}. Content is verified against its digest whoever serves it; "
        "Session(mirrors=[]) reads Docker Hub directly."
    )


__all__ = [
    "BINDER_MIRROR",
    "BINDER_SOURCE",
    "MIRRORS_VARIABLE",
    "READ_VARIABLE",
    "binder_config",
    "docker_hub_note",
    "docker_hub_route",
    "listed",
    "mirror_config",
    "on_binder",
]
