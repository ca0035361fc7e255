"""The image browser's state and HTML, without a browser: on the bundled sample (no network)
and on the registry rig with the kernel's shared client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pandas as pd
import pytest
from rig import Registry, rig_session, seed

import ociinspect
from ociinspect import navigation
from ociinspect.distribution.trace import Exchange
from ociinspect.session import Session, set_default_session
from ociinspect.tables import trace_frame
from ociinspect.testing.samples import PLATFORMS as SAMPLE_PLATFORMS
from ociinspect.values.units import format_size
from ociinspect.widgets import TABS, ImageBrowser, browse, chart, render
from ociinspect.widgets.format import share_bar

FILES, RAW, HTTP = TABS.index("Files"), TABS.index("Raw"), TABS.index("HTTP")


class _Rows(HTMLParser):
    """The text of each table row (``<td>`` cells) in a piece of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def rows(html: str) -> list[list[str]]:
    """Body rows of the tables in ``html``, as lists of cell texts."""
    parser = _Rows()
    parser.feed(html)
    return [r for r in parser.rows if r]


@pytest.fixture
def shared_client() -> Iterator[Session]:
    """A fresh kernel-wide session (no disk cache), as a new kernel would have; the previous
    default is restored after the test."""
    session = rig_session()
    previous = set_default_session(session)
    yield session
    set_default_session(previous)


@pytest.fixture
def sample() -> ImageBrowser:
    """browse() with no reference: the bundled sample, loaded."""
    return browse().wait()


# -- pure helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**2, "5.0 MiB"), (None, "")],
    ids=["zero", "bytes below a KiB", "one and a half KiB", "five MiB", "missing is blank"],
)
def test_sizes_read_as_people_write_them(size: int | None, shown: str) -> None:
    """Sizes use IEC units with one decimal; a missing size is blank."""
    assert format_size(size) == shown


def test_share_bar_width_is_the_share() -> None:
    """A share of 0.25 draws a bar filled to 25% and says 25.0%."""
    bar = share_bar(0.25)
    assert 'style="width:25.00%"' in bar and "25.0%" in bar


def test_chart_has_one_segment_per_layer_and_shared_colours() -> None:
    """Each layer is a segment sized by bytes; a layer in two platforms has one colour; a
    layer only one platform has is neutral grey; each bar selects its platform."""
    frames = {
        "linux/amd64": pd.DataFrame(
            {
                "position": [0, 1],
                "digest": ["sha256:" + "a" * 64, "sha256:" + "c" * 64],
                "compressed_size": [3000, 1000],
            }
        ),
        "linux/arm64/v8": pd.DataFrame(
            {
                "position": [0, 1],
                "digest": ["sha256:" + "b" * 64, "sha256:" + "c" * 64],
                "compressed_size": [1000, 1000],
            }
        ),
    }
    bars = chart.bars_from_layers(frames)
    svg = chart.layer_chart_svg(bars, selected="linux/arm64/v8")
    rects = re.findall(
        r'<rect class="(oi-seg[^"]*)" x="[\d.]+" y="[\d.]+" width="([\d.]+)"[^>]*'
        r'fill="(#\w+)" data-digest="([^"]+)"',
        svg,
    )
    assert len(rects) == 4
    widths = {(digest, float(width)) for _, width, _, digest in rects}
    big = next(w for d, w in widths if d.endswith("a" * 64))
    small = next(w for d, w in widths if d.endswith("b" * 64))
    assert big == pytest.approx(3 * small, rel=1e-3)
    shared = {(css, fill) for css, _, fill, digest in rects if digest.endswith("c" * 64)}
    assert len(shared) == 1 and shared.pop()[0] == "oi-seg"
    own = {css for css, _, _, digest in rects if not digest.endswith("c" * 64)}
    assert own == {"oi-seg oi-seg-own"}
    assert "in 1 other image" in svg and "only in this image" in svg
    assert 'class="oi-chart-row oi-chosen oi-clickable"' in svg
    assert 'data-oi-action="platform" data-oi-arg="linux/amd64"' in svg


