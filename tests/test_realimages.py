"""The real-tool image fixtures (tests/realimages) are what their docstrings claim.

Every claim is checked from the files themselves: tar members read with tarfile, digests
recomputed from bytes, totals recomputed by GNU du, packages read back by dpkg-query.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import zstandard
from realimages import RealImages, ToolFailedError, debian, many_files, tampered
from realimages import layout as oci
from realimages._tools import run
from realimages.big_gzip import BigGzipImage
from realimages.debian import DebianImage
from realimages.facts import layer_members
from realimages.many_files import ManyFilesImage

DEBS = Path(__file__).parent / "data" / "debs"
TAG = debian.TAG
MiB = 1 << 20


@pytest.fixture(scope="session")
def real_images(tmp_path_factory: pytest.TempPathFactory) -> RealImages:
    """One builder per session; each image is built on first use."""
    return RealImages(tmp_path_factory.mktemp("realimages"))


@pytest.fixture(scope="session")
def image(real_images: RealImages) -> DebianImage:
    return real_images.debian()


@pytest.fixture(scope="session")
def many(real_images: RealImages) -> ManyFilesImage:
    return real_images.many_files()


@pytest.fixture(scope="session")
def big(real_images: RealImages) -> BigGzipImage:
    return real_images.big_gzip()


def _sources() -> list[dict[str, str]]:
    lines = (DEBS / "SOURCES.md").read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| file |"))
    names = [cell.strip() for cell in lines[header].strip("|").split("|")]
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        cells = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _members(image: DebianImage, layer: int) -> dict[str, tarfile.TarInfo]:
    facts = image.layers[layer]
    return {m.name: m for m in layer_members(image.layout, facts.digest, facts.media_type)}


def _member_bytes(image: DebianImage, layer: int, name: str) -> bytes:
    facts = image.layers[layer]
    path = oci.blob_path(image.layout, facts.digest)
    with gzip.open(path, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            if member.name == name:
                extracted = tar.extractfile(member)
                assert extracted is not None
                return extracted.read()
    raise LookupError(f"{name} not in layer {layer}")


def _decompressed_sha256(path: Path, media_type: str) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        if "zstd" in media_type:
            stream: Any = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        elif media_type.endswith("gzip"):
            stream = gzip.GzipFile(fileobj=raw)
        else:
            stream = raw
        while chunk := stream.read(MiB):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _json_diff(a: Any, b: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return [d for key in a for d in _json_diff(a[key], b[key], (*path, key))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in _json_diff(x, y, (*path, i))]
    return [] if a == b else [path]


# -- the committed .debs ---------------------------------------------------------------------


def test_debs_match_sources_md() -> None:
    """Every .deb in tests/data/debs is listed in SOURCES.md with its real sha256 and control."""
    rows = _sources()
    assert sorted(row["file"] for row in rows) == sorted(p.name for p in DEBS.glob("*.deb"))
    for row in rows:
        path = DEBS / row["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"], row["file"]
        fields = run(["dpkg-deb", "-f", str(path), "Package", "Version", "Architecture"])
        assert fields.splitlines() == [
            f"Package: {row['package']}",
            f"Version: {row['version']}",
            f"Architecture: {row['arch']}",
        ]
    assert sum(p.stat().st_size for p in DEBS.glob("*.deb")) <= 12 * MiB


def test_perl_base_ships_a_hardlink_pair() -> None:
    """dpkg-deb -c shows /usr/bin/perl as the file and /usr/bin/perl5.36.0 as a link to it."""
    (deb,) = DEBS.glob("perl-base_*.deb")
    listing = run(["dpkg-deb", "-c", str(deb)]).splitlines()
    perl = [line for line in listing if line.startswith("-") and line.endswith(" ./usr/bin/perl")]
    link = [line for line in listing if " ./usr/bin/perl5.36.0 " in line]
    assert len(perl) == 1 and perl[0].startswith("-rwxr-xr-x") and " 3808560 " in perl[0]
    assert len(link) == 1 and link[0].startswith("h") and link[0].endswith("link to ./usr/bin/perl")


# -- debian ----------------------------------------------------------------------------------


def test_layer0_stores_perl_data_first_and_perl5_as_a_link(image: DebianImage) -> None:
    """Layer 0's tar holds usr/bin/perl with the bytes, then usr/bin/perl5.36.0 linking to it."""
    members = list(_members(image, 0).values())
    names = [m.name for m in members]
    perl = members[names.index("usr/bin/perl")]
    link = members[names.index("usr/bin/perl5.36.0")]
    assert perl.isreg() and perl.size == 3808560
    assert link.islnk() and link.linkname == "usr/bin/perl" and link.size == 0
    assert names.index("usr/bin/perl") < names.index("usr/bin/perl5.36.0")


