"""read_file through an eStargz layer's own table of contents (ociinspect.layers.toc).

The image is real: the debian image and a one-big-file layer converted by containerd's
``ctr-remote images convert --estargz`` (tests/realimages/estargz.py). Reading a file costs the
footer, the TOC (checked against the descriptor's ``containerd.io/snapshot/stargz/toc.digest``)
and the gzip members of that file's chunks; no layer is streamed. The index a TOC gives equals
the one a verified pass over the whole layer gives. Then what a hostile blob or descriptor does:
a TOC that does not match its annotation, a footer that lies, chunk offsets that do not add up.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import rig
from realimages import EstargzImage, RealImages
from realimages import layout as oci
from rig import Registry
from rig.seed import skopeo_copy

import ociinspect as oi
from ociinspect.errors import ArchiveError, DigestMismatchError
from ociinspect.layers import toc
from ociinspect.layers.reader import ImageReader
from ociinspect.values.models import Descriptor

LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
ONES = "sha256:" + "1" * 64


def reader_for(image: EstargzImage, cache: Path) -> ImageReader:
    return ImageReader(oi.image(image.ref, session=rig.rig_session(cache)))


def test_a_file_is_read_from_the_toc_without_streaming_any_layer(
    estargz_image: EstargzImage, tmp_path: Path
) -> None:
    """The big file (93 chunks of 64 KiB) and perl (read through layer 0's hardlink whose
    data-carrying name layer 1 deletes) come from their chunks: no pass, bytes as umoci's."""
    reader = reader_for(estargz_image, tmp_path / "cache")
    expected = estargz_image.file_sha256()
    for path, stored in [
        (estargz_image.big_file, estargz_image.big_file),
        ("/usr/bin/perl5.36.0", "/usr/bin/perl5.36.0"),
        ("/etc/os-release", "/usr/lib/os-release"),  # a relative symlink, followed
    ]:
        data = reader.read(path)
        assert hashlib.sha256(data).hexdigest() == expected[stored], path
    assert reader.passes == 0 and reader.notes == []
    top = estargz_image.layers[-1]
    # the big file's chunks follow each other: one Range request for all 93 (plus footer, TOC)
    assert reader.range_requests <= 3 * len(estargz_image.layers) + 3
    assert reader.range_bytes < sum(layer.size for layer in estargz_image.layers)
    assert top.most_chunked[1] == 93


def test_the_toc_index_equals_the_index_of_a_verified_pass(
    estargz_image: EstargzImage, tmp_path: Path
) -> None:
    """Every layer's TOC gives the members a pass over the whole tar finds: names, types,
    sizes, sha256, link targets (the two files the conversion adds, the TOC's own
    stargz.index.json and .no.prefetch.landmark, included)."""
    reader = reader_for(estargz_image, tmp_path / "cache")
    for position in range(len(estargz_image.layers)):
        from_toc = reader.index(position)
        assert from_toc.kind == "toc" and from_toc.toc_format == toc.ESTARGZ
        streamed = reader._pass(position)  # noqa: SLF001 - the verified pass, for comparison
        shape = [(m.key, m.type, m.size, m.sha256, m.link, m.mode) for m in from_toc.members]
        assert shape == [
            (m.key, m.type, m.size, m.sha256, m.link, m.mode) for m in streamed.members
        ], position
        assert {"stargz.index.json", ".no.prefetch.landmark"} <= set(from_toc._by_key)  # noqa: SLF001


def test_the_toc_index_is_kept_in_the_disk_cache(
    estargz_image: EstargzImage, tmp_path: Path
) -> None:
    """A second reader on the same disk cache reads another file with no footer or TOC read."""
    first = reader_for(estargz_image, tmp_path / "cache")
    first.read("/etc/os-release")
    again = reader_for(estargz_image, tmp_path / "cache")
    again.read("/etc/issue")
    chunks_only = again.range_requests
    assert again.passes == 0 and chunks_only <= 1  # /etc/issue's one member, TOCs cached


@pytest.mark.registry
def test_from_the_registry_a_read_costs_the_toc_and_the_file_not_the_layer(
    registry_open: Registry, estargz_image: EstargzImage, tmp_path: Path
) -> None:
    """Over HTTP the big file costs its footer, TOC and chunks: every CDN GET is a Range
    request and the bytes sent stay near the file's compressed size."""
    ref = registry_open.ref("scratch/read-estargz:v1")
    skopeo_copy(estargz_image.ref, f"docker://{ref}", all_images=False, home=tmp_path / "home")
    session = rig.rig_session(tmp_path / "cache")
    data = oi.read_file(ref, estargz_image.big_file, session=session)
    assert len(data) == estargz_image.big_file_size
    assert registry_open.cdn is not None
    top = estargz_image.layers[-1]
    gets = [r for r in registry_open.cdn.requests() if r.method == "GET"]
    assert gets and all(r.header("Range") for r in gets)
    assert registry_open.cdn.bytes_sent() < top.size + 64 * 1024  # not the three lower layers
    assert session.cache is not None and not session.cache.has(top.digest)


# --------------------------------------------------------------------------- hostile


def _top(image: EstargzImage) -> tuple[Descriptor, bytes]:
    layer = image.layers[-1]
    blob = oci.blob_path(image.layout, layer.digest).read_bytes()
    desc = Descriptor.from_dict(
        {
            "mediaType": LAYER_GZIP,
            "digest": layer.digest,
            "size": layer.size,
            "annotations": dict(layer.annotations),
        }
    )
    return desc, blob


