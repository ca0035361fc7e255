"""``ociinspect``: the tables on a terminal.

::

    ociinspect platforms [REF] [--platform P] [--format table|csv|json|markdown]
    ociinspect layers|history|config|env|labels|referrers|filesystem|wasted [REF] [--platform P]
    ociinspect tags [REF]
    ociinspect compare A B [--platform P]
    ociinspect files [REF] --layer N
    ociinspect changes|annotations [REF] [--platform P]
    ociinspect validate [REF] [--platform P | --all]
    ociinspect referrers [REF] [--all] [--depth N] [--tree] [--artifact-type T] [--no-cosign]
    ociinspect attestations|sbom|signatures|provenance [REF] [--depth N] (provenance: --materials)
    ociinspect cache [info|clear|prune] [--max-bytes SIZE]

REF is anything :mod:`ociinspect.sources` reads (``alpine:3.20``, ``docker://…``, ``oci:DIR:TAG``,
``oci-archive:FILE``, ``docker-archive:FILE``); left out, or the word ``sample``, it is the
bundled sample. ``table`` shows sizes as ``1.5 KiB`` and short digests (``--no-trunc`` for
full ones); ``csv`` and ``json`` keep raw values (sizes in bytes, full digests, RFC 3339
times with every digit) and the table's summary (:func:`emit`: ``json`` is one object
``{"rows", "summary"}``, ``csv`` adds the summary as a second table after an empty line).

An error is one line on stderr, ``ociinspect: error: …``, never a traceback; a warning (an
answer served offline from the cache) is one line too, ``ociinspect: warning: …``. Exit status:
0 on success, 2 for usage errors and references that name nothing usable (bad syntax, unknown
platform, missing layout or tag, no such layer), 1 when fetching or reading fails or
``validate`` finds a blob that fails.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

import pandas as pd

from . import __version__, api, fleet_cli, supply
from .errors import (
    ImageFileError,
    InvalidDocumentError,
    InvalidReferenceError,
    LayerNotFoundError,
    OCIInspectError,
    PlatformNotFoundError,
    SettingsError,
    SourceError,
)
from .session import Session, Settings, default_cache_dir
from .sources.registry import OfflineWarning
from .tables import Comparison, Table
from .tables.frame import DIGEST_COLUMNS
from .terminal import printable, safe
from .values.units import format_share, format_size, short_digest

SIZES = ("none", "estimate", "exact")
FORMATS = ("table", "csv", "json", "markdown")
CACHE_ACTIONS = ("info", "clear", "prune")
SUPPLY_COMMANDS = ("referrers", "attestations", "sbom", "provenance", "signatures")
#: Longest text cell in the ``table`` format unless ``--no-trunc``.
MAX_CELL = 60
PROG = "ociinspect"

COMMANDS: dict[str, str] = {
    "platforms": "images, attestations and artifacts of an index, with sizes",
    "layers": "layers with size, compression, diff_id and the step that made each",
    "history": "every build step, with the layer it made",
    "config": "a summary of the image config",
    "env": "environment variables of the config",
    "labels": "labels of the config",
    "tags": "tags of the repository",
    "referrers": "artifacts (signatures, SBOMs, attestations) attached to the image, and how "
    "each was found (referrers API, tag fallback, cosign tag); --tree draws them",
    "attestations": "in-toto statements about the image, with their predicate type",
    "sbom": "packages of the SBOMs attached to the image (SPDX, CycloneDX)",
    "provenance": "SLSA provenance of the image: builder, build args, materials",
    "signatures": "signatures attached to the image, with their claims (not verified)",
    "compare": "layers and config fields that differ between two images",
    "files": "entries of one layer",
    "filesystem": "the merged filesystem of all layers",
    "wasted": "file copies that layers ship but later layers hide",
    "changes": "what each layer did to each path: added, modified, deleted, ... (dive's view)",
    "validate": "read every blob and check digests, sizes and diff_ids (exit 1 if any fails)",
    "annotations": "annotations of the index, its entries, the manifest, config and layers",
    "ratelimit": "pulls left at a registry (default docker.io), from a HEAD that costs none",
    "cat": "the bytes of one file of the image, as a container sees it (REF PATH)",
    "os": "the image's os-release: distribution, version",
    "packages": "installed packages (dpkg, apk, rpm, Python) and the layer of each",
}


class UsageError(Exception):
    """A command line that cannot be run (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line (``ociinspect: error: …``) and status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{PROG} --help')")


def _sample(ref: str | None) -> str:
    from . import SAMPLE

    if ref in (None, "sample"):
        return SAMPLE
    if ref.startswith("sample:"):  # sample:1.0, a tag of the bundled layout
        return SAMPLE.rsplit(":", 1)[0] + ref[len("sample") :]
    return ref


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one subcommand per table)."""
    common = _Parser(add_help=False)
    common.add_argument("--platform", "-p", help="os/arch[/variant] of an index, e.g. linux/arm64")
    common.add_argument(
        "--format", "-f", choices=FORMATS, default="table", help="output format (default: table)"
    )
    common.add_argument(
        "--no-trunc", action="store_true", help="full digests and texts in the table format"
    )
    common.add_argument(
        "--no-cache", action="store_true", help="do not read or write the disk cache"
    )
    common.add_argument(
        "--offline",
        action="store_true",
        help="send no request: answer from the disk cache (a tag resolves to the digest it "
        "named when last seen); tag lists are not kept, so 'tags' of a registry is refused",
    )
    parser = _Parser(
        prog=PROG,
        description="Look inside container images: platforms, layers, history, config, files.",
        epilog="REF defaults to the bundled sample image (also: the word 'sample').",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, summary in COMMANDS.items():
        sub = commands.add_parser(name, parents=[common], help=summary, description=summary)
        if name == "compare":
            sub.add_argument("a", metavar="A", help="the image compared from")
            sub.add_argument("b", metavar="B", help="the image compared to")
            continue
        default = "docker.io" if name == "ratelimit" else "sample"
        about_ref = f"image reference (default: {default})"
        sub.add_argument("ref", metavar="REF", nargs="?", help=about_ref)
        if name == "files":
            sub.add_argument(
                "--layer", "-l", required=True, help="position (0 = bottom, -1 = top) or digest"
            )
        if name == "cat":
            sub.add_argument("path", metavar="PATH", help="absolute path in the image")
            sub.add_argument(
                "--max-bytes", help="refuse a larger file (500M, 2G, bytes; default 64 MiB)"
            )
        if name == "validate":
            sub.add_argument(
                "--all", action="store_true", dest="all_platforms",
                help="on an index, every entry (platforms, attestations, nested indexes)",
            )
        if name == "referrers":
            sub.add_argument("--artifact-type", help="only artifacts of this type")
            sub.add_argument(
                "--all", action="store_true", dest="all_platforms",
                help="on an index, also the referrers of each platform image",
            )
            sub.add_argument("--tree", action="store_true", help="draw the referrers as a tree")
        if name in SUPPLY_COMMANDS:
            sub.add_argument(
                "--depth", type=int, default=1,
                help="follow referrers of referrers this deep (default: 1; 2 adds a "
                "signature on an SBOM)",
            )
            sub.add_argument(
                "--no-cosign", action="store_true", help="do not look for cosign's tags"
            )
        if name == "provenance":
            sub.add_argument(
                "--materials", action="store_true", help="one row per material instead"
            )
        if name in ("platforms", "layers"):
            sub.add_argument(
                "--sizes",
                choices=SIZES,
                default="none" if name == "platforms" else "estimate",
                help="uncompressed sizes: none, estimate (one small read per layer), exact "
                "(stream every layer); default: %(default)s",
            )
    about = "the disk cache: where it is and what it holds; clear it; prune it to a size"
    cache = commands.add_parser("cache", help=about, description=about)
    cache.add_argument("action", nargs="?", choices=CACHE_ACTIONS, default="info")
    cache.add_argument(
        "--max-bytes", help="prune down to this size (500M, 2G, bytes; default: the cache's bound)"
    )
    fleet_cli.add_parser(commands)
    return parser


def cache_command(args: argparse.Namespace, out: TextIO) -> None:
    """``ociinspect cache``: print the cache's location, entries and bytes, after clearing or
    pruning it when asked."""
    from .cache import BlobCache, parse_size

    settings = Settings.from_env()
    off = not settings.cache
    # With caching off for reads and writes, the directory may still hold data: show it.
    cache = BlobCache(settings.cache_dir or default_cache_dir(), settings.cache_max_bytes)
    if args.max_bytes is not None and args.action != "prune":
        raise UsageError("--max-bytes goes with 'cache prune'")
    if args.action == "clear":
        before = cache.stats()
        cache.clear()
        out.write(f"cleared {before.entries} entries ({format_size(before.bytes)})\n")
    elif args.action == "prune":
        try:
            bound = parse_size(args.max_bytes) if args.max_bytes is not None else None
        except ValueError as exc:
            raise UsageError(f"--max-bytes: {exc}") from None
        evicted = cache.prune(bound)
        out.write(f"pruned {len(evicted)} entries\n")
    stats = cache.stats()
    bound_text = "unbounded" if cache.max_bytes is None else format_size(cache.max_bytes)
    lines = [
        ("location", str(cache.directory) + (" (caching is off: OCIINSPECT_CACHE)" if off else "")),
        ("entries", str(stats.entries)),
        ("bytes", f"{stats.bytes} ({format_size(stats.bytes)})"),
        ("bound", bound_text),
        ("tags", str(len(cache.tags()))),
    ]
    out.write("".join(f"{name:<9} {value}\n" for name, value in lines))


# --------------------------------------------------------------------------- running


def _layer(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value


def cat_command(args: argparse.Namespace, out: TextIO) -> int:
    """``ociinspect cat REF PATH``: the file's bytes, unchanged, on standard output."""
    from .cache import parse_size
    from .reading import read_file

    try:
        limit = parse_size(args.max_bytes) if args.max_bytes is not None else None
    except ValueError as exc:
        raise UsageError(f"--max-bytes: {exc}") from None
    data = read_file(
        _sample(args.ref), args.path, args.platform, session=session_for(args), max_size=limit
    )
    binary = getattr(out, "buffer", None)
    if binary is not None:
        out.flush()
        binary.write(data)
        binary.flush()
    else:  # a text stream of a test: the bytes as UTF-8 text, undecodable ones escaped
        out.write(data.decode("utf-8", "surrogateescape"))
        out.flush()
    return 0


