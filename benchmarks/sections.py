"""The measured sections of the report: each runs its cases ``runs`` times, interleaved.

Peers run at most :data:`PEER_RUNS` times; ociinspect's cases every time. Each returns rows
(:class:`~benchmarks.report.Row`) keyed by a short name that :mod:`benchmarks.run` reads.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from . import images
from . import testbed as bed
from .drivers import commands, ours, peer
from .report import Row

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"  # generated inputs kept between runs (gitignored)
#: Round trips on the critical path of a cold platforms table (see README.md): the connects of
#: the parallel manifest GETs happen while the token is fetched (``Settings.preconnect``).
CRITICAL_RTTS = 9
#: Peers run at most this many times (skopeo's loop alone takes ~10 s a run).
PEER_RUNS = 3


def skopeo_loop(host: str) -> list[list[str]]:
    """What a skopeo user runs for the table: the index, then one inspect per platform."""
    ref = f"docker://{host}/{images.MULTI}"
    flags = ["--tls-verify=false", "--no-creds"]
    steps = [["skopeo", "inspect", "--raw", *flags, ref]]
    for text in images.PLATFORMS:
        os_, arch, *variant = text.split("/")
        override = ["--override-os", os_, "--override-arch", arch]
        override += ["--override-variant", variant[0]] if variant else []
        steps.append(["skopeo", *override, "inspect", *flags, ref])
    return steps


def table_section(tb: bed.Testbed, runs: int, peers: Path | None) -> dict[str, Row]:
    rows = {
        name: Row(name, note=note)
        for name, note in [
            ("ociinspect platforms(), cold", "new process, empty disk cache"),
            ("ociinspect platforms(), cold, cache off", "OCIINSPECT_CACHE=0"),
            (
                "ociinspect platforms(), cold, no preconnect",
                "OCIINSPECT_PRECONNECT=0: manifests wait for connects",
            ),
            ("ociinspect platforms(), cold, RTT 0", "the same rig without delay: the overhead"),
            ("ociinspect platforms(), warm", "same process again: tag hint + disk cache"),
            ("ociinspect, new process, disk cache, by tag", "cache filled by a cold run"),
            ("ociinspect, new process, disk cache, by digest", "name@sha256:…"),
            ("skopeo inspect loop", "inspect --raw + 1 inspect per platform"),
            ("oras-py", "sequential, as its API goes"),
            ("python-dxf", "sequential, one Session"),
        ]
    }
    names = list(rows)
    args = {"host": tb.host, "ref": images.MULTI, "digest": tb.index_digest}
    for run in range(runs):
        cache = str(tb.workdir / f"cache-{run}")
        found = ours(tb, "table", args, OCIINSPECT_CACHE_DIR=cache)
        rows[names[0]].samples.append(found["cold"])
        rows[names[4]].samples.append(found["warm"])
        off = ours(tb, "table", args, OCIINSPECT_CACHE="0", OCIINSPECT_CACHE_DIR=cache + "-off")
        rows[names[1]].samples.append(off["cold"])
        bare = ours(
            tb, "table", args, OCIINSPECT_PRECONNECT="0", OCIINSPECT_CACHE_DIR=cache + "-bare"
        )
        rows[names[2]].samples.append(bare["cold"])
        floor = ours(tb.floor, "table", {**args, "host": tb.floor.host}, OCIINSPECT_CACHE="0")
        rows[names[3]].samples.append(floor["cold"])
        disk = ours(tb, "table-disk", args, OCIINSPECT_CACHE_DIR=cache)
        rows[names[5]].samples.append(disk["disk-tag"])
        rows[names[6]].samples.append(disk["disk-digest"])
        if run >= PEER_RUNS:
            continue
        rows[names[7]].samples.append(commands(tb, skopeo_loop(tb.host)))
        if peers is not None:
            rows[names[8]].samples.append(peer(tb, peers, "oras", "table", args)["oras"])
            rows[names[9]].samples.append(peer(tb, peers, "dxf", "table", args)["dxf"])
    return {k: v for k, v in rows.items() if v.samples}


def blob_section(tb: bed.Testbed, runs: int, peers: Path | None, tmp: Path) -> dict[str, Row]:
    rows = {
        name: Row(name, note=note)
        for name, note in [
            ("hashlib.file_digest (yardstick)", "sha256 of the stored file, page cache"),
            ("curl -o /dev/null", "no verification: what the server and loopback deliver"),
            ("ociinspect stream_blob", "verified, chunks discarded"),
            ("ociinspect download_blob", "verified, to a file on tmpfs"),
            ("python-dxf pull_blob", "verified, 8 KiB chunks (its default)"),
            ("oras-py download_blob", "NOT verified, 8 KiB chunks, to a file"),
            ("skopeo copy → dir:", "verified; also fetches manifest + config"),
        ]
    }
    names = list(rows)
    big = tb.big
    stored = tb.storage / "docker/registry/v2/blobs/sha256"
    hex_ = big.layer_digest.split(":", 1)[1]
    args = {
        "host": tb.direct_host,
        "repository": images.BIG.split(":")[0],
        "digest": big.layer_digest,
        "size": big.layer_size,
        "file": str(stored / hex_[:2] / hex_ / "data"),
        "tmp": str(tmp),
    }
    url = f"http://{tb.direct_host}/v2/{args['repository']}/blobs/{big.layer_digest}"
    for run in range(runs):
        found = ours(tb, "blob", args)
        for name, phase in zip(
            (names[0], names[2], names[3]), ("hashlib", "stream", "download"), strict=True
        ):
            rows[name].samples.append(found[phase])
        rows[names[1]].samples.append(commands(tb, [["curl", "-sS", "-o", "/dev/null", url]]))
        if run >= PEER_RUNS:
            continue
        if peers is not None:
            rows[names[4]].samples.append(peer(tb, peers, "dxf", "blob", args)["dxf pull_blob"])
            done = peer(tb, peers, "oras", "blob", args)["oras download_blob"]
            rows[names[5]].samples.append(done)
        target = Path(tempfile.mkdtemp(dir=tmp)) / "copy"
        source = f"docker://{tb.direct_host}/{images.BIG}"
        step = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--src-no-creds"]
        rows[names[6]].samples.append(commands(tb, [[*step, source, f"dir:{target}"]]))
        shutil.rmtree(target.parent, ignore_errors=True)
    return {k: v for k, v in rows.items() if v.samples}


def listing_section(tb: bed.Testbed, runs: int, mib: int) -> tuple[dict[str, Row], int]:
    from .bench_listing import build_layer

    path = WORK / f"listing-{mib}mib.tar.gz"
    if not path.is_file():
        partial = path.with_suffix(".part")
        build_layer(partial, mib << 20)
        partial.rename(path)
    rows = {"tar -tzf": Row("tar -tzf (GNU tar + gzip -d)", note="the yardstick")}
    rows["iter_entries"] = Row("ociinspect contents.iter_entries", note="also hashes the diff_id")
    for _ in range(runs):
        found = ours(tb, "listing", {"file": str(path)})
        for key, row in rows.items():
            row.samples.append(found[key])
    accel = rows["iter_entries"].samples[-1].info.get("accelerator", "?")
    rows["iter_entries"].note += f"; gzip by {accel}"
    return rows, path.stat().st_size


def widget_section(tb: bed.Testbed, runs: int) -> dict[str, Row] | str:
    rows = {
        "local": Row("ImageBrowser Load → platforms table", note="local rig, RTT 0, cold"),
        "rtt": Row("ImageBrowser Load → platforms table", note=f"RTT {tb.rtt_ms:g} ms, cold"),
    }
    where = {"local": tb.floor, "rtt": tb.served}
    try:
        for run in range(runs):
            for key, served in where.items():
                cache = str(tb.workdir / f"widget-{key}-{run}")
                args = {"host": served.host, "ref": images.MULTI}
                found = ours(served, "widget", args, OCIINSPECT_CACHE_DIR=cache)
                rows[key].samples.append(found["load -> platforms table"])
    except RuntimeError as exc:
        return f"not measured: {str(exc).strip().splitlines()[-1]}"
    return rows
