// Draws a uPlot line chart above every <table data-chart> from the table's own numbers: the table stays
// the source (readable without JavaScript, and what tests read), the chart is a picture of it.
(function () {
  function draw(table) {
    if (table.dataset.drawn === "1" || typeof uPlot === "undefined") return;
    var rows = table.querySelectorAll("tbody tr");
    var xs = [], ys = [];
    rows.forEach(function (tr) {
      xs.push(Number(tr.dataset.t));
      ys.push(Number(tr.querySelector("[data-value]").dataset.value));
    });
    if (!xs.length) return;
    var box = document.getElementById(table.dataset.chart);
    if (!box) return;
    box.innerHTML = "";
    var width = Math.max(280, Math.min(box.clientWidth || 600, 1000));
    new uPlot({ width: width, height: 220, series: [{}, { label: table.dataset.label || "value", stroke: "#2952cc", width: 2 }], scales: { x: { time: true } } }, [xs, ys], box);
    table.dataset.drawn = "1";
  }
  function all() { document.querySelectorAll("table[data-chart]").forEach(draw); }
  document.addEventListener("DOMContentLoaded", all);
  document.addEventListener("htmx:afterSettle", all);
})();
