"""The benchmark testbed: the real registry rig of tests/rig behind a latency-injecting proxy.

::

    client ──(RTT)── registry (docker-registry 2.8.2, token auth) ── 307 ──┐
       │  └──(RTT)── token server (tests/rig, RS256 JWTs)                  │
       └────(RTT)── CDN on 127.0.0.2 (tests/rig) <─────────────────────────┘

The registry's configuration names the proxied token realm and the proxied CDN, so a client
pays the round trip on every hop, the token included. A second, open registry process serves
the same storage directly (no proxy, no redirect, Go's file serving) for the throughput runs.
Images are pushed by skopeo into a throw-away registry first, as the rig's seeding does.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

TESTS = Path(__file__).resolve().parents[1] / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from rig import Cdn, Registry, TokenServer  # noqa: E402
from rig.registry import RegistryProcess, registry_config  # noqa: E402
from rig.seed import skopeo_copy, skopeo_source  # noqa: E402

from . import images  # noqa: E402


class LatencyProxy:
    """The latency proxy process (benchmarks/latency.py); stops when this object is closed."""

    def __init__(self, rtt_ms: float) -> None:
        self.rtt_ms = rtt_ms
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.latency", "--rtt-ms", str(rtt_ms)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )

    def route(self, upstream: str, bind: str = "127.0.0.1") -> str:
        """Listen on ``bind`` and forward to ``upstream`` (host:port); returns host:port."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"route {upstream} {bind}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().split()
        if len(answer) != 2 or answer[0] != "listening":
            raise RuntimeError(f"latency proxy refused route to {upstream}: {answer}")
        return answer[1]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@dataclass
class Served:
    """One token-auth registry (with its token server and CDN) behind one latency proxy."""

    registry: Registry
    latency: LatencyProxy
    host: str  # the registry as clients address it: the proxy's address

    def counts(self) -> dict[str, Any]:
        """Requests since the last :meth:`reset`: registry (access log), token server, CDN."""
        records = self.registry.requests()
        tokens = self.registry.token_server.requests() if self.registry.token_server else []
        cdn = self.registry.cdn.requests() if self.registry.cdn else []
        answered = [r for r in records if r.status != 401]
        return {
            "registry": len(records),
            "unauthorized": len(records) - len(answered),
            "get": sum(r.method == "GET" for r in answered),
            "head": sum(r.method == "HEAD" for r in answered),
            "manifests": sum(r.method == "GET" and "/manifests/" in r.path for r in answered),
            "blobs": sum(r.method == "GET" and "/blobs/" in r.path for r in answered),
            "other": sum("/manifests/" not in r.path and "/blobs/" not in r.path for r in records),
            "token": len(tokens),
            "token_scopes": sorted({s for t in tokens for s in t.scopes}),
            "cdn": len(cdn),
        }

    def reset(self) -> None:
        self.registry.reset()

    def stop(self) -> None:
        self.registry.stop()
        self.latency.close()


@dataclass
class Testbed:
    """Everything a benchmark talks to. ``served`` is the registry at ``--rtt-ms``; ``floor``
    the same storage at RTT 0 (what a cold run costs without any round-trip delay);
    ``direct`` an open registry process without proxy or redirect, for throughput."""

    workdir: Path
    served: Served
    floor: Served
    direct: RegistryProcess
    big: images.BigLayout
    index_digest: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.served.host

    @property
    def rtt_ms(self) -> float:
        return self.served.latency.rtt_ms

    @property
    def direct_host(self) -> str:
        return self.direct.host

    @property
    def storage(self) -> Path:
        return self.served.registry.storage_dir

    def counts(self) -> dict[str, Any]:
        """Requests since the last :meth:`reset`, to the registry at ``--rtt-ms``."""
        return self.served.counts()

    def reset(self) -> None:
        self.served.reset()
        self.floor.reset()

    def stop(self) -> None:
        for part in (self.served, self.floor, self.direct):
            part.stop()


def _push_all(host: str, work: Path, big: images.BigLayout) -> None:
    home = work / "home"
    multi = images.multi()
    jobs = [
        (skopeo_source(work / "sources", images.MULTI, multi), images.MULTI, True),
        (f"oci:{big.path}:seed", images.BIG, False),
    ]
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [
            pool.submit(skopeo_copy, src, f"docker://{host}/{ref}", all_images=idx, home=home)
            for src, ref, idx in jobs
        ]
        for future in futures:
            future.result()


def start(workdir: Path, rtt_ms: float, blob_mib: int, cache_dir: Path) -> Testbed:
    """Build and push the images, then start the proxied token-auth registry."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    big = images.big_layout(cache_dir / f"big-{blob_mib}mib", blob_mib)
    timings["generate blob"] = time.monotonic() - started
    storage = workdir / "storage"
    storage.mkdir(parents=True)
    started = time.monotonic()
    seeder = RegistryProcess(_mkdir(workdir / "seed"), registry_config("seed", storage))
    try:
        _push_all(seeder.host, workdir / "seed", big)
    finally:
        seeder.stop()
    timings["push (skopeo)"] = time.monotonic() - started

    served = floor = direct = None
    try:
        served = serve(storage, workdir / "served", rtt_ms)
        floor = serve(storage, workdir / "floor", 0.0)
        direct = RegistryProcess(_mkdir(workdir / "direct"), registry_config("seed", storage))
    except BaseException:
        for part in (served, floor, direct):
            if part is not None:
                part.stop()
        raise
    return Testbed(workdir, served, floor, direct, big, images.multi().digest, timings)


def serve(storage: Path, workdir: Path, rtt_ms: float) -> Served:
    """A token-auth registry on ``storage`` whose every hop (registry, token, CDN) is proxied."""
    workdir.mkdir(parents=True)
    latency = LatencyProxy(rtt_ms)
    cdn = tokens = process = None
    try:
        cdn = Cdn(storage)
        tokens = TokenServer()
        cdn_via = latency.route(cdn.host, "127.0.0.2")
        token_via = latency.route(tokens.host)
        realm = SimpleNamespace(
            realm=f"http://{token_via}/token", service=tokens.service, issuer=tokens.issuer
        )
        bundle = tokens.write_rootcertbundle(workdir / "token-ca.pem")
        config = registry_config(
            "token",
            storage,
            cdn_url=f"http://{cdn_via}",
            token_server=realm,  # type: ignore[arg-type]
            rootcertbundle=bundle,
        )
        process = RegistryProcess(workdir, config)
        host = latency.route(process.host)
    except BaseException:
        for server in (cdn, tokens, process):
            if server is not None:
                server.stop()
        latency.close()
        raise
    return Served(Registry("token", process, storage, cdn, tokens, {}), latency, host)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
