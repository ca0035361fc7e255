"""The ``estargz`` fixture (tests/realimages/estargz.py) is genuinely eStargz, and ociinspect
already reads it as the gzip stream it also is.

Every claim is checked from the blobs: footers and TOCs parsed here (stargz-snapshotter's
docs/estargz.md: the 51-byte footer, ``%016xSTARGZ``, the TOC member, chunk entries), chunk
bytes hashed at their offsets, tars compared member by member with the unconverted layers.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import tarfile
import zlib
from pathlib import Path
from typing import Any

import pytest
import rig
from realimages import DebianImage, EstargzImage
from realimages import layout as oci
from realimages.estargz import (
    BIG_FILE,
    FOOTER_SIZE,
    METADATA_PATHS,
    NO_PREFETCH_LANDMARK,
    TOC_DIGEST_ANNOTATION,
    TOC_NAME,
    UNCOMPRESSED_SIZE_ANNOTATION,
    parse_footer,
    read_toc,
)

import ociinspect as oi

GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@pytest.fixture
def session(tmp_path: Path) -> oi.Session:
    """A session with an empty disk cache of its own."""
    return rig.rig_session(tmp_path / "cache")


def blob(image: EstargzImage, digest: str) -> Path:
    return oci.blob_path(image.layout, digest)


def tar_rows(path: Path) -> list[tuple[Any, ...]]:
    """Header fields and content sha256 of every member of a gzip layer, in stored order."""
    rows = []
    with gzip.open(path, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for m in tar:
            data = tar.extractfile(m) if m.isreg() else None
            content = hashlib.sha256(data.read()).hexdigest() if data else None
            rows.append(
                (m.name, m.type, m.size, m.mode, m.linkname, m.uid, m.gid, m.mtime, content)
            )
    return rows


def test_the_layout_holds_four_estargz_layers_with_their_annotations(
    estargz_image: EstargzImage,
) -> None:
    """Tag estargz names the recorded manifest: four gzip layers, each with a TOC digest and an
    uncompressed-size annotation; tag gzip is the same image before conversion, its config the
    same but for the diff_ids."""
    manifest = oci.manifest(estargz_image.layout, estargz_image.tag)
    assert manifest.digest == estargz_image.manifest_digest
    assert manifest.value["config"]["digest"] == estargz_image.config_digest
    layers = manifest.value["layers"]
    assert len(layers) == len(estargz_image.layers) == 4
    for descriptor, facts in zip(layers, estargz_image.layers, strict=True):
        assert descriptor["mediaType"] == facts.media_type == GZIP_LAYER
        assert (descriptor["digest"], descriptor["size"]) == (facts.digest, facts.size)
        assert descriptor["annotations"] == {
            TOC_DIGEST_ANNOTATION: facts.toc_digest,
            UNCOMPRESSED_SIZE_ANNOTATION: str(facts.uncompressed_size),
        }
        assert blob(estargz_image, facts.digest).stat().st_size == facts.size
    source = oci.manifest(estargz_image.layout, estargz_image.gzip_tag)
    assert source.digest == estargz_image.gzip_manifest_digest
    assert [d["digest"] for d in source.value["layers"]] == [
        layer.source_digest for layer in estargz_image.layers
    ]
    assert all("annotations" not in d for d in source.value["layers"])
    configs = [oci.config(estargz_image.layout, tag).value for tag in ("estargz", "gzip")]
    for config in configs:
        config["rootfs"].pop("diff_ids")
    assert configs[0] == configs[1]  # only the diff_ids changed (the bytes are re-serialised)


def test_each_footer_points_at_a_toc_whose_sha256_is_the_annotation(
    estargz_image: EstargzImage,
) -> None:
    """The last 51 bytes are an empty gzip member whose FEXTRA holds %016xSTARGZ; at that offset
    one gzip member holds a tar of stargz.index.json whose sha256 is the annotation."""
    for layer in estargz_image.layers:
        data = blob(estargz_image, layer.digest).read_bytes()
        footer = data[-FOOTER_SIZE:]
        assert footer[16:38] == b"%016xSTARGZ" % layer.toc_offset
        assert zlib.decompress(footer, 31) == b""
        toc = read_toc(blob(estargz_image, layer.digest))
        assert toc.offset == parse_footer(footer) == layer.toc_offset
        assert toc.version == 1
        assert "sha256:" + hashlib.sha256(toc.raw).hexdigest() == layer.toc_digest
        assert layer.toc_digest == dict(layer.annotations)[TOC_DIGEST_ANNOTATION]


def test_a_damaged_footer_is_refused() -> None:
    """parse_footer rejects a footer whose magic, subfield id or length is wrong."""
    plain = gzip.compress(b"", mtime=0)  # 20 bytes, no FEXTRA
    with pytest.raises(ValueError, match="51 bytes"):
        parse_footer(plain)
    footer = bytearray(b"\x1f\x8b\x08\x04" + bytes(6) + b"\x1a\x00SG\x16\x00")
    footer += b"%016xSTARGZ" % 1234 + b"\x01\x00\x00\xff\xff" + bytes(8)
    assert parse_footer(bytes(footer)) == 1234
    footer[12] = ord("X")
    with pytest.raises(ValueError, match="SG"):
        parse_footer(bytes(footer))


def test_uncompressed_size_and_diff_id_are_the_gunzipped_stream(
    estargz_image: EstargzImage,
) -> None:
    """Gunzipped whole (every member), each blob has the annotated length and the config's
    diff_id: eStargz is still one valid gzip stream."""
    diff_ids = oci.config(estargz_image.layout, estargz_image.tag).value["rootfs"]["diff_ids"]
    for layer, diff_id in zip(estargz_image.layers, diff_ids, strict=True):
        data = gzip.decompress(blob(estargz_image, layer.digest).read_bytes())
        assert len(data) == layer.uncompressed_size
        assert "sha256:" + hashlib.sha256(data).hexdigest() == diff_id == layer.diff_id
        assert layer.diff_id != layer.source_diff_id


def test_big_files_span_several_chunks(estargz_image: EstargzImage) -> None:
    """With 64 KiB chunks the big file has ceil(size / 65536) = 93 TOC entries and perl 59."""
    top = read_toc(blob(estargz_image, estargz_image.layers[-1].digest))
    expected = math.ceil(estargz_image.big_file_size / estargz_image.chunk_size)
    assert top.chunks()[BIG_FILE.lstrip("/")] == expected == 93
    assert estargz_image.most_chunked == (BIG_FILE, 93)
    bottom = read_toc(blob(estargz_image, estargz_image.layers[0].digest))
    assert bottom.most_chunked() == estargz_image.layers[0].most_chunked == ("/usr/bin/perl", 59)


@pytest.mark.parametrize("index", [0, 3], ids=["debian layer 0", "big-file layer"])
def test_every_chunk_offset_starts_a_gzip_member_holding_its_bytes(
    estargz_image: EstargzImage, index: int
) -> None:
    """Each reg and chunk entry's offset starts a gzip member whose first bytes are the chunk
    (chunkSize, or the rest of the file for the last), with the sha256 of chunkDigest; the
    chunks of a file add up to its size and digest."""
    path = blob(estargz_image, estargz_image.layers[index].digest)
    data = memoryview(path.read_bytes())
    toc = read_toc(path)
    checked = 0
    whole: dict[str, Any] = {}
    size = 0
    for entry in toc.entries:
        if entry["type"] == "reg":
            size = entry.get("size", 0)  # omitted when 0 (Go's omitempty)
            whole[entry["name"]] = (hashlib.sha256(), entry["digest"], size)
        if entry["type"] not in ("reg", "chunk") or size == 0:
            continue
        start = entry.get("chunkOffset", 0)
        length = entry.get("chunkSize") or size - start
        member = zlib.decompressobj(31)
        chunk = member.decompress(data[entry["offset"] :], length)
        assert len(chunk) == length, entry
        assert "sha256:" + hashlib.sha256(chunk).hexdigest() == entry["chunkDigest"], entry
        whole[entry["name"]][0].update(chunk)
        checked += 1
    for name, (digest, expected, file_size) in whole.items():
        if file_size:
            assert "sha256:" + digest.hexdigest() == expected, name
    assert checked > len([n for n, row in whole.items() if row[2]])  # some files had 2+ chunks


def test_each_tar_is_its_gzip_source_plus_landmark_and_toc(estargz_image: EstargzImage) -> None:
    """Gunzipped, each eStargz layer lists the unconverted layer's members (same order, headers,
    bytes) after .no.prefetch.landmark and before stargz.index.json."""
    for layer in estargz_image.layers:
        converted = tar_rows(blob(estargz_image, layer.digest))
        source = tar_rows(blob(estargz_image, layer.source_digest))
        assert converted[1:-1] == source
        assert converted[0][:3] == (NO_PREFETCH_LANDMARK, tarfile.REGTYPE, 1)
        assert converted[-1][0] == TOC_NAME
        assert "sha256:" + converted[-1][-1] == layer.toc_digest
        assert len(converted) == layer.entries


def test_the_merged_files_are_the_debian_images_plus_the_big_file(
    estargz_image: EstargzImage, debian_image: DebianImage
) -> None:
    """umoci's unpack holds the debian image's files (same sha256), the big file (perl, bash,
    ldconfig end to end), and the top layer's landmark and TOC at the root."""
    files = estargz_image.file_sha256()
    big = files.pop(BIG_FILE)
    assert files == {fact.path: fact.sha256 for fact in debian_image.tree.files}
    parts = b"".join(
        (debian_image.rootfs / p).read_bytes()
        for p in ("usr/bin/perl5.36.0", "bin/bash", "sbin/ldconfig")
    )
    assert big == hashlib.sha256(parts).hexdigest()
    assert len(parts) == estargz_image.big_file_size == 6_057_088
    everything = estargz_image.file_sha256(metadata=True)
    assert set(everything) - set(files) == {BIG_FILE, *METADATA_PATHS}
    assert "sha256:" + everything["/" + TOC_NAME] == estargz_image.layers[-1].toc_digest


