"""ociinspect agrees with skopeo 1.9.3 on every seeded image and platform of the open rig.

skopeo is an independent reader of the same registry: ``inspect --raw`` gives the exact bytes
of what a tag names (an index stays an index), ``inspect`` with ``--override-os/-arch/-variant``
picks a platform and summarises its manifest and config, ``inspect --config --raw`` gives that
platform's config bytes. Digests, sizes, media types and config fields must match ours.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from rig import Registry, rig_session, seed
from rig.env import child_env

import ociinspect as oi
from ociinspect.testing import build
from ociinspect.values.platforms import Platform

pytestmark = pytest.mark.registry


def _platform(img: build.BuiltImage) -> str:
    fields = dict(img.platform)
    return "/".join(fields[k] for k in ("os", "architecture", "variant") if k in fields)


def _cases() -> list[tuple[str, str]]:
    """(reference, platform) for every seeded image: each platform of an index."""
    cases = []
    for ref, item in seed.catalog().items():
        if isinstance(item.root, build.BuiltIndex):
            cases += [(ref, _platform(img)) for img in item.root.images]
        else:
            cases.append((ref, _platform(item.root)))
    return cases


CASES = _cases()


def opts() -> dict[str, Any]:
    """A fresh session that reads no user credentials, with no disk cache."""
    return {"session": rig_session()}


def skopeo(registry: Registry, home: Path, ref: str, *flags: str,
           platform: str | None = None) -> bytes:
    """``skopeo [--override-…] inspect --tls-verify=false FLAGS docker://HOST/REF``."""
    overrides: list[str] = []
    if platform is not None:
        wanted = Platform.parse(platform)
        overrides = ["--override-os", wanted.os, "--override-arch", wanted.architecture]
        if wanted.variant:
            overrides += ["--override-variant", wanted.variant]
    result = subprocess.run(
        ["skopeo", *overrides, "inspect", "--tls-verify=false", "--no-creds", *flags,
         f"docker://{registry.ref(ref)}"],
        capture_output=True, env=child_env(home), timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "ref", sorted({ref for ref, _ in CASES}), ids=lambda r: f"raw bytes of {r}"
)
def test_top_level_document_matches_skopeo_raw(
    registry_open: Registry, tmp_path: Path, ref: str
) -> None:
    """The digest of skopeo's raw bytes is ours; an index's entries are our platform rows."""
    raw = skopeo(registry_open, tmp_path, ref, "--raw")
    found = oi.open(registry_open.ref(ref), **opts())
    assert found.digest == sha256(raw)
    body = json.loads(raw)
    if "manifests" not in body:
        layers = oi.layers(found)
        assert layers["digest"].tolist() == [d["digest"] for d in body["layers"]]
        assert layers["compressed_size"].tolist() == [d["size"] for d in body["layers"]]
        assert layers["media_type"].tolist() == [d["mediaType"] for d in body["layers"]]
        return
    table = oi.platforms(found)
    entries = body["manifests"]
    assert table["digest"].tolist() == [e["digest"] for e in entries]
    assert table["manifest_size"].tolist() == [e["size"] for e in entries]
    assert table["media_type"].tolist() == [e["mediaType"] for e in entries]
    assert table["platform"].tolist() == [str(Platform.from_dict(e["platform"])) for e in entries]
    for column, key in (("os", "os"), ("architecture", "architecture"), ("variant", "variant")):
        written = [e["platform"].get(key, pd.NA) for e in entries]
        assert table[column].tolist() == written, column  # the document's own words
    annotations = [e.get("annotations", {}) for e in entries]
    assert table["describes"].tolist() == [
        a.get("vnd.docker.reference.digest", pd.NA) for a in annotations
    ]
    assert (table["kind"] == "attestation").tolist() == [
        a.get("vnd.docker.reference.type") == "attestation-manifest" for a in annotations
    ]


