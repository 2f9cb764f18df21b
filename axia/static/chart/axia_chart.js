// The axia chart: candles (the forming one hollow), tick volume, overlays and ATR in panes, a cross-hair legend
// with O/H/L/C and volume, range buttons. A Streamlit components-v2 module, drawn in the app's page (no iframe):
// axia.app sends it after lightweight-charts.standalone.production.js, which defines window.LightweightCharts.
// Each render hands it `data`: the bytes of one compact JSON `spec` from axia.charts.lightweight_spec.
const LW = window.LightweightCharts;
const charts = new WeakMap();                     // parentElement → {chart, spec (JSON text), key, theme, …}
let probe = null;                                 // a 2D context that turns any CSS colour into #rrggbb

function themeOf(host) {
  // Streamlit puts its theme on the component as CSS custom properties (--st-background-color, --st-text-color).
  const css = getComputedStyle(host), bg = css.getPropertyValue("--st-background-color").trim();
  const text = css.getPropertyValue("--st-text-color").trim();
  probe = probe || document.createElement("canvas").getContext("2d");
  let dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  if (bg && probe) {                              // any CSS colour → #rrggbb, then its luminance
    probe.fillStyle = bg; const hex = probe.fillStyle;
    if (/^#[0-9a-f]{6}$/i.test(hex)) {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 128;
    }
  }
  return {dark: dark, background: bg || (dark ? "#0e1117" : "#ffffff"), text: text || (dark ? "#fafafa" : "#31333f")};
}

// Axis and cross-hair labels without Intl (lightweight-charts' default formats each label with toLocaleString,
// a new Intl formatter per label): the same text as its defaults in English, in UTC.
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad2 = (x) => (x < 10 ? "0" : "") + x;
function tickLabel(t, type) {                      // type: lightweight-charts' TickMarkType (0 year … 4 time with seconds)
  const d = new Date(t * 1000);
  switch (type) {
    case 0: return String(d.getUTCFullYear());
    case 1: return MONTHS[d.getUTCMonth()];
    case 2: return String(d.getUTCDate());
    case 3: return pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes());
    default: return pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes()) + ":" + pad2(d.getUTCSeconds());
  }
}
function crosshairLabel(t, daily) {                // "15 Mar '24   09:00", as lightweight-charts' default dateFormat
  const d = new Date(t * 1000);
  const day = pad2(d.getUTCDate()) + " " + MONTHS[d.getUTCMonth()] + " '" + pad2(d.getUTCFullYear() % 100);
  return daily ? day : day + "   " + pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes());
}

const thousands = (v) => String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ",");   // 12,345 (toLocaleString: Intl's first use, ~12 ms)

function fmtTime(t, daily) {
  const s = new Date(t * 1000).toISOString().replace("T", " ");
  return daily ? s.slice(0, 10) : s.slice(0, 16);
}

function skeleton(root) {
  // The component's own elements, made once per mount: legend, range buttons, note, the chart's container.
  let wrap = root.querySelector(".axia-wrap");
  if (wrap) return wrap;
  wrap = document.createElement("div"); wrap.className = "axia-wrap";
  wrap.innerHTML = '<div id="legend"></div><div id="ranges"></div><div id="note"></div><div id="chart"></div>';
  root.appendChild(wrap);
  return wrap;
}

