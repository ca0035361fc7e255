"""ociinspect.tables: pure model -> DataFrame functions, on images built with
ociinspect.testing.build."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from ociinspect.distribution.trace import Exchange
from ociinspect.errors import NotFoundError
from ociinspect.tables import (
    COMPARE_CONFIG_COLUMNS,
    COMPARE_LAYERS_COLUMNS,
    CONFIG_COLUMNS,
    HISTORY_COLUMNS,
    KEY_VALUE_COLUMNS,
    LAYERS_COLUMNS,
    PLATFORMS_COLUMNS,
    REFERRERS_COLUMNS,
    TAGS_COLUMNS,
    TRACE_COLUMNS,
    Table,
    compare_frames,
    config_frame,
    env_frame,
    format_share,
    format_size,
    history_frame,
    labels_frame,
    layers_frame,
    platforms_frame,
    referrers_frame,
    tags_frame,
    trace_frame,
)
from ociinspect.testing import build
from ociinspect.values import mediatypes as mt
from ociinspect.values.digest import sha256
from ociinspect.values.entries import entries
from ociinspect.values.models import Descriptor, ImageConfig, Index, Manifest, parse_config

NA = pd.NA


def models(img: build.BuiltImage) -> tuple[Manifest, ImageConfig]:
    """The parsed manifest and config of a built image."""
    return Manifest.from_bytes(img.manifest.data), parse_config(img.config.data)


def config_of(body: dict[str, Any]) -> ImageConfig:
    """A config parsed from hand-written JSON (rootfs added when missing)."""
    body.setdefault("architecture", "amd64")
    body.setdefault("os", "linux")
    body.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    return parse_config(json.dumps(body).encode())


def diff(n: int) -> str:
    return sha256(f"layer {n}".encode())


def layer(name: str, size: int = 10, compression: build.Compression = "gzip") -> build.Blob:
    return build.layer([build.file(name, name.encode() * size)], compression)


def three_layer_image(**config: Any) -> build.BuiltImage:
    """ADD (gzip), ENV, RUN (zstd), WORKDIR, COPY (none), CMD: three layers, six steps."""
    steps = [
        build.Step("ADD rootfs /", created="2024-02-01T10:00:00Z", comment="base"),
        build.Step("ENV A=1", empty_layer=True),
        build.Step("RUN make", author="alice"),
        build.Step("WORKDIR /app", empty_layer=True),
        build.Step("COPY app /app", created="2024-02-01T12:00:00+02:00"),
        build.Step('CMD ["run"]', empty_layer=True),
    ]
    layers = [layer("a", 100), layer("b", 200, "zstd"), layer("c", 300, "none")]
    return build.image(layers, history=steps, **config)


def dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {name: str(dtype) for name, dtype in frame.dtypes.items()}


def expected(columns: dict[str, Any]) -> dict[str, str]:
    return {name: str(pd.Series([], dtype=dtype).dtype) for name, dtype in columns.items()}


# --------------------------------------------------------------------------- history alignment


def test_history_maps_non_empty_steps_to_layers_in_order() -> None:
    """Empty steps get no layer; the others take layers 0, 1, 2 with those layers' sizes."""
    img = three_layer_image()
    manifest, config = models(img)
    frame = history_frame(config, manifest)
    assert frame["step"].tolist() == [0, 1, 2, 3, 4, 5]
    assert frame["empty_layer"].tolist() == [False, True, False, True, False, True]
    assert frame["layer"].tolist() == [0, NA, 1, NA, 2, NA]
    sizes = [b.size for b in img.layers]
    assert frame["compressed_size"].tolist() == [sizes[0], NA, sizes[1], NA, sizes[2], NA]
    assert frame["created_by"].tolist()[4] == "COPY app /app"
    assert frame["author"].tolist()[2] == "alice"


