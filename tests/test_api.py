"""ociinspect.api on the registry rig and on local sources (OCI layout, archives, the sample)."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from rig import Registry, rig_session, seed
from rig.env import child_env

import ociinspect as oi
from ociinspect import api, navigation
from ociinspect.errors import PlatformNotFoundError
from ociinspect.tables import PLATFORMS_COLUMNS, Table
from ociinspect.tables.supply import REFERRER_EDGES_COLUMNS
from ociinspect.testing import build

NA = pd.NA
registry = pytest.mark.registry


def opts() -> dict[str, Any]:
    """A fresh session that reads no user credentials, with no disk cache."""
    return {"session": rig_session()}


def skopeo(*args: str, home: Path) -> None:
    """Run skopeo on loopback only, with a throw-away HOME; fail with its stderr."""
    result = subprocess.run(
        ["skopeo", *args], capture_output=True, text=True, env=child_env(home), timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- platforms


@registry
def test_platforms_of_an_index_list_images_and_attestations(registry_open: Registry) -> None:
    """Three images and three attestations, each attestation describing its image."""
    seeded = registry_open.seeded[seed.MULTI]
    table = oi.platforms(registry_open.ref(seed.MULTI), **opts())
    assert isinstance(table, Table)
    assert list(table.columns) == list(PLATFORMS_COLUMNS)
    assert table["kind"].tolist() == ["image"] * 3 + ["attestation"] * 3
    images = [seeded.image(p) for p in seed.PLATFORMS]
    assert table["digest"].tolist()[:3] == [img.digest for img in images]
    assert table["describes"].tolist()[3:] == [img.digest for img in images]
    assert table["manifest_size"].tolist()[:3] == [img.manifest.size for img in images]
    assert table["compressed_size"].tolist()[:3] == [
        sum(b.size for b in img.layers) for img in images
    ]
    assert table["stored_size"].tolist()[:3] == [
        img.manifest.size + img.config.size + sum(b.size for b in img.layers) for img in images
    ]
    assert table["created"].notna().tolist() == [True] * 3 + [False] * 3
    assert table["error"].isna().all()


@registry
def test_platforms_load_concurrently_on_one_token(registry_token: Registry) -> None:
    """Token auth: the whole table costs one token, one index and one manifest per image
    (attestation manifests are not fetched for the default table)."""
    table = oi.platforms(registry_token.ref(seed.MULTI), **opts())
    assert len(table) == 6 and table["error"].isna().all()
    assert registry_token.token_server is not None
    assert registry_token.token_server.count() == 1
    gets = [r for r in registry_token.requests() if r.method == "GET" and r.status != 401]
    assert len([r for r in gets if "/manifests/" in r.path]) == 1 + 3
    assert not [r for r in gets if "/tags/" in r.path]


@registry
def test_an_entry_that_fails_shows_its_error_and_the_rest_load(registry_open: Registry) -> None:
    """A 404 on one platform's manifest fills that row's error; other rows are complete."""
    arm64 = registry_open.seeded[seed.MULTI].image("linux/arm64/v8").digest
    proxy = registry_open.proxy()
    proxy.faults.fail(404, times=None, path=f"/manifests/{arm64}")
    table = oi.platforms(f"{proxy.host}/{seed.MULTI}", **opts())
    errors = table["error"].tolist()
    assert errors[1] is not NA and "NotFoundError" in errors[1] and "404" in errors[1]
    assert [e is NA for e in errors] == [True, False, True, True, True, True]
    assert table["layers"].tolist()[1] is NA
    assert table["layers"].tolist()[0] == 2


@registry
def test_platform_filter_keeps_the_image_and_its_attestation(registry_open: Registry) -> None:
    """platforms(platform=...) keeps one image and the attestation that describes it."""
    table = oi.platforms(registry_open.ref(seed.MULTI), platform="linux/arm64", **opts())
    assert table["kind"].tolist() == ["image", "attestation"]
    assert table["describes"].tolist()[1] == table["digest"].tolist()[0]


@registry
def test_unknown_platform_lists_the_platforms_there_are(registry_open: Registry) -> None:
    """Every function refuses a platform the index lacks and names those it has."""
    with pytest.raises(PlatformNotFoundError) as err:
        oi.layers(registry_open.ref(seed.MULTI), platform="linux/s390x", **opts())
    assert err.value.available == list(seed.PLATFORMS)


# --------------------------------------------------------------------------- one image


SINGLE_MADE_BY = [
    "ADD rootfs.tar / # buildkit",
    "RUN rm /etc/os-release && rm -rf /var/log/* && echo new > /var/log/app.log",
    "COPY app /app # buildkit",
    "RUN ./update-data",
]


@registry
def test_layers_of_a_registry_image(registry_open: Registry) -> None:
    """Layers carry compression, sizes, diff_ids and the step that made each."""
    built = registry_open.seeded[seed.SINGLE].image()
    table = oi.layers(registry_open.ref(seed.SINGLE), **opts())
    assert table["compression"].tolist() == ["gzip", "zstd", "none", "gzip"]
    assert table["digest"].tolist() == [b.digest for b in built.layers]
    assert table["compressed_size"].tolist() == [b.size for b in built.layers]
    assert table["diff_id"].tolist() == [b.diff_id for b in built.layers]
    assert table["created_by"].tolist() == SINGLE_MADE_BY
    assert table["comment"].tolist()[0] == "buildkit.dockerfile.v0"


@registry
def test_history_of_a_registry_image(registry_open: Registry) -> None:
    """Seven steps; ENV, WORKDIR and CMD are empty; the rest made layers 0 to 3."""
    built = registry_open.seeded[seed.SINGLE].image()
    table = oi.history(registry_open.ref(seed.SINGLE), **opts())
    assert table["layer"].tolist() == [0, NA, 1, 2, NA, 3, NA]
    sizes = [b.size for b in built.layers]
    assert table["compressed_size"].tolist() == [
        sizes[0], NA, sizes[1], sizes[2], NA, sizes[3], NA
    ]
    assert table["author"].tolist()[3] == "rig <rig@example.invalid>"


@registry
def test_config_env_and_labels_of_a_registry_image(registry_open: Registry) -> None:
    """The config summary, Env and Labels read from the registry."""
    ref = registry_open.ref(seed.SINGLE)
    row = oi.config(ref, **opts()).iloc[0]
    assert (row["platform"], row["user"], row["working_dir"]) == ("linux/amd64", "1000:1000",
                                                                  "/app")
    assert (row["entrypoint"], row["cmd"]) == ('["/bin/sh", "-c"]', '["/app/run"]')
    assert row["digest"] == registry_open.seeded[seed.SINGLE].digest
    env = oi.env(ref, **opts())
    assert env["key"].tolist() == ["PATH", "APP"]
    labels = oi.labels(ref, **opts())
    assert dict(zip(labels["key"], labels["value"], strict=True))["rig.role"] == "seed"


@registry
def test_tags_are_fetched_only_when_asked(registry_open: Registry) -> None:
    """No table but tags() lists tags; tags() lists the repository's tags."""
    ref = registry_open.ref(seed.SINGLE)
    for function in (oi.platforms, oi.layers, oi.history, oi.config):
        function(ref, **opts())
    assert not [r for r in registry_open.requests() if "/tags/list" in r.path]
    assert sorted(oi.tags(ref, **opts())["tag"]) == ["1.0", "latest"]
    assert [r for r in registry_open.requests() if "/tags/list" in r.path]