def test_survivor_has_the_deleted_names_bytes(image: DebianImage) -> None:
    """After layer 1 whites out usr/bin/perl, perl5.36.0 unpacks with perl's layer-0 bytes."""
    layer1 = _members(image, 1)
    assert "usr/bin/.wh.perl" in layer1
    assert "usr/bin/perl5.36.0" not in layer1 and "usr/bin/perl" not in layer1
    data = _member_bytes(image, 0, "usr/bin/perl")
    survivor = image.tree.file(image.surviving_link_name)
    assert survivor.sha256 == hashlib.sha256(data).hexdigest() and survivor.links == 1
    with pytest.raises(LookupError):
        image.tree.file(image.deleted_data_name)


def test_umoci_repack_would_store_the_survivor_again(image: DebianImage, tmp_path: Path) -> None:
    """Why layer 1 is made with GNU tar: umoci repack after rm perl re-stores perl5.36.0 whole."""
    copy = tmp_path / "layout"
    tampered.copy_layout(image.layout, copy)
    bundle = tmp_path / "bundle"
    run(["umoci", "unpack", "--rootless", "--image", f"{copy}:layer0", str(bundle)])
    (bundle / "rootfs" / "usr" / "bin" / "perl").unlink()
    run(["umoci", "repack", "--image", f"{copy}:probe", str(bundle)])
    layer = oci.manifest(copy, "probe").value["layers"][-1]
    members = {m.name: m for m in layer_members(copy, layer["digest"], layer["mediaType"])}
    assert "usr/bin/.wh.perl" in members
    assert members["usr/bin/perl5.36.0"].isreg() and members["usr/bin/perl5.36.0"].size == 3808560


LAYER_CASES = [
    pytest.param(1, debian.DELETED_DATA_NAME, "deleted", id="layer 1 whites out /usr/bin/perl"),
    pytest.param(1, debian.MODIFIED, "modified", id="layer 1 modifies /etc/issue"),
    pytest.param(1, debian.MODE_CHANGED, "metadata", id="layer 1 only chmods /etc/issue.net"),
    pytest.param(1, debian.ADDED_LINK_PAIR[0], "added", id="layer 1 adds hello"),
    pytest.param(1, debian.ADDED_LINK_PAIR[1], "added", id="layer 1 adds hello-again as a link"),
    pytest.param(2, debian.OPAQUE_DIR, "opaque", id="layer 2 makes grep's docs opaque"),
    pytest.param(2, debian.OPAQUE_NEW_FILE, "added", id="layer 2 adds a file in the opaque dir"),
    pytest.param(2, debian.ABSOLUTE_SYMLINK[0], "added", id="layer 2 adds an absolute symlink"),
    pytest.param(2, debian.RELATIVE_SYMLINK[0], "added", id="layer 2 adds a relative symlink"),
    pytest.param(2, debian.SYMLINK_LOOP[0][0], "added", id="layer 2 adds loop a to b"),
    pytest.param(2, debian.SYMLINK_LOOP[1][0], "added", id="layer 2 adds loop b to a"),
    pytest.param(2, debian.TYPE_CHANGED, "type", id="layer 2 turns motd into a directory"),
]


