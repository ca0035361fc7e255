"""ociinspect.packages: os-release and the dpkg, apk, rpm and Python package databases.

Real data (tests/data/packages/, sources in its SOURCES.md), each checked against the tool that
owns the format where one runs here: ``sh`` sources every os-release file, ``dpkg-query``
lists this machine's own dpkg status file and distroless-style status.d files cut from real
.deb packages, ``rpm -qa`` listed the committed SQLite rpmdb when it was made
(``rpm/rpmdb.qa.txt``), and :mod:`importlib.metadata` reads the same METADATA files. Then the
hostile inputs: truncated, oversized, garbage, and rpm headers whose offsets and counts lie.
"""

from __future__ import annotations

import importlib.metadata
import sqlite3
import struct
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ociinspect.errors import InvalidDocumentError, SizeLimitError
from ociinspect.packages import (
    DATABASES,
    OS_RELEASE_PATHS,
    OsRelease,
    Package,
    PackageDatabaseError,
    UnreadableDatabaseError,
    apk,
    dpkg,
    is_installed,
    metadata_paths,
    parse_header,
    parse_installed,
    parse_metadata,
    parse_os_release,
    parse_rpmdb,
    parse_status,
    parse_status_d,
    rpm,
    status_d_files,
)
from ociinspect.packages import os_release as os_release_module
from ociinspect.packages import python_dist as python_module

DATA = Path(__file__).parent / "data" / "packages"
STATUS = DATA / "dpkg" / "status"
STATUS_D = DATA / "dpkg" / "status.d"
APK = DATA / "apk" / "installed"
RPMDB = DATA / "rpm" / "rpmdb.sqlite"
PYTHON = DATA / "python"


# --------------------------------------------------------------------------- os-release


def sh_values(path: Path, keys: list[str]) -> list[str]:
    """What POSIX sh (dash) gets for ``keys`` after sourcing ``path``."""
    script = 'f=$1; shift; . "$f" || exit 3; for k do eval "v=\\${$k-}"; printf "%s\\0" "$v"; done'
    out = subprocess.run(
        ["sh", "-c", script, "sh", str(path.resolve()), *keys],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
    ).stdout
    return out.decode("utf-8").split("\0")[:-1]


