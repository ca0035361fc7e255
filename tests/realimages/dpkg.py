"""A real-shaped dpkg database (``/var/lib/dpkg``) for .debs unpacked with ``dpkg-deb -x``.

``dpkg-deb -x`` only extracts files; ``dpkg -i`` would also record the package. This module writes
what dpkg 1.21 records, from each .deb's own control data (``dpkg-deb -f`` and ``dpkg-deb -I``):

- ``status``: one stanza per package, sorted by name, fields in the order dpkg writes them
  (``fieldinfos`` in dpkg's lib/dpkg/parse.c: Package, Essential, Status, Priority, Section,
  Installed-Size, Maintainer, Architecture, Multi-Arch, Source, Version, Replaces, Provides,
  Depends, Pre-Depends, ..., Conffiles, Description, then any other field in control order), with
  ``Status: install ok installed`` and ``Conffiles:`` lines ``<path> <md5 of the installed file>``;
- ``info/<package>.list`` (``<package>:<arch>.list`` for ``Multi-Arch: same``): ``/.`` and every
  path of the data archive; ``info/<package>.md5sums``: the .deb's ``md5sums`` member.
"""

from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ._tools import run

#: dpkg's field order for status stanzas (known fields); other fields follow in control order.
DPKG_FIELD_ORDER = (
    "Package",
    "Essential",
    "Protected",
    "Status",
    "Priority",
    "Section",
    "Installed-Size",
    "Origin",
    "Maintainer",
    "Bugs",
    "Architecture",
    "Multi-Arch",
    "Source",
    "Version",
    "Revision",
    "Config-Version",
    "Replaces",
    "Provides",
    "Depends",
    "Pre-Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Enhances",
    "Conffiles",
    "Filename",
    "Size",
    "MD5sum",
    "MSDOS-Filename",
    "Description",
    "Triggers-Pending",
    "Triggers-Awaited",
)

_MAX_CONTROL = 1 << 20


@dataclass(frozen=True)
class Deb:
    """A .deb file with its control fields (name -> value, continuation lines kept)."""

    path: Path
    fields: tuple[tuple[str, str], ...]

    def field(self, name: str) -> str:
        """The value of control field ``name`` (case-insensitive); KeyError if absent."""
        for key, value in self.fields:
            if key.lower() == name.lower():
                return value
        raise KeyError(f"{self.path.name} has no control field {name!r}")

    @property
    def package(self) -> str:
        return self.field("Package")

    @property
    def info_name(self) -> str:
        """The file name stem dpkg uses under info/ (``zlib1g:amd64`` for Multi-Arch: same)."""
        multi_arch = dict(self.fields).get("Multi-Arch", "")
        if multi_arch == "same":
            return f"{self.package}:{self.field('Architecture')}"
        return self.package


def parse_control(text: str, origin: str) -> tuple[tuple[str, str], ...]:
    """Parse one deb822 paragraph (Debian Policy 5.1): ``Field: value`` plus continuation lines."""
    if len(text) > _MAX_CONTROL:
        raise ValueError(f"{origin}: control data over {_MAX_CONTROL} bytes")
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t":
            if not fields:
                raise ValueError(f"{origin}: continuation line before any field: {line!r}")
            name, value = fields[-1]
            fields[-1] = (name, value + "\n" + line)
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or " " in name:
            raise ValueError(f"{origin}: not a control field line: {line!r}")
        fields.append((name, value.strip()))
    return tuple(fields)


def read_deb(path: Path) -> Deb:
    """The control fields of a .deb, as ``dpkg-deb -f`` prints them."""
    return Deb(path=path, fields=parse_control(run(["dpkg-deb", "-f", str(path)]), str(path)))


def control_members(deb: Deb, scratch: Path) -> dict[str, bytes]:
    """The members of the .deb's control archive (``control``, ``md5sums``, ``conffiles``...)."""
    archive = scratch / f"{deb.path.name}.control.tar"
    run(["dpkg-deb", "--ctrl-tarfile", str(deb.path)], stdout_path=archive)
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for member in tar:
                if member.size > _MAX_CONTROL:
                    raise ValueError(f"{deb.path.name}: {member.name} over {_MAX_CONTROL} bytes")
                stream = tar.extractfile(member) if member.isfile() else None
                if stream is not None:
                    members[member.name.removeprefix("./")] = stream.read()
    finally:
        archive.unlink()
    return members


def status_stanza(deb: Deb, root: Path, conffiles: str) -> str:
    """The stanza dpkg writes to ``status`` after installing ``deb`` whose files are in ``root``;
    ``conffiles`` is the .deb's ``conffiles`` member (one absolute path a line)."""
    fields = dict(deb.fields)
    fields["Status"] = "install ok installed"
    lines = []
    for path in conffiles.split():
        data = (root / path.lstrip("/")).read_bytes()
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        lines.append(f" {path} {md5}")
    if lines:
        fields["Conffiles"] = "\n" + "\n".join(lines)
    ordered = [name for name in DPKG_FIELD_ORDER if name in fields]
    ordered += [name for name, _ in deb.fields if name not in DPKG_FIELD_ORDER]
    return "".join(
        f"{name}:{value}\n" if value.startswith("\n") else f"{name}: {value}\n"
        for name, value in ((name, fields[name]) for name in ordered)
    )


def write_database(debs: list[Deb], root: Path, scratch: Path) -> Path:
    """Write ``var/lib/dpkg/{status,info/*}`` under ``root`` for ``debs`` (whose files are already
    extracted there), using ``scratch`` for temporary files; return the admindir."""
    admindir = root / "var" / "lib" / "dpkg"
    info = admindir / "info"
    info.mkdir(parents=True, exist_ok=True)
    stanzas = []
    for deb in sorted(debs, key=lambda deb: deb.package):
        control = control_members(deb, scratch)
        conffiles = control.get("conffiles", b"").decode()
        stanzas.append(status_stanza(deb, root, conffiles))
        (info / f"{deb.info_name}.list").write_text(_file_list(deb, scratch))
        (info / f"{deb.info_name}.md5sums").write_bytes(control["md5sums"])
        if conffiles:
            (info / f"{deb.info_name}.conffiles").write_text(conffiles)
    (admindir / "status").write_text("\n".join(stanzas))
    for empty in ("available", "diversions", "statoverride"):
        (admindir / empty).touch()
    (admindir / "updates").mkdir(exist_ok=True)
    return admindir


def _file_list(deb: Deb, scratch: Path) -> str:
    archive = scratch / f"{deb.path.name}.fsys.tar"
    run(["dpkg-deb", "--fsys-tarfile", str(deb.path)], stdout_path=archive)
    try:
        with tarfile.open(archive, mode="r:") as tar:
            names = [member.name for member in tar]
    finally:
        archive.unlink()
    lines = ["/." if name in (".", "./") else "/" + name.removeprefix("./") for name in names]
    return "".join(line + "\n" for line in lines)
