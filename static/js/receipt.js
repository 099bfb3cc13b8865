// The donation receipt: a print button, and printing at once when asked (?print=1).
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  if (document.querySelector("[data-auto-print]")) {
    window.addEventListener("load", function () { window.print(); });
  }
})();
