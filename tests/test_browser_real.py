"""The image browser on real images in a real browser: Debian's chromium, driven by Playwright,
on pages Voila and JupyterLab serve on 127.0.0.1 (tests/browser/servers.py). The image with
15,000+ entries in one layer is umoci's (``real_images.many_files()``). What only a browser
shows: every entry reachable in the grid, filter and sort in the page, the tree's directory
sizes, a file's contents, clicks on platform rows and chart bars, copy buttons, a 668 px
notebook, JupyterLab Dark's colours as rendered, and the snapshot a saved notebook keeps.
Screenshots are saved under each test's tmp_path."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from browser import servers
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
from realimages import RealImages
from test_browser import CHROMIUM, CHROMIUM_ARGS, STDERR, _loopback_only
from test_grid_browser import rendered_contrast

import ociinspect
from ociinspect import api
from ociinspect.values.units import format_size
from ociinspect.widgets import grid as g
from ociinspect.widgets.files import optional_api

pytestmark = [pytest.mark.browser]

RENDER_TIMEOUT = 120_000
GRID_ROW = ".oi-grid-row:not([hidden])"


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Debian's chromium with a fresh profile, reaching loopback only, clipboard allowed."""
    profile = tmp_path_factory.mktemp("chromium-real")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1300, "height": 1000},
        )
        context.route("**/*", _loopback_only)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
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


@pytest.fixture(scope="module")
def many_ref(real_images: RealImages) -> str:
    """``oci:`` reference of the 15,483-entry umoci image (gzip)."""
    return real_images.many_files().variant("gzip").ref