def session_for(args: argparse.Namespace) -> Session:
    """The session a command line asks for: the environment's settings, and ``--no-cache``,
    ``--offline`` on top."""
    changes: dict[str, Any] = {}
    if args.no_cache:
        changes["cache"] = False
    if args.offline:
        changes["offline"] = True
    return Session(Settings.from_env(**changes))


def run(args: argparse.Namespace, session: Session | None = None) -> Table | Comparison:
    """The table a parsed command line asks for."""
    options: dict[str, Any] = {"session": session or session_for(args)}
    platform = args.platform
    if args.command == "ratelimit":
        from .pulls import ratelimit

        return ratelimit(args.ref or "docker.io", **options)
    if args.command == "compare":
        return api.compare(_sample(args.a), _sample(args.b), platform, **options)
    ref = _sample(args.ref)
    if args.command == "files":
        return api.files(ref, _layer(args.layer), platform, **options)
    if args.command in ("os", "packages"):
        from . import reading

        reader: Callable[..., Table] = reading.os_release if args.command == "os" else (
            reading.packages
        )
        return reader(ref, platform, **options)
    if args.command in SUPPLY_COMMANDS:
        return _supply_table(args, ref, options)
    if args.command == "validate":
        from .validate import validate

        return validate(ref, platform, args.all_platforms, **options)
    if args.command in ("platforms", "layers"):
        options["sizes"] = args.sizes
    function: Callable[..., Table] = getattr(api, args.command)
    return function(ref, platform, **options)