@pytest.mark.parametrize(("layer", "path", "kind"), LAYER_CASES)
def test_each_recorded_change_is_in_the_layer_tar(
    image: DebianImage, layer: int, path: str, kind: str
) -> None:
    """The change is recorded in LayerFacts and the layer's tar holds the entry that makes it."""
    assert path in image.layers[layer].paths(kind)
    members, lower = _members(image, layer), _members(image, 0)
    name = path.lstrip("/")
    parent, _, base = name.rpartition("/")
    if kind == "deleted":
        assert f"{parent}/.wh.{base}" in members and name in lower
    elif kind == "opaque":
        assert f"{name}/.wh..wh..opq" in members and members[name].isdir()
    elif kind == "type":
        assert members[name].isdir() and lower[name].isreg()
        assert not any(m.startswith(f"{parent}/.wh.") for m in members)
    elif kind == "modified":
        assert members[name].isreg() and name in lower
        assert _member_bytes(image, layer, name) != _member_bytes(image, 0, name)
    elif kind == "metadata":
        assert members[name].mode != lower[name].mode
        assert _member_bytes(image, layer, name) == _member_bytes(image, 0, name)
    else:
        assert name in members and name not in lower


def test_opaque_dir_hides_every_lower_doc_file(image: DebianImage) -> None:
    """The deleted-by-opaque changes are grep's nine doc files; only the new file is left."""
    (deb,) = DEBS.glob("grep_*.deb")
    shipped = sorted(
        "/" + line.split(" ./", 1)[1]
        for line in run(["dpkg-deb", "-c", str(deb)]).splitlines()
        if " ./usr/share/doc/grep/" in line and not line.startswith("d")
    )
    hidden = [c.path for c in image.layers[2].changes if c.note == "hidden by the opaque marker"]
    assert hidden == shipped and len(hidden) == 9
    assert [f.path for f in image.tree.files if f.path.startswith("/usr/share/doc/grep/")] == [
        debian.OPAQUE_NEW_FILE
    ]


def test_reference_tree_shows_every_case(image: DebianImage) -> None:
    """umoci's unpack: new mode, appended line, symlink targets, motd a directory, a link pair."""
    tree = image.tree
    assert tree.file(debian.MODE_CHANGED).mode == 0o600
    issue = (image.rootfs / "etc" / "issue").read_bytes()
    assert issue.endswith(b"Modified by layer 1 of the ociinspect debian fixture.\n")
    assert tree.file(debian.MODIFIED).sha256 == hashlib.sha256(issue).hexdigest()
    for path, target in (debian.ABSOLUTE_SYMLINK, debian.RELATIVE_SYMLINK, *debian.SYMLINK_LOOP):
        assert tree.symlink_target(path) == target
    assert debian.TYPE_CHANGED in tree.directories
    assert tree.file(debian.TYPE_CHANGED + "/README").size > 0
    assert tree.hardlink_groups == (debian.ADDED_LINK_PAIR,)
    assert (image.rootfs / "usr/local/bin/sed").resolve() == (image.rootfs / "bin/sed").resolve()


@pytest.mark.parametrize(
    ("flag", "attribute"),
    [
        pytest.param([], "bytes_per_inode", id="du counts each hardlinked inode once"),
        pytest.param(["--count-links"], "bytes_per_name", id="du --count-links counts names"),
    ],
)
def test_byte_totals_agree_with_gnu_du(image: DebianImage, flag: list[str], attribute: str) -> None:
    """GNU du --apparent-size -b over the regular files gives the recorded total."""
    names = "\0".join(str(image.rootfs / f.path.lstrip("/")) for f in image.tree.files) + "\0"
    done = subprocess.run(
        ["du", "--apparent-size", "-b", "-c", *flag, "--files0-from=-"],
        input=names.encode(),
        capture_output=True,
        check=True,
    )
    total = int(done.stdout.decode().splitlines()[-1].split()[0])
    assert total == getattr(image.tree, attribute)
    hello = image.tree.file(debian.ADDED_LINK_PAIR[0]).size
    assert image.tree.bytes_per_name - image.tree.bytes_per_inode == hello


