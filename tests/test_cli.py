"""The ``ociinspect`` command line, run as ``python -m ociinspect`` in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from rig import Registry, seed
from rig.env import child_env

import ociinspect as oi


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


Cli = Callable[..., Run]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """Run ``python -m ociinspect ARGS`` with a throw-away HOME and cache, loopback only."""
    env = child_env(tmp_path / "home")
    env["OCIINSPECT_CACHE_DIR"] = str(tmp_path / "cache")
    env.pop("OCIINSPECT_DEBUG", None)

    def run(*args: str) -> Run:
        done = subprocess.run(
            [sys.executable, "-m", "ociinspect", *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run


def one_error_line(run: Run) -> str:
    """The single stderr line of a failed run (asserting there is exactly one)."""
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("ociinspect: error: ")
    assert "Traceback" not in run.err and run.out == ""
    return lines[0]


# --------------------------------------------------------------------------- output


def test_the_sample_is_the_default_reference(cli: Cli) -> None:
    """No REF and the word ``sample`` both mean the bundled sample."""
    default, named = cli("platforms"), cli("platforms", "sample")
    assert default.status == named.status == 0
    assert default.out == named.out
    lines = default.out.splitlines()
    assert lines[0].split()[:3] == ["position", "platform", "os"]
    assert len(lines) == 1 + 6
    assert sum("attestation" in line for line in lines) == 3
    assert sum("unknown/unknown" in line for line in lines) == 3


def test_table_format_shows_readable_sizes_and_short_digests(cli: Cli) -> None:
    """Sizes like ``20.9 KiB``; digests shortened to 12 hex digits unless --no-trunc."""
    table = oi.layers(oi.SAMPLE)
    run = cli("layers")
    assert run.status == 0
    first = run.out.splitlines()[1]
    digest = table["digest"].iloc[0]
    assert digest[:19] in first and digest not in first
    assert oi.tables.format_size(table["compressed_size"].iloc[0]) in first
    assert digest in cli("layers", "--no-trunc").out


def test_csv_keeps_raw_integers_and_full_digests(cli: Cli) -> None:
    """csv output parses back to the same byte counts and digests as the API table; its
    summary follows as a second table after an empty line."""
    run = cli("layers", "--format", "csv", "--platform", "linux/arm64")
    assert run.status == 0
    rows, summary = run.out.split("\n\n")
    parsed = pd.read_csv(io.StringIO(rows))
    table = oi.layers(oi.SAMPLE, platform="linux/arm64")
    assert parsed["compressed_size"].tolist() == table["compressed_size"].tolist()
    assert parsed["digest"].tolist() == table["digest"].tolist()
    totals = dict(csv.reader(io.StringIO(summary)))
    assert int(totals["compressed_size"]) == int(table["compressed_size"].sum())
    assert int(totals["count"]) == len(table)


def test_json_is_one_object_of_rows_and_summary(cli: Cli) -> None:
    """json output is {rows, summary}: records with integer sizes, nulls for missing values,
    ISO times."""
    run = cli("history", "-f", "json")
    body = json.loads(run.out)
    records = body["rows"]
    assert len(records) == 13 and body["summary"]["count"] == 13
    history = oi.history(oi.SAMPLE)
    assert records[0]["compressed_size"] == int(history["compressed_size"].iloc[0])
    assert records[1]["layer"] is None and records[1]["empty_layer"] is True
    assert records[0]["created"] == "2024-01-01T00:00:00Z"


def test_markdown_is_a_pipe_table_without_tabulate(cli: Cli) -> None:
    """markdown: header, alignment rule (numbers right), one line per row, pipes escaped."""
    run = cli("env", "-f", "markdown")
    lines = run.out.splitlines()
    assert lines[0] == "| key | value |"
    assert lines[1] == "|---|---|"
    assert lines[2] == "| PATH | /usr/local/bin:/usr/bin:/bin |"
    sizes = cli("layers", "-f", "markdown").out.splitlines()[1]
    assert "---:" in sizes


def test_config_prints_one_field_per_line(cli: Cli) -> None:
    """The one-row config summary reads top to bottom."""
    lines = cli("config").out.splitlines()
    fields = dict(line.split(None, 1) for line in lines if len(line.split(None, 1)) == 2)
    assert fields["entrypoint"] == '["/usr/local/bin/hello"]'
    assert fields["user"] == "app"


def test_compare_prints_summary_layers_and_config(cli: Cli) -> None:
    """compare A B: sections for the summary, the layers and the config differences."""
    run = cli("compare", "sample", "sample", "--platform", "linux/arm/v7")
    assert run.status == 0
    assert run.out.startswith("summary:\n")
    assert "layers:\n" in run.out and "config differences:\n" in run.out
    body = json.loads(cli("compare", "sample", "sample", "-f", "json").out)
    statuses = body["summary"]["statuses"]
    assert [row["status"] for row in statuses] == ["shared", "added", "removed"]
    assert body["summary"]["a"] == body["summary"]["b"] and body["summary"]["identical"]
    assert len(body["rows"]) == 5 and body["config"] == []


def test_files_lists_one_layer_and_wasted_sums_up(cli: Cli) -> None:
    """files --layer 2 shows the whiteouts; wasted ends with the total and efficiency."""
    files = cli("files", "--layer", "2")
    assert files.status == 0 and "var/cache/.wh.pkg" in files.out
    wasted = cli("wasted")
    assert wasted.out.splitlines()[-1].startswith("wasted ")
    assert "efficiency" in wasted.out


def test_a_layer_is_named_by_the_short_digest_the_table_shows(cli: Cli) -> None:
    """files --layer takes sha256:<12 hex> from the layers table, or -1 for the top layer."""
    short = cli("layers").out.splitlines()[3].split()[1]
    assert short.startswith("sha256:") and len(short) == 19
    by_digest, by_position = cli("files", "--layer", short), cli("files", "--layer", "2")
    assert by_digest.status == 0 and by_digest.out == by_position.out
    assert "app/config.json" in cli("files", "--layer", "-1").out


def test_version(cli: Cli) -> None:
    """--version prints the package version."""
    run = cli("--version")
    assert (run.status, run.out.strip()) == (0, f"ociinspect {oi.__version__}")


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (("layers", "Not A Reference"), 2, "invalid reference"),
        (("layers", "--platform", "linux/s390x"), 2,
         "available: linux/amd64, linux/arm64/v8, linux/arm/v7"),
        (("layers", "--platform", "a/b/c/d"), 2, "invalid platform"),
        (("layers", "oci:/nonexistent/layout"), 2, "no OCI layout at /nonexistent/layout"),
        (("layers", f"oci:{oi.SAMPLE.split(':')[1]}:nope"), 2, "available tags: latest, 1.0"),
        (("files", "--layer", "99"), 2, "no layer 99"),
        (("files", "--layer", "sha256:ffff"), 2, "no layer 'sha256:ffff'"),
        (("files",), 2, "--layer"),
        ((), 2, "choose a command"),
        (("bogus",), 2, "invalid choice"),
        (("layers", "--format", "xml"), 2, "invalid choice"),
        (("compare", "sample"), 2, "required"),
    ],
    ids=[
        "a bad reference is a usage error",
        "an unknown platform lists the platforms there are",
        "a malformed platform is a usage error",
        "a missing layout is a usage error",
        "a missing tag lists the tags there are",
        "a layer out of range is a usage error",
        "a digest no layer has is a usage error",
        "files without --layer is a usage error",
        "no command is a usage error",
        "an unknown command is a usage error",
        "an unknown format is a usage error",
        "compare needs two references",
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    cli: Cli, args: tuple[str, ...], status: int, says: str
) -> None:
    """What the user typed names nothing usable: one line on stderr, exit status 2."""
    run = cli(*args)
    assert run.status == status
    assert says in one_error_line(run)


def test_an_unreachable_registry_is_one_line_and_exit_1(cli: Cli) -> None:
    """Connection refused at 127.0.0.1:1: one line naming the URL, exit status 1."""
    run = cli("platforms", "127.0.0.1:1/demo/multi:latest")
    assert run.status == 1
    line = one_error_line(run)
    assert "http://127.0.0.1:1/v2/demo/multi/manifests/latest" in line
    assert "connection" in line


@pytest.mark.registry
def test_a_refusing_registry_is_one_line_and_exit_1(
    cli: Cli, registry_token: Registry
) -> None:
    """A private repository without credentials: the registry's refusal, one line, exit 1."""
    run = cli("layers", registry_token.ref(seed.PRIVATE))
    assert run.status == 1
    line = one_error_line(run)
    assert registry_token.host in line
    assert any(word in line for word in ("401", "403", "denied", "DENIED", "UNAUTHORIZED"))