def test_layers_carry_the_step_that_made_them() -> None:
    """Each layer row names its creating step, skipping ENV/WORKDIR/CMD steps between them."""
    manifest, config = models(three_layer_image())
    frame = layers_frame(manifest, config)
    assert frame["created_by"].tolist() == ["ADD rootfs /", "RUN make", "COPY app /app"]
    assert frame["comment"].tolist() == ["base", NA, NA]
    assert frame["compression"].tolist() == ["gzip", "zstd", "none"]
    assert frame["diff_id"].tolist() == list(config.diff_ids)
    assert frame["created"].tolist()[0] == pd.Timestamp("2024-02-01T10:00:00Z")
    # +02:00 in the config is 10:00 UTC in the table
    assert frame["created"].tolist()[2] == pd.Timestamp("2024-02-01T10:00:00Z")
    assert "base_name" not in frame.columns  # no base-image annotations: no such columns


@pytest.mark.parametrize(
    ("history", "diff_ids", "layer_column", "made_by"),
    [
        (
            [{"created_by": "ARG X", "empty_layer": True}, {"created_by": "ADD"},
             {"created_by": "RUN"}],
            2,
            [NA, 0, 1],
            ["ADD", "RUN"],
        ),
        (
            [{"created_by": "ADD"}, {"created_by": "RUN"}, {"created_by": "RUN again"}],
            2,
            [0, 1, NA],
            ["ADD", "RUN"],
        ),
        (
            [{"created_by": "ADD"}, {"created_by": "ENV", "empty_layer": True}],
            3,
            [0, NA],
            ["ADD", NA, NA],
        ),
        ([], 2, [], [NA, NA]),
        (
            [{"created_by": "ADD", "empty_layer": False}, {"created_by": "CMD",
             "empty_layer": True}, {"created_by": "COPY"}],
            2,
            [0, NA, 1],
            ["ADD", "COPY"],
        ),
    ],
    ids=[
        "leading empty steps take no layer",
        "extra non-empty steps beyond the last layer have none",
        "layers beyond the history have no step",
        "no history at all leaves every layer without a step",
        "an explicit empty_layer false counts as a layer",
    ],
)
def test_history_alignment_edge_cases(
    history: list[dict[str, Any]], diff_ids: int, layer_column: list[Any], made_by: list[Any]
) -> None:
    """history and layers agree on which step made which layer, whatever the counts."""
    config = config_of(
        {"history": history, "rootfs": {"type": "layers",
                                        "diff_ids": [diff(i) for i in range(diff_ids)]}}
    )
    layers = [Descriptor(mt.OCI_LAYER_GZIP, diff(i), 100 + i) for i in range(diff_ids)]
    manifest = Manifest(b"{}", sha256(b"{}"), mt.OCI_MANIFEST, 2,
                        Descriptor(mt.OCI_CONFIG, config.digest, len(config.raw)), tuple(layers))
    assert history_frame(config, manifest)["layer"].tolist() == layer_column
    assert layers_frame(manifest, config)["created_by"].tolist() == made_by


# --------------------------------------------------------------------------- dtypes and empties


def _full_frames() -> dict[str, tuple[pd.DataFrame, dict[str, Any]]]:
    img = three_layer_image(labels={"a": "b"}, user="app")
    manifest, config = models(img)
    comparison = compare_frames(manifest, config, manifest, config_of({}))
    return {
        "layers": (layers_frame(manifest, config), LAYERS_COLUMNS),
        "history": (history_frame(config, manifest), HISTORY_COLUMNS),
        "config": (config_frame(config, manifest), CONFIG_COLUMNS),
        "env": (env_frame(config), KEY_VALUE_COLUMNS),
        "labels": (labels_frame(config), KEY_VALUE_COLUMNS),
        "tags": (tags_frame(["latest"]), TAGS_COLUMNS),
        "compare layers": (comparison.layers, COMPARE_LAYERS_COLUMNS),
        "compare config": (comparison.config, COMPARE_CONFIG_COLUMNS),
    }


def _empty_frames() -> dict[str, tuple[pd.DataFrame, dict[str, Any]]]:
    bare = config_of({})
    empty_index = Index.from_bytes(
        json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}).encode()
    )
    return {
        "platforms": (platforms_frame([]), PLATFORMS_COLUMNS),
        "history": (history_frame(bare), HISTORY_COLUMNS),
        "env": (env_frame(bare), KEY_VALUE_COLUMNS),
        "labels": (labels_frame(bare), KEY_VALUE_COLUMNS),
        "tags": (tags_frame([]), TAGS_COLUMNS),
        "referrers": (referrers_frame(empty_index), REFERRERS_COLUMNS),
        "trace": (trace_frame([]), TRACE_COLUMNS),
    }


