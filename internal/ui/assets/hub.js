// hubkit — progressive enhancement only. Every page works without this file.
"use strict";

(function () {
  // fold mirrors kommune.Key in Go: lower case, æ→ae, ø→oe, å→aa, other
  // diacritics dropped, only letters and digits kept, then oe→o.
  function fold(s) {
    s = s.toLowerCase().normalize("NFC")
      .replace(/[æä]/g, "ae").replace(/[øö]/g, "oe").replace(/å/g, "aa")
      .normalize("NFD").replace(/[^\p{L}\p{N}]/gu, "");
    return s.replace(/oe/g, "o");
  }

  // Filter a list as the user types in a search box that names it with
  // data-filter-list; the server-side search (the form) still works.
  function setupFilter(input) {
    var list = document.getElementById(input.getAttribute("data-filter-list"));
    var count = document.getElementById(input.getAttribute("data-filter-count"));
    var none = document.getElementById(input.getAttribute("data-filter-none"));
    if (!list) return;
    var items = Array.prototype.slice.call(list.querySelectorAll("li[data-key]"));
    function update() {
      var want = fold(input.value);
      var shown = 0;
      items.forEach(function (li) {
        var match = want === "" || li.getAttribute("data-key").indexOf(want) !== -1;
        li.hidden = !match;
        if (match) shown++;
      });
      if (count) {
        var text = shown === 1 ? count.getAttribute("data-count-one") : count.getAttribute("data-count-other");
        if (text) count.textContent = text.replace("%d", String(shown));
      }
      if (none) none.hidden = shown !== 0;
    }
    input.addEventListener("input", update);
  }

  function setupPrint(button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-filter-list]").forEach(setupFilter);
    document.querySelectorAll("button.js-print").forEach(setupPrint);
  });
})();