def test_a_toc_that_is_not_the_annotated_one_is_refused(estargz_image: EstargzImage) -> None:
    """The TOC's sha256 must be the descriptor's toc.digest: a swapped annotation (or TOC) is
    a DigestMismatchError naming both."""
    desc, blob = _top(estargz_image)
    offset = toc.estargz_toc_offset(blob[-toc.ESTARGZ_FOOTER :], len(blob), "top")
    member = blob[offset : len(blob) - toc.ESTARGZ_FOOTER]
    index = toc.estargz_index(desc, member, offset, estargz_image.layers[-1].toc_digest)
    assert index.kind == "toc"
    wrong = "sha256:" + "0" * 64
    with pytest.raises(DigestMismatchError, match="0000000000"):
        toc.estargz_index(desc, member, offset, wrong)


def _footer(offset_text: bytes) -> bytes:
    extra = b"SG" + (22).to_bytes(2, "little") + offset_text + b"STARGZ"
    head = b"\x1f\x8b\x08\x04" + bytes(4) + b"\x00\xff" + len(extra).to_bytes(2, "little")
    return head + extra + b"\x01\x00\x00\xff\xff" + bytes(8)


@pytest.mark.parametrize(
    ("footer", "match"),
    [
        pytest.param(_footer(b"%016x" % 100)[:-1], "not an eStargz footer", id="one-byte-short"),
        pytest.param(b"\x00" * 51, "not an eStargz footer", id="not-gzip"),
        pytest.param(_footer(b"00000000000000zz"), "not hex", id="offset-not-hex"),
        pytest.param(_footer(b"%016x" % 10_000), "past the blob", id="offset-past-the-end"),
        pytest.param(
            _footer(b"%016x" % 100).replace(b"SG", b"SX"), "not an eStargz footer", id="legacy-id"
        ),
    ],
)
def test_a_footer_that_lies_is_an_archive_error(footer: bytes, match: str) -> None:
    """The footer is parsed strictly: wrong length, magic, subfield id, digits or offset."""
    with pytest.raises(ArchiveError, match=match):
        toc.estargz_toc_offset(footer, 1000, "layer x")


def test_a_well_formed_footer_gives_its_offset() -> None:
    """The 51 bytes of docs/estargz.md "Footer" give the TOC offset they hold."""
    assert toc.estargz_toc_offset(_footer(b"%016x" % 123), 1000, "layer x") == 123


def _toc_member(entries: list[dict[str, object]]) -> tuple[bytes, str]:
    body = json.dumps({"version": 1, "entries": entries}).encode()
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo("stargz.index.json")
        info.size = len(body)
        archive.addfile(info, io.BytesIO(body))
    return gzip.compress(tar.getvalue()), "sha256:" + hashlib.sha256(body).hexdigest()


def _desc(size: int) -> Descriptor:
    return Descriptor.from_dict(
        {"mediaType": LAYER_GZIP, "digest": "sha256:" + "a" * 64, "size": size}
    )


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        pytest.param(
            [
                {"name": "f", "type": "reg", "size": 10, "offset": 10, "digest": ONES},
                {"name": "f", "type": "chunk", "offset": 20, "chunkOffset": 12},
            ],
            "do not rise from 0",
            id="chunk-past-the-file",
        ),
        pytest.param(
            [{"name": "f", "type": "reg", "size": 10, "offset": 900, "digest": ONES}],
            "not before the TOC",
            id="payload-after-the-toc",
        ),
        pytest.param(
            [{"name": "f", "type": "reg", "size": 10, "offset": 10}],
            "no sha256 digest",
            id="file-without-digest",
        ),
        pytest.param(
            [{"name": "f", "type": "chunk", "offset": 10, "chunkOffset": 0}],
            "follows no regular file",
            id="orphan-chunk",
        ),
        pytest.param([{"name": "f", "type": "socket"}], "unknown type", id="unknown-type"),
    ],
)
def test_a_toc_whose_entries_do_not_add_up_is_an_archive_error(
    entries: list[dict[str, object]], match: str
) -> None:
    """Entries are checked before any byte is read by them: chunk offsets, payload offsets,
    digests and types."""
    member, digest = _toc_member(entries)
    with pytest.raises(ArchiveError, match=match):
        toc.estargz_index(_desc(1000), member, 500, digest)


def test_a_toc_member_that_is_not_the_index_is_an_archive_error() -> None:
    """The TOC member must hold stargz.index.json first; another file is refused."""
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo("etc/passwd")
        archive.addfile(info, io.BytesIO(b""))
    with pytest.raises(ArchiveError, match="not stargz.index.json"):
        toc.estargz_index(_desc(1000), gzip.compress(tar.getvalue()), 500, "sha256:" + "0" * 64)


def test_without_the_annotation_the_layer_is_read_like_any_gzip_layer() -> None:
    """No toc.digest (or not a sha256): the TOC cannot be checked, so it is not used."""
    assert toc.estargz_toc_digest(_desc(1000)) is None
    bad = Descriptor.from_dict(
        {
            "mediaType": LAYER_GZIP,
            "digest": "sha256:" + "a" * 64,
            "size": 1000,
            "annotations": {toc.ESTARGZ_TOC_DIGEST: "md5:abc"},
        }
    )
    assert toc.estargz_toc_digest(bad) is None


def test_the_layers_table_names_each_layers_table_of_contents(
    estargz_image: EstargzImage, real_images: RealImages, tmp_path: Path
) -> None:
    """layers() shows which format's TOC a layer carries: estargz after ctr-remote's
    conversion, nothing for the same image before it, zstd:chunked for skopeo's."""
    session = rig.rig_session(tmp_path / "cache")
    assert oi.layers(estargz_image.ref, session=session)["toc"].tolist() == ["estargz"] * 4
    assert oi.layers(estargz_image.gzip_ref, session=session)["toc"].isna().all()
    chunked = real_images.many_files().variant("zstd:chunked")
    assert oi.layers(chunked.ref, session=session)["toc"].tolist() == ["zstd:chunked"]
