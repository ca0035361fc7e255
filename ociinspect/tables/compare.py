"""Compare two images: which layers they share, which were added or removed, what config
fields differ. Pure.

Layers are matched in ``b``'s order: each layer of ``b`` takes the first layer of ``a`` not yet
taken with the same digest, else the first with the same ``diff_id`` (the same tar, compressed
differently, e.g. after a ``skopeo copy`` to ``docker-archive``). Matches are ``shared``; the
rest of ``b`` is ``added`` and the rest of ``a`` ``removed``. A layer present twice counts twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..values.digest import Digest
from ..values.models import ImageConfig, Manifest
from .frame import INT, OPTIONAL_INT, STRING, Table, format_size, table
from .image import config_fields, json_text, other_fields

STATUS_DTYPE = pd.CategoricalDtype(["shared", "added", "removed"])
MATCH_DTYPE = pd.CategoricalDtype(["digest", "diff_id"])

COMPARE_LAYERS_COLUMNS: dict[str, Any] = {
    "status": STATUS_DTYPE,
    "digest": STRING,
    "diff_id": STRING,
    "compressed_size": INT,
    "position_a": OPTIONAL_INT,
    "position_b": OPTIONAL_INT,
    "match": MATCH_DTYPE,
}
COMPARE_CONFIG_COLUMNS: dict[str, Any] = {"field": STRING, "a": STRING, "b": STRING}
SUMMARY_COLUMNS: dict[str, Any] = {
    "status": STATUS_DTYPE, "layers": INT, "compressed_size": INT
}

#: Counts compared besides the fields of :func:`~ociinspect.tables.image.config_fields`.
COUNTS: dict[str, Callable[[ImageConfig], str | None]] = {
    "layers": lambda c: str(len(c.diff_ids)),
    "history_steps": lambda c: str(len(c.history)),
}


@dataclass(frozen=True, eq=False)
class Comparison:
    """What :func:`compare_frames` found.

    ``layers``: ``status`` (category: shared, added, removed), ``digest`` (string: ``b``'s
    blob for shared and added layers, ``a``'s for removed ones), ``diff_id`` (string),
    ``compressed_size`` (int64, bytes of that blob as stored), ``position_a``, ``position_b``
    (Int64, <NA> where the layer is absent), ``match`` (category: digest, diff_id; NaN unless
    shared).

    ``config``: the fields that differ, ``field`` (string: every column of
    :func:`~ociinspect.tables.image.config_frame` that holds a field, ``user``, ``cmd``,
    ``healthcheck``, ``shell``, ``on_build``, ``args_escaped``, ``base_name``, …; then
    ``layers`` and ``history_steps`` (counts), ``env.NAME``, ``label.NAME`` and
    ``other.KEY`` for each key of ``other_fields``), ``a``, ``b`` (string; <NA> when absent
    on that side). Values are the text of
    :func:`~ociinspect.tables.image.config_fields`, so "none" is <NA> in both tables, lists
    are JSON, and ``args_escaped`` reads ``true``/``false``.
    """

    layers: Table
    config: Table
    a: str
    b: str

    @property
    def summary(self) -> Table:
        """``status``, ``layers`` (count), ``compressed_size`` (bytes): one row per status."""
        statuses = list(STATUS_DTYPE.categories)
        status = self.layers["status"]
        sizes = self.layers["compressed_size"]
        return table(
            {
                "status": statuses,
                "layers": [int((status == s).sum()) for s in statuses],
                "compressed_size": [int(sizes[status == s].sum()) for s in statuses],
            },
            SUMMARY_COLUMNS,
            size_columns=("compressed_size",),
        )

    def size(self, status: str) -> int:
        """Total bytes of the layers with ``status`` (shared, added or removed)."""
        return int(self.layers.loc[self.layers["status"] == status, "compressed_size"].sum())

    @property
    def identical(self) -> bool:
        """The same layer blobs in the same order, and no config field differs."""
        layers = self.layers
        if not self.config.empty or not (layers["status"] == "shared").all():
            return False
        same_place = layers["position_a"].astype("int64") == layers["position_b"].astype("int64")
        return bool(((layers["match"] == "digest") & same_place).all())

    def __repr__(self) -> str:
        statuses = ("shared", "added", "removed")
        parts = [f"{s} {format_size(self.size(s))}" for s in statuses]
        return (
            f"<Comparison {self.a[:19]} -> {self.b[:19]} {', '.join(parts)}; "
            f"{len(self.config)} config fields differ>"
        )

    def _repr_html_(self) -> str:
        return (
            "<h4>Layers</h4>" + self.summary._repr_html_() + self.layers._repr_html_()
            + "<h4>Config differences</h4>" + self.config._repr_html_()
        )


def _layer_rows(
    a: Manifest, a_diff: tuple[str, ...], b: Manifest, b_diff: tuple[str, ...]
) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {name: [] for name in COMPARE_LAYERS_COLUMNS}

    def add(status: str, digest: Digest, diff_id: str | None, size: int,
            pa: int | None, pb: int | None, match: str | None) -> None:
        for name, value in zip(
            COMPARE_LAYERS_COLUMNS, (status, digest, diff_id, size, pa, pb, match), strict=True
        ):
            rows[name].append(value)

    def diff_of(diffs: tuple[str, ...], i: int) -> str | None:
        return diffs[i] if i < len(diffs) else None

    free = list(range(len(a.layers)))
    for j, layer in enumerate(b.layers):
        diff_id = diff_of(b_diff, j)
        i = next((i for i in free if a.layers[i].digest == layer.digest), None)
        how = "digest"
        if i is None and diff_id is not None:
            i = next((i for i in free if diff_of(a_diff, i) == diff_id), None)
            how = "diff_id"
        if i is None:
            add("added", layer.digest, diff_id, layer.size, None, j, None)
        else:
            free.remove(i)
            add("shared", layer.digest, diff_id, layer.size, i, j, how)
    for i in free:
        layer = a.layers[i]
        add("removed", layer.digest, diff_of(a_diff, i), layer.size, i, None, None)
    return rows


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json_text(value)


def _config_rows(
    a: ImageConfig, b: ImageConfig, a_manifest: Manifest | None, b_manifest: Manifest | None
) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {"field": [], "a": [], "b": []}

    def add(name: str, left: Any, right: Any) -> None:
        left, right = _text(left), _text(right)
        if left != right:
            rows["field"].append(name)
            rows["a"].append(left)
            rows["b"].append(right)

    left_fields, right_fields = config_fields(a, a_manifest), config_fields(b, b_manifest)
    for name in left_fields:
        if name != "other_fields":
            add(name, left_fields[name], right_fields[name])
    for name, get in COUNTS.items():
        add(name, get(a), get(b))
    for prefix, left_map, right_map in (
        ("env", a.env_dict, b.env_dict),
        ("label", dict(a.labels), dict(b.labels)),
        ("other", other_fields(a), other_fields(b)),
    ):
        for key in sorted(set(left_map) | set(right_map)):
            add(f"{prefix}.{key}", left_map.get(key), right_map.get(key))
    return rows


def compare_frames(
    a: Manifest, a_config: ImageConfig | None, b: Manifest, b_config: ImageConfig | None
) -> Comparison:
    """Compare image ``a`` with image ``b`` (see the module docstring for layer matching).
    Without both configs there is no diff_id matching and no config comparison."""
    a_diff = a_config.diff_ids if a_config is not None else ()
    b_diff = b_config.diff_ids if b_config is not None else ()
    layers = table(
        _layer_rows(a, a_diff, b, b_diff),
        COMPARE_LAYERS_COLUMNS,
        size_columns=("compressed_size",),
    )
    config_rows = (
        _config_rows(a_config, b_config, a, b)
        if a_config is not None and b_config is not None
        else {"field": [], "a": [], "b": []}
    )
    return Comparison(layers, table(config_rows, COMPARE_CONFIG_COLUMNS), a.digest, b.digest)


__all__ = [
    "COMPARE_CONFIG_COLUMNS",
    "COMPARE_LAYERS_COLUMNS",
    "COUNTS",
    "MATCH_DTYPE",
    "STATUS_DTYPE",
    "SUMMARY_COLUMNS",
    "Comparison",
    "compare_frames",
]
