"""Local sources: OCI layout directories, oci-archive and docker-archive tars, checked by skopeo."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import subprocess
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import zstandard
from rig.env import child_env

from ociinspect.errors import (
    DigestMismatchError,
    InvalidDigestError,
    InvalidDocumentError,
    SizeMismatchError,
    SourceError,
)
from ociinspect.sources.archive import DockerArchiveSource, OciArchiveSource, TarStorage
from ociinspect.sources.base import Source
from ociinspect.sources.layout import CHUNK, LayoutSource
from ociinspect.testing import build
from ociinspect.values import mediatypes as mt
from ociinspect.values.digest import sha256
from ociinspect.values.models import Index, Manifest, parse_document

MiB = 1024 * 1024

# --------------------------------------------------------------------------- images and layouts


def _single() -> build.BuiltImage:
    return build.image(
        [
            build.layer([build.directory("etc"), build.file("etc/hostname", b"box\n")]),
            build.layer([build.file("app/run.sh", b"#!/bin/sh\n", mode=0o755)], "none"),
        ],
        cmd=["/app/run.sh"],
    )


def _multi() -> build.BuiltIndex:
    images = [
        build.image([build.layer([build.file("arch", platform)])], platform=platform)
        for platform in ("linux/amd64", "linux/arm64/v8")
    ]
    return build.index(images)  # BuildKit-style attestations included


SINGLE = _single()
MULTI = _multi()


def _tar(files: dict[str, bytes | tuple[str, str]], target: Path, compress: str = "none") -> Path:
    """A tar of ``files`` (bytes, or ``("symlink", target)``), optionally gzip/zstd-compressed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    data = buffer.getvalue()
    if compress == "gzip":
        data = gzip.compress(data)
    elif compress == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    target.write_bytes(data)
    return target


