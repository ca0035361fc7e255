"""The bundled sample: reproducible byte for byte, shipped as package data, and what it shows."""

from __future__ import annotations

import glob
import json
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import ociinspect as oi
from ociinspect.testing import samples

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ociinspect"


def _files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_rebuilding_gives_the_shipped_sample_byte_for_byte(tmp_path: Path) -> None:
    """``python -m ociinspect.testing.samples OUTDIR`` writes exactly the files that are shipped."""
    out = tmp_path / "sample"
    result = subprocess.run(
        [sys.executable, "-m", "ociinspect.testing.samples", str(out)],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rebuilt, shipped = _files(out), _files(samples.SAMPLE_DIR)
    assert sorted(rebuilt) == sorted(shipped)
    different = [name for name in shipped if rebuilt[name] != shipped[name]]
    assert different == []


def test_the_builder_refuses_to_mix_into_a_non_empty_directory(tmp_path: Path) -> None:
    """Writing over an existing layout needs --force, which replaces the layout's files."""
    (tmp_path / "stale").mkdir(parents=True)
    (tmp_path / "blobs" / "sha256").mkdir(parents=True)
    (tmp_path / "blobs" / "sha256" / ("0" * 64)).write_bytes(b"stale blob")
    assert samples.main([str(tmp_path), "--force"]) == 0
    assert not (tmp_path / "blobs" / "sha256" / ("0" * 64)).exists()
    assert (tmp_path / "stale").is_dir()  # only the layout's own files are touched
    with pytest.raises(SystemExit) as refused:
        samples.main([str(tmp_path)])
    assert refused.value.code == 2


def test_sample_is_small_and_found_as_package_data() -> None:
    """A few hundred KB at most; importlib.resources finds it; SAMPLE points at it."""
    shipped = _files(samples.SAMPLE_DIR)
    assert sum(len(data) for data in shipped.values()) < 300 * 1024
    found = resources.files("ociinspect").joinpath("sample")
    assert found.joinpath("oci-layout").is_file() and found.joinpath("index.json").is_file()
    assert Path(str(found)) == PACKAGE / "sample"
    assert f"oci:{PACKAGE / 'sample'}:latest" == oi.SAMPLE


def test_package_data_patterns_cover_every_sample_file() -> None:
    """pyproject's package-data globs (setuptools' recursive glob) match each shipped file."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["ociinspect"]
    matched = {
        Path(hit).relative_to(PACKAGE).as_posix()
        for pattern in patterns
        for hit in glob.glob(str(PACKAGE / pattern), recursive=True)
        if Path(hit).is_file()
    }
    wanted = {f"sample/{name}" for name in _files(samples.SAMPLE_DIR)}
    assert wanted <= matched


# --------------------------------------------------------------------------- what it shows


def test_platforms_are_three_images_and_three_attestations() -> None:
    """Each image has an attestation whose ``describes`` is that image's digest."""
    table = oi.platforms(oi.SAMPLE)
    images = table[table["kind"] == "image"]
    attestations = table[table["kind"] == "attestation"]
    assert images["platform"].tolist() == list(samples.PLATFORMS)
    assert attestations["platform"].tolist() == ["unknown/unknown"] * 3
    assert attestations["describes"].tolist() == images["digest"].tolist()
    assert table["error"].isna().all()
    built = samples.sample_index()
    assert images["digest"].tolist() == [img.digest for img in built.images]


def test_sizes_add_up() -> None:
    """compressed_size is the layers, stored_size adds manifest and config (the image repr's
    figure); with the other blobs they make up the blob directory."""
    table = oi.platforms(oi.SAMPLE)
    for row in table[table["kind"] == "image"].itertuples():
        img = oi.image(oi.SAMPLE, row.platform)
        layers = oi.layers(img)
        assert row.compressed_size == int(layers["compressed_size"].sum())
        assert row.compressed_size == oi.config(img)["compressed_size"].iloc[0]
        assert row.stored_size == img.size == oi.config(img)["stored_size"].iloc[0]
        assert row.manifest_size == len(img.manifest.raw)
        assert row.config_size == img.manifest.config.size
        assert layers["share"].sum() == pytest.approx(1.0)
    built = samples.sample_index()
    unique = {blob.digest: blob.size for blob in built.blobs()}
    manifest, extra = samples.sbom_artifact(built.image_for("linux/amd64"))
    unique.update({b.digest: b.size for b in (manifest, *extra)})
    on_disk = sum(p.stat().st_size for p in (samples.SAMPLE_DIR / "blobs" / "sha256").iterdir())
    assert sum(unique.values()) == on_disk


def test_history_has_empty_steps_and_layers_line_up() -> None:
    """13 steps, 8 of them empty; the 5 others made layers 0..4 in order."""
    history = oi.history(oi.SAMPLE)
    assert len(history) == 13
    assert int(history["empty_layer"].sum()) == 8
    assert history["layer"].dropna().tolist() == [0, 1, 2, 3, 4]
    layers = oi.layers(oi.SAMPLE)
    made = history.loc[~history["empty_layer"], "created_by"]
    assert layers["created_by"].tolist() == made.tolist()
    assert layers["compression"].tolist() == ["gzip", "gzip", "zstd", "gzip", "gzip"]


def test_config_env_labels_and_tags() -> None:
    """The config declares env, labels, entrypoint, cmd, ports, volumes; two tags."""
    row = oi.config(oi.SAMPLE).iloc[0]
    assert json.loads(row["entrypoint"]) == ["/usr/local/bin/hello"]
    assert json.loads(row["cmd"]) == ["--port", "8080"]
    assert json.loads(row["exposed_ports"]) == ["8080/tcp"]
    assert json.loads(row["volumes"]) == ["/data"]
    assert (row["user"], row["working_dir"], row["stop_signal"]) == ("app", "/app", "SIGTERM")
    env = oi.env(oi.SAMPLE)
    assert dict(zip(env["key"], env["value"], strict=True))["APP_ENV"] == "production"
    labels = oi.labels(oi.SAMPLE)
    assert "org.opencontainers.image.title" in labels["key"].tolist()
    assert oi.tags(oi.SAMPLE)["tag"].tolist() == ["latest", "1.0"]


def test_whiteouts_delete_and_an_overwrite_wastes_space() -> None:
    """The cleanup layer deletes files via whiteouts; config.json is overwritten."""
    waste = oi.wasted(oi.SAMPLE)
    how = dict(zip(waste["path"], waste["how"], strict=True))
    assert how == {
        "var/cache/pkg/index.bin": "deleted",
        "var/log/build.log": "deleted",
        "app/config.json": "overwritten",
    }
    assert waste.attrs["wasted_bytes"] == int(waste["size"].sum()) > 12 * 1024
    cleanup = oi.files(oi.SAMPLE, 2)
    assert cleanup["whiteout"].tolist() == ["file", "file"]
    paths = oi.filesystem(oi.SAMPLE)["path"].tolist()
    assert "var/cache/pkg" not in paths and "var/log/build.log" not in paths
    assert "app/config.json" in paths and "bin/busybox" in paths


def test_the_amd64_image_has_an_sbom_referrer() -> None:
    """The untagged SBOM artifact in index.json refers to the linux/amd64 image only."""
    amd64 = oi.referrers(oi.SAMPLE, platform="linux/amd64")
    assert amd64["artifact_type"].tolist() == [samples.SBOM_TYPE]
    assert oi.referrers(oi.SAMPLE, platform="linux/arm64").empty


@pytest.mark.parametrize("tag", ["latest", "1.0"], ids=["tag latest", "tag 1.0"])
def test_both_tags_name_the_same_index(tag: str) -> None:
    """latest and 1.0 open the same index."""
    found = oi.open(f"oci:{samples.SAMPLE_DIR}:{tag}")
    assert isinstance(found, oi.ImageIndex)
    assert found.digest == samples.sample_index().digest
