// The axia chart: candles (the forming one hollow), tick volume, overlays and ATR in panes, a cross-hair legend
// with O/H/L/C and volume, range buttons. Receives one `spec` from axia.charts.lightweight_spec via Streamlit.
(function () {
  "use strict";
  const LW = window.LightweightCharts;
  const send = (type, data) => window.parent.postMessage(Object.assign({isStreamlitMessage: true, type: type}, data || {}), "*");
  const $ = (id) => document.getElementById(id);
  let chart = null, lastSpec = null, lastTheme = null, lastKey = null;

  function isDark(theme) {
    if (theme && theme.base) return theme.base === "dark";
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  }

  function fmtTime(t, daily) {
    const s = new Date(t * 1000).toISOString().replace("T", " ");
    return daily ? s.slice(0, 10) : s.slice(0, 16);
  }

  function build(spec, theme) {
    const keep = chart && lastKey === spec.key ? chart.timeScale().getVisibleLogicalRange() : null;   // a refresh keeps the view
    lastKey = spec.key;
    const dark = isDark(theme), text = (theme && theme.textColor) || (dark ? "#fafafa" : "#31333f");
    const bg = (theme && theme.backgroundColor) || (dark ? "#0e1117" : "#ffffff");
    const grid = dark ? "rgba(255,255,255,0.06)" : "rgba(0,0,0,0.06)";
    document.body.style.background = bg; document.body.style.color = text;
    if (chart) { chart.remove(); chart = null; }
    const el = $("chart");
    chart = LW.createChart(el, {
      height: spec.height, autoSize: false, width: el.clientWidth || window.innerWidth,
      layout: {background: {type: "solid", color: bg}, textColor: text, panes: {separatorColor: grid}},
      grid: {vertLines: {color: grid}, horzLines: {color: grid}},
      crosshair: {mode: LW.CrosshairMode.Normal},
      rightPriceScale: {borderVisible: false},
      timeScale: {timeVisible: !spec.daily, secondsVisible: false, borderVisible: false, rightOffset: 3},
    });
    const n = spec.time.length, d = spec.decimals, k = Math.pow(10, -d);
    const T = new Array(n); let t = 0;                       // times come as differences, prices as integers
    for (let i = 0; i < n; i++) { t += spec.time[i]; T[i] = t; }
    for (const c of ["open", "high", "low", "close"]) spec[c] = spec[c].map((v) => v * k);
    const bars = new Array(n);
    for (let i = 0; i < n; i++) bars[i] = {time: T[i], open: spec.open[i], high: spec.high[i], low: spec.low[i], close: spec.close[i]};
    const unscale = (ln) => { const q = Math.pow(10, -ln.decimals); ln.values = ln.values.map((v) => v * q); return ln; };
    spec.lines.forEach(unscale); if (spec.atr) unscale(spec.atr);
    if (spec.forming && n) Object.assign(bars[n - 1], {color: "rgba(0,0,0,0)", borderColor: spec.colors.forming, wickColor: spec.colors.forming});
    const slots = spec.gaps.length ? bars.concat(spec.gaps.map((t) => ({time: t}))).sort((a, b) => a.time - b.time) : bars;   // empty slots: holes in the data
    const candles = chart.addSeries(LW.CandlestickSeries, {upColor: spec.colors.up, downColor: spec.colors.down,
      borderUpColor: spec.colors.up, borderDownColor: spec.colors.down, wickUpColor: spec.colors.up, wickDownColor: spec.colors.down,
      priceFormat: {type: "price", precision: d, minMove: Math.pow(10, -d)}}, 0);
    candles.setData(slots);
    const later = [];                                       // overlays are drawn in the frame after the candles
    const lines = spec.lines.map((ln) => {
      const s = chart.addSeries(LW.LineSeries, {color: ln.color, lineWidth: 1, lineStyle: ln.dashed ? 2 : 0,
        priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false}, 0);
      const pts = []; for (let i = ln.start; i < n; i++) pts.push({time: T[i], value: ln.values[i - ln.start]});
      later.push(() => s.setData(pts)); return {name: ln.name, series: s};
    });
    const volume = chart.addSeries(LW.HistogramSeries, {priceFormat: {type: "volume"}, priceLineVisible: false, lastValueVisible: false}, 1);
    const up = spec.colors.up + "99", down = spec.colors.down + "99", vols = new Array(n);
    for (let i = 0; i < n; i++) vols[i] = {time: T[i], value: spec.volume[i], color: spec.close[i] >= spec.open[i] ? up : down};
    volume.setData(vols);
    let atr = null;
    if (spec.atr) {
      atr = chart.addSeries(LW.LineSeries, {color: "#ff7043", lineWidth: 1, priceLineVisible: false,
        priceFormat: {type: "price", precision: d + 1, minMove: Math.pow(10, -d - 1)}}, 2);
      const pts = []; for (let i = spec.atr.start; i < n; i++) pts.push({time: T[i], value: spec.atr.values[i - spec.atr.start]});
      later.push(() => atr.setData(pts));
    }
    const panes = chart.panes();
    if (panes[1]) panes[1].setHeight(Math.round(spec.height * 0.16));
    if (panes[2]) panes[2].setHeight(Math.round(spec.height * 0.13));

    const index = new Map(); for (let i = 0; i < n; i++) index.set(T[i], i);
    function legend(t, hover) {
      const i = index.get(t);
      if (i === undefined) { $("legend").innerHTML = ""; return; }
      const f = (x) => x.toFixed(d);
      let html = `<span class="t">${fmtTime(T[i], spec.daily)} UTC</span> ` +
        (spec.forming && i === n - 1 ? '<span class="forming">forming</span> ' : "") +
        `O ${f(spec.open[i])} H ${f(spec.high[i])} L ${f(spec.low[i])} C ${f(spec.close[i])} · Vol ${spec.volume[i].toLocaleString()}`;
      lines.forEach((ln, k) => { const L = spec.lines[k]; if (i >= L.start) html += `<br><span style="color:${L.color}">${ln.name} ${f(L.values[i - L.start])}</span>`; });
      if (spec.atr && i >= spec.atr.start) html += `<br><span style="color:#ff7043">ATR 14 ${spec.atr.values[i - spec.atr.start].toFixed(d + 1)}</span>`;
      $("legend").innerHTML = html;
      $("legend").dataset.hover = hover ? String(t) : "";
    }
    chart.subscribeCrosshairMove((p) => {
      if (p.time === undefined) { legend(T[n - 1], false); return; }
      legend(p.time, true);
      if (!window.__axiaChart.interactive) window.__axiaChart.interactive = performance.timeOrigin + performance.now();
    });
    if (n) legend(T[n - 1], false);

    const ranges = $("ranges"); ranges.innerHTML = "";
    spec.ranges.forEach(([label, seconds]) => {
      const b = document.createElement("button"); b.textContent = label;
      b.onclick = () => {
        [...ranges.children].forEach((c) => c.classList.remove("on")); b.classList.add("on");
        if (!seconds) { chart.timeScale().fitContent(); return; }
        const from = T[n - 1] - seconds; let lo = 0, hi = n - 1;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (T[mid] < from) lo = mid + 1; else hi = mid; }
        chart.timeScale().setVisibleRange({from: T[lo], to: T[n - 1]});
      };
      ranges.appendChild(b);
    });
    $("note").textContent = spec.note || "";
    if (keep) chart.timeScale().setVisibleLogicalRange(keep);
    else if (n) chart.timeScale().setVisibleLogicalRange({from: Math.max(0, slots.length - spec.visible), to: slots.length + 2});
    window.__axiaChart = {drawn: performance.timeOrigin + performance.now(), bars: n, title: spec.title || "", interactive: null};
    requestAnimationFrame(() => {
      window.__axiaChart.painted = performance.timeOrigin + performance.now();
      setTimeout(() => { later.forEach((f) => f()); window.__axiaChart.overlays = performance.timeOrigin + performance.now(); }, 0);
    });
    send("streamlit:setFrameHeight", {height: spec.height});
  }

  window.addEventListener("message", (e) => {
    if (!e.data || e.data.type !== "streamlit:render") return;
    const received = performance.timeOrigin + performance.now();
    const spec = e.data.args.spec, theme = e.data.theme || null;
    const key = JSON.stringify(theme);
    if (spec === lastSpec && key === lastTheme) return;
    lastSpec = spec; lastTheme = key;
    const parsed = JSON.parse(spec);
    const t = performance.timeOrigin + performance.now();
    build(parsed, theme);
    Object.assign(window.__axiaChart, {received: received, parsed: t});
  });
  window.addEventListener("resize", () => { if (chart) chart.applyOptions({width: $("chart").clientWidth || window.innerWidth}); });
  send("streamlit:componentReady", {apiVersion: 1});
})();
