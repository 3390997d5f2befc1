// The browser check's figure text check (plateau_lib/book/browse.py, run by Playwright's
// page.evaluate once per page at each viewport). Returns every image of the content
// column that loaded and is shown: its URL, its displayed width (CSS px of its content box),
// its natural width (image px) and what names it to a reader (the caption of its figure, else
// its alt text). browse.py reads the PNG's text chunks and computes the size its smallest text
// is displayed at.
({columnSelector}) => {
  const column = document.querySelector(columnSelector) || document.querySelector("main") || document.body;
  const words = (s) => (s || "").replace(/\s+/g, " ").trim();
  return [...column.querySelectorAll("img")]
    .filter((img) => img.complete && img.naturalWidth > 0 && img.getClientRects().length > 0
      && getComputedStyle(img).visibility !== "hidden")
    .map((img) => {
      const s = getComputedStyle(img);
      const edges = ["paddingLeft", "paddingRight", "borderLeftWidth", "borderRightWidth"]
        .reduce((sum, key) => sum + parseFloat(s[key] || "0"), 0);
      const figure = img.closest("figure");
      const caption = figure && figure.querySelector("figcaption");
      return {
        src: img.src,
        shown: img.getBoundingClientRect().width - edges,
        natural: img.naturalWidth,
        name: caption ? words(caption.textContent) : words(img.getAttribute("alt") || img.getAttribute("src")),
      };
    });
}
