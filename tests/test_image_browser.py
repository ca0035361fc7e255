"""The image browser's new parts without a browser: the tree (sizes, changes, links), file
contents, errors said for a person, equivalent commands, clicks as actions, the snapshot for
saved notebooks, and the notebook reprs of values, tables and errors. On the bundled sample,
the real-tool images (tests/realimages) and the registry rig."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import pandas as pd
import pytest
from realimages import DebianImage, RealImages
from rig import Registry, rig_session, seed

import ociinspect
from ociinspect import api, display, navigation
from ociinspect.errors import InvalidReferenceError, NotFoundError, OCIInspectError
from ociinspect.session import Session, set_default_session
from ociinspect.values.models import parse_config
from ociinspect.widgets import ImageBrowser, browse, contents, tree
from ociinspect.widgets.advice import explain
from ociinspect.widgets.commands import image_commands
from ociinspect.widgets.files import TREE, optional_api, state_after


@pytest.fixture
def sample() -> ImageBrowser:
    """browse() with no reference: the bundled sample, loaded."""
    return browse().wait()


@pytest.fixture
def shared_client() -> Iterator[Session]:
    """A fresh kernel-wide session (no disk cache), restored after the test."""
    session = rig_session()
    previous = set_default_session(session)
    yield session
    set_default_session(previous)


# -- the tree ---------------------------------------------------------------------------------


def _sums(frame: pd.DataFrame) -> dict[str, int]:
    """Directory -> the sum of ``size`` of every entry of ``frame`` below it."""
    out: dict[str, int] = {}
    for path, size in zip(frame["path"].astype(str), frame["size"], strict=True):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            key = "/".join(parts[:depth])
            out[key] = out.get(key, 0) + int(size)
    return out


def test_tree_directory_sizes_are_the_sums_over_filesystem(real_images: RealImages) -> None:
    """On the 15,483-entry umoci layer, every directory of the tree shows the sum of the
    sizes filesystem() gives below it, and every path appears once."""
    many = real_images.many_files()
    frame = api.filesystem(many.variant("gzip").ref)
    assert len(frame) >= 15_000
    payload = tree.tree_payload(frame)
    paths = tree.payload_paths(payload)
    assert len(paths) == len(set(paths)) and set(frame["path"]) - {"."} <= set(paths)
    shown = tree.directory_sizes(payload)
    sums = _sums(frame)
    for directory, size in shown.items():
        assert size == sums.get(directory, 0), directory
    assert shown["tree"] == int(frame[frame["path"].str.startswith("tree/")]["size"].sum()) > 0


@pytest.mark.parametrize(
    ("path", "kind", "target", "resolved"),
    [
        ("usr/bin/sh", "symlink", "dash", "usr/bin/dash"),
        ("etc/os-release", "symlink", "../usr/lib/os-release", "usr/lib/os-release"),
        ("a/b/c", "symlink", "/etc/passwd", "etc/passwd"),
        ("a/link", "symlink", "../../../../etc", "etc"),
        ("tree/d00/s0/f00.txt", "hardlink", "links/l000.txt", "links/l000.txt"),
        ("x", "symlink", "", None),
    ],
    ids=[
        "a relative target beside the link",
        "a relative target one directory up",
        "an absolute target from the root",
        "dot-dots never climb above the root",
        "a hardlink names a path from the root",
        "an empty target resolves to nothing",
    ],
)
def test_links_resolve_inside_the_tree(
    path: str, kind: str, target: str, resolved: str | None
) -> None:
    """A link's target is found in the tree as a container would resolve it."""
    assert tree.resolve_link(path, kind, target) == resolved


def test_a_layers_tree_is_the_filesystem_after_it_coloured_by_its_changes(
    debian_image: DebianImage,
) -> None:
    """From changes(): layer 1's tree holds what exists after layer 1; the name layer 1
    deleted is a ghost that no directory counts; its added and modified paths are coloured;
    the top layer's tree equals filesystem() with the same directory sizes."""
    changes = optional_api("changes")
    assert changes is not None
    every = pd.DataFrame(changes(debian_image.ref))
    after = state_after(every, 1)
    kinds = dict(zip(after["path"], after["change"], strict=True))
    deleted = debian_image.deleted_data_name.lstrip("/")
    assert kinds[deleted] == "deleted"
    assert kinds[debian_image.modified.lstrip("/")] == "modified"
    payload = tree.tree_payload(after)
    sizes = tree.directory_sizes(payload)
    alive = after[~after["change"].isin(["deleted", "hidden"])]
    sums = _sums(alive)
    assert sizes == {directory: sums.get(directory, 0) for directory in sizes}
    top = state_after(every, len(debian_image.layers) - 1)
    merged = pd.DataFrame(api.filesystem(debian_image.ref))
    alive_top = top[~top["change"].isin(["deleted", "hidden"])]
    assert set(alive_top["path"]) == set(merged["path"])
    assert tree.directory_sizes(tree.tree_payload(alive_top)) == tree.directory_sizes(
        tree.tree_payload(merged)
    )


