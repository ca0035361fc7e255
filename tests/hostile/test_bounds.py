"""Memory and work are bounded by the input's size, not by what a server or an image claims.

Configs and manifests read into memory have a cap checked against the descriptor before the
first byte and enforced while reading, on the registry, layout and archive sources alike; in-
memory blob reads have a default cap; size estimates stop at a bound and the table says so; a
gzip stream of a million empty members, three layers of many distinct paths and sizes near
2**63 each end in a typed error or a documented answer, in bounded time and memory.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from kit import make_client, make_session
from servers import FakeRegistry, Reply, Request

import ociinspect as oi
from ociinspect import registry as seed_registry
from ociinspect.errors import (
    ArchiveError,
    InvalidDocumentError,
    SizeLimitError,
    SizeMismatchError,
)
from ociinspect.layers.contents import Limits, iter_entries
from ociinspect.layers.sizes import MAX_ESTIMATES
from ociinspect.session import set_default_session
from ociinspect.testing import build
from ociinspect.testing.build import json_blob
from ociinspect.values import mediatypes as mt
from ociinspect.values.digest import Digest

CAP = 64 * 1024
BIG_LABEL = {"padding": "x" * (200 * 1024)}  # a config of about 200 KiB


def _image(**config: Any) -> build.BuiltImage:
    layer = build.layer([build.file("etc/hello", b"hello\n")])
    return build.image([layer], **config)


def _serve(registry: FakeRegistry, image: build.BuiltImage) -> None:
    registry.add_manifest(image.manifest.data, image.media_type)
    for blob in (image.config, *image.layers):
        registry.add_blob(blob.data)


def _with_manifest(image: build.BuiltImage, change: dict[str, Any]) -> build.Blob:
    body = json.loads(image.manifest.data)
    body.update(change)
    return json_blob(body, mt.OCI_MANIFEST)


def _layout(tmp_path: Path, image: build.BuiltImage, manifest: build.Blob | None = None) -> Path:
    """An OCI layout of ``image`` (its manifest replaced by ``manifest`` when given)."""
    out = build.write_layout(tmp_path / "layout", image)
    if manifest is not None:
        (out / "blobs" / "sha256" / manifest.digest.split(":")[1]).write_bytes(manifest.data)
        entry = {"mediaType": mt.OCI_MANIFEST, "digest": manifest.digest,
                 "size": len(manifest.data), "annotations": {build.REF_NAME: "latest"}}
        index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [entry]}
        (out / "index.json").write_text(json.dumps(index))
    return out


def _archive(layout: Path) -> Path:
    target = layout.parent / "image.tar"
    with tarfile.open(target, "w") as tar:
        for path in sorted(layout.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(layout)), recursive=False)
    return target


# -- configs and manifests -----------------------------------------------------------------


def test_a_config_over_the_cap_is_refused_before_its_first_byte(fake: FakeRegistry) -> None:
    """A 200 KiB config under max_config_size=64 KiB: SizeLimitError from the descriptor alone;
    the registry is never asked for the config."""
    image = _image(labels=BIG_LABEL)
    _serve(fake, image)
    fake.add_manifest(image.manifest.data, image.media_type, tag="big")
    session = make_session(max_config_size=CAP)
    with pytest.raises(SizeLimitError) as err:
        oi.config(fake.ref("big"), session=session)
    assert "by its descriptor" in str(err.value) and err.value.limit == CAP
    assert fake.requests(f"/v2/{fake.repository}/blobs/") == []


def test_a_default_session_refuses_a_512_mib_config_unasked(fake: FakeRegistry) -> None:
    """A manifest naming a 512 MiB config: refused under the default cap (a few MiB), with no
    request for it; platforms() shows the refusal in the row instead of holding 1.6 GiB."""
    image = _image()
    huge = dict(json.loads(image.manifest.data)["config"], size=512 * 1024 * 1024)
    manifest = _with_manifest(image, {"config": huge})
    fake.add_manifest(manifest.data, mt.OCI_MANIFEST, tag="huge")
    session = make_session()
    with pytest.raises(SizeLimitError):
        oi.config(fake.ref("huge"), session=session)
    table = oi.platforms(fake.ref("huge"), session=session)
    assert "SizeLimitError" in str(table["error"][0]) or "over the limit" in str(table["error"][0])
    assert fake.requests(f"/v2/{fake.repository}/blobs/") == []


def test_a_config_larger_than_its_descriptor_stops_while_read(fake: FakeRegistry) -> None:
    """A registry sending 200 KiB for a config whose descriptor says 1 KiB: the read stops at
    the descriptor's size (SizeMismatchError), not at the end of the body."""
    image = _image(labels=BIG_LABEL)
    small = dict(json.loads(image.manifest.data)["config"], size=1024)
    manifest = _with_manifest(image, {"config": small})
    fake.add_manifest(manifest.data, mt.OCI_MANIFEST, tag="liar")
    fake.add_blob(image.config.data)

    def no_length(request: Request, reply: Reply) -> Reply:
        reply.length = False  # no Content-Length: only the read itself can stop it
        return reply

    fake.tweak = no_length  # type: ignore[assignment]
    with pytest.raises((SizeMismatchError, SizeLimitError)):
        oi.config(fake.ref("liar"), session=make_session(max_config_size=CAP))


