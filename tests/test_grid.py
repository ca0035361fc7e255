"""FileGrid without a browser: the payload encoding, the filter and sort rules, the traitlets.

The same rules run in Chromium in tests/test_grid_browser.py (the ES module's helpers against
these functions, and the widget on a page)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ociinspect.errors import OCIInspectError
from ociinspect.values.units import format_size
from ociinspect.widgets import grid as g
from ociinspect.widgets.grid import FileGrid, GridInputError, GridTooLargeError


def decode_text(column: dict[str, Any]) -> list[str | None]:
    """The browser's decoding of a text column, with UTF-16 slicing as JavaScript does it."""
    if "dict" in column:
        return [None if c < 0 else column["dict"][c] for c in column["codes"]]
    if "values" in column:
        return list(column["values"])
    out: list[str | None] = []
    previous = b""
    for shared, suffix in zip(column["shared"], column["suffixes"], strict=True):
        if shared < 0:
            out.append(None)
            continue
        previous = previous[: 2 * shared] + suffix.encode("utf-16-le", "surrogatepass")
        out.append(previous.decode("utf-16-le", "surrogatepass"))
    return out


def listing(rows: int = 6) -> pd.DataFrame:
    """A small files_frame-shaped listing."""
    paths = ["usr", "usr/bin", "usr/bin/sh", "usr/lib/libc.so.6", "etc/passwd", "usr/bin/zsh"]
    return pd.DataFrame({
        "path": pd.Series(paths[:rows], dtype="string"),
        "type": pd.Categorical(["dir", "dir", "symlink", "file", "file", "file"][:rows]),
        "size": pd.Series([0, 0, 0, 2_000_000, 1_536, 900_000][:rows], dtype="int64"),
        "mode": pd.Series(["drwxr-xr-x"] * 2 + ["lrwxrwxrwx"] + ["-rw-r--r--"] * 3,
                          dtype="string")[:rows],
        "uid": pd.Series([0] * rows, dtype="int64"),
        "gid": pd.Series([0] * rows, dtype="int64"),
        "mtime": pd.to_datetime(pd.Series([1_700_000_000] * rows), unit="s", utc=True),
        "link_target": pd.Series([None, None, "dash", None, None, None][:rows], dtype="string"),
        "uname": pd.Series(["root"] * rows, dtype="string"),
    })


def column(payload: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in payload["columns"] if c["name"] == name)


# -- encoding -------------------------------------------------------------------------------------


TEXT_CASES = [
    pytest.param(["a", None, "b", "c"], "values", id="distinct strings are sent as they are"),
    pytest.param(["file", "dir", "file", "file", None, "dir"], "dict",
                 id="repeated strings are dictionary-encoded, missing as code -1"),
    pytest.param([f"usr/lib/python3/dist-packages/module{i:03d}.py" for i in range(50)],
                 "shared", id="paths in listing order are front-coded"),
    pytest.param(["usr/share/é/naïve", "usr/share/é/naïf", "usr/share/é/𝄞clef",
                  "usr/share/é/𝄞clé", None, "usr/share/é/𝄞"], "shared",
                 id="front coding counts UTF-16 units past non-ASCII and astral characters"),
    pytest.param(["bad\udcff name", "bad\udcff other"], "values",
                 id="lone surrogates from undecodable names survive"),
]


@pytest.mark.parametrize(("values", "form"), TEXT_CASES)
def test_text_columns_decode_to_the_original_strings(values: list[str | None], form: str) -> None:
    """A text column, however encoded, decodes (as the browser does) to the original values."""
    frame = pd.DataFrame({"path": pd.Series(values, dtype=object)})
    encoded = column(g.encode_frame(frame), "path")
    assert form in encoded
    assert decode_text(encoded) == values
    json.dumps(encoded, allow_nan=False)  # what the comm sends must be strict JSON


INT_CASES = [
    pytest.param([0, 2**53 - 1, -(2**53 - 1)], "int64", False,
                 id="safe integers are JSON numbers"),
    pytest.param([0, 2**53, 1], "int64", True, id="2**53 turns the column into exact strings"),
    pytest.param([-(2**63), 2**63 - 1], "int64", True, id="int64 extremes stay exact"),
    pytest.param([2**64 - 1, 0], "uint64", True, id="uint64 max stays exact"),
    pytest.param([1, None, 3], "Int64", False, id="nullable ints send missing as null"),
]


