// The browser check's reader's layout check at the current window width (plateau_lib/book/
// browse.py, run by Playwright's page.evaluate, once per viewport). Returns the document's and
// the viewport's widths, the elements that widen the page when it scrolls sideways, and each
// element of the content column a reader cannot see whole:
//   - "spills": its box reaches past the column (over the sidebar, or off the page);
//   - "cut": an ancestor (or the element itself) with overflow hidden/clip hides part of it;
//   - "scrolls" (printed output only): its lines run on inside a scroll box. Output is read,
//     not scrolled, so it must fit; code input may scroll inside its own box, tables, display
//     equations and figures may sit in a scroll box (overflow-x auto/scroll) that fits the column.
// Tables, equations and figures that pass only thanks to such a scroll box are listed apart
// ("scrolled"): not problems, but what a reader has to scroll to see.
({columnSelector, wideSelector, tolerance}) => {
  const styles = new Map();
  const style = (e) => {
    if (!styles.has(e)) styles.set(e, getComputedStyle(e));
    return styles.get(e);
  };
  const shown = (e) => e.getClientRects().length > 0 && style(e).visibility !== "hidden";
  const clips = (e) => style(e).overflowX !== "visible";
  const scrolls = (e) =>
    ["auto", "scroll"].includes(style(e).overflowX) && style(e).scrollbarWidth !== "none";
  const snippet = (e) => {
    const words = e.tagName === "IMG" ? e.getAttribute("alt") || e.getAttribute("src") || "" : e.textContent || "";
    return words.replace(/\s+/g, " ").trim().slice(0, 90);
  };
  const viewport = document.documentElement.clientWidth;
  const out = {viewport, documentWidth: document.documentElement.scrollWidth, wide: [], scrolled: [], widening: []};

  // The column: the article's content box; a theme's full-width and margin content may reach
  // the right edge of the main area (never past the viewport).
  const column = document.querySelector(columnSelector) || document.querySelector("main") || document.body;
  const box = column.getBoundingClientRect();
  const cs = style(column);
  const inner = {
    left: box.left + parseFloat(cs.borderLeftWidth) + parseFloat(cs.paddingLeft),
    right: box.right - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingRight),
  };
  const main = (column.closest("main") || document.body).getBoundingClientRect();
  const wideInner = {left: inner.left, right: Math.min(viewport, Math.max(inner.right, main.right))};
  out.column = Math.round(inner.right - inner.left);

  // What each element is to a reader; the first matching selector wins.
  const kinds = [
    ["output", ".cell_output pre, div.output pre"],
    ["math", "mjx-container[display='true'], div.math"],
    ["table", "table"],
    ["figure", "img, video, iframe, canvas, object, embed, svg"],
    ["code", "pre"],
    ["text", "p, h1, h2, h3, h4, h5, h6, dt, figcaption, caption, li:not(:has(> p, > ul, > ol, > dl, > div))"],
  ];
  const kindOf = new Map();
  for (const [kind, selector] of kinds) {
    for (const e of column.querySelectorAll(selector)) {
      if (kindOf.has(e) || e.closest("mjx-container") && e.tagName !== "MJX-CONTAINER") continue;
      if (kind === "math" && e.tagName === "DIV" && e.querySelector("mjx-container")) continue;
      if (kind === "table" && e.parentElement.closest("table")) continue;
      kindOf.set(e, kind);
    }
  }

  // Where the reader loses part of `e`, or null when all of it can be seen (or scrolled to).
  const lost = (e, kind) => {
    const r = e.getBoundingClientRect();
    const own = e.scrollWidth > e.clientWidth + tolerance && e.clientWidth > 0;
    if (kind === "output" && own) return {how: scrolls(e) ? "scrolls" : "cut", width: e.scrollWidth, room: e.clientWidth};
    if (own && clips(e) && !scrolls(e)) return {how: "cut", width: e.scrollWidth, room: e.clientWidth};
    let scrolled = own && scrolls(e) ? {how: "scrolled", width: e.scrollWidth, room: e.clientWidth} : null;
    let left = r.left;
    let right = own && !clips(e) ? r.left + e.scrollWidth : r.right;
    let width = right - left;
    for (let a = e.parentElement; a && a !== column; a = a.parentElement) {
      if (!clips(a)) continue;
      const ar = a.getBoundingClientRect();
      if (right <= ar.right + tolerance && left >= ar.left - tolerance) continue;
      if (!scrolls(a)) return {how: "cut", width: Math.round(width), room: Math.round(ar.right - ar.left)};
      if (kind === "output" && a.closest(".cell_output")) {
        return {how: "scrolls", width: Math.round(width), room: Math.round(ar.right - ar.left)};
      }
      scrolled = scrolled || {how: "scrolled", width: Math.round(width), room: Math.round(ar.right - ar.left)};
      left = ar.left;
      right = ar.right;
    }
    const room = e.closest(wideSelector) ? wideInner : inner;
    const past = Math.round(Math.max(right - room.right, room.left - left));
    if (past > tolerance) return {how: "spills", width: Math.round(right - left), room: Math.round(room.right - room.left), past};
    return scrolled;
  };

  const flagged = [];
  for (const [e, kind] of kindOf) {
    if (!shown(e)) continue;
    const where = lost(e, kind);
    if (where && where.how === "scrolled") {
      if (!["code", "text"].includes(kind)) out.scrolled.push({kind, width: where.width, room: where.room, text: snippet(e)});
    } else if (where) {
      flagged.push([e, kind, where]);
    }
  }
  // One problem per thing a reader misses: not again for what sits inside a flagged element.
  const outer = flagged.filter(([e]) => !flagged.some(([f]) => f !== e && f.contains(e)));
  out.wide = outer.map(([e, kind, where]) => ({
    kind, how: where.how, width: where.width, room: where.room, past: where.past || 0, tag: e.tagName.toLowerCase(),
    text: snippet(e),
  }));

  // A page wider than the window: the deepest elements reaching past its right edge that no
  // clipping ancestor holds in (fixed elements do not widen the document).
  if (out.documentWidth > viewport + tolerance) {
    const reaching = [];
    const visit = (e) => {
      const s = style(e);
      if (s.position === "fixed" || s.display === "none") return false;
      let below = false;
      if (!clips(e) || e === document.body) {
        for (const child of e.children) below = visit(child) || below;
      }
      const here = e.getBoundingClientRect().right > viewport + tolerance && shown(e);
      if (here && !below) reaching.push(e);
      return here || below;
    };
    visit(document.body);
    out.widening = reaching.slice(0, 5).map((e) => ({
      tag: e.tagName.toLowerCase() + (e.classList.length ? "." + [...e.classList].join(".") : ""),
      right: Math.round(e.getBoundingClientRect().right),
      text: snippet(e),
    }));
    out.wideningCount = reaching.length;
  }
  out.height = Math.ceil(document.documentElement.scrollHeight);
  return out;
}
