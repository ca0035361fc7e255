"""FileGrid in a real browser: Debian's chromium, driven by Playwright, on the notebook
tests/browser/grid.ipynb served by Voila on 127.0.0.1, with a 15,000-row listing of the real
files of this interpreter's standard library. What only a browser shows: the rows drawn,
filter, sort and selection working in the page and reaching the kernel, a narrow window, the
theme's colours as rendered. The ES module's pure helpers are also run in Chromium against
the Python rules they mirror. Screenshots are saved under each test's tmp_path."""

from __future__ import annotations

import base64
import os
import re
import stat
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from browser import servers
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
from test_browser import CHROMIUM, CHROMIUM_ARGS, STDERR, _loopback_only
from test_grid import MATCHES, SIZES

from ociinspect.values.units import format_size
from ociinspect.widgets import grid as g

pytestmark = [pytest.mark.browser]

ROWS = 15_000
RENDER_TIMEOUT = 90_000
GRID_ROW = ".oi-grid-row:not([hidden])"
_TYPES = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}


def _walk(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Every entry under root with its lstat, in sorted depth-first order, as tar lists."""
    stack = [root]
    while stack:
        here = stack.pop()
        info = here.lstat()
        yield here, info
        if stat.S_ISDIR(info.st_mode):
            stack.extend(sorted(here.iterdir(), reverse=True))


def stdlib_listing(rows: int = ROWS) -> pd.DataFrame:
    """``rows`` entries of this interpreter's standard library tree, with the files table's
    dtypes; repeated under ``copyN/`` if the tree is smaller."""
    root = Path(sysconfig.get_paths()["stdlib"])
    records: list[tuple[Any, ...]] = []
    copy = 0
    while len(records) < rows:
        for path, info in _walk(root):
            kind = _TYPES.get(stat.S_IFMT(info.st_mode), "other")
            records.append((
                f"copy{copy}/" * bool(copy) + str(path).lstrip("/"),
                kind,
                info.st_size if kind == "file" else 0,
                stat.filemode(info.st_mode),
                info.st_uid,
                info.st_gid,
                int(info.st_mtime),
                os.readlink(path) if kind == "symlink" else None,
            ))
            if len(records) == rows:
                break
        copy += 1
    columns = list(zip(*records, strict=True))
    return pd.DataFrame({
        "path": pd.Series(columns[0], dtype="string"),
        "type": pd.Categorical(columns[1], categories=["file", "dir", "symlink", "other"]),
        "size": pd.Series(columns[2], dtype="int64"),
        "mode": pd.Series(columns[3], dtype="string"),
        "uid": pd.Series(columns[4], dtype="int64"),
        "gid": pd.Series(columns[5], dtype="int64"),
        "mtime": pd.to_datetime(pd.Series(columns[6], dtype="int64"), unit="s", utc=True),
        "link_target": pd.Series(columns[7], dtype="string"),
    })


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """The 15,000-row listing the notebook shows."""
    listing = stdlib_listing()
    assert len(listing) == ROWS and listing["path"].is_unique
    return listing


@pytest.fixture(scope="module")
def voila(
    tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame
) -> Iterator[servers.Server]:
    """Voila serving tests/browser/grid.ipynb, the frame handed over as a pickle."""
    workdir = tmp_path_factory.mktemp("grid-voila")
    frame.to_pickle(workdir / "frame.pkl")
    env = servers.jupyter_env(workdir / "jupyter",
                              {"OCIINSPECT_TEST_GRID_FRAME": str(workdir / "frame.pkl")})
    notebook = servers.copy_notebook("grid.ipynb", workdir / "notebooks")
    server = servers.start_voila(notebook, env, workdir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Debian's chromium with a fresh profile, reaching loopback only."""
    profile = tmp_path_factory.mktemp("chromium-grid")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1300, "height": 1000},
        )
        context.route("**/*", _loopback_only)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(chromium: BrowserContext) -> Iterator[Page]:
    """A new tab, closed after the test."""
    tab = chromium.new_page()
    try:
        yield tab
    finally:
        tab.close()


def open_grid(page: Page, server: servers.Server, query: str = "") -> None:
    """The notebook's page with the grid drawn and no error output."""
    page.goto(server.url + query, wait_until="domcontentloaded")
    expect(page.locator(".oi-grid-count")).to_have_text(f"{ROWS:,} rows", timeout=RENDER_TIMEOUT)
    expect(page.locator(STDERR)).to_have_count(0)


def first_path(page: Page) -> str:
    """The path in the row drawn at the top of the grid."""
    top = page.locator(".oi-grid-row[aria-rowindex='2']:not([hidden]) .oi-grid-cell")
    return top.first.inner_text()