@pytest.mark.parametrize("layers", [16, 40], ids=["sixteen layers", "forty layers"])
def test_chart_colours_are_given_only_to_shared_layers_and_never_repeat(layers: int) -> None:
    """Distinct layers never share a colour: with N layers shared by two bars there are N
    colours, and a bar of layers no other bar has is all neutral."""
    digests = [f"sha256:{i:064x}" for i in range(layers)]
    shared = pd.DataFrame(
        {"position": range(layers), "digest": digests, "compressed_size": [10] * layers}
    )
    alone = pd.DataFrame(
        {"position": [0, 1], "digest": ["sha256:" + "e" * 64, "sha256:" + "f" * 64],
         "compressed_size": [5, 5]}
    )
    bars = chart.bars_from_layers({"a": shared, "b": shared, "c": alone})
    palette = chart.colours(bars)
    assert set(palette) == set(digests)
    assert len(set(palette.values())) == layers
    svg = chart.layer_chart_svg(bars)
    assert svg.count("oi-seg-own") >= 2


def test_html_escapes_image_content() -> None:
    """A label or command holding markup is shown as text, never as markup."""
    hostile = "<img src=x onerror=alert(1)>"
    config = pd.DataFrame({"platform": ["linux/amd64"], "user": [hostile]})
    kv = pd.DataFrame({"key": [hostile], "value": [hostile]})
    html = render.config_html(config, kv, kv)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_trace_html_shows_no_secret() -> None:
    """The HTTP table keeps URLs' safe parts only and never shows header values."""
    exchange = Exchange.record(
        "GET",
        "http://127.0.0.2:9/data?X-Amz-Signature=s3cr3t&digest=sha256:ab",
        200,
        "blob",
        0.01,
        10,
        {"Authorization": "Bearer t0ken-value"},
        {"Set-Cookie": "sid=c00kie"},
    )
    html = render.trace_html(trace_frame([exchange]))
    assert "s3cr3t" not in html and "t0ken-value" not in html and "c00kie" not in html
    assert "X-Amz-Signature=&lt;redacted&gt;" in html


# -- the bundled sample (no network) ---------------------------------------------------------


def test_browse_without_reference_shows_the_sample(sample: ImageBrowser) -> None:
    """browse() loads the bundled index: three platforms, attestations marked, five layers."""
    assert (sample.status, sample.error, sample.kind) == ("ready", "", "index")
    assert sample.reference == ociinspect.SAMPLE
    assert sample.platforms == list(SAMPLE_PLATFORMS)
    assert sample.platform == "linux/amd64"
    table = rows(sample.platforms_view.value)
    attestations = [r for r in table if "attestation" in r[2]]
    assert [r[2] for r in attestations] == [f"attestation for {p}" for p in SAMPLE_PLATFORMS]
    assert "oi-row-selected" in sample.platforms_view.value
    assert len(rows(sample.layers_view.value)) == 5
    assert sample.chart_view.value.count('class="oi-chart-row') == 3
    assert sample.load_button.disabled is False and sample.platform_picker.disabled is False


def test_switching_platform_shows_that_image(sample: ImageBrowser) -> None:
    """Setting `platform` as a user types it shows that image, normalised, from memory."""
    index = navigation.open(ociinspect.SAMPLE)
    assert isinstance(index, navigation.ImageIndex)
    before = sample.image_digest
    sample.platform = "linux/arm64"
    sample.wait()
    assert (sample.status, sample.platform) == ("ready", "linux/arm64/v8")
    assert sample.image_digest == index.image("linux/arm64/v8").digest != before
    assert sample.platform_picker.value == "linux/arm64/v8"
    assert "linux/arm64/v8" in sample.image_header.value
    sample.platform_picker.value = "linux/arm/v7"  # what the dropdown does
    sample.wait()
    assert sample.platform == "linux/arm/v7"
    assert "no HTTP requests" in sample.http_view.value


def test_unknown_platform_is_said_and_the_widget_stays_usable(sample: ImageBrowser) -> None:
    """An unknown platform shows the platforms there are; picking one afterwards works."""
    sample.platform = "linux/s390x"
    sample.wait()
    assert sample.status == "error"
    assert sample.error_box.layout.display != "none"
    assert "No such platform" in sample.error_box.value
    assert "linux/amd64, linux/arm64/v8, linux/arm/v7" in sample.error_box.value
    assert sample.tabs.layout.display == "none" and sample.image_digest == ""
    assert sample.platform_picker.disabled is False
    sample.platform_picker.value = "linux/arm/v7"
    sample.wait()
    assert (sample.status, sample.error, sample.platform) == ("ready", "", "linux/arm/v7")
    assert sample.error_box.layout.display == "none" and sample.tabs.layout.display == ""


