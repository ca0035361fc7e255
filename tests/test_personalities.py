"""The registry personalities (tests/personalities/), proven with independent clients: curl (with
``--connect-to`` and the test CA) and ``requests`` through :class:`ResolvingAdapter`.

Every personality runs once per session (started on first use, reset around each test) on
loopback addresses under the real host names; an autouse guard refuses any name lookup that is
not loopback, so nothing here can reach the internet even by mistake.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from personalities import NAMES, Personality, start
from personalities.ca import CertificateAuthority
from personalities.resolver import UnmappedHost, curl_args, session
from rig import SeedResult, env

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT_ALL = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

# ----------------------------------------------------------------------------- fixtures

# The personalities and the loopback guard are shared fixtures (tests/personalities/fixtures.py,
# imported by tests/conftest.py); every test here runs under the guard.
pytestmark = pytest.mark.usefixtures("loopback_guard")


# ----------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class Curled:
    """What curl saw: every status of the redirect chain, the last headers, the body."""

    statuses: tuple[int, ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def status(self) -> int:
        return self.statuses[-1]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


def curl(personality: Personality, url: str, *options: str, tmp: Path) -> Curled:
    """Run curl (no ~/.curlrc, no proxies) against ``url`` with the personality's map and CA."""
    body = tmp / "curl-body"
    body.unlink(missing_ok=True)
    command = [
        "curl", "-q", "-sS", "--max-time", "10", "-D", "-", "-o", str(body),
        *curl_args(personality.resolve, personality.ca_bundle), *options, url,
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, env=env.child_env(), timeout=20, check=False
    )
    assert done.returncode == 0, f"curl exit {done.returncode}: {done.stderr.decode()}"
    blocks = [b for b in re.split(rb"\r?\n\r?\n", done.stdout) if b.startswith(b"HTTP/")]
    statuses = tuple(int(b.split(None, 2)[1]) for b in blocks)
    lines = blocks[-1].decode("latin-1").splitlines()[1:]
    headers = tuple((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines))
    return Curled(statuses, headers, body.read_bytes() if body.exists() else b"")


def challenge(header: str | None) -> dict[str, str]:
    """``Bearer realm="…",service="…"`` -> {"scheme": "Bearer", "realm": …, …}."""
    assert header, "no WWW-Authenticate header"
    scheme, _, rest = header.partition(" ")
    return {"scheme": scheme, **dict(re.findall(r'(\w+)="([^"]*)"', rest))}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def seeded_digest(seeded: SeedResult, reference: str) -> str:
    return seeded.seeded[reference].digest


def first_layer(seeded: SeedResult, reference: str) -> str:
    image = seeded.seeded[reference].image()
    return str(image.layers[0].digest)


def client_for(personality: Personality) -> requests.Session:
    return session(personality.resolve, personality.ca_bundle)


def hub_token(hub: Personality, scope: str, *, login: bool = False) -> str:
    params = {"service": "registry.docker.io", "scope": scope}
    auth = (hub.credentials.username, hub.credentials.password) if login else None
    answer = client_for(hub).get("https://auth.docker.io/token", params=params, auth=auth)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


# ----------------------------------------------------------------------------- CA and fronts


class TestFronts:
    """The test CA, TLS and virtual hosting of every front, and the resolver."""

    def test_leaf_names_every_host_of_its_personality(self, hub: Personality) -> None:
        """The front's certificate verifies against the test CA for each public host name."""
        for host, (ip, port) in hub.resolve.items():
            context = ssl.create_default_context(cafile=str(hub.ca_bundle))
            with (
                socket.create_connection((ip, port), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname=host) as tls,
            ):
                peer = tls.getpeercert() or {}
            names = [pair[1] for pair in peer.get("subjectAltName", ()) if pair[0] == "DNS"]
            assert host in names

    def test_client_without_the_test_ca_fails_the_handshake(
        self, hub: Personality, tmp_path: Path
    ) -> None:
        """curl with the system CA store (not the test CA) refuses the front: exit 60."""
        args = curl_args(hub.resolve, hub.ca_bundle)
        assert args[0] == "--cacert"
        args = args[2:]
        command = ["curl", "-q", "-sS", "--max-time", "10", *args, hub.url("/v2/")]
        done = subprocess.run(
            command, capture_output=True, env=env.child_env(), timeout=20, check=False
        )
        assert done.returncode == 60, done.stderr.decode()

    def test_unknown_sni_fails_the_handshake(self, hub: Personality) -> None:
        """A TLS client naming a host the front does not serve gets unrecognized_name."""
        ip, port = hub.resolve["registry-1.docker.io"]
        context = ssl.create_default_context(cafile=str(hub.ca_bundle))
        context.check_hostname = False
        with (
            socket.create_connection((ip, port), timeout=5) as raw,
            pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME|unrecognized name"),
        ):
            context.wrap_socket(raw, server_hostname="example.org")
        assert hub.counters.refused_sni == ["example.org"]

    def test_host_header_of_the_address_is_misdirected(
        self, hub: Personality, tmp_path: Path
    ) -> None:
        """A request whose Host is the mapped address (not the name) gets 421."""
        ip, port = hub.resolve["registry-1.docker.io"]
        got = curl(hub, hub.url("/v2/"), "-H", f"Host: {ip}:{port}", tmp=tmp_path)
        assert got.status == 421
        assert b"registry-1.docker.io" in got.body

    def test_resolver_refuses_unmapped_hosts_without_lookup(
        self, hub: Personality, loopback_guard: list[str]
    ) -> None:
        """requests through the adapter refuses a host outside the map before any DNS lookup."""
        with pytest.raises(UnmappedHost, match="example.com"):
            client_for(hub).get("https://example.com/v2/")
        assert loopback_guard == []

    def test_curl_sends_unmapped_hosts_to_a_closed_loopback_port(
        self, hub: Personality, tmp_path: Path
    ) -> None:
        """curl's catch-all --connect-to sends any other host to 127.0.0.1:9: connection refused."""
        command = ["curl", "-q", "-sS", "--max-time", "5", *curl_args(hub.resolve, hub.ca_bundle)]
        done = subprocess.run(
            [*command, "https://example.com/"], capture_output=True, env=env.child_env(), timeout=20
        )
        assert done.returncode == 7, done.stderr.decode()

    @pytest.mark.parametrize(
        "names",
        [
            pytest.param(["*.docker.io"], id="wildcard"),
            pytest.param(["bad_name.io"], id="underscore"),
            pytest.param([], id="no-names"),
        ],
    )  # fmt: skip
    def test_leaves_only_for_plain_dns_names(
        self, personality_ca: CertificateAuthority, names: list[str]
    ) -> None:
        """The CA refuses to issue for wildcards, invalid names or no name at all."""
        with pytest.raises(ValueError):
            personality_ca.issue(names, "refused")

    def test_resolver_refuses_non_loopback_targets(self, hub: Personality) -> None:
        """A resolve map that points outside loopback is refused when the adapter is built."""
        with pytest.raises(ValueError, match="not a loopback"):
            session({"registry-1.docker.io": ("192.0.2.1", 443)}, hub.ca_bundle)


