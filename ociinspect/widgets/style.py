"""The browser's stylesheet, scoped under ``.oi-browser``; JupyterLab theme variables first.

Colours come from JupyterLab's CSS variables where one fits (so dark themes work), with a light
fallback for front ends without them.
"""

from __future__ import annotations

CSS = """
.oi-browser { font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  color: var(--jp-ui-font-color1, #1f2328); font-size: 13px; max-width: 1280px; }
.oi-browser, .oi-browser .widget-html, .oi-browser .widget-html-content,
.oi-browser .widget-box, .oi-browser .widget-tab { min-width: 0; max-width: 100%; }
.oi-browser code { font-family: var(--jp-code-font-family, ui-monospace, monospace);
  font-size: 11.5px; background: none; padding: 0; color: inherit; }
.oi-browser .oi-toolbar { align-items: center; gap: 6px; }
.oi-browser .oi-status { color: var(--jp-ui-font-color2, #57606a); font-size: 12px;
  flex: 1 1 0; }
.oi-browser .oi-status .widget-html-content { white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.oi-browser .oi-spinner { display: inline-block; width: 11px; height: 11px; margin-right: 6px;
  border: 2px solid var(--jp-border-color2, #d0d7de);
  border-top-color: var(--jp-brand-color1, #1976d2); border-radius: 50%;
  vertical-align: -2px; animation: oi-spin 0.8s linear infinite; }
@keyframes oi-spin { to { transform: rotate(360deg); } }
.oi-browser .oi-error-box { border: 1px solid #f1aeb5; background: #fdf0f1; color: #842029;
  padding: 8px 12px; border-radius: 4px; margin: 4px 0; }
.oi-browser .oi-error-message { font-family: var(--jp-code-font-family, monospace);
  font-size: 12px; white-space: pre-wrap; margin-top: 4px; }
.oi-browser .oi-stale { opacity: 0.45; transition: opacity 0.2s; }
.oi-browser .oi-facts { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 6px 0 2px;
  font-size: 12.5px; }
.oi-browser .oi-fact-key { color: var(--jp-ui-font-color2, #57606a); font-size: 10.5px;
  text-transform: uppercase; letter-spacing: 0.04em; margin-right: 2px; }
.oi-browser .oi-h { font-weight: 600; font-size: 13px; margin: 10px 0 4px; }
.oi-browser .oi-note, .oi-browser .oi-summary { font-size: 12px; margin: 4px 0;
  color: var(--jp-ui-font-color2, #57606a); }
.oi-browser .oi-empty { color: var(--jp-ui-font-color2, #57606a); font-style: italic; }
.oi-browser .oi-scroll { overflow: auto; max-height: 460px;
  border: 1px solid var(--jp-border-color2, #e1e4e8); border-radius: 4px; }
.oi-browser table.oi-table { border-collapse: collapse; font-size: 12px; line-height: 1.5;
  font-variant-numeric: tabular-nums; width: 100%; }
.oi-browser .oi-table th { text-align: left; font-weight: 600; white-space: nowrap;
  color: var(--jp-ui-font-color2, #57606a); background: var(--jp-layout-color2, #f6f8fa);
  border-bottom: 1px solid var(--jp-border-color1, #d0d7de); padding: 4px 10px;
  position: sticky; top: 0; z-index: 1; }
.oi-browser .oi-table td { padding: 3px 10px; white-space: nowrap; vertical-align: middle;
  border-bottom: 1px solid var(--jp-border-color3, #eef1f4); }
.oi-browser .oi-table .oi-num { text-align: right; }
.oi-browser .oi-table tbody tr:hover td { background: var(--jp-layout-color2, #f6f8fa); }
.oi-browser .oi-table.oi-kv { width: auto; }
.oi-browser .oi-table.oi-kv th { position: static; background: none; border-bottom-color:
  var(--jp-border-color3, #eef1f4); font-weight: 500; }
.oi-browser .oi-table .oi-command { white-space: nowrap; }
.oi-browser .oi-row-attestation td, .oi-browser .oi-row-artifact td {
  color: var(--jp-ui-font-color2, #6e7781); }
.oi-browser .oi-row-selected td { background: var(--jp-brand-color4, #e7f0fb); }
.oi-browser .oi-row-selected td:first-child {
  box-shadow: inset 3px 0 0 var(--jp-brand-color1, #1976d2); }
.oi-browser .oi-share { display: flex; align-items: center; gap: 8px; }
.oi-browser .oi-bar { width: 140px; height: 10px; border-radius: 2px; overflow: hidden;
  background: var(--jp-border-color3, #e6eaef); }
.oi-browser .oi-bar-fill { height: 100%; background: var(--jp-brand-color1, #1976d2); }
.oi-browser .oi-pct { min-width: 3.6em; text-align: right; font-size: 11px;
  color: var(--jp-ui-font-color2, #57606a); }
.oi-browser .oi-badge { display: inline-block; padding: 0 7px; border-radius: 9px;
  font-size: 11px; line-height: 17px; background: #eaeef2; color: #24292f; }
.oi-browser .oi-badge-attestation { background: #fff1c2; color: #6b4500; }
.oi-browser .oi-badge-index { background: #dbeafe; color: #1e40af; }
.oi-browser .oi-badge-artifact { background: #ede4ff; color: #5b21b6; }
.oi-browser .oi-badge-empty { background: #eef1f4; color: #6e7781; }
.oi-browser .oi-badge-whiteout { background: #ffe4e0; color: #9a1c0b; }
.oi-browser .oi-badge-ok { background: #dcf5e3; color: #1a6b34; }
.oi-browser .oi-badge-redirect { background: #dbeafe; color: #1e40af; }
.oi-browser .oi-badge-error { background: #ffe4e0; color: #9a1c0b; }
.oi-browser .oi-describes { font-size: 11px; }
.oi-browser .oi-type-dir code, .oi-browser .oi-type-dir { color: #0550ae; }
.oi-browser .oi-chart { margin: 6px 0; }
.oi-browser .oi-chart-svg { max-width: 100%; height: auto; display: block; }
.oi-browser .oi-chart-svg text { font-family: var(--jp-ui-font-family, sans-serif);
  font-size: 11px; fill: var(--jp-ui-font-color1, #1f2328); }
.oi-browser .oi-chart-svg .oi-tick { fill: var(--jp-ui-font-color2, #6e7781); font-size: 10px; }
.oi-browser .oi-chart-svg .oi-grid { stroke: var(--jp-border-color2, #e1e4e8); }
.oi-browser .oi-chart-svg .oi-seg { stroke: var(--jp-layout-color1, #fff); stroke-width: 1; }
.oi-browser .oi-chart-svg .oi-seg:hover { opacity: 0.8; }
.oi-browser .oi-chart-svg .oi-seg-label { font-size: 10px; pointer-events: none; }
.oi-browser .oi-chart-svg .oi-chosen .oi-chart-label { font-weight: 700; }
.oi-browser .oi-json { font-family: var(--jp-code-font-family, ui-monospace, monospace);
  font-size: 12px; line-height: 1.45; background: var(--jp-layout-color2, #f6f8fa);
  padding: 8px 12px; border-radius: 4px; max-height: 460px; overflow: auto; margin: 4px 0; }
.oi-browser .oi-j-key { color: #0550ae; }
.oi-browser .oi-j-str { color: #0a3069; }
.oi-browser .oi-j-digest { color: #8250df; }
.oi-browser .oi-j-num { color: #953800; }
.oi-browser .oi-j-lit { color: #cf222e; }
.oi-browser .oi-raw-links { flex-wrap: wrap; gap: 4px; }
.oi-browser .oi-raw-link { font-family: var(--jp-code-font-family, monospace); font-size: 11px; }
.oi-browser .oi-url { white-space: nowrap; }
.oi-browser .oi-table tr.oi-group th { position: static; text-align: left; font-weight: 600;
  color: var(--jp-ui-font-color1, #1f2328); background: var(--jp-layout-color1, #fff);
  padding-top: 8px; }
.oi-browser .oi-error-cell { color: #9a1c0b; }
"""


def style_html() -> str:
    """The stylesheet as HTML for an ``ipywidgets.HTML`` placed once in the browser."""
    return f"<style>{CSS}</style>"


__all__ = ["CSS", "style_html"]
