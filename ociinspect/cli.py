"""``ociinspect``: the tables on a terminal.

::

    ociinspect platforms [REF] [--platform P] [--format table|csv|json|markdown]
    ociinspect layers|history|config|env|labels|referrers|filesystem|wasted [REF] [--platform P]
    ociinspect tags [REF]
    ociinspect compare A B [--platform P]
    ociinspect files [REF] --layer N
    ociinspect cache [info|clear|prune] [--max-bytes SIZE]

REF is anything :mod:`ociinspect.sources` reads (``alpine:3.20``, ``docker://…``, ``oci:DIR:TAG``,
``oci-archive:FILE``, ``docker-archive:FILE``); left out, or the word ``sample``, it is the
bundled sample. ``table`` shows sizes as ``1.5 KiB`` and short digests (``--no-trunc`` for
full ones); ``csv`` and ``json`` keep raw values (sizes in bytes, full digests, ISO times).

An error is one line on stderr, ``ociinspect: error: …``, never a traceback. Exit status: 0 on
success, 2 for usage errors and references that name nothing usable (bad syntax, unknown
platform, missing layout or tag, no such layer), 1 when fetching or reading fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

import pandas as pd

from . import __version__, api
from .errors import (
    InvalidDocumentError,
    InvalidReferenceError,
    LayerNotFoundError,
    OCIInspectError,
    PlatformNotFoundError,
    SettingsError,
    SourceError,
)
from .session import Session, Settings, default_cache_dir
from .tables import Comparison, Table
from .tables.frame import DIGEST_COLUMNS
from .values.units import format_share, format_size, short_digest

SIZES = ("none", "estimate", "exact")
FORMATS = ("table", "csv", "json", "markdown")
CACHE_ACTIONS = ("info", "clear", "prune")
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
    "referrers": "artifacts (SBOMs, signatures) that refer to the image",
    "compare": "layers and config fields that differ between two images",
    "files": "entries of one layer",
    "filesystem": "the merged filesystem of all layers",
    "wasted": "file copies that layers ship but later layers hide",
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
        help="answer tags from the disk cache when the registry cannot be reached",
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
        sub.add_argument("ref", metavar="REF", nargs="?", help="image reference (default: sample)")
        if name == "files":
            sub.add_argument(
                "--layer", "-l", required=True, help="position (0 = bottom, -1 = top) or digest"
            )
        if name == "referrers":
            sub.add_argument("--artifact-type", help="only artifacts of this type")
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
    if args.command == "compare":
        return api.compare(_sample(args.a), _sample(args.b), platform, **options)
    ref = _sample(args.ref)
    if args.command == "files":
        return api.files(ref, _layer(args.layer), platform, **options)
    if args.command == "referrers":
        return api.referrers(ref, platform, args.artifact_type, **options)
    if args.command in ("platforms", "layers"):
        options["sizes"] = args.sizes
    function: Callable[..., Table] = getattr(api, args.command)
    return function(ref, platform, **options)


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


def _records(table: Table) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(
        table.to_json(orient="records", date_format="iso", date_unit="s")
    )
    return loaded


def emit(
    result: Table | Comparison, fmt: str, out: TextIO, truncate: bool = True, vertical: bool = False
) -> None:
    """Write ``result`` to ``out`` in ``fmt`` (one of :data:`FORMATS`)."""
    if isinstance(result, Comparison):
        if fmt == "json":
            body = {
                "a": result.a,
                "b": result.b,
                "summary": _records(result.summary),
                "layers": _records(result.layers),
                "config": _records(result.config),
            }
            out.write(json.dumps(body, indent=2) + "\n")
            return
        if fmt == "csv":
            out.write(pd.DataFrame(result.layers).to_csv(index=False))
            return
        sections = (("summary", result.summary), ("layers", result.layers),
                    ("config differences", result.config))
        for number, (title, part) in enumerate(sections):
            out.write(("\n" if number else "") + (f"## {title}\n\n" if fmt == "markdown" else
                                                  f"{title}:\n"))
            emit(part, fmt, out, truncate)
        return
    if fmt == "csv":
        out.write(pd.DataFrame(result).to_csv(index=False))
    elif fmt == "json":
        out.write(json.dumps(_records(result), indent=2) + "\n")
    elif fmt == "markdown":
        out.write(render_markdown(result) + "\n")
    elif vertical and len(result) == 1:
        out.write(render_vertical(result, truncate) + "\n")
    else:
        out.write(render_text(result, truncate) + "\n")
    if fmt == "table" and "wasted_bytes" in result.attrs:
        attrs = result.attrs
        out.write(
            f"wasted {format_size(attrs['wasted_bytes'])} of {format_size(attrs['file_bytes'])}"
            f" in files (efficiency {format_share(attrs['efficiency'])})\n"
        )


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
        ),
    ):
        return 2
    if isinstance(error, InvalidDocumentError) and error.what == "platform":
        return 2
    return 1


def _message(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, (OCIInspectError, UsageError)):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _debug() -> bool:
    try:
        return Settings.from_env().debug
    except SettingsError:
        return False


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
        result = run(args)
        emit(result, args.format, stdout, not args.no_trunc, vertical=args.command == "config")
        stdout.flush()
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