def test_descriptors_and_diff_ids_hash_right(image: DebianImage) -> None:
    """Each layer's blob hashes to its digest and size; decompressed, to its diff_id."""
    for facts in image.layers:
        path = oci.blob_path(image.layout, facts.digest)
        assert _sha256(path.read_bytes()) == facts.digest and path.stat().st_size == facts.size
        assert _decompressed_sha256(path, facts.media_type) == facts.diff_id
        assert facts.entries == len(_members(image, facts.index))
    assert [len(oci.manifest(image.layout, tag).value["layers"]) for tag in image.layer_tags] == [
        1,
        2,
        3,
    ]


def test_a_second_build_gives_the_same_digests(image: DebianImage, tmp_path: Path) -> None:
    """Building the debian image again gives byte-identical layers, config and manifest."""
    again = debian.build_debian(tmp_path / "again")
    assert [layer.digest for layer in again.layers] == [layer.digest for layer in image.layers]
    assert again.manifest_digest == image.manifest_digest
    assert again.tree.files == image.tree.files


def test_history_has_an_empty_layer_step(image: DebianImage) -> None:
    """The config has four history steps; the umoci config one is empty_layer."""
    history = oci.config(image.layout, image.tag).value["history"]
    assert [bool(h.get("empty_layer")) for h in history] == [False, True, False, False]
    assert history[1]["created_by"].startswith("umoci config")


def test_dpkg_query_lists_every_deb(image: DebianImage) -> None:
    """dpkg-query on the unpacked tree lists each committed .deb's package, version, arch."""
    expected = sorted((r["package"], r["version"], r["arch"]) for r in _sources())
    assert sorted(image.packages) == expected
    status = (image.rootfs / "var/lib/dpkg/status").read_text()
    assert status.count("Status: install ok installed\n") == len(expected)
    assert (image.rootfs / "var/lib/dpkg/info/zlib1g:amd64.list").is_file()
    assert "Source: bash (5.2.15-2)\n" in status and " /etc/issue 349d61a0e" in status


def test_os_release_comes_from_base_files(image: DebianImage) -> None:
    """/etc/os-release is base-files' relative symlink; it says Debian 12 bookworm."""
    assert image.tree.symlink_target("/etc/os-release") == "../usr/lib/os-release"
    assert image.os_release_value("ID") == "debian"
    assert image.os_release_value("VERSION_ID") == "12"
    assert image.os_release_value("VERSION_CODENAME") == "bookworm"


# -- many_files ------------------------------------------------------------------------------


