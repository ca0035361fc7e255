// HTMLView's view: an anywidget ES module, no dependencies, no network.
//
// Shows `value` (HTML made by ociinspect/widgets/render.py, every image value escaped there)
// and turns clicks into actions:
//   - an element with data-oi-copy="TEXT" copies TEXT to the clipboard, in the page (no kernel
//     round trip), and says "Copied" for a moment;
//   - an element with data-oi-action="NAME" (and data-oi-arg="VALUE") sends
//     {event: "action", action: NAME, arg: VALUE} to the kernel (htmlview.py runs the handler).
// Enter or Space on a focused element does what a click does.

const COPIED_MS = 1400;

/** Copy text; resolves true when it reached the clipboard. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the textarea way (a page without clipboard permission)
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "oi-htmlview";
  el.append(root);

  function draw() {
    root.innerHTML = model.get("value") || "";
  }

  async function copy(target) {
    const ok = await copyText(target.dataset.oiCopy);
    target.classList.add(ok ? "oi-copied" : "oi-copy-failed");
    target.dataset.oiCopied = ok ? "true" : "false";
    setTimeout(() => {
      target.classList.remove("oi-copied", "oi-copy-failed");
    }, COPIED_MS);
  }

  function activate(event) {
    const start = event.target instanceof Element ? event.target : null;
    if (!start || !root.contains(start)) return false;
    const copyTarget = start.closest("[data-oi-copy]");
    if (copyTarget && root.contains(copyTarget)) {
      event.preventDefault();
      event.stopPropagation();
      copy(copyTarget);
      return true;
    }
    const actionTarget = start.closest("[data-oi-action]");
    if (actionTarget && root.contains(actionTarget)) {
      // A link, a <summary> (expand a long command) or selected text inside an actionable
      // row keeps its own meaning.
      const inner = start.closest("a[href], summary, details[open]");
      if (inner && inner !== actionTarget && actionTarget.contains(inner)) return false;
      if (event.type === "click" && String(window.getSelection() || "").length > 0) return false;
      event.preventDefault();
      model.send({
        event: "action",
        action: actionTarget.dataset.oiAction,
        arg: actionTarget.dataset.oiArg ?? "",
      });
      return true;
    }
    return false;
  }

  root.addEventListener("click", activate);
  root.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    const start = event.target instanceof Element ? event.target : null;
    if (!start || !start.matches("[data-oi-action], [data-oi-copy]")) return;
    activate(event);
  });
  model.on("change:value", draw);
  draw();
  return () => model.off("change:value", draw);
}

export default { render };
