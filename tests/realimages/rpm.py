"""``rpm``: an image whose packages rpm itself installed, laid out like a current Fedora.

Tools: Debian 12's ``rpm`` 4.18 (``rpmbuild`` and ``rpm``) and ``umoci``. Inputs: the specs in
tests/data/packages/rpm/SPECS (three tiny packages: ``hello-tiny``, noarch with ``Epoch: 2``;
``libdemo`` and its sub-package ``libdemo-devel``, x86_64) and the Fedora 42 os-release in
tests/data/packages/os-release/fedora-42. No network.

1. ``rpmbuild -bb`` each spec (the flags of tests/data/packages/rpm/make-rpmdb.sh, plus a fixed
   build host and ``SOURCE_DATE_EPOCH`` as build time and file-time clamp).
2. Layer 0 (``umoci repack``): ``rpm --root ROOT --dbpath /usr/lib/sysimage/rpm --initdb`` with
   the SQLite backend, then a real ``rpm -i`` of hello-tiny and libdemo (their files land in the
   tree; not ``--justdb``); ``/var/lib/rpm`` a relative symlink to ``../../usr/lib/sysimage/rpm``
   and ``/etc/os-release`` one to ``../usr/lib/os-release``, as Fedora >= 36 has them (Fedora's
   Changes/RelocateRPMToUsr; fedora-release.spec ``ln -s ../usr/lib/os-release``). rpm honours
   ``SOURCE_DATE_EPOCH`` for INSTALLTIME, so the database is the same bytes on every build.
3. Layer 1 (``umoci repack`` of the same bundle): ``rpm -i libdemo-devel``, the way
   ``RUN dnf install libdemo-devel`` would: the layer holds the new file and a whole new copy of
   ``rpmdb.sqlite`` (rpm's issue #2005: the SQLite database is duplicated in each layer).

rpm leaves ``rpmdb.sqlite-wal`` (empty: rpm checkpoints on close), ``.rpm.lock`` (empty) and
``rpmdb.sqlite-shm`` beside the database; the first two are kept, as real images have them. The
``-shm`` file (SQLite's shared-memory index, rebuilt on open) is removed: its bytes differ on
every run (rpm issue #2219 names it the last obstacle to reproducible images).

Tag ``rpm-bdb``: another one-layer image of the same three packages, installed for real, whose
only rpm database is the Berkeley DB ``/var/lib/rpm/Packages`` of tests/data/packages/rpm (the
same headers plus an imported key, written by libdb 5.3; see its SOURCES.md): an image of the
RHEL/CentOS <= 8 era. It has no os-release (no file of such a release is in tests/data).

Facts: ``rpm -qa --qf`` (make-rpmdb.sh's format) run on ``umoci unpack`` of the final tag through
its ``/var/lib/rpm`` symlink, which packages each layer installed, every packaged file with the
sha256 rpm recorded for it (``FILEDIGESTS``), the reference tree, os-release.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import layout as oci
from ._tools import CREATED, TAR_MTIME, os_release_pairs, run
from .facts import Change, LayerFacts, TreeFacts, describe_layers, tree_facts

DATA = Path(__file__).resolve().parent.parent / "data" / "packages"
SPECS_DIR = DATA / "rpm" / "SPECS"
BDB_PACKAGES = DATA / "rpm" / "Packages"
OS_RELEASE = DATA / "os-release" / "fedora-42"

TAG = "rpm"
#: The image after layer 0, after layer 1 (tags of the one layout).
LAYER_TAGS = ("rpm-layer0", TAG)
BDB_TAG = "rpm-bdb"

#: Fedora's ``%_dbpath`` (Debian's rpm defaults to ~/.rpmdb, so it is always given).
DBPATH = "/usr/lib/sysimage/rpm"
RPMDB = f"{DBPATH}/rpmdb.sqlite"
LEGACY_DBPATH = ("/var/lib/rpm", "../../usr/lib/sysimage/rpm")
OS_RELEASE_LINK = ("/etc/os-release", "../usr/lib/os-release")
BDB_PATH = "/var/lib/rpm/Packages"

#: Which packages each layer installs (``rpm -i`` of the built files, in this order).
LAYER_PACKAGES = (("hello-tiny", "libdemo"), ("libdemo-devel",))

#: make-rpmdb.sh's query format: name, [epoch:]version-release, arch, source rpm, licence.
QUERY_FORMAT = (
    "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}"
    "\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\n"
)
FILES_FORMAT = "[%{=NAME}\\t%{FILENAMES}\\t%{FILEDIGESTS}\\n]"

_SOURCE_DATE_EPOCH = str(TAR_MTIME)
_RPMBUILD_DEFINES = (
    "_build_id_links none",
    "_buildhost ociinspect.invalid",
    "use_source_date_epoch_as_buildtime 1",
    "clamp_mtime_to_source_date_epoch 1",
)


@dataclass(frozen=True)
class RpmImage:
    """The built ``rpm`` image and its ``rpm-bdb`` sibling, with facts (see the module doc).

    ``packages`` are the rows of ``rpm_qa`` split at tabs: (name, ``[epoch:]version-release``,
    arch, source rpm, licence); ``installed_in`` maps each name to the layer that installed it;
    ``files`` are (package, path, sha256 hex) as rpm's header records them.
    """

    layout: Path
    tag: str
    layer_tags: tuple[str, ...]
    bdb_tag: str
    manifest_digest: str
    config_digest: str
    layers: tuple[LayerFacts, ...]
    bdb_manifest_digest: str
    bdb_layer_digest: str
    rpm_qa: str
    packages: tuple[tuple[str, str, str, str, str], ...]
    installed_in: tuple[tuple[str, int], ...]
    files: tuple[tuple[str, str, str], ...]
    rootfs: Path
    tree: TreeFacts
    os_release: tuple[tuple[str, str], ...]
    rpms: tuple[str, ...]
    rpmdb: str = RPMDB
    legacy_dbpath: tuple[str, str] = LEGACY_DBPATH
    os_release_link: tuple[str, str] = OS_RELEASE_LINK
    bdb_path: str = BDB_PATH

    @property
    def ref(self) -> str:
        """The skopeo-style reference of the final image: ``oci:<layout>:rpm``."""
        return f"oci:{self.layout}:{self.tag}"

    @property
    def bdb_ref(self) -> str:
        """``oci:<layout>:rpm-bdb``, the image whose rpm database is Berkeley DB."""
        return f"oci:{self.layout}:{self.bdb_tag}"

    def os_release_value(self, key: str) -> str:
        """A value of /etc/os-release (``ID`` -> ``fedora``); KeyError if absent."""
        return dict(self.os_release)[key]


def build_rpm(dest: Path, specs_dir: Path = SPECS_DIR) -> RpmImage:
    """Build the ``rpm`` and ``rpm-bdb`` images into ``dest`` (created; must not exist yet):
    ``dest/layout`` is the OCI layout, ``dest/unpacked/rootfs`` the unpack of the final tag."""
    dest.mkdir(parents=True)
    layout, work = dest / "layout", dest / "work"
    (work / "home").mkdir(parents=True)
    rpms = _rpmbuild(sorted(specs_dir.glob("*.spec")), work)

    run(["umoci", "init", "--layout", str(layout)])
    run(["umoci", "new", "--image", f"{layout}:empty"])
    bundle = work / "bundle"
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:empty", str(bundle)])
    root = bundle / "rootfs"
    _rpm(work, root, "--initdb")
    installed_in: list[tuple[str, int]] = []
    for layer, (names, tag) in enumerate(zip(LAYER_PACKAGES, LAYER_TAGS, strict=True)):
        before = set(_names(work, root))
        _rpm(work, root, "-i", "--nodeps", "--ignorearch", "--ignoreos",
             *(str(rpms[name]) for name in names))  # fmt: skip
        installed_in += [(name, layer) for name in sorted(set(_names(work, root)) - before)]
        if layer == 0:
            _fedora_links(root)
        _settle(root)
        run(
            [
                "umoci",
                "repack",
                "--refresh-bundle",
                "--image",
                f"{layout}:{tag}",
                "--history.created",
                CREATED,
                "--history.created_by",
                f"rpm -i {' '.join(names)}",
                str(bundle),
            ]
        )
    for tag in LAYER_TAGS:
        _config(layout, tag)
    run(["umoci", "rm", "--image", f"{layout}:empty"])

    bdb_layer = _build_bdb(layout, work, rpms)
    run(["umoci", "gc", "--layout", str(layout)])

    unpacked = dest / "unpacked"
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:{TAG}", str(unpacked)])
    rootfs = unpacked / "rootfs"
    tree = tree_facts(rootfs)  # before rpm reads the tree (it adds -shm beside the database)
    # rpm reads the image's own database through its /var/lib/rpm symlink.
    query = run(_rpm_argv(work, rootfs, "-qa", "--qf", QUERY_FORMAT, dbpath=LEGACY_DBPATH[0]))
    rpm_qa = "".join(sorted(query.splitlines(keepends=True)))
    files = run(_rpm_argv(work, rootfs, "-qa", "--qf", FILES_FORMAT))
    shutil.rmtree(work)
    manifest = oci.manifest(layout, TAG)
    bdb_manifest = oci.manifest(layout, BDB_TAG)
    return RpmImage(
        layout=layout,
        tag=TAG,
        layer_tags=LAYER_TAGS,
        bdb_tag=BDB_TAG,
        manifest_digest=manifest.digest,
        config_digest=manifest.value["config"]["digest"],
        layers=describe_layers(layout, TAG, _plans()),
        bdb_manifest_digest=bdb_manifest.digest,
        bdb_layer_digest=bdb_layer,
        rpm_qa=rpm_qa,
        packages=tuple(_row(line) for line in rpm_qa.splitlines()),
        installed_in=tuple(sorted(installed_in)),
        files=tuple(sorted(_row3(line) for line in files.splitlines())),
        rootfs=rootfs,
        tree=tree,
        os_release=os_release_pairs(rootfs / "usr" / "lib" / "os-release"),
        rpms=tuple(sorted(path.name for path in rpms.values())),
    )


def _env(work: Path) -> list[str]:
    """``env`` with a private HOME (no ~/.rpmmacros of the user) and a fixed clock for rpm."""
    return ["env", f"HOME={work / 'home'}", f"SOURCE_DATE_EPOCH={_SOURCE_DATE_EPOCH}"]


def _rpmbuild(specs: list[Path], work: Path) -> dict[str, Path]:
    """Build every spec's binary packages; their paths by package name."""
    if not specs:
        raise FileNotFoundError(f"no .spec files in {SPECS_DIR}")
    topdir = work / "rpmbuild"
    for spec in specs:
        defines = [arg for define in _RPMBUILD_DEFINES for arg in ("--define", define)]
        run(
            [*_env(work), "rpmbuild", "--define", f"_topdir {topdir}", *defines,
             "--target", "x86_64", "-bb", str(spec)]
        )  # fmt: skip
    built = {}
    for path in sorted((topdir / "RPMS").glob("*/*.rpm")):
        name = run(["rpm", "-qp", "--qf", "%{NAME}", str(path)])
        built[name] = path
    wanted = {name for names in LAYER_PACKAGES for name in names}
    if not wanted <= set(built):
        raise FileNotFoundError(f"rpmbuild made {sorted(built)}, not all of {sorted(wanted)}")
    return built