def test_unknown_platform_at_load_still_shows_the_index() -> None:
    """Loading an index for a platform it lacks shows the index and its platforms to pick."""
    browser = ImageBrowser(ociinspect.SAMPLE, "windows/amd64").wait()
    assert (browser.status, browser.kind) == ("error", "index")
    assert "No such platform" in browser.error_box.value
    assert browser.index_box.layout.display == "" and browser.platform_row.layout.display == ""
    assert list(browser.platform_picker.options) == list(SAMPLE_PLATFORMS)
    assert len(rows(browser.platforms_view.value)) == 6
    browser.platform_picker.value = "linux/amd64"
    browser.wait()
    assert (browser.status, browser.platform, browser.error) == ("ready", "linux/amd64", "")


@pytest.mark.parametrize(
    ("bad", "title"),
    [
        ("Not/A/Valid:Reference::", "Not a valid image reference"),
        ("oci:/nonexistent/ociinspect/layout:latest", "Cannot open this source"),
        ("", "Cannot open this source"),
    ],
    ids=["a malformed reference", "a missing layout directory", "an empty box"],
)
def test_bad_reference_is_said_then_a_good_one_loads(bad: str, title: str) -> None:
    """A reference that cannot load shows why inside the widget; Load works again after."""
    browser = ImageBrowser()
    browser.ref_box.value = bad
    browser.load_button.click()
    browser.wait()
    assert browser.status == "error" and browser.error.startswith(title)
    assert title in browser.error_box.value and browser.load_button.disabled is False
    assert browser.kind == "" and browser.layers_view.value.count("<tr") == 0
    assert browser.tabs.layout.display == "none"  # no request was made: nothing to show
    browser.ref_box.value = ociinspect.SAMPLE
    browser.load_button.click()
    browser.wait()
    assert (browser.status, browser.error, browser.kind) == ("ready", "", "index")
    assert browser.error_box.layout.display == "none"


def test_enter_in_the_reference_box_loads() -> None:
    """Pressing Enter (the front end's submit message) loads what the box holds."""
    browser = ImageBrowser()
    browser.ref_box.value = ociinspect.SAMPLE
    browser.ref_box._handle_custom_msg({"event": "submit"}, [])
    browser.wait()
    assert browser.status == "ready" and browser.reference == ociinspect.SAMPLE


def test_files_tab_lists_a_layer_and_the_merged_view(sample: ImageBrowser) -> None:
    """Opening Files lists layer 0 in the grid; layer 2 keeps its whiteouts; merged shows
    each path once, with the wasted-space summary and table below."""
    sample.tabs.selected_index = FILES
    sample.wait()
    grid = sample.files.grid
    assert grid is not None and "bin/busybox" in set(grid.frame["path"])
    sample.layer_picker.value = 2
    sample.wait()
    assert sample.layer == 2
    assert int(grid.frame["whiteout"].notna().sum()) == 2
    sample.merged_box.value = True
    sample.wait()
    assert sample.merged is True
    paths = list(grid.frame["path"])
    assert "usr/local/bin/hello" in paths and "var/cache/pkg" not in paths
    assert len(paths) == len(set(paths))
    assert "Wasted space" in sample.files.wasted_view.value
    assert rows(sample.files.wasted_view.value)[0][0] == "var/cache/pkg/index.bin"


def test_raw_tab_follows_descriptors(sample: ImageBrowser) -> None:
    """Raw shows the index with media type and digest; its links open what they point at."""
    sample.tabs.selected_index = RAW
    assert "application/vnd.oci.image.index.v1+json" in sample.raw_view.value
    assert sample.digest in sample.raw_view.value
    links = {b.description: b for b in sample.raw_links.children}
    assert "→ manifests[3] attestation unknown/unknown" in links
    links["→ manifests[3] attestation unknown/unknown"].click()
    sample.wait()
    assert "application/vnd.in-toto+json" in sample.raw_view.value
    statement = [b for b in sample.raw_links.children if b.description.startswith("→ layers[0]")]
    statement[0].click()
    sample.wait()
    assert "predicateType" in sample.raw_view.value  # the in-toto statement, as JSON
    manifest_key = next(k for k, d in sample.raw.docs.items() if d.title.startswith("manifest ("))
    sample.raw_picker.value = manifest_key
    layer = [b for b in sample.raw_links.children if b.description.startswith("→ layers[2]")]
    layer[0].click()
    sample.wait()
    assert (sample.tabs.selected_index, sample.layer) == (FILES, 2)
    assert sample.files.grid is not None
    assert int(sample.files.grid.frame["whiteout"].notna().sum()) == 2


# -- the registry rig, through the kernel's shared client ------------------------------------