@pytest.fixture(scope="module")
def many_voila(tmp_path_factory: pytest.TempPathFactory, many_ref: str) -> Iterator[servers.Server]:
    """Voila serving tests/browser/browse.ipynb on the many-files image."""
    workdir = tmp_path_factory.mktemp("voila-many")
    env = servers.jupyter_env(workdir / "jupyter", {"OCIINSPECT_TEST_REF": many_ref})
    notebook = servers.copy_notebook("browse.ipynb", workdir / "notebooks")
    server = servers.start_voila(notebook, env, workdir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sample_voila(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    """Voila serving tests/browser/browse.ipynb on the bundled sample (3 platforms)."""
    workdir = tmp_path_factory.mktemp("voila-sample")
    env = servers.jupyter_env(workdir / "jupyter", {})
    notebook = servers.copy_notebook("browse.ipynb", workdir / "notebooks")
    server = servers.start_voila(notebook, env, workdir)
    try:
        yield server
    finally:
        server.stop()


def _open(page: Page, server: servers.Server, layers: int) -> None:
    page.goto(server.url, wait_until="domcontentloaded")
    expect(page.locator(".oi-layers-view tbody tr")).to_have_count(layers, timeout=RENDER_TIMEOUT)
    expect(page.locator(STDERR)).to_have_count(0)


def _tab(page: Page, name: str) -> None:
    page.locator(".oi-tabs").get_by_role("tab", name=name, exact=True).click()


def _first_path(page: Page) -> str:
    top = page.locator(".oi-grid-row[aria-rowindex='2']:not([hidden]) .oi-grid-cell")
    return top.first.inner_text()


# -- 15,000 entries in one layer --------------------------------------------------------------


def test_every_entry_of_a_15000_entry_layer_is_reachable(
    page: Page, many_voila: servers.Server, many_ref: str, tmp_path: Path
) -> None:
    """A click on the layer row lists all 15,483 entries; a filter finds the path that sorts
    last; a click on size puts the largest first; selecting a file shows read_file's bytes."""
    frame = pd.DataFrame(api.files(many_ref, 0))
    assert len(frame) > 15_000
    _open(page, many_voila, 1)
    page.locator(".oi-layers-view tbody tr").first.click()
    count = page.locator(".oi-files-grid .oi-grid-count")
    expect(count).to_have_text(f"{len(frame):,} rows", timeout=RENDER_TIMEOUT)
    last = str(frame["path"].max())
    page.locator(".oi-files-grid .oi-grid-filter").fill(last)
    expected = int(g.filter_mask(frame["path"], last).sum())
    expect(count).to_have_text(f"{expected:,} of {len(frame):,} rows")
    assert _first_path(page) == last
    page.locator(".oi-files-grid .oi-grid-filter").fill("")
    page.locator(".oi-grid-th[data-column='size'] button").click()
    largest = frame.iloc[g.view_order(frame, "size", False)[0]]
    expect(page.locator(".oi-grid-row[aria-rowindex='2'] .oi-grid-cell").first).to_have_text(
        str(largest["path"])
    )
    page.locator(".oi-grid-row[aria-rowindex='2']").click()
    details = page.locator(".oi-file-details")
    reader = optional_api("read_file")
    assert reader is not None
    data = bytes(reader(many_ref, str(largest["path"])))
    text = details.locator("pre.oi-text")
    expect(text).to_be_visible(timeout=RENDER_TIMEOUT)
    assert text.inner_text() == data.decode()
    expect(details).to_contain_text(f"Download {str(largest['path']).rpartition('/')[2]}")
    page.screenshot(path=str(tmp_path / "many-files-grid.png"), full_page=True)


def test_the_tree_shows_directory_sizes_and_links(
    page: Page, many_voila: servers.Server, many_ref: str, tmp_path: Path
) -> None:
    """In the merged view's tree, each top directory shows the sum of filesystem() below
    it; expanding one shows its children; a hardlink's target is a button that selects it."""
    merged = pd.DataFrame(api.filesystem(many_ref))
    _open(page, many_voila, 1)
    _tab(page, "Files")
    page.locator(".oi-merged input").check()
    page.locator(".oi-files-mode button", has_text="Tree").click()
    rows = page.locator(".oi-tree-row:not([hidden])")
    expect(rows.first).to_be_visible(timeout=RENDER_TIMEOUT)
    page.locator(".oi-tree-collapse").click()
    expect(rows).to_have_count(2)
    for top in ("links", "tree"):
        row = page.locator(f".oi-tree-row[data-path='{top}']")
        total = int(merged[merged["path"].str.startswith(top + "/")]["size"].sum())
        expect(row.locator(".oi-tree-size")).to_have_text(format_size(total))
        expect(row.locator(".oi-tree-size")).to_have_attribute("title", f"{total:,} bytes below")
    page.locator(".oi-tree-row[data-path='tree'] .oi-tree-toggle").click()
    expect(page.locator(".oi-tree-row[data-path='tree/d00']")).to_be_visible()
    page.locator(".oi-tree-row[data-path='tree/d00'] .oi-tree-toggle").click()
    page.locator(".oi-tree-row[data-path='tree/d00/s0'] .oi-tree-toggle").click()
    link = page.locator(".oi-tree-row[data-path='tree/d00/s0/f00.txt'] .oi-tree-target")
    expect(link).to_have_text("⇒ links/l000.txt")
    link.click()
    expect(page.locator(".oi-tree-row.oi-tree-selected")).to_have_attribute(
        "data-path", "links/l000.txt"
    )
    page.screenshot(path=str(tmp_path / "many-files-tree.png"), full_page=True)


def test_at_668_pixels_the_status_is_visible_and_nothing_escapes(
    page: Page, many_voila: servers.Server, tmp_path: Path
) -> None:
    """At 668 px the status line has room and text, the page does not scroll sideways, and
    the less important columns wait behind "All columns"."""
    page.set_viewport_size({"width": 668, "height": 1000})
    _open(page, many_voila, 1)
    status = page.locator(".oi-status")
    expect(status).to_contain_text("done in")
    box = status.bounding_box()
    assert box is not None and box["width"] >= 150 and box["x"] + box["width"] <= 668
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 668
    created = page.locator(".oi-layers-view th.oi-col-created")
    expect(created).to_be_hidden()
    page.locator(".oi-columns-toggle input").check()
    expect(created).to_be_visible()
    page.screenshot(path=str(tmp_path / "many-files-668.png"), full_page=True)


# -- clicks on the bundled sample -------------------------------------------------------------


def test_a_chart_bar_and_a_platform_row_select_their_platform(
    page: Page, sample_voila: servers.Server, tmp_path: Path
) -> None:
    """A click on a chart bar selects its platform; a click on a platform row too; a click on
    a layer row opens it in Files; a copy button puts the full digest on the clipboard."""
    _open(page, sample_voila, 5)
    # The live chart's bars carry the action; the saved snapshot's copy (static HTML for
    # GitHub) may be in the page too and must not be what is clicked.
    page.locator(".oi-chart-row[data-oi-action='platform'][data-platform='linux/arm/v7']").click()
    expect(page.locator(".oi-image-header")).to_contain_text("linux/arm/v7")
    expect(page.locator(".oi-platform select")).to_have_value("linux/arm/v7")
    page.locator(".oi-platforms-view tbody tr", has_text="linux/arm64/v8").first.click()
    expect(page.locator(".oi-image-header")).to_contain_text("linux/arm64/v8")
    expect(page.locator(".oi-chart-row.oi-chosen[data-oi-action='platform']")).to_have_attribute(
        "data-platform", "linux/arm64/v8"
    )
    button = page.locator(".oi-image-header .oi-copy").first
    digest = button.get_attribute("data-oi-copy")
    assert digest is not None and re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    button.click()
    expect(button).to_have_attribute("data-oi-copied", "true")
    assert page.evaluate("() => navigator.clipboard.readText()") == digest
    page.locator(".oi-layers-view tbody tr").nth(2).click()
    expect(page.locator(".oi-tabs .lm-TabBar-tab.lm-mod-current")).to_have_text("Files")
    expect(page.locator(".oi-layer select option:checked")).to_have_text(re.compile(r"^#2\s"))
    expect(page.locator(".oi-files-grid .oi-grid-count")).to_contain_text("rows")
    page.screenshot(path=str(tmp_path / "sample-clicks.png"), full_page=True)


# -- JupyterLab: a narrow notebook, the Dark theme, the saved snapshot ------------------------

_KERNEL_IDLE = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  const session = panel && panel.sessionContext && panel.sessionContext.session;
  const kernel = session && session.kernel;
  return !!kernel && kernel.connectionStatus === "connected" && kernel.status === "idle";
}"""


def test_jupyterlab_dark_narrow_and_saved(page: Page, tmp_path: Path) -> None:
    """In JupyterLab 4, JupyterLab Dark, a 668 px notebook: the status text is visible; the
    selected platform row, the Raw JSON text and the tree's selected row reach 4.5:1 as
    rendered; after a platform switch the saved notebook's snapshot shows the new platform."""
    env = servers.jupyter_env(tmp_path / "jupyter", {})
    root = tmp_path / "notebooks"
    servers.copy_notebook("browse.ipynb", root)
    server = servers.start_lab(root, env, tmp_path)
    try:
        page.goto(f"{server.url}/lab/tree/browse.ipynb?token={server.token}",
                  wait_until="domcontentloaded")
        page.wait_for_function(_KERNEL_IDLE, timeout=RENDER_TIMEOUT)
        page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        width = page.evaluate(
            "() => document.querySelector('.jp-NotebookPanel').getBoundingClientRect().width"
        )
        page.set_viewport_size({"width": int(1300 - (width - 668)), "height": 1000})
        page.wait_for_function(
            "() => Math.abs(document.querySelector('.jp-NotebookPanel')"
            ".getBoundingClientRect().width - 668) < 2"
        )
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        browser = page.locator(".oi-browser")
        expect(browser.locator(".oi-layers-view tbody tr")).to_have_count(5,
                                                                          timeout=RENDER_TIMEOUT)
        status = browser.locator(".oi-status")
        expect(status).to_contain_text("done in")
        box = status.bounding_box()
        assert box is not None and box["width"] >= 150
        browser.locator(".oi-chart-row[data-platform='linux/arm/v7']").click()
        expect(browser.locator(".oi-image-header")).to_contain_text("linux/arm/v7")
        page.mouse.move(0, 0)
        _tab(page, "Raw")
        expect(browser.locator(".oi-raw-view .oi-j-key").first).to_be_visible()
        results = {
            "selected platform row": rendered_contrast(
                page, ".oi-platforms-view tr.oi-row-selected td"
            ),
            "raw JSON key": rendered_contrast(page, ".oi-raw-view .oi-j-key"),
            "raw JSON string": rendered_contrast(page, ".oi-raw-view .oi-j-str"),
            "raw JSON digest": rendered_contrast(page, ".oi-raw-view .oi-j-digest"),
            "raw JSON number": rendered_contrast(page, ".oi-raw-view .oi-j-num"),
            "status": rendered_contrast(page, ".oi-status .oi-status-ready"),
            "badge": rendered_contrast(page, ".oi-badge-attestation"),
        }
        _tab(page, "Files")
        browser.locator(".oi-files-mode button", has_text="Tree").click()
        browser.locator(".oi-tree-row[data-path='bin']").click()
        expect(browser.locator(".oi-tree-row.oi-tree-selected")).to_have_count(1)
        page.mouse.move(0, 0)
        results["selected tree row"] = rendered_contrast(
            page, ".oi-tree-row.oi-tree-selected .oi-tree-label"
        )
        page.screenshot(path=str(tmp_path / "jupyterlab-dark-668.png"))
        assert results["raw JSON key"][1] < 0.05, results  # the JSON's background is dark
        for name, (ratio, _) in results.items():
            assert ratio >= 4.5, f"{name}: {ratio:.2f}:1 in {results}"
        page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
        saved = root / "browse.ipynb"
        deadline = time.monotonic() + 30
        html = ""
        while time.monotonic() < deadline:
            cells = json.loads(saved.read_text())["cells"]
            outputs = [o for c in cells for o in c.get("outputs", [])]
            html = "".join(
                "".join(o.get("data", {}).get("text/html", "")) for o in outputs
            )
            if "oi-snapshot" in html and "linux/arm/v7" in html:
                break
            time.sleep(0.5)
        assert "oi-snapshot" in html and "linux/arm/v7" in html
        assert "<h4>Layers</h4>" in html and "<script" not in html
        expect(page.locator(STDERR)).to_have_count(0)
        expect(page.locator(".oi-snapshot").first).to_be_hidden()
    finally:
        server.stop()
    assert ociinspect.SAMPLE
