"""The image browser in a real browser: Debian's chromium, driven by Playwright, on pages that
Voila and JupyterLab serve on 127.0.0.1. What only a browser shows: that the widget renders,
that clicks, typing and Enter reach the kernel, and that updates made by the background load
arrive on the page. Screenshots are saved under each test's tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser import servers
from playwright.sync_api import BrowserContext, Page, Route, expect, sync_playwright
from rig import Registry, seed

pytestmark = [pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = frozenset({"127.0.0.1", "localhost"})
#: How long a page may take to show the loaded widget (kernel start + imports + load).
RENDER_TIMEOUT = 60_000
STDERR = '[data-mime-type="application/vnd.jupyter.stderr"]'
ERROR_OUTPUT = '[data-mime-type="application/vnd.jupyter.error"]'


def _loopback_only(route: Route) -> None:
    """Voila links a stylesheet on a public CDN: anything not on loopback is refused at once."""
    if urlsplit(route.request.url).hostname in LOOPBACK:
        route.continue_()
    else:
        route.abort()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Debian's chromium with a fresh profile, reaching loopback only."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
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


def _voila(tmp_path: Path, extra_env: dict[str, str]) -> servers.Server:
    env = servers.jupyter_env(tmp_path / "jupyter", extra_env)
    notebook = servers.copy_notebook("browse.ipynb", tmp_path / "notebooks")
    return servers.start_voila(notebook, env, tmp_path)


def _open_tab(page: Page, name: str) -> None:
    page.locator(".oi-tabs").get_by_role("tab", name=name, exact=True).click()


def _no_error_output(page: Page) -> None:
    """Voila answers 200 even when a cell fails: the failure is an stderr/error output."""
    expect(page.locator(STDERR)).to_have_count(0)
    expect(page.locator(ERROR_OUTPUT)).to_have_count(0)


def _shot(page: Page, path: Path) -> None:
    page.locator(".oi-browser").screenshot(path=str(path))


def test_voila_shows_the_bundled_sample(page: Page, tmp_path: Path) -> None:
    """Voila renders browse() on the sample: attestations marked, a chart bar per platform;
    picking a platform, listing a layer, the merged view and a Raw link all work."""
    server = _voila(tmp_path, {})
    try:
        page.goto(server.url, wait_until="domcontentloaded")
        browser = page.locator(".oi-browser")
        expect(browser.locator(".oi-layers-view tbody tr")).to_have_count(5, timeout=RENDER_TIMEOUT)
        expect(browser.locator(".oi-badge-attestation")).to_have_count(3)
        expect(browser.locator(".oi-chart-row")).to_have_count(3)
        expect(browser.locator(".oi-chart-row.oi-chosen")).to_have_attribute(
            "data-platform", "linux/amd64"
        )
        _shot(page, tmp_path / "voila-sample.png")
        browser.locator(".oi-platform select").select_option("linux/arm/v7")
        expect(browser.locator(".oi-image-header")).to_contain_text("linux/arm/v7")
        expect(browser.locator(".oi-chart-row.oi-chosen")).to_have_attribute(
            "data-platform", "linux/arm/v7"
        )
        _open_tab(page, "Files")
        grid = browser.locator(".oi-files-grid")
        grid.locator(".oi-grid-filter").fill("bin/busybox")
        expect(grid.locator(".oi-grid-row:not([hidden])").first).to_contain_text("bin/busybox")
        browser.locator(".oi-merged input").check()
        expect(grid.locator(".oi-grid-th[data-column='layer']")).to_have_count(1)
        grid.locator(".oi-grid-filter").fill("usr/local/bin/hello")
        expect(grid.locator(".oi-grid-row:not([hidden])").first).to_contain_text(
            "usr/local/bin/hello"
        )
        _open_tab(page, "Raw")
        expect(browser.locator(".oi-raw-view")).to_contain_text("application/vnd.oci.image.index")
        browser.get_by_role("button", name="→ manifests[3] attestation unknown/unknown").click()
        expect(browser.locator(".oi-raw-view")).to_contain_text("application/vnd.in-toto+json")
        _open_tab(page, "HTTP")
        expect(browser.locator(".oi-http-view")).to_contain_text("no HTTP requests")
        _shot(page, tmp_path / "voila-sample-raw.png")
        _no_error_output(page)
    finally:
        server.stop()
    assert server.process.returncode is not None


@pytest.mark.registry
def test_voila_loads_from_the_registry_rig(
    page: Page, tmp_path: Path, registry_token: Registry
) -> None:
    """Voila loads the rig's multi-platform index through the token handshake; the HTTP tab
    lists the token request and each fetch with status; switching platform works."""
    ref = registry_token.ref(seed.MULTI)
    server = _voila(tmp_path, {"OCIINSPECT_TEST_REF": ref})
    try:
        page.goto(server.url, wait_until="domcontentloaded")
        browser = page.locator(".oi-browser")
        expect(browser.locator(".oi-layers-view tbody tr")).to_have_count(2, timeout=RENDER_TIMEOUT)
        expect(browser.locator(".oi-status")).to_contain_text(f"load {ref}: done")
        expect(browser.locator(".oi-badge-attestation")).to_have_count(3)
        _open_tab(page, "HTTP")
        http = browser.locator(".oi-http-view")
        expect(http).to_contain_text("1 token request")
        expect(http.locator("tbody tr", has_text="token")).to_have_count(1)
        status = "td.oi-col-status"
        manifests = http.locator("tbody tr", has_text="manifest")
        expect(manifests.first.locator(status)).to_have_text("401")  # the challenge
        expect(http.locator("tbody tr", has_text="token").locator(status)).to_have_text("200")
        expect(manifests.nth(1).locator(status)).to_have_text("200")  # again, with the token
        expect(http).not_to_contain_text("Bearer")
        browser.locator(".oi-platform select").select_option("linux/arm64/v8")
        expect(browser.locator(".oi-image-header")).to_contain_text("linux/arm64/v8")
        _open_tab(page, "Config")
        expect(browser.locator(".oi-config-view")).to_contain_text("Environment")
        _open_tab(page, "HTTP")
        _shot(page, tmp_path / "voila-rig.png")
        _no_error_output(page)
    finally:
        server.stop()
    assert registry_token.token_server is not None
    assert registry_token.token_server.count() == 1


@pytest.mark.registry
def test_voila_errors_are_shown_and_the_widget_recovers(
    page: Page, tmp_path: Path, registry_open: Registry
) -> None:
    """An unknown platform, then a malformed reference typed with Enter, each show a message
    inside the widget; choosing a platform and loading a good reference then work."""
    ref = registry_open.ref(seed.MULTI)
    env = {"OCIINSPECT_TEST_REF": ref, "OCIINSPECT_TEST_PLATFORM": "linux/s390x"}
    server = _voila(tmp_path, env)
    try:
        page.goto(server.url, wait_until="domcontentloaded")
        browser = page.locator(".oi-browser")
        error = browser.locator(".oi-error")
        expect(error).to_contain_text("No such platform", timeout=RENDER_TIMEOUT)
        expect(error).to_contain_text("linux/amd64, linux/arm64/v8, linux/arm/v7")
        browser.locator(".oi-platform select").select_option("linux/amd64")
        expect(error).to_be_hidden()
        expect(browser.locator(".oi-image-header")).to_contain_text("linux/amd64")
        box = browser.locator(".oi-ref input")
        box.fill("Not/A/Valid:Reference::")
        box.press("Enter")
        expect(error).to_contain_text("Not a valid image reference")
        _shot(page, tmp_path / "voila-error.png")
        box.fill(registry_open.ref(seed.SINGLE))
        browser.locator(".oi-load").click()
        expect(error).to_be_hidden()
        expect(browser.locator(".oi-layers-view tbody tr")).to_have_count(4)
        expect(browser.locator(".oi-load")).to_be_enabled()
        _no_error_output(page)
    finally:
        server.stop()


_KERNEL_IDLE = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  const session = panel && panel.sessionContext && panel.sessionContext.session;
  const kernel = session && session.kernel;
  return !!kernel && kernel.connectionStatus === "connected" && kernel.status === "idle";
}"""


