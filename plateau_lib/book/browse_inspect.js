// The browser check's inspection of one page (plateau_lib/book/browse.py, run by Playwright's
// page.evaluate after the page's load event): waits for MathJax and the images, then returns,
// in one round trip, everything the checks of browse.py need (math, images, tracebacks and
// raw TeX in the text, error outputs, explorers, dead widgets, links and ids, the height).
async ({mathTimeout, imageTimeout, widgetViewMimetype}) => {
  const withTimeout = (promise, ms, value) =>
    Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(value), ms))]);
  const text = (el) => (el.textContent || "").replace(/\s+/g, " ").trim();
  const out = {};

  // MathJax: wait for its typesetting (startup.promise) if it started at all.
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    out.mathjax = await withTimeout(
      MathJax.startup.promise.then(() => "ok", (e) => "error: " + e), mathTimeout, "timeout");
  } else {
    out.mathjax = [...document.scripts].some((s) => /mathjax/i.test(s.src || "")) ? "not-started" : "absent";
  }
  const maths = [...document.querySelectorAll(".math")].filter((e) => !e.parentElement.closest(".math"));
  out.mathTotal = maths.length;
  out.mathRaw = maths.filter((e) => !e.querySelector("mjx-container")).map(text);
  out.mathErrors = [...document.querySelectorAll("mjx-merror")].map(
    (e) => e.getAttribute("data-mjx-error") || text(e));

  // Images: lazy ones load now; each must decode (and have a size unless it is an SVG).
  const images = [...document.images];
  images.forEach((img) => { if (img.loading === "lazy") img.loading = "eager"; });
  out.brokenImages = [];
  for (const img of images) {
    const src = img.getAttribute("src") || "";
    const decoded = await withTimeout(img.decode().then(() => true, () => false), imageTimeout, false);
    const svg = /\.svg([?#]|$)/i.test(src) || src.startsWith("data:image/svg");
    if (!decoded || (img.naturalWidth === 0 && !svg)) out.brokenImages.push([src, img.src]);
  }

  // Text outside scripts and styles: tracebacks (outside error outputs) and raw TeX (also
  // outside code and math elements).
  const errorOutputs = ".output.traceback, .output.error, .output.stderr, .system-message, .problematic";
  const never = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"]);
  const notText = new Set(["PRE", "CODE", "KBD", "SAMP", "TEXTAREA", "MJX-CONTAINER"]);
  out.tracebacks = [];
  out.rawTex = [];
  const seenTraceback = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || never.has(parent.tagName) || parent.closest("script, style, noscript, template")) continue;
    const value = node.nodeValue || "";
    if (value.includes("Traceback (most recent call last)") && !parent.closest(errorOutputs)) {
      const block = parent.closest("pre, div, p, li, td") || parent;
      if (!seenTraceback.has(block)) {
        seenTraceback.add(block);
        const lines = (block.textContent || "").split("\n").map((l) => l.trim()).filter((l) => l);
        out.tracebacks.push(lines[lines.length - 1] || "");
      }
    }
    let inCode = false;
    for (let e = parent; e; e = e.parentElement) {
      if (notText.has(e.tagName) || e.classList.contains("highlight") || e.classList.contains("math")) {
        inCode = true;
        break;
      }
    }
    if (!inCode) {
      const match = value.match(/\\\(|\\\[|\$\$|\\begin\{/);
      if (match) {
        const start = Math.max(0, match.index - 30);
        out.rawTex.push(value.slice(start, match.index + 50));
      }
    }
  }
  out.errorOutputs = [...document.querySelectorAll(errorOutputs)].map(
    (e) => [e.className, (text(e) || "(empty)").slice(0, 200)]);

  // Explorers and widgets.
  const visible = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  const loaded = (img) => img.complete && img.naturalWidth > 0;
  out.explorers = [...document.querySelectorAll(".cell.tag_explorer")].map((cell) => {
    const live = [...cell.querySelectorAll(".jupyter-widgets, [class*='widget-']")].some(visible);
    const fallback = [...cell.querySelectorAll(".plateau-explorer-static")].some((box) => {
      const note = [...box.childNodes].some((n) => n.nodeName !== "IMG" && (n.textContent || "").trim());
      return [...box.querySelectorAll("img")].some(loaded) && note;
    });
    const id = cell.id || (cell.querySelector("[id]") || {}).id || "";
    return {live, fallback, id};
  });
  out.deadWidgets = [...document.querySelectorAll(`script[type="${widgetViewMimetype}"]`)]
    .filter((s) => {
      const before = s.previousElementSibling;
      return !(before && before.classList.contains("widget-subarea") && before.children.length > 0);
    })
    .map((s) => {
      try { return JSON.parse(s.textContent).model_id || "?"; } catch (e) { return "?"; }
    });

  // Links and anchors.
  out.links = [...document.querySelectorAll("a[href]")].map((a) => [a.getAttribute("href"), a.href]);
  out.ids = [...document.querySelectorAll("[id]")].map((e) => e.id)
    .concat([...document.querySelectorAll("a[name]")].map((e) => e.getAttribute("name")));
  if (document.fonts && document.fonts.ready) await withTimeout(document.fonts.ready, 5000, null);
  out.height = Math.ceil(document.documentElement.scrollHeight);
  return out;
}
