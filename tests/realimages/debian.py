"""``debian``: three layers over eleven real bookworm .debs, built with umoci and GNU tar.

Layer 0 (``umoci repack``): the .debs of tests/data/debs extracted with ``dpkg-deb -x`` plus the
dpkg database they would have had (:mod:`.dpkg`); then ``umoci config`` sets Env/Cmd/labels (an
``empty_layer`` history entry).

Layer 1 (GNU tar, ``umoci raw add-layer``), the way an overlayfs-based builder diffs an upper dir:
``usr/bin/.wh.perl`` deletes ``/usr/bin/perl``, the name that CARRIES THE DATA of perl-base's
hardlink pair in layer 0's tar (``usr/bin/perl5.36.0`` is stored there as a hardlink to it and
is not in layer 1 at all, so its bytes must come from the deleted name's entry in layer 0);
``/etc/issue`` modified; ``/etc/issue.net`` mode 0644 -> 0600 with the same bytes; a new
hardlink pair ``/usr/local/bin/hello`` + ``hello-again``. umoci repack could not make this layer:
removing one name changes the other's link count, and umoci then stores ``perl5.36.0`` again,
whole, in the new layer.

Layer 2 (GNU tar, ``umoci raw add-layer``): ``usr/share/doc/grep/.wh..wh..opq`` (an opaque
directory: grep's nine doc files are hidden, one new file is added), an absolute symlink, a
relative symlink, a symlink loop, and ``/usr/share/base-files/motd`` turned from a file into a
directory (no whiteout: the directory entry alone replaces the file, as Docker writes it).

The reference answer for the merged filesystem is ``umoci unpack --rootless`` of the final tag
(kept in ``DebianImage.rootfs``); packages are what ``dpkg-query`` reads from that tree.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import layout as oci
from ._tools import CREATED, TAR_MTIME, add_tar_layer, os_release_pairs, run
from .dpkg import read_deb, write_database
from .facts import Change, LayerFacts, TreeFacts, describe_layers, tree_facts

DEBS_DIR = Path(__file__).resolve().parent.parent / "data" / "debs"

TAG = "bookworm"
#: The image after layer 0, after layer 1, after layer 2 (all tags of the one layout).
LAYER_TAGS = ("layer0", "layer1", TAG)

DELETED_DATA_NAME = "/usr/bin/perl"
SURVIVING_LINK_NAME = "/usr/bin/perl5.36.0"
MODIFIED = "/etc/issue"
MODE_CHANGED = "/etc/issue.net"
ADDED_LINK_PAIR = ("/usr/local/bin/hello", "/usr/local/bin/hello-again")
OPAQUE_DIR = "/usr/share/doc/grep"
OPAQUE_NEW_FILE = "/usr/share/doc/grep/README.replaced"
ABSOLUTE_SYMLINK = ("/usr/local/bin/perl", "/usr/bin/perl5.36.0")
RELATIVE_SYMLINK = ("/usr/local/bin/sed", "../../../bin/sed")
SYMLINK_LOOP = (("/usr/local/loop/a", "b"), ("/usr/local/loop/b", "a"))
TYPE_CHANGED = "/usr/share/base-files/motd"
TYPE_CHANGED_CHILD = "/usr/share/base-files/motd/README"

DPKG_QUERY_FORMAT = "${Package}\\t${Version}\\t${Architecture}\\n"

_ISSUE_SUFFIX = b"Modified by layer 1 of the ociinspect debian fixture.\n"
_HELLO = b"#!/bin/sh\necho 'hello from layer 1'\n"
_REPLACED = b"Layer 2 replaced this directory wholesale (.wh..wh..opq).\n"
_MOTD_README = b"/usr/share/base-files/motd was a file below layer 2; now it is a directory.\n"


@dataclass(frozen=True)
class DebianImage:
    """The built ``debian`` image and the facts about it (see the module docstring)."""

    layout: Path
    tag: str
    layer_tags: tuple[str, ...]
    manifest_digest: str
    config_digest: str
    layers: tuple[LayerFacts, ...]
    rootfs: Path
    tree: TreeFacts
    packages: tuple[tuple[str, str, str], ...]
    dpkg_query: str
    os_release: tuple[tuple[str, str], ...]
    debs: tuple[Path, ...]
    deleted_data_name: str = DELETED_DATA_NAME
    surviving_link_name: str = SURVIVING_LINK_NAME
    modified: str = MODIFIED
    mode_changed: str = MODE_CHANGED
    added_link_pair: tuple[str, str] = ADDED_LINK_PAIR
    opaque_dir: str = OPAQUE_DIR
    type_changed: str = TYPE_CHANGED

    @property
    def ref(self) -> str:
        """The skopeo-style reference of the final image: ``oci:<layout>:bookworm``."""
        return f"oci:{self.layout}:{self.tag}"

    def os_release_value(self, key: str) -> str:
        """A value of /etc/os-release (``ID`` -> ``debian``); KeyError if absent."""
        return dict(self.os_release)[key]


def build_debian(dest: Path, debs_dir: Path = DEBS_DIR) -> DebianImage:
    """Build the ``debian`` image into ``dest`` (created; must not exist yet): ``dest/layout`` is
    the OCI layout, ``dest/unpacked/rootfs`` the reference unpack of the final tag."""
    dest.mkdir(parents=True)
    layout, work = dest / "layout", dest / "work"
    work.mkdir()
    deb_paths = tuple(sorted(debs_dir.glob("*.deb")))
    if not deb_paths:
        raise FileNotFoundError(f"no .deb files in {debs_dir} (see tests/data/debs/SOURCES.md)")

    run(["umoci", "init", "--layout", str(layout)])
    run(["umoci", "new", "--image", f"{layout}:empty"])
    bundle = work / "bundle0"
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:empty", str(bundle)])
    rootfs0 = bundle / "rootfs"
    debs = [read_deb(path) for path in deb_paths]
    for deb in debs:
        run(["dpkg-deb", "-x", str(deb.path), str(rootfs0)])
    admindir = write_database(debs, rootfs0, work)
    _fix_times(rootfs0, admindir)
    names = ", ".join(deb.package for deb in debs)
    run(
        [
            "umoci",
            "repack",
            "--image",
            f"{layout}:{LAYER_TAGS[0]}",
            "--history.created",
            CREATED,
            "--history.created_by",
            f"dpkg-deb -x {names} && write /var/lib/dpkg",
            str(bundle),
        ]
    )
    run(
        [
            "umoci",
            "config",
            "--image",
            f"{layout}:{LAYER_TAGS[0]}",
            "--created",
            CREATED,
            "--config.env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--config.cmd",
            "/bin/bash",
            "--config.workingdir",
            "/",
            "--config.label",
            "org.opencontainers.image.title=ociinspect debian fixture",
            "--history.created",
            CREATED,
            "--history.created_by",
            "umoci config --config.env PATH=... --config.cmd /bin/bash",
        ]
    )
    run(["umoci", "rm", "--image", f"{layout}:empty"])

    layer1 = _layer1_tree(work / "layer1", rootfs0)
    step1 = _tar_step("delete perl, edit issue")
    add_tar_layer(layout, LAYER_TAGS[0], LAYER_TAGS[1], layer1, step1)
    hidden = sorted(f"{OPAQUE_DIR}/{name}" for name in os.listdir(rootfs0 / OPAQUE_DIR.lstrip("/")))
    layer2 = _layer2_tree(work / "layer2")
    step2 = _tar_step("opaque dir, symlinks, motd/")
    add_tar_layer(layout, LAYER_TAGS[1], LAYER_TAGS[2], layer2, step2)
    run(["umoci", "gc", "--layout", str(layout)])

    unpacked = dest / "unpacked"
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:{TAG}", str(unpacked)])
    shutil.rmtree(work)
    rootfs = unpacked / "rootfs"
    query = run(
        [
            "dpkg-query",
            f"--admindir={rootfs}/var/lib/dpkg",
            "-W",
            "-f",
            DPKG_QUERY_FORMAT,
        ]
    )
    packages = tuple(
        (fields[0], fields[1], fields[2])
        for fields in (line.split("\t") for line in query.splitlines())
    )
    manifest = oci.manifest(layout, TAG)
    return DebianImage(
        layout=layout,
        tag=TAG,
        layer_tags=LAYER_TAGS,
        manifest_digest=manifest.digest,
        config_digest=manifest.value["config"]["digest"],
        layers=describe_layers(layout, TAG, _plans(names, hidden)),
        rootfs=rootfs,
        tree=tree_facts(rootfs),
        packages=packages,
        dpkg_query=query,
        os_release=os_release_pairs(rootfs / "etc" / "os-release"),
        debs=deb_paths,
    )


def _fix_times(rootfs: Path, admindir: Path) -> None:
    """One fixed mtime for every directory (dpkg-deb -x leaves the clock's time on some) and for
    the dpkg database, so that layer 0 is the same bytes on every build; files keep the .debs'."""
    for directory, _, names in os.walk(rootfs):
        os.utime(directory, (TAR_MTIME, TAR_MTIME))
        if Path(directory) == admindir or admindir in Path(directory).parents:
            for name in names:
                os.utime(Path(directory) / name, (TAR_MTIME, TAR_MTIME))


def _plans(names: str, hidden: list[str]) -> tuple[tuple[str, str, tuple[Change, ...]], ...]:
    layer0 = (
        "umoci repack",
        f"dpkg-deb -x of {names}, plus /var/lib/dpkg (status, info/*.list, info/*.md5sums)",
        (),
    )
    layer1 = (
        "GNU tar + umoci raw add-layer",
        "deletes the data-carrying name of perl's hardlink pair; modify, mode-only, new pair",
        (
            Change(DELETED_DATA_NAME, "deleted", f"{SURVIVING_LINK_NAME} survives (tar link)"),
            Change(MODIFIED, "modified", "one line appended"),
            Change(MODE_CHANGED, "metadata", "mode 0644 -> 0600, same bytes"),
            Change(ADDED_LINK_PAIR[0], "added", "carries the data"),
            Change(ADDED_LINK_PAIR[1], "added", f"tar hardlink to {ADDED_LINK_PAIR[0][1:]}"),
        ),
    )
    layer2 = (
        "GNU tar + umoci raw add-layer",
        "opaque directory, absolute/relative/looping symlinks, a file becomes a directory",
        (
            Change(OPAQUE_DIR, "opaque", ".wh..wh..opq"),
            *(Change(path, "deleted", "hidden by the opaque marker") for path in hidden),
            Change(OPAQUE_NEW_FILE, "added"),
            Change(ABSOLUTE_SYMLINK[0], "added", f"symlink -> {ABSOLUTE_SYMLINK[1]}"),
            Change(RELATIVE_SYMLINK[0], "added", f"symlink -> {RELATIVE_SYMLINK[1]}"),
            *(Change(path, "added", f"symlink -> {target}") for path, target in SYMLINK_LOOP),
            Change(TYPE_CHANGED, "type", "regular file -> directory, no whiteout"),
            Change(TYPE_CHANGED_CHILD, "added"),
        ),
    )
    return (layer0, layer1, layer2)


def _layer1_tree(tree: Path, lower: Path) -> Path:
    def place(path: str) -> Path:
        target = tree / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    issue = place(MODIFIED)
    issue.write_bytes((lower / MODIFIED.lstrip("/")).read_bytes() + _ISSUE_SUFFIX)
    issue.chmod(0o644)
    issue_net = place(MODE_CHANGED)
    shutil.copyfile(lower / MODE_CHANGED.lstrip("/"), issue_net)
    issue_net.chmod(0o600)
    whiteout = place(os.path.dirname(DELETED_DATA_NAME) + "/.wh." + "perl")
    whiteout.touch()
    whiteout.chmod(0o644)
    hello = place(ADDED_LINK_PAIR[0])
    hello.write_bytes(_HELLO)
    hello.chmod(0o755)
    os.link(hello, place(ADDED_LINK_PAIR[1]))
    return tree


def _layer2_tree(tree: Path) -> Path:
    def place(path: str) -> Path:
        target = tree / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    place(OPAQUE_DIR + "/.wh..wh..opq").touch()
    place(OPAQUE_NEW_FILE).write_bytes(_REPLACED)
    for path, target in (ABSOLUTE_SYMLINK, RELATIVE_SYMLINK, *SYMLINK_LOOP):
        os.symlink(target, place(path))
    place(TYPE_CHANGED_CHILD).write_bytes(_MOTD_README)
    for entry in tree.rglob("*"):
        if not entry.is_symlink():
            entry.chmod(0o755 if entry.is_dir() else 0o644)
    return tree


def _tar_step(what: str) -> str:
    """The history step of a layer packed by :func:`~._tools.gnu_tar`."""
    return f"tar --create --format=gnu --sort=name ({what})"
