"""Exact on real images: diff_ids verified, hardlinks merged, changes per layer, and what the
documents really say (issue 15).

Real-tool fixtures (``debian_image``, ``real_images``: umoci, skopeo, dpkg-deb of real .debs)
are the reference answers; the registry rig covers the disk cache and ``validate`` over every
seeded image. Small images built here pin the rules real tools do not reach.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from realimages import DebianImage, RealImages
from rig import Registry, seed, supply
from rig.push import push

import ociinspect as oi
from ociinspect import cli
from ociinspect.errors import DiffIdMismatchError, DigestMismatchError
from ociinspect.layers import changes as kinds
from ociinspect.layers.contents import iter_entries
from ociinspect.layers.overlay import apply_layers
from ociinspect.layers.sizes import cache_of
from ociinspect.layers.verify import NOT_LISTED, check_diff_id, expected_diff_id
from ociinspect.tables import CHANGES_COLUMNS, FILESYSTEM_COLUMNS, VALIDATE_COLUMNS
from ociinspect.testing import build
from ociinspect.values.digest import sha256

NA = pd.NA


def session(**changes: Any) -> oi.Session:
    """A session that reads no user settings, has no disk cache and shows no bar."""
    return oi.Session(oi.Settings(cache=False, progress=False, docker_config=False), **changes)


def rebuilt(img: build.BuiltImage, edit: Any = None, **manifest_extra: Any) -> build.BuiltImage:
    """``img`` with its config JSON edited by ``edit(config)`` and ``manifest_extra`` keys added
    to its manifest, both re-hashed (every descriptor verifies)."""
    config = json.loads(img.config.data)
    if edit is not None:
        edit(config)
    config_blob = build.json_blob(config, img.config.media_type)
    manifest = json.loads(img.manifest.data)
    manifest["config"] = config_blob.descriptor()
    manifest.update(manifest_extra)
    manifest_blob = build.json_blob(manifest, img.manifest.media_type)
    return build.BuiltImage(manifest_blob, config_blob, img.layers, img.platform)


def layout(tmp_path: Path, root: Any, name: str = "layout", tags: tuple[str, ...] = ("t",)) -> str:
    return f"oci:{build.write_layout(tmp_path / name, root, tags)}:{tags[0]}"


# ============================================================================ diff_ids


def test_check_diff_id_names_image_position_layer_and_both_digests() -> None:
    """The one helper: silent on a match or nothing expected; else the typed error says all."""
    good, bad = sha256(b"tar"), sha256(b"other")
    check_diff_id("oci:/x:t", 2, sha256(b"blob"), good, good)
    check_diff_id("oci:/x:t", 2, sha256(b"blob"), None, bad)
    with pytest.raises(DiffIdMismatchError) as caught:
        check_diff_id("oci:/x:t", 2, sha256(b"blob"), good, bad)
    error = caught.value
    assert isinstance(error, DigestMismatchError)
    assert (error.image, error.position, error.layer) == ("oci:/x:t", 2, sha256(b"blob"))
    assert (error.expected, error.actual) == (good, bad)
    assert all(part in str(error) for part in ("oci:/x:t", "layer 2", good, bad))


def test_expected_diff_id_reads_the_config_and_flags_a_missing_one() -> None:
    """The config's diff_ids[i]; None without a config; a sentinel that never matches when the
    config lists too few."""
    assert expected_diff_id(("sha256:" + "a" * 64,), 0) == "sha256:" + "a" * 64
    assert expected_diff_id(None, 0) is None
    assert expected_diff_id(("sha256:" + "a" * 64,), 1) == NOT_LISTED
    with pytest.raises(DiffIdMismatchError, match="fewer rootfs.diff_ids"):
        check_diff_id("i", 1, "sha256:" + "b" * 64, NOT_LISTED, "sha256:" + "c" * 64)


LISTERS = [
    pytest.param(lambda ref, s: oi.files(ref, 0, session=s), id="files"),
    pytest.param(lambda ref, s: oi.filesystem(ref, session=s), id="filesystem"),
    pytest.param(lambda ref, s: oi.wasted(ref, session=s), id="wasted"),
    pytest.param(lambda ref, s: oi.changes(ref, session=s), id="changes"),
    pytest.param(lambda ref, s: oi.layers(ref, sizes="exact", session=s), id="exact sizes"),
]


@pytest.mark.parametrize("lister", LISTERS)
def test_a_wrong_diff_id_is_refused_and_nothing_is_remembered(
    real_images: RealImages, lister: Any
) -> None:
    """Every reader that decompresses a layer compares the tar with the config's diff_id: a
    tampered config raises DiffIdMismatchError naming the layer, and no size is kept."""
    bad = real_images.tampered("diff_id", 0)
    work = session()
    with pytest.raises(DiffIdMismatchError) as caught:
        lister(bad.ref, work)
    error = caught.value
    assert (error.position, error.layer) == (0, bad.layer_digest)
    assert (error.expected, error.actual) == (bad.claimed, bad.actual)
    assert bad.ref in str(error)
    assert work.sizes.known(bad.layer_digest) is None


def test_a_remembered_diff_id_is_checked_without_reading_again(debian_image: DebianImage,
                                                              real_images: RealImages) -> None:
    """Once a layer was listed, a config that names another diff_id for it is refused even
    when its sizes come from memory (no read at all)."""
    work = session()
    assert len(oi.files(debian_image.ref, 0, session=work)) > 1000
    bad = real_images.tampered("diff_id", 0)
    with pytest.raises(DiffIdMismatchError):
        oi.layers(bad.ref, sizes="none", session=work)
    assert oi.layers(debian_image.ref, sizes="none", session=work)["uncompressed_exact"].iloc[0]


@pytest.mark.registry
def test_a_registry_image_with_a_wrong_diff_id_leaves_no_size_in_the_disk_cache(
    registry_open: Registry, tmp_path: Path
) -> None:
    """Through a registry and a disk cache: the blob is cached (its digest verified), but no
    uncompressed size is written to the cache's metadata for the refused layer; a good image
    of the same layer then records it, and the bad one is refused from that record."""
    good = build.image([build.layer([build.file("etc/motd", b"hello\n" * 50)])])
    bad = rebuilt(good, lambda c: c["rootfs"].update(diff_ids=[sha256(b"not this tar")]))
    push(registry_open.url, "scratch/diffid", good, "good")
    push(registry_open.url, "scratch/diffid", bad, "bad")
    cached = oi.Session(oi.Settings(cache=True, cache_dir=str(tmp_path / "cache"),
                                    progress=False, docker_config=False))
    digest = good.layers[0].digest
    with pytest.raises(DiffIdMismatchError):
        oi.filesystem(registry_open.ref("scratch/diffid:bad"), session=cached)
    img = oi.image(registry_open.ref("scratch/diffid:bad"), session=cached)
    cache = cache_of(img.source)
    assert cache is not None and cache.has(digest)
    assert "uncompressed" not in cache.get_meta(digest)
    assert cached.sizes.known(digest) is None
    assert len(oi.filesystem(registry_open.ref("scratch/diffid:good"), session=cached)) == 1
    assert cache.get_meta(digest)["uncompressed"]["diffId"] == good.layers[0].diff_id
    fresh = oi.Session(cached.settings)  # a later process: knows the size from the cache only
    with pytest.raises(DiffIdMismatchError):
        oi.layers(registry_open.ref("scratch/diffid:bad"), sizes="none", session=fresh)


# ============================================================================ validate


def test_validate_passes_on_the_debian_image(debian_image: DebianImage) -> None:
    """Manifest, config and three layers: every check named, every one passed."""
    table = oi.validate(debian_image.ref, session=session())
    assert list(table.columns) == list(VALIDATE_COLUMNS)
    assert table["kind"].tolist() == ["manifest", "config", "layer", "layer", "layer"]
    assert table["ok"].all() and table.attrs["ok"] and table.attrs["failed"] == 0
    layers = table[table["kind"] == "layer"]
    assert layers["checked"].unique().tolist() == ["digest, size, tar, diff_id"]
    assert layers["actual_diff_id"].tolist() == [f.diff_id for f in debian_image.layers]
    assert layers["diff_id"].tolist() == [f.diff_id for f in debian_image.layers]
    assert layers["read_size"].tolist() == [f.size for f in debian_image.layers]


@pytest.mark.parametrize(
    ("kind", "error"),
    [("diff_id", "DiffIdMismatchError"), ("truncated", "SizeMismatchError"),
     ("size", "SizeMismatchError")],
    ids=["a tampered diff_id", "a truncated layer", "a wrong layer size"],
)
def test_validate_fails_the_broken_layer_and_reads_the_rest(
    real_images: RealImages, kind: str, error: str
) -> None:
    """Exactly the broken layer fails, with the typed error; the other blobs still pass."""
    bad = real_images.tampered(kind, 0)
    table = oi.validate(bad.ref, session=session())
    failed = table[~table["ok"]]
    assert failed["kind"].tolist() == ["layer"] and failed["position"].tolist() == [0]
    assert failed["digest"].tolist() == [bad.layer_digest]
    assert failed["error"].iloc[0].startswith(error + ":")
    assert table.attrs == {**table.attrs, "ok": False, "failed": 1, "blobs": 5}
    if kind == "diff_id":
        assert failed["actual_diff_id"].tolist() == [bad.actual]


@pytest.mark.parametrize(
    ("kind", "status"), [("diff_id", 1), ("truncated", 1), ("size", 1)],
    ids=["diff_id", "truncated", "size"],
)
def test_validate_on_the_command_line_exits_1_when_a_blob_fails(
    real_images: RealImages, kind: str, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ociinspect validate`` prints the table, then one error line; exit status 1."""
    bad = real_images.tampered(kind, 0)
    assert cli.main(["validate", bad.ref, "--no-cache"]) == status
    out, err = capsys.readouterr()
    assert "1 of 5 blobs failed" in out
    assert err.strip().splitlines() == [
        "ociinspect: error: 1 of 5 blobs failed validation (see the error column)"
    ]


