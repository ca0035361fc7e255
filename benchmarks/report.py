"""Markdown tables of the measured rows, and the verdict on each target of the issue."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .drivers import Sample


@dataclass
class Row:
    """One tool doing one thing, measured several times."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def spread(self) -> str:
        times = [s.seconds for s in self.samples]
        return f"{min(times):.3f}–{max(times):.3f}"

    @property
    def counts(self) -> dict[str, Any]:
        """The request counts of the last run (every run of a row sends the same requests)."""
        return self.samples[-1].counts

    def peak(self) -> str:
        """Peak memory: above the interpreter's baseline for Python, whole process otherwise."""
        above = [s.peak_above_mib for s in self.samples if s.peak_above_mib is not None]
        if above:
            return f"+{max(above):.1f}"
        whole = [s.info["peak_rss_mib"] for s in self.samples if "peak_rss_mib" in s.info]
        return f"{max(whole):.1f} (process)" if whole else "–"


def requests_cell(counts: dict[str, Any]) -> str:
    """``25 GET + 1×401 + 1 token + 8 CDN``: registry requests answered (GET, HEAD; 200 or
    307), registry requests answered 401, token server requests, CDN requests."""
    parts = []
    if counts["get"]:
        parts.append(f"{counts['get']} GET")
    if counts["head"]:
        parts.append(f"{counts['head']} HEAD")
    if counts["unauthorized"]:
        parts.append(f"{counts['unauthorized']}×401")
    if counts["token"]:
        parts.append(f"{counts['token']} token")
    if counts["cdn"]:
        parts.append(f"{counts['cdn']} CDN")
    return " + ".join(parts) or "0"


def timing_table(rows: Sequence[Row], reference: Row) -> list[str]:
    lines = [
        "| tool / case | median s | min–max s | × ociinspect | requests (last run) | "
        "peak MiB | note |",
        "| --- | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for row in rows:
        ratio = row.median / reference.median if reference.median else float("nan")
        lines.append(
            f"| {row.name} | {row.median:.3f} | {row.spread} | {ratio:.2f} | "
            f"{requests_cell(row.counts)} | {row.peak()} | {row.note} |"
        )
    return lines


def throughput_table(rows: Sequence[Row], size: int, reference: Row) -> list[str]:
    lines = [
        "| tool / case | median s | min–max s | MiB/s | % of hashlib | peak MiB | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    base = size / 2**20 / reference.median
    for row in rows:
        rate = size / 2**20 / row.median
        lines.append(
            f"| {row.name} | {row.median:.3f} | {row.spread} | {rate:.0f} | "
            f"{rate / base:.0%} | {row.peak()} | {row.note} |"
        )
    return lines


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: not a target here (the reason says why)
    why: str = ""


def verdict_table(verdicts: Sequence[Verdict]) -> list[str]:
    lines = ["| target | measured | met? |", "| --- | --- | --- |"]
    for v in verdicts:
        mark = {True: "met", False: "**missed**", None: "n/a"}[v.met]
        why = f" ({v.why})" if v.why else ""
        lines.append(f"| {v.target} | {v.measured} | {mark}{why} |")
    return lines


def check(target: str, measured: str, test: Callable[[], bool], why: str = "") -> Verdict:
    return Verdict(target, measured, bool(test()), why)
