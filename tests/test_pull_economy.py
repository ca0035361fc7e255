"""Pull economy: the manifest GETs (what Docker Hub counts as pulls) each table function spends on
an index of 8 platforms and 8 attestations, counted twice and independently: by the session's
trace (``trace.summary(mark).pulls``) and by the registry's own access log.

The index is built with :mod:`ociinspect.testing.build` and pushed to the open rig registry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rig import Registry, rig_session
from rig.push import push

import ociinspect as oi
from ociinspect.session import Session
from ociinspect.testing import build

pytestmark = pytest.mark.registry

PLATFORMS = (
    "linux/amd64",
    "linux/arm64/v8",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/386",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
)
REPOSITORY = "scratch/pull-economy"


def eight_by_eight() -> build.BuiltIndex:
    """8 images (a shared base layer and one of their own) and BuildKit's 8 attestations."""
    base = build.layer([build.directory("etc"), build.file("etc/os-release", b"ID=economy\n")])
    images = [
        build.image([base, build.layer([build.file("etc/arch", f"{p}\n")])], platform=p)
        for p in PLATFORMS
    ]
    return build.index(images)


@pytest.fixture(scope="module")
def pushed(registry_open_session: Registry) -> tuple[str, build.BuiltIndex]:
    """The 8 + 8 index, pushed once for the module; returns its reference and what it holds."""
    built = eight_by_eight()
    assert len(built.images) == 8 and len(built.attestations) == 8
    push(registry_open_session.url, REPOSITORY, built)
    return registry_open_session.ref(f"{REPOSITORY}:latest"), built


def manifest_gets(registry: Registry) -> int:
    """Manifest GETs the registry served (200) since the test began, from its access log."""
    return registry.count(
        lambda r: r.method == "GET" and "/manifests/" in r.path and r.status == 200
    )


Call = Callable[[str, Session], Any]

#: (id, call, manifest GETs on a cold session with an empty cache, and why)
CASES: list[tuple[str, Call, int]] = [
    ("platforms, the default table", lambda r, s: oi.platforms(r, session=s), 1 + 8),
    (
        "platforms of one platform",
        lambda r, s: oi.platforms(r, platform="linux/arm64", session=s),
        1 + 1,
    ),
    (
        "platforms with the attestation manifests",
        lambda r, s: oi.platforms(r, fetch_attestations=True, session=s),
        1 + 16,
    ),
    ("layers", lambda r, s: oi.layers(r, session=s), 2),
    ("history", lambda r, s: oi.history(r, session=s), 2),
    ("config", lambda r, s: oi.config(r, session=s), 2),
    ("env", lambda r, s: oi.env(r, session=s), 2),
    ("labels", lambda r, s: oi.labels(r, session=s), 2),
    ("files of the top layer", lambda r, s: oi.files(r, -1, session=s), 2),
    ("filesystem", lambda r, s: oi.filesystem(r, session=s), 2),
    ("wasted", lambda r, s: oi.wasted(r, session=s), 2),
    ("tags", lambda r, s: oi.tags(r, session=s), 0),
    ("compare an image with itself", lambda r, s: oi.compare(r, r, session=s), 2),
    # distribution 2.8 has no referrers API: after its 404 the sha256-<hex> fallback tag is
    # asked for with a HEAD (404 too), which costs no pull.
    ("referrers, through the tag fallback", lambda r, s: oi.referrers(r, session=s), 1),
]


@pytest.mark.parametrize(
    ("call", "pulls"), [pytest.param(c, n, id=name) for name, c, n in CASES]
)
def test_manifest_gets_per_table_function(
    registry_open: Registry,
    pushed: tuple[str, build.BuiltIndex],
    tmp_path: Path,
    call: Call,
    pulls: int,
) -> None:
    """Cold: the trace and the registry count the same manifest GETs, the number the table
    needs; warm (same session and disk cache): none at all, the tag is revalidated by HEAD."""
    ref, _ = pushed
    session = rig_session(tmp_path / "cache")
    mark = session.trace.mark()
    call(ref, session)
    assert session.trace.summary(mark).pulls == pulls
    assert manifest_gets(registry_open) == pulls
    again = session.trace.mark()
    call(ref, session)
    assert session.trace.summary(again).pulls == 0
    assert manifest_gets(registry_open) == pulls


def test_default_platforms_table_lists_attestations_it_did_not_fetch(
    registry_open: Registry, pushed: tuple[str, build.BuiltIndex]
) -> None:
    """The default table has all 16 rows; attestation rows name the image they describe and
    leave the fields only their manifests hold empty (fetch_attestations=True fills them)."""
    ref, built = pushed
    table = oi.platforms(ref, session=rig_session())
    assert table["kind"].tolist() == ["image"] * 8 + ["attestation"] * 8
    attestations = table[table["kind"] == "attestation"]
    assert attestations["describes"].tolist() == [img.digest for img in built.images]
    assert attestations["layers"].isna().all() and attestations["compressed_size"].isna().all()
    full = oi.platforms(ref, fetch_attestations=True, session=rig_session())
    assert full[full["kind"] == "attestation"]["layers"].tolist() == [1] * 8


def test_platform_filter_fetches_only_the_matching_image(
    registry_open: Registry, pushed: tuple[str, build.BuiltIndex]
) -> None:
    """platforms(platform=...) asks for the index and that one image's manifest, no other."""
    ref, built = pushed
    wanted = built.image_for("linux/s390x").digest
    table = oi.platforms(ref, platform="linux/s390x", session=rig_session())
    assert table["digest"].tolist()[0] == wanted
    paths = [r.path for r in registry_open.requests() if "/manifests/" in r.path]
    assert paths == [f"/v2/{REPOSITORY}/manifests/latest", f"/v2/{REPOSITORY}/manifests/{wanted}"]


def test_trace_table_marks_each_pull(
    registry_open: Registry, pushed: tuple[str, build.BuiltIndex]
) -> None:
    """The trace table's ``pull`` column is True exactly for manifest GETs; its summary agrees."""
    ref, _ = pushed
    session = rig_session()
    oi.platforms(ref, session=session)
    frame = oi.tables.trace_frame(session.trace)
    pulls = frame[frame["pull"]]
    assert len(pulls) == 9
    assert (pulls["method"] == "GET").all() and pulls["url"].str.contains("/manifests/").all()
    assert frame.attrs["summary"].pulls == 9
    assert "9 pulls (manifest GETs)" in frame.attrs["summary"].describe()


def test_index_listed_fetches_images_and_names_attestations(
    registry_open: Registry, pushed: tuple[str, build.BuiltIndex]
) -> None:
    """ImageIndex.listed(): every entry in order, the images fetched, attestations None."""
    ref, built = pushed
    session = rig_session()
    found = oi.open(ref, session=session)
    assert isinstance(found, oi.ImageIndex)
    listed = found.listed()
    assert [e.kind for e, _ in listed] == ["image"] * 8 + ["attestation"] * 8
    assert [t.digest for _, t in listed[:8]] == [img.digest for img in built.images]  # type: ignore[union-attr]
    assert [t for _, t in listed[8:]] == [None] * 8
    assert session.trace.summary().pulls == 1 + 8