@registry
def test_referrers_without_any_give_an_empty_table(registry_open: Registry) -> None:
    """distribution 2.8 has no referrers API and no fallback tag: an empty, typed table."""
    table = oi.referrers(registry_open.ref(seed.SINGLE), **opts())
    assert table.empty and list(table.columns) == list(REFERRER_EDGES_COLUMNS)


@registry
@pytest.mark.parametrize(
    "function",
    [api.layers, api.history, api.config, api.env, api.labels, api.referrers, api.platforms],
    ids=lambda f: f"{f.__name__} takes platform=",
)
def test_every_function_takes_a_platform(registry_open: Registry, function: Any) -> None:
    """platform= selects the arm/v7 image; a wrong one raises PlatformNotFoundError."""
    ref = registry_open.ref(seed.MULTI)
    assert isinstance(function(ref, platform="linux/arm/v7", **opts()), Table)
    with pytest.raises(PlatformNotFoundError):
        function(ref, platform="windows/amd64", **opts())


@registry
def test_an_open_index_is_reused_without_fetching_again(registry_open: Registry) -> None:
    """Passing an ImageIndex fetches only what the table needs, never the index again."""
    found = oi.open(registry_open.ref(seed.MULTI), **opts())
    assert isinstance(found, navigation.ImageIndex)
    registry_open.reset()
    oi.layers(found, platform="linux/arm64")
    manifests = [r for r in registry_open.requests() if "/manifests/" in r.path]
    assert len(manifests) == 1  # the arm64 manifest, by digest
    assert found.digest not in manifests[0].path


