"""The layer-size chart: one horizontal bar per platform, stacked by layer, as inline SVG.

Pure functions, no plotting library: :func:`bars_from_layers` turns the ``layers`` tables of
each platform (:func:`ociinspect.api.layers`) into :class:`Bar` values and
:func:`layer_chart_svg` draws them on one shared byte scale. A layer has the same colour in
every bar it appears in (colours follow digests), so a base layer shared by all platforms
reads as one colour down the chart. Each segment's tooltip names the layer, digest and size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from ..values.units import format_size, short_digest
from .format import esc

#: Colour-blind-friendly categorical palette (Okabe-Ito, then Tableau 10 tones).
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#4E79A7",
    "#B07AA1",
    "#76B7B2",
    "#EDC948",
    "#9C755F",
    "#59A14F",
    "#FF9DA7",
    "#BAB0AC",
)

LABEL_WIDTH = 150  # px for platform names
TOTAL_WIDTH = 90  # px for the total at the end of each bar
ROW_HEIGHT = 28
BAR_HEIGHT = 18
AXIS_HEIGHT = 24


@dataclass(frozen=True)
class Segment:
    """One layer inside a bar."""

    key: str  # the layer digest: equal keys share a colour
    size: int
    label: str  # e.g. "layer 2"


@dataclass(frozen=True)
class Bar:
    """One platform's image: its layers, bottom layer first."""

    label: str
    segments: tuple[Segment, ...]

    @property
    def total(self) -> int:
        return sum(s.size for s in self.segments)


def bars_from_layers(frames: Mapping[str, pd.DataFrame]) -> list[Bar]:
    """Platform -> ``layers`` table (columns ``position``, ``digest``, ``size``) -> bars."""
    bars = []
    for label, frame in frames.items():
        segments = tuple(
            Segment(str(digest), int(size), f"layer {int(position)}")
            for position, digest, size in zip(
                frame["position"], frame["digest"], frame["size"], strict=True
            )
        )
        bars.append(Bar(label, segments))
    return bars


def colours(bars: Sequence[Bar]) -> dict[str, str]:
    """Digest -> colour, in order of first appearance (shared layers share a colour)."""
    found: dict[str, str] = {}
    for bar in bars:
        for segment in bar.segments:
            if segment.key not in found:
                found[segment.key] = PALETTE[len(found) % len(PALETTE)]
    return found


def nice_step(maximum: float, ticks: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of 1024's unit) covering ``maximum``."""
    if maximum <= 0:
        return 1.0
    unit = 1.0
    while maximum / unit >= 1024 and unit < 1024**5:
        unit *= 1024
    raw = maximum / unit / ticks
    power = 10.0 ** _floor_log10(raw)
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power * unit
    return 10 * power * unit


def _floor_log10(value: float) -> int:
    exponent = 0
    while value >= 10:
        value /= 10
        exponent += 1
    while value < 1:
        value *= 10
        exponent -= 1
    return exponent


def layer_chart_svg(bars: Sequence[Bar], *, selected: str | None = None, width: int = 760) -> str:
    """The stacked bar chart as an ``<svg>`` element (empty string when there is no bar)."""
    if not bars:
        return ""
    palette = colours(bars)
    sharing = _sharing(bars)
    plot = width - LABEL_WIDTH - TOTAL_WIDTH
    largest = max(bar.total for bar in bars)
    step = nice_step(largest)
    top = max(step, step * -(-largest // step)) if largest else 1.0
    scale = plot / top
    height = ROW_HEIGHT * len(bars) + AXIS_HEIGHT
    parts = [
        f'<svg class="oi-chart-svg" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Compressed layer sizes by platform">'
    ]
    tick = 0.0
    while tick <= top + 1e-9:
        x = LABEL_WIDTH + tick * scale
        parts.append(
            f'<line class="oi-grid" x1="{x:.1f}" x2="{x:.1f}" y1="0" '
            f'y2="{ROW_HEIGHT * len(bars)}"/>'
            f'<text class="oi-tick" x="{x:.1f}" y="{height - 8}" text-anchor="middle">'
            f"{esc(format_size(tick) if tick else '0')}</text>"
        )
        tick += step
    for row, bar in enumerate(bars):
        y = row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        mid = row * ROW_HEIGHT + ROW_HEIGHT / 2 + 4
        chosen = " oi-chosen" if bar.label == selected else ""
        parts.append(
            f'<g class="oi-chart-row{chosen}" data-platform="{esc(bar.label)}">'
            f'<text class="oi-chart-label" x="{LABEL_WIDTH - 8}" y="{mid:.1f}" '
            f'text-anchor="end">{esc(bar.label)}</text>'
        )
        x = float(LABEL_WIDTH)
        for segment in bar.segments:
            w = segment.size * scale
            share = segment.size / bar.total if bar.total else 0.0
            others = sharing[segment.key] - 1
            shared = f" · in {others} other image{'s' * (others != 1)}" if others else ""
            tip = (
                f"{bar.label} · {segment.label} · {short_digest(segment.key)} · "
                f"{format_size(segment.size)} ({share:.1%}){shared}"
            )
            parts.append(
                f'<rect class="oi-seg" x="{x:.2f}" y="{y:.1f}" width="{max(w, 0.0):.2f}" '
                f'height="{BAR_HEIGHT}" fill="{palette[segment.key]}" '
                f'data-digest="{esc(segment.key)}"><title>{esc(tip)}</title></rect>'
            )
            if w >= 56:
                ink = "#1f2328" if _light(palette[segment.key]) else "#ffffff"
                parts.append(
                    f'<text class="oi-seg-label" x="{x + w / 2:.1f}" y="{mid:.1f}" '
                    f'text-anchor="middle" style="fill:{ink}">'
                    f"{esc(segment.label.replace('layer ', '#'))}</text>"
                )
            x += w
        parts.append(
            f'<text class="oi-chart-total" x="{x + 6:.1f}" y="{mid:.1f}">'
            f"{esc(format_size(bar.total))}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _light(colour: str) -> bool:
    """Whether dark text reads better than white on ``colour`` (#rrggbb; WCAG luminance)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return luminance > 0.3


def _sharing(bars: Sequence[Bar]) -> dict[str, int]:
    """Digest -> how many bars hold it."""
    count: dict[str, int] = {}
    for bar in bars:
        for key in {s.key for s in bar.segments}:
            count[key] = count.get(key, 0) + 1
    return count


def layer_chart_html(bars: Sequence[Bar], *, selected: str | None = None) -> str:
    """The chart with a heading and a one-line key (what colours and lengths mean)."""
    if not bars:
        return ""
    shared = sum(1 for n in _sharing(bars).values() if n > 1)
    key = "Bar length: compressed bytes; one colour per layer digest"
    if len(bars) > 1:
        key += f"; {shared} layer{'s' * (shared != 1)} shared between platforms"
    return (
        '<div class="oi-chart"><div class="oi-h">Layer sizes</div>'
        f"{layer_chart_svg(bars, selected=selected)}"
        f'<div class="oi-note">{esc(key)}. Hover a segment for its digest.</div></div>'
    )


__all__ = [
    "PALETTE",
    "Bar",
    "Segment",
    "bars_from_layers",
    "colours",
    "layer_chart_html",
    "layer_chart_svg",
    "nice_step",
]
