"""ociinspect.testing.build: reproducible layers, images, indexes and OCI layouts."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
import zstandard

from ociinspect.testing import build
from ociinspect.values import mediatypes as mt
from ociinspect.values.digest import sha256

# Pinned bytes: change them only on purpose, since seeded registries and the bundled sample
# are built by this module. The tar is a single 6-byte file, PAX format, sorted, mtime 2024-01-01.
GOLDEN_TAR_DIGEST = "sha256:c8b84abbb0185da7a3798f820e9ae39b4f0c0b069503ac62e11a3cc5b84c4654"
GOLDEN_MANIFEST_DIGEST = "sha256:8c62d11a4de32baaffe4e71a4dd50875e53d6ae43751b359268db6e3fa7ac3e2"


def _tiny_layer(compression: build.Compression = "none") -> build.Blob:
    return build.layer([build.file("hello.txt", b"hello\n")], compression=compression)


def _sample() -> build.BuiltIndex:
    """A small index touching every builder feature."""
    images = []
    for platform in ("linux/amd64", "linux/arm64/v8"):
        layers = [
            build.layer([build.directory("etc"), build.file("etc/p", platform)], "gzip"),
            build.layer([build.whiteout("etc/p"), build.symlink("bin", "usr/bin")], "zstd"),
            build.layer([build.fifo("run/f")], "none"),
        ]
        history = [
            build.Step("ADD /"),
            build.Step("ENV A=1", empty_layer=True),
            build.Step("RUN rm"),
            build.Step("RUN mkfifo"),
        ]
        images.append(
            build.image(
                layers,
                platform=platform,
                history=history,
                cmd=["sh"],
                labels={"a": "b"},
                exposed_ports=["80/tcp"],
            )
        )
    return build.index(images)


def _members(blob: build.Blob) -> list[tarfile.TarInfo]:
    compression = mt.compression(blob.media_type)
    raw = (
        gzip.decompress(blob.data)
        if compression == "gzip"
        else zstandard.decompress(blob.data)
        if compression == "zstd"
        else blob.data
    )
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
        return archive.getmembers()


@pytest.mark.parametrize(
    "compression",
    ["gzip", "zstd", "none"],
    ids=["gzip layers", "zstd layers", "uncompressed layers"],
)
def test_layer_is_byte_for_byte_reproducible(compression: build.Compression) -> None:
    """Building the same layer twice gives identical bytes, digest and diff_id."""
    entries = [build.file("b", b"2"), build.directory("a"), build.file("a/x", b"1" * 5000)]
    first, second = (
        build.layer(entries, compression),
        build.layer(list(reversed(entries)), compression),
    )
    assert first.data == second.data
    assert (first.digest, first.diff_id, first.size) == (second.digest, second.diff_id, second.size)
    assert (
        first.media_type
        == {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD, "none": mt.OCI_LAYER}[compression]
    )


def test_whole_index_is_reproducible() -> None:
    """Two builds of an index give the same bytes for every blob, attestations included."""
    first, second = _sample(), _sample()
    assert [b.data for b in first.blobs()] == [b.data for b in second.blobs()]
    assert first.digest == second.digest


def test_golden_digests_of_a_tiny_layer_and_image() -> None:
    """A fixed one-file layer and its image keep their pinned digests across machines."""
    blob = _tiny_layer("none")
    assert blob.diff_id == blob.digest == GOLDEN_TAR_DIGEST
    assert build.image([blob]).digest == GOLDEN_MANIFEST_DIGEST


def test_gzip_header_has_no_timestamp_or_name() -> None:
    """gzip output carries mtime 0, no FNAME flag and OS byte 255; it inflates to the tar."""
    blob = _tiny_layer("gzip")
    header = blob.data[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] == 0, "no FNAME/FEXTRA/FCOMMENT flags"
    assert header[4:8] == b"\0\0\0\0", "mtime is zero"
    assert header[9] == 255
    assert sha256(gzip.decompress(blob.data)) == blob.diff_id == GOLDEN_TAR_DIGEST


def test_zstd_layer_is_a_zstd_frame_of_the_same_tar() -> None:
    """A zstd layer is one zstd frame whose content hashes to the layer's diff_id."""
    blob = _tiny_layer("zstd")
    assert blob.data[:4] == b"\x28\xb5\x2f\xfd"
    assert sha256(zstandard.decompress(blob.data)) == blob.diff_id == GOLDEN_TAR_DIGEST


