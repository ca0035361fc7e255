"""Which grid shows a 100,000-row layer listing best: ipydatagrid, itables' ITable, or FileGrid.

``python -m benchmarks.grid_components`` (``--rows``, ``--repeats``, ``--root``, ``--out``)
writes benchmarks/grid_components.md. Each candidate runs in its own Voila server (started as
the browser tests start it, tests/browser/servers.py) on a notebook that loads the same frame,
builds the widget and displays it, and is driven by Debian's chromium through Playwright
(loopback only). Measured per candidate:

- build: the widget's constructor in the kernel (encoding the frame);
- display -> first rows: from ``display()`` in the kernel (epoch clock) to the first animation
  frame in which the first path is drawn (DOM: a row element holds it; ipydatagrid draws on a
  canvas, so ``fillText`` is wrapped to note when it paints that text). Voila runs the whole
  notebook, then the page connects to the kernel and asks for every widget's state: the
  ``ipywidgets.HTML`` "floor" row shows what that costs for a one-line widget;
- keystroke -> grid: the prefix of a search term is typed and its result awaited, then the
  last key is pressed; from that ``keydown`` (performance.now) to the first frame showing the
  new first match. ipydatagrid has no search box: its filter is a transform the kernel sends,
  so its keystroke goes through an ``ipywidgets.Text`` to the kernel and back;
- payload: bytes the page received on the kernel's websocket (all frames, and the largest,
  which is the widget states' reply);
- kernel memory: RSS after the page drew the grid (asked through a button) minus RSS before
  the widget was built, the frame already loaded.

The frame is a real listing: the files under ``--root`` (default /usr) walked in sorted order
with ``lstat``, as a layer's ``files_frame`` would list them (path without the leading ``/``,
type, size, ls-style mode, uid, gid, mtime in UTC, link target), repeated under ``copyN/`` if
the tree has fewer entries than ``--rows``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host_platform
import re
import stat
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

from browser import servers  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOOPBACK = frozenset({"127.0.0.1", "localhost"})
RENDER_TIMEOUT_MS = 180_000
STEP_TIMEOUT_MS = 60_000
_TYPES = {
    stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink", stat.S_IFCHR: "char",
    stat.S_IFBLK: "block", stat.S_IFIFO: "fifo",
}


# -- the frame ------------------------------------------------------------------------------------


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result, str | None]]:
    """(path relative to /, lstat, link target) for root and everything under it, sorted."""
    stack = [root]
    while stack:
        here = stack.pop()
        try:
            info = here.lstat()
        except OSError:
            continue
        link = os.readlink(here) if stat.S_ISLNK(info.st_mode) else None
        yield str(here).lstrip("/"), info, link
        if stat.S_ISDIR(info.st_mode):
            try:
                children = sorted(os.listdir(here), reverse=True)
            except OSError:
                continue
            stack.extend(here / name for name in children)


def listing_frame(rows: int, root: Path) -> pd.DataFrame:
    """``rows`` entries of the tree under ``root`` with files_frame's dtypes for these columns."""
    records: list[tuple[Any, ...]] = []
    copy = 0
    while len(records) < rows:
        prefix = f"copy{copy}/" if copy else ""
        before = len(records)
        for path, info, link in _walk(root):
            kind = _TYPES.get(stat.S_IFMT(info.st_mode), "other")
            size = info.st_size if kind == "file" else 0
            records.append((prefix + path, kind, size, stat.filemode(info.st_mode), info.st_uid,
                            info.st_gid, info.st_mtime, link))
            if len(records) == rows:
                break
        if len(records) == before:
            raise SystemExit(f"nothing readable under {root}")
        copy += 1
    path_, kind_, size_, mode_, uid_, gid_, mtime_, link_ = (
        list(c) for c in zip(*records, strict=True)
    )
    return pd.DataFrame({
        "path": pd.Series(path_, dtype="string"),
        "type": pd.Categorical(kind_, categories=["file", "dir", "symlink", "hardlink", "char",
                                                 "block", "fifo", "other"]),
        "size": pd.Series(size_, dtype="int64"),
        "mode": pd.Series(mode_, dtype="string"),
        "uid": pd.Series(uid_, dtype="int64"),
        "gid": pd.Series(gid_, dtype="int64"),
        "mtime": pd.to_datetime(pd.Series(mtime_, dtype="float64"), unit="s", utc=True),
        "link_target": pd.Series(link_, dtype="string"),
    })


