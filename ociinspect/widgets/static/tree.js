// FileTree's view: an anywidget ES module, no dependencies, no network.
//
// The payload (ociinspect/widgets/tree.py, tree_payload) lists rows depth first with each
// directory's `end` (the row after its subtree), so collapsing is skipping to `end`. Only the
// rows in view are drawn (fixed 22 px rows, a pool of row elements reused while scrolling).
// Expanding, collapsing and "only changes" happen in the page; `selected` and `only_changes`
// are synchronised to the kernel.

export const ROW_HEIGHT = 22;
const OVERSCAN = 8;
const INDENT_EM = 1.15;
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

function oneDecimal(x) {
  const tenths = x * 10;
  let whole = Math.floor(tenths);
  const rest = tenths - whole;
  if (rest > 0.5 || (rest === 0.5 && whole % 2 !== 0)) whole += 1;
  return (whole / 10).toFixed(1);
}

/** 1536 -> "1.5 KiB" (values.units.format_size). */
export function humanSize(size) {
  if (Math.abs(size) < 1024) return `${size} B`;
  let scaled = size;
  let unit = 0;
  while (Math.abs(scaled) >= 1024 && unit < UNITS.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return `${oneDecimal(scaled)} ${UNITS[unit]}`;
}

/** tree.py resolve_link: where a link points, as a tree path, or null. */
export function resolveLink(path, type, target) {
  if (!target) return null;
  const slash = path.lastIndexOf("/");
  const base = type === "hardlink" || target.startsWith("/") ? "" : slash < 0 ? "" : path.slice(0, slash);
  const parts = [];
  for (const part of `${base}/${target.replace(/^\/+/, "")}`.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join("/");
}

/** Full paths from names and depths. */
export function rowPaths(data) {
  const stack = [];
  const out = new Array(data.rows);
  for (let i = 0; i < data.rows; i++) {
    stack.length = data.depth[i];
    stack.push(data.name[i]);
    out[i] = stack.join("/");
  }
  return out;
}

/** Rows shown: collapsed directories skip their subtree; with onlyChanges, unchanged rows
 * with nothing changed below are skipped too. */
export function visibleRows(data, expanded, onlyChanges) {
  const out = [];
  let i = 0;
  while (i < data.rows) {
    if (onlyChanges && !data.changed_below[i]) {
      i = data.end[i];
      continue;
    }
    out.push(i);
    const isDir = data.types[data.type[i]] === "dir";
    i = isDir && !expanded[i] ? data.end[i] : i + 1;
  }
  return out;
}

function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function render({ model, el }) {
  const root = element("div", "oi-tree");
  const toolbar = element("div", "oi-tree-toolbar");
  const onlyLabel = element("label", "oi-tree-only");
  const onlyBox = element("input", "", { type: "checkbox" });
  onlyLabel.append(onlyBox, document.createTextNode(" Only changes"));
  const expandAll = element("button", "oi-tree-expand", { type: "button" });
  expandAll.textContent = "Expand all";
  const collapseAll = element("button", "oi-tree-collapse", { type: "button" });
  collapseAll.textContent = "Collapse all";
  const count = element("span", "oi-tree-count", { "aria-live": "polite" });
  const legend = element("span", "oi-tree-legend");
  toolbar.append(onlyLabel, expandAll, collapseAll, count, legend);
  const scroller = element("div", "oi-tree-scroll", { tabindex: "0", role: "tree" });
  const head = element("div", "oi-tree-head");
  for (const [name, numeric] of [["name", false], ["size", true], ["change", false], ["mode", false], ["layer", true], ["link", false]]) {
    const cell = element("div", `oi-tree-th${numeric ? " oi-tree-num" : ""}`);
    cell.textContent = name;
    head.append(cell);
  }
  const body = element("div", "oi-tree-body", { role: "group" });
  const empty = element("div", "oi-tree-empty");
  empty.textContent = "Nothing to show.";
  scroller.append(head, body);
  root.append(toolbar, scroller, empty);
  el.append(root);

  let data = { rows: 0 };
  let paths = [];
  let byPath = new Map();
  let expanded = new Uint8Array(0);
  let visible = [];
  let pool = [];
  let frame = 0;

  function isDir(i) {
    return data.types[data.type[i]] === "dir";
  }

  function setData() {
    data = model.get("data") || { rows: 0 };
    if (!data.rows) data = { rows: 0, name: [], depth: [], end: [], type: [], types: [], size: [], mode: [], target: [], layer: [], change: [], changes: [], changed_below: [], implied: [] };
    paths = rowPaths(data);
    byPath = new Map(paths.map((p, i) => [p, i]));
    expanded = new Uint8Array(data.rows);
    const depth = model.get("expand_depth");
    for (let i = 0; i < data.rows; i++) if (isDir(i) && data.depth[i] < depth) expanded[i] = 1;
    legend.replaceChildren();
    for (const kind of data.changes || []) {
      const key = element("span", `oi-tree-badge oi-change-${kind}`);
      key.textContent = kind.replace("_", " ");
      legend.append(key);
    }
    onlyLabel.hidden = !data.has_changes;
    refresh(true);
  }

  function refresh(toTop) {
    const only = model.get("only_changes") && data.has_changes;
    onlyBox.checked = !!only;
    if (only) {
      // Open every directory on the way to a change, so the changes are in view.
      for (let i = 0; i < data.rows; i++) if (isDir(i) && data.changed_below[i]) expanded[i] = 1;
    }
    visible = visibleRows(data, expanded, only);
    body.style.height = `${visible.length * ROW_HEIGHT}px`;
    const changed = (data.change || []).filter((c) => c >= 0).length;
    count.textContent = `${data.rows.toLocaleString("en-US")} entries` + (data.has_changes ? `, ${changed.toLocaleString("en-US")} changed` : "");
    root.classList.toggle("oi-tree-nothing", visible.length === 0);
    if (toTop) scroller.scrollTop = 0;
    draw();
  }

  function rowElement() {
    const row = element("div", "oi-tree-row", { role: "treeitem" });
    const name = element("div", "oi-tree-cell oi-tree-name");
    const toggle = element("span", "oi-tree-toggle", { "aria-hidden": "true" });
    const label = element("span", "oi-tree-label");
    name.append(toggle, label);
    const size = element("div", "oi-tree-cell oi-tree-num oi-tree-size");
    const change = element("div", "oi-tree-cell oi-tree-change");
    const mode = element("div", "oi-tree-cell oi-tree-mode");
    const layer = element("div", "oi-tree-cell oi-tree-num oi-tree-layer");
    const link = element("div", "oi-tree-cell oi-tree-link");
    row.append(name, size, change, mode, layer, link);
    body.append(row);
    return row;
  }

  function draw() {
    frame = 0;
    const viewport = Math.max(scroller.clientHeight - head.offsetHeight, ROW_HEIGHT);
    const top = Math.max(0, scroller.scrollTop - head.offsetHeight);
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((top + viewport) / ROW_HEIGHT) + OVERSCAN);
    const needed = Math.max(0, last - first);
    while (pool.length < needed) pool.push(rowElement());
    const selected = model.get("selected");
    for (let k = 0; k < pool.length; k++) {
      const row = pool[k];
      if (k >= needed) {
        row.hidden = true;
        continue;
      }
      const at = first + k;
      const i = visible[at];
      row.hidden = false;
      row.style.top = `${at * ROW_HEIGHT}px`;
      row.dataset.row = String(i);
      row.dataset.path = paths[i];
      const dir = isDir(i);
      const kind = data.change[i] >= 0 ? data.changes[data.change[i]] : "";
      row.className = "oi-tree-row" + (at % 2 ? " oi-tree-odd" : "") + (dir ? " oi-tree-dir" : "");
      if (kind) row.classList.add(`oi-change-${kind}`);
      if (kind === "deleted" || kind === "hidden") row.classList.add("oi-tree-ghost");
      if (data.implied[i]) row.classList.add("oi-tree-implied");
      const isSelected = paths[i] === selected;
      row.classList.toggle("oi-tree-selected", isSelected);
      row.setAttribute("aria-selected", isSelected ? "true" : "false");
      row.setAttribute("aria-level", String(data.depth[i] + 1));
      if (dir) row.setAttribute("aria-expanded", expanded[i] ? "true" : "false");
      else row.removeAttribute("aria-expanded");
      const [name, size, change, mode, layer, link] = row.children;
      name.style.paddingLeft = `${0.4 + data.depth[i] * INDENT_EM}em`;
      name.firstChild.textContent = dir ? (expanded[i] ? "▾" : "▸") : "";
      const type = data.types[data.type[i]];
      name.lastChild.textContent = data.name[i] + (dir ? "/" : "");
      name.title = paths[i] + (dir ? "/" : "") + (type !== "file" && type !== "dir" ? ` (${type})` : "");
      size.textContent = humanSize(data.size[i]);
      size.title = `${data.size[i].toLocaleString("en-US")} bytes${dir ? " below" : ""}`;
      change.replaceChildren();
      if (kind) {
        const badge = element("span", `oi-tree-badge oi-change-${kind}`);
        badge.textContent = kind.replace("_", " ");
        change.append(badge);
      }
      mode.textContent = data.mode[i] || "";
      layer.textContent = data.layer[i] === null || data.layer[i] === undefined ? "" : `#${data.layer[i]}`;
      link.replaceChildren();
      const target = data.target[i];
      const hard = type === "hardlink" || (data.hard && data.hard[i] === 1);
      if (target !== null && target !== undefined && (type === "symlink" || hard)) {
        const resolved = resolveLink(paths[i], hard ? "hardlink" : type, target);
        const known = resolved !== null && byPath.has(resolved);
        const anchor = element(known ? "button" : "span", known ? "oi-tree-target" : "oi-tree-target-missing", known ? { type: "button", "data-target": resolved } : {});
        anchor.textContent = `${hard ? "⇒" : "→"} ${target}`;
        anchor.title = known ? `Go to ${resolved}` : `${target} is not in this tree`;
        link.append(anchor);
      }
    }
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function reveal(i) {
    // Open every directory above row i, then scroll it into view.
    for (let j = 0; j < i; j++) if (isDir(j) && data.end[j] > i) expanded[j] = 1;
    visible = visibleRows(data, expanded, model.get("only_changes") && data.has_changes);
    if (visible.indexOf(i) < 0 && model.get("only_changes")) {
      model.set("only_changes", false);
      visible = visibleRows(data, expanded, false);
    }
    body.style.height = `${visible.length * ROW_HEIGHT}px`;
    const at = visible.indexOf(i);
    const viewport = scroller.clientHeight - head.offsetHeight;
    const y = at * ROW_HEIGHT;
    if (y < scroller.scrollTop || y + ROW_HEIGHT > scroller.scrollTop + viewport) {
      scroller.scrollTop = Math.max(0, y - viewport / 2);
    }
  }

  function select(i) {
    model.set("selected", paths[i]);
    model.save_changes();
    draw();
  }

  function toggle(i) {
    expanded[i] = expanded[i] ? 0 : 1;
    refresh(false);
  }

  body.addEventListener("click", (event) => {
    const row = event.target.closest(".oi-tree-row");
    if (!row) return;
    const i = Number(row.dataset.row);
    const jump = event.target.closest("[data-target]");
    if (jump) {
      const j = byPath.get(jump.dataset.target);
      if (j !== undefined) {
        reveal(j);
        select(j);
      }
      return;
    }
    if (event.target.closest(".oi-tree-toggle") && isDir(i)) {
      toggle(i);
      return;
    }
    if (isDir(i) && model.get("selected") === paths[i]) toggle(i);
    select(i);
  });
  body.addEventListener("dblclick", (event) => {
    const row = event.target.closest(".oi-tree-row");
    if (row && isDir(Number(row.dataset.row))) toggle(Number(row.dataset.row));
  });
  scroller.addEventListener("keydown", (event) => {
    const selected = model.get("selected");
    const i = selected === null ? -1 : byPath.get(selected) ?? -1;
    const at = visible.indexOf(i);
    let next = null;
    if (event.key === "ArrowDown") next = visible[Math.min(visible.length - 1, at + 1)];
    else if (event.key === "ArrowUp") next = visible[Math.max(0, at - 1)];
    else if (event.key === "ArrowRight" && i >= 0 && isDir(i) && !expanded[i]) return toggle(i), event.preventDefault();
    else if (event.key === "ArrowLeft" && i >= 0 && isDir(i) && expanded[i]) return toggle(i), event.preventDefault();
    else return;
    event.preventDefault();
    if (next !== undefined && next !== null) {
      reveal(next);
      select(next);
    }
  });
  onlyBox.addEventListener("change", () => {
    model.set("only_changes", onlyBox.checked);
    model.save_changes();
  });
  expandAll.addEventListener("click", () => {
    for (let i = 0; i < data.rows; i++) if (isDir(i)) expanded[i] = 1;
    refresh(false);
  });
  collapseAll.addEventListener("click", () => {
    expanded.fill(0);
    refresh(true);
  });
  scroller.addEventListener("scroll", schedule, { passive: true });
  const resize = new ResizeObserver(schedule);
  resize.observe(scroller);

  function setHeight() {
    scroller.style.height = `${model.get("height")}px`;
    schedule();
  }

  model.on("change:data", setData);
  model.on("change:only_changes", () => refresh(true));
  model.on("change:selected", () => {
    const selected = model.get("selected");
    const i = selected === null ? undefined : byPath.get(selected);
    if (i !== undefined) reveal(i);
    draw();
  });
  model.on("change:height", setHeight);
  setHeight();
  setData();

  return () => {
    resize.disconnect();
    if (frame) cancelAnimationFrame(frame);
  };
}

export default { render };