ENTRY_CASES = [
    (
        build.file("etc/passwd", b"root\n", mode=0o600, uid=5, gid=6),
        {
            "name": "etc/passwd",
            "type": tarfile.REGTYPE,
            "mode": 0o600,
            "uid": 5,
            "gid": 6,
            "size": 5,
        },
    ),
    (
        build.directory("var/lib", mode=0o700),
        {"name": "var/lib", "type": tarfile.DIRTYPE, "mode": 0o700, "size": 0},
    ),
    (
        build.symlink("bin", "usr/bin"),
        {"name": "bin", "type": tarfile.SYMTYPE, "linkname": "usr/bin", "mode": 0o777},
    ),
    (
        build.hardlink("bin/sh2", "bin/sh"),
        {"name": "bin/sh2", "type": tarfile.LNKTYPE, "linkname": "bin/sh", "size": 0},
    ),
    (build.whiteout("etc/hosts"), {"name": "etc/.wh.hosts", "type": tarfile.REGTYPE, "size": 0}),
    (build.whiteout("toplevel"), {"name": ".wh.toplevel", "type": tarfile.REGTYPE}),
    (
        build.opaque_whiteout("var/log/"),
        {"name": "var/log/.wh..wh..opq", "type": tarfile.REGTYPE, "size": 0},
    ),
    (
        build.char_device("dev/null", 1, 3),
        {"name": "dev/null", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3},
    ),
    (
        build.block_device("dev/sda", 8, 0),
        {"name": "dev/sda", "type": tarfile.BLKTYPE, "devmajor": 8, "devminor": 0},
    ),
    (build.fifo("run/initctl"), {"name": "run/initctl", "type": tarfile.FIFOTYPE}),
    (build.file("x" * 150, b"long"), {"name": "x" * 150, "size": 4}),
    (build.file("../escape", b""), {"name": "../escape"}),
    (
        build.file("caps", b"", xattrs={"security.capability": "cap"}),
        {"pax_headers": {"SCHILY.xattr.security.capability": "cap"}},
    ),
]


@pytest.mark.parametrize(
    ("entry", "expected"),
    ENTRY_CASES,
    ids=[
        "a regular file keeps its bytes, mode and owner",
        "a directory is a DIRTYPE member",
        "a symlink keeps its target verbatim",
        "a hardlink names its target and has no data",
        "a whiteout is an empty .wh. file beside the deleted name",
        "a top-level whiteout has no directory prefix",
        "an opaque whiteout sits inside its directory",
        "a character device keeps major and minor",
        "a block device keeps major and minor",
        "a fifo is a FIFOTYPE member",
        "a name over 100 bytes survives through a PAX header",
        "a hostile relative name is written as given",
        "xattrs become SCHILY.xattr PAX records",
    ],
)
def test_entry_types_appear_in_the_tar_as_specified(
    entry: build.Member, expected: dict[str, object]
) -> None:
    """Each entry constructor yields exactly one tar member with the promised header."""
    (member,) = _members(build.layer([entry]))
    for attribute, value in expected.items():
        actual = getattr(member, attribute)
        if attribute == "pax_headers":
            actual = {k: v for k, v in actual.items() if k in value}  # type: ignore[operator]
        assert actual == value, attribute
    assert (member.mtime, member.uname, member.gname) == (build.DEFAULT_MTIME, "", "")


def test_members_are_sorted_and_tar_has_no_global_header() -> None:
    """Entries are written sorted by path, with uid/gid 0 and no PAX global header."""
    blob = build.layer(
        [build.file("b"), build.directory("a"), build.file("a/z"), build.file("a/b")], "none"
    )
    with tarfile.open(fileobj=io.BytesIO(blob.data), mode="r:") as archive:
        assert archive.getnames() == ["a", "a/b", "a/z", "b"]
        assert archive.pax_headers == {}
        assert {(m.uid, m.gid) for m in archive.getmembers()} == {(0, 0)}


