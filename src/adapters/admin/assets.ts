/**
 * The admin pages' stylesheet and script, served from memory at /admin/assets/ (no build step, no CDN). The
 * script is an enhancement only: every page works without it (forms POST and redirect; live parts have a
 * refresh link; a chart's numbers are a table too).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * The chart library, uPlot, served from node_modules as published (/admin/assets/uplot.min.js and .css).
 * uPlot: 51 kB minified, 10,000 points drawn in ~0.1 s in chromium (Chart.js: 213 kB, ~1 s), MIT, no inline
 * style or script of its own, so the pages' strict CSP holds.
 */
const requireFile = createRequire(import.meta.url);
export const CHART_JS = readFileSync(requireFile.resolve('uplot/dist/uPlot.iife.min.js'));
export const CHART_CSS = readFileSync(requireFile.resolve('uplot/dist/uPlot.min.css'));

export const ADMIN_CSS = `
:root { --fg: #1d2330; --muted: #667085; --line: #d9dee7; --bg: #f6f7f9; --accent: #2656c9; --bad: #b42318; --ok: #067647; --warn: #b54708; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; }
header nav { display: flex; gap: 1rem; flex: 1; }
header nav a { color: var(--fg); text-decoration: none; padding: .2rem 0; }
header nav a[aria-current="page"] { border-bottom: 2px solid var(--accent); }
header form { margin: 0; }
main { padding: 1.2rem 1.5rem; max-width: 1200px; }
h1 { font-size: 1.3rem; margin: 0 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .6rem; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.notice { padding: .5rem .8rem; border: 1px solid var(--ok); background: #ecfdf3; margin-bottom: 1rem; }
.error { padding: .5rem .8rem; border: 1px solid var(--bad); background: #fef3f2; margin-bottom: 1rem; }
.secret { font: 15px/1.4 ui-monospace, monospace; padding: .6rem; background: #fff; border: 1px dashed var(--accent); user-select: all; word-break: break-all; }
form.inline { display: inline; margin: 0; }
form.bar { display: flex; gap: .5rem; align-items: end; flex-wrap: wrap; margin: 0 0 1rem; }
label { display: flex; flex-direction: column; gap: .2rem; color: var(--muted); font-size: .85rem; }
input, select, textarea, button { font: inherit; padding: .3rem .5rem; border: 1px solid var(--line); border-radius: 4px; background: #fff; color: var(--fg); }
button { background: var(--accent); border-color: var(--accent); color: #fff; cursor: pointer; }
button.plain { background: #fff; color: var(--accent); }
button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
progress { width: 8rem; height: .7rem; accent-color: var(--ok); vertical-align: middle; }
.status { font-weight: 600; }
.status-running { color: var(--accent); } .status-paused { color: var(--warn); } .status-finished { color: var(--ok); }
.login { max-width: 22rem; margin: 10vh auto; background: #fff; padding: 1.5rem; border: 1px solid var(--line); }
.login form { display: flex; flex-direction: column; gap: .8rem; }
iframe.preview { width: 100%; height: 60vh; border: 1px solid var(--line); background: #fff; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
dl.facts dt { color: var(--muted); }
.actions { display: flex; gap: .5rem; flex-wrap: wrap; margin: .5rem 0 1rem; }
td.split { white-space: nowrap; }
.chart { background: #fff; border: 1px solid var(--line); padding: .5rem; margin: 0 0 .6rem; }
details.rate summary { cursor: pointer; color: var(--muted); margin: 0 0 .4rem; }
.status-failed { color: var(--bad); }
fieldset.kinds { display: flex; flex-wrap: wrap; gap: .2rem .8rem; border: 1px solid var(--line); padding: .2rem .6rem; margin: 0; }
fieldset.kinds legend { color: var(--muted); font-size: .85rem; }
label.check { flex-direction: row; align-items: center; gap: .3rem; color: var(--fg); }
pre.payload { white-space: pre-wrap; word-break: break-all; background: #fff; border: 1px solid var(--line); padding: .6rem; font: 13px/1.4 ui-monospace, monospace; }
`;

export const ADMIN_JS = `
// Live parts: every element with data-live and an id is replaced, every 2 s while the page is visible, by the
// element of the same id in a fresh copy of this page (nothing but our own HTML is ever inserted).
(function () {
  if (!document.querySelector('[data-live]')) return;
  var busy = false;
  setInterval(function () {
    if (busy || document.hidden) return;
    busy = true;
    fetch(location.href, { credentials: 'same-origin', redirect: 'manual' })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (text) {
        if (!text) return;
        var doc = new DOMParser().parseFromString(text, 'text/html');
        document.querySelectorAll('[data-live]').forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh) el.replaceWith(document.importNode(fresh, true));
        });
        document.dispatchEvent(new Event('admin:live'));
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }, 2000);
})();
// A button with data-confirm asks before its form is sent.
document.addEventListener('submit', function (e) {
  var button = e.submitter || e.target.querySelector('[data-confirm]');
  var question = button && button.getAttribute('data-confirm');
  if (question && !confirm(question)) e.preventDefault();
});
// The send-rate chart (uPlot, loaded by the pages that have one): drawn from the data-series JSON of its
// table's live body ([minute in s, delivered, deferred, failed] rows, minutes without an outcome left out), again
// after every live refresh. A gap of minutes is drawn at zero, not as a line across it. The instance is
// window.mailgateSendRate.
(function () {
  var box = document.getElementById('send-rate-chart');
  if (!box || !window.uPlot) return;
  var chart = null;
  function series() {
    var holder = document.getElementById('send-rate-live');
    var rows = JSON.parse((holder && holder.getAttribute('data-series')) || '[]');
    var out = [[], [], [], []];
    var add = function (r) { for (var i = 0; i < 4; i++) out[i].push(r[i]); };
    rows.forEach(function (r, i) {
      var prev = i ? rows[i - 1][0] : null;
      if (prev !== null && r[0] - prev > 60) {
        add([prev + 60, 0, 0, 0]);
        if (r[0] - 60 > prev + 60) add([r[0] - 60, 0, 0, 0]);
      }
      add(r);
    });
    return out;
  }
  function draw() {
    if (chart) return chart.setData(series());
    box.hidden = false;
    var table = document.getElementById('send-rate-table');
    if (table) table.open = false;
    chart = new uPlot({
      width: Math.max(box.clientWidth - 16, 300),
      height: 260,
      // UTC on the axis, as the table beside it and every time the admin pages print.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'); },
      // The data's first to last minute and 90 s either side (uPlot pads a single point's range to years).
      scales: {
        x: {
          time: true,
          range: function (u, min, max) {
            var xs = u.data[0];
            return xs.length ? [xs[0] - 90, xs[xs.length - 1] + 90] : [min, max];
          },
        },
      },
      axes: [{ label: 'UTC' }, { label: 'messages per minute' }],
      series: [
        {},
        { label: 'Delivered', stroke: '#067647', width: 2 },
        { label: 'Deferred', stroke: '#b54708', width: 1.5 },
        { label: 'Failed', stroke: '#b42318', width: 1.5 },
      ],
    }, series(), box);
    window.mailgateSendRate = chart;
  }
  draw();
  document.addEventListener('admin:live', draw);
})();
`;