def test_validate_all_checks_every_entry_of_the_sample() -> None:
    """--all reads the index, every image and every attestation (in-toto layers: their
    diff_id is their digest)."""
    table = oi.validate(oi.SAMPLE, all_platforms=True, session=session())
    assert table["ok"].all()
    assert table["kind"].tolist().count("manifest") == 6
    attest = table[(table["kind"] == "layer") & table["media_type"].str.contains("in-toto")]
    assert len(attest) == 3 and (attest["actual_diff_id"] == attest["digest"]).all()
    assert cli.main(["validate", "--all", "--no-cache", "-f", "json"]) == 0


@pytest.mark.registry
@pytest.mark.parametrize("name", [*seed.REFERENCES, supply.REFERENCE])
def test_validate_passes_on_every_rig_image(registry_open: Registry, name: str) -> None:
    """Every seeded image of the registry rig validates, every entry of an index included."""
    table = oi.validate(registry_open.ref(name), all_platforms=True, session=session())
    assert table.attrs["ok"], table[~table["ok"]][["kind", "digest", "error"]].to_string()
    assert (table["kind"] == "layer").sum() >= 1


# ============================================================================ hardlinks


def _regular_files(root: Path) -> list[str]:
    return sorted(
        str(Path(dirpath, name))
        for dirpath, _, names in os.walk(root)
        for name in names
        if Path(dirpath, name).is_file() and not Path(dirpath, name).is_symlink()
    )