OS_RELEASE_FILES = [
    # file, id, id_like, version_id, version_codename, pretty_name
    ("debian-12", "debian", (), "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"),
    ("alpine-3.15", "alpine", (), "3.15.4", None, "Alpine Linux v3.15"),
    ("rhel-9.4", "rhel", ("fedora",), "9.4", None, "Red Hat Enterprise Linux 9.4 (Plow)"),
    ("fedora-42", "fedora", (), "42", None, "Fedora Linux 42 (Container Image)"),
    ("opensuse-leap-15.2.1", "opensuse-leap", ("suse", "opensuse"), "15.2.1", None,
     "openSUSE Leap 15.2.1 Beta"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("file", "id_", "id_like", "version_id", "codename", "pretty"),
    OS_RELEASE_FILES,
    ids=[f"{c[0]} reads like sh sources it" for c in OS_RELEASE_FILES],
)
def test_real_os_release_files_match_sh(
    file: str,
    id_: str,
    id_like: tuple[str, ...],
    version_id: str,
    codename: str | None,
    pretty: str,
) -> None:
    """Every key of a real os-release file has the value sh gives it; typed fields follow."""
    path = DATA / "os-release" / file
    release = parse_os_release(path.read_bytes(), where=f"/etc/os-release ({file})")
    keys = sorted(release.fields)
    assert len(keys) >= 5
    assert [release.fields[k] for k in keys] == sh_values(path, keys)
    assert (release.id, release.id_like, release.version_id) == (id_, id_like, version_id)
    assert (release.version_codename, release.pretty_name) == (codename, pretty)


QUOTING_CASES = [
    # text, value of A, id
    ('A="a b"\n', "a b", "double quotes keep spaces"),
    ("A='a \"b\" \\\\ $x'\n", 'a "b" \\\\ $x', "single quotes are literal"),
    ('A="x \\$y \\"q\\" \\\\ \\`t\\`"\n', 'x $y "q" \\ `t`', "escapes inside double quotes"),
    ('A="keep \\n backslash"\n', "keep \\n backslash", "other backslashes stay in double quotes"),
    ("A=plain\\ escaped\n", "plain escaped", "a backslash escapes a space outside quotes"),
    ('A="two\nlines"\n', "two\nlines", "a quoted value may span lines"),
    ('A="joined \\\nline"\n', "joined line", "backslash-newline joins lines"),
    ("A=\"a\"'b'c\n", "abc", "concatenated pieces are joined"),
    ("# comment\n\n   # indented comment\nA=1\n", "1", "comments and blank lines are skipped"),
    ("A=1 # trailing comment\n", "1", "a comment after a value is skipped"),
    ("A=1\nA=2\n", "2", "the last assignment wins"),
    ("A=\n", "", "an empty value"),
    ("A=a#b\n", "a#b", "a hash inside a word is literal"),
    ("   A=1\n", "1", "leading blanks before a key"),
    ('A="é ü"\n', "é ü", "UTF-8 values"),
    ("A=1", "1", "no final newline"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "value"), [c[:2] for c in QUOTING_CASES], ids=[c[2] for c in QUOTING_CASES]
)
def test_os_release_quoting_matches_sh(tmp_path: Path, text: str, value: str) -> None:
    """Quoting, escapes and comments give the value POSIX sh gives."""
    path = tmp_path / "os-release"
    path.write_text(text, encoding="utf-8")
    assert parse_os_release(text.encode()).fields["A"] == value
    assert sh_values(path, ["A"]) == [value]


def test_os_release_ignores_carriage_returns() -> None:
    """A file with CRLF line ends reads as with LF (sh would keep the CR in the value)."""
    release = parse_os_release(b'ID=alpine\r\nVERSION_ID="3.20"\r\n')
    assert (release.id, release.version_id) == ("alpine", "3.20")


def test_os_release_defaults_from_the_spec() -> None:
    """An empty file gives os-release(5)'s defaults, and no fields."""
    release = parse_os_release(b"# nothing here\n")
    assert (release.id, release.name, release.pretty_name) == ("linux", "Linux", "Linux")
    assert (release.version_id, release.version_codename, release.id_like) == (None, None, ())
    assert dict(release.fields) == {}


def test_os_release_paths_in_lookup_order() -> None:
    """/etc/os-release is tried before /usr/lib/os-release (os-release(5))."""
    assert OS_RELEASE_PATHS == ("/etc/os-release", "/usr/lib/os-release")


OS_RELEASE_ERRORS = [
    (b'A="unterminated\n', "line 1: unterminated double quote", "an unterminated double quote"),
    (b"B=1\nA='unterminated\n", "line 2: unterminated single quote", "an open single quote"),
    (b"ID=foo bar\n", "unquoted whitespace", "unquoted whitespace inside a value"),
    (b"just text\n", "line 1: not KEY=VALUE", "a line that is no assignment"),
    (b"1A=x\n", "not KEY=VALUE", "a key starting with a digit"),
    (b"A =x\n", "not KEY=VALUE", "a blank before the equals sign"),
    (b"export A=1\n", "not KEY=VALUE", "shell commands"),
    (b"A=x\\", "backslash at end of file", "a backslash at the end of the file"),
    (b"ID=x\x00\n", "NUL byte", "a NUL byte"),
    (bytes(range(256)), "", "binary garbage"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "fragment"), [c[:2] for c in OS_RELEASE_ERRORS], ids=[c[2] for c in OS_RELEASE_ERRORS]
)
def test_os_release_rejects(data: bytes, fragment: str) -> None:
    """Input that is not an os-release file raises one typed error naming the file and line."""
    with pytest.raises(PackageDatabaseError, match="os-release /etc/os-release") as info:
        parse_os_release(data)
    assert fragment in str(info.value)
    assert isinstance(info.value, InvalidDocumentError) and isinstance(info.value, ValueError)


def test_os_release_size_limit() -> None:
    """An os-release file over the limit is refused before parsing."""
    data = b"A=" + b"x" * os_release_module.MAX_OS_RELEASE_BYTES
    with pytest.raises(SizeLimitError, match="over the limit"):
        parse_os_release(data)


# --------------------------------------------------------------------------- dpkg


def dpkg_query(status_text: bytes, tmp_path: Path, fields: str) -> list[tuple[str, ...]]:
    """``dpkg-query -W`` over a status file, one tuple of tab-separated fields per package."""
    admindir = tmp_path / "admindir"
    admindir.mkdir(exist_ok=True)
    (admindir / "status").write_bytes(status_text)
    (admindir / "updates").mkdir(exist_ok=True)
    out = subprocess.run(
        ["dpkg-query", f"--admindir={admindir}", "-W", "-f", fields + "\n"],
        capture_output=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
    ).stdout.decode("utf-8")
    return sorted(tuple(line.split("\t")) for line in out.splitlines())


def test_real_status_matches_dpkg_query(tmp_path: Path) -> None:
    """This machine's status file: name, version, architecture exactly as dpkg-query lists."""
    data = STATUS.read_bytes()
    packages = parse_status(data)
    ours = sorted((p.name, p.version, p.architecture or "") for p in packages)
    assert len(ours) > 500
    assert ours == dpkg_query(data, tmp_path, "${Package}\t${Version}\t${Architecture}")


def test_real_status_source_and_status_match_dpkg_query(tmp_path: Path) -> None:
    """Source name and version (with or without "(version)") and Status match dpkg-query."""
    data = STATUS.read_bytes()
    ours = sorted(
        (p.name, p.source or "", p.extra["source_version"], p.extra["status"])
        for p in parse_status(data)
    )
    fields = "${Package}\t${source:Package}\t${source:Version}\t${Status}"
    assert ours == dpkg_query(data, tmp_path, fields)
    assert any(name != source for name, source, _, _ in ours)
    assert any(p.extra["source_version"] != p.version for p in parse_status(data))


def removed_some(data: bytes) -> bytes:
    """The real status file with packages 3, 7, ... removed (config files left) or purged."""
    paragraphs = data.decode("utf-8").rstrip("\n").split("\n\n")
    for number in range(3, len(paragraphs), 40):
        paragraphs[number] = paragraphs[number].replace(
            "Status: install ok installed", "Status: deinstall ok config-files"
        )
    for number in range(5, len(paragraphs), 97):
        lines = paragraphs[number].split("\n")
        keep = [
            line for line in lines if line.split(":")[0] in ("Package", "Architecture", "Status")
        ]  # a purged package keeps only these (dpkg writes no Version for it)
        paragraphs[number] = "\n".join(keep).replace(
            "Status: install ok installed", "Status: purge ok not-installed"
        )
    return ("\n\n".join(paragraphs) + "\n").encode("utf-8")


def test_removed_and_purged_packages_match_dpkg_query(tmp_path: Path) -> None:
    """dpkg-query lists all but not-installed paragraphs; is_installed keeps only installed."""
    data = removed_some(STATUS.read_bytes())
    packages = parse_status(data)
    listed = sorted(
        (p.name, p.version, p.extra["status"])
        for p in packages
        if not p.extra["status"].endswith("not-installed")
    )
    assert listed == dpkg_query(data, tmp_path, "${Package}\t${Version}\t${Status}")
    installed = [p for p in packages if is_installed(p)]
    removed = [p for p in packages if p.extra["status"] == "deinstall ok config-files"]
    purged = [p for p in packages if p.extra["status"] == "purge ok not-installed"]
    assert removed and purged and all(p.version == "" for p in purged)
    assert len(installed) == len(packages) - len(removed) - len(purged)


def status_d_listing() -> list[str]:
    return [f"var/lib/dpkg/status.d/{p.name}" for p in sorted(STATUS_D.iterdir())]


def test_status_d_files_pick_control_files_only() -> None:
    """From a real status.d listing, the control files are read and *.md5sums are not."""
    picked = status_d_files(status_d_listing())
    names = [p.rsplit("/", 1)[1] for p in picked]
    assert names == [
        "amqp-tools", "automake", "binutils-arm-none-eabi", "blt", "bubblewrap", "busybox",
    ]  # fmt: skip


def test_status_d_matches_dpkg_query(tmp_path: Path) -> None:
    """Real .deb control files as distroless ships them read as dpkg-query reads them."""
    packages = []
    controls = []
    for path in status_d_files(status_d_listing()):
        data = (DATA / "dpkg" / path.removeprefix("var/lib/dpkg/")).read_bytes()
        packages += parse_status_d(data, where="/" + path)
        controls.append(b"Status: install ok installed\n" + data.rstrip(b"\n") + b"\n")
    fields = "${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}"
    expected = dpkg_query(b"\n".join(controls), tmp_path, fields)
    ours = sorted(
        (p.name, p.version, p.architecture or "", p.source or "", p.extra["source_version"])
        for p in packages
    )
    assert ours == expected
    assert all(is_installed(p) and "status" not in p.extra for p in packages)
    busybox = next(p for p in packages if p.name == "busybox")
    assert (busybox.version, busybox.extra["source_version"]) == (
        "1:1.35.0-4+deb12u1+b1",
        "1:1.35.0-4+deb12u1",
    )


STATUS_D_PATHS = [
    ("/var/lib/dpkg/status.d/libc6", True, "an absolute path"),
    ("./var/lib/dpkg/status.d/libc6", True, "a ./ path from a tar listing"),
    ("var/lib/dpkg/status.d/libc6.md5sums", False, "an md5sums file"),
    ("var/lib/dpkg/status.d/", False, "the directory itself"),
    ("var/lib/dpkg/status.d/sub/libc6", False, "a file in a subdirectory"),
    ("var/lib/dpkg/status.d/.wh.libc6", False, "a whiteout or hidden file"),
    ("var/lib/dpkg/status", False, "the status file"),
    ("usr/var/lib/dpkg/status.d/libc6", False, "another tree"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "picked"), [c[:2] for c in STATUS_D_PATHS], ids=[c[2] for c in STATUS_D_PATHS]
)
def test_status_d_files_cases(path: str, picked: bool) -> None:
    """Only files directly in status.d that are not md5sums (or similar) are picked."""
    assert status_d_files([path]) == ([path] if picked else [])


def test_status_d_files_bounded() -> None:
    """More status.d files than the limit raise instead of returning part of them."""
    with pytest.raises(PackageDatabaseError, match="more than 3 files"):
        status_d_files([f"var/lib/dpkg/status.d/p{i}" for i in range(4)], limit=3)


GOOD = "Package: a\nStatus: install ok installed\nVersion: 1\n"
DPKG_ERRORS = [
    (" continued\n" + GOOD, "line 1: continuation line before a field", "a continuation first"),
    (GOOD + "no colon here\n", "line 4: not a 'Field: value' line", "a line without a colon"),
    ("# comment\n" + GOOD, "line 1: not a 'Field: value' line", "a comment line"),
    (GOOD + "version: 2\n", "line 4: duplicate value for 'version' field", "a field twice"),
    ("Status: install ok installed\nVersion: 1\n", "no Package field", "no Package"),
    ("Package: a\nVersion: 1\n", "package 'a' (line 1): no Status field", "no Status"),
    ("Package: a\nStatus: installed\nVersion: 1\n", "is not 'want flag status'", "a bad Status"),
    ("Package: a\nStatus: install ok installed\n", "no Version field", "no Version"),
    (GOOD + "Source: a b c\n", "is not 'name (version)'", "a bad Source"),
    ("Package: a\x00\n", "NUL byte", "a NUL byte"),
    (GOOD + "\n\nPack", "line 6: not a 'Field: value' line", "cut inside a field name"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "fragment"), [c[:2] for c in DPKG_ERRORS], ids=[c[2] for c in DPKG_ERRORS]
)
def test_status_rejects(text: str, fragment: str) -> None:
    """A malformed status file raises one typed error naming the file and where."""
    with pytest.raises(PackageDatabaseError, match="dpkg status /var/lib/dpkg/status") as info:
        parse_status(text.encode())
    assert fragment in str(info.value)


@pytest.mark.parametrize("cut", [17, 100_003, 400_001], ids=lambda c: f"cut at byte {c}")
def test_real_status_cut_inside_a_field_name_is_refused(cut: int) -> None:
    """The real status file cut in the middle of a field name raises, nothing partial."""
    data = STATUS.read_bytes()
    start = data.rfind(b"\n", 0, cut) + 1
    while data[start : start + 1] in (b" ", b"\n"):  # move to the next field line
        start = data.index(b"\n", start) + 1
    truncated = data[: start + 3]
    with pytest.raises(PackageDatabaseError, match="not a 'Field: value' line"):
        parse_status(truncated)


def test_status_garbage_and_size() -> None:
    """Random bytes raise PackageDatabaseError; input over the limit raises SizeLimitError."""
    garbage = bytes((i * 7919 + 13) % 251 + 1 for i in range(4096))
    with pytest.raises(PackageDatabaseError):
        parse_status(garbage)
    with pytest.raises(SizeLimitError):
        parse_status_d(b"Package: a\n" + b"x" * dpkg.MAX_STATUS_D_FILE_BYTES)


def test_status_paragraph_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """More paragraphs than MAX_PACKAGES raise (the limit is checked while reading)."""
    monkeypatch.setattr(dpkg, "MAX_PACKAGES", 100)
    with pytest.raises(PackageDatabaseError, match="more than 100 paragraphs"):
        parse_status(STATUS.read_bytes())


def test_status_d_needs_a_paragraph() -> None:
    """An empty status.d file raises rather than meaning no package."""
    with pytest.raises(PackageDatabaseError, match="no control paragraph"):
        parse_status_d(b"\n\n", where="/var/lib/dpkg/status.d/empty")


# --------------------------------------------------------------------------- apk


def apk_blocks_by_line_scan(text: str) -> list[dict[str, str]]:
    """An independent reading of the same file: P, V, A, o, L per blank-line block."""
    blocks = []
    for block in text.split("\n\n"):
        fields = {line[0]: line[2:] for line in block.split("\n") if line[:1] in "PVAoL" and line}
        if fields:
            blocks.append(fields)
    return blocks


def test_real_apk_database() -> None:
    """A real Alpine 3.14 database: every package's name, version, arch, origin, licence."""
    data = APK.read_bytes()
    packages = parse_installed(data)
    scanned = apk_blocks_by_line_scan(data.decode("utf-8"))
    assert len(packages) == len(scanned) == 26
    assert [(p.name, p.version, p.architecture, p.source, p.license) for p in packages] == [
        (b["P"], b["V"], b["A"], b["o"], b["L"]) for b in scanned
    ]
    musl = packages[0]
    assert (musl.name, musl.version, musl.architecture, musl.source) == (
        "musl", "1.2.2-r3", "armv7", "musl",
    )  # fmt: skip
    assert musl.extra["files"] == "2" and musl.extra["maintainer"].startswith("Timo Teräs")
    ssl_client = next(p for p in packages if p.name == "ssl_client")
    assert (ssl_client.source, ssl_client.license) == ("busybox", "GPL-2.0-only")


def test_apk_paths_in_lookup_order() -> None:
    """apk's database is looked up at /lib/apk/db first, then the usr-merged location."""
    assert apk.INSTALLED_PATHS == ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")


APK_ERRORS = [
    ("P:a\nA:x86_64\n\n", "package 'a' (line 1): no version (V:)", "a package without V"),
    ("V:1\n\n", "package at line 1: no name (P:)", "a package without P"),
    ("P:a\nV:1\nP:b\nV:2\n", "line 3: 'P' given twice", "two packages without a blank line"),
    ("P:a\nV:1\ngarbage\n", "line 3: not a 'X:value' line", "a line that is not X:value"),
    ("P:a\nV:1\n1:x\n", "not a 'X:value' line", "a key that is not a letter"),
    ("P:a\x00\n", "NUL byte", "a NUL byte"),
    ("C", "line 1: not a 'X:value' line", "cut after one character"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "fragment"), [c[:2] for c in APK_ERRORS], ids=[c[2] for c in APK_ERRORS]
)
def test_apk_rejects(text: str, fragment: str) -> None:
    """A malformed apk database raises one typed error naming the file and line."""
    with pytest.raises(PackageDatabaseError, match="apk database /lib/apk/db/installed") as info:
        parse_installed(text.encode())
    assert fragment in str(info.value)


def test_real_apk_database_cut_after_a_name_is_refused() -> None:
    """The real database cut right after a P: line raises (that package has no version)."""
    data = APK.read_bytes()
    cut = data.index(b"P:busybox\n") + len(b"P:busybox\n")
    with pytest.raises(PackageDatabaseError, match="'busybox'.*no version"):
        parse_installed(data[:cut])


def test_apk_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Too many packages or too many bytes raise before anything is returned."""
    monkeypatch.setattr(apk, "MAX_PACKAGES", 10)
    with pytest.raises(PackageDatabaseError, match="more than 10 packages"):
        parse_installed(APK.read_bytes())
    monkeypatch.setattr(apk, "MAX_INSTALLED_BYTES", 1000)
    with pytest.raises(SizeLimitError, match="over the limit of 1000 bytes"):
        parse_installed(APK.read_bytes())


# --------------------------------------------------------------------------- rpm


def rpm_line(p: Package) -> str:
    """A package as rpm's query format in rpm/make-rpmdb.sh prints it."""
    return "\t".join(
        [p.name, p.version, p.architecture or "(none)", p.source or "(none)", p.license or ""]
    )


def test_rpmdb_matches_rpm_query() -> None:
    """The committed rpmdb.sqlite gives exactly what `rpm -qa` printed for it."""
    packages = parse_rpmdb(RPMDB.read_bytes())
    expected = (DATA / "rpm" / "rpmdb.qa.txt").read_text(encoding="utf-8").splitlines()
    assert sorted(rpm_line(p) for p in packages) == expected
    assert [p.extra["hnum"] for p in packages] == ["1", "2", "3", "4"]
    hello = next(p for p in packages if p.name == "hello-tiny")
    assert (hello.extra["epoch"], hello.extra["version"], hello.extra["release"]) == (
        "2", "1.2.3", "4.fc40",
    )  # fmt: skip
    assert hello.extra["summary"] == "A tiny test package for ociinspect"


@pytest.mark.parametrize(
    ("file", "backend", "fragment"),
    [("Packages", "bdb", "Berkeley DB (hash)"), ("Packages.db", "ndb", "NDB database")],
    ids=["a Berkeley DB Packages is refused clearly", "an NDB Packages.db is refused clearly"],
)
def test_rpm_old_backends_are_refused(file: str, backend: str, fragment: str) -> None:
    """rpm's Berkeley DB and NDB files raise UnreadableDatabaseError saying what they are."""
    with pytest.raises(UnreadableDatabaseError, match="ociinspect reads only rpm's SQLite") as info:
        parse_rpmdb((DATA / "rpm" / file).read_bytes(), where=f"/var/lib/rpm/{file}")
    assert info.value.backend == backend and fragment in str(info.value)
    assert f"/var/lib/rpm/{file}" in str(info.value)


def test_rpm_big_endian_berkeley_db_is_recognised() -> None:
    """A Berkeley DB written on a big-endian machine (s390x) is recognised too."""
    data = bytearray((DATA / "rpm" / "Packages").read_bytes()[:4096])
    data[12:16] = struct.pack(">I", 0x00061561)
    with pytest.raises(UnreadableDatabaseError, match="Berkeley DB"):
        parse_rpmdb(bytes(data))


def test_rpmdb_leaves_no_temporary_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The temporary copy SQLite reads is gone afterwards, also when reading fails."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    parse_rpmdb(RPMDB.read_bytes())
    with pytest.raises(PackageDatabaseError):
        parse_rpmdb(RPMDB.read_bytes()[:8192])
    assert list(tmp_path.iterdir()) == []


def sqlite_bytes(
    tmp_path: Path, *statements: str, rows: Sequence[tuple[object, ...]] = ()
) -> bytes:
    """A fresh SQLite database made by the statements (rows go to Packages)."""
    path = tmp_path / f"db{len(list(tmp_path.iterdir()))}.sqlite"
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    if rows:
        conn.executemany("INSERT INTO Packages VALUES (?, ?)", rows)
    conn.commit()
    conn.close()
    return path.read_bytes()


def real_blob(hnum: int = 3) -> bytes:
    """One real header blob (hello-tiny) from the committed database."""
    conn = sqlite3.connect(f"file:{RPMDB}?mode=ro&immutable=1", uri=True)
    (blob,) = conn.execute("SELECT blob FROM Packages WHERE hnum = ?", (hnum,)).fetchone()
    conn.close()
    assert isinstance(blob, bytes)
    return blob


def test_rpmdb_shape_errors(tmp_path: Path) -> None:
    """SQLite files that are not rpm databases, or hold garbage rows, raise typed errors."""
    cases = {
        "no 'Packages' table": sqlite_bytes(tmp_path, "CREATE TABLE t (a)"),
        "found ['view']": sqlite_bytes(
            tmp_path, "CREATE TABLE t (hnum, blob)", "CREATE VIEW Packages AS SELECT * FROM t"
        ),
        "not hnum and blob": sqlite_bytes(tmp_path, "CREATE TABLE Packages (a, b)"),
        "expected an integer and a blob": sqlite_bytes(
            tmp_path, "CREATE TABLE Packages (hnum, blob)", rows=[(1, "text, not a blob")]
        ),
        "rpm header hnum 7 in": sqlite_bytes(
            tmp_path, "CREATE TABLE Packages (hnum, blob)", rows=[(7, b"\x00" * 8)]
        ),
        "not an rpm database: starts with": b"PK\x03\x04" + bytes(100),
    }
    for fragment, data in cases.items():
        with pytest.raises(PackageDatabaseError) as info:
            parse_rpmdb(data)
        assert fragment in str(info.value), fragment


@pytest.mark.parametrize("keep", [100, 4096, 30_000], ids=lambda k: f"first {k} bytes")
def test_truncated_rpmdb_is_refused(keep: int) -> None:
    """A truncated rpmdb.sqlite raises: its size disagrees with the header's page count."""
    with pytest.raises(PackageDatabaseError, match="header says 56 pages of 4096 bytes"):
        parse_rpmdb(RPMDB.read_bytes()[:keep])


def test_rpmdb_schema_with_undecodable_bytes_is_refused(tmp_path: Path) -> None:
    """A schema SQLite cannot parse and whose error quotes non-UTF-8 bytes: still typed."""
    data = bytearray(sqlite_bytes(tmp_path, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, b)"))
    at = data.index(b"PRIMARY KEY")
    data[at : at + 2] = b'"\xff'  # an unterminated quoted token starting with a non-UTF-8 byte
    with pytest.raises(PackageDatabaseError, match="schema is damaged"):
        parse_rpmdb(bytes(data))


def test_corrupt_rpmdb_page_is_refused() -> None:
    """The Packages table's root page overwritten with garbage: SQLite's complaint, typed."""
    conn = sqlite3.connect(f"file:{RPMDB}?mode=ro&immutable=1", uri=True)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'Packages'").fetchone()
    conn.close()
    data = bytearray(RPMDB.read_bytes())
    data[(root - 1) * 4096 : root * 4096] = b"\xff" * 4096
    with pytest.raises(PackageDatabaseError, match="rpm database .*: SQLite: "):
        parse_rpmdb(bytes(data))


def test_rpmdb_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Too many rows, an oversized blob, a whole file over the limit: typed errors."""
    monkeypatch.setattr(rpm, "MAX_PACKAGES", 2)
    with pytest.raises(PackageDatabaseError, match="more than 2 packages"):
        parse_rpmdb(RPMDB.read_bytes())
    monkeypatch.setattr(rpm, "MAX_HEADER_BYTES", 1000)
    with pytest.raises(PackageDatabaseError, match="over the limit of 1000 bytes"):
        parse_rpmdb(RPMDB.read_bytes())
    monkeypatch.setattr(rpm, "MAX_RPMDB_BYTES", 4096)
    with pytest.raises(SizeLimitError):
        parse_rpmdb(RPMDB.read_bytes())


def test_rpmdb_sqlite_work_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that needs more SQLite steps than allowed is stopped with a typed error."""
    rows = [(i, real_blob()) for i in range(1, 400)]
    data = sqlite_bytes(tmp_path, "CREATE TABLE Packages (hnum INTEGER, blob BLOB)", rows=rows)
    assert len(parse_rpmdb(data)) == 399
    monkeypatch.setattr(rpm, "_STEPS_PER_CALL", 100)
    monkeypatch.setattr(rpm, "MAX_SQLITE_STEPS", 1000)
    with pytest.raises(PackageDatabaseError, match="more than 1000 SQLite steps"):
        parse_rpmdb(data)


# Hand-built headers: (tag, type, data, count) entries laid out as rpm lays them out.
def build_header(entries: list[tuple[int, int, bytes, int]]) -> bytes:
    index, store = b"", b""
    align = {3: 2, 4: 4, 5: 8}
    for tag, type_, data, count in entries:
        store += b"\x00" * (-len(store) % align.get(type_, 1))
        index += struct.pack(">IIiI", tag, type_, len(store), count)
        store += data
    return struct.pack(">ii", len(entries), len(store)) + index + store


NEVR = [
    (1000, 6, b"tiny\x00", 1),
    (1001, 6, b"1.0\x00", 1),
    (1002, 6, b"3\x00", 1),
    (1003, 4, struct.pack(">I", 0), 1),
]


def test_header_without_region_and_with_epoch_zero() -> None:
    """A header without a region parses; an EPOCH of 0 is shown, as rpm's %{EVR} does."""
    package = parse_header(build_header(NEVR))
    assert (package.name, package.version, package.architecture, package.source) == (
        "tiny", "0:1.0-3", None, None,
    )  # fmt: skip


def test_header_with_a_huge_string_count_is_linear() -> None:
    """Millions of empty strings in one entry are checked in C loops, not one by one."""
    count = 8_000_000
    blob = build_header([*NEVR, (1117, 8, b"\x00" * count, count)])
    started = time.perf_counter()
    assert parse_header(blob).name == "tiny"
    assert time.perf_counter() - started < 5


def entry_at(blob: bytes, number: int) -> int:
    """Byte offset of index entry ``number`` in a blob."""
    return 8 + 16 * number


def mutate(blob: bytes, at: int, fmt: str, *values: int) -> bytes:
    out = bytearray(blob)
    struct.pack_into(fmt, out, at, *values)
    return bytes(out)


def real_index(blob: bytes) -> list[tuple[int, int, int, int]]:
    il = struct.unpack_from(">i", blob)[0]
    return [struct.unpack_from(">IIiI", blob, entry_at(blob, i)) for i in range(il)]


def hostile_headers() -> list[tuple[bytes, str, str]]:
    blob = real_blob()
    index = real_index(blob)
    il, dl = struct.unpack_from(">ii", blob)
    name = next(i for i, e in enumerate(index) if e[0] == 1000)
    int32 = next(i for i, e in enumerate(index) if e[1] == 4 and i > 0)
    array = next(i for i, e in enumerate(index) if e[1] == 8)
    store = blob[8 + 16 * il :]
    nuls_after_array = store.count(b"\x00", index[array][2])
    return [
        (blob[:7], "shorter than the 8-byte intro", "a blob cut inside the intro"),
        (blob[:-1], f"make {len(blob)}", "a blob one byte short"),
        (blob + b"\x00", f"make {len(blob)}", "a blob with a byte too many"),
        (mutate(blob, 0, ">i", 0x10000), "index count 65536", "an index count over 0xffff"),
        (mutate(blob, 0, ">i", 0), "index count 0", "an index count of zero"),
        (mutate(blob, 0, ">i", -1), "index count -1", "a negative index count"),
        (mutate(blob, 4, ">i", -5), "data length -5", "a negative data length"),
        (mutate(blob, 4, ">i", 0x10000000), "data length 268435456", "a data length over max"),
        (mutate(blob, entry_at(blob, name) + 8, ">i", dl + 10), f"offset {dl + 10} outside",
         "NAME's offset past the data"),
        (mutate(blob, entry_at(blob, name) + 8, ">i", -4), "offset -4 outside",
         "a negative offset"),
        (mutate(blob, entry_at(blob, int32) + 12, ">I", dl + 1), "impossible in",
         "an INT32 count larger than the data"),
        (mutate(blob, entry_at(blob, int32) + 12, ">I", (dl - index[int32][2]) // 4 + 1),
         "run past the data", "INT32 items running past the data"),
        (mutate(blob, entry_at(blob, int32) + 8, ">i", index[int32][2] + 1), "not aligned",
         "a misaligned INT32"),
        (mutate(blob, entry_at(blob, array) + 12, ">I", 0xFFFFFFFF), "impossible in",
         "a string array count of 2**32-1"),
        (mutate(blob, entry_at(blob, array) + 12, ">I", nuls_after_array + 1),
         "strings run past the data", "more strings than the data holds"),
        (mutate(blob, entry_at(blob, name) + 12, ">I", 2), "STRING with count 2",
         "a STRING with count 2"),
        (mutate(blob, entry_at(blob, name) + 4, ">I", 10), "unknown type 10", "type 10"),
        (mutate(blob, entry_at(blob, name) + 4, ">I", 0), "unknown type 0", "the NULL type"),
        (mutate(blob, entry_at(blob, name), ">I", 99), "tag below 100", "a tag below 100"),
        (mutate(blob, entry_at(blob, name) + 8, ">i", 0), "overlaps the previous entry",
         "two entries sharing data"),
        (build_header([*NEVR, (1004, 6, b"no NUL", 1)]), "run past the data",
         "a string without its NUL"),
        (mutate(blob, entry_at(blob, 0) + 8, ">i", dl - 8), "region trailer at",
         "a region trailer outside the data"),
        (mutate(blob, 8 + 16 * il + index[0][2], ">I", 62), "does not close region",
         "a region trailer naming another region"),
        (mutate(blob, 8 + 16 * il + index[0][2] + 8, ">i", -16 * (il + 1)),
         "does not close region", "a region trailer pointing before the index"),
        (mutate(blob, entry_at(blob, 0) + 12, ">I", 17), "not BIN 16", "a region of count 17"),
        (build_header(NEVR[1:]), "no NAME tag", "a header without NAME"),
        (build_header([(1000, 4, b"\x00\x00\x00\x01", 1), *NEVR[1:]]),
         "tag NAME is a number", "a NAME that is a number"),
        (build_header([*NEVR[:3], (1003, 6, b"x\x00", 1)]), "EPOCH is not a number",
         "an EPOCH that is a string"),
    ]  # fmt: skip


HOSTILE_HEADERS = hostile_headers()


@pytest.mark.parametrize(
    ("blob", "fragment"),
    [c[:2] for c in HOSTILE_HEADERS],
    ids=[c[2] for c in HOSTILE_HEADERS],
)
def test_hostile_header_is_refused(blob: bytes, fragment: str) -> None:
    """A header blob that lies about its layout raises PackageDatabaseError, nothing partial."""
    with pytest.raises(PackageDatabaseError, match="rpm header") as info:
        parse_header(blob)
    assert fragment in str(info.value)


REAL_BLOB = real_blob()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(REAL_BLOB) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.integers(0, len(REAL_BLOB)),
)
def test_damaged_real_header_never_escapes_the_typed_error(
    flips: list[tuple[int, int]], cut: int
) -> None:
    """Any bytes changed or cut off in a real header give a Package or PackageDatabaseError."""
    blob = bytearray(REAL_BLOB)
    for at, value in flips:
        blob[at] = value
    try:
        package = parse_header(bytes(blob[:cut] if cut < len(blob) else blob))
    except PackageDatabaseError:
        return
    assert package.manager == "rpm" and package.name


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2000))
def test_text_parsers_refuse_random_bytes_with_the_typed_error(data: bytes) -> None:
    """Random bytes make every text parser return records or raise PackageDatabaseError."""
    parsers = (parse_status, parse_status_d, parse_installed, parse_os_release, parse_metadata)
    for parse in parsers:
        try:
            result = parse(data)
        except PackageDatabaseError as exc:
            assert str(exc).startswith("invalid "), exc
        else:
            assert isinstance(result, list | OsRelease | Package), parse


