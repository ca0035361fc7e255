"""Benchmark: read one file of a real layer, first and repeat, against a full-layer stream
(what ``regctl image get-file`` does) and against ``tar -xzOf`` of the blob, in one run.

The layer is tests/realimages' ``big_gzip`` (umoci, ~100 MiB gzip, 300 random files and small
text files at the start, middle and end), built into ``benchmarks/.work/read_file``. Two places:

- **local**: the OCI layout on disk (page cache warm);
- **registry**: pushed with skopeo to the rig's docker-registry (open mode, blobs redirected to
  its CDN on 127.0.0.2), no added latency.

Rows (median of ``--runs``; the bytes column counts what the CDN sent, for the registry):

- ``tar -xzOf``: GNU tar reading the local blob, writing the member to stdout (it reads the
  whole archive: tar cannot know the name appears once);
- full-layer stream (regctl's approach): gunzip the blob as it arrives and walk the tar
  (Python's ``tarfile`` in stream mode) until the member, return its bytes; from the registry,
  through ociinspect's client (verified: the stream is read to the end, as regctl does);
- ociinspect ``read_file`` first: a new session and an empty disk cache (one verified pass that
  builds and stores the layer's index);
- ociinspect ``read_file`` repeat: a new session on that cache, another path of the layer (a
  span read: Range from the registry, in place locally).

Usage: ``python benchmarks/bench_read_file.py [--runs 3]``; writes ``benchmarks/read_file.md``.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import ociinspect as oi  # noqa: E402

WORK = ROOT / "benchmarks" / ".work" / "read_file"
OUT = ROOT / "benchmarks" / "read_file.md"
FIRST, REPEAT = "/data/b150-middle.txt", "/data/z-end.txt"


def stream_find(chunks: Callable[[], object], name: str) -> bytes:
    """regctl's way: decompress the layer as it streams and untar until ``name``."""
    with chunks() as stream:  # type: ignore[attr-defined]
        raw = _Reader(iter(stream))
        with tarfile.open(fileobj=gzip.GzipFile(fileobj=raw), mode="r|") as tar:
            found = b""
            for member in tar:
                if member.name.lstrip("./") == name.lstrip("/"):
                    handle = tar.extractfile(member)
                    found = handle.read() if handle is not None else b""
                    break
        for _ in raw.chunks:  # read to the end: the blob's digest is known only then
            pass
    return found


class _Reader:
    def __init__(self, chunks: object) -> None:
        self.chunks = chunks
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = next(self.chunks, None)  # type: ignore[call-overload]
            if chunk is None:
                break
            self._buf += chunk
        out, self._buf = (self._buf, b"") if size < 0 else (self._buf[:size], self._buf[size:])
        return out


def median(fn: Callable[[], object], runs: int, before: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import rig
    from realimages import RealImages
    from realimages import layout as oci
    from rig.registry import start_registry
    from rig.seed import skopeo_copy

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    big = RealImages(WORK / "images").big_gzip()
    blob = oci.blob_path(big.layout, big.layer_digest)
    expected_first = big.text(FIRST).content
    rows: list[tuple[str, str, float, str]] = []
    cache_dir = Path(tempfile.mkdtemp(dir=WORK))

    def fresh() -> None:
        shutil.rmtree(cache_dir, ignore_errors=True)

    # -- local -----------------------------------------------------------------------------
    tar_s = median(
        lambda: subprocess.run(
            ["tar", "-xzOf", str(blob), FIRST.lstrip("/")], check=True, capture_output=True
        ),
        args.runs,
    )
    rows.append(("local", "tar -xzOf (whole archive)", tar_s, "-"))

    def local_stream() -> None:
        assert stream_find(lambda: _file_chunks(blob), FIRST) == expected_first

    rows.append(("local", "full-layer stream (regctl's approach)", median(local_stream, args.runs),
                 "-"))  # fmt: skip

    def first_local() -> None:
        session = rig.rig_session(cache_dir)
        assert oi.read_file(big.ref, FIRST, session=session) == expected_first

    rows.append(("local", "ociinspect read_file, first", median(first_local, args.runs, fresh),
                 "-"))  # fmt: skip
    first_local()

    def repeat_local() -> None:
        session = rig.rig_session(cache_dir)
        assert oi.read_file(big.ref, REPEAT, session=session) == big.text(REPEAT).content

    rows.append(("local", "ociinspect read_file, repeat (another path)",
                 median(repeat_local, args.runs), "-"))  # fmt: skip

    # -- registry --------------------------------------------------------------------------
    registry = start_registry("open", WORK / "registry", None, {})
    try:
        ref = registry.ref("bench/big:v1")
        skopeo_copy(big.ref, f"docker://{ref}", all_images=False, home=WORK / "home")
        cdn = registry.cdn
        assert cdn is not None

        def sent(fn: Callable[[], object], before: Callable[[], None] = lambda: None) -> str:
            before()
            cdn.reset()
            fn()
            return f"{cdn.bytes_sent() / 2**20:.2f} MiB"

        def remote_stream() -> None:
            session = rig.rig_session()
            image = oi.image(ref, session=session)
            desc = image.layers[0]
            opener = lambda: session.client.stream_blob(  # noqa: E731
                registry.host, "bench/big", desc.digest, size=desc.size
            )
            assert stream_find(opener, FIRST) == expected_first

        rows.append(("registry", "full-layer stream (regctl's approach)",
                     median(remote_stream, args.runs), sent(remote_stream)))  # fmt: skip

        def first_remote() -> None:
            session = rig.rig_session(cache_dir)
            assert oi.read_file(ref, FIRST, session=session) == expected_first

        rows.append(("registry", "ociinspect read_file, first",
                     median(first_remote, args.runs, fresh), sent(first_remote, fresh)))

        def repeat_remote() -> None:
            session = rig.rig_session(cache_dir)
            assert oi.read_file(ref, REPEAT, session=session) == big.text(REPEAT).content

        rows.append(("registry", "ociinspect read_file, repeat (another path)",
                     median(repeat_remote, args.runs), sent(repeat_remote)))  # fmt: skip
    finally:
        registry.stop()

    base = {where: next(s for w, name, s, _ in rows if w == where and "stream" in name)
            for where in ("local", "registry")}  # fmt: skip
    lines = [
        "# read_file: first and repeat, against a full-layer stream and tar -xzOf",
        "",
        f"`python benchmarks/bench_read_file.py --runs {args.runs}`: the big_gzip layer "
        f"({big.layer_size / 2**20:.1f} MiB gzip), median of {args.runs} runs, one run of this "
        "script for every row; × = time / the full-layer stream's in the same place.",
        "",
        "| where | how | median | × full-layer stream | CDN bytes |",
        "|---|---|---:|---:|---:|",
    ]
    for where, name, seconds, sent_cell in rows:
        lines.append(
            f"| {where} | {name} | {seconds * 1000:.1f} ms | {seconds / base[where]:.3f} | "
            f"{sent_cell} |"
        )
    lines.append("")
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))
    shutil.rmtree(WORK, ignore_errors=True)


class _file_chunks:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> object:
        self.handle = open(self.path, "rb")  # noqa: SIM115 - closed in __exit__
        return iter(lambda: self.handle.read(1 << 20), b"")

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


if __name__ == "__main__":
    main()
