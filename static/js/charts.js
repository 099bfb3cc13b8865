// Report charts: ECharts (static/vendor/echarts) drawn from the JSON the page
// embeds in #chart-data; each <div data-chart="name"> gets chart `name`.
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || !window.echarts) { return; }
  var charts = JSON.parse(source.textContent);
  var palette = ["#c0392b", "#2e86c1", "#7f8c8d", "#27ae60", "#d68910", "#8e44ad", "#16a085", "#34495e"];
  var drawn = [];

  function option(spec) {
    var horizontal = spec.kind === "hbars";
    var category = {type: "category", data: spec.labels, axisLabel: {hideOverlap: true}};
    var value = {type: "value", axisLabel: spec.percent ? {formatter: "{value}%"} : {}};
    if (horizontal) { category.inverse = true; category.axisLabel.width = 80; category.axisLabel.overflow = "truncate"; }
    return {
      color: palette,
      textStyle: {fontFamily: "system-ui, 'Noto Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"},
      tooltip: {trigger: "axis", confine: true},
      legend: spec.series.length > 1 ? {type: "scroll", top: 0} : undefined,
      grid: {left: 8, right: 16, top: spec.series.length > 1 ? 36 : 12, bottom: 8, containLabel: true},
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      series: spec.series.map(function (s) {
        return {name: s.name, type: "bar", data: s.data, stack: spec.kind === "stacked" ? "all" : undefined,
                barMaxWidth: 28};
      })
    };
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), function (el) {
    var spec = charts[el.getAttribute("data-chart")];
    if (!spec || !spec.labels.length) { return; }
    if (spec.kind === "hbars") { el.style.height = Math.max(200, 28 * spec.labels.length + 40) + "px"; }
    var chart = window.echarts.init(el, null, {renderer: "canvas"});
    chart.setOption(option(spec));
    drawn.push(chart);
  });
  window.addEventListener("resize", function () { drawn.forEach(function (c) { c.resize(); }); });
})();
