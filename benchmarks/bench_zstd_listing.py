"""Benchmark: list a real zstd (and gzip) layer with ociinspect versus GNU tar, in one run.

The layer is real content: regular files of this machine's Debian packages (``/usr/share``,
``/usr/lib``, ``/usr/bin`` walked in sorted order) until the tar holds ``--tar-mib`` MiB,
archived by GNU tar (``--format=posix --sort=name``) and compressed by the ``zstd`` CLI at
level 3 (what containers/image and BuildKit use) and by ``gzip -6 -n``. Each blob sits in an OCI
layout, so ociinspect reads it as ``files()`` does: the layout source streams the blob and checks
its sha256 and size, the listing decompresses it, reads every tar header and hashes the tar for
the diff_id, and the diff_id is compared with the config's (``ociinspect.api._listing``).

Yardsticks: ``tar --zstd -tf`` and ``tar -tzf`` on the same files (GNU tar piping from
``zstd -d`` / ``gzip -d``: two processes on two cores, no hashing). Runs are interleaved; the
table gives the median wall time, its ratio to the yardstick (the target for zstd is at most
1.25x) and the CPU seconds spent (children's for tar). gzip is listed with zlib and with ISA-L
(``isal``), the figure that decided whether ``isal`` is a dependency.

Usage: ``python benchmarks/bench_zstd_listing.py [--tar-mib 140] [--runs 7]``. Writes
``benchmarks/zstd_listing.md`` and the same section into ``benchmarks/results.md`` (between
``<!-- zstd-listing -->`` markers; ``python -m benchmarks`` carries it over).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import queue
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ociinspect as oi  # noqa: E402
from ociinspect import api  # noqa: E402
from ociinspect.layers import compression  # noqa: E402
from ociinspect.testing import build  # noqa: E402
from ociinspect.values import mediatypes as mt  # noqa: E402
from ociinspect.values.digest import sha256  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOTS = ("/usr/share", "/usr/lib", "/usr/bin")
BEGIN, END = "<!-- zstd-listing -->", "<!-- /zstd-listing -->"


def real_files(limit: int) -> list[str]:
    """Regular files under :data:`ROOTS`, in sorted walk order, until ``limit`` bytes."""
    chosen: list[str] = []
    total = 0
    for root in ROOTS:
        for directory, subdirectories, names in os.walk(root):
            subdirectories.sort()
            for name in sorted(names):
                path = os.path.join(directory, name)
                try:
                    if os.path.islink(path) or not os.path.isfile(path):
                        continue
                    size = os.path.getsize(path)
                    with open(path, "rb"):
                        pass
                except OSError:
                    continue
                chosen.append(path.lstrip("/"))
                total += size + 1024
                if total >= limit:
                    return chosen
    return chosen


def build_layers(work: Path, tar_mib: int) -> tuple[Path, Path, Path, int]:
    """The tar, its zstd and gzip forms; and the number of entries."""
    names = work / "names.txt"
    files = real_files(tar_mib << 20)
    names.write_text("\n".join(files) + "\n")
    tar = work / "layer.tar"
    subprocess.run(
        ["tar", "--create", "--format=posix", "--sort=name", "--no-recursion", "-C", "/",
         "-f", str(tar), "-T", str(names)],
        check=True, stderr=subprocess.DEVNULL,
    )
    zst, gz = work / "layer.tar.zst", work / "layer.tar.gz"
    subprocess.run(["zstd", "-q", "-3", "-f", str(tar), "-o", str(zst)], check=True)
    with gz.open("wb") as out:
        subprocess.run(["gzip", "-6", "-n", "-c", str(tar)], stdout=out, check=True)
    return tar, zst, gz, len(files)


def layout(work: Path, tar: Path, blob: Path, media_type: str, name: str) -> str:
    data = blob.read_bytes()
    diff_id = sha256(tar.read_bytes())
    img = build.image([build.Blob(media_type, data, diff_id=diff_id)])
    return f"oci:{build.write_layout(work / name, img, ('v1',))}:v1"


def measure_ours(ref: str, session: oi.Session) -> Callable[[], tuple[float, float]]:
    img = oi.image(ref, session=session)

    def run() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        api._listing(img, 0, None, progress=False)
        return time.perf_counter() - wall, time.process_time() - cpu

    return run


def measure_floor(blob: Path) -> Callable[[], tuple[float, float]]:
    """What no listing can skip, and nothing else: read the blob and hash it, decompress it,
    and hash the tar on a second thread (no tar header read). Its ratio to tar is the lowest
    any verified listing can reach on this machine."""

    def run() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        pieces: queue.Queue[bytes | None] = queue.Queue(8)

        def produce() -> None:
            blob_hash, inflate = hashlib.sha256(), zstandard.ZstdDecompressor().decompressobj()
            with blob.open("rb") as stream:
                while chunk := stream.read(1 << 20):
                    blob_hash.update(chunk)
                    pieces.put(inflate.decompress(chunk))
            pieces.put(None)

        worker = threading.Thread(target=produce)
        worker.start()
        tar_hash = hashlib.sha256()
        while (piece := pieces.get()) is not None:
            tar_hash.update(piece)
        worker.join()
        return time.perf_counter() - wall, time.process_time() - cpu

    return run


def measure_tar(*command: str) -> Callable[[], tuple[float, float]]:
    def run() -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        spent = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return spent, cpu

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tar-mib", type=int, default=140, help="uncompressed MiB (140)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    for tool in ("tar", "zstd", "gzip"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    isal = compression._isal_zlib
    with tempfile.TemporaryDirectory(prefix="ociinspect-zstd-bench-") as tmp:
        work = Path(tmp)
        tar, zst, gz, entries = build_layers(work, args.tar_mib)
        zstd_ref = layout(work, tar, zst, mt.OCI_LAYER_ZSTD, "zstd")
        gzip_ref = layout(work, tar, gz, mt.OCI_LAYER_GZIP, "gzip")
        session = oi.Session(oi.Settings(cache=False, progress=False, docker_config=False))

        def zlib_run() -> tuple[float, float]:
            compression._isal_zlib = None
            try:
                return gzip_ours()
            finally:
                compression._isal_zlib = isal

        gzip_ours = measure_ours(gzip_ref, session)
        cases: list[tuple[str, Callable[[], tuple[float, float]], str]] = [
            ("tar --zstd -tf", measure_tar("tar", "--zstd", "-tf", str(zst)), "yardstick (zstd)"),
            ("ociinspect listing, zstd", measure_ours(zstd_ref, session),
             "blob sha256 + size, decompress, every header, diff_id checked"),
            ("floor: the hashing and zstd alone", measure_floor(zst),
             "blob sha256 + decompress ‖ tar sha256 on 2 threads, no header read"),
            ("tar -tzf", measure_tar("tar", "-tzf", str(gz)), "yardstick (gzip)"),
            ("ociinspect listing, gzip by zlib", zlib_run, "the same work, zlib's inflate"),
        ]
        if isal is not None:
            cases.append(("ociinspect listing, gzip by ISA-L", gzip_ours, "isal.isal_zlib"))
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in cases}
        for _ in range(args.runs):
            for name, run, _ in cases:
                samples[name].append(run())
        sizes = (tar.stat().st_size, zst.stat().st_size, gz.stat().st_size)
    load = os.getloadavg()[0]
    text = render(args, cases, samples, sizes, entries, load)
    print(text)
    if not args.no_write:
        (HERE / "zstd_listing.md").write_text(text)
        merge_into_results(text)


def render(
    args: argparse.Namespace,
    cases: list[tuple[str, Callable[[], tuple[float, float]], str]],
    samples: dict[str, list[tuple[float, float]]],
    sizes: tuple[int, int, int],
    entries: int,
    load: float,
) -> str:
    tar_bytes, zst_bytes, gz_bytes = sizes
    median = {name: statistics.median(w for w, _ in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in samples.items()}
    yardstick = {"zstd": median["tar --zstd -tf"], "gzip": median["tar -tzf"]}
    lines = [
        BEGIN,
        f"## zstd layer listing, real files: {zst_bytes / 2**20:.1f} MiB zstd, "
        f"{gz_bytes / 2**20:.1f} MiB gzip, {tar_bytes / 2**20:.0f} MiB of tar, "
        f"{entries:,} entries",
        "",
        f"`python benchmarks/bench_zstd_listing.py --tar-mib {args.tar_mib} --runs {args.runs}` "
        f"on {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
        f"medians of {args.runs} interleaved runs; load average {load:.1f} at the end.",
        "",
        "| tool / case | median s | × tar | CPU s | note |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, _, note in cases:
        kind = "zstd" if "zstd" in name else "gzip"
        lines.append(
            f"| {name} | {median[name]:.3f} | {median[name] / yardstick[kind]:.2f} | "
            f"{cpu[name]:.3f} | {note} |"
        )
    lines += [
        "",
        "Target: zstd listing at most 1.25× `tar --zstd -tf`, hashing blob and diff_id. The "
        "floor row is the work no verified listing can skip (both sha256s and the "
        "decompression, spread over two threads, no tar header read): a listing cannot go "
        "below it. CPU seconds for tar are its children's (tar and the decompressor). On a "
        "busy machine wall times stretch; compare rows of one run.",
        END,
    ]
    return "\n".join(lines) + "\n"


def merge_into_results(section: str) -> None:
    """Put ``section`` into results.md, replacing an earlier one."""
    path = HERE / "results.md"
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    main()
