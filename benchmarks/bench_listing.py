"""Benchmark: list a gzip layer with ociinspect versus ``tar -tzf``.

Builds a layer of realistic mixed content in a temporary directory (many small source/text files
in a deep tree, shared-library-like binaries, a few incompressible blobs, symlinks and
directories; gzip level 6 as ``docker build`` writes it), then times

- ``tar -tzf layer.tar.gz > /dev/null`` (GNU tar, decompressing through a ``gzip -d`` pipe), and
- ``ociinspect.layers.contents.iter_entries`` over the file read in chunks, which also computes the
  exact uncompressed size and the diff_id (sha256 of the tar) on the way,

best of ``--repeat`` runs each, and prints a markdown table. The ``isal`` package, when installed,
is ociinspect's gzip accelerator; the zlib row is measured with it switched off.

Usage: ``python benchmarks/bench_listing.py [--size-mb 512] [--repeat 3] [--chunk-kib 1024]``
(``--size-mb`` is the uncompressed size; 512 MiB gives a gzip layer of about 230 MB).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ociinspect.layers import compression  # noqa: E402
from ociinspect.layers import contents as layers  # noqa: E402

CORPUS = 8 << 20
_WORD_TEXT = (
    "def class return import from self None True False if else elif for while in not and or "
    "lambda yield with as try except finally raise assert global pass break continue async "
    "await int str bytes list dict set tuple len range print open path data value result "
    "config name error index count size item key node parent child buffer stream header layer "
    "digest"
)
WORDS = _WORD_TEXT.split()


def _text_corpus(rng: random.Random) -> bytes:
    lines = []
    size = 0
    while size < CORPUS:
        indent = "    " * rng.randrange(4)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(2, 12)))
        line = f"{indent}{words}({rng.randrange(1000)})\n"
        lines.append(line)
        size += len(line)
    return "".join(lines).encode()[:CORPUS]


def _binary_corpus(rng: random.Random) -> bytes:
    """Machine-code-like bytes: a small vocabulary of tokens with noise; gzip shrinks it ~2x."""
    tokens = [rng.randbytes(rng.randrange(2, 9)) for _ in range(512)]
    out = bytearray()
    while len(out) < CORPUS:
        out += rng.choice(tokens) if rng.random() < 0.8 else rng.randbytes(4)
    return bytes(out[:CORPUS])


def _slice(corpus: bytes, rng: random.Random, size: int) -> bytes:
    start = rng.randrange(len(corpus))
    data = corpus[start : start + size]
    while len(data) < size:
        data += corpus[: size - len(data)]
    return data


def build_layer(path: Path, size: int, seed: int = 7) -> tuple[int, int]:
    """Write a gzip layer of about ``size`` uncompressed bytes; return (entries, tar bytes)."""
    rng = random.Random(seed)
    corpora = {
        "text": _text_corpus(rng),
        "binary": _binary_corpus(rng),
        "random": os.urandom(CORPUS),
    }
    gzip = shutil.which("gzip")
    if gzip is None:  # tar -tzf needs it as well
        raise SystemExit("gzip is not installed")
    out = path.open("wb")
    proc = subprocess.Popen([gzip, "-n", "-6", "-c"], stdin=subprocess.PIPE, stdout=out)
    assert proc.stdin is not None
    sink = proc.stdin
    entries = 0
    written = 0
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:

        def add(
            name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = ""
        ) -> None:
            nonlocal entries, written
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
            info.mtime = 1_700_000_000
            info.linkname = link
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
            entries += 1
            written += 512 + (len(data) + 511) // 512 * 512

        package = 0
        while written < size:
            package += 1
            root = f"usr/lib/python3/site-packages/pkg{package:04d}"
            add(root, tarfile.DIRTYPE)
            for sub in range(rng.randrange(1, 6)):
                folder = f"{root}/sub{sub}"
                add(folder, tarfile.DIRTYPE)
                for module in range(rng.randrange(3, 30)):
                    length = min(int(rng.lognormvariate(8.5, 1.2)), 400_000)
                    add(f"{folder}/mod{module}.py", data=_slice(corpora["text"], rng, length))
            roll = rng.random()
            if roll < 0.15:
                length = int(rng.uniform(100_000, 6_000_000))
                lib = f"usr/lib/x86_64-linux-gnu/lib{package}.so.1"
                add(lib, data=_slice(corpora["binary"], rng, length))
                add(f"usr/lib/x86_64-linux-gnu/lib{package}.so", tarfile.SYMTYPE, link=lib)
            elif roll < 0.22:
                length = int(rng.uniform(10_000, 2_000_000))
                add(f"usr/share/pkg{package}/data.bin", data=_slice(corpora["random"], rng, length))
    sink.close()
    proc.wait()
    out.close()
    return entries, written


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def file_chunks(path: Path, chunk: int) -> Iterator[bytes]:
    with path.open("rb", buffering=0) as handle:
        while data := handle.read(chunk):
            yield data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=512, help="uncompressed MiB (512)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-kib", type=int, default=1024, help="read size per chunk")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ociinspect-bench-") as tmp:
        path = Path(tmp) / "layer.tar.gz"
        start = time.perf_counter()
        entries, _ = build_layer(path, args.size_mb << 20)
        compressed = path.stat().st_size
        print(
            f"built {path.name}: {entries} entries, {compressed / 1e6:.1f} MB gzip "
            f"in {time.perf_counter() - start:.1f} s",
            file=sys.stderr,
        )

        tar_bin = shutil.which("tar") or "tar"
        subprocess.run([tar_bin, "--version"], check=True, stdout=subprocess.DEVNULL)

        def run_tar() -> None:
            subprocess.run([tar_bin, "-tzf", str(path)], check=True, stdout=subprocess.DEVNULL)

        results: dict[str, int] = {}

        def run_ours() -> None:
            listing = layers.iter_entries(file_chunks(path, args.chunk_kib << 10), "gzip")
            count = sum(1 for _ in listing)
            results["entries"] = count
            results["uncompressed"] = listing.uncompressed_size

        rows = [("tar -tzf (GNU tar + gzip -d)", best_of(args.repeat, run_tar))]
        isal = compression._isal_zlib
        if isal is not None:
            rows.append(("ociinspect iter_entries, isal", best_of(args.repeat, run_ours)))
        compression._isal_zlib = None
        try:
            rows.append(("ociinspect iter_entries, zlib", best_of(args.repeat, run_ours)))
        finally:
            compression._isal_zlib = isal
        if results["entries"] != entries:
            raise SystemExit(f"listed {results['entries']} entries, wrote {entries}")

        uncompressed = results["uncompressed"]
        tar_time = rows[0][1]
        print(
            f"\nLayer: {entries} entries, {compressed / 1e6:.1f} MB gzip, "
            f"{uncompressed / 1e6:.1f} MB tar; chunks of {args.chunk_kib} KiB; "
            f"best of {args.repeat}; {os.cpu_count()} cores\n"
        )
        print("| lister | seconds | MB/s gzip | MB/s tar | speed vs tar -tzf |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, seconds in rows:
            print(
                f"| {name} | {seconds:.2f} | {compressed / 1e6 / seconds:.0f} | "
                f"{uncompressed / 1e6 / seconds:.0f} | {tar_time / seconds:.0%} |"
            )
        print("\nociinspect's rows include the sha256 of the whole tar (the diff_id).")


if __name__ == "__main__":
    main()