def _du(root: Path, *extra: str) -> int:
    """GNU du's apparent bytes over the regular files of ``root`` (hard links once, unless
    ``--count-links``)."""
    files = "\0".join(_regular_files(root)) + "\0"
    run = subprocess.run(
        ["du", "--apparent-size", "-b", "-c", *extra, "--files0-from=-"],
        input=files.encode(), capture_output=True, check=True,
    )
    return int(run.stdout.decode().splitlines()[-1].split()[0])


def test_filesystem_sums_equal_du_of_umoci_unpack(debian_image: DebianImage) -> None:
    """Every name counted: du --count-links; each inode once: du; both of ``umoci unpack
    --rootless`` of the same image, the deleted data-carrying name included."""
    fs = oi.filesystem(debian_image.ref, session=session())
    assert list(fs.columns) == list(FILESYSTEM_COLUMNS)
    files = fs[fs["type"] == "file"]
    per_inode = int(files.drop_duplicates("inode")["size"].sum())
    per_name = int(files["size"].sum())
    assert per_name == debian_image.tree.bytes_per_name == _du(debian_image.rootfs, "-l")
    assert per_inode == debian_image.tree.bytes_per_inode == _du(debian_image.rootfs)
    assert (fs["type"] == "hardlink").sum() == 0


def test_filesystem_matches_umoci_unpack_path_by_path(debian_image: DebianImage) -> None:
    """Regular files (size, mode), symlinks (target), directories and hardlink groups: the
    merged view is the unpacked tree."""
    fs = oi.filesystem(debian_image.ref, session=session()).set_index("path")
    tree = debian_image.tree
    files = fs[fs["type"] == "file"]
    assert sorted("/" + p for p in files.index) == [f.path for f in tree.files]
    for fact in tree.files:
        row = files.loc[fact.path[1:]]
        shown = (row["size"], row["mode"], row["links"])
        assert shown == (fact.size, stat.filemode(stat.S_IFREG | fact.mode), fact.links), fact
    links = fs[fs["type"] == "symlink"]["link_target"]
    assert sorted(("/" + p, t) for p, t in links.items()) == list(tree.symlinks)
    assert sorted("/" + p for p in fs[fs["type"] == "dir"].index if p != ".") == [
        d for d in tree.directories if d != "/"
    ]
    groups = files[files["links"] > 1].groupby("inode").groups
    assert sorted(tuple(sorted("/" + p for p in names)) for names in groups.values()) == list(
        tree.hardlink_groups
    )


def test_file_contents_match_the_unpacked_tree(debian_image: DebianImage) -> None:
    """With data hashed while listing, every regular file's sha256 is the unpacked file's,
    hardlinks included (they carry their target's data)."""
    img = oi.image(debian_image.ref, session=session())
    listings = []
    for desc in img.layers:
        with img.source.open_blob(desc.digest, desc.size) as chunks:
            listings.append(list(iter_entries(chunks, desc.compression or "", digests=True)))
    merged = {m.path: m for m in apply_layers(listings).merged if m.type == "file"}
    for fact in debian_image.tree.files:
        assert merged[fact.path[1:]].content_digest == "sha256:" + fact.sha256, fact.path


def test_a_deleted_data_name_leaves_its_bytes_under_the_survivor(
    debian_image: DebianImage,
) -> None:
    """perl5.36.0 (a tar hardlink to the whited-out usr/bin/perl) is a regular file with
    perl's size and mode; wasted() does not count perl's bytes."""
    fs = oi.filesystem(debian_image.ref, session=session()).set_index("path")
    survivor = fs.loc[debian_image.surviving_link_name[1:]]
    fact = debian_image.tree.file(debian_image.surviving_link_name)
    assert (survivor["type"], survivor["size"], survivor["links"]) == ("file", fact.size, 1)
    assert survivor["mode"] == "-rwxr-xr-x" and fact.mode == 0o755
    assert survivor["hardlink_to"] == debian_image.deleted_data_name[1:]
    assert debian_image.deleted_data_name[1:] not in fs.index
    waste = oi.wasted(debian_image.ref, session=session())
    assert "usr/bin/perl" not in waste["path"].tolist()
    assert waste.attrs["wasted_bytes"] < fact.size


