/**
 * HTML building blocks for the dashboard: escaping and the page layout. No external
 * assets, no scripts: the CSS is inline and every page works with JavaScript off.
 */

/** Escapes text for HTML content and double-quoted attribute values. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Formats a count with thin grouping: 12 345. */
export function fmtCount(n: number): string {
  return n.toLocaleString('en-US').replace(/,/g, '\u2009');
}

const CSS = `
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d9dee4;--bg:#fbfcfd;--card:#fff;--accent:#2563eb;--sup:#9aa3ad}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header.top{background:#0f172a;color:#fff;padding:.75rem 1rem}
header.top a{color:#fff;text-decoration:none;font-weight:700}
header.top span{color:#cbd5e1;font-size:.9rem;margin-left:.5rem}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0}
h2{font-size:1.25rem;margin:1.75rem 0 .5rem}
h3{font-size:1.05rem;margin:0 0 .25rem}
p{margin:.4rem 0}
a{color:var(--accent)}
.muted{color:var(--muted)}
.small{font-size:.875rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,24rem),1fr));gap:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:1rem;min-width:0}
.stats{display:flex;flex-wrap:wrap;gap:1rem 2rem;margin:.75rem 0}
.stat b{display:block;font-size:2rem;line-height:1.1}
.stat span{color:var(--muted);font-size:.875rem}
.stat .sup{display:flex;align-items:flex-end;height:2.2rem;font-size:.875rem;font-style:normal;color:var(--muted);cursor:help}
nav.windows{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.5rem 0}
nav.windows a,nav.windows strong{padding:.3rem .7rem;border:1px solid var(--line);border-radius:999px;text-decoration:none;background:var(--card)}
nav.windows strong{background:var(--fg);color:#fff;border-color:var(--fg)}
form.pick{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.5rem 0 1rem}
form.pick label{display:flex;flex-direction:column;font-size:.8rem;color:var(--muted)}
form.pick select,form.pick input,form.pick button{font:inherit;padding:.3rem .5rem;border:1px solid var(--line);border-radius:.35rem;background:#fff}
form.pick button{background:var(--accent);color:#fff;border-color:var(--accent)}
svg{display:block;width:100%;height:auto;max-width:36rem}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.legend{display:flex;flex-wrap:wrap;gap:.25rem 1rem;padding:0;margin:.5rem 0;list-style:none;font-size:.875rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.35rem;vertical-align:-1px}
dl.fields dt{font-weight:600;margin-top:.75rem}
dl.fields dd{margin:0 0 0 0}
dl.fields dd code{white-space:nowrap}
.card h3+p{margin-top:.25rem}
.card p.small{margin:.15rem 0}
code{background:#eef1f5;padding:0 .25rem;border-radius:3px;font-size:.9em;overflow-wrap:anywhere}
.notice{background:#fff7e6;border:1px solid #f3d49b;border-radius:.5rem;padding:.75rem 1rem}
footer{max-width:60rem;margin:2rem auto;padding:0 1rem;color:var(--muted);font-size:.85rem}
table{border-collapse:collapse;font-size:.875rem}
td,th{border-bottom:1px solid var(--line);padding:.2rem .6rem .2rem 0;text-align:left}
td.n{text-align:right}
.scroll{overflow-x:auto}
`;

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header class="top"><a href="/">Beacon</a><span>anonymous community totals</span></header>
<main>
${body}
</main>
<footer>Counts below the privacy threshold are never published. Data: <a href="/api/v1/openapi.json">JSON/CSV API</a> · <a href="/api/v1/key">signing key</a>.</footer>
</body>
</html>
`;
}