# --------------------------------------------------------------------------- compare, contents


@registry
def test_compare_two_platforms_of_an_index(registry_open: Registry) -> None:
    """amd64 and arm64 share the base layer; the arch layer differs; the platform differs,
    normalised and as written."""
    index = oi.open(registry_open.ref(seed.MULTI), **opts())
    amd64, arm64 = oi.image(index, "linux/amd64"), oi.image(index, "linux/arm64")
    result = oi.compare(amd64, arm64)
    assert result.layers["status"].tolist() == ["shared", "added", "removed"]
    changed = dict(zip(result.config["field"], result.config["b"], strict=True))
    assert set(changed) <= {"platform", "architecture", "variant"}
    assert (changed["platform"], changed["architecture"]) == ("linux/arm64/v8", "arm64")


@registry
def test_a_registry_image_equals_its_docker_archive(
    registry_open: Registry, tmp_path: Path
) -> None:
    """skopeo's docker-archive stores layers uncompressed: all shared by diff_id, same config."""
    archive = tmp_path / "docker.tar"
    skopeo("copy", "--quiet", "--src-tls-verify=false", "--src-no-creds",
           f"docker://{registry_open.ref(seed.DOCKER)}", f"docker-archive:{archive}:demo/docker:1",
           home=tmp_path / "home")
    result = oi.compare(registry_open.ref(seed.DOCKER), f"docker-archive:{archive}", **opts())
    assert result.layers["status"].tolist() == ["shared", "shared"]
    assert result.layers["match"].tolist() == ["diff_id", "diff_id"]
    assert result.config.empty
    assert oi.tags(f"docker-archive:{archive}")["tag"].tolist() == ["docker.io/demo/docker:1"]


@registry
def test_layer_contents_of_a_registry_image(registry_open: Registry) -> None:
    """files lists one layer; filesystem applies whiteouts; wasted finds superseded copies."""
    ref = registry_open.ref(seed.SINGLE)
    changes = oi.files(ref, 1, **opts())
    assert changes["whiteout"].dropna().tolist() == ["file", "opaque"]
    paths = oi.filesystem(ref, **opts())["path"].tolist()
    assert "etc/os-release" not in paths and "var/log/old.log" not in paths
    assert "var/log/app.log" in paths
    waste = oi.wasted(ref, **opts())
    how = dict(zip(waste["path"], waste["how"], strict=True))
    assert how == {"etc/os-release": "deleted", "var/log/old.log": "hidden",
                   "app/data.bin": "overwritten"}
    assert waste.attrs["wasted_bytes"] == 65536 + len(b"ID=rig\n") + len(b"old\n")


# --------------------------------------------------------------------------- local sources


def _image() -> build.BuiltImage:
    steps = [build.Step("ADD /"), build.Step("ENV A=1", empty_layer=True), build.Step("COPY x")]
    layers = [build.layer([build.file("etc/a", "a\n")]),
              build.layer([build.file("x", b"x" * 3000)], "none")]
    return build.image(layers, history=steps, labels={"k": "v"}, cmd=["/x"])


def test_an_oci_layout_reads_like_a_registry(tmp_path: Path) -> None:
    """oci:DIR:TAG gives the same layers and history as the image that was written."""
    img = _image()
    build.write_layout(tmp_path / "layout", img, tags=["v1", "v2"])
    ref = f"oci:{tmp_path / 'layout'}:v1"
    layers = oi.layers(ref)
    assert layers["digest"].tolist() == [b.digest for b in img.layers]
    assert layers["created_by"].tolist() == ["ADD /", "COPY x"]
    assert oi.history(ref)["layer"].tolist() == [0, NA, 1]
    assert oi.tags(ref)["tag"].tolist() == ["v1", "v2"]
    assert oi.platforms(ref)["platform"].tolist() == ["linux/amd64"]