@pytest.mark.parametrize(("ref", "platform"), CASES, ids=[f"{r} on {p}" for r, p in CASES])
def test_platform_summary_matches_skopeo_inspect(
    registry_open: Registry, tmp_path: Path, ref: str, platform: str
) -> None:
    """skopeo's chosen manifest, its layers, Env, Labels, os/arch and created are ours.

    skopeo 1.9.3's summary names the digest of what the tag points at (the index, for an
    index) and only the layer digests of the platform it chose (no LayersData); so the
    platform's manifest is fetched raw by digest, and must list exactly those layers."""
    summary = json.loads(skopeo(registry_open, tmp_path, ref, "--no-tags", platform=platform))
    img = oi.image(registry_open.ref(ref), platform, **opts())
    assert oi.open(registry_open.ref(ref), **opts()).digest == summary["Digest"]
    layers = oi.layers(img)
    assert layers["digest"].tolist() == summary["Layers"]
    env = oi.env(img)
    assert [f"{k}={v}" for k, v in zip(env["key"], env["value"], strict=True)] == summary["Env"]
    labels = oi.labels(img)
    assert dict(zip(labels["key"], labels["value"], strict=True)) == (summary["Labels"] or {})
    config = oi.config(img).iloc[0]
    assert (config["os"], config["architecture"]) == (summary["Os"], summary["Architecture"])
    assert config["created"] == pd.Timestamp(summary["Created"])

    repository = ref.rpartition(":")[0]
    raw = skopeo(registry_open, tmp_path, f"{repository}@{img.digest}", "--raw")
    assert sha256(raw) == img.digest
    manifest = json.loads(raw)
    assert [d["digest"] for d in manifest["layers"]] == summary["Layers"]
    assert layers["compressed_size"].tolist() == [d["size"] for d in manifest["layers"]]
    assert layers["media_type"].tolist() == [d["mediaType"] for d in manifest["layers"]]
    assert config["config_digest"] == manifest["config"]["digest"]
    assert config["compressed_size"] == sum(d["size"] for d in manifest["layers"])
    assert config["stored_size"] == len(raw) + manifest["config"]["size"] + sum(
        d["size"] for d in manifest["layers"]
    )
    row = oi.platforms(registry_open.ref(ref), platform=platform, **opts()).iloc[0]
    assert (row["digest"], row["manifest_size"]) == (img.digest, len(raw))
    assert row["compressed_size"] == config["compressed_size"]
    assert row["stored_size"] == config["stored_size"]


@pytest.mark.parametrize(
    ("ref", "platform"), CASES, ids=[f"config of {r} on {p}" for r, p in CASES]
)
def test_config_matches_skopeo_config_raw(
    registry_open: Registry, tmp_path: Path, ref: str, platform: str
) -> None:
    """The config bytes skopeo reads hash to our config digest; their fields are our columns."""
    raw = skopeo(registry_open, tmp_path, ref, "--config", "--raw", platform=platform)
    img = oi.image(registry_open.ref(ref), platform, **opts())
    row = oi.config(img).iloc[0]
    assert row["config_digest"] == sha256(raw)
    body = json.loads(raw)
    run = body.get("config") or {}

    def plain(value: Any) -> Any:
        return None if value is pd.NA else value

    def listed(value: Any) -> str | None:
        return None if value is None else json.dumps(list(value))

    assert plain(row["entrypoint"]) == listed(run.get("Entrypoint"))
    assert plain(row["cmd"]) == listed(run.get("Cmd"))
    assert plain(row["exposed_ports"]) == listed(run.get("ExposedPorts") or None)
    assert plain(row["volumes"]) == listed(run.get("Volumes") or None)
    assert plain(row["user"]) == run.get("User")
    assert plain(row["working_dir"]) == run.get("WorkingDir")
    assert plain(row["stop_signal"]) == run.get("StopSignal")
    assert (row["os"], row["architecture"]) == (body["os"], body["architecture"])
    assert plain(row["variant"]) == body.get("variant")
    assert row["label_count"] == len(run.get("Labels") or {})
    assert row["env_count"] == len(run.get("Env") or [])
    assert oi.layers(img)["diff_id"].tolist() == body["rootfs"]["diff_ids"]
    history = oi.history(img)
    steps = body.get("history") or []
    assert history["created_by"].tolist() == [s.get("created_by") for s in steps]
    assert history["empty_layer"].tolist() == [bool(s.get("empty_layer")) for s in steps]