# -- the search term ------------------------------------------------------------------------------


def _first(haystack: list[str], needle: str) -> int:
    return next((i for i, text in enumerate(haystack) if needle in text), -1)


@dataclass(frozen=True)
class Term:
    """A search term whose last keystroke changes the first match under every candidate's rule."""

    text: str
    first: dict[str, str]  # rule -> first matching path after the last key
    before: dict[str, str]  # rule -> first matching path before it
    count: dict[str, int]


def pick_term(frame: pd.DataFrame) -> Term:
    """A base name from the second half of the frame (not on screen at first) whose last
    character moves the first match for: case-sensitive substring of the path (FileGrid),
    case-insensitive substring of the path (ipydatagrid ``stringContains``), and
    case-insensitive substring of any column (DataTables' global search, itables)."""
    paths = frame["path"].astype(str).tolist()
    links = frame["link_target"].fillna("").astype(str).tolist()
    rules: dict[str, list[str]] = {
        "path": paths,
        "path-nocase": [p.lower() for p in paths],
        "any-nocase": [f"{p}\t{lk}".lower() for p, lk in zip(paths, links, strict=True)],
    }
    start = len(paths) // 2
    for index in range(start, len(paths), 97):
        name = paths[index].rpartition("/")[2]
        if not (8 <= len(name) <= 24) or not all(c.islower() or c.isdigit() or c in "._-"
                                                 for c in name):
            continue
        first, before, count = {}, {}, {}
        for rule, haystack in rules.items():
            full, prefix = _first(haystack, name), _first(haystack, name[:-1])
            hits = sum(name in text for text in haystack)
            if (full < start or full == prefix or hits > 40
                    or max(len(paths[full]), len(paths[prefix])) > 72):
                break
            first[rule], before[rule], count[rule] = paths[full], paths[prefix], hits
        else:
            return Term(name, first, before, count)
    raise SystemExit("no usable search term in this frame: try another --root")


# -- candidates -----------------------------------------------------------------------------------

_SETUP = """\
import gc, json, os, time
import ipywidgets as W
import pandas as pd
import psutil
from IPython.display import HTML, display

frame = pd.read_pickle(os.environ["GRIDBENCH_FRAME"])
proc = psutil.Process()
gc.collect()
rss0 = proc.memory_info().rss
"""

_REPORT = """\
probe = W.Button(description="measure kernel")
probe.add_class("bench-probe")
answer = W.HTML()
def measure(_):
    gc.collect()
    answer.value = '<pre class="bench-rss">%d</pre>' % (proc.memory_info().rss - rss0)
probe.on_click(measure)
facts = {"built_s": built, "shown_at_ms": shown_at * 1000, "rss_built": rss1 - rss0}
display(HTML('<pre class="bench-kernel">' + json.dumps(facts) + '</pre>'), W.HBox([probe, answer]))
"""


@dataclass(frozen=True)
class Candidate:
    name: str
    packages: tuple[str, ...]
    build: str  # notebook code setting `view` (what is displayed); `box` for a filter box
    rule: str | None  # Term rule its filter follows; None: no filter measured
    first_js: str  # (path) => bool: the grid's first row shows `path` (DOM candidates)
    box: str = ""  # selector of the filter box
    canvas: bool = False


