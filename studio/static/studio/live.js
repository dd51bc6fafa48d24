// The Studio's live channel: one websocket, a frame every few seconds, reconnecting by itself.
(function () {
  "use strict";
  var statusEl = document.getElementById("live-status");
  var countEl = document.getElementById("frame-count");
  var frames = 0;
  var retry = 500;
  var chart = null;
  var series = [[], []];
  var hour = { min: 0, max: 0 };  // the chart's x range: the hour before the latest frame

  function setStatus(text) {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.className = "studio-status " + text;
  }

  function lookup(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
  }

  function format(el, value) {
    if (value === undefined || value === null) return "–";
    if (el.dataset.format === "percent") return (value * 100).toFixed(1) + "%";
    if (el.dataset.bool) { var words = el.dataset.bool.split(","); return value ? words[0] : words[1]; }
    return String(value);
  }

  function renderFields(frame) {
    document.querySelectorAll("[data-field]").forEach(function (el) {
      var value = lookup(frame, el.dataset.field);
      var text = format(el, value);
      el.textContent = text;
      if (el.dataset.status) el.className = "studio-status " + (el.dataset.bool ? (value ? "ok" : "fail") : text);
    });
  }

  function renderHotkeys(hotkeys) {
    var table = document.getElementById("hotkeys");
    if (!table || !hotkeys) return;
    var body = table.querySelector("tbody");
    body.textContent = "";
    if (!hotkeys.length) {
      var emptyRow = document.createElement("tr");
      var cell = document.createElement("td");
      cell.colSpan = 2;
      cell.className = "studio-empty";
      cell.textContent = "No key accesses sampled yet.";
      emptyRow.appendChild(cell);
      body.appendChild(emptyRow);
      return;
    }
    hotkeys.forEach(function (hotkey) {
      var tr = document.createElement("tr");
      [hotkey.key, String(hotkey.rate)].forEach(function (value) {
        var td = document.createElement("td");
        td.textContent = value;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function renderAlerts(alerts) {
    var list = document.getElementById("alerts");
    if (!list || !alerts) return;
    list.textContent = "";
    if (!alerts.length) {
      var empty = document.createElement("li");
      empty.className = "studio-empty";
      empty.textContent = "No recent alerts.";
      list.appendChild(empty);
      return;
    }
    alerts.forEach(function (alert) {
      var li = document.createElement("li");
      li.textContent = alert.state + " · " + alert.severity + " · " + alert.title + " · ";
      var link = document.createElement("a");
      link.href = alert.runbook_url;
      link.textContent = "runbook";
      li.appendChild(link);
      list.appendChild(li);
    });
  }

  // The last hour of the server's hit rate, one point per 5 s sample (the rate since the
  // sample before it; a gap where nothing was looked up). Times are epoch seconds, uPlot's
  // default unit; the x axis always spans the hour before the latest frame.
  function renderChart(frame) {
    var target = document.getElementById("hit-rate-chart");
    if (!target || typeof uPlot === "undefined") return;
    var history = (frame.redis && frame.redis.history) || [];
    series = [history.map(function (p) { return p.at; }), history.map(function (p) { return p.hit_rate; })];
    // The hour ends at the frame, or at the newest sample if that is later (a sample's time
    // is rounded to 0.1 s): the newest point is never drawn past the plot's right edge.
    var latest = series[0].length ? Math.max(frame.at, series[0][series[0].length - 1]) : frame.at;
    hour = { min: latest - 3600, max: latest };
    if (!chart) {
      chart = new uPlot({
        width: target.clientWidth || 600, height: 180,
        series: [{}, { label: "hit rate", stroke: "#417690", scale: "rate", width: 2, points: { show: true, size: 8, fill: "#417690" } }],
        scales: {
          x: { time: true, range: function () { return [hour.min, hour.max]; } },
          rate: { range: [0, 1] },
        },
        axes: [{}, { scale: "rate", values: function (u, v) { return v.map(function (x) { return (x * 100) + "%"; }); } }],
      }, series, target);
    } else {
      chart.setData(series, false);
    }
    chart.setScale("x", { min: hour.min, max: hour.max });
  }

  // The chart follows its card's width (a window resized, or the page opened narrow).
  window.addEventListener("resize", function () {
    var target = document.getElementById("hit-rate-chart");
    if (chart && target) chart.setSize({ width: target.clientWidth || 600, height: 180 });
  });

  // For the browser tests: what the chart was given and the range it draws.
  window.studioLive = {
    series: function () { return series; },
    xRange: function () { return chart ? [chart.scales.x.min, chart.scales.x.max] : null; },
  };

  function onFrame(frame) {
    frames += 1;
    if (countEl) countEl.textContent = String(frames);
    renderFields(frame);
    var redis = frame.redis || {};
    renderHotkeys(redis.hotkeys);
    renderAlerts(frame.alerts);
    renderChart(frame);
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/studio/live/");
    setStatus("connecting");
    socket.onopen = function () { retry = 500; setStatus("live"); };
    socket.onmessage = function (event) {
      var data = JSON.parse(event.data);
      if (data.type === "frame") onFrame(data);
    };
    socket.onclose = function () {
      setStatus("disconnected");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  connect();
})();