function build(state, spec, theme) {
  const $ = (id) => state.wrap.querySelector("#" + id);
  const keep = state.chart && state.key === spec.key ? state.chart.timeScale().getVisibleLogicalRange() : null;   // a refresh keeps the view
  state.key = spec.key;
  const dark = theme.dark, text = theme.text, bg = theme.background;
  const grid = dark ? "rgba(255,255,255,0.06)" : "rgba(0,0,0,0.06)";
  state.wrap.style.background = bg; state.wrap.style.color = text; state.wrap.dataset.theme = dark ? "dark" : "light";
  if (state.chart) { state.chart.remove(); state.chart = null; }
  const el = $("chart");
  const chart = state.chart = LW.createChart(el, {
    height: spec.height, autoSize: false, width: el.clientWidth || state.wrap.clientWidth || window.innerWidth,
    layout: {background: {type: "solid", color: bg}, textColor: text, panes: {separatorColor: grid}},
    grid: {vertLines: {color: grid}, horzLines: {color: grid}},
    crosshair: {mode: LW.CrosshairMode.Normal},
    rightPriceScale: {borderVisible: false},
    timeScale: {timeVisible: !spec.daily, secondsVisible: false, borderVisible: false, rightOffset: 3, tickMarkFormatter: tickLabel},
    localization: {timeFormatter: (t) => crosshairLabel(t, spec.daily)},
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
  const legendEl = $("legend");
  function legend(t, hover) {
    const i = index.get(t);
    if (i === undefined) { legendEl.innerHTML = ""; return; }
    const f = (x) => x.toFixed(d);
    let html = `<span class="t">${fmtTime(T[i], spec.daily)} UTC</span> ` +
      (spec.forming && i === n - 1 ? '<span class="forming">forming</span> ' : "") +
      `O ${f(spec.open[i])} H ${f(spec.high[i])} L ${f(spec.low[i])} C ${f(spec.close[i])} · Vol ${thousands(spec.volume[i])}`;
    lines.forEach((ln, k) => { const L = spec.lines[k]; if (i >= L.start) html += `<br><span style="color:${L.color}">${ln.name} ${f(L.values[i - L.start])}</span>`; });
    if (spec.atr && i >= spec.atr.start) html += `<br><span style="color:#ff7043">ATR 14 ${spec.atr.values[i - spec.atr.start].toFixed(d + 1)}</span>`;
    legendEl.innerHTML = html;
    legendEl.dataset.hover = hover ? String(t) : "";
    window.__axiaChart.hover = hover ? t : null;
  }
  chart.subscribeCrosshairMove((p) => {
    if (p.time === undefined) { legend(T[n - 1], false); return; }
    legend(p.time, true);
    if (!window.__axiaChart.interactive) window.__axiaChart.interactive = performance.timeOrigin + performance.now();
  });
  window.__axiaChart = {drawn: null, bars: n, title: spec.title || "", interactive: null, hover: null,
                        theme: dark ? "dark" : "light"};
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
  window.__axiaChart.drawn = performance.timeOrigin + performance.now();
  requestAnimationFrame(() => {
    window.__axiaChart.painted = performance.timeOrigin + performance.now();
    setTimeout(() => { later.forEach((f) => f()); window.__axiaChart.overlays = performance.timeOrigin + performance.now(); }, 0);
  });
}

export default function axiaChart(component) {
  const root = component.parentElement, host = root.host || root;
  const received = performance.timeOrigin + performance.now();
  let state = charts.get(root);
  if (!state || !state.wrap.isConnected) {
    state = {wrap: skeleton(root), chart: null, spec: null, key: null, theme: null};
    charts.set(root, state);
    // Follow the app's theme: Streamlit changes the custom properties on an ancestor when the theme changes.
    state.themeWatch = new MutationObserver(() => {
      if (!state.spec || !host.isConnected) return;
      const theme = themeOf(host);
      if (JSON.stringify(theme) !== state.theme) draw(state, state.spec, theme);
    });
    state.themeWatch.observe(document.body, {attributes: true, subtree: true, attributeFilter: ["style", "class"]});
    state.sizeWatch = new ResizeObserver(() => {
      if (state.chart) state.chart.applyOptions({width: state.wrap.querySelector("#chart").clientWidth || state.wrap.clientWidth});
    });
    state.sizeWatch.observe(state.wrap);
  }
  const data = component.data;
  const text = typeof data === "string" ? data : data ? new TextDecoder().decode(data) : null;
  const theme = themeOf(host);
  if (text && (text !== state.spec || JSON.stringify(theme) !== state.theme)) {
    draw(state, text, theme);
    Object.assign(window.__axiaChart, {received: received});
  }
  return () => {                                    // Streamlit calls this before each new render and on unmount
    setTimeout(() => {
      if (host.isConnected) return;
      state.themeWatch.disconnect(); state.sizeWatch.disconnect();
      if (state.chart) { state.chart.remove(); state.chart = null; }
      charts.delete(root);
    }, 0);
  };
}

function draw(state, text, theme) {
  state.spec = text; state.theme = JSON.stringify(theme);
  const parsed = JSON.parse(text);
  const t = performance.timeOrigin + performance.now();
  build(state, parsed, theme);
  window.__axiaChart.parsed = t;
}