def test_only_changes_marks_changed_rows_and_the_directories_above_them() -> None:
    """changed_below is set on a changed row and every directory that leads to it, and on
    nothing else; implied directories are added for paths listed without their parents."""
    frame = pd.DataFrame(
        {
            "path": ["a", "a/b", "a/b/new", "a/b/old", "c/d"],
            "type": ["dir", "dir", "file", "file", "file"],
            "size": [0, 0, 5, 7, 9],
            "change": [None, None, "added", None, None],
        }
    )
    payload = tree.tree_payload(frame)
    marked = dict(zip(tree.payload_paths(payload), payload["changed_below"], strict=True))
    assert marked == {"a": 1, "a/b": 1, "a/b/new": 1, "a/b/old": 0, "c": 0, "c/d": 0}
    implied = dict(zip(tree.payload_paths(payload), payload["implied"], strict=True))
    assert implied["c"] == 1 and implied["a"] == 0
    assert tree.directory_sizes(payload) == {"a": 12, "a/b": 12, "c": 9}


# -- file contents ----------------------------------------------------------------------------


def test_contents_show_text_binary_and_a_download_link() -> None:
    """Text is shown escaped up to the cap; binary as a hex dump; the link decodes to the
    file; a file larger than what was read says so instead of offering a partial download."""
    html = contents.contents_html("etc/x", b"<b>hi</b>\n", 10)
    assert "&lt;b&gt;hi&lt;/b&gt;" in html and "<b>hi" not in html
    link = re.search(r'href="data:application/octet-stream;base64,([^"]+)"', html)
    assert link is not None and base64.b64decode(link.group(1)) == b"<b>hi</b>\n"
    binary = bytes(range(256)) * 20
    html = contents.contents_html("bin/x", binary, len(binary))
    assert "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f" in html
    assert "first 4,096 bytes of 5,120" in html
    head = contents.contents_html("big", b"x" * 100, 10_000_000)
    assert "download" not in head and "first 100 B of 9.5 MiB" in head
    cut = contents.contents_html("t", b"a" * 50, 50, text_limit=10)
    assert "Text cut at 10 characters of 50." in cut


def test_selecting_a_file_shows_what_read_file_reads(sample: ImageBrowser) -> None:
    """In the merged view, selecting a file shows its facts and exactly read_file's text;
    a symlink's target is a button that selects it."""
    reader = optional_api("read_file")
    assert reader is not None
    sample.merged = True
    sample.open_tab("Files")
    sample.wait()
    sample.files.select("etc/os-release")
    sample.wait()
    expected = bytes(reader(ociinspect.SAMPLE, "etc/os-release")).decode()
    text = re.search(r'<pre class="oi-text">(.*?)</pre>', sample.files.details.value, re.S)
    assert text is not None and unescape(text.group(1)) == expected
    sample.files.view_picker.value = TREE
    sample.files.select("bin/sh")
    sample.wait()
    assert 'data-oi-action="select" data-oi-arg="bin/busybox"' in sample.files.details.value
    sample.files.details.act("select", "bin/busybox")
    assert sample.files.tree is not None and sample.files.tree.selected == "bin/busybox"


# -- clicks -----------------------------------------------------------------------------------


def test_clicks_select_platforms_and_open_layers(sample: ImageBrowser) -> None:
    """A platform row and a chart bar select their platform; a layer row lists that layer
    in Files; the overview collapses and comes back."""
    assert 'data-oi-action="platform" data-oi-arg="linux/arm/v7"' in sample.platforms_view.value
    assert sample.platforms_view.act("platform", "linux/arm/v7")
    sample.wait()
    assert sample.platform == "linux/arm/v7"
    assert sample.chart_view.act("platform", "linux/arm64/v8")
    sample.wait()
    assert sample.platform == "linux/arm64/v8"
    assert sample.layers_view.act("layer", "3")
    sample.wait()
    assert (sample.selected_tab, sample.layer, sample.merged) == ("Files", 3, False)
    assert sample.files.grid is not None and len(sample.files.grid.frame) > 0
    sample.overview = False
    assert sample.overview_box.layout.display == "none"
    sample.overview_button.value = True
    assert sample.overview is True and sample.overview_box.layout.display == ""


