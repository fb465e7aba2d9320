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
    // Rows exist only for periods with traffic: draw the empty ones as zeros, so the time axis is even.
    var step = Number(table.dataset.step || 86400), filled = [[], []];
    for (var t = xs[0], i = 0; t <= xs[xs.length - 1]; t += step) {
      filled[0].push(t);
      if (xs[i] === t) { filled[1].push(ys[i]); i++; } else { filled[1].push(0); }
    }
    if (filled[0].length === 1) { filled[0].unshift(xs[0] - step); filled[1].unshift(0); }
    xs = filled[0]; ys = filled[1];
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