def test_files_lists_each_layer_as_its_gzip_source_plus_metadata(
    estargz_image: EstargzImage, session: oi.Session
) -> None:
    """oi.files of each eStargz layer gives the gzip source layer's rows, plus rows only for the
    two eStargz metadata entries."""
    for index in range(len(estargz_image.layers)):
        converted = oi.files(estargz_image.ref, index, session=session)
        source = oi.files(estargz_image.gzip_ref, index, session=session)
        extra = converted[converted["path"].isin([p.lstrip("/") for p in METADATA_PATHS])]
        assert set(extra["path"]) <= {p.lstrip("/") for p in METADATA_PATHS}
        kept = converted.drop(extra.index).reset_index(drop=True)
        assert kept.equals(source.reset_index(drop=True)), index
        assert len(source) == estargz_image.layers[index].entries - 2


def test_read_file_gives_the_unpacked_bytes(
    estargz_image: EstargzImage, debian_image: DebianImage, session: oi.Session
) -> None:
    """oi.read_file of every 7th regular file of the merged filesystem, the 93-chunk big file,
    perl through its layer-0 hardlink whose data name is whited out, the modified /etc/issue and
    the top layer's TOC has umoci's sha256."""
    expected = estargz_image.file_sha256(metadata=True)
    paths = sorted(expected)[::7] + [
        BIG_FILE,
        debian_image.surviving_link_name,
        debian_image.modified,
        "/" + TOC_NAME,
    ]
    for path in paths:
        data = oi.read_file(estargz_image.ref, path, session=session)
        assert hashlib.sha256(data).hexdigest() == expected[path], path
    assert len(paths) > 150