def test_real_headers_pass_the_checks() -> None:
    """Every real header of the committed database passes rpm's checks unchanged."""
    for hnum in (1, 2, 3, 4):
        assert parse_header(real_blob(hnum), hnum=hnum).extra["hnum"] == str(hnum)


# --------------------------------------------------------------------------- python


def metadata_files() -> list[Path]:
    """The data tree's METADATA files and egg-info files (distutils' one-file form)."""
    return sorted(
        p
        for p in PYTHON.rglob("*")
        if p.is_file() and (p.name == "METADATA" or p.name.endswith(".egg-info"))
    )


@pytest.mark.parametrize(
    "path",
    metadata_files(),
    ids=lambda p: f"{p.name if p.name != 'METADATA' else p.parent.name} reads like importlib",
)
def test_metadata_matches_importlib(path: Path) -> None:
    """Name, version, summary and licence as importlib.metadata reads the same file."""
    package = parse_metadata(path.read_bytes(), where=str(path))
    where = path.parent if path.name == "METADATA" else path  # an egg-info file is read whole
    meta = importlib.metadata.PathDistribution(where).metadata
    assert (package.name, package.version) == (meta["Name"], meta["Version"])
    assert package.extra.get("summary") == meta["Summary"]
    licence = meta["License-Expression"] or meta["License"]
    if licence and "\n" not in licence.strip():
        assert package.license == licence.strip()
    else:
        classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
        assert package.license == "; ".join(c.rpartition("::")[2].strip() for c in classifiers)