@pytest.mark.parametrize("name", list(_full_frames()), ids=lambda n: f"{n} table")
def test_columns_and_dtypes_are_the_documented_ones(name: str) -> None:
    """Each table has exactly its *_COLUMNS names, in order, with their dtypes."""
    frame, columns = _full_frames()[name]
    assert isinstance(frame, Table)
    assert dtypes(frame) == expected(columns)
    assert len(frame) > 0


@pytest.mark.parametrize("name", list(_empty_frames()), ids=lambda n: f"empty {n} table")
def test_empty_inputs_give_empty_tables_with_the_same_columns(name: str) -> None:
    """Nothing in, no rows out, but the same columns and dtypes as a full table."""
    frame, columns = _empty_frames()[name]
    assert isinstance(frame, Table)
    assert frame.empty
    assert dtypes(frame) == expected(columns)


def test_sizes_are_int64_bytes_and_shares_add_up() -> None:
    """Layer sizes are the descriptor byte counts as int64; shares sum to one."""
    img = three_layer_image()
    frame = layers_frame(*models(img))
    assert str(frame["compressed_size"].dtype) == "int64"
    assert frame["compressed_size"].tolist() == [b.size for b in img.layers]
    assert frame["share"].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- config, env, labels


def test_config_summary_keeps_absent_apart_from_empty() -> None:
    """An absent Entrypoint is <NA>; an empty one is "[]"; lists are JSON text."""
    img = three_layer_image(
        entrypoint=[], cmd=["serve", "--port", "80"], exposed_ports=["80/tcp", "53/udp"],
        volumes=["/data"], user="app", working_dir="/srv", stop_signal="SIGINT",
        labels={"x": "1", "y": "2"}, env=["A=1", "B=2=3"], platform="linux/arm/v7",
    )
    manifest, config = models(img)
    row = config_frame(config, manifest).iloc[0]
    assert row["entrypoint"] == "[]"
    assert json.loads(row["cmd"]) == ["serve", "--port", "80"]
    assert json.loads(row["exposed_ports"]) == ["53/udp", "80/tcp"]  # JSON object key order
    assert (row["platform"], row["variant"], row["user"], row["working_dir"]) == (
        "linux/arm/v7", "v7", "app", "/srv"
    )
    assert (row["env_count"], row["label_count"], row["layers"]) == (2, 2, 3)
    assert row["compressed_size"] == sum(b.size for b in img.layers)
    assert row["stored_size"] == img.manifest.size + img.config.size + sum(
        b.size for b in img.layers
    )
    assert (row["digest"], row["config_digest"]) == (img.digest, img.config.digest)
    bare = config_frame(config_of({})).iloc[0]
    assert bare["entrypoint"] is NA and bare["cmd"] is NA and bare["digest"] is NA


def test_env_splits_at_the_first_equals_sign_and_keeps_order() -> None:
    """``B=2=3`` is key B, value ``2=3``; entries stay in config order."""
    config = config_of({"config": {"Env": ["Z=1", "B=2=3", "EMPTY="]}})
    frame = env_frame(config)
    assert frame["key"].tolist() == ["Z", "B", "EMPTY"]
    assert frame["value"].tolist() == ["1", "2=3", ""]


def test_labels_are_key_value_rows() -> None:
    """Labels come out as key/value string rows."""
    config = config_of({"config": {"Labels": {"b": "2", "a": "<1>"}}})
    frame = labels_frame(config)
    assert dict(zip(frame["key"], frame["value"], strict=True)) == {"b": "2", "a": "<1>"}


# --------------------------------------------------------------------------- platforms


def _index_rows() -> tuple[build.BuiltIndex, list[Any]]:
    built = build.index([three_layer_image(platform=p) for p in ("linux/amd64", "linux/arm64")])
    found = entries(Index.from_bytes(built.index.data))
    rows: list[Any] = []
    for entry in found:
        blob = next(i for i in (*built.images, *built.attestations)
                    if i.digest == entry.descriptor.digest)
        manifest, config = models(blob)
        rows.append((entry, manifest, config if entry.kind == "image" else None))
    return built, rows