@pytest.mark.registry
def test_tables_from_a_registry(cli: Cli, registry_open: Registry) -> None:
    """platforms of a rig index as json: six entries with full digests and byte sizes."""
    run = cli("platforms", registry_open.ref(seed.MULTI), "--format", "json")
    assert run.status == 0, run.err
    records = json.loads(run.out)["rows"]
    seeded = registry_open.seeded[seed.MULTI]
    assert [r["kind"] for r in records] == ["image"] * 3 + ["attestation"] * 3
    assert records[0]["digest"] == seeded.image("linux/amd64").digest
    assert records[0]["manifest_size"] == seeded.image("linux/amd64").manifest.size


# --------------------------------------------------------------------------- the cache


def cache_info(run: Run) -> dict[str, str]:
    """``name  value`` lines of ``ociinspect cache`` as a mapping."""
    assert run.status == 0, run.err
    return dict(line.split(None, 1) for line in run.out.splitlines() if "  " in line)


@pytest.mark.registry
def test_cache_info_clear_and_prune(cli: Cli, registry_open: Registry, tmp_path: Path) -> None:
    """info shows where the cache is and what it holds; clear empties it; prune bounds it."""
    empty = cache_info(cli("cache"))
    assert empty["location"] == str(tmp_path / "cache")
    assert (empty["entries"], empty["tags"], empty["bound"]) == ("0", "0", "10.0 GiB")
    assert cli("files", registry_open.ref(seed.SINGLE), "--layer", "0").status == 0
    filled = cache_info(cli("cache", "info"))
    # the manifest, the layer, and the config (its diff_ids check the layer)
    assert int(filled["entries"]) == 3 and filled["tags"] == "1"
    assert int(filled["bytes"].split()[0]) > 0
    pruned = cli("cache", "prune", "--max-bytes", "0")
    assert pruned.out.startswith("pruned 3 entries\n")
    assert cache_info(pruned)["entries"] == "0"
    assert cli("files", registry_open.ref(seed.SINGLE), "--layer", "0").status == 0
    cleared = cli("cache", "clear")
    assert cleared.out.startswith("cleared 3 entries (")
    assert (cache_info(cleared)["entries"], cache_info(cleared)["tags"]) == ("0", "0")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("cache", "prune", "--max-bytes", "lots"), "--max-bytes: not a size"),
        (("cache", "info", "--max-bytes", "1G"), "--max-bytes goes with 'cache prune'"),
        (("cache", "empty"), "invalid choice"),
    ],
    ids=["a size that does not parse is a usage error", "--max-bytes without prune is refused",
         "an unknown cache action is a usage error"],
)
def test_cache_usage_errors(cli: Cli, args: tuple[str, ...], says: str) -> None:
    """Mistyped cache commands: one line on stderr, exit status 2."""
    run = cli(*args)
    assert run.status == 2
    assert says in one_error_line(run)


