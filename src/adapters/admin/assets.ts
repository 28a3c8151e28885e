/**
 * The admin pages' stylesheet and script, served from memory at /admin/assets/ (no build step, no CDN). The
 * script is an enhancement only: every page works without it (forms POST and redirect; live parts have a
 * refresh link).
 */
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
`;