def _supply_table(args: argparse.Namespace, ref: str, options: dict[str, Any]) -> Table:
    """``referrers``, ``attestations``, ``sbom``, ``provenance``, ``signatures``."""
    options.update(depth=args.depth, cosign=not args.no_cosign)
    if args.command == "referrers":
        all_platforms = args.all_platforms or args.tree
        return supply.referrers(
            ref, args.platform, args.artifact_type, all_platforms=all_platforms, **options
        )
    if args.command == "provenance":
        options["materials"] = args.materials
    function: Callable[..., Table] = getattr(supply, args.command)
    return function(ref, args.platform, **options)


# --------------------------------------------------------------------------- output


def _cell(value: Any, column: str, table: Table, truncate: bool, markdown: bool) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    if value is pd.NaT:
        return ""
    if column in table.size_columns:
        return format_size(value)
    if column in table.share_columns:
        return format_share(value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = " ".join(str(value).split()) if not markdown else str(value).replace("\n", " ")
    text = safe(text)  # an image chose it: no control reaches the terminal
    if truncate and column in DIGEST_COLUMNS and ":" in text:
        text = short_digest(text)
    elif truncate and len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    if markdown:
        text = text.replace("\\", "\\\\").replace("|", "\\|")
    return text


def _numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series.dtype)) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def _cells(table: Table, truncate: bool, markdown: bool) -> list[tuple[str, list[str], bool]]:
    """Each column as (name, display strings, right-aligned)."""
    return [
        (
            str(name),
            [_cell(v, str(name), table, truncate, markdown) for v in table[name].tolist()],
            _numeric(table[name]),
        )
        for name in table.columns
    ]