@pytest.mark.parametrize("kind", ["oci", "oci-archive"])
def test_local_sources_apply_the_config_cap_too(tmp_path: Path, kind: str) -> None:
    """Layouts and archives refuse the 200 KiB config by its descriptor, and a descriptor that
    understates it by the file's size, before reading it."""
    image = _image(labels=BIG_LABEL)
    layout = _layout(tmp_path, image)
    ref = f"oci:{layout}:latest" if kind == "oci" else f"oci-archive:{_archive(layout)}:latest"
    with pytest.raises(SizeLimitError):
        oi.config(ref, session=make_session(max_config_size=CAP))
    small = dict(json.loads(image.manifest.data)["config"], size=1024)
    liar = _layout(tmp_path / "liar", image, _with_manifest(image, {"config": small}))
    ref = f"oci:{liar}:latest" if kind == "oci" else f"oci-archive:{_archive(liar)}:latest"
    with pytest.raises(SizeMismatchError):
        oi.config(ref, session=make_session(max_config_size=CAP))


def test_a_manifest_descriptor_over_the_limit_is_refused_unasked(fake: FakeRegistry) -> None:
    """An index entry claiming a 5 MiB manifest is refused by its descriptor; the registry is
    not asked for it."""
    image = _image()
    _serve(fake, image)
    entry = {"mediaType": mt.OCI_MANIFEST, "digest": str(Digest.of(b"not served")),
             "size": 5 * 1024 * 1024, "platform": {"os": "linux", "architecture": "amd64"}}
    index = json_blob({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [entry]},
                      mt.OCI_INDEX)
    fake.add_manifest(index.data, mt.OCI_INDEX, tag="index")
    with pytest.raises(SizeLimitError):
        oi.layers(fake.ref("index"), session=make_session())
    assert fake.requests(f"/v2/{fake.repository}/manifests/sha256:") == []


def test_in_memory_blob_reads_have_a_default_cap(fake: FakeRegistry, tmp_path: Path) -> None:
    """``RegistryClient.get_blob`` and ``ociinspect.registry.blob`` stop at their cap: by a
    descriptor size before any request, by the bytes otherwise."""
    image = _image(labels=BIG_LABEL)
    _serve(fake, image)
    config = image.config
    client = make_client(max_blob_in_memory=CAP)
    with pytest.raises(SizeLimitError):
        client.get_blob(fake.host, fake.repository, config.digest, size=len(config.data))
    assert fake.requests("/v2/") == []
    with pytest.raises(SizeLimitError):
        client.get_blob(fake.host, fake.repository, config.digest)
    previous = set_default_session(make_session())
    try:
        with pytest.raises(SizeLimitError):
            seed_registry.blob(fake.host, fake.repository, config.digest, max_size=CAP)
        assert seed_registry.blob(fake.host, fake.repository, config.digest) == config.data
    finally:
        set_default_session(previous)


# -- size estimates ------------------------------------------------------------------------


