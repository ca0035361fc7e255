"""packages() and os_release() on an image whose packages Debian's real rpm 4.18 installed.

The ``rpm_image`` fixture (tests/realimages/rpm.py): rpmbuild of tests/data/packages/rpm/SPECS,
``rpm --initdb`` (SQLite) and a real ``rpm -i`` in two umoci layers, the database at
``/usr/lib/sysimage/rpm/rpmdb.sqlite`` with ``/var/lib/rpm`` a symlink to it, as current Fedora
has it. Expected answers are what rpm itself printed (``rpm -qa --qf``, its FILEDIGESTS) when
the image was built. Tag ``rpm-bdb`` keeps only a Berkeley DB ``Packages``: a typed error.
"""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import rig
from realimages import RpmImage, build_rpm
from realimages import layout as oci
from realimages.facts import layer_members
from rig.env import child_env

import ociinspect as oi
from ociinspect.errors import ImagePathNotFoundError
from ociinspect.packages import UnreadableDatabaseError, parse_rpmdb


@pytest.fixture
def session(tmp_path: Path) -> oi.Session:
    """A session with an empty disk cache of its own."""
    return rig.rig_session(tmp_path / "cache")


def rpm_line(name: str, version: str, arch: object, source: object, license_: object) -> str:
    """A table row as make-rpmdb.sh's query format prints it (rpm says ``(none)`` for no tag)."""

    def text(value: object, missing: str) -> str:
        return missing if value is None or value is pd.NA or value == "" else str(value)

    fields = [name, version, text(arch, "(none)"), text(source, "(none)"), text(license_, "")]
    return "\t".join(fields) + "\n"


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m ociinspect ARGS`` with a throw-away HOME and cache."""
    env = child_env(tmp_path / "home")
    env["OCIINSPECT_CACHE_DIR"] = str(tmp_path / "cli-cache")
    env.pop("OCIINSPECT_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "ociinspect", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


# --------------------------------------------------------------------------- the SQLite image


def test_packages_are_what_rpm_qa_printed(rpm_image: RpmImage, session) -> None:
    """One row per installed package, manager rpm, equal to rpm -qa's lines at build time
    (name, epoch:version-release, arch, source rpm, licence)."""
    table = oi.packages(rpm_image.ref, session=session)
    assert len(table) == len(rpm_image.packages) == 3
    assert set(table["manager"]) == {"rpm"}
    lines = sorted(
        rpm_line(*row)
        for row in zip(
            table["name"], table["version"], table["architecture"], table["source"],
            table["license"], strict=True,
        )
    )  # fmt: skip
    assert "".join(lines) == rpm_image.rpm_qa
    hello = table[table["name"] == "hello-tiny"].iloc[0]
    assert hello["version"] == "2:1.2.3-4.fc40" and hello["architecture"] == "noarch"
    assert hello["source"] == "hello-tiny-1.2.3-4.fc40.src.rpm"
    assert table["status"].isna().all()


def test_each_package_has_the_layer_that_installed_it(rpm_image: RpmImage, session) -> None:
    """hello-tiny and libdemo come from layer 0, libdemo-devel from layer 1 (whose rewritten
    rpmdb.sqlite still lists the other two at the same version), with that layer's digest."""
    table = oi.packages(rpm_image.ref, session=session)
    got = dict(zip(table["name"], table["layer"], strict=True))
    expected = {"hello-tiny": 0, "libdemo": 0, "libdemo-devel": 1}
    assert got == dict(rpm_image.installed_in) == expected
    digests = dict(zip(table["name"], table["layer_digest"], strict=True))
    assert digests == {name: rpm_image.layers[layer].digest for name, layer in got.items()}


def test_the_first_layer_alone_lists_its_two_packages(rpm_image: RpmImage, session) -> None:
    """The rpm-layer0 tag's database has only what layer 0 installed."""
    table = oi.packages(f"oci:{rpm_image.layout}:{rpm_image.layer_tags[0]}", session=session)
    assert sorted(table["name"]) == ["hello-tiny", "libdemo"]
    assert set(table["layer"]) == {0}


def test_the_database_is_read_where_fedora_keeps_it(rpm_image: RpmImage, session) -> None:
    """The table names /usr/lib/sysimage/rpm/rpmdb.sqlite; /var/lib/rpm is Fedora's relative
    symlink to that directory, and both paths read the bytes umoci unpacked."""
    table = oi.packages(rpm_image.ref, session=session)
    assert set(table["database"]) == {rpm_image.rpmdb} == {"/usr/lib/sysimage/rpm/rpmdb.sqlite"}
    assert rpm_image.tree.symlink_target("/var/lib/rpm") == "../../usr/lib/sysimage/rpm"
    direct = oi.read_file(rpm_image.ref, rpm_image.rpmdb, session=session)
    through_link = oi.read_file(rpm_image.ref, "/var/lib/rpm/rpmdb.sqlite", session=session)
    assert direct == through_link == (rpm_image.rootfs / rpm_image.rpmdb.lstrip("/")).read_bytes()
    assert sorted(p.name for p in parse_rpmdb(direct)) == sorted(table["name"])


def test_packaged_files_match_the_digests_rpm_recorded(rpm_image: RpmImage, session) -> None:
    """rpm -i put every packaged file in the image: each reads back with the sha256 that the
    package's header records for it (FILEDIGESTS)."""
    assert {name for name, _, _ in rpm_image.files} == {row[0] for row in rpm_image.packages}
    for _, path, digest in rpm_image.files:
        data = oi.read_file(rpm_image.ref, path, session=session)
        assert hashlib.sha256(data).hexdigest() == digest, path


