"""Reach a personality with real clients: connect to the mapped ``(ip, port)``, keep the name.

A personality publishes ``resolve``: host name -> (loopback address, port). URLs inside the
protocol (realms, ``Location`` to a CDN) carry public names without ports, as the real services'
do, so a client must map *every* host it meets, and must keep using the name for three things:

1. TLS SNI (the fronts refuse a handshake without the right name, like virtual hosts do),
2. certificate verification against the name (the leaf's SANs are the public names),
3. the ``Host`` header (the fronts answer 421 to any other Host).

:class:`ResolvingAdapter` does that for ``requests``/urllib3: the pool connects to the address,
``server_hostname``/``assert_hostname`` keep SNI and verification on the name, and
:meth:`ResolvingAdapter.add_headers` sets ``Host`` (urllib3 would otherwise write the address it
connected to). A host that is not in the map is refused before any DNS lookup, so a client under
test cannot leave loopback. :func:`curl_args` gives curl the same map with ``--connect-to`` (which
keeps the URL's name for SNI, verification and Host) and a final catch-all rule that sends every
other host to ``127.0.0.1:9``, where nothing listens.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

#: Where curl is sent for any host not in the map: the discard port on loopback, closed.
NOWHERE = ("127.0.0.1", 9)
_DEFAULT_PORTS = {"https": 443, "http": 80}


class UnmappedHost(requests.ConnectionError):
    """The URL names a host that is not in the resolve map (nothing was looked up or sent)."""


class ResolvingAdapter(HTTPAdapter):
    """Connect to ``resolve[host]`` for the hosts of ``resolve``; refuse every other host."""

    def __init__(self, resolve: Mapping[str, tuple[str, int]], **kwargs: Any) -> None:
        self.resolve = {h.lower().rstrip("."): target for h, target in resolve.items()}
        for host, (ip, _port) in self.resolve.items():
            if not ip.startswith("127."):
                raise ValueError(f"{host} maps to {ip}, which is not a loopback address")
        super().__init__(**kwargs)

    def _target(self, url: str) -> tuple[str, tuple[str, int]]:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
        found = self.resolve.get(host)
        if found is None:
            raise UnmappedHost(f"{host!r} is not in the resolve map; refusing to look it up")
        return host, found

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        host, (address, port) = self._target(request.url or "")
        checked = True if verify is None else verify
        host_params, key_kwargs = self.build_connection_pool_key_attributes(request, checked, cert)
        pool_kwargs: dict[str, Any] = dict(key_kwargs)
        if host_params["scheme"] == "https":
            pool_kwargs.update(server_hostname=host, assert_hostname=host)
        return self.poolmanager.connection_from_host(
            host=address, port=port, scheme=host_params["scheme"], pool_kwargs=pool_kwargs
        )

    def request_url(self, request: requests.PreparedRequest, proxies: Any) -> str:
        """Origin-form target (``/v2/...``): the connection goes straight to the address."""
        return request.path_url

    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        """``Host`` is the URL's name (with its port only when not the scheme's default)."""
        split = urlsplit(request.url or "")
        host = split.hostname or ""
        if split.port is not None and split.port != _DEFAULT_PORTS.get(split.scheme):
            host = f"{host}:{split.port}"
        request.headers["Host"] = host


def session(resolve: Mapping[str, tuple[str, int]], ca_bundle: Path) -> requests.Session:
    """A ``requests.Session`` that reaches only the mapped hosts and trusts only ``ca_bundle``;
    no proxies, ``.netrc`` or ``REQUESTS_CA_BUNDLE`` from the environment.

    ``trust_env = False`` matters for the CA: with it on, requests lets ``REQUESTS_CA_BUNDLE``
    (or ``CURL_CA_BUNDLE``) from the environment win over ``session.verify``
    (``Session.merge_environment_settings``), so a machine that sets either variable would
    verify the fronts against the system store and fail every handshake."""
    client = requests.Session()
    client.trust_env = False
    adapter = ResolvingAdapter(resolve)
    client.mount("https://", adapter)
    client.mount("http://", adapter)
    client.verify = str(ca_bundle)
    return client


def curl_args(resolve: Mapping[str, tuple[str, int]], ca_bundle: Path) -> list[str]:
    """curl options that send each mapped ``host:443`` to its ``ip:port`` and every other host to
    a closed loopback port (curl uses the first ``--connect-to`` rule that matches)."""
    args = [
        "--cacert",
        str(ca_bundle),
        "--noproxy",
        "*",
        "--proto",
        "=https",
        "--proto-redir",
        "=https",
    ]
    for host, (ip, port) in sorted(resolve.items()):
        args += ["--connect-to", f"{host}:443:{ip}:{port}"]
    return [*args, "--connect-to", f"::{NOWHERE[0]}:{NOWHERE[1]}"]
