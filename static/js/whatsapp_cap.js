// WhatsApp page: today's sends of each session against its daily cap (the dashboard's sends-today JSON).
(function () {
  "use strict";

  var root = document.getElementById("sessions");
  var url = root && root.getAttribute("data-sends-url");
  if (!url || !window.fetch) {
    return;
  }

  function render(item) {
    var box = root.querySelector('[data-sends-session="' + CSS.escape(item.name) + '"]');
    if (!box) {
      return;
    }
    box.querySelector('[data-sends="sent"]').textContent = String(item.sent);
    box.querySelector('[data-sends="cap"]').textContent = String(item.cap);
    var bar = box.querySelector("progress");
    bar.max = item.cap || 1;
    bar.value = Math.min(item.sent, item.cap || item.sent);
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { sessions: [] }; })
      .then(function (data) { (data.sessions || []).forEach(render); })
      .catch(function () { /* keep the last figures; the next tick tries again */ })
      .then(function () { window.setTimeout(refresh, 15000); });
  }

  refresh();
})();
