"""The browser's stylesheet, scoped under ``.oi-browser``; JupyterLab theme variables first.

Every foreground and background comes from JupyterLab's theme variables (light fallbacks for
front ends without them), so JupyterLab Light and Dark both read: selected rows are the brand
colour with the inverse font colour, badges and the error box tint the layout colour with a
status colour under the main font colour, and coloured text (JSON tokens, links) mixes the
theme's colour with the main font colour, which raises its contrast in either theme. The
browser tests measure the contrast of these pairs as rendered (at least 4.5:1).
"""

from __future__ import annotations

CSS = """
.oi-browser { font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  color: var(--jp-ui-font-color1, #1f2328); font-size: 13px; max-width: 1280px;
  container-type: inline-size; container-name: oi-browser; }
.oi-browser, .oi-browser .widget-html, .oi-browser .widget-html-content,
.oi-browser .widget-box, .oi-browser .widget-tab { min-width: 0; max-width: 100%; }
.oi-browser code { font-family: var(--jp-code-font-family, ui-monospace, monospace);
  font-size: 11.5px; background: none; padding: 0; color: inherit; }
.oi-browser .oi-toolbar { align-items: center; gap: 6px; flex-wrap: wrap; }
.oi-browser .oi-status { color: var(--jp-ui-font-color1, #1f2328); font-size: 12px;
  flex: 1 1 220px; min-width: 180px; }
.oi-browser .oi-status .widget-html-content { white-space: normal; overflow-wrap: anywhere;
  line-height: 1.35; }
.oi-browser .oi-spinner { display: inline-block; width: 11px; height: 11px; margin-right: 6px;
  border: 2px solid var(--jp-border-color2, #d0d7de);
  border-top-color: var(--jp-brand-color1, #1976d2); border-radius: 50%;
  vertical-align: -2px; animation: oi-spin 0.8s linear infinite; }
@keyframes oi-spin { to { transform: rotate(360deg); } }
.oi-browser .oi-error-box { border: 1px solid var(--jp-error-color1, #d32f2f);
  background: color-mix(in srgb, var(--jp-error-color1, #d32f2f) 10%,
    var(--jp-layout-color1, #fff));
  color: var(--jp-ui-font-color0, #000); padding: 8px 12px; border-radius: 4px; margin: 4px 0; }
.oi-browser .oi-error-message { margin-top: 4px; overflow-wrap: anywhere; }
.oi-browser .oi-error-step { margin-top: 4px; overflow-wrap: anywhere; }
.oi-browser .oi-error-tags { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 6px; }
.oi-browser .oi-error-details { margin-top: 6px; font-size: 12px; }
.oi-browser .oi-error-details code { white-space: pre-wrap; overflow-wrap: anywhere; }
.oi-browser .oi-tag, .oi-browser .oi-linkish { font: inherit; font-size: 12px; cursor: pointer;
  color: var(--jp-ui-font-color0, #000); background: var(--jp-layout-color2, #eee);
  border: 1px solid var(--jp-border-color1, #bdbdbd); border-radius: 3px; padding: 0 8px; }
.oi-browser .oi-linkish { font-family: var(--jp-code-font-family, monospace); }
.oi-browser .oi-stale { opacity: 0.45; transition: opacity 0.2s; }
.oi-browser .oi-facts { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 6px 0 2px;
  font-size: 12.5px; }
.oi-browser .oi-fact-key { color: var(--jp-ui-font-color1, #57606a); font-size: 10.5px;
  text-transform: uppercase; letter-spacing: 0.04em; margin-right: 2px; }
.oi-browser .oi-h { font-weight: 600; font-size: 13px; margin: 10px 0 4px; }
.oi-browser .oi-note, .oi-browser .oi-summary { font-size: 12px; margin: 4px 0;
  color: var(--jp-ui-font-color1, #57606a); }
.oi-browser .oi-empty { color: var(--jp-ui-font-color1, #57606a); font-style: italic; }
.oi-browser .oi-scroll { overflow: auto; max-height: 460px;
  border: 1px solid var(--jp-border-color2, #e1e4e8); border-radius: 4px; }
.oi-browser .oi-platforms-view .oi-scroll { max-height: 250px; }
.oi-browser table.oi-table { border-collapse: collapse; font-size: 12px; line-height: 1.5;
  font-variant-numeric: tabular-nums; width: 100%; }
.oi-browser .oi-table th { text-align: left; font-weight: 600; white-space: nowrap;
  color: var(--jp-ui-font-color0, #000); background: var(--jp-layout-color2, #eee);
  border-bottom: 1px solid var(--jp-border-color1, #d0d7de); padding: 4px 10px;
  position: sticky; top: 0; z-index: 1; }
.oi-browser .oi-table td { padding: 3px 10px; white-space: nowrap; vertical-align: top;
  border-bottom: 1px solid var(--jp-border-color3, #eef1f4); }
.oi-browser .oi-table .oi-num { text-align: right; }
.oi-browser .oi-table tbody tr:hover td {
  background: color-mix(in srgb, var(--jp-layout-color0, #fff) 88%,
    var(--jp-brand-color1, #1976d2)); }
.oi-browser .oi-table tr.oi-clickable { cursor: pointer; }
.oi-browser .oi-table.oi-kv { width: auto; }
.oi-browser .oi-table.oi-kv th { position: static; background: none; border-bottom-color:
  var(--jp-border-color3, #eef1f4); font-weight: 500; color: var(--jp-ui-font-color1, #333); }
.oi-browser .oi-table.oi-kv td { white-space: normal; overflow-wrap: anywhere; }
.oi-browser .oi-table .oi-command { white-space: nowrap; }
.oi-browser .oi-more summary { cursor: pointer; list-style: none; white-space: nowrap; }
.oi-browser .oi-more summary::-webkit-details-marker { display: none; }
.oi-browser .oi-more summary::before { content: "▸ "; font-size: 10px; }
.oi-browser .oi-more[open] summary::before { content: "▾ "; }
.oi-browser .oi-more-body { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 72ch;
  padding: 4px 0; }
.oi-browser .oi-row-attestation td, .oi-browser .oi-row-artifact td {
  color: var(--jp-ui-font-color1, #333); font-style: italic; }
.oi-browser .oi-table tr.oi-row-selected td, .oi-browser .oi-table tr.oi-row-selected:hover td {
  background: var(--jp-brand-color1, #1976d2); color: var(--jp-ui-inverse-font-color0, #fff); }
.oi-browser .oi-row-selected td * { color: inherit; }
.oi-browser .oi-row-selected .oi-copy::after { background: var(--jp-brand-color1, #1976d2); }
.oi-browser .oi-share { display: flex; align-items: center; gap: 8px; }
.oi-browser .oi-bar { width: 120px; height: 10px; border-radius: 2px; overflow: hidden;
  background: var(--jp-layout-color2, #e6eaef); }
.oi-browser .oi-bar-fill { height: 100%; background: var(--jp-brand-color1, #1976d2); }
.oi-browser .oi-pct { min-width: 3.6em; text-align: right; font-size: 11px;
  color: var(--jp-ui-font-color1, #333); }
.oi-browser .oi-badge { display: inline-block; padding: 0 7px; border-radius: 9px;
  font-size: 11px; line-height: 17px; color: var(--jp-ui-font-color0, #000);
  --oi-tone: var(--jp-border-color1, #bdbdbd);
  background: color-mix(in srgb, var(--oi-tone) 24%, var(--jp-layout-color1, #fff));
  border: 1px solid var(--oi-tone); }
.oi-browser .oi-badge-attestation { --oi-tone: var(--jp-warn-color1, #f57c00); }
.oi-browser .oi-badge-index, .oi-browser .oi-badge-redirect {
  --oi-tone: var(--jp-brand-color1, #1976d2); }
.oi-browser .oi-badge-artifact { --oi-tone: var(--jp-info-color1, #0097a7); }
.oi-browser .oi-badge-whiteout, .oi-browser .oi-badge-error {
  --oi-tone: var(--jp-error-color1, #d32f2f); }
.oi-browser .oi-badge-ok { --oi-tone: var(--jp-success-color1, #388e3c); }
.oi-browser .oi-describes { font-size: 11px; }
.oi-browser .oi-type-dir code, .oi-browser .oi-type-dir { font-weight: 600; }
.oi-browser .oi-copy { position: relative; display: inline-block; width: 16px; height: 16px;
  padding: 0; margin-left: 4px; vertical-align: -3px; cursor: pointer;
  color: var(--jp-ui-font-color1, #333); background: none; border: 0; border-radius: 3px; }
.oi-browser .oi-copy:hover, .oi-browser .oi-copy:focus-visible {
  background: var(--jp-layout-color2, #eee); }
/* Two overlapping sheets, drawn with borders (no icon font needed). */
.oi-browser .oi-copy::before, .oi-browser .oi-copy::after { content: ""; position: absolute;
  width: 7px; height: 8px; border: 1.5px solid currentColor; border-radius: 1.5px; }
.oi-browser .oi-copy::before { left: 3px; top: 2px; }
.oi-browser .oi-copy::after { left: 6px; top: 5px; background: var(--jp-layout-color1, #fff); }
.oi-browser .oi-copy.oi-copied::before { border: 0; border-bottom: 2px solid currentColor;
  border-right: 2px solid currentColor; width: 4px; height: 8px; left: 6px; top: 2px;
  transform: rotate(45deg); border-radius: 0; }
.oi-browser .oi-copy.oi-copied::after { display: none; }
.oi-browser .oi-cmd { display: flex; align-items: baseline; gap: 4px; margin: 2px 0; }
.oi-browser .oi-cmd code { overflow-wrap: anywhere; white-space: pre-wrap; }
.oi-browser .oi-commands summary { cursor: pointer; font-size: 12px; }
.oi-browser .oi-commands .oi-cmd-what { color: var(--jp-ui-font-color1, #333);
  font-size: 11.5px; margin-top: 4px; }
.oi-browser .oi-chart { margin: 6px 0; }
.oi-browser .oi-chart-svg { max-width: 100%; height: auto; display: block; }
.oi-browser .oi-chart-svg text { font-family: var(--jp-ui-font-family, sans-serif);
  font-size: 11px; fill: var(--jp-ui-font-color1, #1f2328); }
.oi-browser .oi-chart-svg .oi-tick { fill: var(--jp-ui-font-color1, #333); font-size: 10px; }
.oi-browser .oi-chart-svg .oi-grid { stroke: var(--jp-border-color2, #e1e4e8); }
.oi-browser .oi-chart-svg .oi-seg { stroke: var(--jp-layout-color1, #fff); stroke-width: 1; }
.oi-browser .oi-chart-svg .oi-seg-own { fill: var(--jp-layout-color3, #bdbdbd); }
.oi-browser .oi-chart-svg .oi-seg-own-label { fill: var(--jp-ui-font-color0, #000); }
.oi-browser .oi-chart-svg .oi-clickable { cursor: pointer; }
.oi-browser .oi-chart-svg .oi-clickable:hover .oi-chart-label { text-decoration: underline; }
.oi-browser .oi-chart-svg .oi-seg:hover { opacity: 0.8; }
.oi-browser .oi-chart-svg .oi-seg-label { font-size: 10px; pointer-events: none; }
.oi-browser .oi-chart-svg .oi-chosen .oi-chart-label { font-weight: 700; }
.oi-browser .oi-json, .oi-browser .oi-text, .oi-browser .oi-hex {
  font-family: var(--jp-code-font-family, ui-monospace, monospace);
  font-size: 12px; line-height: 1.45; color: var(--jp-ui-font-color0, #000);
  background: var(--jp-cell-editor-background, #f5f5f5);
  border: 1px solid var(--jp-border-color2, #e0e0e0);
  padding: 8px 12px; border-radius: 4px; max-height: 460px; overflow: auto; margin: 4px 0;
  white-space: pre; }
.oi-browser .oi-text { white-space: pre-wrap; overflow-wrap: anywhere; }
.oi-browser .oi-j-key { color: color-mix(in srgb,
  var(--jp-mirror-editor-property-color, #05a) 65%, var(--jp-ui-font-color0, #000)); }
.oi-browser .oi-j-str { color: color-mix(in srgb,
  var(--jp-mirror-editor-string-color, #ba2121) 65%, var(--jp-ui-font-color0, #000)); }
.oi-browser .oi-j-digest { color: color-mix(in srgb,
  var(--jp-mirror-editor-variable-2-color, #00366d) 65%, var(--jp-ui-font-color0, #000)); }
.oi-browser .oi-j-num { color: color-mix(in srgb,
  var(--jp-mirror-editor-number-color, #080) 65%, var(--jp-ui-font-color0, #000)); }
.oi-browser .oi-j-lit { color: color-mix(in srgb,
  var(--jp-mirror-editor-keyword-color, green) 65%, var(--jp-ui-font-color0, #000)); }
.oi-browser .oi-raw-links { flex-wrap: wrap; gap: 4px; }
.oi-browser .oi-raw-link { font-family: var(--jp-code-font-family, monospace); font-size: 11px; }
.oi-browser .oi-url { white-space: nowrap; }
.oi-browser .oi-table tr.oi-group th { position: static; text-align: left; font-weight: 600;
  color: var(--jp-ui-font-color0, #000); background: var(--jp-layout-color1, #fff);
  padding-top: 8px; }
.oi-browser .oi-error-cell { color: color-mix(in srgb, var(--jp-error-color1, #d32f2f) 70%,
  var(--jp-ui-font-color0, #000)); }
.oi-browser .oi-overview-toggle { flex: 0 0 auto; }
.oi-browser .oi-download { display: inline-block; margin: 4px 0; }
.oi-browser a { color: color-mix(in srgb, var(--jp-brand-color1, #1976d2) 70%,
  var(--jp-ui-font-color0, #000)); }
.oi-browser .oi-files-controls { gap: 4px 12px; }
.oi-browser .oi-file-details { margin-top: 6px; }
/* A narrow notebook (JupyterLab with its file browser open is ~670 px): the less important
   columns go until "All columns" is ticked; wide tables scroll inside their box. */
@container oi-browser (max-width: 760px) {
  .oi-browser:not(.oi-all-columns) .oi-extra { display: none; }
  .oi-browser .oi-bar { width: 64px; }
}
/* The static snapshot (ImageBrowser's text/html output for saved notebooks) is for pages
   without the live widget: where this stylesheet is loaded, the widget is there. */
.oi-snapshot { display: none !important; }
"""


def style_html() -> str:
    """The stylesheet as HTML for an ``ipywidgets.HTML`` placed once in the browser."""
    return f"<style>{CSS}</style>"


__all__ = ["CSS", "style_html"]