def _rpm_argv(work: Path, root: Path, *args: str, dbpath: str = DBPATH) -> list[str]:
    return [
        *_env(work),
        "rpm",
        "--root",
        str(root),
        "--dbpath",
        dbpath,
        "--define",
        "_db_backend sqlite",
        *args,
    ]


def _rpm(work: Path, root: Path, *args: str) -> str:
    return run(_rpm_argv(work, root, *args))


def _names(work: Path, root: Path) -> list[str]:
    return _rpm(work, root, "-qa", "--qf", "%{NAME}\\n").split()


def _fedora_links(root: Path) -> None:
    """/var/lib/rpm -> the database directory, os-release in /usr/lib with /etc's link."""
    for path, target in (LEGACY_DBPATH, OS_RELEASE_LINK):
        link = root / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, link)
    os_release = root / "usr" / "lib" / "os-release"
    shutil.copyfile(OS_RELEASE, os_release)
    os_release.chmod(0o644)


def _settle(root: Path) -> None:
    """Drop SQLite's -shm file; give every directory, symlink and file rpm did not take from a
    package (the database, the links, os-release) the fixed time. Packaged files keep theirs
    (rpmbuild clamped them to SOURCE_DATE_EPOCH)."""
    (root / DBPATH.lstrip("/") / "rpmdb.sqlite-shm").unlink(missing_ok=True)
    database = root / DBPATH.lstrip("/")
    for directory, subdirectories, names in os.walk(root):  # symlinks are not followed
        os.utime(directory, (TAR_MTIME, TAR_MTIME))
        for name in subdirectories + names:
            path = Path(directory) / name
            if path.is_symlink() or Path(directory) == database or name == "os-release":
                os.utime(path, (TAR_MTIME, TAR_MTIME), follow_symlinks=False)