def test_metadata_licence_choices() -> None:
    """License-Expression first, a one-line License next, else the licence classifiers."""
    site = PYTHON / "usr/local/lib/python3.11/site-packages"
    licences = {
        p.parent.name: parse_metadata(p.read_bytes()).license
        for p in site.glob("*.dist-info/METADATA")
    }
    assert licences["numpy-2.4.6.dist-info"] == "BSD-3-Clause AND 0BSD AND MIT AND Zlib AND CC0-1.0"
    assert licences["requests-2.34.2.dist-info"] == "Apache-2.0"
    assert licences["traitlets-5.15.0.dist-info"] == "BSD License"  # License: is the full text


def test_metadata_paths_of_the_data_tree() -> None:
    """From a listing of a real-shaped tree, exactly the 11 metadata files are picked."""
    listing = [str(p.relative_to(PYTHON)) for p in PYTHON.rglob("*")]
    listing += [str(p.relative_to(PYTHON)) + "/" for p in PYTHON.rglob("*") if p.is_dir()]
    picked = metadata_paths(listing)
    assert picked == sorted(str(p.relative_to(PYTHON)) for p in metadata_files())
    assert len(picked) == 11


METADATA_PATHS = [
    ("usr/local/lib/python3.12/site-packages/a-1.dist-info/METADATA", True, "python image"),
    ("/usr/lib/python3/dist-packages/a-1.egg-info/PKG-INFO", True, "Debian's dist-packages"),
    ("usr/lib64/python3.9/site-packages/a-1.dist-info/METADATA", True, "RHEL's lib64"),
    ("usr/lib/python3.13t/site-packages/a-1.dist-info/METADATA", True, "free-threaded python"),
    ("opt/venv/lib/python3.12/site-packages/a-1.dist-info/METADATA", True, "a venv in /opt"),
    ("opt/conda/lib/python3.11/site-packages/a-1.dist-info/METADATA", True, "conda in /opt"),
    ("opt/app/site-packages/a-1.dist-info/METADATA", True, "pip --target in /opt"),
    ("usr/lib/python3/dist-packages/a-1.egg-info", True, "an egg-info file"),
    ("home/u/.local/lib/python3.12/site-packages/a-1.dist-info/METADATA", False, "a home dir"),
    ("usr/share/python/site-packages/a-1.dist-info/METADATA", False, "not a lib dir"),
    ("usr/lib/python3.12/site-packages/a/b-1.dist-info/METADATA", False, "nested in a package"),
    ("usr/lib/python3.12/site-packages/a-1.dist-info/RECORD", False, "another dist-info file"),
    ("usr/lib/python3.12/site-packages/a-1.dist-info", False, "the dist-info directory"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "picked"), [c[:2] for c in METADATA_PATHS], ids=[c[2] for c in METADATA_PATHS]
)
def test_metadata_paths_cases(path: str, picked: bool) -> None:
    """Metadata files are picked only in the site directories the module doc lists."""
    assert metadata_paths([path]) == ([path] if picked else [])


