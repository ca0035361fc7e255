"""What an image runs, as tables: its os-release and its installed packages (no I/O here).

:func:`packages_frame` columns (one row per package its managers' databases list):

===================  ============  ===========================================================
column               dtype         meaning
===================  ============  ===========================================================
``manager``          category      ``dpkg``, ``apk``, ``rpm``, ``python``
``name``             string        the package name as its manager writes it
``version``          string        the full version the manager compares
``architecture``     string        e.g. ``amd64``, ``all``, ``x86_64`` (<NA> for Python)
``source``           string        the source package (dpkg ``Source``, apk origin, rpm SRPM)
``license``          string        where the database records one (rpm, apk, Python)
``status``           string        dpkg's ``want flag status`` (<NA> for other managers)
``layer``            Int64         position of the layer that installed it (0 = bottom)
``layer_digest``     string        that layer's blob digest
``database``         string        the file the row was read from (absolute path)
===================  ============  ===========================================================

:func:`os_release_frame`: one row, ``id``, ``version_id``, ``version_codename``, ``name``,
``pretty_name``, ``id_like`` (space separated), ``path`` (the file read, or <NA>),
``layer`` and ``note`` (why there is no answer, e.g. a scratch image).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..packages import MANAGERS, OsRelease, Package
from .frame import OPTIONAL_INT, STRING, Table, table

PACKAGE_COLUMNS = {
    "manager": pd.CategoricalDtype(sorted(MANAGERS)),
    "name": STRING,
    "version": STRING,
    "architecture": STRING,
    "source": STRING,
    "license": STRING,
    "status": STRING,
    "layer": OPTIONAL_INT,
    "layer_digest": STRING,
    "database": STRING,
}

OS_COLUMNS = {
    "id": STRING,
    "version_id": STRING,
    "version_codename": STRING,
    "name": STRING,
    "pretty_name": STRING,
    "id_like": STRING,
    "path": STRING,
    "layer": OPTIONAL_INT,
    "note": STRING,
}


def packages_frame(rows: Sequence[tuple[Package, int | None, str | None, str]]) -> Table:
    """``rows`` of (package, layer, layer digest, database path), sorted by manager and name."""
    ordered = sorted(rows, key=lambda r: (r[0].manager, r[0].name, r[0].architecture or ""))
    columns: dict[str, list[object]] = {
        "manager": [p.manager for p, *_ in ordered],
        "name": [p.name for p, *_ in ordered],
        "version": [p.version for p, *_ in ordered],
        "architecture": [p.architecture for p, *_ in ordered],
        "source": [p.source for p, *_ in ordered],
        "license": [p.license for p, *_ in ordered],
        "status": [p.extra.get("status") for p, *_ in ordered],
        "layer": [layer for _, layer, _, _ in ordered],
        "layer_digest": [digest for _, _, digest, _ in ordered],
        "database": [path for *_, path in ordered],
    }
    return table(columns, PACKAGE_COLUMNS)


def os_release_frame(
    found: OsRelease | None, path: str | None, layer: int | None, note: str | None
) -> Table:
    """The one-row os-release table (all <NA> but ``note`` when there is no file)."""
    if found is None:
        values: dict[str, list[str | None]] = {name: [None] for name in OS_COLUMNS}
        values["note"] = [note]
        return table(values, OS_COLUMNS)
    return table(
        {
            "id": [found.id],
            "version_id": [found.version_id],
            "version_codename": [found.version_codename],
            "name": [found.name],
            "pretty_name": [found.pretty_name],
            "id_like": [" ".join(found.id_like) or None],
            "path": [path],
            "layer": [layer],
            "note": [note],
        },
        OS_COLUMNS,
    )


__all__ = ["OS_COLUMNS", "PACKAGE_COLUMNS", "os_release_frame", "packages_frame"]