def test_a_hardlink_pair_added_by_a_layer_shares_one_inode(debian_image: DebianImage) -> None:
    """hello and hello-again: same inode, links 2, hello-again says what it links to."""
    fs = oi.filesystem(debian_image.ref, session=session()).set_index("path")
    hello, again = (fs.loc[p[1:]] for p in debian_image.added_link_pair)
    assert hello["inode"] == again["inode"] and hello["links"] == again["links"] == 2
    assert (hello["hardlink_to"] is NA, again["hardlink_to"]) == (True, "usr/local/bin/hello")
    assert again["size"] == hello["size"] == 36


@pytest.fixture
def write(tmp_path: Path) -> Iterator[Any]:
    """Makes an OCI layout of one image whose layers hold the entries given, in that order."""
    count = iter(range(100))

    def make(*layers: list[build.Member]) -> str:
        blobs = [build.layer(entries, "gzip", sort=False) for entries in layers]
        return layout(tmp_path, build.image(blobs), f"l{next(count)}")

    yield make


def test_bytes_become_wasted_when_the_last_name_goes(write: Any) -> None:
    """Layer 1 deletes the data name (nothing wasted), layer 2 the hardlink (now wasted, shown
    at the data name where the bytes are stored); changes() says which change did it."""
    data = b"x" * 5000
    ref = write(
        [build.file("bin/tool", data), build.hardlink("bin/tool-1.0", "bin/tool")],
        [build.whiteout("bin/tool")],
        [build.whiteout("bin/tool-1.0")],
    )
    waste = oi.wasted(ref, session=session())
    assert waste[["path", "size", "added_in", "superseded_in", "how"]].values.tolist() == [
        ["bin/tool", 5000, 0, 2, "deleted"]
    ]
    found = oi.changes(ref, session=session()).set_index(["layer", "path"])
    assert found.loc[(1, "bin/tool"), "change"] == kinds.DELETED
    assert not found.loc[(1, "bin/tool"), "wasted"]
    assert found.loc[(2, "bin/tool-1.0"), "wasted_size"] == 5000
    assert int(found["wasted_size"].sum()) == waste.attrs["wasted_bytes"] == 5000


def test_a_hardlink_to_a_lower_layer_file_is_resolved_as_containerd_does(write: Any) -> None:
    """A link whose target is not in its own tar links to the path below (containerd links to
    what is on disk); overwriting one name later leaves the other's data alone."""
    ref = write(
        [build.file("etc/a", b"a" * 100, mode=0o600)],
        [build.hardlink("etc/b", "etc/a")],
        [build.file("etc/a", b"new")],
    )
    fs = oi.filesystem(ref, session=session()).set_index("path")
    assert (fs.loc["etc/b", "type"], fs.loc["etc/b", "size"], fs.loc["etc/b", "mode"]) == (
        "file", 100, "-rw-------"
    )
    assert fs.loc["etc/a", "size"] == 3 and fs.loc["etc/a", "links"] == 1
    assert oi.wasted(ref, session=session()).attrs["wasted_bytes"] == 0


def test_a_hardlink_to_nothing_stays_a_hardlink_of_size_zero(write: Any) -> None:
    """A target that is neither in the layer nor below: listed as it is."""
    ref = write([build.hardlink("etc/b", "etc/missing")])
    row = oi.filesystem(ref, session=session()).set_index("path").loc["etc/b"]
    assert (row["type"], row["size"], row["hardlink_to"]) == ("hardlink", 0, "etc/missing")
    assert row["links"] is NA and row["inode"] is NA


def test_the_many_files_layer_counts_each_hardlinked_file_once(real_images: RealImages) -> None:
    """15,000 files and 150 hardlinks (umoci stores the links/ names with the data): 15,150
    regular files in the merged view, 15,000 distinct inodes."""
    many = real_images.many_files()
    fs = oi.filesystem(many.variant("gzip").ref, session=session())
    files = fs[fs["type"] == "file"]
    assert len(files) == many.names == 15_150
    assert files["inode"].nunique() == many.regular_files == 15_000
    assert (files["links"] == 2).sum() == 300


# ============================================================================ changes


CHANGE_OF_FACT = {
    "added": kinds.ADDED,
    "modified": kinds.MODIFIED,
    "metadata": kinds.METADATA,
    "deleted": kinds.DELETED,
    "type": kinds.TYPE_CHANGED,
    "opaque": kinds.METADATA,
}


def test_changes_match_what_each_debian_layer_was_built_to_do(
    debian_image: DebianImage,
) -> None:
    """Every change the fixture records is a row of its layer with the matching kind; paths
    hidden by the opaque marker are ``hidden``; wasted() is the summary of changes()."""
    table = oi.changes(debian_image.ref, session=session())
    assert list(table.columns) == list(CHANGES_COLUMNS)
    rows = table.set_index(["layer", "path"])
    for facts in debian_image.layers[1:]:
        for change in facts.changes:
            row = rows.loc[(facts.index, change.path[1:])]
            wanted = CHANGE_OF_FACT[change.kind]
            if change.kind == "deleted" and "opaque" in change.note:
                wanted = kinds.HIDDEN
            assert row["change"] == wanted, change
            if change.kind == "opaque":
                assert row["opaque"]
    issue = rows.loc[(1, "etc/issue.net")]
    assert (issue["size_before"], issue["size_after"], issue["wasted"]) == (20, 20, True)
    perl = rows.loc[(1, "usr/bin/perl")]
    assert (perl["size_before"], perl["wasted"], perl["layer_before"]) == (3808560, False, 0)
    assert (table["layer"] == 0).sum() == debian_image.layers[0].entries
    waste = oi.wasted(debian_image.ref, session=session())
    assert int(table["wasted_size"].sum()) == waste.attrs["wasted_bytes"] == int(
        waste["size"].sum()
    )
    assert table.attrs["wasted_bytes"] == waste.attrs["wasted_bytes"]


