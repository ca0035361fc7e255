"""The layer-size chart: one horizontal bar per platform, stacked by layer, as inline SVG.

Pure functions, no plotting library: :func:`bars_from_layers` turns the ``layers`` tables of
each platform (:func:`ociinspect.api.layers`) into :class:`Bar` values and
:func:`layer_chart_svg` draws them on one shared byte scale. A layer has the same colour in
every bar it appears in (colours follow digests), so a base layer shared by all platforms
reads as one colour down the chart. Colours say something true: a colour is given only to a
layer that more than one bar holds, and no two such layers share one; a layer that only one
bar holds is drawn in the theme's neutral grey (``oi-seg-own``), so sixteen distinct layers
never look like repeats of each other. Each segment's tooltip names the layer, digest, size
and how many other images hold it; with several bars, clicking a bar selects its platform
(``data-oi-action``, :mod:`.htmlview`).
"""

from __future__ import annotations

import colorsys
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
    """Platform -> ``layers`` table (``position``, ``digest``, ``compressed_size``) -> bars."""
    bars = []
    for label, frame in frames.items():
        segments = tuple(
            Segment(str(digest), int(size), f"layer {int(position)}")
            for position, digest, size in zip(
                frame["position"], frame["digest"], frame["compressed_size"], strict=True
            )
        )
        bars.append(Bar(label, segments))
    return bars


def distinct_colour(index: int) -> str:
    """The ``index``-th categorical colour: the palette, then golden-angle hues (distinct
    however many are needed)."""
    if index < len(PALETTE):
        return PALETTE[index]
    hue = (index - len(PALETTE)) * 137.508 % 360
    r, g, b = colorsys.hls_to_rgb(hue / 360, 0.48, 0.62)
    return f"#{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"


def colours(bars: Sequence[Bar]) -> dict[str, str]:
    """Digest -> colour for the layers more than one bar holds, in order of first appearance,
    each its own; layers only one bar holds get no colour (they are drawn neutral)."""
    sharing = _sharing(bars)
    found: dict[str, str] = {}
    for bar in bars:
        for segment in bar.segments:
            if sharing[segment.key] > 1 and segment.key not in found:
                found[segment.key] = distinct_colour(len(found))
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
        act = ""
        if len(bars) > 1:
            act = (f' data-oi-action="platform" data-oi-arg="{esc(bar.label)}" tabindex="0" '
                   f'role="button" aria-label="Show {esc(bar.label)}"')
            chosen += " oi-clickable"
        parts.append(
            f'<g class="oi-chart-row{chosen}" data-platform="{esc(bar.label)}"{act}>'
            f'<text class="oi-chart-label" x="{LABEL_WIDTH - 8}" y="{mid:.1f}" '
            f'text-anchor="end">{esc(bar.label)}</text>'
        )
        x = float(LABEL_WIDTH)
        for segment in bar.segments:
            w = segment.size * scale
            share = segment.size / bar.total if bar.total else 0.0
            others = sharing[segment.key] - 1
            shared = (
                f" · in {others} other image{'s' * (others != 1)}"
                if others
                else (" · only in this image" if len(bars) > 1 else "")
            )
            tip = (
                f"{bar.label} · {segment.label} · {short_digest(segment.key)} · "
                f"{format_size(segment.size)} ({share:.1%}){shared}"
            )
            fill = palette.get(segment.key)
            paint = f'fill="{fill}"' if fill else 'fill="#9e9e9e"'
            own = "" if fill else " oi-seg-own"
            parts.append(
                f'<rect class="oi-seg{own}" x="{x:.2f}" y="{y:.1f}" width="{max(w, 0.0):.2f}" '
                f'height="{BAR_HEIGHT}" {paint} '
                f'data-digest="{esc(segment.key)}"><title>{esc(tip)}</title></rect>'
            )
            if w >= 56:
                if fill:
                    ink = "#1f2328" if _light(fill) else "#ffffff"
                    style = f' style="fill:{ink}"'
                    label_class = "oi-seg-label"
                else:
                    style, label_class = "", "oi-seg-label oi-seg-own-label"
                parts.append(
                    f'<text class="{label_class}" x="{x + w / 2:.1f}" y="{mid:.1f}" '
                    f'text-anchor="middle"{style}>'
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
    key = "Bar length: compressed bytes"
    if len(bars) > 1:
        key += (
            f"; coloured: the {shared} layer{'s' * (shared != 1)} shared between platforms "
            "(one colour each); grey: layers only one platform has. Click a bar to show "
            "that platform"
        )
    else:
        key += "; one segment per layer"
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
    "distinct_colour",
    "layer_chart_html",
    "layer_chart_svg",
    "nice_step",
]