def test_every_digest_and_command_can_be_copied(sample: ImageBrowser) -> None:
    """Digests carry a copy button with the full digest; the equivalent commands of a local
    source are skopeo's, each copyable."""
    img = sample.image
    assert img is not None
    assert f'data-oi-copy="{img.digest}"' in sample.image_header.value
    assert f'data-oi-copy="{sample.digest}"' in sample.header.value
    commands = sample.commands_view.value
    assert "skopeo inspect" in commands and "data-oi-copy=" in commands


@pytest.mark.parametrize(
    ("plain", "flags"),
    [(True, ("crane --insecure manifest", "--tls-verify=false")), (False, ("crane manifest",))],
    ids=["a plain-http loopback registry", "an https registry"],
)
def test_equivalent_commands_name_the_image_by_digest(plain: bool, flags: tuple[str, ...]) -> None:
    """crane, skopeo and docker lines address the image shown by its digest (and the index
    by its own), with the flags a plain-http registry needs."""
    digest, index = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    lines = image_commands(
        "docker://r.example/app:1", digest, index_digest=index, repository="r.example/app",
        plain_http=plain,
    )
    text = "\n".join(c.line for c in lines)
    assert f"r.example/app@{index}" in text
    assert f"docker pull r.example/app@{digest}" in text
    assert f"docker://r.example/app@{digest}" in text
    for flag in flags:
        assert flag in text


# -- errors said for a person -----------------------------------------------------------------


@pytest.mark.registry
def test_an_unknown_tag_offers_the_tags_that_exist(
    registry_open: Registry, shared_client: Session
) -> None:
    """Loading a tag that does not exist says so in plain words, lists the repository's tags
    (a click on one loads it), and shows no Python repr of the registry's detail."""
    ref = registry_open.ref(seed.MULTI).rpartition(":")[0] + ":nosuchtag"
    browser = ImageBrowser(ref).wait()
    assert browser.status == "error"
    box = browser.error_box.value
    assert "has no tag “nosuchtag”" in box and "Tags that exist" in box
    assert 'data-oi-action="load"' in box and "({" not in box and "&#x27;Tag&#x27;" not in box
    tags = re.findall(r'data-oi-action="load" data-oi-arg="([^"]+)"', box)
    assert registry_open.ref(seed.MULTI) in [unescape(t) for t in tags]
    assert browser.error_box.act("load", registry_open.ref(seed.MULTI))
    browser.wait()
    assert browser.status == "ready" and browser.kind == "index"


def test_a_malformed_reference_is_said_in_plain_words() -> None:
    """A malformed reference names what is wrong and how a reference reads; after a failure
    that made no request, no tab is shown."""
    browser = ImageBrowser("Not/A/Valid:Reference::").wait()
    assert browser.status == "error" and browser.error.startswith("Not a valid image reference")
    assert "repository name must be lowercase" in browser.error
    assert "[registry/]repository[:tag]" in browser.error_box.value
    assert browser.tab_names == []


def test_explain_keeps_registry_details_out_of_the_headline() -> None:
    """A registry error's detail object goes to Details as words, never as a dict repr."""
    from ociinspect.errors import RegistryErrorDetail

    exc = NotFoundError(
        "GET", "http://127.0.0.1:9/v2/demo/x/manifests/y", 404,
        [RegistryErrorDetail("MANIFEST_UNKNOWN", "manifest unknown", {"Tag": "y"})],
    )
    advice = explain(exc, "127.0.0.1:9/demo/x:y")
    assert advice.message == "127.0.0.1:9/demo/x has no tag “y”."
    assert "{" not in advice.text and "MANIFEST_UNKNOWN: manifest unknown" in advice.details


# -- the snapshot for saved notebooks ---------------------------------------------------------


