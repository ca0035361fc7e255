"""Environment hygiene: rig children and test HTTP stay on loopback and ignore user config."""

from __future__ import annotations

import os
from pathlib import Path

PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "ftp_proxy", "no_proxy"})
LOOPBACK_NO_PROXY = "127.0.0.1,127.0.0.2,127.0.0.0/8,localhost,::1"
#: Variables that make skopeo or the registry read configuration from outside the rig.
_SCRUBBED_PREFIXES = ("REGISTRY_", "CONTAINERS_")
_SCRUBBED = frozenset({"DOCKER_CONFIG", "DOCKER_AUTH_CONFIG"})


def proxies_configured() -> bool:
    """True when any proxy variable (either case) is set in this process."""
    return any(k.lower() in PROXY_VARIABLES - {"no_proxy"} and v for k, v in os.environ.items())


def child_env(home: Path | None = None) -> dict[str, str]:
    """os.environ without proxies, registry/containers overrides or Docker config; loopback
    is exempt from any proxy. With ``home``, HOME and XDG dirs point there so skopeo reads no
    user credentials."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in PROXY_VARIABLES
        and k not in _SCRUBBED
        and not k.startswith(_SCRUBBED_PREFIXES)
    }
    env["NO_PROXY"] = env["no_proxy"] = LOOPBACK_NO_PROXY
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
        env["HOME"] = str(home)
        env["XDG_RUNTIME_DIR"] = str(home)
        env["XDG_CONFIG_HOME"] = str(home / ".config")
    return env