def test_sizes_flag_chooses_how_uncompressed_sizes_are_found(cli: Cli) -> None:
    """--sizes exact streams every layer (exact sizes); --sizes none leaves the column empty."""
    exact = json.loads(cli("platforms", "--sizes", "exact", "--format", "json").out)["rows"]
    images = [row for row in exact if row["kind"] == "image"]
    assert images and all(row["uncompressed_exact"] is True for row in images)
    assert all(row["uncompressed_size"] > row["compressed_size"] for row in images)
    none = json.loads(cli("layers", "--sizes", "none", "--format", "json").out)["rows"]
    assert all(row["uncompressed_size"] is None for row in none if row["compression"] != "none")
    bad = cli("layers", "--sizes", "bogus")
    assert bad.status == 2 and "invalid choice" in one_error_line(bad)


def test_offline_flag_is_accepted_for_local_sources(cli: Cli) -> None:
    """--offline changes nothing for a local layout: the table is the same."""
    assert cli("layers", "--offline").out == cli("layers").out


@pytest.mark.parametrize(
    ("ref", "says"),
    [("dir:/tmp", "unsupported transport 'dir'"), ("/tmp/layout", "use oci:/tmp/layout")],
    ids=["an unknown transport is named", "a bare path suggests oci:"],
)
def test_local_looking_references_are_refused_with_a_hint(cli: Cli, ref: str, says: str) -> None:
    """A path or an unknown transport never reaches a registry; the error says what to type."""
    run = cli("layers", ref)
    assert run.status == 2 and says in one_error_line(run)


def test_sample_tags_name_the_bundled_layout(cli: Cli) -> None:
    """'sample:1.0' is the bundled sample's other tag, like 'sample' is its latest."""
    assert cli("config", "sample:1.0").out == cli("config", "sample").out