@pytest.mark.registry
def test_two_browsers_on_one_repository_share_one_token(
    registry_token: Registry, shared_client: Session
) -> None:
    """A second browser on the same repository earns no new token; its HTTP tab shows that."""
    ref = registry_token.ref(seed.MULTI)
    first = ImageBrowser(ref).wait()
    second = ImageBrowser(ref).wait()
    assert first.status == second.status == "ready"
    assert registry_token.token_server is not None
    assert registry_token.token_server.count() == 1
    first_http, second_http = first.http_view.value, second.http_view.value
    assert "1 token request" in first_http and ">token<" in first_http
    assert "no token request" in second_http and ">token<" not in second_http
    # Only the curl lines' placeholder: no token value, no redaction marker standing in one.
    assert not re.search(r"Bearer (?!\$TOKEN)", first_http + second_http)


@pytest.mark.registry
def test_registry_index_tables_and_http_tab(
    registry_open: Registry, shared_client: Session
) -> None:
    """On the rig: attestations marked; the tag, each entry's manifest and each config blob
    (307 to the CDN, then 200) are listed with their status; switching platform asks nothing."""
    ref = registry_open.ref(seed.MULTI)
    browser = ImageBrowser(ref, "linux/arm/v7").wait()
    assert browser.status == "ready" and browser.platform == "linux/arm/v7"
    expected = registry_open.seeded[seed.MULTI].image("linux/arm/v7").digest
    assert browser.image_digest == expected
    assert browser.platforms_view.value.count("oi-badge-attestation") == 3
    assert re.findall(r'class="oi-group"><th[^>]*>([^<]*)<', browser.http_view.value) == [
        f"load {ref}"
    ]
    http = rows(browser.http_view.value)  # method, purpose, status, URL, bytes, ms
    manifests = [r for r in http if r[1] == "manifest"]
    # The index and its 3 images; the 3 attestations are listed from the index, not fetched.
    assert [r[2] for r in manifests] == ["200"] * (1 + 3)
    blobs = [(r[2], r[3].split("/", 1)[0]) for r in http if r[1] == "blob"]
    assert blobs.count(("307", registry_open.host)) == 3
    assert sum(1 for status, host in blobs if status == "200" and host.startswith("127.0.0.2")) == 3
    browser.platform = "linux/amd64"
    browser.wait()
    assert len(rows(browser.http_view.value)) == len(http)  # switching asks nothing more
    assert not [r for r in rows(browser.http_view.value) if r[2] == "206"]  # no size estimates


@pytest.mark.registry
def test_denied_repository_is_said_and_the_widget_stays_usable(
    registry_token: Registry, shared_client: Session
) -> None:
    """Anonymous access to a private repository says access denied; a public one then loads."""
    browser = ImageBrowser(registry_token.ref(seed.PRIVATE)).wait()
    assert browser.status == "error" and browser.error.startswith("Access denied")
    assert browser.tab_names == ["HTTP"] and browser.selected_tab == "HTTP"
    assert "401" in browser.http_view.value
    assert "docker login 127.0.0.1:" in browser.error_box.value
    browser.load(registry_token.ref(seed.SINGLE)).wait()
    assert (browser.status, browser.kind, browser.platforms) == ("ready", "image", [])
    assert browser.platform == "linux/amd64"
    assert browser.index_box.layout.display == "none"


@pytest.mark.registry
def test_unreachable_registry_is_said(shared_client: Session) -> None:
    """A registry nobody listens on gives a clear 'unreachable' message, not a frozen widget."""
    from browser.servers import free_port

    browser = ImageBrowser(f"127.0.0.1:{free_port()}/demo/none:latest").wait()
    assert browser.status == "error" and browser.error.startswith("Registry unreachable")
    assert browser.load_button.disabled is False


@pytest.mark.registry
def test_loading_shows_progress_and_a_newer_load_wins(
    registry_open: Registry, shared_client: Session
) -> None:
    """While a slow load runs the button is disabled and a spinner shows; loading something
    else meanwhile supersedes it, and the slow result never overwrites the newer one."""
    proxy = registry_open.proxy()
    proxy.faults.delay(1.0, path="/manifests/")
    browser = ImageBrowser(f"{proxy.host}/{seed.SINGLE}")
    assert browser.status == "loading" and browser.load_button.disabled is True
    assert "oi-spinner" in browser.status_line.value
    browser.load(ociinspect.SAMPLE)
    browser.wait()
    assert (browser.status, browser.reference, browser.kind) == (
        "ready",
        ociinspect.SAMPLE,
        "index",
    )
    assert browser.load_button.disabled is False and "oi-spinner" not in browser.status_line.value
    assert proxy.count("GET", "/manifests/") >= 1