def _config(layout: Path, tag: str) -> None:
    run(
        [
            "umoci",
            "config",
            "--image",
            f"{layout}:{tag}",
            "--created",
            CREATED,
            "--config.env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--config.label",
            f"org.opencontainers.image.title=ociinspect {tag} fixture",
            "--history.created",
            CREATED,
            "--history.created_by",
            "umoci config --config.env PATH=... --config.label title=...",
        ]
    )


def _build_bdb(layout: Path, work: Path, rpms: dict[str, Path]) -> str:
    """The ``rpm-bdb`` image: the packages' files installed by rpm, then rpm's SQLite database
    swapped for the committed Berkeley DB ``Packages``. Returns its layer's digest."""
    run(["umoci", "new", "--image", f"{layout}:bdb-empty"])
    bundle = work / "bundle-bdb"
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:bdb-empty", str(bundle)])
    root = bundle / "rootfs"
    scratch = "/scratch-rpmdb"
    run(_rpm_argv(work, root, "--initdb", dbpath=scratch))
    run(
        _rpm_argv(work, root, "-i", "--nodeps", "--ignorearch", "--ignoreos",
                  *(str(path) for path in rpms.values()), dbpath=scratch)
    )  # fmt: skip
    shutil.rmtree(root / scratch.lstrip("/"))
    packages = root / BDB_PATH.lstrip("/")
    packages.parent.mkdir(parents=True)
    shutil.copyfile(BDB_PACKAGES, packages)
    packages.chmod(0o644)
    for directory, _, _ in os.walk(root):
        os.utime(directory, (TAR_MTIME, TAR_MTIME))
    os.utime(packages, (TAR_MTIME, TAR_MTIME))
    run(
        [
            "umoci",
            "repack",
            "--image",
            f"{layout}:{BDB_TAG}",
            "--history.created",
            CREATED,
            "--history.created_by",
            "rpm -i (Berkeley DB /var/lib/rpm/Packages)",
            str(bundle),
        ]
    )
    _config(layout, BDB_TAG)
    run(["umoci", "rm", "--image", f"{layout}:bdb-empty"])
    layers = oci.manifest(layout, BDB_TAG).value["layers"]
    if len(layers) != 1:
        raise ValueError(f"{layout}:{BDB_TAG} has {len(layers)} layers, expected 1")
    digest: str = layers[0]["digest"]
    return digest