class TestStartAndState:
    """The start() API, reset() and stop()."""

    def test_unknown_personality_is_refused(
        self, tmp_path: Path, seeded_storage: SeedResult
    ) -> None:
        """start() names the personalities it knows when asked for another."""
        with pytest.raises(ValueError, match="dockerhub"):
            start("artifactory", tmp_path, seed_storage=seeded_storage.storage)

    def test_unknown_setting_is_refused(self, tmp_path: Path, seeded_storage: SeedResult) -> None:
        """start() refuses settings the personality does not have, naming the known ones."""
        with pytest.raises(ValueError, match="rate_limit"):
            start("dockerhub", tmp_path, seed_storage=seeded_storage.storage, rate_limt=3)

    @pytest.mark.parametrize(
        ("name", "setting"),
        [
            pytest.param("dockerhub", {"rate_limit": -1}, id="negative-rate-limit"),
            pytest.param("ecr", {"password_lifetime": 43201}, id="ecr-password-over-12h"),
            pytest.param("gar", {"redirect_status": 200}, id="gar-redirect-not-3xx"),
            pytest.param("acr", {"ip_block": 0}, id="ip-block-zero"),
        ],
    )
    def test_out_of_range_settings_are_refused(
        self, tmp_path: Path, seeded_storage: SeedResult, name: str, setting: dict[str, int]
    ) -> None:
        """start() refuses a setting outside its documented range, naming it, before starting."""
        with pytest.raises(ValueError, match=next(iter(setting))):
            start(name, tmp_path, seed_storage=seeded_storage.storage, **setting)
        assert not (tmp_path / "backend").exists()

    def test_every_personality_maps_its_hosts_to_loopback(
        self, running: Callable[[str], Personality]
    ) -> None:
        """Each personality maps every host it serves to a loopback address and a real port."""
        for name in NAMES:
            personality = running(name)
            assert set(personality.resolve) == set(personality.hosts)
            for ip, port in personality.resolve.values():
                assert ipaddress.ip_address(ip).is_loopback and ip != "127.0.0.1" and port > 0

    def test_reset_forgets_tokens_counters_and_settings(self, hub: Personality) -> None:
        """After reset() an old token is refused, counters are empty and settings are back."""
        token = hub_token(hub, "repository:library/alpine:pull")
        hub.configure(rate_limit=5)
        assert hub.settings.rate_limit == 5
        hub.reset()
        assert hub.settings.rate_limit == 100 and hub.counters.requests() == []
        answer = client_for(hub).get(hub.url("/v2/"), headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401

    def test_stop_is_idempotent_and_closes_the_fronts(
        self, tmp_path: Path, seeded_storage: SeedResult, personality_ca: CertificateAuthority
    ) -> None:
        """stop() twice is fine, and the fronts no longer accept connections."""
        mine = start(
            "ecr", tmp_path, seed_storage=seeded_storage.storage, ca=personality_ca, ip_block=200
        )
        ip, port = mine.resolve[mine.registry_host]
        mine.stop()
        mine.stop()
        with pytest.raises(OSError):
            socket.create_connection((ip, port), timeout=2).close()

    def test_credentials_never_show_the_password(self, hub: Personality) -> None:
        """The credentials' repr hides the password."""
        assert hub.credentials.password not in repr(hub.credentials)
        assert hub.credentials.password not in repr(hub)


# ----------------------------------------------------------------------------- Docker Hub


class TestDockerHub:
    """registry-1.docker.io, auth.docker.io and production.cloudflare.docker.com."""

    def test_base_challenge_names_realm_and_service(self, hub: Personality, tmp_path: Path) -> None:
        """curl /v2/: 401, Bearer realm https://auth.docker.io/token, service registry.docker.io."""
        got = curl(hub, hub.url("/v2/"), tmp=tmp_path)
        assert got.status == 401
        assert challenge(got.header("WWW-Authenticate")) == {
            "scheme": "Bearer",
            "realm": "https://auth.docker.io/token",
            "service": "registry.docker.io",
        }
        assert got.json()["errors"][0]["code"] == "UNAUTHORIZED"

    def test_token_dance_by_hand_with_curl(
        self, hub: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """curl: challenge -> token (token == access_token, expires_in 300) -> the index's bytes."""
        first = curl(hub, hub.url("/v2/library/alpine/manifests/latest"), tmp=tmp_path)
        params = challenge(first.header("WWW-Authenticate"))
        assert params["scope"] == "repository:library/alpine:pull"
        token_url = f"{params['realm']}?service={params['service']}&scope={params['scope']}"
        answer = curl(hub, token_url, tmp=tmp_path).json()
        assert answer["token"] == answer["access_token"] and answer["expires_in"] == 300
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", answer["issued_at"])
        got = curl(
            hub,
            hub.url("/v2/library/alpine/manifests/latest"),
            "-H", f"Authorization: Bearer {answer['token']}",
            "-H", f"Accept: {OCI_INDEX}",
            tmp=tmp_path,
        )  # fmt: skip
        assert got.status == 200 and got.header("Content-Type") == OCI_INDEX
        assert sha256(got.body) == seeded_digest(seeded_storage, "demo/multi:latest")

    def test_get_decrements_the_limit_and_head_does_not(
        self, hub: Personality, tmp_path: Path
    ) -> None:
        """A manifest GET takes one from ratelimit-remaining, HEAD does not; both carry them."""
        token = hub_token(hub, "repository:library/alpine:pull")
        url = hub.url("/v2/library/alpine/manifests/latest")
        auth = ("-H", f"Authorization: Bearer {token}", "-H", f"Accept: {OCI_INDEX}")
        seen = []
        for method in ("GET", "HEAD", "HEAD", "GET"):
            got = curl(hub, url, *auth, *(["-I"] if method == "HEAD" else []), tmp=tmp_path)
            assert got.status == 200
            assert got.header("ratelimit-limit") == "100;w=21600"
            assert got.header("docker-ratelimit-source") == "127.0.0.1"
            seen.append(got.header("ratelimit-remaining"))
        assert seen == ["99;w=21600", "99;w=21600", "99;w=21600", "98;w=21600"]
        assert len(hub.counters.pulls()) == 2

    def test_exhausted_limit_answers_429_toomanyrequests(self, hub: Personality) -> None:
        """Past the limit a manifest GET is 429 TOOMANYREQUESTS (Docker's body); HEAD stays 200."""
        hub.configure(rate_limit=2)
        token = hub_token(hub, "repository:library/alpine:pull")
        client = client_for(hub)
        headers = {"Authorization": f"Bearer {token}", "Accept": OCI_INDEX}
        url = hub.url("/v2/library/alpine/manifests/latest")
        statuses = [client.get(url, headers=headers).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = client.get(url, headers=headers)
        assert refused.status_code == 429 and refused.headers["ratelimit-remaining"] == "0;w=21600"
        assert refused.json() == {
            "errors": [
                {
                    "code": "TOOMANYREQUESTS",
                    "message": "You have reached your pull rate limit. You may increase the limit "
                    "by authenticating and upgrading: https://www.docker.com/increase-rate-limits",
                }
            ]
        }
        assert client.head(url, headers=headers).status_code == 200

    def test_logged_in_pulls_count_against_the_account_limit(self, hub: Personality) -> None:
        """A token from Basic credentials gets the account's limit (200), not the anonymous one."""
        token = hub_token(hub, "repository:library/alpine:pull", login=True)
        answer = client_for(hub).get(
            hub.url("/v2/library/alpine/manifests/latest"),
            headers={"Authorization": f"Bearer {token}", "Accept": OCI_INDEX},
        )
        assert answer.headers["ratelimit-limit"] == "200;w=21600"
        assert hub.counters.pulls(identity="ociinspect")

    def test_wrong_password_gets_docker_hubs_details_body(self, hub: Personality) -> None:
        """Bad credentials: 401 {"details":"incorrect username or password"} from auth.docker.io."""
        answer = client_for(hub).get(
            "https://auth.docker.io/token",
            params={"service": "registry.docker.io", "scope": "repository:library/alpine:pull"},
            auth=("ociinspect", "wrong"),
        )
        assert answer.status_code == 401
        assert answer.json() == {"details": "incorrect username or password"}
        assert hub.counters.token_requests(identity="invalid:ociinspect")

    @pytest.mark.parametrize(
        ("repository", "login", "status"),
        [
            pytest.param("ociinspect/private", False, 401, id="private-anonymous-is-401"),
            pytest.param("ociinspect/private", True, 200, id="private-with-login-is-200"),
            pytest.param(
                "someoneelse/private", True, 401, id="someone-elses-is-401-even-logged-in"
            ),
            pytest.param("library/does-not-exist", False, 401, id="missing-is-401-not-404"),
        ],
    )
    def test_repository_access(
        self, hub: Personality, repository: str, login: bool, status: int
    ) -> None:
        """Private and missing repositories: 401 insufficient_scope unless the token grants pull."""
        token = hub_token(hub, f"repository:{repository}:pull", login=login)
        answer = client_for(hub).get(
            hub.url(f"/v2/{repository}/manifests/latest"),
            headers={"Authorization": f"Bearer {token}", "Accept": ACCEPT_ALL},
        )
        assert answer.status_code == status
        if status == 401:
            assert challenge(answer.headers["WWW-Authenticate"])["error"] == "insufficient_scope"
            assert answer.json()["errors"][0]["detail"][0]["Name"] == repository

    def test_expired_token_is_invalid_token(self, hub: Personality) -> None:
        """A token past expires_in is refused with error="invalid_token" in the challenge."""
        hub.configure(token_lifetime=0)
        token = hub_token(hub, "repository:library/alpine:pull")
        answer = client_for(hub).get(hub.url("/v2/"), headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
        assert challenge(answer.headers["WWW-Authenticate"])["error"] == "invalid_token"

    def test_blob_get_redirects_to_the_cdn_by_name(
        self, hub: Personality, seeded_storage: SeedResult
    ) -> None:
        """Blob GET: 307 to production.cloudflare.docker.com (no port) with verify=<exp>-<sig>."""
        token = hub_token(hub, "repository:ociinspect/single:pull")
        layer = first_layer(seeded_storage, "demo/single:latest")
        answer = client_for(hub).get(
            hub.url(f"/v2/ociinspect/single/blobs/{layer}"),
            headers={"Authorization": f"Bearer {token}"},
            allow_redirects=False,
        )
        assert answer.status_code == 307
        location = urlsplit(answer.headers["Location"])
        hex_ = layer.split(":")[1]
        assert (location.scheme, location.netloc) == ("https", "production.cloudflare.docker.com")
        assert (
            location.path == f"/registry-v2/docker/registry/v2/blobs/sha256/{hex_[:2]}/{hex_}/data"
        )
        assert re.fullmatch(r"verify=\d+-[A-Za-z0-9%]+", location.query)

    def test_curl_follows_to_the_cdn_without_authorization(
        self, hub: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """curl -L drops Authorization at the CDN host, which serves the verified bytes."""
        token = hub_token(hub, "repository:ociinspect/single:pull")
        layer = first_layer(seeded_storage, "demo/single:latest")
        url = hub.url(f"/v2/ociinspect/single/blobs/{layer}")
        got = curl(hub, url, "-L", "-H", f"Authorization: Bearer {token}", tmp=tmp_path)
        assert got.statuses == (307, 200) and sha256(got.body) == layer
        (cdn_request,) = hub.counters.requests(host="production.cloudflare.docker.com")
        assert cdn_request.auth_scheme is None

    def test_cdn_refuses_a_request_that_carries_authorization(
        self, hub: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """curl --location-trusted forwards Authorization; the CDN answers 400 like R2/S3."""
        token = hub_token(hub, "repository:ociinspect/single:pull")
        layer = first_layer(seeded_storage, "demo/single:latest")
        url = hub.url(f"/v2/ociinspect/single/blobs/{layer}")
        got = curl(
            hub, url, "--location-trusted", "-H", f"Authorization: Bearer {token}", tmp=tmp_path
        )
        assert got.statuses == (307, 400)
        assert b"<Code>InvalidRequest</Code>" in got.body

    def test_cdn_refuses_a_tampered_signature(
        self, hub: Personality, seeded_storage: SeedResult
    ) -> None:
        """A CDN URL whose verify= does not match its path is 403."""
        token = hub_token(hub, "repository:ociinspect/single:pull")
        client = client_for(hub)
        image = seeded_storage.seeded["demo/single:latest"].image()
        first, second = (str(layer.digest) for layer in image.layers[:2])
        redirect = client.get(
            hub.url(f"/v2/ociinspect/single/blobs/{first}"),
            headers={"Authorization": f"Bearer {token}"},
            allow_redirects=False,
        )
        hex1, hex2 = first.split(":")[1], second.split(":")[1]
        moved = redirect.headers["Location"].replace(f"/{hex1[:2]}/{hex1}/", f"/{hex2[:2]}/{hex2}/")
        assert client.get(moved).status_code == 403

    def test_requests_pulls_a_whole_image(
        self, hub: Personality, seeded_storage: SeedResult
    ) -> None:
        """requests via the adapter: index, manifest, config and layers, every digest verified."""
        client = client_for(hub)
        token = hub_token(hub, "repository:library/alpine:pull")
        headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT_ALL}
        index = client.get(hub.url("/v2/library/alpine/manifests/latest"), headers=headers)
        entry = next(
            m for m in index.json()["manifests"] if m["platform"]["architecture"] == "arm64"
        )
        manifest = client.get(
            hub.url(f"/v2/library/alpine/manifests/{entry['digest']}"), headers=headers
        )
        assert sha256(manifest.content) == entry["digest"]
        body = manifest.json()
        for blob in [body["config"], *body["layers"]]:
            data = client.get(
                hub.url(f"/v2/library/alpine/blobs/{blob['digest']}"), headers=headers
            )
            assert data.status_code == 200 and sha256(data.content) == blob["digest"]
        assert [p.reference for p in hub.counters.pulls()] == ["latest", entry["digest"]]
        assert hub.counters.count(host="production.cloudflare.docker.com") == 1 + len(
            body["layers"]
        )


# ----------------------------------------------------------------------------- GHCR


class TestGhcr:
    """ghcr.io and pkg-containers.githubusercontent.com."""

    def test_base_challenge_carries_the_placeholder_scope(
        self, ghcr: Personality, tmp_path: Path
    ) -> None:
        """curl ghcr.io/v2/: 401 Bearer challenge whose scope is repository:user/image:pull."""
        got = curl(ghcr, ghcr.url("/v2/"), tmp=tmp_path)
        assert got.status == 401
        assert challenge(got.header("WWW-Authenticate")) == {
            "scheme": "Bearer",
            "realm": "https://ghcr.io/token",
            "service": "ghcr.io",
            "scope": "repository:user/image:pull",
        }
        assert got.json() == {
            "errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]
        }

    def test_anonymous_token_has_only_the_token_field(
        self, ghcr: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """curl ghcr.io/token?scope=…: {"token": …} only, and it pulls a public index."""
        scope = "repository:ociinspect/multi:pull"
        answer = curl(ghcr, ghcr.url(f"/token?scope={scope}&service=ghcr.io"), tmp=tmp_path).json()
        assert list(answer) == ["token"]
        got = curl(
            ghcr,
            ghcr.url("/v2/ociinspect/multi/manifests/latest"),
            "-H", f"Authorization: Bearer {answer['token']}", "-H", f"Accept: {OCI_INDEX}",
            tmp=tmp_path,
        )  # fmt: skip
        assert got.status == 200 and sha256(got.body) == seeded_digest(
            seeded_storage, "demo/multi:latest"
        )

    def test_index_without_index_in_accept_is_manifest_unknown(self, ghcr: Personality) -> None:
        """An OCI index asked for with only the manifest type in Accept: 404 with GHCR's message."""
        client = client_for(ghcr)
        token = client.get(
            ghcr.url("/token"), params={"scope": "repository:ociinspect/multi:pull"}
        ).json()["token"]
        answer = client.get(
            ghcr.url("/v2/ociinspect/multi/manifests/latest"),
            headers={"Authorization": f"Bearer {token}", "Accept": OCI_MANIFEST},
        )
        assert answer.status_code == 404
        assert answer.json()["errors"][0] == {
            "code": "MANIFEST_UNKNOWN",
            "message": "OCI index found, but Accept header does not support OCI indexes",
        }

    @pytest.mark.parametrize(
        ("repository", "password", "status", "code"),
        [
            pytest.param(
                "ociinspect/private", None, 401, "UNAUTHORIZED", id="private-anonymous-401"
            ),
            pytest.param("ociinspect/private", "pat", 200, None, id="private-with-pat-200"),
            pytest.param(
                "ociinspect/single", "wrong", 403, "DENIED", id="bad-pat-denied-even-public"
            ),
            pytest.param("someoneelse/private", "pat", 403, "DENIED", id="someone-elses-403"),
        ],
    )
    def test_package_access(
        self,
        ghcr: Personality,
        repository: str,
        password: str | None,
        status: int,
        code: str | None,
    ) -> None:
        """Anonymous private pulls are 401; a bad PAT or someone else's package is 403 denied."""
        client = client_for(ghcr)
        auth = None
        if password is not None:
            auth = (
                ghcr.credentials.username,
                ghcr.credentials.password if password == "pat" else "ghp_wrong",
            )
        token = client.get(
            ghcr.url("/token"),
            params={"scope": f"repository:{repository}:pull", "service": "ghcr.io"},
            auth=auth,
        ).json()["token"]
        answer = client.head(
            ghcr.url(f"/v2/{repository}/manifests/latest"),
            headers={"Authorization": f"Bearer {token}", "Accept": ACCEPT_ALL},
        )
        assert answer.status_code == status
        if code is not None:
            got = client.get(
                answer.url, headers={"Authorization": f"Bearer {token}", "Accept": ACCEPT_ALL}
            )
            assert got.json()["errors"][0]["code"] == code

    def test_blob_redirect_is_a_sas_url_that_curl_follows(
        self, ghcr: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """Blob GET: 307 to a pkg-containers.githubusercontent.com SAS URL; the bytes verify."""
        client = client_for(ghcr)
        token = client.get(
            ghcr.url("/token"), params={"scope": "repository:ociinspect/single:pull"}
        ).json()["token"]
        layer = first_layer(seeded_storage, "demo/single:latest")
        url = ghcr.url(f"/v2/ociinspect/single/blobs/{layer}")
        got = curl(ghcr, url, "-L", "-H", f"Authorization: Bearer {token}", tmp=tmp_path)
        assert got.statuses == (307, 200) and sha256(got.body) == layer
        redirect = client.get(
            url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False
        )
        location = urlsplit(redirect.headers["Location"])
        assert location.netloc == "pkg-containers.githubusercontent.com"
        assert location.path == f"/ghcr1/blobs/{layer}"
        query = parse_qs(location.query)
        assert {k: query[k] for k in ("sp", "sr", "sv")} == {
            "sp": ["r"],
            "sr": ["b"],
            "sv": ["2019-12-12"],
        }

    def test_cdn_records_but_serves_requests_with_authorization(
        self, ghcr: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """curl --location-trusted sends Authorization to the CDN: served, and recorded."""
        client = client_for(ghcr)
        token = client.get(
            ghcr.url("/token"), params={"scope": "repository:ociinspect/single:pull"}
        ).json()["token"]
        layer = first_layer(seeded_storage, "demo/single:latest")
        url = ghcr.url(f"/v2/ociinspect/single/blobs/{layer}")
        got = curl(
            ghcr, url, "--location-trusted", "-H", f"Authorization: Bearer {token}", tmp=tmp_path
        )
        assert got.statuses == (307, 200)
        (seen,) = ghcr.counters.requests(host="pkg-containers.githubusercontent.com")
        assert seen.auth_scheme == "Bearer"


# ----------------------------------------------------------------------------- Quay


class TestQuay:
    """quay.io (registry and /v2/auth) and cdn01.quay.io."""

    def test_base_answers_true_with_a_challenge_either_way(
        self, quay: Personality, tmp_path: Path
    ) -> None:
        """/v2/ is `true`: 401 without a token, 200 with one, both with the Bearer challenge."""
        anonymous = curl(quay, quay.url("/v2/"), tmp=tmp_path)
        assert anonymous.status == 401 and anonymous.body == b"true"
        assert challenge(anonymous.header("WWW-Authenticate")) == {
            "scheme": "Bearer",
            "realm": "https://quay.io/v2/auth",
            "service": "quay.io",
        }
        scope = "repository:ociinspect/single:pull"
        token = curl(quay, quay.url(f"/v2/auth?service=quay.io&scope={scope}"), tmp=tmp_path).json()
        assert list(token) == ["token"]
        authed = curl(
            quay, quay.url("/v2/"), "-H", f"Authorization: Bearer {token['token']}", tmp=tmp_path
        )
        assert authed.status == 200 and authed.body == b"true" and authed.header("WWW-Authenticate")

    def test_public_repository_pulls_without_any_token(
        self, quay: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """A public manifest is served to a client that never asks for a token."""
        got = curl(
            quay,
            quay.url("/v2/ociinspect/single/manifests/latest"),
            "-H",
            f"Accept: {ACCEPT_ALL}",
            tmp=tmp_path,
        )
        assert got.status == 200 and sha256(got.body) == seeded_digest(
            seeded_storage, "demo/single:latest"
        )
        assert quay.counters.token_requests() == []

    def test_private_repository_needs_the_robot(self, quay: Personality) -> None:
        """Private: 401 'access … not authorized' with scope, then 200 with the robot's token."""
        client = client_for(quay)
        url = quay.url("/v2/ociinspect/private/manifests/latest")
        refused = client.get(url, headers={"Accept": ACCEPT_ALL})
        assert refused.status_code == 401
        assert (
            refused.json()["errors"][0]["message"]
            == "access to the requested resource is not authorized"
        )
        assert (
            challenge(refused.headers["WWW-Authenticate"])["scope"]
            == "repository:ociinspect/private:pull"
        )
        creds = (quay.credentials.username, quay.credentials.password)
        token = client.get(
            quay.url("/v2/auth"),
            params={"service": "quay.io", "scope": "repository:ociinspect/private:pull"},
            auth=creds,
        ).json()["token"]
        assert jwt.decode(token, options={"verify_signature": False})["exp"] - int(
            time.time()
        ) in range(3590, 3601)
        allowed = client.get(
            url, headers={"Accept": ACCEPT_ALL, "Authorization": f"Bearer {token}"}
        )
        assert allowed.status_code == 200

    @pytest.mark.parametrize(
        ("params", "auth", "status", "code"),
        [
            pytest.param({"service": "quay.io"}, None, 401, "UNAUTHORIZED",
                         id="no-credentials-no-scope-401"),
            pytest.param({"scope": "repository:ociinspect/single:pull"}, ("ociinspect+reader", "x"),
                         401, "UNAUTHORIZED", id="wrong-password-401"),
            pytest.param({"scope": "registry:catalog:*"}, None, 400, "INVALID_REQUEST",
                         id="unparsable-scope-400"),
        ],
    )  # fmt: skip
    def test_token_endpoint_refusals(
        self,
        quay: Personality,
        params: dict[str, str],
        auth: tuple[str, str] | None,
        status: int,
        code: str,
    ) -> None:
        """/v2/auth refuses as Quay's v2auth.py does."""
        answer = client_for(quay).get(quay.url("/v2/auth"), params=params, auth=auth)
        assert answer.status_code == status and answer.json()["errors"][0]["code"] == code

    def test_blob_get_is_a_302_to_the_cdn(
        self, quay: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """Blob GET: 302 with Docker-Content-Digest to cdn01.quay.io (X-Amz-*); the bytes verify."""
        layer = first_layer(seeded_storage, "demo/single:latest")
        url = quay.url(f"/v2/ociinspect/single/blobs/{layer}")
        redirect = client_for(quay).get(url, allow_redirects=False)
        assert redirect.status_code == 302 and redirect.headers["Docker-Content-Digest"] == layer
        location = urlsplit(redirect.headers["Location"])
        assert location.netloc == "cdn01.quay.io"
        assert location.path.startswith("/quayio-production-s3/sha256/")
        query = parse_qs(location.query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["namespace"] == [
            "ociinspect"
        ]
        got = curl(quay, url, "-L", tmp=tmp_path)
        assert got.statuses == (302, 200) and sha256(got.body) == layer

    def test_cdn_refuses_an_expired_url(
        self, quay: Personality, seeded_storage: SeedResult
    ) -> None:
        """A CDN URL past X-Amz-Date + X-Amz-Expires is 403 AccessDenied."""
        quay.configure(cdn_url_lifetime=0)
        layer = first_layer(seeded_storage, "demo/single:latest")
        answer = client_for(quay).get(quay.url(f"/v2/ociinspect/single/blobs/{layer}"))
        assert [r.status_code for r in answer.history] == [302]
        assert answer.status_code == 403 and b"<Code>AccessDenied</Code>" in answer.content


# ----------------------------------------------------------------------------- GAR


class TestGar:
    """us-docker.pkg.dev and europe-west1-docker.pkg.dev."""

    @pytest.mark.parametrize("host", ["us-docker.pkg.dev", "europe-west1-docker.pkg.dev"])
    def test_challenge_has_realm_on_the_same_host_and_no_service(
        self, gar: Personality, host: str, tmp_path: Path
    ) -> None:
        """curl /v2/: Bearer realm https://<host>/v2/token and no service parameter."""
        got = curl(gar, gar.url("/v2/", host=host), tmp=tmp_path)
        assert got.status == 401
        assert challenge(got.header("WWW-Authenticate")) == {
            "scheme": "Bearer",
            "realm": f"https://{host}/v2/token",
        }

    @pytest.mark.parametrize(
        ("host", "location"),
        [("us-docker.pkg.dev", "us"), ("europe-west1-docker.pkg.dev", "europe-west1")],
    )
    def test_anonymous_token_for_a_private_repository_is_denied(
        self, gar: Personality, host: str, location: str
    ) -> None:
        """The token endpoint: 403 DENIED 'Unauthenticated request…' naming the resource."""
        answer = client_for(gar).get(
            gar.url("/v2/token", host=host),
            params={"scope": "repository:ociinspect-project/private/secret:pull", "service": ""},
        )
        assert answer.status_code == 403
        error = answer.json()["errors"][0]
        assert error["code"] == "DENIED"
        assert error["message"] == (
            "Unauthenticated request. Unauthenticated requests do not have permission "
            '"artifactregistry.repositories.downloadArtifacts" on resource '
            f'"projects/ociinspect-project/locations/{location}/repositories/private" '
            "(or it may not exist)"
        )

    @pytest.mark.parametrize("form", ["oauth2accesstoken", "_json_key", "_json_key_base64"])
    def test_each_documented_login_form_pulls_a_private_image(
        self, gar: Personality, form: str
    ) -> None:
        """Basic with oauth2accesstoken, _json_key or _json_key_base64 gets a token that pulls."""
        secret = {
            "oauth2accesstoken": gar.credentials.password,
            "_json_key": gar.credentials.extra["json_key"],
            "_json_key_base64": gar.credentials.extra["json_key_base64"],
        }[form]
        client = client_for(gar)
        token = client.get(
            gar.url("/v2/token"),
            params={"scope": "repository:ociinspect-project/private/secret:pull"},
            auth=(form, secret),
        ).json()["token"]
        answer = client.get(
            gar.url("/v2/ociinspect-project/private/secret/manifests/latest"),
            headers={"Authorization": f"Bearer {token}", "Accept": ACCEPT_ALL},
        )
        assert answer.status_code == 200

    def test_someone_elses_repository_is_permission_denied(self, gar: Personality) -> None:
        """Logged in but without access: 403 'Permission … denied on resource …'."""
        answer = client_for(gar).get(
            gar.url("/v2/token"),
            params={"scope": "repository:someone-else/private/secret:pull"},
            auth=("oauth2accesstoken", gar.credentials.password),
        )
        assert answer.status_code == 403
        assert answer.json()["errors"][0]["message"].startswith(
            'Permission "artifactregistry.repositories.downloadArtifacts" denied on resource '
            '"projects/someone-else/'
        )

    def test_access_token_works_directly_as_bearer(
        self, gar: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """curl with Authorization: Bearer <access token> reads tags, without the token endpoint."""
        got = curl(
            gar,
            gar.url("/v2/ociinspect-project/images/single/tags/list"),
            "-H", f"Authorization: Bearer {gar.credentials.password}",
            tmp=tmp_path,
        )  # fmt: skip
        assert got.status == 200 and set(got.json()["tags"]) == {"latest", "1.0"}
        assert gar.counters.token_requests() == []

    def test_blob_redirect_stays_on_the_same_host(
        self, gar: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """Blob GET redirects to /artifacts-downloads/… on the same host; curl -L gets the bytes."""
        layer = first_layer(seeded_storage, "demo/single:latest")
        token = (
            client_for(gar)
            .get(
                gar.url("/v2/token"),
                params={"scope": "repository:ociinspect-project/images/single:pull"},
            )
            .json()["token"]
        )
        url = gar.url(f"/v2/ociinspect-project/images/single/blobs/{layer}")
        got = curl(gar, url, "-L", "-H", f"Authorization: Bearer {token}", tmp=tmp_path)
        assert got.statuses == (307, 200) and sha256(got.body) == layer
        (download,) = gar.counters.requests(path="^/artifacts-downloads/")
        assert download.host == "us-docker.pkg.dev"
        assert download.path.startswith(
            "/artifacts-downloads/namespaces/ociinspect-project/repositories/images/downloads/"
        )


# ----------------------------------------------------------------------------- ECR


class TestEcr:
    """<account>.dkr.ecr.us-east-1.amazonaws.com and its S3 layer bucket."""

    def test_no_credentials_gets_a_basic_challenge_and_not_authorized(
        self, ecr: Personality, tmp_path: Path
    ) -> None:
        """curl /v2/ without credentials: 401, ECR's Basic challenge and 'Not Authorized'."""
        got = curl(ecr, ecr.url("/v2/"), tmp=tmp_path)
        assert got.status == 401 and got.body == b"Not Authorized\n"
        assert challenge(got.header("Www-Authenticate")) == {
            "scheme": "Basic",
            "realm": f"https://{ecr.registry_host}/",
            "service": "ecr.amazonaws.com",
        }

    def test_aws_user_and_password_pull_with_curl(
        self, ecr: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """curl -u AWS:<password> reads a manifest list; the password is base64 JSON."""
        got = curl(
            ecr,
            ecr.url("/v2/ociinspect/dockerlist/manifests/latest"),
            "-u", f"AWS:{ecr.credentials.password}", "-H", f"Accept: {DOCKER_LIST}",
            tmp=tmp_path,
        )  # fmt: skip
        assert got.status == 200 and sha256(got.body) == seeded_digest(
            seeded_storage, "demo/dockerlist:latest"
        )
        assert set(json.loads(base64.b64decode(ecr.credentials.password))) == {
            "payload", "datakey", "version", "type", "expiration",
        }  # fmt: skip

    def test_expired_password_is_denied(self, ecr: Personality) -> None:
        """Past its lifetime the password gets 403 'Your authorization token has expired…'."""
        ecr.configure(password_lifetime=0)
        answer = client_for(ecr).get(ecr.url("/v2/"), auth=("AWS", ecr.credentials.password))
        assert answer.status_code == 403
        assert answer.json()["errors"][0] == {
            "code": "DENIED",
            "message": "Your authorization token has expired. Reauthenticate and try again.",
        }

    @pytest.mark.parametrize(
        ("path", "code", "message"),
        [
            pytest.param("/v2/nope/manifests/latest", "NAME_UNKNOWN",
                         "The repository with name 'nope' does not exist in the registry with id "
                         "'123456789012'", id="missing-repository"),
            pytest.param("/v2/ociinspect/single/manifests/v9", "MANIFEST_UNKNOWN",
                         "Requested image not found", id="missing-tag"),
        ],
    )  # fmt: skip
    def test_not_found_messages(self, ecr: Personality, path: str, code: str, message: str) -> None:
        """Missing repositories and images answer 404 with ECR's own messages."""
        answer = client_for(ecr).get(ecr.url(path), auth=("AWS", ecr.credentials.password))
        assert answer.status_code == 404
        assert answer.json()["errors"][0] == {"code": code, "message": message}

    def test_s3_serves_the_presigned_url_to_curl(
        self, ecr: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """Blob GET: 307 to the S3 layer bucket (X-Amz-*); curl -L, auth not forwarded, verifies."""
        layer = first_layer(seeded_storage, "demo/big:latest")
        url = ecr.url(f"/v2/ociinspect/big/blobs/{layer}")
        got = curl(ecr, url, "-L", "-u", f"AWS:{ecr.credentials.password}", tmp=tmp_path)
        assert (
            got.statuses == (307, 200) and sha256(got.body) == layer and len(got.body) > 2_000_000
        )
        (seen,) = ecr.counters.requests(
            host="prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com"
        )
        assert seen.auth_scheme is None
        assert {"X-Amz-Algorithm", "X-Amz-Signature", "X-Amz-Security-Token"} <= set(
            parse_qs(seen.query)
        )

    def test_s3_refuses_and_echoes_a_forwarded_authorization(
        self, ecr: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """Basic forwarded to S3 (--location-trusted): 400 'Only one auth mechanism', echoed."""
        layer = first_layer(seeded_storage, "demo/single:latest")
        url = ecr.url(f"/v2/ociinspect/single/blobs/{layer}")
        got = curl(
            ecr, url, "--location-trusted", "-u", f"AWS:{ecr.credentials.password}", tmp=tmp_path
        )
        assert got.statuses == (307, 400)
        assert (
            b"<Code>InvalidArgument</Code>" in got.body
            and b"Only one auth mechanism allowed" in got.body
        )
        basic = base64.b64encode(f"AWS:{ecr.credentials.password}".encode())
        assert b"<ArgumentValue>Basic " + basic + b"</ArgumentValue>" in got.body


# ----------------------------------------------------------------------------- ACR


class TestAcr:
    """ociinspect.azurecr.io (registry, /oauth2/exchange, /oauth2/token) and its data endpoint."""

    def test_challenge_and_body_name_the_repository(self, acr: Personality, tmp_path: Path) -> None:
        """curl a manifest: 401, Bearer realm …/oauth2/token with scope, and the aka.ms message."""
        got = curl(acr, acr.url("/v2/single/manifests/latest"), tmp=tmp_path)
        assert got.status == 401
        assert challenge(got.header("WWW-Authenticate")) == {
            "scheme": "Bearer",
            "realm": "https://ociinspect.azurecr.io/oauth2/token",
            "service": "ociinspect.azurecr.io",
            "scope": "repository:single:pull",
        }
        assert got.json() == {
            "errors": [
                {
                    "code": "UNAUTHORIZED",
                    "message": "authentication required, visit "
                    "https://aka.ms/acr/authorization for more information.",
                    "detail": [{"Type": "repository", "Name": "single", "Action": "pull"}],
                }
            ]
        }

    def test_aad_exchange_then_refresh_grant_by_hand(
        self, acr: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """curl: AAD token -> /oauth2/exchange -> refresh -> /oauth2/token -> access -> pull."""
        extra = acr.credentials.extra
        exchange = curl(
            acr,
            acr.url("/oauth2/exchange"),
            "--data-urlencode", "grant_type=access_token",
            "--data-urlencode", "service=ociinspect.azurecr.io",
            "--data-urlencode", f"tenant={extra['tenant']}",
            "--data-urlencode", f"access_token={extra['aad_access_token']}",
            tmp=tmp_path,
        )  # fmt: skip
        assert exchange.status == 200 and list(exchange.json()) == ["refresh_token"]
        refresh = exchange.json()["refresh_token"]
        assert (
            jwt.decode(refresh, options={"verify_signature": False})["grant_type"]
            == "refresh_token"
        )
        token = curl(
            acr,
            acr.url("/oauth2/token"),
            "--data-urlencode", "grant_type=refresh_token",
            "--data-urlencode", "service=ociinspect.azurecr.io",
            "--data-urlencode", "scope=repository:multi:pull",
            "--data-urlencode", f"refresh_token={refresh}",
            tmp=tmp_path,
        )  # fmt: skip
        assert token.status == 200 and list(token.json()) == ["access_token"]
        claims = jwt.decode(token.json()["access_token"], options={"verify_signature": False})
        assert claims["iss"] == "Azure Container Registry" and claims["exp"] - claims["iat"] == 4500
        got = curl(
            acr,
            acr.url("/v2/multi/manifests/latest"),
            "-H", f"Authorization: Bearer {token.json()['access_token']}",
            "-H", f"Accept: {OCI_INDEX}",
            tmp=tmp_path,
        )  # fmt: skip
        assert got.status == 200 and sha256(got.body) == seeded_digest(
            seeded_storage, "demo/multi:latest"
        )

    @pytest.mark.parametrize("who", ["null-guid-refresh-token", "admin-user"])
    def test_basic_on_the_token_endpoint(self, acr: Personality, who: str) -> None:
        """GET /oauth2/token with Basic (null GUID + refresh token, or admin): an access token."""
        extra = acr.credentials.extra
        creds = (
            (acr.credentials.username, acr.credentials.password)
            if who == "null-guid-refresh-token"
            else (extra["admin_username"], extra["admin_password"])
        )
        answer = client_for(acr).get(
            acr.url("/oauth2/token"),
            params={"service": "ociinspect.azurecr.io", "scope": "repository:private/secret:pull"},
            auth=creds,
        )
        assert answer.status_code == 200 and list(answer.json()) == ["access_token"]

    def test_anonymous_pull_only_when_enabled(self, acr: Personality) -> None:
        """Anonymous GET /oauth2/token is 401 by default and works once anonymous pull is on."""
        client = client_for(acr)
        params = {"service": "ociinspect.azurecr.io", "scope": "repository:single:pull"}
        refused = client.get(acr.url("/oauth2/token"), params=params)
        assert (
            refused.status_code == 401
            and "aka.ms/acr/authorization" in refused.json()["errors"][0]["message"]
        )
        acr.configure(anonymous_pull=True)
        token = client.get(acr.url("/oauth2/token"), params=params).json()["access_token"]
        answer = client.get(
            acr.url("/v2/single/manifests/latest"),
            headers={"Authorization": f"Bearer {token}", "Accept": ACCEPT_ALL},
        )
        assert answer.status_code == 200

    def test_wrong_aad_token_is_refused(self, acr: Personality) -> None:
        """/oauth2/exchange with an AAD token it did not issue answers 401."""
        answer = client_for(acr).post(
            acr.url("/oauth2/exchange"),
            data={
                "grant_type": "access_token",
                "service": "ociinspect.azurecr.io",
                "tenant": acr.credentials.extra["tenant"],
                "access_token": "eyJ.not.issued",
            },
        )
        assert answer.status_code == 401
        assert acr.counters.token_requests(identity="invalid:aad")

    def test_data_endpoint_serves_sas_and_refuses_authorization(
        self, acr: Personality, seeded_storage: SeedResult, tmp_path: Path
    ) -> None:
        """Blob GET: 307 to the data endpoint; -L verifies, --location-trusted gets 400."""
        token = (
            client_for(acr)
            .get(
                acr.url("/oauth2/token"),
                params={"service": "ociinspect.azurecr.io", "scope": "repository:single:pull"},
                auth=(acr.credentials.username, acr.credentials.password),
            )
            .json()["access_token"]
        )
        layer = first_layer(seeded_storage, "demo/single:latest")
        url = acr.url(f"/v2/single/blobs/{layer}")
        got = curl(acr, url, "-L", "-H", f"Authorization: Bearer {token}", tmp=tmp_path)
        assert got.statuses == (307, 200) and sha256(got.body) == layer
        leaked = curl(
            acr, url, "--location-trusted", "-H", f"Authorization: Bearer {token}", tmp=tmp_path
        )
        assert leaked.statuses == (307, 400)
        assert b"<Code>InvalidAuthenticationInfo</Code>" in leaked.body
        assert acr.counters.count(host="ociinspect.eastus.data.azurecr.io") == 2