CANDIDATES = (
    Candidate(
        "floor: ipywidgets.HTML (first path only)",
        ("ipywidgets",),
        "view = W.HTML('<div class=\"bench-floor\">' + str(frame.path.iloc[0]) + '</div>')",
        None,
        "(p) => { const n = document.querySelector('.bench-floor'); "
        "return !!n && n.textContent === p; }",
    ),
    Candidate(
        "FileGrid (ours, anywidget)",
        ("anywidget",),
        "from ociinspect.widgets.grid import FileGrid\nview = FileGrid(frame)",
        "path",
        "(p) => { for (const r of document.querySelectorAll('.oi-grid-row')) "
        "if (!r.hidden && r.style.top === '0px') return r.firstChild.textContent === p; "
        "return false; }",
        box=".oi-grid-filter",
    ),
    Candidate(
        "itables ITable (DataTables, anywidget)",
        ("itables", "anywidget"),
        "from itables.widget import ITable\nview = ITable(frame, maxBytes=0)",
        "any-nocase",
        "(p) => { const c = document.querySelector('table.dataTable tbody tr td'); "
        "return !!c && c.textContent === p; }",
        box=".dt-search input",
    ),
    Candidate(
        "ipydatagrid DataGrid (canvas)",
        ("ipydatagrid",),
        "from ipydatagrid import DataGrid\n"
        "grid = DataGrid(frame, base_column_size=110, column_widths={'path': 640},\n"
        "                layout={'height': '420px'})\n"
        "box = W.Text(placeholder='filter path (kernel transform)')\n"
        "box.add_class('bench-box')\n"
        "def refilter(change):\n"
        "    value = change['new']\n"
        "    grid.transform([{'type': 'filter', 'column': 'path', 'operator': 'stringContains',\n"
        "                     'value': value}] if value else [])\n"
        "box.observe(refilter, 'value')\n"
        "view = W.VBox([box, grid])",
        "path-nocase",
        "",
        box=".bench-box input",
        canvas=True,
    ),
)


def notebook(candidate: Candidate) -> dict[str, Any]:
    build = (
        "t0 = time.perf_counter()\n" + candidate.build + "\nbuilt = time.perf_counter() - t0\n"
        "rss1 = proc.memory_info().rss\nshown_at = time.time()\ndisplay(view)"
    )
    cells = [_SETUP, build, _REPORT]
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
             "outputs": [], "source": source}
            for i, source in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": servers.KERNEL_NAME, "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# -- measuring in the browser ---------------------------------------------------------------------

_CANVAS_HOOK = """
window.__watch = %s; window.__seenAt = null; window.__seenPerf = null;
const fill = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
  if (window.__watch !== null && String(text) === window.__watch && window.__seenAt === null) {
    window.__seenAt = Date.now(); window.__seenPerf = performance.now();
  }
  return fill.call(this, text, ...rest);
};
window.__keyAt = null;
document.addEventListener("keydown", () => { window.__keyAt = performance.now(); }, true);
"""


@dataclass
class Result:
    candidate: Candidate
    version: str
    built_s: float = 0.0
    first_rows_s: float = 0.0
    page_to_rows_s: float = 0.0
    keystroke_ms: list[float] = field(default_factory=list)
    ws_bytes: int = 0
    ws_largest: int = 0
    rss_built: int = 0
    rss_after: int = 0
    note: str = ""


def _until(page: Any, candidate: Candidate, path: str,
           timeout: int = STEP_TIMEOUT_MS) -> tuple[float, float]:
    """(epoch ms, performance.now ms) of the first frame that shows ``path`` as the first row
    (DOM candidates), or of the ``fillText`` that painted it (canvas)."""
    if candidate.canvas:
        handle = page.wait_for_function(
            "() => (window.__seenAt !== null ? [window.__seenAt, window.__seenPerf] : false)",
            polling="raf", timeout=timeout,
        )
    else:
        handle = page.wait_for_function(
            f"(p) => (({candidate.first_js})(p) ? [Date.now(), performance.now()] : false)",
            arg=path, polling="raf", timeout=timeout,
        )
    at, perf = handle.json_value()
    return float(at), float(perf)


