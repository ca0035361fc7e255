"""read_file, open_file, os_release and packages on images made by real tools (umoci, skopeo,
dpkg-deb), checked against ``umoci unpack`` and ``dpkg-query``; typed errors; the seekable index."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
import rig
from realimages import DebianImage, RealImages, tampered
from realimages.debian import ABSOLUTE_SYMLINK, OPAQUE_NEW_FILE, RELATIVE_SYMLINK, SYMLINK_LOOP
from realimages.many_files import expected_content, file_path, link_path

import ociinspect as oi
from ociinspect import cli
from ociinspect.errors import (
    DiffIdMismatchError,
    ImagePathNotFoundError,
    NotAFileError,
    SizeLimitError,
    SymlinkLoopError,
)
from ociinspect.layers.reader import ImageReader
from ociinspect.testing import build
from ociinspect.testing import build_layers as bl


@pytest.fixture
def session(tmp_path: Path) -> oi.Session:
    """A session with an empty disk cache of its own."""
    return rig.rig_session(tmp_path / "cache")


def reader_for(ref: str, session: oi.Session) -> ImageReader:
    return ImageReader(oi.image(ref, session=session))


def chroot_resolve(root: Path, path: str, hops: int = 0) -> Path | None:
    """Where ``path`` leads inside the unpacked tree, following symlinks as chroot would."""
    parts = [p for p in path.split("/") if p and p != "."]
    current: list[str] = []
    while parts:
        part = parts.pop(0)
        if part == "..":
            if current:
                current.pop()
            continue
        here = root.joinpath(*current, part)
        if here.is_symlink():
            hops += 1
            if hops > 40:
                return None
            target = os.readlink(here)
            if target.startswith("/"):
                current = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        if not here.exists() and not here.is_symlink():
            return None
        current.append(part)
    return root.joinpath(*current)


def test_every_regular_file_equals_umoci_unpack(debian_image: DebianImage, session) -> None:
    """Every regular file of the unpacked tree (hardlinks, the deleted data name, the opaque
    directory's new file) reads back with the same sha256."""
    reader = reader_for(debian_image.ref, session)
    wrong = [
        fact.path
        for fact in debian_image.tree.files
        if hashlib.sha256(reader.read(fact.path)).hexdigest() != fact.sha256
    ]
    assert len(debian_image.tree.files) > 1000
    assert wrong == []
    assert reader.passes == len(debian_image.layers)  # each layer streamed once, no more


def test_every_symlink_reads_like_the_unpacked_tree(debian_image: DebianImage, session) -> None:
    """Each symlink that leads to a regular file inside the root reads as that file."""
    reader = reader_for(debian_image.ref, session)
    checked = 0
    for link, _target in debian_image.tree.symlinks:
        where = chroot_resolve(debian_image.rootfs, link)
        if where is None or not where.is_file() or where.is_symlink():
            continue
        assert reader.read(link) == where.read_bytes(), link
        checked += 1
    assert checked >= 2
    absolute, _ = ABSOLUTE_SYMLINK
    relative, _ = RELATIVE_SYMLINK
    perl = debian_image.tree.file(debian_image.surviving_link_name)
    assert hashlib.sha256(reader.read(absolute)).hexdigest() == perl.sha256
    assert reader.read(relative) == chroot_resolve(debian_image.rootfs, relative).read_bytes()


def test_a_link_never_escapes_the_root(tmp_path: Path, session) -> None:
    """``..`` past the root stays at the root, and an absolute target starts at the image's root."""
    layer = bl.layer(
        [
            bl.file("etc/secret", "inside\n"),
            bl.symlink("up", "../../../../../etc/secret"),
            bl.symlink("abs", "/etc/secret"),
        ]
    )
    build.write_layout(tmp_path / "img", build.image([layer]), tags=["v1"])
    ref = f"oci:{tmp_path / 'img'}:v1"
    assert oi.read_file(ref, "/up", session=session) == b"inside\n"
    assert oi.read_file(ref, "abs", session=session) == b"inside\n"


def test_hardlink_to_a_name_a_later_layer_deleted(debian_image: DebianImage, session) -> None:
    """perl5.36.0 (a tar hardlink to /usr/bin/perl, which layer 1 deletes) keeps perl's bytes,
    while /usr/bin/perl itself is gone, with the whiteout named."""
    data = oi.read_file(debian_image.ref, debian_image.surviving_link_name, session=session)
    assert hashlib.sha256(data).hexdigest() == debian_image.tree.file(
        debian_image.surviving_link_name
    ).sha256
    with pytest.raises(ImagePathNotFoundError, match="whiteout in layer 1"):
        oi.read_file(debian_image.ref, debian_image.deleted_data_name, session=session)


@pytest.mark.parametrize(
    ("path", "error", "words"),
    [
        ("/usr/share/doc/grep/NEWS.gz", ImagePathNotFoundError, "opaque"),
        (SYMLINK_LOOP[0][0], SymlinkLoopError, "more than 40 symlinks"),
        ("/usr/share/doc", NotAFileError, "is a directory"),
        ("/usr/share/base-files/motd", NotAFileError, "is a directory"),
        ("/no/such/file", ImagePathNotFoundError, "none of the 3 layers"),
        ("/etc/issue/x", ImagePathNotFoundError, "not a directory"),
    ],
    ids=[
        "a file hidden by an opaque directory is missing",
        "a symlink loop ends with a typed error",
        "a directory says it is one",
        "a file turned into a directory is a directory",
        "a missing path says no layer has it",
        "a path below a file says the file is no directory",
    ],
)
def test_what_is_not_a_file_says_what_is_there(
    debian_image: DebianImage, session, path: str, error: type[Exception], words: str
) -> None:
    """Missing paths, directories and loops raise typed errors naming what is there."""
    with pytest.raises(error, match=words) as caught:
        oi.read_file(debian_image.ref, path, session=session)
    assert path in str(caught.value) and debian_image.ref in str(caught.value)


def test_opaque_and_type_changed_paths_read_their_new_files(debian_image, session) -> None:
    """The opaque directory's new file and the file that became a directory's child read."""
    new = oi.read_file(debian_image.ref, OPAQUE_NEW_FILE, session=session)
    assert b".wh..wh..opq" in new
    child = oi.read_file(debian_image.ref, "/usr/share/base-files/motd/README", session=session)
    assert child.startswith(b"/usr/share/base-files/motd was a file")


def test_a_device_and_a_fifo_are_not_files(tmp_path: Path, session) -> None:
    """A character device and a FIFO raise NotAFileError with their kind and numbers."""
    layer = bl.layer([bl.char_device("dev/null", 1, 3), bl.fifo("run/pipe")])
    build.write_layout(tmp_path / "img", build.image([layer]), tags=["v1"])
    ref = f"oci:{tmp_path / 'img'}:v1"
    with pytest.raises(NotAFileError, match="character device 1:3") as caught:
        oi.read_file(ref, "/dev/null", session=session)
    assert caught.value.kind == "char"
    with pytest.raises(NotAFileError, match="FIFO"):
        oi.read_file(ref, "/run/pipe", session=session)


def test_size_limit_refuses_before_any_byte_is_held(debian_image: DebianImage, session) -> None:
    """A file over max_size raises SizeLimitError and nothing of it was captured."""
    bash = debian_image.tree.file("/bin/bash")
    reader = reader_for(debian_image.ref, session)
    with pytest.raises(SizeLimitError) as caught:
        reader.read("/bin/bash", max_size=bash.size - 1)
    assert caught.value.size == bash.size
    assert reader._captured == {}


def test_the_default_size_limit_is_a_setting(debian_image: DebianImage, tmp_path) -> None:
    """Settings.max_read_bytes (OCIINSPECT_MAX_READ_BYTES) bounds read_file by default."""
    small = rig.rig_session(tmp_path / "c", max_read_bytes=100)
    with pytest.raises(SizeLimitError):
        oi.read_file(debian_image.ref, "/bin/bash", session=small)
    assert oi.read_file(debian_image.ref, "/etc/debian_version", session=small)


def test_a_second_read_uses_the_index_in_the_cache(debian_image: DebianImage, tmp_path) -> None:
    """After one read, a new session on the same cache reads another path with no layer pass,
    reading only a span of the local blob."""
    first = reader_for(debian_image.ref, rig.rig_session(tmp_path / "cache"))
    first.read("/etc/os-release")
    again = reader_for(debian_image.ref, rig.rig_session(tmp_path / "cache"))
    data = again.read("/bin/bash")
    assert hashlib.sha256(data).hexdigest() == debian_image.tree.file("/bin/bash").sha256
    assert again.passes == 0
    layer0 = debian_image.layers[0].size
    assert 0 < again.range_bytes < layer0 / 2


def test_open_file_is_a_verified_binary_file(debian_image: DebianImage, session) -> None:
    """open_file returns a readable binary file object with the file's bytes."""
    with oi.open_file(debian_image.ref, "/bin/bash", session=session) as handle:
        assert isinstance(handle, io.IOBase)
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == debian_image.tree.file("/bin/bash").sha256


def test_a_wrong_diff_id_fails_and_leaves_no_index(real_images: RealImages, session) -> None:
    """A layer whose tar is not its config's diff_id raises DiffIdMismatchError; nothing is
    returned and no index is stored for it."""
    broken: tampered.Tampered = real_images.tampered("diff_id")
    with pytest.raises(DiffIdMismatchError) as caught:
        oi.read_file(broken.ref, "/bin/bash", session=session)
    assert caught.value.position == broken.layer
    assert session.cache is not None and session.cache.get_index(broken.layer_digest) is None


def test_a_truncated_layer_fails(real_images: RealImages, session) -> None:
    """A layer blob cut short raises an error, never partial bytes."""
    broken = real_images.tampered("truncated")
    with pytest.raises(oi.errors.OCIInspectError):
        oi.read_file(broken.ref, "/bin/bash", session=session)


def test_packages_equal_dpkg_query(debian_image: DebianImage, session) -> None:
    """packages() lists what dpkg-query -W reads from the unpacked tree, with the source
    package and the layer that installed each."""
    table = oi.packages(debian_image.ref, session=session)
    got = sorted(zip(table["name"], table["version"], table["architecture"], strict=True))
    assert got == sorted(debian_image.packages)
    assert set(table["manager"]) == {"dpkg"}
    bash = table[table["name"] == "bash"].iloc[0]
    assert bash["source"] == "bash" and bash["layer"] == 0
    assert set(table["layer_digest"]) == {debian_image.layers[0].digest}


def test_package_layer_is_where_its_version_first_appears(tmp_path: Path, session) -> None:
    """A package added by a later layer's copy of the status file is attributed to it."""

    def status(*names: str) -> str:
        return "\n".join(
            f"Package: {n}\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n"
            for n in names
        )

    base = bl.layer([bl.file("var/lib/dpkg/status", status("a", "b"))])
    more = bl.layer([bl.file("var/lib/dpkg/status", status("a", "b", "c"))])
    build.write_layout(tmp_path / "img", build.image([base, more]), tags=["v1"])
    table = oi.packages(f"oci:{tmp_path / 'img'}:v1", session=session)
    assert dict(zip(table["name"], table["layer"], strict=True)) == {"a": 0, "b": 0, "c": 1}


def test_python_and_distroless_packages_come_from_their_files(tmp_path: Path, session) -> None:
    """status.d files and dist-info METADATA are read from the merged filesystem; a deleted
    one is not listed."""
    meta = "Metadata-Version: 2.1\nName: {0}\nVersion: 2.0\n\n"
    layers = [
        bl.layer(
            [
                bl.file("var/lib/dpkg/status.d/libc6", "Package: libc6\nVersion: 2.36\n"
                        "Architecture: amd64\n"),
                bl.file("usr/lib/python3/dist-packages/six-1.0.dist-info/METADATA",
                        meta.format("six")),
            ]
        ),
        bl.layer(
            [
                bl.file("usr/local/lib/python3.11/site-packages/req-2.0.dist-info/METADATA",
                        meta.format("req")),
                bl.file("usr/lib/python3/dist-packages/.wh.six-1.0.dist-info"),
            ]
        ),
    ]  # fmt: skip
    build.write_layout(tmp_path / "img", build.image(layers), tags=["v1"])
    table = oi.packages(f"oci:{tmp_path / 'img'}:v1", session=session)
    rows = {(m, n, layer) for m, n, layer in zip(table["manager"], table["name"], table["layer"],
                                                  strict=True)}  # fmt: skip
    assert rows == {("dpkg", "libc6", 0), ("python", "req", 1)}


def test_apk_packages_follow_a_symlinked_database(tmp_path: Path, session) -> None:
    """An apk database reached through a symlinked directory is read, with its layer."""
    installed = "P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\nL:MIT\n\nP:busybox\nV:1.36.1-r5\n" \
        "A:x86_64\no:busybox\nL:GPL-2.0-only\n\n"
    layers = [
        bl.layer([bl.file("usr/lib/apk/db/installed", installed)]),
        bl.layer(
            [bl.symlink("lib/apk", "../usr/lib/apk"), bl.file("etc/os-release", "ID=alpine\n")]
        ),
    ]
    build.write_layout(tmp_path / "img", build.image(layers), tags=["v1"])
    ref = f"oci:{tmp_path / 'img'}:v1"
    table = oi.packages(ref, session=session)
    assert sorted(zip(table["name"], table["version"], table["license"], strict=True)) == [
        ("busybox", "1.36.1-r5", "GPL-2.0-only"), ("musl", "1.2.4-r2", "MIT")
    ]
    assert set(table["layer"]) == {0} and set(table["manager"]) == {"apk"}
    assert oi.os_release(ref, session=session).iloc[0]["id"] == "alpine"


def test_os_release_of_the_fixture(debian_image: DebianImage, session) -> None:
    """os_release follows /etc/os-release (a relative symlink) to the Debian file."""
    row = oi.os_release(debian_image.ref, session=session).iloc[0]
    assert row["id"] == debian_image.os_release_value("ID")
    assert row["version_id"] == debian_image.os_release_value("VERSION_ID")
    assert row["pretty_name"] == debian_image.os_release_value("PRETTY_NAME")


def test_a_scratch_image_has_no_os_and_no_packages(tmp_path: Path, session) -> None:
    """An image without os-release says so, and lists no packages, guessing nothing."""
    layer = bl.layer([bl.file("app", b"\x7fELF")])
    build.write_layout(tmp_path / "img", build.image([layer]), tags=["v1"])
    ref = f"oci:{tmp_path / 'img'}:v1"
    row = oi.os_release(ref, session=session).iloc[0]
    assert row["id"] is pd_na() and "not known" in row["note"]
    assert len(oi.packages(ref, session=session)) == 0


def pd_na() -> object:
    import pandas as pd

    return pd.NA


@pytest.mark.parametrize("variant", ["gzip", "zstd", "v2s2"])
def test_every_compression_reads_the_same_bytes(real_images: RealImages, session, variant) -> None:
    """gzip, zstd and Docker v2s2 variants of the 15,000-file layer give the same bytes, a
    hardlink's included."""
    many = real_images.many_files().variant(variant)
    reader = reader_for(many.ref, session)
    for path in (file_path(3, 4, 5), file_path(29, 9, 49), link_path(7)):
        assert reader.read(path) == expected_content(path)


def test_zstd_chunked_reads_through_its_toc(real_images: RealImages, session) -> None:
    """A zstd:chunked layer is read through its TOC: no pass over the layer, a few frames."""
    many = real_images.many_files().variant("zstd:chunked")
    reader = reader_for(many.ref, session)
    for path in (file_path(0, 1, 2), file_path(17, 3, 40), link_path(3)):
        assert reader.read(path) == expected_content(path)
    assert reader.passes == 0
    assert reader.range_bytes < many.layer_size * 0.35  # the TOC and three frames


def test_docker_archive_reads(real_images: RealImages, session) -> None:
    """A docker-archive (uncompressed layers) reads by offset."""
    many = real_images.many_files()
    ref = f"docker-archive:{many.docker_archive}"
    path = file_path(5, 5, 5)
    assert oi.read_file(ref, path, session=session) == expected_content(path)


def test_cli_cat_os_and_packages(debian_image: DebianImage, capsys, tmp_path, monkeypatch) -> None:
    """`ociinspect cat` prints the bytes, `os` and `packages` the tables; a directory is exit 2."""
    monkeypatch.setenv("OCIINSPECT_CACHE_DIR", str(tmp_path / "cache"))
    out = io.StringIO()
    assert cli.main(["cat", debian_image.ref, "/etc/debian_version"], out) == 0
    assert out.getvalue().encode() == (debian_image.rootfs / "etc/debian_version").read_bytes()
    out = io.StringIO()
    assert cli.main(["os", debian_image.ref], out) == 0
    assert "bookworm" in out.getvalue()
    out = io.StringIO()
    assert cli.main(["packages", debian_image.ref, "-f", "csv"], out) == 0
    assert out.getvalue().count("\ndpkg,") == len(debian_image.packages)
    assert cli.main(["cat", debian_image.ref, "/usr"], io.StringIO()) == 2
    assert "is a directory" in capsys.readouterr().err


def test_layout_blob_is_never_copied_into_the_cache(debian_image: DebianImage, session) -> None:
    """Reading from a layout stores indexes, not blobs, in the cache."""
    oi.read_file(debian_image.ref, "/etc/os-release", session=session)
    assert session.cache is not None and session.cache.stats().entries == 0
    assert session.cache.get_index(debian_image.layers[-1].digest) is not None