def test_size_estimates_stop_at_a_bound_and_the_table_says_so(fake: FakeRegistry) -> None:
    """A manifest of 25,000 layers: layers() makes at most MAX_ESTIMATES Range requests (not
    25,000), and its note, repr and CLI footer say sizes were estimated for some layers only."""
    image = _image()
    _serve(fake, image)
    template = json.loads(image.manifest.data)["layers"][0]
    layers = [dict(template, digest=str(Digest.of(b"%d" % i)), size=100 + i)
              for i in range(25_000)]
    manifest = _with_manifest(image, {"layers": layers})
    fake.add_manifest(manifest.data, mt.OCI_MANIFEST, tag="tall")
    start = time.monotonic()
    table = oi.layers(fake.ref("tall"), session=make_session())
    assert time.monotonic() - start < 60
    assert len(table) == 25_000
    ranged = fake.requests(f"/v2/{fake.repository}/blobs/sha256:")
    assert 0 < len(ranged) <= MAX_ESTIMATES + 1  # the config, then at most the bound
    note = table.attrs["note"]
    assert f"first {MAX_ESTIMATES} of 25,000" in note and note in repr(table)


# -- work and memory -----------------------------------------------------------------------


def test_a_million_empty_gzip_members_end_fast_in_an_archive_error() -> None:
    """A gzip layer followed by 1,000,000 empty members (20 MB) is refused in bounded time
    and memory (it once cost hours of copying)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("a")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    blob = gzip.compress(buf.getvalue(), mtime=0) + gzip.compress(b"", mtime=0) * 1_000_000
    chunks = [blob[i : i + (1 << 20)] for i in range(0, len(blob), 1 << 20)]
    outcome: list[BaseException | int] = []

    def run() -> None:
        try:
            outcome.append(len(list(iter_entries(iter(chunks), "gzip", what="layer x"))))
        except BaseException as exc:  # noqa: BLE001 - the outcome is the assertion
            outcome.append(exc)

    tracemalloc.start()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert outcome, "still inflating after 10 s"
    assert isinstance(outcome[0], ArchiveError) and "hold nothing" in str(outcome[0])
    assert peak < 64 * 1024 * 1024


def test_three_layers_of_distinct_paths_end_at_the_merged_bound(tmp_path: Path) -> None:
    """filesystem() over 3 layers of 300 distinct files each, under Limits(max_entries=500)
    (each layer passes, their union would not): ArchiveError saying how to go on."""
    layers = [build.layer([build.file(f"l{n}/f{i}", b"x") for i in range(300)])
              for n in range(3)]
    image = build.image(layers)
    ref = f"oci:{build.write_layout(tmp_path / 'wide', image)}:latest"
    session = make_session()
    with pytest.raises(ArchiveError) as err:
        oi.filesystem(ref, limits=Limits(max_entries=500), session=session)
    assert "max_entries" in str(err.value) and "files(ref, layer)" in str(err.value)
    assert len(oi.filesystem(ref, session=session)) >= 900  # control: the default bound


def test_sizes_near_2_to_the_63_never_crash_a_table(tmp_path: Path) -> None:
    """Two layers of 2**62 bytes add up past int64: the manifest is an invalid document for
    every table; an eStargz annotation of 10**30 bytes is an unknown size, not an overflow."""
    image = _image()
    template = json.loads(image.manifest.data)["layers"][0]
    wide = _with_manifest(image, {"layers": [dict(template, size=2**62)] * 2})
    ref = f"oci:{_layout(tmp_path / 'wide', image, wide)}:latest"
    session = make_session()
    for table in (oi.platforms, oi.layers, oi.config, oi.history):
        with pytest.raises(InvalidDocumentError) as err:
            table(ref, session=session)
        assert "int64" in str(err.value)
    annotated = dict(template, annotations={"io.containers.estargz.uncompressed-size": "1" * 31})
    odd = _with_manifest(image, {"layers": [annotated]})
    ref = f"oci:{_layout(tmp_path / 'odd', image, odd)}:latest"
    layers = oi.layers(ref, sizes="none", session=session)
    assert layers["uncompressed_size"].isna().all()
    assert len(layers) == 1 and "[1 rows x" in repr(layers)