def _watch(page: Any, candidate: Candidate, path: str) -> None:
    if candidate.canvas:
        page.evaluate("(p) => { window.__watch = p; window.__seenAt = null; }", path)


def measure(context: Any, candidate: Candidate, frame_file: Path, frame: pd.DataFrame,
            term: Term, repeats: int, workdir: Path) -> Result:
    version = ", ".join(f"{p} {metadata.version(p)}" for p in candidate.packages)
    result = Result(candidate, version)
    nb_dir = workdir / "notebooks"
    nb_dir.mkdir(parents=True, exist_ok=True)
    nb_path = nb_dir / "grid.ipynb"
    nb_path.write_text(json.dumps(notebook(candidate)))
    env = servers.jupyter_env(workdir / "jupyter", {"GRIDBENCH_FRAME": str(frame_file)})
    server = servers.start_voila(nb_path, env, workdir)
    page = context.new_page()
    received: list[int] = []

    def on_socket(socket: Any) -> None:
        socket.on("framereceived", lambda payload: received.append(
            len(payload) if isinstance(payload, bytes | str) else 0))

    page.on("websocket", on_socket)
    first_path = str(frame["path"].iloc[0])
    page.add_init_script(_CANVAS_HOOK % json.dumps(first_path if candidate.canvas else None))
    try:
        page.goto(server.url, wait_until="commit", timeout=RENDER_TIMEOUT_MS)
        handle = page.wait_for_function(
            "() => { const n = document.querySelector('.bench-kernel'); "
            "return !!n && n.textContent; }",
            timeout=RENDER_TIMEOUT_MS, polling=200,
        )
        facts = json.loads(handle.json_value())
        at, perf = _until(page, candidate, first_path, RENDER_TIMEOUT_MS)
        result.built_s = facts["built_s"]
        result.first_rows_s = (at - facts["shown_at_ms"]) / 1000
        result.page_to_rows_s = perf / 1000
        result.rss_built = facts["rss_built"]
        page.screenshot(path=str(workdir / "first.png"))
        if candidate.rule is not None:
            result.keystroke_ms = _keystrokes(page, candidate, term, first_path, repeats)
            page.screenshot(path=str(workdir / "filtered.png"))
        page.locator(".bench-probe").click()
        rss = page.locator(".bench-rss").text_content(timeout=STEP_TIMEOUT_MS)
        result.rss_after = int(rss or 0)
        result.ws_bytes = sum(received)
        result.ws_largest = max(received, default=0)
    finally:
        page.close()
        server.stop()
    return result


def _keystrokes(page: Any, candidate: Candidate, term: Term, first_path: str,
                repeats: int) -> list[float]:
    assert candidate.rule is not None
    box = page.locator(candidate.box).first
    times = []
    for _ in range(repeats):
        if box.input_value():
            _watch(page, candidate, first_path)
            box.fill("")
            _until(page, candidate, first_path)
        _watch(page, candidate, term.before[candidate.rule])
        box.click()
        box.press_sequentially(term.text[:-1])
        _until(page, candidate, term.before[candidate.rule])
        time.sleep(0.3)
        _watch(page, candidate, term.first[candidate.rule])
        page.evaluate("() => { window.__keyAt = null; }")
        box.press(term.text[-1])
        _, perf = _until(page, candidate, term.first[candidate.rule])
        key = page.evaluate("() => window.__keyAt")
        times.append(perf - float(key))
    return times


# -- the report -----------------------------------------------------------------------------------


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f}"


