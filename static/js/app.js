// Small behaviours shared by every page (no inline scripts: the CSP forbids them).
// A confirmation is asked where a button (the one that submitted) or its form
// carries data-confirm: a stocktake's submit, finalize and cancel buttons share
// one form, each with its own question.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var message = (button && button.getAttribute("data-confirm")) ||
    event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