def test_egg_info_directory_is_not_a_file() -> None:
    """An egg-info with files below it (or listed with a trailing /) is a directory."""
    base = "usr/lib/python3/dist-packages/a-1.egg-info"
    assert metadata_paths([base, base + "/PKG-INFO"]) == [base + "/PKG-INFO"]
    assert metadata_paths([base + "/", base + "/top_level.txt"]) == []


def test_metadata_paths_bounded() -> None:
    """More metadata files than the limit raise instead of returning part of them."""
    paths = [f"opt/v/site-packages/p{i}-1.dist-info/METADATA" for i in range(6)]
    with pytest.raises(PackageDatabaseError, match="more than 5"):
        metadata_paths(paths, limit=5)


METADATA_ERRORS = [
    (b"Metadata-Version: 2.1\nVersion: 1\n", "no Name field", "no Name"),
    (b"Metadata-Version: 2.1\nName: a\n", "no Version field", "no Version"),
    (b"Name: a\nName: b\nVersion: 1\n", "Name given 2 times", "Name twice"),
    (b"", "no Name field", "an empty file"),
    (b"\n\nName: a\nVersion: 1\n", "no Name field", "fields only in the body"),
    (bytes(range(1, 256)) * 4, "no Name field", "binary garbage"),
    (b"Name: a\x00\nVersion: 1\n", "NUL byte", "a NUL byte"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "fragment"), [c[:2] for c in METADATA_ERRORS], ids=[c[2] for c in METADATA_ERRORS]
)
def test_metadata_rejects(data: bytes, fragment: str) -> None:
    """A file that is not core metadata raises one typed error naming the file."""
    with pytest.raises(PackageDatabaseError, match="Python metadata x.dist-info/METADATA") as info:
        parse_metadata(data, where="x.dist-info/METADATA")
    assert fragment in str(info.value)