def test_platforms_name_attestations_and_what_they_describe() -> None:
    """Images show their platform; unknown/unknown entries are attestations of an image."""
    built, rows = _index_rows()
    frame = platforms_frame(rows)
    assert frame["kind"].tolist() == ["image", "image", "attestation", "attestation"]
    assert frame["platform"].tolist()[:2] == ["linux/amd64", "linux/arm64/v8"]
    assert frame["platform"].tolist()[2:] == ["unknown/unknown"] * 2
    assert frame["describes"].tolist() == [NA, NA, built.images[0].digest, built.images[1].digest]
    first = built.images[0]
    assert frame["manifest_size"].tolist()[0] == first.manifest.size
    assert frame["layers"].tolist()[0] == 3
    assert frame["config_size"].tolist()[0] == first.config.size
    assert frame["compressed_size"].tolist()[0] == sum(b.size for b in first.layers)
    assert frame["stored_size"].tolist()[0] == (
        first.manifest.size + first.config.size + sum(b.size for b in first.layers)
    )
    assert frame["created"].tolist()[0] == pd.Timestamp("2024-01-01T00:00:00Z")
    assert frame["created"].isna().tolist()[2:] == [True, True]
    assert frame["error"].isna().all()


def test_a_failed_entry_keeps_its_row_and_says_why() -> None:
    """An entry whose manifest could not be loaded has its error and descriptor facts."""
    _, rows = _index_rows()
    entry = rows[1][0]
    rows[1] = (entry, NotFoundError("GET", "http://r/v2/x/manifests/y", 404), None)
    frame = platforms_frame(rows)
    assert frame["error"].tolist()[1] == "NotFoundError: GET http://r/v2/x/manifests/y: 404"
    assert frame["layers"].tolist()[1] is NA and frame["compressed_size"].tolist()[1] is NA
    assert frame["digest"].tolist()[1] == entry.descriptor.digest
    assert frame["error"].isna().tolist() == [True, False, True, True]


# --------------------------------------------------------------------------- compare


def test_compare_finds_shared_added_and_removed_layers_with_totals() -> None:
    """Layers match by digest; the rest is added (b) or removed (a), with byte totals."""
    base, old, new = layer("base", 50), layer("old", 70), layer("new", 90)
    a = build.image([base, old], env=["A=1", "GONE=x"], cmd=["old"], labels={"v": "1"})
    b = build.image([base, new], env=["A=2", "NEW=y"], cmd=["new"], labels={"v": "1", "w": "2"},
                    user="app")
    result = compare_frames(*models(a), *models(b))
    layers = result.layers
    assert layers["status"].tolist() == ["shared", "added", "removed"]
    assert layers["digest"].tolist() == [base.digest, new.digest, old.digest]
    assert layers["position_a"].tolist() == [0, NA, 1]
    assert layers["position_b"].tolist() == [0, 1, NA]
    assert (result.size("shared"), result.size("added"), result.size("removed")) == (
        base.size, new.size, old.size
    )
    summary = result.summary
    assert summary["layers"].tolist() == [1, 1, 1]
    assert summary["compressed_size"].tolist() == [base.size, new.size, old.size]
    changed = dict(zip(result.config["field"], zip(result.config["a"], result.config["b"],
                                                   strict=True), strict=True))
    assert changed["env.A"] == ("1", "2")
    assert changed["env.GONE"] == ("x", NA)
    assert changed["env.NEW"] == (NA, "y")
    assert changed["cmd"] == ('["old"]', '["new"]')
    assert changed["user"] == (NA, "app")
    assert changed["label.w"] == (NA, "2")
    assert "label.v" not in changed and "platform" not in changed
    assert not result.identical


def test_compare_matches_recompressed_layers_by_diff_id() -> None:
    """The same tar, gzip in a and uncompressed in b, is shared (match: diff_id)."""
    entries = [build.file("same", b"x" * 100)]
    a = build.image([build.layer(entries, "gzip")])
    b = build.image([build.layer(entries, "none")])
    layers = compare_frames(*models(a), *models(b)).layers
    assert layers["status"].tolist() == ["shared"]
    assert layers["match"].tolist() == ["diff_id"]
    assert layers["compressed_size"].tolist() == [b.layers[0].size]


