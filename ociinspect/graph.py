"""The content-addressed graph of an image, drawn from what a registry (or layout) holds.

An index points at manifests, a manifest at one config and its layers, an attestation manifest
describes an image manifest, a referrer names its subject: every arrow is a digest. Because
the store is addressed by content, a layer that several images use is one node with several
arrows into it. :func:`content_graph` reads the graph (one manifest GET per entry it follows:
a pull each on Docker Hub) into two DataFrames; :func:`graph_svg` draws it, one column per
level, shared nodes highlighted.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from .navigation import Image, ImageIndex
from .navigation import open as open_ref
from .session import Session
from .values import mediatypes as mt
from .values.units import format_size

#: Columns (left to right) of the drawing, by node kind.
LEVELS = {
    "tag": 0,
    "index": 1,
    "manifest": 2,
    "attestation": 2,
    "referrer": 2,
    "config": 3,
    "layer": 3,
    "blob": 3,
}
_FILL = {
    "tag": "#f2f2f2",
    "index": "#dbe9f6",
    "manifest": "#dff0d8",
    "attestation": "#fcf3cf",
    "referrer": "#f9e0e0",
    "config": "#ececec",
    "layer": "#ffffff",
    "blob": "#ffffff",
}


@dataclass(frozen=True)
class Graph:
    """``nodes``: digest (the tag's name for the tag node), kind, label, size, parents;
    ``edges``: source, target, relation (``lists``, ``config``, ``layer``, ``describes``,
    ``subject``)."""

    nodes: pd.DataFrame
    edges: pd.DataFrame

    def _repr_html_(self) -> str:
        return graph_svg(self)


def content_graph(
    ref: str | Image | ImageIndex, *, referrers: bool = True, session: Session | None = None
) -> Graph:
    """The graph under ``ref``: the index (if any), each entry's manifest, each manifest's
    config and layers, and (``referrers``) the artifacts whose subject is the index or an
    image. Attestations and referrers point at what they describe."""
    found = ref if isinstance(ref, Image | ImageIndex) else open_ref(ref, session=session)
    nodes: dict[str, dict[str, object]] = {}
    edges: list[tuple[str, str, str]] = []

    def node(digest: str, kind: str, label: str, size: int) -> None:
        nodes.setdefault(digest, {"digest": digest, "kind": kind, "label": label, "size": size})

    def manifest(img: Image, kind: str, label: str) -> None:
        node(img.digest, kind, label, len(img.manifest.raw))
        config = img.manifest.config
        config_kind = "config" if config.media_type in mt.CONFIG_TYPES else "blob"
        node(config.digest, config_kind, _short_type(config.media_type), config.size)
        edges.append((img.digest, config.digest, "config"))
        for position, layer in enumerate(img.layers):
            kind_ = "layer" if mt.kind(layer.media_type) == "layer" else "blob"
            node(
                layer.digest,
                kind_,
                f"layer {position}" if kind_ == "layer" else _short_type(layer.media_type),
                layer.size,
            )
            edges.append((img.digest, layer.digest, "layer"))

    tag = getattr(found, "reference", "")
    top = found.digest
    if isinstance(found, ImageIndex):
        node(top, "index", "index", len(found.index.raw))
        images = []
        for entry, target in found.images(kinds=("image", "attestation"), with_config=False):
            if isinstance(target, Image):
                kind = "attestation" if entry.kind == "attestation" else "manifest"
                label = entry.platform_string if kind == "manifest" else "attestation"
                manifest(target, kind, label)
                edges.append((top, target.digest, "lists"))
                if entry.describes:
                    edges.append((target.digest, entry.describes, "describes"))
                if kind == "manifest":
                    images.append(target)
        subjects = [top, *(i.digest for i in images)]
    else:
        manifest(found, "manifest", str(found.platform or "image"))
        subjects = [top]
    if referrers:
        for digest in subjects:
            listed = found.source.referrers(digest)
            for desc in listed.json.get("manifests", []):
                label = _short_type(desc.get("artifactType") or desc.get("mediaType", ""))
                node(desc["digest"], "referrer", label, int(desc.get("size", 0)))
                edges.append((desc["digest"], digest, "subject"))
    node("tag", "tag", tag.rsplit("/", 1)[-1], 0)
    edges.insert(0, ("tag", top, "tag"))
    edge_frame = pd.DataFrame(edges, columns=["source", "target", "relation"]).drop_duplicates()
    node_frame = pd.DataFrame(list(nodes.values()))
    parents = edge_frame[edge_frame["relation"].isin(["config", "layer", "lists"])]
    counts = parents.groupby("target")["source"].nunique()
    node_frame["parents"] = node_frame["digest"].map(counts).fillna(0).astype("int64")
    return Graph(node_frame, edge_frame.reset_index(drop=True))


def _short_type(media_type: str) -> str:
    """``application/vnd.oci.image.config.v1+json`` -> ``image.config.v1+json``."""
    text = media_type.removeprefix("application/").removeprefix("vnd.")
    return text.removeprefix("oci.").removeprefix("docker.")[:34]


def graph_svg(graph: Graph, width: int = 980) -> str:
    """An SVG drawing: one column per level, arrows for digests; a node with several parents
    (shared by images) has a thick border."""
    nodes = graph.nodes.assign(level=graph.nodes["kind"].map(LEVELS))
    columns: dict[int, list[str]] = {}
    for digest, level in zip(nodes["digest"], nodes["level"], strict=True):
        columns.setdefault(int(level), []).append(str(digest))
    box_w, box_h, gap = 200, 34, 8
    step = (width - box_w - 20) // max(1, max(LEVELS.values()))
    height = max(len(column) for column in columns.values()) * (box_h + gap) + 40
    place: dict[str, tuple[float, float]] = {}
    for level, column in sorted(columns.items()):
        offset = (height - len(column) * (box_h + gap)) / 2
        for i, digest in enumerate(column):
            place[digest] = (10 + level * step, offset + i * (box_h + gap))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
        'fill="#888"/></marker></defs>',
    ]
    for edge in graph.edges.to_dict("records"):
        source, target, relation = str(edge["source"]), str(edge["target"]), str(edge["relation"])
        if source not in place or target not in place:
            continue
        (x1, y1), (x2, y2) = place[source], place[target]
        dashed = ' stroke-dasharray="4 3"' if relation in ("describes", "subject") else ""
        if x2 > x1:
            sx, sy, tx, ty = x1 + box_w, y1 + box_h / 2, x2, y2 + box_h / 2
            bend = (sx + tx) / 2
            curve = f"M{sx},{sy} C{bend},{sy} {bend},{ty} {tx},{ty}"
        elif x2 < x1:  # back left: a referrer at the index it is about
            sx, sy, tx, ty = x1, y1 + box_h / 2, x2 + box_w, y2 + box_h / 2
            bend = (sx + tx) / 2
            curve = f"M{sx},{sy} C{bend},{sy} {bend},{ty} {tx},{ty}"
        else:  # the same column: an attestation at its image, loops out to the left
            sx, sy, tx, ty = x1, y1 + box_h / 2, x2, y2 + box_h / 2
            bend = sx - 30 - abs(sy - ty) / 6
            curve = f"M{sx},{sy} C{bend},{sy} {bend},{ty} {tx},{ty}"
        out.append(
            f'<path d="{curve}" fill="none" '
            f'stroke="#888"{dashed} marker-end="url(#arrow)"><title>{relation}'
            f"</title></path>"
        )
    for node in nodes.to_dict("records"):
        digest, kind, label = str(node["digest"]), str(node["kind"]), str(node["label"])
        parents = int(node["parents"])
        x, y = place[digest]
        stroke = 3 if parents > 1 else 1
        name = f"{digest[:19]}…"
        size = "" if kind == "tag" else f" · {format_size(int(node['size']))}"
        what = label if kind == "tag" else f"{digest} ({parents} parents)"
        title = html.escape(f"{kind} {what}")
        out.append(
            f'<g><title>{title}</title><rect x="{x}" y="{y}" width="{box_w}" '
            f'height="{box_h}" rx="4" fill="{_FILL[kind]}" stroke="#555" '
            f'stroke-width="{stroke}"/>'
        )
        out.append(
            f'<text x="{x + 6}" y="{y + 14}" font-weight="bold">'
            f"{html.escape(label)}{html.escape(size)}</text>"
        )
        if kind != "tag":
            out.append(f'<text x="{x + 6}" y="{y + 28}" fill="#555">{html.escape(name)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


__all__ = ["LEVELS", "Graph", "content_graph", "graph_svg"]