def kernel(page: Page, name: str) -> Any:
    """The kernel's own view of one trait, as its observer wrote it under the grid."""
    return page.locator(f".grid-kernel .k-{name}")


# -- the ES module's rules, in Chromium -----------------------------------------------------------


def _module_call(page: Page, body: str, arg: Any) -> Any:
    source = base64.b64encode((g.STATIC / "grid.js").read_bytes()).decode()
    return page.evaluate(
        "async ([src, arg]) => { const m = await import('data:text/javascript;base64,' + src);"
        f" return ({body})(m, arg); }}",
        [source, arg],
    )


def test_module_filter_rule_is_the_python_rule(page: Page) -> None:
    """makeMatcher in Chromium agrees with path_matches on every case of the rule's table."""
    cases = [[path, pattern] for path, pattern, _, _ in MATCHES]
    got = _module_call(page, "(m, cases) => cases.map(([p, q]) => { const f = m.makeMatcher(q);"
                             " return f === null || f(p); })", cases)
    assert got == [g.path_matches(path, pattern) for path, pattern in cases]


def test_module_sizes_read_as_in_python(page: Page) -> None:
    """humanSize in Chromium writes what format_size writes, BigInt sizes included."""
    numbers = [size for size, _ in SIZES] + [1_234_567, 10**15 + 7]
    got = _module_call(page, "(m, xs) => xs.map((x) => m.humanSize(BigInt(x)))",
                       [str(n) for n in numbers])
    assert got == [format_size(n) for n in numbers]


def _mixed_frame() -> pd.DataFrame:
    paths = ["usr/é/𝄞b", "usr/é/𝄞a", None, "usr/a", "usr/b", "etc/x", "etc/xy", "usr/é/𝄞"]
    return pd.DataFrame({
        "path": pd.Series(paths, dtype="string"),
        "type": pd.Categorical(["file", "dir", "file", "file", None, "dir", "file", "file"]),
        "size": pd.Series([5, 2**60, 0, 7, 5, None, 2**53 + 1, 1], dtype="Int64"),
        "uid": pd.Series([3, 1, 2, 1, 3, 0, 0, 2], dtype="int64"),
        "mtime": pd.to_datetime([1.5, 0.25, None, 3, 1.5, 2, 4, 5], unit="s", utc=True),
        "ok": [True, False, True, False, True, True, False, False],
    })


