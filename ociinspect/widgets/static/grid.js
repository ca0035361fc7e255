// FileGrid's view: an anywidget ES module, no dependencies, no network.
//
// The payload (ociinspect/widgets/grid.py, encode_frame) arrives once. Sorting keeps an order
// of row positions per (column, direction); filtering keeps the positions that pass; only the
// rows in view are drawn (fixed 24 px rows, a pool of row elements reused while scrolling).
// The filter, sort and match rules are the same as grid.py's; the pure helpers are exported
// so that the tests run them in Chromium.

export const ROW_HEIGHT = 24;
const OVERSCAN = 8;
const FILTER_SYNC_MS = 250;
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

// -- pure helpers -------------------------------------------------------------------------------

/** Python's f"{x:.1f}": round half to even on the tenths. */
function oneDecimal(x) {
  const tenths = x * 10;
  let whole = Math.floor(tenths);
  const rest = tenths - whole;
  if (rest > 0.5 || (rest === 0.5 && whole % 2 !== 0)) whole += 1;
  return (whole / 10).toFixed(1);
}

/** 1536 -> "1.5 KiB" (grid.py human_size). Accepts a Number or a BigInt. */
export function humanSize(size) {
  if (typeof size === "bigint") {
    if (size > -1024n && size < 1024n) return `${size} B`;
    size = Number(size);
  }
  if (Math.abs(size) < 1024) return `${size} B`;
  let scaled = size;
  let unit = 0;
  while (Math.abs(scaled) >= 1024 && unit < UNITS.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return `${oneDecimal(scaled)} ${UNITS[unit]}`;
}

/** Milliseconds since the epoch -> "YYYY-MM-DD HH:MM:SS" (UTC). */
export function formatTime(ms) {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return "";
  return date.toISOString().slice(0, 19).replace("T", " ");
}

/** fnmatch.translate for JavaScript: * ? [seq] [!seq], anchored, dotAll. */
export function globToRegExp(glob) {
  let out = "";
  let i = 0;
  const n = glob.length;
  while (i < n) {
    const c = glob[i++];
    if (c === "*") {
      while (glob[i] === "*") i++;
      out += "[\\s\\S]*";
    } else if (c === "?") {
      out += "[\\s\\S]";
    } else if (c === "[") {
      let j = i;
      if (glob[j] === "!") j++;
      if (glob[j] === "]") j++;
      while (j < n && glob[j] !== "]") j++;
      if (j >= n) {
        out += "\\[";
      } else {
        let inside = glob.slice(i, j).replace(/\\/g, "\\\\");
        i = j + 1;
        if (inside[0] === "!") inside = "^" + inside.slice(1);
        else if (inside[0] === "^") inside = "\\" + inside;
        inside = inside.replace(/\[/g, "\\[");
        out += inside === "" ? "(?!)" : inside === "^" ? "[\\s\\S]" : `[${inside}]`;
      }
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    }
  }
  return new RegExp(`^(?:${out})$`, "su");
}

/** A test for one path, or null when every row passes (grid.py path_matches). */
export function makeMatcher(pattern) {
  const p = pattern.trim();
  if (!p) return null;
  if (!/[*?[]/.test(p)) return (path) => path.includes(p);
  let re;
  try {
    re = globToRegExp(p);
  } catch {
    return () => false; // an impossible class such as [z-a] matches nothing, as in fnmatch
  }
  if (p.includes("/")) return (path) => re.test(path);
  return (path) => re.test(path) || re.test(path.slice(path.lastIndexOf("/") + 1));
}

/** One decoded column: value(i) for sorting, text(i) for showing. */
export function decodeColumn(spec) {
  const col = { name: spec.name, kind: spec.kind, mono: !!spec.mono };
  if (spec.dict) {
    const { dict, codes } = spec;
    col.dict = dict;
    col.codes = codes;
    col.value = (i) => (codes[i] < 0 ? null : dict[codes[i]]);
  } else {
    let values = spec.values;
    if (spec.shared) {
      // Front-coded: each string shares spec.shared[i] UTF-16 units with the previous one.
      values = new Array(spec.shared.length);
      let previous = "";
      for (let i = 0; i < values.length; i++) {
        const shared = spec.shared[i];
        if (shared < 0) {
          values[i] = null;
        } else {
          previous = previous.slice(0, shared) + spec.suffixes[i];
          values[i] = previous;
        }
      }
    } else if (spec.big) {
      values = values.map((v) => (v === null ? null : BigInt(v)));
    } else if (spec.kind === "time" && spec.unit === "s") {
      values = values.map((v) => (v === null ? null : v * 1000));
    }
    col.values = values;
    col.value = (i) => (values[i] === undefined ? null : values[i]);
  }
  const show = {
    size: humanSize,
    time: formatTime,
    bool: (v) => (v ? "true" : "false"),
  }[spec.kind] || String;
  col.text = (i) => {
    const v = col.value(i);
    return v === null ? "" : show(v);
  };
  col.numeric = ["int", "size", "float", "time"].includes(spec.kind);
  return col;
}

/** Row positions sorted by col: stable, missing values last in either direction. */
export function sortOrder(col, rows, ascending) {
  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  let keys;
  if (col.dict) {
    // Rank the dictionary once, then compare integers.
    const byText = col.dict.map((_, k) => k).sort((a, b) => {
      const x = col.dict[a];
      const y = col.dict[b];
      return x < y ? -1 : x > y ? 1 : 0;
    });
    const rank = new Int32Array(col.dict.length);
    byText.forEach((k, r) => (rank[k] = r));
    keys = col.codes.map((c) => (c < 0 ? null : rank[c]));
  } else {
    keys = col.values;
  }
  const dir = ascending ? 1 : -1;
  order.sort((a, b) => {
    const x = keys[a];
    const y = keys[b];
    if (x === null) return y === null ? a - b : 1;
    if (y === null) return -1;
    if (x < y) return -dir;
    if (x > y) return dir;
    return a - b;
  });
  return order;
}

/** The positions of order whose path passes the filter. */
export function filterOrder(order, pathCol, pattern) {
  const match = makeMatcher(pattern);
  if (match === null) return order;
  let pass;
  if (pathCol.dict) {
    const ok = pathCol.dict.map(match);
    pass = (i) => pathCol.codes[i] >= 0 && ok[pathCol.codes[i]];
  } else {
    const values = pathCol.values;
    pass = (i) => values[i] !== null && match(values[i]);
  }
  const out = new Int32Array(order.length);
  let n = 0;
  for (let k = 0; k < order.length; k++) if (pass(order[k])) out[n++] = order[k];
  return out.subarray(0, n);
}

/** A CSS grid track for a column: fixed for numbers and times, flexible for text. */
function track(col, rows, isPath) {
  const label = col.name.length * 0.62 + 2.2;
  if (isPath) return [Math.max(16, label), "minmax(16em, 4fr)"];
  let chars = 0;
  if (col.kind === "time") chars = 19;
  else if (col.kind === "size") chars = 9;
  else if (col.kind === "bool") chars = 5;
  else {
    const sample = col.dict ? col.dict.length : Math.min(rows, 2000);
    for (let i = 0; i < sample; i++) {
      const t = col.dict ? col.dict[i] : col.text(i);
      if (t.length > chars) chars = t.length;
    }
  }
  const em = Math.min(22, Math.max(label, chars * (col.mono ? 0.62 : 0.58) + 1.4));
  const flexible = col.kind === "text" ? "1fr" : "auto";
  return [em, col.kind === "text" ? `minmax(${em.toFixed(1)}em, ${flexible})` : `${em.toFixed(1)}em`];
}

// -- the view -----------------------------------------------------------------------------------

function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function render({ model, el }) {
  const root = element("div", "oi-grid");
  const toolbar = element("div", "oi-grid-toolbar");
  const filterBox = element("input", "oi-grid-filter", {
    type: "search",
    spellcheck: "false",
    autocomplete: "off",
    placeholder: "Filter paths: text, or a glob like *.so",
    "aria-label": "Filter paths (substring, or glob with * ? [ ])",
  });
  const count = element("span", "oi-grid-count", { "aria-live": "polite" });
  toolbar.append(filterBox, count);
  const scroller = element("div", "oi-grid-scroll", { tabindex: "0", role: "grid" });
  const inner = element("div", "oi-grid-inner");
  const head = element("div", "oi-grid-head", { role: "row" });
  const body = element("div", "oi-grid-body", { role: "rowgroup" });
  const empty = element("div", "oi-grid-empty");
  empty.textContent = "No path matches this filter.";
  inner.append(head, body);
  scroller.append(inner);
  root.append(toolbar, scroller, empty);
  el.append(root);

  let columns = [];
  let pathCol = null;
  let typeCol = null; // a listing's entry type: directories are drawn as directories
  let rows = 0;
  let template = "";
  const orders = new Map(); // "column|asc" -> Int32Array
  let order = null; // current sort order
  let visible = new Int32Array(0);
  let appliedFilter = "";
  let pool = [];
  let frame = 0;
  let syncTimer = 0;

  function sortState() {
    const [column, ascending] = model.get("sort") || ["", true];
    return { column: columns.some((c) => c.name === column) ? column : "", ascending };
  }

  function currentOrder() {
    const { column, ascending } = sortState();
    const key = `${column}|${ascending}`;
    if (!orders.has(key)) {
      if (!column) {
        const natural = new Int32Array(rows);
        for (let i = 0; i < rows; i++) natural[i] = i;
        orders.set(key, natural);
      } else {
        orders.set(key, sortOrder(columns.find((c) => c.name === column), rows, ascending));
      }
    }
    return orders.get(key);
  }

  function buildHead() {
    head.replaceChildren();
    const { column, ascending } = sortState();
    columns.forEach((col, index) => {
      const cell = element("div", "oi-grid-th", {
        role: "columnheader",
        "aria-colindex": String(index + 1),
        "data-column": col.name,
        "aria-sort": col.name === column ? (ascending ? "ascending" : "descending") : "none",
      });
      if (col.numeric) cell.classList.add("oi-grid-num");
      const button = element("button", "", { type: "button", title: `Sort by ${col.name}` });
      const label = element("span", "oi-grid-label");
      label.textContent = col.kind === "time" ? `${col.name} (UTC)` : col.name;
      const arrow = element("span", "oi-grid-arrow", { "aria-hidden": "true" });
      arrow.textContent = col.name === column ? (ascending ? "▲" : "▼") : "";
      button.append(label, arrow);
      button.addEventListener("click", () => {
        const now = sortState();
        const next = now.column === col.name ? [col.name, !now.ascending] : [col.name, !col.numeric];
        model.set("sort", next);
        model.save_changes();
      });
      cell.append(button);
      head.append(cell);
    });
  }

  function setData() {
    const payload = model.get("data") || {};
    columns = (payload.columns || []).map(decodeColumn);
    rows = payload.rows || 0;
    pathCol = columns.find((c) => c.name === payload.path) || columns[0] || null;
    typeCol = columns.find((c) => c.name === "type") || null;
    orders.clear();
    let minWidth = 0;
    template = columns
      .map((col) => {
        const [em, spec] = track(col, rows, col === pathCol);
        minWidth += em;
        return spec;
      })
      .join(" ");
    head.style.gridTemplateColumns = template;
    inner.style.minWidth = `max(100%, ${minWidth.toFixed(1)}em)`;
    scroller.setAttribute("aria-colcount", String(columns.length));
    for (const row of pool) row.remove();
    pool = [];
    buildHead();
    refilter(true);
  }

  function refilter(toTop) {
    order = currentOrder();
    appliedFilter = filterBox.value;
    visible = pathCol ? filterOrder(order, pathCol, appliedFilter) : order;
    body.style.height = `${visible.length * ROW_HEIGHT}px`;
    scroller.setAttribute("aria-rowcount", String(visible.length + 1));
    count.textContent =
      visible.length === rows
        ? `${rows.toLocaleString("en-US")} rows`
        : `${visible.length.toLocaleString("en-US")} of ${rows.toLocaleString("en-US")} rows`;
    root.classList.toggle("oi-grid-nothing", visible.length === 0);
    if (toTop) scroller.scrollTop = 0;
    draw();
  }

  function rowElement() {
    const row = element("div", "oi-grid-row", { role: "row" });
    row.style.gridTemplateColumns = template;
    for (let c = 0; c < columns.length; c++) {
      const cell = element("div", "oi-grid-cell", { role: "gridcell" });
      if (columns[c].numeric) cell.classList.add("oi-grid-num");
      if (columns[c].mono) cell.classList.add("oi-grid-mono");
      if (columns[c] === pathCol) {
        // A long path is cut at its start, so the file name stays in view (grid.css).
        cell.classList.add("oi-grid-path");
        cell.append(element("span"));
      }
      row.append(cell);
    }
    body.append(row);
    return row;
  }

  function draw() {
    frame = 0;
    const headHeight = head.offsetHeight;
    const viewport = Math.max(scroller.clientHeight - headHeight, ROW_HEIGHT);
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((scroller.scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN);
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
      const position = visible[at];
      row.hidden = false;
      row.style.top = `${at * ROW_HEIGHT}px`;
      row.dataset.row = String(position);
      row.setAttribute("aria-rowindex", String(at + 2));
      row.classList.toggle("oi-grid-odd", at % 2 === 1);
      row.classList.toggle("oi-grid-dir", !!typeCol && typeCol.value(position) === "dir");
      const path = pathCol ? pathCol.value(position) : null;
      const isSelected = path !== null && path === selected;
      row.classList.toggle("oi-grid-selected", isSelected);
      row.setAttribute("aria-selected", isSelected ? "true" : "false");
      const cells = row.children;
      for (let c = 0; c < columns.length; c++) {
        const col = columns[c];
        const text = col.text(position);
        const cell = cells[c];
        const target = col === pathCol ? cell.firstChild : cell;
        if (target.textContent !== text) target.textContent = text;
        if (col === pathCol || col.kind === "text") cell.title = text;
        else if (col.kind === "size" && text) cell.title = `${col.value(position).toLocaleString("en-US")} bytes`;
      }
    }
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function syncFilter() {
    clearTimeout(syncTimer);
    syncTimer = setTimeout(() => {
      syncTimer = 0;
      model.set("filter", appliedFilter);
      model.set("shown", visible.length);
      model.save_changes();
    }, FILTER_SYNC_MS);
  }

  function select(at) {
    if (!pathCol || at < 0 || at >= visible.length) return;
    const path = pathCol.value(visible[at]);
    model.set("selected", path);
    model.save_changes();
    const top = at * ROW_HEIGHT;
    const viewport = scroller.clientHeight - head.offsetHeight;
    if (top < scroller.scrollTop) scroller.scrollTop = top;
    else if (top + ROW_HEIGHT > scroller.scrollTop + viewport) scroller.scrollTop = top + ROW_HEIGHT - viewport;
    draw();
  }

  function selectedIndex() {
    const selected = model.get("selected");
    if (selected === null || !pathCol) return -1;
    for (let k = 0; k < visible.length; k++) if (pathCol.value(visible[k]) === selected) return k;
    return -1;
  }

  filterBox.addEventListener("input", () => {
    refilter(true);
    syncFilter();
  });
  body.addEventListener("click", (event) => {
    const row = event.target.closest(".oi-grid-row");
    if (!row) return;
    const at = Math.round(parseFloat(row.style.top) / ROW_HEIGHT);
    select(at);
  });
  scroller.addEventListener("scroll", schedule, { passive: true });
  scroller.addEventListener("keydown", (event) => {
    const page = Math.max(1, Math.floor((scroller.clientHeight - head.offsetHeight) / ROW_HEIGHT) - 1);
    const now = selectedIndex();
    const moves = {
      ArrowDown: now + 1,
      ArrowUp: Math.max(0, now - 1),
      PageDown: now + page,
      PageUp: Math.max(0, now - page),
      Home: 0,
      End: visible.length - 1,
    };
    if (!(event.key in moves) || event.target !== scroller) return;
    event.preventDefault();
    select(Math.min(visible.length - 1, moves[event.key]));
  });
  const resize = new ResizeObserver(schedule);
  resize.observe(scroller);

  function setHeight() {
    scroller.style.height = `${model.get("height")}px`;
    schedule();
  }

  model.on("change:data", setData);
  model.on("change:sort", () => {
    buildHead();
    refilter(true);
  });
  model.on("change:filter", () => {
    const value = model.get("filter");
    // While the user's newer text waits to be sent, an older value coming back (ipywidgets
    // echoes every update) must not replace it.
    if (syncTimer) return;
    if (value !== appliedFilter) {
      clearTimeout(syncTimer);
      filterBox.value = value;
      refilter(true);
      model.set("shown", visible.length);
      model.save_changes();
    }
  });
  model.on("change:selected", draw);
  model.on("change:height", setHeight);

  filterBox.value = model.get("filter") || "";
  setHeight();
  setData();
  if (appliedFilter) {
    model.set("shown", visible.length);
    model.save_changes();
  }

  return () => {
    resize.disconnect();
    if (syncTimer) {
      // The view goes (its tab or pane was replaced) with a filter not yet sent: send it,
      // so the kernel and the next view of this grid keep what the user typed.
      clearTimeout(syncTimer);
      syncTimer = 0;
      model.set("filter", appliedFilter);
      model.set("shown", visible.length);
      model.save_changes();
    }
    if (frame) cancelAnimationFrame(frame);
  };
}

export default { render };