def test_compare_counts_a_repeated_layer_once_per_occurrence() -> None:
    """A layer twice in b and once in a: one shared, one added."""
    same = layer("same")
    result = compare_frames(*models(build.image([same])), *models(build.image([same, same])))
    assert result.layers["status"].tolist() == ["shared", "added"]
    assert result.layers["position_b"].tolist() == [0, 1]


def test_an_image_compared_with_itself_is_identical() -> None:
    """No added or removed layers, no config difference."""
    manifest, config = models(three_layer_image())
    result = compare_frames(manifest, config, manifest, config)
    assert result.identical
    assert result.config.empty
    assert result.size("added") == result.size("removed") == 0


# --------------------------------------------------------------------------- referrers, trace


def test_referrers_list_artifact_types_and_annotations() -> None:
    """Each referrer has its artifactType, digest, size and annotations as JSON."""
    body = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {"mediaType": mt.OCI_MANIFEST, "digest": diff(1), "size": 321,
             "artifactType": "application/spdx+json", "annotations": {"b": "2", "a": "1"}},
            {"mediaType": mt.OCI_MANIFEST, "digest": diff(2), "size": 12},
        ],
    }
    frame = referrers_frame(Index.from_bytes(json.dumps(body).encode()))
    assert frame["artifact_type"].tolist() == ["application/spdx+json", NA]
    assert frame["manifest_size"].tolist() == [321, 12]
    assert frame["annotations"].tolist() == ['{"a": "1", "b": "2"}', NA]


def test_trace_rows_convert_seconds_to_milliseconds() -> None:
    """Elapsed seconds become milliseconds; a failed exchange has no status but an error."""
    ok = Exchange("GET", "http://r/v2/", 200, "ping", 0.25, 10, started=1_704_067_200.0)
    failed = Exchange("GET", "http://r/v2/x", None, "manifest", 1.0, 0, error="refused")
    frame = trace_frame([ok, failed])
    assert frame["elapsed_ms"].tolist() == [250.0, 1000.0]
    assert frame["status"].tolist() == [200, NA]
    assert frame["error"].tolist() == [NA, "refused"]
    assert frame["started"].tolist()[0] == pd.Timestamp("2024-01-01T00:00:00Z")


# --------------------------------------------------------------------------- the Table class


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
     (5 * 1024**3, "5.0 GiB"), (None, ""), (NA, "")],
    ids=["zero", "just under a KiB", "one KiB", "one and a half KiB", "gibibytes",
         "None is blank", "NA is blank"],
)
def test_sizes_format_in_binary_units(value: Any, text: str) -> None:
    """format_size uses B below 1 KiB and one decimal of KiB, MiB, GiB above."""
    assert format_size(value) == text


def test_table_shows_readable_sizes_but_keeps_integer_values() -> None:
    """repr and HTML say KiB; the column still holds int64 bytes."""
    frame = layers_frame(*models(three_layer_image()))
    with pd.option_context("display.width", 1000, "display.max_columns", None):
        text = repr(frame)
    assert frame["compressed_size"].iloc[2] == 10240  # the uncompressed layer
    assert " 10.0 KiB " in text and "10240" not in text
    html = frame._repr_html_()
    assert format_size(frame["compressed_size"].iloc[0]) in html
    assert format_share(frame["share"].iloc[0]) in html
    assert str(frame["compressed_size"].dtype) == "int64"


def test_table_html_escapes_every_cell() -> None:
    """A label value with markup is shown as text, not injected."""
    frame = labels_frame(config_of({"config": {"Labels": {"x": "<script>alert(1)</script>"}}}))
    html = frame._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_slices_stay_tables_and_remember_size_columns() -> None:
    """Filtering, selecting and sorting keep the Table type and its size columns."""
    frame = layers_frame(*models(three_layer_image()))
    size = "compressed_size"
    for part in (frame[frame[size] > 0], frame[["digest", size]], frame.sort_values(size),
                 frame.head(1), frame.copy()):
        assert isinstance(part, Table)
        assert part.size_columns == (size, "uncompressed_size")
        with pd.option_context("display.width", 1000, "display.max_columns", None):
            assert format_size(part[size].iloc[0]) in repr(part)