def test_change_kinds_are_the_documented_constants() -> None:
    """The browser colours by these: six kinds, categories of the table."""
    assert kinds.CHANGE_KINDS == (
        "added", "modified", "metadata", "deleted", "hidden", "type_changed"
    )
    assert list(CHANGES_COLUMNS["change"].categories) == list(kinds.CHANGE_KINDS)


def test_same_bytes_rewritten_is_metadata_and_same_size_other_bytes_is_modified(
    write: Any,
) -> None:
    """Content is compared by the sha256 of the data, not by size or time."""
    ref = write(
        [build.file("a", b"same"), build.file("b", b"1234"), build.directory("d")],
        [build.file("a", b"same", mode=0o600), build.file("b", b"5678"),
         build.directory("d")],
    )
    found = oi.changes(ref, session=session()).set_index(["layer", "path"])
    assert found.loc[(1, "a"), "change"] == kinds.METADATA
    assert found.loc[(1, "b"), "change"] == kinds.MODIFIED
    assert (1, "d") not in found.index  # listed again unchanged: not a change


# ============================================================================ the documents


def _index(tmp_path: Path) -> tuple[str, dict[str, build.BuiltImage]]:
    """An index whose entries write their platforms three ways: arm64 without a variant, Windows
    with os.version and os.features, and no platform at all."""
    one = [build.layer([build.file("a", b"a")])]
    images = {
        "arm64": build.image(one, platform="linux/arm64"),
        "windows": build.image(one, platform="windows/amd64", os_version="10.0.17763.1234"),
        "none": build.image([build.layer([build.file("b", b"b")])]),
    }
    platforms: dict[str, Any] = {
        "arm64": {"architecture": "arm64", "os": "linux"},
        "windows": {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1234",
                    "os.features": ["win32k"]},
    }
    entries = []
    for name, img in images.items():
        desc = img.manifest.descriptor()
        if name in platforms:
            desc["platform"] = platforms[name]
        entries.append(desc)
    body = {"schemaVersion": 2, "mediaType": build.mt.OCI_INDEX, "manifests": entries}
    built = build.BuiltIndex(build.json_blob(body, build.mt.OCI_INDEX), tuple(images.values()))
    return layout(tmp_path, built), images


def test_platforms_show_the_documents_words_and_the_normalised_platform(tmp_path: Path) -> None:
    """os/architecture/variant/os.version/os.features as written; platform normalised in its
    own column; an entry without platform is not unknown/unknown."""
    ref, _ = _index(tmp_path)
    table = oi.platforms(ref, session=session())
    assert table["platform"].tolist() == ["linux/arm64/v8", "windows(10.0.17763.1234+win32k)/amd64",
                                          "linux/amd64"]
    assert table["architecture"].tolist() == ["arm64", "amd64", NA]
    assert table["variant"].tolist() == [NA, NA, NA]
    assert table["os_version"].tolist() == [NA, "10.0.17763.1234", NA]
    assert table["os_features"].tolist() == [NA, '["win32k"]', NA]
    assert table["kind"].tolist() == ["image"] * 3
    assert "unknown/unknown" not in table["platform"].tolist()


def test_a_layout_with_several_tags_shows_each_ref_name(debian_image: DebianImage) -> None:
    """umoci's index.json lists three tags without platforms: three images, told apart by
    ref_name, with the platform their configs declare."""
    table = oi.platforms(f"oci:{debian_image.layout}", session=session())
    assert sorted(table["ref_name"].tolist()) == sorted(debian_image.layer_tags)
    assert table["kind"].tolist() == ["image"] * 3
    assert table["platform"].tolist() == ["linux/amd64"] * 3
    assert table["os"].isna().all()
    assert sorted(table["layers"].tolist()) == [1, 2, 3]
    notes = oi.annotations(f"oci:{debian_image.layout}", session=session())
    named = notes[notes["key"] == "org.opencontainers.image.ref.name"]
    assert named["document"].tolist() == ["entry"] * 3
    assert sorted(named["value"].tolist()) == sorted(debian_image.layer_tags)


NANO = "2024-05-06T07:08:09.123456789Z"


def _nanosecond_image(tmp_path: Path) -> str:
    import io as _io
    import tarfile

    raw = _io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("f")
        info.size, info.mtime = 3, 1_700_000_000
        info.pax_headers = {"mtime": "1700000000.123456789"}
        tar.addfile(info, _io.BytesIO(b"abc"))
    data = raw.getvalue()
    blob = build.Blob(build.mt.OCI_LAYER, data, diff_id=sha256(data))
    img = build.image([blob], created=NANO, history=[build.Step("ADD f /", created=NANO)])
    return layout(tmp_path, img, "nano")