def test_unsorted_layer_keeps_the_given_order() -> None:
    """sort=False writes entries in the order given, so tests can build odd tars."""
    blob = build.layer([build.file("b"), build.file("a"), build.file("b", b"again")], sort=False)
    assert [m.name for m in _members(blob)] == ["b", "a", "b"]


def test_history_aligns_with_layers() -> None:
    """Non-empty history steps pair with diff_ids in order; empty steps are flagged."""
    layers = [_tiny_layer("gzip"), build.layer([build.file("two", b"2")])]
    history = [
        build.Step("ADD a"),
        build.Step("ENV X=1", empty_layer=True),
        build.Step("ADD b", author="me", comment="c"),
    ]
    config = json.loads(build.image(layers, history=history).config.data)
    assert config["rootfs"] == {"type": "layers", "diff_ids": [b.diff_id for b in layers]}
    assert [h["created_by"] for h in config["history"] if not h.get("empty_layer")] == [
        "ADD a",
        "ADD b",
    ]
    assert config["history"][1] == {
        "created": build.DEFAULT_CREATED,
        "created_by": "ENV X=1",
        "empty_layer": True,
    }
    assert config["history"][2]["author"] == "me"


@pytest.mark.parametrize(
    "history",
    [
        [build.Step("ADD a")],
        [build.Step("ADD a"), build.Step("ADD b"), build.Step("ADD c")],
        [build.Step("ADD a"), build.Step("ADD b", empty_layer=True)],
    ],
    ids=["too few non-empty steps", "too many non-empty steps", "an empty step cannot own a layer"],
)
def test_misaligned_history_is_refused(history: list[build.Step]) -> None:
    """image() refuses a history whose non-empty steps do not match the layers one to one."""
    with pytest.raises(ValueError, match="non-empty steps"):
        build.image([_tiny_layer(), build.layer([build.file("2")])], history=history)


def test_config_fields_and_platform_are_written() -> None:
    """Run-time config, platform and authorship land where the image-spec puts them."""
    img = build.image(
        [_tiny_layer()],
        platform="linux/arm/v7",
        env=["A=1"],
        labels={"k": "v"},
        entrypoint=["/e"],
        cmd=["c"],
        user="1:2",
        working_dir="/w",
        exposed_ports=["80/tcp"],
        volumes=["/v"],
        stop_signal="SIGINT",
        author="a",
        created="2020-01-01T00:00:00Z",
    )
    config = json.loads(img.config.data)
    assert (config["os"], config["architecture"], config["variant"]) == ("linux", "arm", "v7")
    assert config["config"] == {
        "Env": ["A=1"],
        "Labels": {"k": "v"},
        "Entrypoint": ["/e"],
        "Cmd": ["c"],
        "User": "1:2",
        "WorkingDir": "/w",
        "ExposedPorts": {"80/tcp": {}},
        "Volumes": {"/v": {}},
        "StopSignal": "SIGINT",
    }
    assert (config["author"], config["created"]) == ("a", "2020-01-01T00:00:00Z")
    assert dict(img.platform) == {"os": "linux", "architecture": "arm", "variant": "v7"}


def test_documents_use_the_canonical_json_style() -> None:
    """Manifest and config bytes are sorted-key compact JSON; digests are over those bytes."""
    img = build.image([_tiny_layer("gzip")])
    for blob in (img.manifest, img.config):
        assert blob.data == build.canonical_json(json.loads(blob.data))
        assert blob.digest == sha256(blob.data)
    manifest = json.loads(img.manifest.data)
    assert manifest["config"] == {
        "mediaType": mt.OCI_CONFIG,
        "digest": img.config.digest,
        "size": img.config.size,
    }