@pytest.mark.registry
def test_jupyterlab_runs_the_notebook(page: Page, tmp_path: Path, registry_token: Registry) -> None:
    """In JupyterLab the notebook shows the sample; typing a rig reference and Enter loads
    it over the kernel's shared session; platforms switch and tabs open."""
    env = servers.jupyter_env(tmp_path / "jupyter", {})
    root = tmp_path / "notebooks"
    servers.copy_notebook("browse.ipynb", root)
    server = servers.start_lab(root, env, tmp_path)
    try:
        page.goto(
            f"{server.url}/lab/tree/browse.ipynb?token={server.token}",
            wait_until="domcontentloaded",
        )
        page.wait_for_function(_KERNEL_IDLE, timeout=RENDER_TIMEOUT)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        browser = page.locator(".oi-browser")
        expect(browser.locator(".oi-layers-view tbody tr")).to_have_count(5, timeout=RENDER_TIMEOUT)
        expect(browser.locator(".oi-header")).to_contain_text("sample")
        ref = registry_token.ref(seed.MULTI)
        box = browser.locator(".oi-ref input")
        box.fill(ref)
        box.press("Enter")
        expect(browser.locator(".oi-status")).to_contain_text(f"load {ref}: done")
        expect(browser.locator(".oi-layers-view tbody tr")).to_have_count(2)
        browser.locator(".oi-platform select").select_option("linux/arm/v7")
        expect(browser.locator(".oi-image-header")).to_contain_text("linux/arm/v7")
        _open_tab(page, "History")
        expect(browser.locator(".oi-history-view")).to_contain_text("RUN echo linux/arm/v7")
        _open_tab(page, "HTTP")
        expect(browser.locator(".oi-http-view")).to_contain_text("1 token request")
        page.screenshot(path=str(tmp_path / "jupyterlab.png"))  # the whole Lab window
        expect(page.locator(STDERR)).to_have_count(0)
    finally:
        server.stop()
    assert server.process.returncode is not None