def test_created_keeps_its_nanoseconds_everywhere(tmp_path: Path) -> None:
    """Go writes nanoseconds: config, history, layers and platforms keep all nine digits, and
    so does JSON output; a PAX mtime keeps them in files()."""
    ref = _nanosecond_image(tmp_path)
    want = pd.Timestamp(NANO)
    assert want.nanosecond == 789
    work = session()
    assert oi.config(ref, session=work)["created"].iloc[0] == want
    assert oi.history(ref, session=work)["created"].iloc[0] == want
    assert oi.layers(ref, session=work)["created"].iloc[0] == want
    assert oi.platforms(ref, session=work)["created"].iloc[0] == want
    assert oi.files(ref, 0, session=work)["mtime"].iloc[0].value == 1_700_000_000_123_456_789
    out = subprocess.run(
        [os.sys.executable, "-m", "ociinspect", "history", ref, "-f", "json", "--no-cache"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert json.loads(out)["rows"][0]["created"] == NANO


def _annotated(tmp_path: Path) -> tuple[str, build.BuiltImage]:
    notes = {
        "org.opencontainers.image.base.name": "docker.io/library/debian:bookworm",
        "org.opencontainers.image.base.digest": "sha256:" + "b" * 64,
        "org.opencontainers.image.source": "https://example.invalid/app",
        "org.opencontainers.image.revision": "0123abc",
    }
    layer = build.layer([build.file("a", b"a")], annotations={"note": "first layer"})
    img = build.image([layer], annotations=notes)
    built = build.index([img], attestations=False, annotations={"index.note": "top"})
    return layout(tmp_path, built, "annotated"), img


def test_annotations_of_index_entries_manifest_and_layers_are_a_table(tmp_path: Path) -> None:
    """One row per key, by document; the base image also in config() and layers()."""
    ref, img = _annotated(tmp_path)
    table = oi.annotations(ref, session=session())
    rows = {(d, k): v for d, k, v in zip(table["document"], table["key"], table["value"],
                                        strict=True)}
    assert rows[("index", "index.note")] == "top"
    assert rows[("manifest", "org.opencontainers.image.revision")] == "0123abc"
    assert rows[("layer", "note")] == "first layer"
    config = oi.config(ref, session=session()).iloc[0]
    assert config["base_name"] == "docker.io/library/debian:bookworm"
    assert config["base_digest"] == "sha256:" + "b" * 64
    layers = oi.layers(ref, session=session())
    assert layers.attrs["base_name"] == config["base_name"]
    assert layers["base_name"].tolist() == [config["base_name"]] * len(layers)
    assert layers["base_digest"].tolist() == ["sha256:" + "b" * 64] * len(layers)
    body = json.loads(_cli_out("layers", ref, "-f", "json"))
    assert body["summary"]["base_digest"] == "sha256:" + "b" * 64
    assert _cli_out("layers", ref).splitlines()[-1].startswith("base image: docker.io/library")


def _cli_out(*args: str) -> str:
    run = subprocess.run(
        [os.sys.executable, "-m", "ociinspect", *args, "--no-cache"],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def _configured(tmp_path: Path) -> tuple[str, str]:
    """Two images: one whose config has every Docker extension, one with none of them."""
    base = build.image([build.layer([build.file("a", b"a")])])

    def extend(config: dict[str, Any]) -> None:
        config["config"].update(
            Healthcheck={"Test": ["CMD", "true"], "Interval": 30_000_000_000},
            Shell=["/bin/bash", "-c"], OnBuild=["RUN make"], StopSignal="SIGQUIT",
            ArgsEscaped=True, Hostname="builder", ExposedPorts={},
        )
        config["docker_version"] = "24.0.7"

    full = rebuilt(base, extend)
    return layout(tmp_path, full, "full"), layout(tmp_path, base, "bare")


def test_config_shows_every_field_and_compare_diffs_them(tmp_path: Path) -> None:
    """Healthcheck, Shell, OnBuild, StopSignal, ArgsEscaped and the rest are columns; compare()
    reports each; an absent field is <NA> in both tables, an empty ExposedPorts too."""
    full, bare = _configured(tmp_path)
    row = oi.config(full, session=session()).iloc[0]
    assert json.loads(row["healthcheck"]) == {"Interval": 30_000_000_000, "Test": ["CMD", "true"]}
    assert (row["shell"], row["on_build"]) == ('["/bin/bash", "-c"]', '["RUN make"]')
    assert (row["stop_signal"], row["args_escaped"]) == ("SIGQUIT", True)
    assert json.loads(row["other_fields"]) == {"config.Hostname": "builder",
                                               "docker_version": "24.0.7"}
    assert row["exposed_ports"] is NA
    empty = oi.config(bare, session=session()).iloc[0]
    for field in ("healthcheck", "shell", "on_build", "stop_signal", "args_escaped",
                  "other_fields", "exposed_ports"):
        assert empty[field] is NA, field
    diff = oi.compare(full, bare, session=session()).config.set_index("field")
    assert diff.loc["healthcheck", "b"] is NA and diff.loc["shell", "a"] == '["/bin/bash", "-c"]'
    assert (diff.loc["args_escaped", "a"], diff.loc["args_escaped", "b"]) == ("true", NA)
    assert diff.loc["other.config.Hostname", "a"] == "builder"
    assert diff.loc["stop_signal", "a"] == "SIGQUIT" and "exposed_ports" not in diff.index
    csv_text = _cli_out("compare", full, bare, "-f", "csv")
    layers, summary, config = csv_text.split("\n\n")
    assert layers.startswith("status,") and summary.startswith("status,layers,")
    assert config.startswith("field,a,b\n") and "\nhealthcheck," in config


def test_size_columns_say_what_they_count(tmp_path: Path) -> None:
    """compressed_size (the layers: Docker Hub's figure) is what the image repr calls
    compressed; stored_size adds manifest and config and is Image.size."""
    ref, img = _annotated(tmp_path)
    row = oi.platforms(ref, session=session()).iloc[0]
    image = oi.image(ref, session=session())
    layers = sum(b.size for b in img.layers)
    assert row["compressed_size"] == layers == int(oi.layers(image)["compressed_size"].sum())
    assert row["stored_size"] == image.size == img.manifest.size + img.config.size + layers
    assert (row["manifest_size"], row["config_size"]) == (img.manifest.size, img.config.size)
    html = image._repr_html_()
    assert f"{oi.tables.format_size(layers)} compressed layers" in html
    assert f"{oi.tables.format_size(image.size)} stored" in html


# ============================================================================ sizes and formats


def test_zstd_chunked_with_skopeo_19s_keys_is_never_estimated_too_small(
    real_images: RealImages,
) -> None:
    """skopeo 1.9 writes io.containers.zstd-chunked.*: recognised as many frames, so the first
    frame's size is not taken for the layer's (it was 258 times too small); exact is exact."""
    many = real_images.many_files()
    chunked = many.variant("zstd:chunked")
    keys = dict(chunked.layer_annotations)
    assert "io.containers.zstd-chunked.manifest-position" in keys
    estimated = oi.layers(chunked.ref, sizes="estimate", session=session()).iloc[0]
    assert estimated["uncompressed_size"] is NA
    exact = oi.layers(chunked.ref, sizes="exact", session=session()).iloc[0]
    assert (exact["uncompressed_size"], exact["uncompressed_exact"]) == (
        many.uncompressed_size, True
    )


def test_a_zstd_header_below_what_the_blob_size_proves_is_no_estimate() -> None:
    """The first of several small frames states less than one frame of that blob could hold:
    unknown (whatever its size); a lone frame's stated size is taken."""
    import zstandard

    from ociinspect.layers.sizes import from_head, zstd_floor

    first = zstandard.ZstdCompressor(write_content_size=True).compress(b"x" * 100)
    rest = zstandard.ZstdCompressor(write_content_size=True).compress(os.urandom(4000))
    blob = first + rest
    assert from_head(blob[:18], len(blob)).size is None
    assert zstd_floor(len(rest)) <= 4000
    assert from_head(rest[:18], len(rest)).size == 4000


def test_an_estimate_is_never_below_bytes_a_reader_already_decompressed(tmp_path: Path) -> None:
    """A partial read noted with SizeMemo.saw raises a smaller estimate to what it saw."""
    img = build.image([build.layer([build.file("a", os.urandom(20_000))])])
    ref = layout(tmp_path, img)
    work = session()
    work.sizes.saw(img.layers[0].digest, 10**9)
    row = oi.layers(ref, sizes="estimate", session=work).iloc[0]
    assert (row["uncompressed_size"], row["uncompressed_exact"]) == (10**9, False)


@pytest.fixture(params=["zlib", "isal"])
def gzip_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each gzip test runs with zlib and with ISA-L (a dependency where it has wheels)."""
    from ociinspect.layers import compression

    if request.param == "isal":
        from isal import isal_zlib

        monkeypatch.setattr(compression, "_isal_zlib", isal_zlib)
    else:
        monkeypatch.setattr(compression, "_isal_zlib", None)
    return str(request.param)


def test_both_gzip_backends_list_the_debian_layers_alike(
    debian_image: DebianImage, gzip_backend: str
) -> None:
    """Same entries and the config's diff_ids, with zlib and with ISA-L."""
    img = oi.image(debian_image.ref, session=session())
    for desc, facts in zip(img.layers, debian_image.layers, strict=True):
        with img.source.open_blob(desc.digest, desc.size) as chunks:
            listing = iter_entries(chunks, "gzip")
            assert sum(1 for _ in listing) == facts.entries
        assert listing.diff_id == facts.diff_id


def _gzip_member(flags: int = 0, magic: bytes = b"\x1f\x8b", method: int = 8) -> bytes:
    import gzip

    tar = build.layer([build.file("a", b"x" * 1000)], "none").data
    body = bytearray(gzip.compress(tar, mtime=0))
    body[0:2], body[2], body[3] = magic, method, flags
    return bytes(body)


@pytest.mark.parametrize(
    ("blob", "says"),
    [(_gzip_member(flags=0x20), "reserved header flags set"),
     (_gzip_member(flags=0xE0), "reserved header flags set"),
     (_gzip_member(magic=b"\x1f\x8c"), "bad magic bytes"),
     (_gzip_member(method=7), "not deflate"),
     (_gzip_member() + b"\x1f\x8b\x08\x80", "reserved header flags set")],
    ids=["one reserved flag", "every reserved flag", "bad magic", "not deflate",
         "a second member with a reserved flag"],
)
def test_both_gzip_backends_refuse_the_same_broken_headers(
    gzip_backend: str, blob: bytes, says: str
) -> None:
    """ISA-L ignores reserved FLG bits that zlib refuses (RFC 1952 2.3.1): both now refuse."""
    from ociinspect.errors import ArchiveError

    with pytest.raises(ArchiveError, match=f"corrupt gzip stream .*{says}"):
        list(iter_entries([blob[i : i + 3] for i in range(0, len(blob), 3)], "gzip"))


def _archives() -> Iterator[tuple[str, bytes]]:
    """Tars of every format and entry kind tarfile writes, then damaged copies of them."""
    import io as _io
    import random
    import tarfile

    rng = random.Random(15)
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        raw = _io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
            for name, kind, data in [
                ("d/", tarfile.DIRTYPE, b""),
                ("d/file", tarfile.REGTYPE, b"data" * 200),
                ("d/" + "long/" * 30 + "name", tarfile.REGTYPE, b"x"),
                ("d/link", tarfile.SYMTYPE, b""),
                ("d/hard", tarfile.LNKTYPE, b""),
                ("d/dev", tarfile.CHRTYPE, b""),
                ("d/fifo", tarfile.FIFOTYPE, b""),
                ("d/empty", tarfile.REGTYPE, b""),
                ("d/ünïcode", tarfile.REGTYPE, b"u"),
            ]:
                if fmt == tarfile.USTAR_FORMAT and (len(name) > 150 or not name.isascii()):
                    continue
                info = tarfile.TarInfo(name)
                info.type, info.size, info.mtime = kind, len(data), 1_700_000_000
                if fmt == tarfile.PAX_FORMAT:  # as GNU tar --format=posix writes every entry
                    info.pax_headers = {"mtime": "1700000000.25", "atime": "1700000001.5",
                                        "SCHILY.xattr.user.note": "ünï"}
                info.linkname = "d/file" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
                info.devmajor, info.devminor = (1, 3) if kind == tarfile.CHRTYPE else (0, 0)
                tar.addfile(info, _io.BytesIO(data))
        good = raw.getvalue()
        yield f"format {fmt}", good
        for n in range(60):
            damaged = bytearray(good)
            for _ in range(rng.randrange(1, 4)):
                damaged[rng.randrange(min(len(good), 4096))] = rng.randrange(256)
            yield f"format {fmt} damaged {n}", bytes(damaged[: rng.choice([len(good), 2560])])


def _outcome(blob: bytes) -> Any:
    try:
        listing = iter_entries([blob], "none")
        return [*listing], listing.diff_id
    except Exception as exc:  # the outcome compared is the error itself
        return type(exc).__name__, str(exc)


def test_the_fast_header_path_reads_every_archive_as_tarfile_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Plain headers are read without tarfile; on intact and damaged tars of every format the
    listing (or the error) is exactly what tarfile alone gives."""
    from ociinspect.layers import contents

    cases = list(_archives())
    fast = [_outcome(blob) for _, blob in cases]
    monkeypatch.setattr(contents, "_fast_header", lambda buf, offset: None)
    slow = [_outcome(blob) for _, blob in cases]
    for (name, _), a, b in zip(cases, fast, slow, strict=True):
        assert a == b, name
    assert sum(isinstance(a[0], list) for a in fast) > 3  # intact ones listed
    assert sum(isinstance(a[0], str) for a in fast) > 10  # damaged ones refused


# ============================================================================ the command line


def test_wasted_and_changes_keep_their_totals_in_json_and_csv() -> None:
    """-f json is one object {rows, summary}; -f csv ends with the summary as a second table."""
    body = json.loads(_cli_out("wasted", "-f", "json"))
    api = oi.wasted(oi.SAMPLE)
    assert len(body["rows"]) == len(api)
    assert body["summary"]["wasted_bytes"] == api.attrs["wasted_bytes"]
    assert body["summary"]["efficiency"] == pytest.approx(api.attrs["efficiency"])
    rows, summary = _cli_out("wasted", "-f", "csv").split("\n\n")
    assert pd.read_csv(__import__("io").StringIO(rows))["size"].sum() == api.attrs["wasted_bytes"]
    totals = dict(line.split(",") for line in summary.splitlines()[1:])
    assert int(totals["file_bytes"]) == api.attrs["file_bytes"]
    changes = json.loads(_cli_out("changes", "-f", "json"))
    assert sum(r["wasted_size"] for r in changes["rows"]) == changes["summary"]["wasted_bytes"]


@pytest.mark.registry
def test_an_offline_answer_warns_in_one_line(
    registry_open: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tag answered from the cache offline: one ``ociinspect: warning:`` line, no Python
    warning text; tags of a registry offline: refused in one line, exit status 2."""
    ref = registry_open.ref(seed.SINGLE)
    assert cli.main(["layers", ref]) == 0
    capsys.readouterr()
    assert cli.main(["layers", ref, "--offline"]) == 0
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ociinspect: warning: offline:")
    assert "Warning" not in err and "warnings.warn" not in err
    assert cli.main(["tags", ref, "--offline"]) == 2
    _, err = capsys.readouterr()
    assert err.strip().splitlines() == [
        f"ociinspect: error: offline: the tags of docker://{ref} are never cached"
    ]
