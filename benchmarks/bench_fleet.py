"""Fleet inventory benchmark: 1,000 tags x 4 platforms on the rig, 50 ms of injected RTT.

``python -m benchmarks.bench_fleet [--rtt-ms 50] [--repositories 200] [--tags 5]`` seeds the
fleet of tests/rig/fleet.py into a storage directory (through an open registry's API), serves it
with the token-auth registry, token server and CDN of :mod:`benchmarks.testbed` behind the
latency proxy, and measures, in one run:

- ``fleet.inventory`` cold (new session, empty disk cache) and again (new session, same cache):
  time, tags/s, requests per tag (the registry's access log, the token server's and the CDN's
  records), memory per 10,000 rows (the frame's ``memory_usage(deep=True)``);
- a ``skopeo inspect`` loop (``inspect --raw`` of the tag, then one ``inspect`` per platform,
  as in the platforms benchmark) over a sample of tags, and one call per image
  (``ociinspect.platforms`` with a new session per tag, as a script calling a CLI per image
  would), both extrapolated to tags/s;
- ``ociinspect.dask.inventory`` on a ``LocalCluster`` of 1 and of 2 worker processes (cold).

The report is printed and written to ``benchmarks/fleet_results.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"
TESTS = Path(__file__).resolve().parents[1] / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from rig import ALICE  # noqa: E402
from rig.env import child_env  # noqa: E402
from rig.fleet import seed_fleet  # noqa: E402
from rig.registry import RegistryProcess, registry_config  # noqa: E402

import ociinspect as oi  # noqa: E402
from ociinspect import fleet  # noqa: E402
from ociinspect.distribution.credentials import Credentials  # noqa: E402
from ociinspect.session import Session, Settings  # noqa: E402

from . import testbed as bed  # noqa: E402

HERE = Path(__file__).resolve().parent
CREDENTIALS = Credentials(ALICE.name, ALICE.password)


def _session(cache: Path | None) -> Session:
    return Session(
        Settings(cache=cache is not None, cache_dir=str(cache) if cache else None,
                 progress=False, docker_config=False, credentials=CREDENTIALS)
    )


def _per_tag(counts: dict[str, Any], tags: int) -> str:
    parts = [
        f"{counts['manifests'] / tags:.2f} manifest GET",
        f"{counts['head'] / tags:.2f} HEAD",
        f"{counts['blobs'] / tags:.2f} blob GET",
        f"{counts['other'] / tags:.2f} listing GET",
        f"{counts['unauthorized'] / tags:.2f}×401",
        f"{counts['token'] / tags:.2f} token",
        f"{counts['cdn'] / tags:.2f} CDN",
    ]
    return ", ".join(parts)


def _skopeo_loop(host: str, sample: list[tuple[str, str, list[str]]], home: Path) -> float:
    flags = ["--tls-verify=false", f"--creds={ALICE.name}:{ALICE.password}"]
    started = time.monotonic()
    for repository, tag, platforms in sample:
        ref = f"docker://{host}/{repository}:{tag}"
        steps = [["skopeo", "inspect", "--raw", *flags, ref]]
        for text in platforms:
            os_, arch, *variant = text.split("/")
            override = ["--override-os", os_, "--override-arch", arch]
            override += ["--override-variant", variant[0]] if variant else []
            steps.append(["skopeo", *override, "inspect", *flags, ref])
        for step in steps:
            subprocess.run(step, check=True, capture_output=True, env=child_env(home), timeout=120)
    return time.monotonic() - started


def _one_call_per_image(host: str, sample: list[tuple[str, str, list[str]]]) -> float:
    started = time.monotonic()
    for repository, tag, _ in sample:
        with _session(None) as session:
            oi.platforms(f"{host}/{repository}:{tag}", session=session)
    return time.monotonic() - started


def _dask(host: str, names: list[str], workers: int, cache: Path) -> float:
    from distributed import Client, LocalCluster

    import ociinspect.dask as odask

    with (
        LocalCluster(n_workers=workers, threads_per_worker=4, processes=True,
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        frame = odask.inventory(host, names, session=_session(cache), client=client, threads=8)
        started = time.monotonic()
        frame.compute()
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--repositories", type=int, default=200)
    parser.add_argument("--tags", type=int, default=5, help="tags per repository")
    parser.add_argument("--sample", type=int, default=10, help="tags for the peer loops")
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ociinspect-fleet-bench-"))
    lines: list[str] = []
    try:
        storage = work / "storage"
        storage.mkdir()
        (work / "seed").mkdir()
        seeder = RegistryProcess(work / "seed", registry_config("seed", storage))
        try:
            seeded = seed_fleet(seeder.url, repositories=args.repositories,
                                tags_per_repository=args.tags, storage_dir=storage)
        finally:
            seeder.stop()
        served = bed.serve(storage, work / "served", args.rtt_ms)
        try:
            host = served.host
            tags = len(seeded.tags)
            images = sum(len(t.platforms) for t in seeded.tags)
            names = [r.name for r in seeded.repositories]
            lines += [
                "# Fleet inventory benchmark",
                "",
                f"`python -m benchmarks.bench_fleet --rtt-ms {args.rtt_ms:g} --repositories "
                f"{args.repositories} --tags {args.tags}` on {os.cpu_count()} cores: "
                f"{len(names)} repositories, {tags} tags, {images} platform images "
                f"(seeded in {seeded.seconds:.0f} s), registry, token server and CDN each "
                f"behind {args.rtt_ms:g} ms of RTT. One run.",
                "",
                "| case | seconds | tags/s | × skopeo loop | requests per tag | note |",
                "| --- | ---: | ---: | ---: | --- | --- |",
            ]
            served.reset()
            cache = work / "cache"
            started = time.monotonic()
            frame = fleet.inventory(host, session=_session(cache))
            cold = time.monotonic() - started
            cold_counts = served.counts()
            served.reset()
            started = time.monotonic()
            again = fleet.inventory(host, session=_session(cache))
            warm = time.monotonic() - started
            warm_counts = served.counts()
            assert len(again) == len(frame)
            sample = [
                (t.repository, t.tag, list(t.platforms))
                for t in seeded.tags[:: max(1, tags // args.sample)][: args.sample]
            ]
            skopeo = _skopeo_loop(host, sample, work / "home") / len(sample)
            single = _one_call_per_image(host, sample) / len(sample)
            rows = [
                ("ociinspect `fleet.inventory`, cold", cold, cold_counts,
                 f"{len(frame)} rows, {int((frame.status == 'error').sum())} error rows, "
                 "new session, empty disk cache, 16 threads"),
                ("ociinspect `fleet.inventory`, again", warm, warm_counts,
                 "new session, the same disk cache"),
            ]
            for name, seconds, counts, note in rows:
                rate = tags / seconds
                lines.append(
                    f"| {name} | {seconds:.2f} | {rate:.1f} | {rate * skopeo:.0f}× | "
                    f"{_per_tag(counts, tags)} | {note} |"
                )
            lines.append(
                f"| one call per image (`oi.platforms`, new session each) | "
                f"{single * tags:.0f} (est.) | {1 / single:.2f} | {skopeo / single:.1f}× | "
                f"- | {len(sample)} tags timed, extrapolated |"
            )
            lines.append(
                f"| `skopeo inspect` loop (raw + 1 per platform) | {skopeo * tags:.0f} (est.) | "
                f"{1 / skopeo:.2f} | 1× | - | {len(sample)} tags timed, extrapolated |"
            )
            memory = frame.memory_usage(deep=True).sum() / len(frame) * 10_000
            lines += [
                "",
                f"Memory: {memory / 2**20:.1f} MiB per 10,000 rows "
                "(`memory_usage(deep=True)`, labels dicts included).",
            ]
            if not args.no_dask:
                lines += ["", "| Dask `LocalCluster` (cold, 4 threads per worker, 8 tag threads "
                          "per partition) | seconds | tags/s |", "| --- | ---: | ---: |"]
                for workers in (1, 2):
                    served.reset()
                    seconds = _dask(host, names, workers, work / f"dask-cache-{workers}")
                    lines.append(f"| {workers} worker process(es) | {seconds:.2f} | "
                                 f"{tags / seconds:.1f} |")
        finally:
            served.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = "\n".join(lines) + "\n"
    print(report)
    (HERE / "fleet_results.md").write_text(report)


if __name__ == "__main__":
    main()
