// Stocktake counting: the difference from the system's stock shows as the
// volunteer types each count, before saving (what is saved is checked again
// by the server). Counts already in the form when the script runs (typed
// before it loaded, or kept by the browser on going back) show theirs at once.
(function () {
  "use strict";
  document.querySelectorAll("input.count[data-stock]").forEach(function (input) {
    var row = input.closest("tr");
    var cell = row && row.querySelector("[data-difference]");
    if (!cell) { return; }
    function show() {
      var text = input.value.trim();
      if (!/^\d+$/.test(text)) {
        cell.textContent = "";
        row.classList.remove("diff");
        return;
      }
      var difference = parseInt(text, 10) - parseInt(input.getAttribute("data-stock"), 10);
      cell.textContent = difference > 0 ? "+" + difference : String(difference);
      row.classList.toggle("diff", difference !== 0);
    }
    input.addEventListener("input", show);
    show();
  });
}());