def _row(line: str) -> tuple[str, str, str, str, str]:
    name, version, arch, source, license_ = line.split("\t")
    return (name, version, arch, source, license_)


def _row3(line: str) -> tuple[str, str, str]:
    name, path, digest = line.split("\t")
    return (name, path, digest)


def _plans() -> tuple[tuple[str, str, tuple[Change, ...]], ...]:
    layer0 = (
        "rpm --initdb + rpm -i, umoci repack",
        "hello-tiny and libdemo installed by rpm; SQLite rpmdb; Fedora's links",
        (
            Change(RPMDB, "added", "rpm's SQLite database: 2 packages"),
            Change(LEGACY_DBPATH[0], "added", f"symlink -> {LEGACY_DBPATH[1]}"),
            Change("/usr/lib/os-release", "added", "Fedora 42"),
            Change(OS_RELEASE_LINK[0], "added", f"symlink -> {OS_RELEASE_LINK[1]}"),
            Change("/usr/share/hello-tiny/README", "added", "hello-tiny"),
            Change("/usr/lib64/libdemo.txt", "added", "libdemo"),
        ),
    )
    layer1 = (
        "rpm -i, umoci repack",
        "libdemo-devel installed by rpm: its file and a whole new rpmdb.sqlite",
        (
            Change(RPMDB, "modified", "3 packages"),
            Change("/usr/include/demo.h", "added", "libdemo-devel"),
        ),
    )
    return (layer0, layer1)
