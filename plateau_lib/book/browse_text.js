// The browser check's reader's text check (plateau_lib/book/browse.py, run by Playwright's
// page.evaluate once per page). Returns, per kind, [where, excerpt] for each block of rendered
// text a reader would see broken:
//   - tex: a literal "$" or a TeX command ("\mathbb", "\max", "\frac", ...) outside code and
//     math (the raw delimiters \( \[ $$ \begin{ are the inspection's "raw TeX" already);
//   - repr: an object's repr ("<IPython.core.display.Markdown object>", "<... at 0x...>",
//     "TrainResult(method=...", "np.float64(...") in prose or in printed output;
//   - none: the word None in prose or printed output (API entries, dl.py, document None; the
//     English "None of ..." is not the value None).
// "where" is "prose" or "output" (a block of a notebook cell's output).
() => {
  const never = "script, style, noscript, template";
  const code = "pre, code, kbd, samp, textarea, mjx-container, .math, .highlight, .sig, .cell_input";
  const blocks = "p, li, td, th, dt, dd, h1, h2, h3, h4, h5, h6, figcaption, caption, pre, div";
  const rawTex = /\\\(|\\\[|\$\$|\\begin\{/;
  const patterns = {
    tex: /\$|\\[A-Za-z]+/,
    repr: /<[A-Za-z_][\w.]*(?: object(?: at 0x[0-9a-fA-F]+)?| at 0x[0-9a-fA-F]+)>|\b[A-Z][A-Za-z0-9_]+\([a-z_][a-z0-9_]*=|\bnp\.[a-z0-9_]+\(/,
    none: /\bNone\b(?! of\b)/,
  };
  const excerpt = (value, pattern) => {
    const match = value.match(pattern);
    return value.slice(Math.max(0, match.index - 40), match.index + 70).replace(/\s+/g, " ").trim();
  };
  const out = {tex: [], repr: [], none: []};
  const seen = {tex: new Set(), repr: new Set(), none: new Set()};
  const report = (kind, block, where) => {
    if (seen[kind].has(block)) return;
    seen[kind].add(block);
    out[kind].push([where, excerpt(block.textContent || "", patterns[kind])]);
  };

  // Prose (and Markdown shown by a cell): text outside code and math.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(never) || parent.closest(code)) continue;
    const value = node.nodeValue || "";
    const block = parent.closest(blocks) || parent;
    const where = parent.closest(".cell_output") ? "output" : "prose";
    if (patterns.tex.test(value) && !rawTex.test(value)) report("tex", block, where);
    if (patterns.repr.test(value) && patterns.repr.test(block.textContent)) report("repr", block, where);
    if (patterns.none.test(value) && !parent.closest("dl.py")) report("none", block, where);
  }
  // Printed output: each <pre> of a cell output as a whole (its text is split into spans).
  for (const pre of document.querySelectorAll(".cell_output pre, div.output pre")) {
    for (const kind of ["repr", "none"]) {
      if (patterns[kind].test(pre.textContent || "")) report(kind, pre, "output");
    }
  }
  return out;
}