def test_metadata_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A metadata file over the limit is refused before parsing."""
    monkeypatch.setattr(python_module, "MAX_METADATA_BYTES", 1000)
    data = PYTHON / "usr/local/lib/python3.11/site-packages/pandas-3.1.1.dist-info/METADATA"
    with pytest.raises(SizeLimitError, match="over the limit of 1000 bytes"):
        parse_metadata(data.read_bytes())


# --------------------------------------------------------------------------- the table


def test_databases_table_reads_the_real_data() -> None:
    """Each DATABASES row's parse reads the real file of its kind, as its manager."""
    files = {
        "dpkg status": (STATUS, dpkg.STATUS_PATH),
        "dpkg status.d (distroless)": (STATUS_D / "busybox", "/var/lib/dpkg/status.d/busybox"),
        "apk installed": (APK, apk.INSTALLED_PATHS[0]),
        "rpm database": (RPMDB, rpm.SQLITE_PATHS[1]),
        "Python distributions": (
            PYTHON / "usr/local/lib/python3.11/site-packages/requests-2.34.2.dist-info/METADATA",
            "/usr/local/lib/python3.11/site-packages/requests-2.34.2.dist-info/METADATA",
        ),
    }
    assert [d.name for d in DATABASES] == list(files)
    for database in DATABASES:
        local, image_path = files[database.name]
        packages = database.parse(local.read_bytes(), image_path)
        assert packages and {p.manager for p in packages} == {database.manager}
        assert all(path.startswith("/") for path in database.paths)
        assert (database.lookup == "select") == (database.select is not None)