def render_text(table: Table, truncate: bool = True) -> str:
    """Aligned columns: text left, numbers and sizes right; sizes human-readable."""
    columns = _cells(table, truncate, markdown=False)
    if not columns:
        return "(no columns)"
    widths = [max([len(name), *map(len, values)]) for name, values, _ in columns]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, (_, _, right) in zip(cells, widths, columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines = [line([name for name, _, _ in columns])]
    lines += [line([values[i] for _, values, _ in columns]) for i in range(len(table))]
    if len(table) == 0:
        lines.append("(no rows)")
    return "\n".join(lines)


def render_vertical(table: Table, truncate: bool = True) -> str:
    """A one-row table as ``field  value`` lines."""
    columns = _cells(table, truncate, markdown=False)
    width = max((len(name) for name, _, _ in columns), default=0)
    return "\n".join(f"{name.ljust(width)}  {values[0]}".rstrip() for name, values, _ in columns)


def render_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table (no dependency on ``tabulate``); sizes readable."""
    columns = _cells(table, truncate=False, markdown=True)
    header = "| " + " | ".join(name for name, _, _ in columns) + " |"
    rule = "|" + "|".join("---:" if right else "---" for _, _, right in columns) + "|"
    rows = [
        "| " + " | ".join(values[i] for _, values, _ in columns) + " |" for i in range(len(table))
    ]
    return "\n".join([header, rule, *rows])


def _iso(value: Any) -> Any:
    """A timestamp as RFC 3339 text with every digit it has (Go's RFC3339Nano: trailing zeros of
    the fraction dropped); anything else unchanged."""
    if not isinstance(value, pd.Timestamp) or value is pd.NaT:
        return value
    stamp = value.tz_convert("UTC") if value.tzinfo is not None else value
    fraction = f"{stamp.microsecond * 1000 + stamp.nanosecond:09d}".rstrip("0")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _records(table: Table) -> list[dict[str, Any]]:
    frame = pd.DataFrame(table)
    times = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c].dtype)]
    if times:
        frame = frame.astype({c: object for c in times})
        for column in times:
            frame[column] = [None if pd.isna(v) else _iso(v) for v in frame[column]]
    loaded: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return loaded


def _plain(value: Any) -> Any:
    """A summary value as JSON holds it (numpy numbers as Python ones, times as text)."""
    if isinstance(value, pd.Timestamp):
        return _iso(value)
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def summary(result: Table) -> dict[str, Any]:
    """What a table says besides its rows (its ``attrs``: wasted bytes and efficiency,
    validation outcome, base image, ...), plus ``count``, its number of rows."""
    found = {"count": len(result)}
    found.update({str(k): _plain(v) for k, v in result.attrs.items()})
    return found


def _terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def _escaped_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell passed through :func:`safe` (for a terminal)."""
    copy = pd.DataFrame(frame).copy()
    for column in copy.columns:
        if copy[column].dtype == object or str(copy[column].dtype) == "string":
            copy[column] = copy[column].map(lambda v: safe(v) if isinstance(v, str) else v)
    return copy


def _csv(frame: pd.DataFrame) -> str:
    return pd.DataFrame(frame).to_csv(index=False)


def _summary_csv(values: dict[str, Any]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["key", "value"])
    for key, value in values.items():
        shown = "" if value is None else str(value).lower() if isinstance(value, bool) else value
        writer.writerow([key, shown])
    return text.getvalue()


def _footer(result: Table) -> str | None:
    """The table format's last line for a table with a summary, or None."""
    attrs = result.attrs
    if "wasted_bytes" in attrs:
        return (
            f"wasted {format_size(attrs['wasted_bytes'])} of {format_size(attrs['file_bytes'])}"
            f" in files (efficiency {format_share(attrs['efficiency'])})"
        )
    if "failed" in attrs and "blobs" in attrs:
        read = format_size(attrs.get("read_bytes", 0))
        if attrs["failed"]:
            return f"{attrs['failed']} of {attrs['blobs']} blobs failed ({read} read)"
        return f"all {attrs['blobs']} blobs verified ({read} read)"
    if attrs.get("base_name") or attrs.get("base_digest"):
        base = " ".join(str(attrs[k]) for k in ("base_name", "base_digest") if attrs.get(k))
        return f"base image: {base}"
    if attrs.get("note"):
        return str(attrs["note"])
    return None


def emit(
    result: Table | Comparison, fmt: str, out: TextIO, truncate: bool = True, vertical: bool = False
) -> None:
    """Write ``result`` to ``out`` in ``fmt`` (one of :data:`FORMATS`).

    Machine formats keep everything. ``json`` is one object, ``{"rows": [...], "summary":
    {...}}`` (:func:`summary`; a comparison adds ``"config"``, the config differences, and its
    summary holds ``a``, ``b``, ``identical`` and the per-status ``statuses``). ``csv`` is the
    rows; then, when there is a summary, an empty line and a second table ``key,value``; a
    comparison's second table is its per-status summary and a third its config differences.
    Read the rows with :mod:`csv` up to the first empty record (or split the text at the first
    blank line, unless a quoted value holds one)."""
    if isinstance(result, Comparison):
        if fmt == "json":
            body = {
                "rows": _records(result.layers),
                "summary": {
                    "a": result.a,
                    "b": result.b,
                    "identical": result.identical,
                    "statuses": _records(result.summary),
                },
                "config": _records(result.config),
            }
            out.write(json.dumps(body, indent=2) + "\n")
            return
        if fmt == "csv":
            parts = (result.layers, result.summary, result.config)
            shown = [_escaped_frame(part) if _terminal(out) else part for part in parts]
            out.write("\n".join(_csv(part) for part in shown))
            return
        sections = (("summary", result.summary), ("layers", result.layers),
                    ("config differences", result.config))
        for number, (title, part) in enumerate(sections):
            out.write(("\n" if number else "") + (f"## {title}\n\n" if fmt == "markdown" else
                                                  f"{title}:\n"))
            emit(part, fmt, out, truncate)
        return
    if fmt == "csv":
        # Exact values for programs; escaped when a person's terminal would receive them.
        out.write(_csv(_escaped_frame(result) if _terminal(out) else result))
        if result.attrs:
            out.write("\n" + _summary_csv(summary(result)))
    elif fmt == "json":
        body = {"rows": _records(result), "summary": summary(result)}
        out.write(json.dumps(body, indent=2, default=str) + "\n")
    elif fmt == "markdown":
        out.write(render_markdown(result) + "\n")
    elif vertical and len(result) == 1:
        out.write(render_vertical(result, truncate) + "\n")
    else:
        out.write(render_text(result, truncate) + "\n")
    footer = _footer(result) if fmt in ("table", "markdown") else None
    if footer:
        out.write(("\n" if fmt == "markdown" else "") + printable(footer) + "\n")


# --------------------------------------------------------------------------- errors


def _status(error: BaseException) -> int:
    """2 for what the user typed (reference, platform, layer), 1 for what happened later."""
    if isinstance(
        error,
        (
            InvalidReferenceError,
            PlatformNotFoundError,
            LayerNotFoundError,
            SourceError,
            SettingsError,
            UsageError,
            ImageFileError,
        ),
    ):
        return 2
    if isinstance(error, InvalidDocumentError) and error.what == "platform":
        return 2
    return 1


def _message(error: BaseException) -> str:
    text = printable(" ".join(str(error).split()))
    if isinstance(error, (OCIInspectError, UsageError)):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _debug() -> bool:
    try:
        return Settings.from_env().debug
    except SettingsError:
        return False


def _warn(caught: list[warnings.WarningMessage]) -> None:
    """Warnings of ociinspect's own (an answer served offline from the cache) as one line
    each, like every other message; others go to Python's usual display."""
    shown: set[str] = set()
    for item in caught:
        if not issubclass(item.category, OfflineWarning):
            warnings.showwarning(item.message, item.category, item.filename, item.lineno)
            continue
        text = printable(" ".join(str(item.message).split()))
        if text not in shown:
            shown.add(text)
            print(f"{PROG}: warning: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    stdout = out or sys.stdout
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError(
                f"choose a command: {', '.join(COMMANDS)}, cache (see '{PROG} --help')"
            )
        if args.command == "cache":
            cache_command(args, stdout)
            stdout.flush()
            return 0
        if args.command == "inventory":
            return fleet_cli.command(args, stdout)
        if args.command == "cat":
            return cat_command(args, stdout)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OfflineWarning)
            result = run(args)
        _warn(caught)
        if getattr(args, "tree", False) and isinstance(result, Table):
            stdout.write("\n".join(supply.tree_lines(supply.referrer_tree(result))) + "\n")
            stdout.flush()
            return 0
        vertical = args.command in ("config", "ratelimit", "os")
        emit(result, args.format, stdout, not args.no_trunc, vertical=vertical)
        stdout.flush()
        if args.command == "validate" and isinstance(result, Table) and not result.attrs["ok"]:
            failed, blobs = result.attrs["failed"], result.attrs["blobs"]
            print(
                f"{PROG}: error: {failed} of {blobs} blobs failed validation (see the error "
                "column)",
                file=sys.stderr,
            )
            return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): say nothing, and keep Python's exit from failing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as error:  # the one place that turns any failure into one line
        if _debug():
            raise
        print(f"{PROG}: error: {_message(error)}", file=sys.stderr)
        return _status(error)
    return 0


__all__ = ["CACHE_ACTIONS", "COMMANDS", "FORMATS", "build_parser", "cache_command", "emit",
           "main", "render_markdown", "render_text", "run"]
