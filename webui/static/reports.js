// Reports charts with the vendored uPlot (webui/static/uPlot.iife.min.js, MIT, see README).
(function () {
  "use strict";
  function read(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }
  function width(el) { return Math.max(320, Math.min(900, el.clientWidth || 600)); }
  function plot(el, labels, series, opts) {
    var xs = labels.map(function (_, i) { return i; });
    var data = [xs].concat(series.map(function (s) { return s.values; }));
    var cfg = {
      width: width(el), height: 220, title: opts.title,
      scales: { x: { time: false } },
      axes: [{ values: function (u, ticks) { return ticks.map(function (t) { return labels[t] !== undefined ? labels[t] : ""; }); } },
             { label: opts.ylabel }],
      series: [{ label: opts.xlabel, value: function (u, v) { return v == null ? "" : labels[v]; } }].concat(series.map(function (s) {
        return { label: s.label, stroke: s.color, width: 2, fill: s.fill || undefined,
                 paths: s.bars ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined, spanGaps: false };
      }))
    };
    var chart = new uPlot(cfg, data, el);
    el.dataset.drawn = "yes";
    return chart;
  }
  function drawReport() {
    var d = read("chart-data");
    var vol = document.getElementById("chart-volume");
    if (!d || !vol || typeof uPlot === "undefined") return;
    if (!d.labels.length) { vol.textContent = "No data to chart."; vol.dataset.drawn = "empty"; return; }
    plot(vol, d.labels, [
      { label: "Offered", values: d.series.offered, color: "#4a6fa5", bars: true },
      { label: "Answered", values: d.series.answered, color: "#2e8b57" },
      { label: "Abandoned", values: d.series.abandoned, color: "#c0392b" }
    ], { title: "Calls", ylabel: "calls", xlabel: "period" });
    var sl = document.getElementById("chart-sl");
    plot(sl, d.labels, [
      { label: "Service level %", values: d.series.service_level.map(function (v) { return v == null ? null : 100 * v; }), color: "#8e44ad" }
    ], { title: "Service level", ylabel: "%", xlabel: "period" });
  }
  function drawForecast() {
    var d = read("forecast-data");
    var el = document.getElementById("chart-forecast");
    if (!d || !el || typeof uPlot === "undefined") return;
    plot(el, d.labels, [
      { label: "Arrivals", values: d.actual, color: "#4a6fa5" },
      { label: "Forecast", values: d.forecast, color: "#e67e22" }
    ], { title: "Arrivals per day", ylabel: "calls", xlabel: "day" });
  }
  document.addEventListener("DOMContentLoaded", function () { drawReport(); drawForecast(); });
})();
