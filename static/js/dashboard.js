// Shared behaviour of the dashboard pages (loaded by base.html). No inline scripts anywhere: CSP default-src 'self'.
(function () {
  "use strict";

  // Forms marked .confirm-submit ask before submitting (cancel a campaign, resend a message...).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList && form.classList.contains("confirm-submit")) {
      var text = form.getAttribute("data-confirm") || "Confirmar?";
      if (!window.confirm(text)) {
        event.preventDefault();
      }
    }
  });

  // Do not let a polling refresh wipe what the operator is doing inside the refreshed area (an open intent
  // correction, a focused select).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || !event.detail.requestConfig || event.detail.requestConfig.verb !== "get") {
      return;
    }
    if (target.querySelector("details[open]") || target.contains(document.activeElement) && document.activeElement.tagName === "SELECT") {
      event.preventDefault();
    }
  });

  // After a chat refresh keep the newest message in view when the operator was already at the bottom.
  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }
  var chat = document.getElementById("chat-messages");
  if (chat) {
    chat.scrollTop = chat.scrollHeight;
    var stick = true;
    chat.addEventListener("scroll", function () { stick = nearBottom(chat); });
    document.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target === chat && stick) {
        chat.scrollTop = chat.scrollHeight;
      }
    });
  }
})();