def test_docker_media_types() -> None:
    """docker=True writes schema2 manifest, config and layer media types."""
    img = build.image([_tiny_layer("gzip"), _tiny_layer("none")], docker=True)
    manifest = json.loads(img.manifest.data)
    assert manifest["mediaType"] == img.media_type == mt.DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == mt.DOCKER_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        mt.DOCKER_LAYER_GZIP,
        mt.DOCKER_LAYER,
    ]


def test_docker_image_refuses_zstd_layers() -> None:
    """Docker schema2 has no zstd layer type, so a zstd layer is refused."""
    with pytest.raises(ValueError, match="zstd"):
        build.image([_tiny_layer("zstd")], docker=True)


def test_index_lists_platforms_then_attestations() -> None:
    """An OCI index has one entry per platform, then a BuildKit attestation per image."""
    idx = _sample()
    body = json.loads(idx.index.data)
    assert body["mediaType"] == mt.OCI_INDEX
    entries = body["manifests"]
    assert [e["platform"] for e in entries] == [
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm64", "variant": "v8"},
        {"os": "unknown", "architecture": "unknown"},
        {"os": "unknown", "architecture": "unknown"},
    ]
    for image, attestation in zip(idx.images, entries[2:], strict=True):
        assert attestation["annotations"] == {
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": image.digest,
        }


def test_attestation_manifest_holds_an_in_toto_statement_about_its_image() -> None:
    """The attestation's only layer is in-toto JSON whose subject digest is the image's."""
    idx = _sample()
    for image, attestation in zip(idx.images, idx.attestations, strict=True):
        manifest = json.loads(attestation.manifest.data)
        assert [layer["mediaType"] for layer in manifest["layers"]] == [build.IN_TOTO]
        statement = json.loads(attestation.layers[0].data)
        assert statement["subject"][0]["digest"] == {"sha256": image.digest.split(":")[1]}


def test_docker_manifest_list_has_no_attestations() -> None:
    """docker=True makes a manifest list of schema2 manifests, with no attestation entries."""
    images = [
        build.image([_tiny_layer("gzip")], platform=p, docker=True)
        for p in ("linux/amd64", "linux/arm64")
    ]
    listing = build.index(images, docker=True)
    body = json.loads(listing.index.data)
    assert body["mediaType"] == mt.DOCKER_MANIFEST_LIST
    assert [e["digest"] for e in body["manifests"]] == [i.digest for i in images]
    assert listing.attestations == ()


def test_index_refuses_mixed_media_types() -> None:
    """An OCI index refuses Docker manifests and a Docker list refuses OCI manifests."""
    oci, docker = (
        build.image([_tiny_layer("gzip")]),
        build.image([_tiny_layer("gzip")], docker=True),
    )
    with pytest.raises(ValueError):
        build.index([docker])
    with pytest.raises(ValueError):
        build.index([oci], docker=True)


def test_write_layout(tmp_path: Path) -> None:
    """A layout has oci-layout, an index.json naming each tag, and every blob under its digest."""
    idx = _sample()
    build.write_layout(tmp_path, idx, tags=["latest", "v1"])
    assert json.loads((tmp_path / "oci-layout").read_bytes()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((tmp_path / "index.json").read_bytes())
    assert [(m["digest"], m["annotations"][build.REF_NAME]) for m in index["manifests"]] == [
        (idx.digest, "latest"),
        (idx.digest, "v1"),
    ]
    names = {p.name for p in (tmp_path / "blobs" / "sha256").iterdir()}
    assert names == {b.digest.split(":")[1] for b in idx.blobs()}
    for path in (tmp_path / "blobs" / "sha256").iterdir():
        assert sha256(path.read_bytes()) == "sha256:" + path.name


def test_write_layout_from_a_mapping_of_tags(tmp_path: Path) -> None:
    """A {tag: root} mapping writes one index.json entry per tag, sorted by tag."""
    one, two = build.image([_tiny_layer()]), build.image([_tiny_layer("gzip")])
    build.write_layout(tmp_path, {"two": two, "one": one})
    index = json.loads((tmp_path / "index.json").read_bytes())
    assert [(m["annotations"][build.REF_NAME], m["digest"]) for m in index["manifests"]] == [
        ("one", one.digest),
        ("two", two.digest),
    ]
