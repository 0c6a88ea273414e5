// Cobrança page: drag and drop a file onto the drop zone (the form still works with the plain file input).
// The import report (swapped in by htmx) keeps its button disabled while rows are rejected, until
// "Importar só as linhas válidas" is ticked: delegated, so it works on every new report.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box || !box.getAttribute || !box.getAttribute("data-enables")) {
      return;
    }
    var button = document.getElementById(box.getAttribute("data-enables"));
    if (button) {
      button.disabled = !box.checked;
    }
  });
})();

(function () {
  "use strict";

  var zone = document.getElementById("dropzone");
  if (!zone) {
    return;
  }
  var input = document.getElementById(zone.getAttribute("data-input"));
  var name = document.getElementById("dropzone-name");

  function show() {
    name.textContent = input.files && input.files.length ? "Selecionado: " + input.files[0].name : "";
  }

  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("is-dragover");
    });
  });
  ["dragleave", "dragend", "drop"].forEach(function (type) {
    zone.addEventListener(type, function () {
      zone.classList.remove("is-dragover");
    });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) {
      input.files = files;
      show();
    }
  });
  input.addEventListener("change", show);
})();