def test_many_files_layer_has_15000_entries(many: ManyFilesImage) -> None:
    """The layer's tar has >= 15,000 entries, 150 hardlinks and the documented bytes."""
    gzip_variant = many.variant("gzip")
    members = layer_members(
        gzip_variant.layout, gzip_variant.layer_digest, gzip_variant.layer_media_type
    )
    assert len(members) == many.entries >= 15_000
    assert sum(m.isreg() for m in members) == many.regular_files == 15_000
    assert sum(m.islnk() for m in members) == len(many.hardlinks) == 150
    path = oci.blob_path(gzip_variant.layout, gzip_variant.layer_digest)
    with gzip.open(path, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            if member.isreg():
                extracted = tar.extractfile(member)
                assert extracted is not None
                assert extracted.read() == many_files.expected_content("/" + member.name)


VARIANT_CASES = [
    pytest.param(
        "gzip",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        id="umoci writes an OCI gzip layer",
    ),
    pytest.param(
        "zstd",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        id="skopeo recompresses to zstd",
    ),
    pytest.param(
        "zstd:chunked",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        id="skopeo writes zstd:chunked",
    ),
    pytest.param(
        "v2s2",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        id="skopeo converts to docker v2s2",
    ),
]


@pytest.mark.parametrize(("name", "manifest_type", "layer_type"), VARIANT_CASES)
def test_variant_media_types_and_diff_id(
    many: ManyFilesImage, name: str, manifest_type: str, layer_type: str
) -> None:
    """Each variant has the documented media types and decompresses to the same diff_id."""
    variant = many.variant(name)
    entry = oci.index_entry(variant.layout, variant.tag)
    manifest = oci.manifest(variant.layout, variant.tag)
    assert entry["mediaType"] == variant.manifest_media_type == manifest_type
    assert manifest.digest == variant.manifest_digest == entry["digest"]
    assert manifest.value["layers"][0]["mediaType"] == variant.layer_media_type == layer_type
    path = oci.blob_path(variant.layout, variant.layer_digest)
    assert _sha256(path.read_bytes()) == variant.layer_digest
    assert _decompressed_sha256(path, layer_type) == many.diff_id
    assert variant.config_digest == many.variant("gzip").config_digest


def test_zstd_chunked_uses_the_older_annotation_keys(many: ManyFilesImage) -> None:
    """skopeo 1.9 writes io.containers.zstd-chunked.*; the position names the hashed TOC frame."""
    variant = many.variant("zstd:chunked")
    annotations = dict(variant.layer_annotations)
    assert sorted(annotations) == [
        "io.containers.zstd-chunked.manifest-checksum",
        "io.containers.zstd-chunked.manifest-position",
    ]
    offset, length, uncompressed, kind = map(
        int, annotations["io.containers.zstd-chunked.manifest-position"].split(":")
    )
    blob = oci.blob_path(variant.layout, variant.layer_digest).read_bytes()
    toc = blob[offset : offset + length]
    assert _sha256(toc) == annotations["io.containers.zstd-chunked.manifest-checksum"]
    assert kind == 1 and blob.endswith(b"GnUlInUx")
    toc_json = zstandard.ZstdDecompressor().decompress(toc, max_output_size=uncompressed)
    document = json.loads(toc_json)
    assert document["version"] == 1 and len(document["entries"]) >= 15_000


def test_no_other_variant_has_annotations(many: ManyFilesImage) -> None:
    """Only the zstd:chunked layer carries annotations."""
    assert [v.name for v in many.variants if v.layer_annotations] == ["zstd:chunked"]


def test_docker_archive_holds_the_uncompressed_layer(many: ManyFilesImage) -> None:
    """skopeo's docker-archive has manifest.json with the tag and the layer by its diff_id."""
    with tarfile.open(many.docker_archive) as archive:
        manifest_file = archive.extractfile("manifest.json")
        assert manifest_file is not None
        (entry,) = json.load(manifest_file)
        assert entry["RepoTags"] == ["docker.io/" + many.docker_archive_ref]
        (layer_name,) = entry["Layers"]
        layer = archive.extractfile(layer_name)
        assert layer is not None
        assert _sha256(layer.read()) == many.diff_id


# -- big_gzip --------------------------------------------------------------------------------


def test_big_gzip_is_100_mib_and_incompressible(big: BigGzipImage) -> None:
    """The single gzip layer is ~100 MiB, no smaller than its tar, and decompresses to diff_id."""
    path = oci.blob_path(big.layout, big.layer_digest)
    assert path.stat().st_size == big.layer_size
    assert 95 * MiB <= big.layer_size <= 110 * MiB
    assert big.layer_size >= big.uncompressed_size
    assert _decompressed_sha256(path, "application/vnd.oci.image.layer.v1.tar+gzip") == big.diff_id


def test_big_gzip_text_files_sit_at_start_middle_end(big: BigGzipImage) -> None:
    """The text files' bytes are at their recorded tar offsets: start, middle and end."""
    path = oci.blob_path(big.layout, big.layer_digest)
    with gzip.open(path, "rb") as stream:
        tar_bytes = stream.read()
    assert len(tar_bytes) == big.uncompressed_size
    for text in big.texts:
        assert tar_bytes[text.tar_offset : text.tar_offset + len(text.content)] == text.content
    share = {t.path: t.tar_offset / big.uncompressed_size for t in big.texts}
    assert share["/data/a-start.txt"] < 0.001
    assert 0.45 < share["/data/b150-middle.txt"] < 0.55
    assert share["/data/z-end.txt"] > 0.999 and share["/etc/hostname"] > 0.999
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        members = tar.getmembers()
    assert len(members) == big.entries and sum(m.name.endswith(".bin") for m in members) == 300


# -- tampered --------------------------------------------------------------------------------


def _index_position(layout: Path, tag: str) -> int:
    manifests = oci.read_document(layout / "index.json").value["manifests"]
    return [m.get("annotations", {}).get(oci.REF_NAME) for m in manifests].index(tag)


def test_wrong_diff_id_changes_only_the_diff_id(real_images: RealImages) -> None:
    """Config differs only at rootfs.diff_ids[0]; manifest and index only in the new digest."""
    source = real_images.debian()
    broken = real_images.tampered("diff_id")
    old_config, new_config = oci.config(source.layout, TAG), oci.config(broken.layout, TAG)
    assert _json_diff(old_config.value, new_config.value) == [("rootfs", "diff_ids", 0)]
    assert new_config.value["rootfs"]["diff_ids"][0] == broken.claimed != broken.actual
    assert new_config.digest == broken.config_digest
    old_manifest = oci.manifest(source.layout, TAG)
    new_manifest = oci.manifest(broken.layout, TAG)
    assert _json_diff(old_manifest.value, new_manifest.value) == [("config", "digest")]
    assert new_manifest.digest == broken.manifest_digest
    position = _index_position(broken.layout, TAG)
    old_index = oci.read_document(source.layout / "index.json").value
    new_index = oci.read_document(broken.layout / "index.json").value
    assert _json_diff(old_index, new_index) == [("manifests", position, "digest")]
    layer = oci.blob_path(broken.layout, broken.layer_digest)
    assert _decompressed_sha256(layer, source.layers[0].media_type) == broken.actual


def test_truncated_layer_keeps_its_name_and_the_documents(real_images: RealImages) -> None:
    """The blob is a strict prefix of the original under the same name; no document changed."""
    source = real_images.debian()
    broken = real_images.tampered("truncated")
    original = oci.blob_path(source.layout, broken.layer_digest).read_bytes()
    cut = oci.blob_path(broken.layout, broken.layer_digest).read_bytes()
    assert 0 < len(cut) < len(original) and original.startswith(cut)
    assert _sha256(cut) != broken.layer_digest and _sha256(original) == broken.layer_digest
    index = (source.layout / "index.json").read_bytes()
    assert (broken.layout / "index.json").read_bytes() == index
    with pytest.raises(EOFError):
        gzip.decompress(cut)


def test_wrong_layer_size_changes_only_that_size(real_images: RealImages) -> None:
    """Manifest differs only at layers[0].size (one more); index only in the manifest digest."""
    source = real_images.debian()
    broken = real_images.tampered("size")
    old_manifest = oci.manifest(source.layout, TAG)
    new_manifest = oci.manifest(broken.layout, TAG)
    assert _json_diff(old_manifest.value, new_manifest.value) == [("layers", 0, "size")]
    claimed = new_manifest.value["layers"][0]["size"]
    assert claimed == source.layers[0].size + 1 == int(broken.claimed)
    assert oci.blob_path(broken.layout, broken.layer_digest).stat().st_size == int(broken.actual)
    position = _index_position(broken.layout, TAG)
    old_index = oci.read_document(source.layout / "index.json").value
    new_index = oci.read_document(broken.layout / "index.json").value
    assert _json_diff(old_index, new_index) == [("manifests", position, "digest")]


@pytest.mark.parametrize("kind", ["diff_id", "truncated", "size"])
def test_tampering_leaves_the_source_intact(real_images: RealImages, kind: str) -> None:
    """After making a broken copy, every blob of the source still hashes to its name."""
    real_images.tampered(kind)
    layout = real_images.debian().layout
    for blob in (layout / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


def test_a_failing_tool_raises_with_its_command(tmp_path: Path) -> None:
    """ToolFailedError names the command and carries what the tool printed."""
    with pytest.raises(ToolFailedError, match="umoci unpack") as caught:
        run(["umoci", "unpack", "--image", f"{tmp_path}/missing:tag", str(tmp_path / "b")])
    assert caught.value.argv[0] == "umoci" and caught.value.detail