def test_databases_select_pick_from_a_listing() -> None:
    """The select functions of the table pick status.d and METADATA files from one listing."""
    listing = status_d_listing() + ["usr/lib/python3/dist-packages/a-1.dist-info/METADATA"]
    picked = {d.name: d.select(listing) for d in DATABASES if d.select is not None}
    assert len(picked["dpkg status.d (distroless)"]) == 6
    assert picked["Python distributions"] == [listing[-1]]


def test_rpm_paths_try_sqlite_first() -> None:
    """The rpm lookup tries both SQLite locations before the refused NDB and BDB files."""
    assert rpm.RPMDB_PATHS[:2] == (
        "/usr/lib/sysimage/rpm/rpmdb.sqlite",
        "/var/lib/rpm/rpmdb.sqlite",
    )
    assert rpm.RPMDB_PATHS[-1].endswith("/Packages")


def test_package_is_a_frozen_value() -> None:
    """Package refuses unknown managers and empty names; it and its extra are read-only."""
    package = Package("apk", "musl", "1.2.2-r3", extra={"files": "2"})
    with pytest.raises(FrozenInstanceError):
        package.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        package.extra["files"] = "3"  # type: ignore[index]
    with pytest.raises(ValueError, match="unknown package manager"):
        Package("pacman", "a", "1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a name"):
        Package("apk", "", "1")
    assert hash(package) == hash(Package("apk", "musl", "1.2.2-r3"))


def test_sources_md_names_every_data_file() -> None:
    """Every data file or directory the tests read is described in SOURCES.md, and exists."""
    sources = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    for relative in (
        "dpkg/status", "dpkg/status.d/", "apk/installed", "rpm/rpmdb.sqlite",
        "rpm/rpmdb.qa.txt", "rpm/Packages", "rpm/Packages.db", "os-release/", "python/",
    ):  # fmt: skip
        assert f"`{relative}`" in sources, relative
        assert (DATA / relative).exists(), relative
