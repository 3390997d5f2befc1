/* Static explorers of the plateau companion (plateau_lib/chapters/explorer_grid.py).
 *
 * Each <div class="plateau-explorer-static"> with a <script class="plateau-explorer-data">
 * holds the frames of a grid of precomputed states, keyed by the selected options' indices
 * joined by "-". This script enables the <select> controls and, on every change, shows the
 * frame and the numbers of the selected state. No dependencies, no network.
 */
(function () {
  "use strict";

  function setup(box) {
    var source = box.querySelector("script.plateau-explorer-data");
    if (!source) return;
    var frames = JSON.parse(source.textContent).frames;
    var selects = Array.prototype.slice.call(box.querySelectorAll("select[data-field]"));
    var image = box.querySelector("img.plateau-explorer-frame");
    var numbers = box.querySelector(".plateau-explorer-numbers");
    var title = image.getAttribute("alt").split(": ")[0];

    function show() {
      var key = selects.map(function (s) { return String(s.selectedIndex); }).join("-");
      var frame = frames[key];
      if (!frame) {
        numbers.textContent = "This combination was not precomputed.";
        return;
      }
      image.src = frame.src;
      image.alt = title + ": " + frame.text;
      numbers.textContent = frame.text;
      box.setAttribute("data-state", key);
    }

    selects.forEach(function (select) {
      select.disabled = false;
      select.addEventListener("change", show);
    });
    box.classList.add("plateau-explorer-ready");
  }

  function setupAll() {
    var boxes = document.querySelectorAll(".plateau-explorer-static");
    Array.prototype.forEach.call(boxes, setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setupAll);
  } else {
    setupAll();
  }
})();
