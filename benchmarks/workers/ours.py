"""ociinspect's side of each scenario, run by the harness with the project's interpreter.

``python -m benchmarks.workers.ours SCENARIO JSON_ARGS``; phases are reported as in
:mod:`benchmarks.workers.measure`. The disk cache directory comes from the environment
(``OCIINSPECT_CACHE_DIR``), set by the harness.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.workers.measure import phase


def _table_info(frame: Any) -> dict[str, Any]:
    return {
        "rows": len(frame),
        "images": int((frame["kind"] == "image").sum()),
        "errors": int(frame["error"].notna().sum()),
        "created": int(frame["created"].notna().sum()),
    }


def _warm() -> None:
    """What a notebook kernel has done long before the first table: the imports (requests,
    the registry client, the cache), pandas' lazy imports and the Table dtypes. Nothing here
    opens a connection, fetches a token or touches the disk cache."""
    import ociinspect.cache
    import ociinspect.distribution.client
    import ociinspect.sources.registry  # noqa: F401
    from ociinspect.tables import platforms_frame

    platforms_frame([])


def table(args: dict[str, Any]) -> None:
    """Cold (fresh process, empty disk cache), then warm in the same process."""
    import ociinspect as oi

    _warm()
    ref = f"{args['host']}/{args['ref']}"
    with phase("cold") as found:
        frame = oi.platforms(ref)
        found.info = _table_info(frame)
    with phase("warm") as found:
        found.info = _table_info(oi.platforms(ref))


def table_disk(args: dict[str, Any]) -> None:
    """A new process on a disk cache that already holds everything: by tag, then by digest."""
    import ociinspect as oi

    _warm()
    name = args["ref"].rsplit(":", 1)[0]
    with phase("disk-tag") as found:
        found.info = _table_info(oi.platforms(f"{args['host']}/{args['ref']}"))
    with phase("disk-digest") as found:
        found.info = _table_info(oi.platforms(f"{args['host']}/{name}@{args['digest']}"))


def blob(args: dict[str, Any]) -> None:
    """hashlib over the stored file (the yardstick), then a verified stream and a download."""
    from ociinspect.distribution.client import RegistryClient

    host, repo, digest, size = args["host"], args["repository"], args["digest"], args["size"]
    with phase("hashlib") as found, open(args["file"], "rb") as handle:
        found.info["digest"] = "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
    client = RegistryClient(credential_lookup=None)
    with phase("stream") as found:
        received = 0
        with client.stream_blob(host, repo, digest, size=size) as chunks:
            for chunk in chunks:
                received += len(chunk)
        found.info["bytes"] = received
    with tempfile.TemporaryDirectory(dir=args.get("tmp")) as tmp:
        target = Path(tmp) / "blob"
        with phase("download") as found:
            client.download_blob(host, repo, digest, target, size=size)
            found.info["bytes"] = target.stat().st_size


def _file_chunks(path: str, size: int) -> Iterator[bytes]:
    with open(path, "rb", buffering=0) as handle:
        while data := handle.read(size):
            yield data


def listing(args: dict[str, Any]) -> None:
    """``tar -tzf`` then ociinspect's streamed listing (which also hashes the diff_id)."""
    from ociinspect.layers import contents as layers

    path = args["file"]
    with phase("tar -tzf") as found:
        done = subprocess.run(["tar", "-tzf", path], capture_output=True, check=True)
        found.info["entries"] = done.stdout.count(b"\n")
    # ociinspect inflates with ISA-L when the optional ``isal`` package is installed.
    accelerator = "isal" if importlib.util.find_spec("isal") else "zlib"
    with phase("iter_entries") as found:
        listed = layers.iter_entries(_file_chunks(path, 1024 * 1024), "gzip")
        found.info = {"entries": sum(1 for _ in listed), "accelerator": accelerator}


def widget(args: dict[str, Any]) -> None:
    """State-level time from pressing Load to the platforms table being set in the widget."""
    from ociinspect.widgets import ImageBrowser

    _warm()
    browser = ImageBrowser()
    drawn: list[float] = []

    def on_table(change: dict[str, Any]) -> None:
        if change["new"] and "<table" in change["new"] and not drawn:
            drawn.append(time.perf_counter())

    browser.platforms_view.observe(on_table, "value")
    with phase("load -> platforms table") as found:
        start = time.perf_counter()
        browser.ref_box.value = f"{args['host']}/{args['ref']}"  # typed, then Load clicked
        browser.load_button.click()
        browser.wait(60)
        if browser.status != "ready" or not drawn:
            raise SystemExit(f"widget ended {browser.status}: {browser.error or 'no table'}")
        found.override = drawn[0] - start
        found.info = {"all_done_s": time.perf_counter() - start}


SCENARIOS: dict[str, Callable[[dict[str, Any]], None]] = {
    "table": table,
    "table-disk": table_disk,
    "blob": blob,
    "listing": listing,
    "widget": widget,
}


def main() -> None:
    os.environ.setdefault("OCIINSPECT_PROGRESS", "0")
    SCENARIOS[sys.argv[1]](json.loads(sys.argv[2]))


if __name__ == "__main__":
    main()