@pytest.mark.parametrize(("values", "dtype", "big"), INT_CASES)
def test_integers_are_exact(values: list[int | None], dtype: str, big: bool) -> None:
    """Integers survive the trip exactly: numbers up to 2**53 - 1, decimal strings beyond."""
    frame = pd.DataFrame({"path": ["p"] * len(values), "uid": pd.Series(values, dtype=dtype)})
    encoded = column(g.encode_frame(frame), "uid")
    assert encoded.get("big", False) is big
    back = [None if v is None else int(v) for v in encoded["values"]]
    assert back == values
    if not big:
        assert all(v is None or isinstance(v, int) for v in encoded["values"])


def test_size_columns_are_numbers_of_kind_size() -> None:
    """A size column is sent as byte counts with kind 'size' (shown human-readable, sorted by
    bytes); a float column of whole bytes counts as ints, other floats lose NaN/inf to null."""
    frame = pd.DataFrame({
        "path": ["a", "b", "c"],
        "size": [10, 2048, 3],
        "bytes": [1.0, np.nan, 4.0],
        "ratio": [0.5, np.nan, np.inf],
    })
    payload = g.encode_frame(frame, size_columns=("size", "bytes"))
    assert column(payload, "size") == {"name": "size", "kind": "size", "values": [10, 2048, 3]}
    assert column(payload, "bytes")["values"] == [1, None, 4]
    assert column(payload, "ratio") == {"name": "ratio", "kind": "float",
                                        "values": [0.5, None, None]}


TIME_CASES = [
    pytest.param(["2024-05-01T12:34:56Z", None], "s", [1714566896, None],
                 id="whole seconds are sent as seconds"),
    pytest.param(["2024-05-01T12:34:56.789Z", "1969-12-31T23:59:59.5Z"], "ms",
                 [1714566896789, -500], id="fractions are sent as milliseconds, before 1970 too"),
]


@pytest.mark.parametrize(("texts", "unit", "expected"), TIME_CASES)
def test_times_are_epoch_numbers_in_utc(texts: list[str | None], unit: str,
                                        expected: list[int | None]) -> None:
    """Times are sent since the epoch, UTC, in the coarsest exact unit; NaT as null."""
    frame = pd.DataFrame({"path": ["a", "b"], "mtime": pd.to_datetime(texts, utc=True)})
    encoded = column(g.encode_frame(frame), "mtime")
    assert (encoded["unit"], encoded["values"]) == (unit, expected)


def test_naive_times_are_taken_as_utc() -> None:
    """A naive timestamp encodes as the same instant in UTC."""
    naive = pd.DataFrame({"path": ["a"], "t": [datetime(2024, 1, 2, 3, 4, 5)]})
    aware = pd.DataFrame({"path": ["a"], "t": [datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)]})
    assert g.encode_frame(naive) == g.encode_frame(aware)


def test_listing_payload_shape() -> None:
    """A listing encodes to version, row count, path column, and one entry per column shown;
    mode columns are marked for the code font; the index is not sent."""
    frame = listing().set_index(pd.Index([f"row-index-{i}" for i in range(6)]))
    payload = g.encode_frame(frame, ["path", "size", "mode"])
    assert payload["version"] == 1
    assert payload["rows"] == 6
    assert payload["path"] == "path"
    assert [c["name"] for c in payload["columns"]] == ["path", "size", "mode"]
    assert column(payload, "mode")["mono"] is True
    assert "row-index" not in json.dumps(payload)