def test_module_decodes_and_sorts_as_python(page: Page) -> None:
    """decodeColumn recovers every value of a payload (front-coded astral paths, BigInt sizes,
    millisecond times, dictionaries, nulls) and sortOrder gives view_order's order for every
    column, both ways."""
    frame = _mixed_frame()
    payload = g.encode_frame(frame)
    got = _module_call(
        page,
        "(m, p) => p.columns.map((spec) => { const c = m.decodeColumn(spec);"
        " const values = []; for (let i = 0; i < p.rows; i++) { const v = c.value(i);"
        " values.push(v === null ? null : String(v)); }"
        " const orders = [true, false].map((up) => Array.from(m.sortOrder(c, p.rows, up)));"
        " return [spec.name, values, orders]; })",
        payload,
    )
    for name, values, (up, down) in got:
        series = frame[name]
        if name == "mtime":
            expected = [None if pd.isna(t) else str(t.value // 10**6) for t in series]
        elif name == "ok":
            expected = [str(v).lower() for v in series]
        else:
            expected = [None if pd.isna(v) else str(v) for v in series]
        assert values == expected, name
        assert up == g.view_order(frame, name, True).tolist(), name
        assert down == g.view_order(frame, name, False).tolist(), name


# -- the widget in Voila --------------------------------------------------------------------------


def test_filter_finds_the_path_that_sorts_last(page: Page, voila: servers.Server,
                                               frame: pd.DataFrame, tmp_path: Path) -> None:
    """Typing the path that sorts last shows it at the top; a glob shows as many rows as
    filter_mask counts; the kernel learns the filter and the count."""
    open_grid(page, voila)
    last = str(frame["path"].max())
    box = page.locator(".oi-grid-filter")
    box.fill(last)
    expected = int(g.filter_mask(frame["path"], last).sum())
    expect(page.locator(".oi-grid-count")).to_have_text(f"{expected:,} of {ROWS:,} rows")
    assert first_path(page) == last
    expect(kernel(page, "filter")).to_have_text(last)
    expect(kernel(page, "shown")).to_have_text(str(expected))
    page.screenshot(path=str(tmp_path / "grid-filter.png"))
    box.fill("*.py")
    count = int(g.filter_mask(frame["path"], "*.py").sum())
    assert 0 < count < ROWS
    expect(page.locator(".oi-grid-count")).to_have_text(f"{count:,} of {ROWS:,} rows")
    assert first_path(page).endswith(".py")
    box.fill("no such path anywhere")
    expect(page.locator(".oi-grid-empty")).to_be_visible()
    expect(page.locator(GRID_ROW)).to_have_count(0)


def test_sorting_by_size_puts_the_largest_first(page: Page, voila: servers.Server,
                                                frame: pd.DataFrame) -> None:
    """A click on 'size' sorts largest first (shown human-readable, exact bytes in the
    tooltip); a second click smallest first; the kernel learns each sort."""
    open_grid(page, voila)
    header = page.locator(".oi-grid-th[data-column='size'] button")
    header.click()
    expect(page.locator(".oi-grid-th[data-column='size']")).to_have_attribute(
        "aria-sort", "descending")
    largest = frame.iloc[g.view_order(frame, "size", False)[0]]
    expect(page.locator(".oi-grid-row[aria-rowindex='2'] .oi-grid-cell").first).to_have_text(
        str(largest["path"]))
    size_cell = page.locator(".oi-grid-row[aria-rowindex='2'] .oi-grid-cell").nth(2)
    expect(size_cell).to_have_text(format_size(int(largest["size"])))
    expect(size_cell).to_have_attribute("title", f"{int(largest['size']):,} bytes")
    expect(kernel(page, "sort")).to_have_text("size False")
    header.click()
    smallest = frame.iloc[g.view_order(frame, "size", True)[0]]
    expect(page.locator(".oi-grid-row[aria-rowindex='2'] .oi-grid-cell").first).to_have_text(
        str(smallest["path"]))
    expect(kernel(page, "sort")).to_have_text("size True")


def test_selecting_a_row_sets_selected_in_the_kernel(page: Page, voila: servers.Server,
                                                     frame: pd.DataFrame) -> None:
    """A click on a row selects its path in the kernel; ArrowDown selects the next row."""
    open_grid(page, voila)
    row = page.locator(".oi-grid-row[aria-rowindex='4']")
    row.click()
    expect(kernel(page, "selected")).to_have_text(str(frame["path"].iloc[2]))
    expect(row).to_have_attribute("aria-selected", "true")
    page.locator(".oi-grid-scroll").press("ArrowDown")
    expect(kernel(page, "selected")).to_have_text(str(frame["path"].iloc[3]))
    expect(page.locator(".oi-grid-row.oi-grid-selected")).to_have_count(1)
    expect(row).to_have_attribute("aria-selected", "false")


def test_grid_is_usable_668_pixels_wide(page: Page, voila: servers.Server, tmp_path: Path) -> None:
    """At 668 px the page does not scroll sideways, the filter box and the path column fit,
    the grid scrolls sideways inside itself with the path column kept in view, and a click
    still selects."""
    page.set_viewport_size({"width": 668, "height": 900})
    open_grid(page, voila)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 668
    box = page.locator(".oi-grid-filter").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 668
    assert box["width"] >= 200
    path_cell = page.locator(".oi-grid-row[aria-rowindex='2'] .oi-grid-cell").first
    cell = path_cell.bounding_box()
    assert cell is not None and cell["width"] >= 150 and cell["x"] + cell["width"] <= 668
    scroller = page.locator(".oi-grid-scroll")
    scroller.evaluate("(s) => { s.scrollLeft = s.scrollWidth; }")
    link_header = page.locator(".oi-grid-th[data-column='link_target']").bounding_box()
    assert link_header is not None and link_header["x"] + link_header["width"] <= 668 + 1
    moved = path_cell.bounding_box()
    assert moved is not None and abs(moved["x"] - cell["x"]) < 1  # sticky path column
    page.screenshot(path=str(tmp_path / "grid-668.png"))
    page.locator(".oi-grid-row[aria-rowindex='3']").click(position={"x": 40, "y": 10})
    expect(kernel(page, "selected")).not_to_have_text("None")


_COLOURS = """(selector) => {
  const node = document.querySelector(selector);
  const chain = [];
  for (let n = node; n; n = n.parentElement) chain.push(getComputedStyle(n).backgroundColor);
  return {color: getComputedStyle(node).color, backgrounds: chain};
}"""


def _rgba(text: str) -> tuple[float, float, float, float]:
    """A computed CSS colour (rgb(), rgba() or color(srgb …)) as 0–1 floats."""
    numbers = [float(x) for x in re.findall(r"[\d.]+", text.split("(", 1)[1])]
    if text.startswith("color("):
        r, gr, b = numbers[:3]
        return r, gr, b, numbers[3] if len(numbers) > 3 else 1.0
    r, gr, b = (x / 255 for x in numbers[:3])
    return r, gr, b, numbers[3] if len(numbers) > 3 else 1.0


def _over(top: tuple[float, ...], bottom: tuple[float, ...]) -> tuple[float, float, float, float]:
    alpha = top[3]
    return (*(top[i] * alpha + bottom[i] * (1 - alpha) for i in range(3)), 1.0)  # type: ignore[return-value]


def _luminance(rgb: tuple[float, ...]) -> float:
    """WCAG 2.2 relative luminance."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, gr, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * gr + 0.0722 * b


def rendered_contrast(page: Page, selector: str) -> tuple[float, float]:
    """(WCAG contrast ratio of the text, luminance of the background) as rendered: the
    backgrounds of the element and its ancestors composited over white, the text over that."""
    found = page.evaluate(_COLOURS, selector)
    background: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    for layer in reversed(found["backgrounds"]):
        background = _over(_rgba(layer), background)
    text = _over(_rgba(found["color"]), background)
    lighter, darker = sorted((_luminance(text), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05), _luminance(background)


@pytest.mark.parametrize(("query", "dark"), [("?theme=dark", True), ("?theme=light", False)],
                         ids=["JupyterLab Dark theme in Voila", "JupyterLab Light theme in Voila"])
def test_text_contrast_in_the_theme(page: Page, voila: servers.Server, tmp_path: Path,
                                    query: str, dark: bool) -> None:
    """In the theme asked for (its background really dark or light), row text, striped row
    text, the selected row, the header and the row count reach 4.5:1 as rendered."""
    open_grid(page, voila, query)
    page.locator(".oi-grid-row[aria-rowindex='3']").click()
    expect(page.locator(".oi-grid-row.oi-grid-selected")).to_have_count(1)
    page.mouse.move(0, 0)  # no hover colour
    results = {
        name: rendered_contrast(page, selector)
        for name, selector in {
            "row": ".oi-grid-row[aria-rowindex='2'] .oi-grid-cell",
            "striped row": ".oi-grid-row[aria-rowindex='5'] .oi-grid-cell",
            "selected row": ".oi-grid-row.oi-grid-selected .oi-grid-cell",
            "header": ".oi-grid-th button",
            "count": ".oi-grid-count",
        }.items()
    }
    page.screenshot(path=str(tmp_path / f"grid-{'dark' if dark else 'light'}.png"))
    _, row_background = results["row"]
    assert (row_background < 0.05) if dark else (row_background > 0.8), results
    for name, (ratio, _) in results.items():
        assert ratio >= 4.5, f"{name}: {ratio:.2f}:1 in {results}"


_KERNEL_IDLE = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  const session = panel && panel.sessionContext && panel.sessionContext.session;
  const kernel = session && session.kernel;
  return !!kernel && kernel.connectionStatus === "connected" && kernel.status === "idle";
}"""


def test_jupyterlab_dark_theme(page: Page, tmp_path: Path, frame: pd.DataFrame) -> None:
    """In JupyterLab 4 switched to JupyterLab Dark, the grid renders, a filter keystroke and a
    row click work, and row, selected row and header text reach 4.5:1 as rendered."""
    frame.to_pickle(tmp_path / "frame.pkl")
    env = servers.jupyter_env(tmp_path / "jupyter",
                              {"OCIINSPECT_TEST_GRID_FRAME": str(tmp_path / "frame.pkl")})
    root = tmp_path / "notebooks"
    servers.copy_notebook("grid.ipynb", root)
    server = servers.start_lab(root, env, tmp_path)
    try:
        page.goto(f"{server.url}/lab/tree/grid.ipynb?token={server.token}",
                  wait_until="domcontentloaded")
        page.wait_for_function(_KERNEL_IDLE, timeout=RENDER_TIMEOUT)
        page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        expect(page.locator(".oi-grid-count")).to_have_text(f"{ROWS:,} rows",
                                                            timeout=RENDER_TIMEOUT)
        last = str(frame["path"].max())
        page.locator(".oi-grid-filter").fill(last)
        expect(page.locator(".oi-grid-count")).to_have_text(f"1 of {ROWS:,} rows")
        page.locator(".oi-grid-filter").fill("")
        page.locator(".oi-grid-row[aria-rowindex='3']").click()
        expect(kernel(page, "selected")).to_have_text(str(frame["path"].iloc[1]))
        page.mouse.move(0, 0)
        results = {
            name: rendered_contrast(page, selector)
            for name, selector in {
                "row": ".oi-grid-row[aria-rowindex='2'] .oi-grid-cell",
                "selected row": ".oi-grid-row.oi-grid-selected .oi-grid-cell",
                "header": ".oi-grid-th button",
            }.items()
        }
        page.screenshot(path=str(tmp_path / "grid-jupyterlab-dark.png"))
        assert results["row"][1] < 0.05, results  # the theme really is dark
        for name, (ratio, _) in results.items():
            assert ratio >= 4.5, f"{name}: {ratio:.2f}:1 in {results}"
        expect(page.locator(STDERR)).to_have_count(0)
    finally:
        server.stop()
