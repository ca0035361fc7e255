"""``ociinspect inventory``: the fleet inventory on a terminal or into a file.

::

    ociinspect inventory REGISTRY[/PREFIX] [--repos NAME|GLOB ...] [--tags all|latest|REGEX]
                         [--platform P ...] [--format csv|json|parquet] [--output FILE]

``csv`` and ``json`` go to stdout unless ``--output``; ``parquet`` needs ``--output`` (or a
binary stdout) and pandas' pyarrow engine (``pip install 'ociinspect[parquet]'``). The
``labels`` column is a JSON object in csv and parquet, an object in json. Rows that failed are
part of the table (``status``, ``error_type``, ``error``); a one-line summary goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, BinaryIO, TextIO

import pandas as pd

from . import fleet
from .session import Session, Settings

FORMATS = ("csv", "json", "parquet")
SUMMARY = "one row per repository, tag and platform image of a registry (csv, json, parquet)"


def add_parser(commands: Any) -> None:
    """Add ``inventory`` to the CLI's subcommands."""
    sub = commands.add_parser("inventory", help=SUMMARY, description=SUMMARY)
    sub.add_argument("registry", metavar="REGISTRY", help="registry[/prefix], e.g. ghcr.io/org")
    sub.add_argument(
        "--repos", nargs="+", metavar="NAME", help="repositories (glob patterns match the "
        "catalog); default: the whole catalog"
    )
    sub.add_argument(
        "--tags", default="all", help="all, latest, or a regular expression (full match)"
    )
    sub.add_argument(
        "--platform", "-p", action="append", help="keep these platforms (repeatable)"
    )
    sub.add_argument("--format", "-f", choices=FORMATS, default="csv", help="default: csv")
    sub.add_argument("--output", "-o", help="write to this file instead of stdout")
    sub.add_argument(
        "--sizes", choices=("estimate", "none"), default="estimate",
        help="uncompressed sizes: estimate (one small read per distinct layer) or none",
    )
    sub.add_argument("--concurrency", type=int, default=fleet.CONCURRENCY,
                     help="requests in flight to the registry (default: %(default)s)")
    sub.add_argument("--no-cache", action="store_true", help="do not use the disk cache")
    sub.add_argument("--progress", action="store_true", help="a progress bar on stderr")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as JSON values (ISO times, labels as objects, missing as null)."""
    loaded: list[dict[str, Any]] = json.loads(
        frame.to_json(orient="records", date_format="iso", date_unit="s")
    )
    return loaded


def flat(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with ``labels`` as JSON text (csv and parquet have no dict cells)."""
    out = pd.DataFrame(frame).copy()
    out["labels"] = pd.Series(
        [json.dumps(v, sort_keys=True) if isinstance(v, dict) else None for v in out["labels"]],
        dtype=pd.StringDtype(),
        index=out.index,
    )
    return out


def write(frame: pd.DataFrame, fmt: str, out: TextIO, path: str | None) -> None:
    """``frame`` in ``fmt`` to ``path``, else to ``out``."""
    if fmt == "parquet":
        binary: BinaryIO | None = None
        if path is None:
            binary = getattr(out, "buffer", None)
            if binary is None:
                raise ValueError("--format parquet needs --output FILE here")
        flat(frame).to_parquet(path if path is not None else binary, index=False)
        return
    text = (
        flat(frame).to_csv(index=False)
        if fmt == "csv"
        else json.dumps(records(frame), indent=1) + "\n"
    )
    if path is None:
        out.write(text)
    else:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)


def command(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``ociinspect inventory``; 0 when the table was written (error rows included)."""
    changes: dict[str, Any] = {"cache": False} if args.no_cache else {}
    session = Session(Settings.from_env(**changes))
    frame = fleet.inventory(
        args.registry,
        repositories=args.repos,
        tags=args.tags,
        platforms=args.platform or True,
        sizes=args.sizes,
        concurrency=args.concurrency,
        progress=args.progress,
        session=session,
    )
    write(frame, args.format, out, args.output)
    out.flush()
    counts = frame["status"].value_counts()
    print(
        f"ociinspect: {len(frame)} rows, {counts.get('error', 0)} errors, "
        f"{counts.get('empty', 0)} repositories without tags",
        file=sys.stderr,
    )
    return 0


__all__ = ["FORMATS", "add_parser", "command", "flat", "records", "write"]