def table(results: list[Result]) -> str:
    lines = [
        "| component | version | build in kernel s | display → first rows s | page → first rows s "
        "| keystroke → grid ms (median, min–max) | websocket bytes (largest frame) MiB "
        "| kernel RSS +MiB (built / after render) |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in results:
        keys = (f"{statistics.median(r.keystroke_ms):.0f} ({min(r.keystroke_ms):.0f}–"
                f"{max(r.keystroke_ms):.0f})" if r.keystroke_ms else "n/a")
        lines.append(
            f"| {r.candidate.name} | {r.version} | {r.built_s:.2f} | {r.first_rows_s:.2f} "
            f"| {r.page_to_rows_s:.2f} | {keys} | {_mib(r.ws_bytes)} ({_mib(r.ws_largest)}) "
            f"| {_mib(r.rss_built)} / {_mib(r.rss_after)} |"
        )
    return "\n".join(lines)


def _loopback_only(route: Any) -> None:
    if urlsplit(route.request.url).hostname in LOOPBACK:
        route.continue_()
    else:
        route.abort()


def run(rows: int, repeats: int, root: Path, only: Callable[[Candidate], bool]) -> tuple[
        list[Result], Term, pd.DataFrame]:
    from playwright.sync_api import sync_playwright

    frame = listing_frame(rows, root)
    term = pick_term(frame)
    work = Path(tempfile.mkdtemp(prefix="gridbench-"))
    frame_file = work / "frame.pkl"
    frame.to_pickle(frame_file)
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1300, "height": 1000})
        context.route("**/*", _loopback_only)
        try:
            for index, candidate in enumerate(CANDIDATES):
                if not only(candidate):
                    continue
                print(f"measuring {candidate.name} …", file=sys.stderr, flush=True)
                results.append(measure(context, candidate, frame_file, frame, term, repeats,
                                       work / f"c{index}"))
        finally:
            browser.close()
    print(f"screenshots and Voila logs: {work}", file=sys.stderr)
    return results, term, frame


def report(results: list[Result], term: Term, frame: pd.DataFrame, args: argparse.Namespace,
           seconds: float) -> str:
    files = int((frame["type"] == "file").sum())
    head = (
        f"# Grid components for file listings\n\n"
        f"`python -m benchmarks.grid_components --rows {args.rows} --repeats {args.repeats} "
        f"--root {args.root}` on {os.cpu_count()} cores, {host_platform.machine()}; "
        f"Python {host_platform.python_version()}, voila {metadata.version('voila')}, "
        f"ipywidgets {metadata.version('ipywidgets')}, pandas {metadata.version('pandas')}, "
        f"chromium {_chromium_version()}; load average at the end "
        f"{os.getloadavg()[0]:.2f}; the run took {seconds:.0f} s.\n\n"
        f"The frame: {len(frame):,} rows of `{args.root}` walked with `lstat` ({files:,} files, "
        f"path, type, size, mode, uid, gid, mtime, link_target: the files table's columns and "
        f"dtypes), {frame.memory_usage(deep=True).sum() / 2**20:.1f} MiB in pandas. Search term "
        f"`{term.text}`: its last key changes the first match from "
        f"`{term.before['path']}` to `{term.first['path']}` "
        f"({term.count['path']} matches); keystroke times are over {args.repeats} repeats.\n\n"
    )
    return head + table(results) + "\n"


def _chromium_version() -> str:
    import subprocess

    try:
        out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    found = re.search(r"\d+(\.\d+)+", out.stdout)
    return found.group(0) if found else "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--root", type=Path, default=Path("/usr"))
    parser.add_argument("--only", default="", help="measure candidates whose name contains this")
    parser.add_argument("--out", type=Path, default=HERE / "grid_components.md")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results, term, frame = run(args.rows, args.repeats, args.root,
                               lambda c: args.only.lower() in c.name.lower())
    text = report(results, term, frame, args, time.monotonic() - started)
    print(text)
    if not args.only:
        previous = args.out.read_text() if args.out.exists() else ""
        # The prose after the table (what the columns mean, the decision) is kept as written.
        marker = "\nWhat the columns mean"
        decision = previous[previous.index(marker):] if marker in previous else ""
        args.out.write_text(text + decision)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