def _files(directory: Path, prefix: str = "") -> dict[str, bytes | tuple[str, str]]:
    return {
        prefix + path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Layouts: one tagged image, one untagged image, and three tags over an image and an index."""
    base = tmp_path_factory.mktemp("layouts")
    return {
        "one": build.write_layout(base / "one", SINGLE, tags=["v1"]),
        "untagged": build.write_layout(base / "untagged", SINGLE, tags=()),
        "many": build.write_layout(
            base / "many", {"latest": SINGLE, "1.0": SINGLE, "multi": MULTI}
        ),
    }


Opener = Callable[[Path, "str | None"], LayoutSource]


def _as_archive(compress: str, prefix: str = "") -> Opener:
    def opener(directory: Path, tag: str | None) -> LayoutSource:
        target = directory.parent / f"{directory.name}-{compress}{'-dot' if prefix else ''}.tar"
        if not target.exists():
            _tar(_files(directory, prefix), target, compress)
        return OciArchiveSource(target, tag)

    return opener


STORAGES: dict[str, Opener] = {
    "a layout directory": LayoutSource,
    "an oci-archive tar": _as_archive("none"),
    "a gzip-compressed oci-archive": _as_archive("gzip"),
    "an oci-archive with ./ member names": _as_archive("none", "./"),
}


@pytest.fixture(params=list(STORAGES.values()), ids=list(STORAGES))
def open_layout(request: pytest.FixtureRequest) -> Opener:
    """Each way a layout is stored: the same behaviour is expected of all of them."""
    opener: Opener = request.param
    return opener


# ------------------------------------------------------------------- layouts and oci-archives

ROOT_CASES = [
    ("one", "v1", SINGLE.digest, mt.OCI_MANIFEST),
    ("one", None, SINGLE.digest, mt.OCI_MANIFEST),
    ("untagged", None, SINGLE.digest, mt.OCI_MANIFEST),
    ("many", "multi", MULTI.digest, mt.OCI_INDEX),
    ("many", None, "index.json", mt.OCI_INDEX),
]
ROOT_IDS = [
    "a tag names its index.json entry",
    "the only entry is the root when no tag is given",
    "an untagged only entry is the root",
    "a tag may name an image index",
    "several entries and no tag make index.json itself the root",
]


@pytest.mark.parametrize(("layout", "tag", "digest", "media_type"), ROOT_CASES, ids=ROOT_IDS)
def test_root_is_the_document_the_tag_names(
    open_layout: Opener,
    layouts: dict[str, Path],
    layout: str,
    tag: str | None,
    digest: str,
    media_type: str,
) -> None:
    """root() answers the tagged entry, the only entry, or index.json, verified."""
    source = open_layout(layouts[layout], tag)
    if digest == "index.json":
        digest = sha256((layouts[layout] / "index.json").read_bytes())
    root = source.root()
    assert isinstance(source, Source)
    assert (root.digest, root.media_type) == (digest, media_type)
    assert sha256(root.raw) == digest
    assert source.manifest(digest).raw == root.raw


def test_manifests_and_blobs_are_read_verified(
    open_layout: Opener, layouts: dict[str, Path]
) -> None:
    """manifest(), blob() and open_blob() return exactly the bytes that were written."""
    source = open_layout(layouts["many"], "latest")
    assert source.manifest(SINGLE.digest, SINGLE.size).raw == SINGLE.manifest.data
    assert source.blob(SINGLE.config.digest, SINGLE.config.size) == SINGLE.config.data
    for layer in SINGLE.layers:
        with source.open_blob(layer.digest, layer.size) as chunks:
            assert b"".join(chunks) == layer.data
    arm = MULTI.image_for("linux/arm64/v8")
    assert isinstance(parse_document(source.manifest(arm.digest).raw), Manifest)


def test_tags_are_the_ref_name_annotations(open_layout: Opener, layouts: dict[str, Path]) -> None:
    """tags() yields each org.opencontainers.image.ref.name of index.json once, in order."""
    assert list(open_layout(layouts["many"], None).tags()) == ["1.0", "latest", "multi"]
    assert list(open_layout(layouts["untagged"], None).tags()) == []


def test_unknown_tag_lists_the_available_tags(
    open_layout: Opener, layouts: dict[str, Path]
) -> None:
    """A tag that is not in index.json is a SourceError naming the tags that are."""
    source = open_layout(layouts["many"], "2.0")
    with pytest.raises(SourceError, match=r"no tag '2\.0'.*available tags: 1\.0, latest, multi"):
        source.root()


def _with_referrer(directory: Path) -> tuple[Path, str]:
    """A layout holding SINGLE and an untagged SBOM artifact whose subject is SINGLE."""
    build.write_layout(directory, SINGLE, tags=["latest"])
    empty = build.Blob(mt.OCI_EMPTY, b"{}")
    artifact = build.json_blob(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "artifactType": "application/vnd.example.sbom+json",
            "config": empty.descriptor(),
            "layers": [empty.descriptor()],
            "subject": SINGLE.manifest.descriptor(),
            "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
        },
        mt.OCI_MANIFEST,
    )
    for blob in (empty, artifact):
        (directory / "blobs" / "sha256" / blob.digest.split(":")[1]).write_bytes(blob.data)
    index = json.loads((directory / "index.json").read_bytes())
    index["manifests"].append(artifact.descriptor())
    (directory / "index.json").write_text(json.dumps(index))
    return directory, artifact.digest


def test_referrers_finds_manifests_whose_subject_is_the_digest(
    open_layout: Opener, tmp_path: Path
) -> None:
    """referrers() lists layout manifests with that subject, with artifactType and annotations."""
    directory, artifact = _with_referrer(tmp_path / "ref")
    source = open_layout(directory, "latest")
    found = Index.from_bytes(source.referrers(SINGLE.digest).raw)
    assert [(d.digest, d.artifact_type) for d in found.manifests] == [
        (artifact, "application/vnd.example.sbom+json")
    ]
    assert found.manifests[0].annotations == {
        "org.opencontainers.image.created": "2024-01-01T00:00:00Z"
    }
    assert source.referrers(SINGLE.digest, "application/other").json["manifests"] == []
    assert source.referrers(SINGLE.config.digest).json["manifests"] == []


def test_open_blob_streams_chunks_of_at_most_one_mib(tmp_path: Path) -> None:
    """A 2.5 MiB blob arrives in 1 MiB chunks, and only the last step verifies it."""
    noise = random.Random(0).randbytes(5 * MiB // 2)
    big = build.image([build.layer([build.file("noise", noise)], "none")])
    source = LayoutSource(build.write_layout(tmp_path / "big", big), "latest")
    layer = big.layers[0]
    with source.open_blob(layer.digest, layer.size) as chunks:
        sizes = [len(chunk) for chunk in chunks]
    assert MiB == CHUNK
    assert sizes[:2] == [MiB, MiB] and sum(sizes) == layer.size and max(sizes) <= MiB


def test_archive_reads_are_independent_across_threads(layouts: dict[str, Path]) -> None:
    """Eight threads streaming blobs of one oci-archive at once all get the right bytes."""
    source = _as_archive("none")(layouts["many"], "latest")
    blobs = [*SINGLE.layers, SINGLE.config] * 4

    def read(blob: build.Blob) -> bool:
        with source.open_blob(blob.digest, blob.size) as chunks:
            return b"".join(chunks) == blob.data

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(read, blobs))


def _reference_layout(directory: Path) -> Path:
    """A layout whose entry is named by a full reference, as containerd exports do."""
    build.write_layout(directory, SINGLE, tags=["placeholder"])
    index = json.loads((directory / "index.json").read_bytes())
    index["manifests"][0]["annotations"] = {
        "org.opencontainers.image.ref.name": "docker.io/library/alpine:3.20",
        "io.containerd.image.name": "docker.io/library/alpine:3.20",
    }
    (directory / "index.json").write_text(json.dumps(index))
    return directory


@pytest.mark.parametrize(
    "tag",
    ["docker.io/library/alpine:3.20", "3.20", "alpine:3.20"],
    ids=[
        "the full reference matches exactly",
        "a bare tag matches a full reference ending in :tag",
        "a familiar reference matches once normalised",
    ],
)
def test_tags_match_full_reference_names(tmp_path: Path, tag: str) -> None:
    """index.json entries named by a full reference are found by tag or by reference."""
    assert LayoutSource(_reference_layout(tmp_path / "ref"), tag).root().digest == SINGLE.digest


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def _broken_layout(tmp_path: Path, problem: str) -> Path:
    directory = tmp_path / "layout"
    if problem == "missing":
        return directory
    if problem == "file":
        _write(directory, b"not a directory")
        return directory
    build.write_layout(directory, SINGLE, tags=["latest"])
    edits: dict[str, Callable[[], None]] = {
        "no oci-layout": lambda: (directory / "oci-layout").unlink(),
        "version 2": lambda: _write(directory / "oci-layout", '{"imageLayoutVersion":"2.0.0"}'),
        "no index.json": lambda: (directory / "index.json").unlink(),
        "index not JSON": lambda: _write(directory / "index.json", "{not json"),
        "index is a manifest": lambda: _write(directory / "index.json", SINGLE.manifest.data),
        "index lists nothing": lambda: _write(
            directory / "index.json", '{"schemaVersion":2,"manifests":[]}'
        ),
        "entry type disagrees": lambda: _write(
            directory / "index.json",
            json.dumps(
                {"schemaVersion": 2, "manifests": [SINGLE.manifest.descriptor(mt.OCI_INDEX)]}
            ),
        ),
    }
    edits[problem]()
    return directory


BROKEN_LAYOUTS = [
    ("missing", SourceError, r"no OCI layout at .*layout \(no oci-layout file"),
    ("file", SourceError, r"no OCI layout at .*a file.*use oci-archive:"),
    ("no oci-layout", SourceError, r"no OCI layout at .*layout \(no oci-layout file\)"),
    ("version 2", SourceError, r"oci-layout of OCI layout .*imageLayoutVersion '2\.0\.0'"),
    ("no index.json", SourceError, r"OCI layout .*layout has no index\.json"),
    ("index not JSON", InvalidDocumentError, r"invalid index\.json of OCI layout .*: not JSON"),
    ("index is a manifest", InvalidDocumentError, r"index\.json of OCI layout .*got a"),
    ("index lists nothing", SourceError, r"index\.json of OCI layout .* lists no manifests"),
    ("entry type disagrees", InvalidDocumentError, r"does not match"),
]


@pytest.mark.parametrize(
    ("problem", "error", "message"),
    BROKEN_LAYOUTS,
    ids=[
        "a missing directory is not a layout",
        "a file is not a layout and the error suggests oci-archive",
        "a directory without oci-layout is not a layout",
        "an imageLayoutVersion other than 1.x is refused",
        "a layout without index.json is refused",
        "an index.json that is not JSON is an invalid document naming the file",
        "an index.json that is a manifest is an invalid document",
        "an empty index.json has no root",
        "an entry whose mediaType disagrees with the document is refused",
    ],
)
def test_broken_layouts_raise_typed_errors(
    tmp_path: Path, problem: str, error: type[Exception], message: str
) -> None:
    """Each broken layout raises its typed error with a message naming the layout."""
    with pytest.raises(error, match=message):
        LayoutSource(_broken_layout(tmp_path, problem)).root()


def _blob_file(directory: Path, digest: str) -> Path:
    return directory / "blobs" / "sha256" / digest.split(":")[1]


@pytest.mark.parametrize(
    ("blob", "read"),
    [
        ("manifest", lambda s: s.root()),
        ("config", lambda s: s.blob(SINGLE.config.digest)),
        ("layer", lambda s: s.open_blob(SINGLE.layers[0].digest).__enter__()),
    ],
    ids=["a missing manifest", "a missing config", "a missing layer"],
)
def test_missing_blob_is_a_source_error_naming_digest_and_layout(
    tmp_path: Path, blob: str, read: Callable[[LayoutSource], Any]
) -> None:
    """A blob absent from blobs/ raises SourceError naming its digest and the layout."""
    directory = build.write_layout(tmp_path / "layout", SINGLE, tags=["latest"])
    digest = {
        "manifest": SINGLE.digest,
        "config": SINGLE.config.digest,
        "layer": SINGLE.layers[0].digest,
    }[blob]
    _blob_file(directory, digest).unlink()
    with pytest.raises(SourceError, match=rf"{digest} is missing from OCI layout {directory}"):
        read(LayoutSource(directory, "latest"))


def _drain(source: Source, digest: str) -> bytes:
    with source.open_blob(digest) as chunks:
        return b"".join(chunks)


TAMPERED = [
    ("manifest", SINGLE.digest, lambda s: s.root()),
    ("manifest", SINGLE.digest, lambda s: s.manifest(SINGLE.digest)),
    ("config", SINGLE.config.digest, lambda s: s.blob(SINGLE.config.digest)),
    ("layer", SINGLE.layers[1].digest, lambda s: _drain(s, SINGLE.layers[1].digest)),
]


@pytest.mark.parametrize(
    ("what", "digest", "read"),
    TAMPERED,
    ids=[
        "a tampered manifest fails root()",
        "a tampered manifest fails manifest()",
        "a tampered config fails blob()",
        "a tampered layer fails when its stream ends",
    ],
)
def test_tampered_blob_raises_digest_mismatch(
    open_layout: Opener, tmp_path: Path, what: str, digest: str, read: Callable[[Source], Any]
) -> None:
    """A blob whose bytes changed (same size) raises DigestMismatchError, never returns."""
    directory = build.write_layout(tmp_path / "layout", SINGLE, tags=["latest"])
    path = _blob_file(directory, digest)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError, match=digest):
        read(open_layout(directory, "latest"))


def test_blob_longer_than_its_descriptor_is_a_size_mismatch(tmp_path: Path) -> None:
    """A manifest with an extra byte fails on the size index.json promised, before hashing."""
    directory = build.write_layout(tmp_path / "layout", SINGLE, tags=["latest"])
    path = _blob_file(directory, SINGLE.digest)
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(SizeMismatchError, match=f"expected {SINGLE.size} bytes"):
        LayoutSource(directory, "latest").root()


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:../../../../etc/passwd",
        "sha256/../../oci-layout",
        "../index.json",
        "sha256:" + "A" * 64,
        "md5:d41d8cd98f00b204e9800998ecf8427e",
    ],
    ids=[
        "dot-dot segments in the encoded part are refused",
        "a path instead of a digest is refused",
        "a relative file name is refused",
        "uppercase hex is refused",
        "an unsupported algorithm is refused",
    ],
)
def test_digests_that_could_leave_blobs_are_refused(
    open_layout: Opener, layouts: dict[str, Path], digest: str
) -> None:
    """Anything that is not a strict sha256/sha512 digest raises InvalidDigestError."""
    source = open_layout(layouts["one"], None)
    for read in (source.blob, source.manifest, source.open_blob):
        with pytest.raises(InvalidDigestError):
            read(digest)


def test_blob_symlink_leading_out_of_the_layout_is_refused(tmp_path: Path) -> None:
    """A blobs/ entry that links outside the layout directory is a SourceError, even if valid."""
    directory = build.write_layout(tmp_path / "layout", SINGLE, tags=["latest"])
    outside = tmp_path / "outside"
    outside.write_bytes(SINGLE.config.data)
    blob = _blob_file(directory, SINGLE.config.digest)
    blob.unlink()
    blob.symlink_to(outside)
    with pytest.raises(SourceError, match="leading out of the layout"):
        LayoutSource(directory, "latest").blob(SINGLE.config.digest)


def test_tar_members_that_leave_the_archive_are_ignored(tmp_path: Path) -> None:
    """Members named ../x or /x, and symlinks to absolute or escaping paths, are never read."""
    archive = _tar(
        {
            "../escape": b"x",
            "/abs": b"y",
            "ok": b"fine",
            "link-abs": ("symlink", "/etc/passwd"),
            "link-up": ("symlink", "../../etc/passwd"),
            "dir/link-ok": ("symlink", "../ok"),
        },
        tmp_path / "t.tar",
    )
    storage = TarStorage(archive)
    sizes = {name: storage.size(name) for name in ("../escape", "/abs", "link-abs", "link-up")}
    assert sizes == dict.fromkeys(sizes)
    assert b"".join(storage.chunks("dir/link-ok")) == b"fine"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"no archive at .*missing\.tar \(no such file\)"),
        (b"this is not a tar archive at all" * 20, "is not a readable tar archive"),
        (b"\x1f\x8b\x08\x00garbage", "cannot decompress archive"),
        ({"readme": b"hi"}, r"no OCI layout at .*archive\.tar \(no oci-layout file\)"),
    ],
    ids=[
        "a missing file",
        "a file that is not a tar",
        "a corrupt gzip stream",
        "a tar without oci-layout",
    ],
)
def test_broken_oci_archives_raise_source_error(
    tmp_path: Path, content: bytes | dict[str, bytes] | None, message: str
) -> None:
    """oci-archive problems are SourceErrors naming the archive."""
    path = tmp_path / ("missing.tar" if content is None else "archive.tar")
    if isinstance(content, dict):
        _tar(dict(content), path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        OciArchiveSource(path, "latest")


def test_compressed_archive_copy_is_removed_on_close(layouts: dict[str, Path]) -> None:
    """A gzip or zstd oci-archive is decompressed once to a temporary file that close() removes."""
    for compress in ("gzip", "zstd"):
        source = _as_archive(compress)(layouts["one"], "v1")
        assert source.root().digest == SINGLE.digest
        copy = Path(source.storage._data)  # type: ignore[attr-defined]
        assert copy.exists() and copy != source.path
        source.close()
        assert not copy.exists()


# --------------------------------------------------------------------------- docker-archive


def _chain_id(parent: str, layer: build.Blob) -> str:
    return hashlib.sha256(f"{parent} {layer.digest}".encode()).hexdigest()


def _legacy_files(
    images: list[tuple[build.BuiltImage, list[str] | None]],
) -> dict[str, bytes | tuple[str, str]]:
    """``docker save`` before Docker 25: <config hex>.json, <id>/layer.tar, repositories."""
    files: dict[str, bytes | tuple[str, str]] = {}
    manifest: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for image, tags in images:
        config = image.config.digest.split(":")[1] + ".json"
        files[config] = image.config.data
        parent, layers = "", []
        for layer in image.layers:
            layer_id = _chain_id(parent, layer)
            files[f"{layer_id}/VERSION"] = b"1.0"
            files[f"{layer_id}/json"] = json.dumps({"id": layer_id, "parent": parent}).encode()
            files[f"{layer_id}/layer.tar"] = layer.data
            layers.append(f"{layer_id}/layer.tar")
            parent = layer_id
        manifest.append({"Config": config, "RepoTags": tags, "Layers": layers})
        for tag in tags or ():
            name, _, short = tag.rpartition(":")
            repositories.setdefault(name, {})[short] = parent
    files["manifest.json"] = json.dumps(manifest).encode()
    files["repositories"] = json.dumps(repositories).encode()
    return files


def _manifest_json(files: dict[str, bytes | tuple[str, str]]) -> Any:
    content = files["manifest.json"]
    assert isinstance(content, bytes)
    return json.loads(content)


def _oci_style_files(image: build.BuiltImage, tags: list[str]) -> dict[str, bytes | tuple[str,
str]]:
    """``docker save`` since Docker 25: an OCI layout plus a manifest.json into blobs/."""
    files: dict[str, bytes | tuple[str, str]] = {
        f"blobs/sha256/{blob.digest.split(':')[1]}": blob.data for blob in image.blobs()
    }
    entries = [
        dict(
            image.descriptor(),
            annotations={
                "io.containerd.image.name": f"docker.io/library/{tag}",
                "org.opencontainers.image.ref.name": tag.rpartition(":")[2],
            },
        )
        for tag in tags
    ]
    files["index.json"] = build.canonical_json(
        {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": entries}
    )
    files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    blob = "blobs/sha256/{}".format
    files["manifest.json"] = json.dumps(
        [
            {
                "Config": blob(image.config.digest.split(":")[1]),
                "RepoTags": tags,
                "Layers": [blob(layer.digest.split(":")[1]) for layer in image.layers],
            }
        ]
    ).encode()
    return files


def _docker_image(*compressions: build.Compression, seed: str = "a") -> build.BuiltImage:
    layers = [
        build.layer([build.file(f"{seed}/{i}", f"{seed} layer {i}\n" * 50)], compression)
        for i, compression in enumerate(compressions)
    ]
    return build.image(layers, docker="zstd" not in compressions)


PLAIN = _docker_image("none", "none")


def _expected_manifest(
    image: build.BuiltImage, layer_types: list[str], digests: list[str]
) -> bytes:
    """The synthesised manifest, spelled out: skopeo's field order, no spaces."""
    layers = ",".join(
        f'{{"mediaType":"{kind}","size":{blob.size},"digest":"{digest}"}}'
        for kind, blob, digest in zip(layer_types, image.layers, digests, strict=True)
    )
    return (
        f'{{"schemaVersion":2,"mediaType":"{mt.DOCKER_MANIFEST}",'
        f'"config":{{"mediaType":"{mt.DOCKER_CONFIG}","size":{image.config.size},'
        f'"digest":"{image.config.digest}"}},"layers":[{layers}]}}'
    ).encode()


ARCHIVE_KINDS = {
    "a legacy docker save archive": lambda: _legacy_files([(PLAIN, ["alpine:3.20"])]),
    "a Docker 25 OCI-style archive": lambda: _oci_style_files(PLAIN, ["alpine:3.20"]),
}


@pytest.mark.parametrize("compress", ["none", "gzip"], ids=["as saved", "piped through gzip"])
@pytest.mark.parametrize("kind", list(ARCHIVE_KINDS), ids=list(ARCHIVE_KINDS))
def test_docker_archive_root_is_a_synthesised_schema2_manifest(
    tmp_path: Path, kind: str, compress: str
) -> None:
    """The root is a Docker schema2 manifest over the config and layer tars as stored."""
    path = _tar(ARCHIVE_KINDS[kind](), tmp_path / "saved.tar", compress)
    source = DockerArchiveSource(path)
    root = source.root()
    diff_ids = [layer.diff_id or "" for layer in PLAIN.layers]
    assert root.raw == _expected_manifest(PLAIN, [mt.DOCKER_LAYER] * 2, diff_ids)
    assert (root.media_type, root.digest) == (mt.DOCKER_MANIFEST, sha256(root.raw))
    manifest = parse_document(root.raw)
    assert isinstance(manifest, Manifest) and manifest.config.digest == PLAIN.config.digest
    assert source.blob(PLAIN.config.digest) == PLAIN.config.data
    for layer in PLAIN.layers:
        assert _drain(source, layer.digest) == layer.data
    assert source.manifest(root.digest, len(root.raw)) is root
    assert isinstance(source, Source)
    assert list(source.tags()) == ["alpine:3.20"]
    assert source.referrers(root.digest).json["manifests"] == []
    assert DockerArchiveSource(path).root().raw == root.raw


def test_oci_style_archive_also_serves_its_stored_manifest(tmp_path: Path) -> None:
    """In a Docker 25 archive, the OCI manifest stored in blobs/ is readable by digest."""
    source = DockerArchiveSource(_tar(_oci_style_files(PLAIN, ["alpine:3.20"]), tmp_path / "a.tar"))
    stored = source.manifest(PLAIN.digest)
    assert (stored.raw, stored.media_type) == (PLAIN.manifest.data, mt.DOCKER_MANIFEST)
    assert source.root().digest != PLAIN.digest


def test_compressed_layer_members_are_described_as_stored(tmp_path: Path) -> None:
    """A gzip layer member is tar.gzip with the digest of its compressed bytes; zstd makes OCI."""
    gz = _docker_image("gzip", "none", seed="gz")
    source = DockerArchiveSource(_tar(_legacy_files([(gz, ["gz:1"])]), tmp_path / "gz.tar"))
    layers = source.root().json["layers"]
    assert [(d["mediaType"], d["digest"], d["size"]) for d in layers] == [
        (mt.DOCKER_LAYER_GZIP, gz.layers[0].digest, gz.layers[0].size),
        (mt.DOCKER_LAYER, gz.layers[1].diff_id, gz.layers[1].size),
    ]
    assert _drain(source, gz.layers[0].digest) == gz.layers[0].data
    zst = _docker_image("zstd", seed="zst")
    source = DockerArchiveSource(_tar(_legacy_files([(zst, ["z:1"])]), tmp_path / "z.tar"))
    manifest = parse_document(source.root().raw)
    assert manifest.media_type == mt.OCI_MANIFEST
    assert isinstance(manifest, Manifest)
    assert [d.media_type for d in manifest.layers] == [mt.OCI_LAYER_ZSTD]


ALPINE = _docker_image("none", seed="alpine")
BUSYBOX = _docker_image("none", seed="busybox")
APP = _docker_image("none", "none", seed="app")
UNTAGGED = _docker_image("none", seed="untagged")
MANY: list[tuple[build.BuiltImage, list[str] | None]] = [
    (ALPINE, ["alpine:3.20", "alpine:latest"]),
    (BUSYBOX, ["docker.io/library/busybox:1.36"]),
    (APP, ["localhost:5000/team/app:v2"]),
    (UNTAGGED, None),
]


@pytest.fixture(scope="module")
def many_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A docker-archive of four images (docker save a b c d), one of them untagged."""
    return _tar(_legacy_files(MANY), tmp_path_factory.mktemp("docker") / "many.tar")


@pytest.mark.parametrize(
    ("ref", "image"),
    [
        ("alpine:3.20", ALPINE),
        ("docker.io/library/alpine:3.20", ALPINE),
        ("alpine", ALPINE),
        ("busybox:1.36", BUSYBOX),
        ("localhost:5000/team/app:v2", APP),
        ("@1", BUSYBOX),
        ("@3", UNTAGGED),
    ],
    ids=[
        "a familiar RepoTag selects its image",
        "a fully qualified reference matches the familiar RepoTag",
        "a name without tag means :latest",
        "a familiar reference matches a fully qualified RepoTag",
        "a registry with a port is kept",
        "@N selects the N-th image",
        "@N reaches untagged images",
    ],
)
def test_docker_archive_ref_selects_the_image(
    many_images: Path, ref: str, image: build.BuiltImage
) -> None:
    """REF picks one image of manifest.json by normalised RepoTag or by position."""
    source = DockerArchiveSource(many_images, ref)
    assert source.root().json["config"]["digest"] == image.config.digest
    assert source.name == f"docker-archive:{many_images}:{ref}"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (None, r"holds 4 images.*@0: alpine:3\.20, alpine:latest; .*@3: \(no tags\)"),
        ("alpine:3.21", r"no image tagged 'alpine:3\.21'.*busybox:1\.36"),
        ("@4", r"no image @4 .*\(4 images\)"),
        ("@one", r"no image @one"),
        ("alpine@sha256:" + "a" * 64, "must not contain a digest"),
    ],
    ids=[
        "no REF with several images is ambiguous and lists every RepoTag",
        "an unknown tag lists every RepoTag",
        "a position past the end is refused",
        "a position that is not a number is refused",
        "a digest reference is refused as skopeo does",
    ],
)
def test_docker_archive_ref_errors_list_the_images(
    many_images: Path, ref: str | None, message: str
) -> None:
    """A REF that selects no single image is a SourceError listing what the archive holds."""
    with pytest.raises(SourceError, match=message):
        DockerArchiveSource(many_images, ref)


def test_docker_archive_tags_are_every_repo_tag(many_images: Path) -> None:
    """tags() yields each RepoTag of the archive, as written (each one a valid REF)."""
    assert list(DockerArchiveSource(many_images, "@0").tags()) == [
        "alpine:3.20",
        "alpine:latest",
        "docker.io/library/busybox:1.36",
        "localhost:5000/team/app:v2",
    ]


def test_a_tag_on_two_images_is_ambiguous(tmp_path: Path) -> None:
    """Two manifest.json entries claiming the same tag make that tag a SourceError."""
    path = _tar(
        _legacy_files([(ALPINE, ["x:1"]), (BUSYBOX, ["docker.io/library/x:1"])]), tmp_path / "a.tar"
    )
    with pytest.raises(SourceError, match="'x:1' tags several images"):
        DockerArchiveSource(path, "x:1")


def _broken_docker(problem: str) -> dict[str, bytes | tuple[str, str]]:
    files = _legacy_files([(PLAIN, ["plain:1"])])
    entry = _manifest_json(files)[0]

    def manifest(value: Any) -> None:
        files["manifest.json"] = json.dumps(value).encode()

    if problem == "no manifest.json":
        del files["manifest.json"]
    elif problem == "not JSON":
        files["manifest.json"] = b"[{"
    elif problem == "an object":
        manifest(entry)
    elif problem == "no Config":
        manifest([{k: v for k, v in entry.items() if k != "Config"}])
    elif problem == "Layers not a list":
        manifest([dict(entry, Layers="a/layer.tar")])
    elif problem == "RepoTags not strings":
        manifest([dict(entry, RepoTags=[1])])
    elif problem == "missing layer":
        manifest([dict(entry, Layers=[entry["Layers"][0], "gone/layer.tar"])])
    elif problem == "missing config":
        manifest([dict(entry, Config="gone.json")])
    return files


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("no manifest.json", r"is not a docker-archive \(no manifest\.json\)"),
        ("not JSON", r"manifest\.json is not JSON"),
        ("an object", r"manifest\.json must be a non-empty JSON array"),
        ("no Config", r"manifest\.json\[0\]\.Config must name a file"),
        ("Layers not a list", r"manifest\.json\[0\]\.Layers must be an array"),
        ("RepoTags not strings", r"manifest\.json \[0\]\.RepoTags must be an array of strings"),
        ("missing layer", r"\[0\]\.Layers\[1\] names gone/layer\.tar, which is not in the archive"),
        ("missing config", r"\[0\]\.Config names gone\.json, which is not in the archive"),
    ],
    ids=[
        "a tar without manifest.json is not a docker-archive",
        "a manifest.json that is not JSON",
        "a manifest.json that is not an array",
        "an entry without Config",
        "an entry whose Layers is not an array",
        "an entry whose RepoTags are not strings",
        "Layers naming a member that is not there",
        "Config naming a member that is not there",
    ],
)
def test_broken_manifest_json_is_a_source_error(tmp_path: Path, problem: str, message: str) -> None:
    """What is wrong with manifest.json is said, with the archive's path."""
    path = _tar(_broken_docker(problem), tmp_path / "broken.tar")
    with pytest.raises(SourceError, match=rf"archive {path}.*{message}|{message}.*{path}"):
        DockerArchiveSource(path)


def test_tampered_docker_layer_fails_when_read(tmp_path: Path) -> None:
    """A layer.tar changed after saving is described by its diff_id and fails verification."""
    files = _legacy_files([(PLAIN, ["plain:1"])])
    member = _manifest_json(files)[0]["Layers"][0]
    data = bytearray(PLAIN.layers[0].data)
    data[600] ^= 0x01
    files[member] = bytes(data)
    source = DockerArchiveSource(_tar(files, tmp_path / "t.tar"))
    digest = PLAIN.layers[0].digest
    assert source.root().json["layers"][0]["digest"] == digest
    with pytest.raises(DigestMismatchError, match=digest):
        _drain(source, digest)
    with pytest.raises(DigestMismatchError, match=digest):
        source.blob(digest)


def test_config_that_does_not_match_its_name_is_refused(tmp_path: Path) -> None:
    """A config member named <hex>.json must hash to that hex."""
    files = _legacy_files([(PLAIN, ["plain:1"])])
    name = _manifest_json(files)[0]["Config"]
    files[name] = PLAIN.config.data.replace(b"amd64", b"arm64")
    with pytest.raises(DigestMismatchError, match=PLAIN.config.digest):
        DockerArchiveSource(_tar(files, tmp_path / "t.tar"))


def test_foreign_layer_keeps_its_layer_sources_descriptor(tmp_path: Path) -> None:
    """A layer absent from the archive but described in LayerSources keeps that descriptor."""
    files = _legacy_files([(PLAIN, ["plain:1"])])
    entry = _manifest_json(files)[0]
    del files[entry["Layers"][1]]
    foreign: dict[str, Any] = {
        "mediaType": mt.DOCKER_LAYER_FOREIGN_GZIP,
        "size": 1234,
        "digest": "sha256:" + "f" * 64,
        "urls": ["https://example.com/layer.tar.gz"],
    }
    entry["LayerSources"] = {PLAIN.layers[1].diff_id: foreign}
    files["manifest.json"] = json.dumps([entry]).encode()
    source = DockerArchiveSource(_tar(files, tmp_path / "f.tar"))
    assert source.root().json["layers"][1] == foreign
    with pytest.raises(SourceError, match="f" * 64):
        source.blob(foreign["digest"])


# --------------------------------------------------------------------------- skopeo cross-checks


def _skopeo(tmp_path: Path, *args: str) -> bytes:
    result = subprocess.run(
        ["skopeo", *args],
        capture_output=True,
        env=child_env(tmp_path / "home"),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.parametrize(
    ("transport", "layout", "tag"),
    [
        ("oci", "many", "latest"),
        ("oci", "many", "multi"),
        ("oci", "one", "v1"),
        ("oci-archive", "many", "multi"),
    ],
    ids=[
        "an image tag in a layout with several tags",
        "an index tag",
        "the only tag of a layout",
        "an index tag in an oci-archive",
    ],
)
def test_skopeo_inspect_raw_has_our_root_digest(
    tmp_path: Path, layouts: dict[str, Path], transport: str, layout: str, tag: str
) -> None:
    """skopeo inspect --raw of the same layout and tag hashes to our root() digest."""
    if transport == "oci":
        source: LayoutSource = LayoutSource(layouts[layout], tag)
        location = layouts[layout]
    else:
        source = _as_archive("none")(layouts[layout], tag)
        location = source.path
    raw = _skopeo(tmp_path, "inspect", "--raw", f"{transport}:{location}:{tag}")
    assert sha256(raw) == source.root().digest


def test_skopeo_docker_archive_reads_with_the_same_config_and_diff_ids(
    tmp_path: Path, layouts: dict[str, Path]
) -> None:
    """skopeo copy oci: -> docker-archive: gives an archive we read with SINGLE's config."""
    archive = tmp_path / "saved.tar"
    target = f"docker-archive:{archive}:example.com/team/app:1.0"
    _skopeo(tmp_path, "copy", "--quiet", f"oci:{layouts['one']}:v1", target)
    source = DockerArchiveSource(archive, "example.com/team/app:1.0")
    manifest = parse_document(source.root().raw)
    assert isinstance(manifest, Manifest)
    assert manifest.config.digest == SINGLE.config.digest
    diff_ids = json.loads(source.blob(manifest.config.digest))["rootfs"]["diff_ids"]
    assert [d.digest for d in manifest.layers] == diff_ids == [b.diff_id for b in SINGLE.layers]
    for layer in manifest.layers:
        with source.open_blob(layer.digest, layer.size) as chunks:
            assert sum(len(c) for c in chunks) == layer.size
    # skopeo synthesises the same document but labels every layer tar.gzip (see archive.py).
    theirs = _skopeo(tmp_path, "inspect", "--raw", f"docker-archive:{archive}")
    assert theirs.replace(mt.DOCKER_LAYER_GZIP.encode(), mt.DOCKER_LAYER.encode()) == (
        source.root().raw
    )
