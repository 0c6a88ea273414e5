// WhatsApp sessions page: poll the status JSON and refresh each session's status and QR code in place.
(function () {
  "use strict";

  var root = document.getElementById("sessions");
  if (!root || !window.fetch) {
    return;
  }
  var statusUrl = root.getAttribute("data-status-url");
  var qrUrl = root.getAttribute("data-qr-url");
  var seconds = parseInt(root.getAttribute("data-refresh-seconds"), 10) || 5;

  function setText(section, field, text) {
    var el = section.querySelector('[data-field="' + field + '"]');
    if (el && el.textContent !== text) {
      el.textContent = text;
    }
  }

  function render(session) {
    var section = root.querySelector('[data-session="' + CSS.escape(session.name) + '"]');
    if (!section) {
      // A session that appeared since the page loaded: a reload renders it with its buttons.
      window.location.reload();
      return;
    }
    setText(section, "status_label", session.status_label || session.status);
    setText(
      section,
      "live_status_label",
      session.waha_reachable === false ? "WAHA indisponível" : session.live_status_label || "—"
    );
    setText(section, "me", session.me_id ? (session.me_push_name || "") + " (" + session.me_id + ")" : "—");
    var qr = section.querySelector('[data-field="qr"]');
    if (!qr) {
      return;
    }
    var img = qr.querySelector("img");
    if (session.needs_qr) {
      qr.hidden = false;
      // WAHA rotates the QR code every ~20 s; a cache-busting parameter makes the browser fetch the new one.
      img.src = qrUrl + "?session=" + encodeURIComponent(session.name) + "&t=" + Date.now();
    } else if (!qr.hidden) {
      qr.hidden = true;
      img.removeAttribute("src");
    }
  }

  function refresh() {
    fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        (data.sessions || []).forEach(render);
      })
      .catch(function () {
        // Keep the last known state on screen; the next tick tries again.
      })
      .then(function () {
        window.setTimeout(refresh, seconds * 1000);
      });
  }

  window.setTimeout(refresh, seconds * 1000);
})();