def test_the_snapshot_is_static_html_of_the_last_state(
    sample: ImageBrowser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Displaying the browser publishes the widget and a text/html snapshot beside it; each
    finished action updates the snapshot, which holds no script, button or action."""
    import IPython.display

    shown: list[tuple[dict[str, Any], str | None]] = []
    updated: list[tuple[dict[str, Any], str | None]] = []
    monkeypatch.setattr(
        IPython.display, "display",
        lambda data, raw=False, display_id=None: shown.append((data, display_id)),
    )
    monkeypatch.setattr(
        IPython.display, "update_display",
        lambda data, raw=False, display_id=None: updated.append((data, display_id)),
    )
    sample._ipython_display_()
    assert "application/vnd.jupyter.widget-view+json" in shown[0][0]
    snapshot, display_id = shown[1]
    assert set(snapshot) == {"text/html"} and display_id
    assert "linux/amd64" in snapshot["text/html"] and "oi-snapshot" in snapshot["text/html"]
    sample.platform = "linux/arm/v7"
    sample.wait()
    assert updated and updated[-1][1] == display_id
    html = updated[-1][0]["text/html"]
    assert "linux/arm/v7" in html and "<h4>Layers</h4>" in html
    assert "<script" not in html and "<button" not in html and "data-oi-action" not in html


# -- reprs ------------------------------------------------------------------------------------


def test_documents_have_notebook_html() -> None:
    """Manifest, ImageConfig, Descriptor, Platform and ManifestInfo show their facts."""
    index = navigation.open(ociinspect.SAMPLE)
    assert isinstance(index, navigation.ImageIndex)
    img = index.image("linux/arm64/v8")
    manifest = img.manifest
    assert manifest.digest in manifest._repr_html_() and "layers" in manifest._repr_html_()
    assert img.config.digest in img.config._repr_html_()
    assert "<code>linux/arm64/v8</code>" in img.platform._repr_html_()  # type: ignore[union-attr]
    assert manifest.config.digest in manifest.config._repr_html_()
    info = img.source.manifest(manifest.digest, None)
    assert "Document as served" in info._repr_html_() and info.digest in info._repr_html_()
    hostile = (
        b'{"architecture":"amd64","os":"linux","author":"<x>",'
        b'"rootfs":{"type":"layers","diff_ids":[]}}'
    )
    assert "&lt;x&gt;" in parse_config(hostile)._repr_html_()


def test_tables_show_short_digests_and_sizes_that_do_not_wrap() -> None:
    """A Table's HTML: short digests with the full one as tooltip, human sizes right
    aligned and unwrapped, text left; a big table says how to see every row."""
    layers = api.layers(ociinspect.SAMPLE, sizes="none")
    html = layers._repr_html_()
    digest = str(layers["digest"].iloc[0])
    assert f'title="{digest}"' in html and f">{digest}<" not in html
    assert 'style="text-align:right;white-space:nowrap"' in html
    assert str(layers["compressed_size"].dtype) == "int64"
    files = api.files(ociinspect.SAMPLE, 0)
    with pd.option_context("display.max_rows", 3):
        big = files._repr_html_()
    assert f"first 3 of {len(files):,} rows" in big and "ociinspect.display.grid" in big
    grid = display.grid(files)
    assert len(grid.frame) == len(files)


def test_an_error_in_a_notebook_is_one_line_and_a_next_step() -> None:
    """IPython shows an OCIInspectError as its kind, message and what to do, with the full
    traceback one setting away; with debug on, the traceback itself."""
    try:
        navigation.open("Not/A/Valid:Reference::")
    except InvalidReferenceError as exc:
        lines = exc._render_traceback_()
        error = exc
    assert len(lines) <= 5 and "InvalidReferenceError" in lines[0]
    assert "traceback.print_last()" in lines[-1] and "OCIINSPECT_DEBUG=1" in lines[-1]
    assert "File " not in "".join(lines)
    assert "InvalidReferenceError" in error._repr_html_()
    previous = set_default_session(Session(debug=True, cache=False))
    try:
        full = error._render_traceback_()
    finally:
        set_default_session(previous)
    assert any("File " in line for line in full) and isinstance(error, OCIInspectError)


def test_packages_lists_the_os_and_each_package_with_its_layer(
    debian_image: DebianImage,
) -> None:
    """The Packages tab shows the OS from os-release and one row per dpkg package, each
    package's layer a button that lists that layer in Files."""
    browser = ImageBrowser(debian_image.ref).wait()
    browser.open_tab("Packages")
    browser.wait()
    html = browser.extras.packages_view.value
    assert debian_image.os_release_value("ID") in html
    assert f"Packages ({len(debian_image.packages):,})" in html
    names = {name for name, _, _ in debian_image.packages}
    assert all(f"<td class=\"oi-col-name\">{name}</td>" in html for name in names)
    layers = set(re.findall(r'data-oi-action="layer" data-oi-arg="(\d+)"', html))
    assert layers and layers <= {str(i) for i in range(len(debian_image.layers))}
    assert browser.extras.packages_view.act("layer", "0")
    browser.wait()
    assert (browser.selected_tab, browser.layer) == ("Files", 0)


def test_referrers_show_what_refers_to_the_image(sample: ImageBrowser) -> None:
    """The Referrers tab draws what refers to the image shown: the sample's SBOM
    attestation, under the image's digest."""
    sample.open_tab("Referrers")
    sample.wait()
    html = sample.extras.referrers_view.value
    img = sample.image
    assert img is not None and f'title="{img.digest}"' in html
    assert "<li><b>" in html