def test_os_release_says_fedora_42(rpm_image: RpmImage, session) -> None:
    """/etc/os-release (Fedora's symlink to ../usr/lib/os-release) gives Fedora 42, from
    layer 0."""
    assert rpm_image.tree.symlink_target("/etc/os-release") == "../usr/lib/os-release"
    row = oi.os_release(rpm_image.ref, session=session).iloc[0]
    assert (row["id"], row["version_id"]) == ("fedora", "42")
    assert row["pretty_name"] == rpm_image.os_release_value("PRETTY_NAME")
    assert row["pretty_name"] == "Fedora Linux 42 (Container Image)"
    assert row["path"] == "/etc/os-release" and row["layer"] == 0


def test_layers_hold_what_the_builder_says(rpm_image: RpmImage) -> None:
    """Layer 0's tar holds the database, both symlinks and two packages' files; layer 1's holds
    libdemo-devel's file and a whole new rpmdb.sqlite, nothing else that is not a directory."""
    for facts in rpm_image.layers:
        members = {
            "/" + m.name.removeprefix("./"): m
            for m in layer_members(rpm_image.layout, facts.digest, facts.media_type)
        }
        for change in facts.changes:
            assert change.path in members, (facts.index, change.path)
        if facts.index == 1:
            not_dirs = sorted(path for path, m in members.items() if not m.isdir())
            assert not_dirs == ["/usr/include/demo.h", rpm_image.rpmdb]
    layer0 = layer_members(
        rpm_image.layout, rpm_image.layers[0].digest, rpm_image.layers[0].media_type
    )
    links = {"/" + m.name: m.linkname for m in layer0 if m.issym()}
    assert links == dict([rpm_image.legacy_dbpath, rpm_image.os_release_link])


def test_a_second_build_gives_the_same_digests(rpm_image: RpmImage, tmp_path: Path) -> None:
    """Building again gives byte-identical layers and manifests (rpm honours SOURCE_DATE_EPOCH
    for build and install times; SQLite's -shm file is left out)."""
    again = build_rpm(tmp_path / "again")
    assert [layer.digest for layer in again.layers] == [layer.digest for layer in rpm_image.layers]
    assert again.manifest_digest == rpm_image.manifest_digest
    assert again.bdb_manifest_digest == rpm_image.bdb_manifest_digest
    assert again.rpm_qa == rpm_image.rpm_qa


# --------------------------------------------------------------------------- Berkeley DB


def test_berkeley_db_image_raises_a_typed_error(rpm_image: RpmImage, session) -> None:
    """An image whose only rpm database is Berkeley DB raises UnreadableDatabaseError naming
    the file, the format and how to convert it; nothing partial is returned."""
    with pytest.raises(UnreadableDatabaseError) as info:
        oi.packages(rpm_image.bdb_ref, session=session)
    assert info.value.backend == "bdb"
    message = str(info.value)
    assert rpm_image.bdb_path in message and "Berkeley DB (hash)" in message
    assert "ociinspect reads only rpm's SQLite database" in message
    assert "rpmdb --rebuilddb" in message


def test_berkeley_db_image_has_the_files_but_no_sqlite(rpm_image: RpmImage, session) -> None:
    """The rpm-bdb image holds the installed files and Packages (the committed BDB file), and
    no rpmdb.sqlite at either SQLite path."""
    for _, path, digest in rpm_image.files:
        data = oi.read_file(rpm_image.bdb_ref, path, session=session)
        assert hashlib.sha256(data).hexdigest() == digest
    packages = oi.read_file(rpm_image.bdb_ref, rpm_image.bdb_path, session=session)
    committed = Path(__file__).parent / "data" / "packages" / "rpm" / "Packages"
    assert packages == committed.read_bytes()
    for path in (rpm_image.rpmdb, "/var/lib/rpm/rpmdb.sqlite"):
        with pytest.raises(ImagePathNotFoundError):
            oi.read_file(rpm_image.bdb_ref, path, session=session)
    manifest = oci.manifest(rpm_image.layout, rpm_image.bdb_tag).value
    assert [layer["digest"] for layer in manifest["layers"]] == [rpm_image.bdb_layer_digest]


# --------------------------------------------------------------------------- the CLI


def test_cli_prints_the_package_table(rpm_image: RpmImage, tmp_path: Path) -> None:
    """`ociinspect packages oci:DIR:rpm` prints a header and one line per package (name,
    version, arch, layer); `-f csv` gives the same rows as rpm -qa."""
    done = cli(tmp_path, "packages", rpm_image.ref)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["manager", "name", "version", "architecture"]
    assert len(lines) == 1 + len(rpm_image.packages)
    layers = dict(rpm_image.installed_in)
    for line, (name, version, arch, source, _) in zip(lines[1:], rpm_image.packages, strict=True):
        fields = line.split()
        assert fields[:5] == ["rpm", name, version, arch, source]
        assert rpm_image.layers[layers[name]].digest[:19] in line
    done = cli(tmp_path, "packages", rpm_image.ref, "-f", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    got = "".join(
        sorted(
            rpm_line(r["name"], r["version"], r["architecture"], r["source"], r["license"])
            for r in rows
        )
    )
    assert got == rpm_image.rpm_qa
    assert {r["name"]: int(r["layer"]) for r in rows} == layers


def test_cli_on_berkeley_db_is_one_error_line(rpm_image: RpmImage, tmp_path: Path) -> None:
    """`ociinspect packages oci:DIR:rpm-bdb` exits 1 with one line naming the file and the
    format, no traceback and nothing on stdout."""
    done = cli(tmp_path, "packages", rpm_image.bdb_ref)
    assert done.returncode == 1
    assert done.stdout == "" and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("ociinspect: error: ")
    assert rpm_image.bdb_path in line and "Berkeley DB" in line