BAD_INPUTS = [
    pytest.param(lambda: g.encode_frame([1, 2]), GridInputError, "pandas DataFrame",  # type: ignore[arg-type]
                 id="not a frame"),
    pytest.param(lambda: g.encode_frame(listing(), ["path", "nope"]), GridInputError,
                 "no column 'nope'", id="an unknown column is named"),
    pytest.param(lambda: g.encode_frame(listing(), ["size"]), GridInputError,
                 "path column 'path'", id="the path column must be shown"),
    pytest.param(lambda: g.encode_frame(listing(), path_column="size"), GridInputError,
                 "holds size, not text", id="the path column must hold text"),
    pytest.param(lambda: g.encode_frame(pd.DataFrame([[1, 2]], columns=["path", "path"])),
                 GridInputError, "not unique", id="duplicate column names"),
    pytest.param(lambda: g.encode_frame(listing(), max_rows=5), GridTooLargeError,
                 "6 rows; a FileGrid shows at most 5", id="too many rows"),
    pytest.param(lambda: g.encode_frame(pd.DataFrame({f"c{i}": [1] for i in range(65)})),
                 GridTooLargeError, "65 columns", id="too many columns"),
    pytest.param(lambda: FileGrid(listing(), path_column="name"), GridInputError,
                 "path column 'name'", id="the widget names a missing path column"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD_INPUTS)
def test_bad_input_raises_a_typed_error(call: Any, error: type[Exception], message: str) -> None:
    """Bad input raises a typed OCIInspectError (also ValueError) naming what was wrong."""
    with pytest.raises(error, match=re.escape(message)) as info:
        call()
    assert isinstance(info.value, OCIInspectError)
    assert isinstance(info.value, ValueError)


def test_row_limit_is_checked_before_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the row limit nothing is encoded at all."""
    monkeypatch.setattr(g, "_encode_column", lambda *a: pytest.fail("encoded"))
    with pytest.raises(GridTooLargeError):
        g.encode_frame(listing(), max_rows=1)


def test_column_order_puts_the_listing_columns_first() -> None:
    """columns_first come first (those present, in that order), then the rest, less hidden."""
    frame = listing()[["uname", "size", "path", "link_target", "type"]]
    assert g.column_order(frame, ("path", "type", "size", "nope")) == [
        "path", "type", "size", "uname", "link_target"]
    assert g.column_order(frame, ("path",), hidden=("uname",)) == [
        "path", "size", "link_target", "type"]


SIZES = [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
         (1280, "1.2 KiB"), (5 * 2**30, "5.0 GiB"), (-2048, "-2.0 KiB"), (2**70, "1024.0 EiB")]


@pytest.mark.parametrize(("size", "text"), SIZES, ids=[t for _, t in SIZES])
def test_format_size(size: int, text: str) -> None:
    """Sizes read as people read them: binary units, one decimal, bytes exact below 1 KiB."""
    assert format_size(size) == text


# -- filter and sort rules ------------------------------------------------------------------------

MATCHES = [
    ("usr/lib/libc.so.6", "libc", True, "a substring matches anywhere"),
    ("usr/lib/libc.so.6", "LIBC", False, "substrings are case-sensitive"),
    ("usr/lib/libc.so.6", "  libc ", True, "surrounding spaces are ignored"),
    ("usr/lib/libc.so.6", "", True, "an empty filter passes everything"),
    ("usr/lib/x.so", "*.so", True, "a glob star crosses slashes"),
    ("usr/lib/libc.so.6", "*.so", False, "a glob is anchored at the end"),
    ("usr/lib/libc.so.6", "libc.so.?", True, "a glob without slash matches the base name"),
    ("usr/lib/libc.so.6", "lib/libc*", False, "a glob with a slash matches the whole path only"),
    ("usr/lib/libc.so.6", "usr/lib/libc*", True, "a whole-path glob"),
    ("usr/bin/zsh", "[xyz]sh", True, "a character class"),
    ("usr/bin/bash", "[!b]ash", False, "a negated class"),
    ("a/[x", "[x", True, "an unclosed bracket is literal"),
    ("usr/lib/c.so", "[z-a]*", False, "an empty range matches nothing"),
    ("usr/lib/a.b", "a?b", True, "? matches one character"),
]


@pytest.mark.parametrize(("path", "pattern", "expected"),
                         [m[:3] for m in MATCHES], ids=[m[3] for m in MATCHES])
def test_path_matches(path: str, pattern: str, expected: bool) -> None:
    """The filter rule: substring, or fnmatch glob on the path or (without '/') the base name."""
    assert g.path_matches(path, pattern) is expected


def test_filter_mask_skips_missing_paths() -> None:
    """Missing paths pass the empty filter only."""
    paths = pd.Series(["usr/a", None, "etc/a"], dtype="string")
    assert g.filter_mask(paths, "").tolist() == [True, True, True]
    assert g.filter_mask(paths, "a").tolist() == [True, False, True]


def test_view_order_is_stable_with_missing_values_last() -> None:
    """Sorting is stable (ties keep frame order) and puts missing values last both ways;
    categoricals sort by their text."""
    frame = pd.DataFrame({
        "n": pd.Series([2, None, 1, 2], dtype="Int64"),
        "t": pd.Categorical(["dir", "file", "dir", "char"]),
    })
    assert g.view_order(frame, "n", True).tolist() == [2, 0, 3, 1]
    assert g.view_order(frame, "n", False).tolist() == [0, 3, 2, 1]
    assert g.view_order(frame, "t", True).tolist() == [3, 0, 2, 1]
    assert g.view_order(frame, "", True).tolist() == [0, 1, 2, 3]
    with pytest.raises(GridInputError, match="cannot sort by 'x'"):
        g.view_order(frame, "x", True)


# -- the widget -----------------------------------------------------------------------------------


def test_widget_state_and_defaults() -> None:
    """A new grid holds the payload, frame order, no filter, no selection, every row shown;
    its state is strict JSON."""
    grid = FileGrid(listing())
    assert grid.data == g.encode_frame(listing(), g.column_order(listing(), g.LISTING_COLUMNS))
    assert [c["name"] for c in grid.data["columns"]][:3] == ["path", "type", "size"]
    assert (grid.filter, grid.sort, grid.selected, grid.shown) == ("", ("", True), None, 6)
    state = grid.get_state()
    json.dumps({k: v for k, v in state.items() if k in {"data", "filter", "sort", "selected"}},
               allow_nan=False)


def test_filter_and_sort_drive_the_visible_frame() -> None:
    """visible_frame applies filter and sort as the browser does; sort takes a list too."""
    grid = FileGrid(listing())
    grid.filter = "usr/bin"
    grid.sort = ["size", False]  # type: ignore[assignment]
    assert grid.sort == ("size", False)
    assert grid.visible_frame()["path"].tolist() == ["usr/bin/zsh", "usr/bin", "usr/bin/sh"]
    grid.filter = "*sh"
    grid.sort = ("path", False)
    assert grid.visible_frame()["path"].tolist() == ["usr/bin/zsh", "usr/bin/sh"]


BAD_SORTS = [
    pytest.param(("nope", True), "cannot sort by 'nope'", id="an unknown column"),
    pytest.param(("size",), "(column, ascending)", id="a one-element key"),
    pytest.param("size", "(column, ascending)", id="a bare string"),
    pytest.param(("size", "yes"), "(column, ascending)", id="a direction that is not a bool"),
]


@pytest.mark.parametrize(("value", "message"), BAD_SORTS)
def test_bad_sort_keys_are_refused(value: Any, message: str) -> None:
    """A sort key that is not (shown column, ascending) raises and leaves the sort as it was."""
    grid = FileGrid(listing())
    with pytest.raises(GridInputError, match=re.escape(message)):
        grid.sort = value
    assert grid.sort == ("", True)


def test_hidden_columns_cannot_be_sorted_or_seen() -> None:
    """A hidden column is not sent and cannot be the sort key."""
    grid = FileGrid(listing(), hidden=("uname",))
    assert "uname" not in [c["name"] for c in grid.data["columns"]]
    with pytest.raises(GridInputError):
        grid.sort = ("uname", True)


def test_new_frame_replaces_data_and_clears_the_selection() -> None:
    """Setting .frame sends a new payload and clears the selection; a bad frame changes
    nothing."""
    grid = FileGrid(listing())
    grid.selected = "usr/bin/sh"
    grid.frame = listing(3)
    assert (grid.data["rows"], grid.selected) == (3, None)
    with pytest.raises(GridInputError):
        grid.frame = pd.DataFrame({"name": ["x"]})
    assert grid.data["rows"] == 3
    assert len(grid.frame) == 3


def test_assets_ship_with_the_package_and_load_nothing_remote() -> None:
    """The ES module and stylesheet are local files; the module imports nothing and the CSS
    names no URL, so the grid works offline; colours come from JupyterLab's variables."""
    js = (g.STATIC / "grid.js").read_text()
    css = (g.STATIC / "grid.css").read_text()
    assert "export default" in js
    assert not re.search(r"^\s*import\s", js, re.M)
    assert "http" not in js.replace("https://", "") and "url(" not in css
    for variable in ("--jp-layout-color0", "--jp-layout-color1", "--jp-ui-font-color0",
                     "--jp-ui-font-color1", "--jp-brand-color1", "--jp-ui-inverse-font-color0"):
        assert variable in css