def test_an_oci_archive_reads_like_its_layout(tmp_path: Path) -> None:
    """oci-archive:FILE (a tar of a layout) gives the same tables as the directory."""
    build.write_layout(tmp_path / "layout", _image(), tags=["v1"])
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted((tmp_path / "layout").rglob("*")):
            tar.add(path, arcname=path.relative_to(tmp_path / "layout").as_posix(),
                    recursive=False)
    left = oi.layers(f"oci:{tmp_path / 'layout'}:v1")
    right = oi.layers(f"oci-archive:{archive}:v1")
    pd.testing.assert_frame_equal(pd.DataFrame(left), pd.DataFrame(right))


@registry
def test_a_docker_archive_from_skopeo_keeps_diff_ids_and_history(tmp_path: Path) -> None:
    """skopeo copy oci: -> docker-archive: stores tars whose digests are the diff_ids."""
    img = _image()
    build.write_layout(tmp_path / "layout", img, tags=["v1"])
    archive = tmp_path / "docker.tar"
    skopeo("copy", "--quiet", f"oci:{tmp_path / 'layout'}:v1",
           f"docker-archive:{archive}:demo/app:v1", home=tmp_path / "home")
    ref = f"docker-archive:{archive}"
    layers = oi.layers(ref)
    assert layers["digest"].tolist() == [b.diff_id for b in img.layers]
    assert layers["compression"].tolist() == ["none", "none"]
    assert layers["created_by"].tolist() == ["ADD /", "COPY x"]
    result = oi.compare(f"oci:{tmp_path / 'layout'}:v1", ref)
    assert result.layers["status"].tolist() == ["shared", "shared"]
    assert result.config.empty
    assert oi.labels(ref)["value"].tolist() == ["v"]


def test_the_sample_opens_by_its_reference_string() -> None:
    """SAMPLE is an oci: reference that opens an index of three images."""
    found = oi.open(oi.SAMPLE)
    assert isinstance(found, navigation.ImageIndex)
    assert found.platforms == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    arm = oi.image(oi.SAMPLE, "linux/arm")
    assert isinstance(arm, navigation.Image) and str(arm.platform) == "linux/arm/v7"


def test_top_level_names_are_functions_and_modules_stay_modules() -> None:
    """oi.layers is the table function; navigation and contents live in their own modules."""
    from ociinspect import navigation
    from ociinspect.layers import contents

    assert callable(contents.iter_entries) and callable(navigation.ImageIndex)
    assert isinstance(oi.layers(oi.SAMPLE), Table)
    assert isinstance(oi.image(oi.SAMPLE, "linux/amd64"), navigation.Image)


# --------------------------------------------------------------------------- notebook HTML


@registry
def test_notebook_html_fetches_nothing(registry_open: Registry) -> None:
    """Rendering an index or an image shows what is loaded and sends no request."""
    index = oi.open(registry_open.ref(seed.MULTI), **opts())
    assert isinstance(index, navigation.ImageIndex)
    img = index.image("linux/arm64")
    registry_open.reset()
    index_html, image_html = index._repr_html_(), img._repr_html_()
    assert registry_open.requests() == []
    assert "3 images" in index_html and "3 attestations" in index_html
    assert "unknown/unknown" in index_html and "describes" in index_html
    assert "linux/arm64/v8" in image_html and img.digest in image_html


def test_notebook_html_escapes_what_sources_chose(tmp_path: Path) -> None:
    """A reference with markup in it is shown as text."""
    layout = tmp_path / "<img src=x onerror=alert(1)>"
    build.write_layout(layout, _image(), tags=["v1"])
    img = oi.image(f"oci:{layout}:v1")
    img.config  # noqa: B018 - loaded, so the layer rows show their steps
    html = img._repr_html_()
    assert "<img" not in html and "&lt;img src=x" in html
    assert "COPY x" in html


@pytest.mark.parametrize(
    "layer", [99, -6, "zzz", "", "sha256:"], ids=["past the top", "below the bottom",
                                                 "unknown digest", "empty", "ambiguous prefix"],
)
def test_a_missing_layer_is_a_typed_error(layer: int | str) -> None:
    """files() on a layer the image lacks raises LayerNotFoundError (an IndexError too)."""
    from ociinspect.errors import LayerNotFoundError

    with pytest.raises(LayerNotFoundError) as err:
        oi.files(oi.SAMPLE, layer)
    assert isinstance(err.value, IndexError) and "5" in str(err.value)
