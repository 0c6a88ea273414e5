// Painel charts: data comes from the json_script block #painel-data rendered by the view (no inline JS).
(function () {
  "use strict";

  var node = document.getElementById("painel-data");
  if (!node || !window.Chart) {
    return;
  }
  var data = JSON.parse(node.textContent);
  var green = "#25d366";
  var palette = ["#075e54", "#128c7e", "#25d366", "#34b7f1", "#ffc107", "#fd7e14", "#dc3545", "#6f42c1", "#20c997",
                 "#6c757d", "#0d6efd", "#d63384"];
  var brl = new Intl.NumberFormat("pt-BR", { style: "currency", currency: "BRL" });
  var integer = new Intl.NumberFormat("pt-BR");

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.locale = "pt-BR";

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new Chart(canvas, config);
    }
  }

  draw("chart-sends", {
    type: "bar",
    data: { labels: data.sends.labels, datasets: [{ label: "Envios", data: data.sends.values, backgroundColor: green }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });

  draw("chart-funnel", {
    type: "bar",
    data: {
      labels: data.funnel.labels,
      datasets: [{ label: "Mensagens", data: data.funnel.values, backgroundColor: palette.slice(0, 5) }]
    },
    options: {
      indexAxis: "y",
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var first = data.funnel.values[0] || 0;
              var pct = first ? " (" + Math.round((ctx.parsed.x * 100) / first) + " %)" : "";
              return integer.format(ctx.parsed.x) + pct;
            }
          }
        }
      },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } }
    }
  });

  draw("chart-intents", {
    type: "doughnut",
    data: { labels: data.intents.labels, datasets: [{ data: data.intents.values, backgroundColor: palette }] },
    options: { plugins: { legend: { position: "right" } } }
  });

  draw("chart-recovery", {
    type: "bar",
    data: {
      labels: data.recovery.labels,
      datasets: [{ label: "Recuperado", data: data.recovery.values, backgroundColor: "#128c7e" }]
    },
    options: {
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: function (ctx) { return brl.format(ctx.parsed.y); } } }
      },
      scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return brl.format(v); } } } }
    }
  });
})();
