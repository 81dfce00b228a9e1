/** Dashboard pages, rendered from the same documents the API serves. Pure: data in, HTML out. */
import type { FieldSpec, Manifest } from '../../src/protocol/manifest.js';
import { ladderLabels, ladderOf } from '../../src/protocol/manifest.js';
import type { ProductSummary, Series, Totals } from '../totals/schema.js';
import { WINDOW_KINDS, earlierWindow, nextWindow, type Window, type WindowKind } from '../totals/windows.js';
import { adoptionChart, barChart, fieldRows } from './charts.js';
import { esc, fmtCount, page } from './html.js';

const KIND_NAMES: Record<WindowKind, string> = { day: 'Day', week: 'Week', month: 'Month' };

function productLink(product: string, w: { kind: WindowKind; period: string }): string {
  return `/p/${encodeURIComponent(product)}?window=${w.kind}&amp;period=${encodeURIComponent(w.period)}`;
}

function stat(value: number | null, label: string, k: number): string {
  // A status, not a number: set small and muted so it does not read as an error.
  const v = value === null
    ? `<em class="sup" title="Not published: fewer than ${k}, or hidden so that a small group cannot be worked out by subtraction">— suppressed</em>`
    : `<b>${esc(fmtCount(value))}</b>`;
  return `<div class="stat">${v}<span>${esc(label)}</span></div>`;
}

export function renderHome(products: ProductSummary[]): string {
  // Products with published numbers first, so the page does not open on a row of "fewer than k" cards; stable otherwise.
  const ordered = [...products.filter((p) => !p.latest.belowThreshold), ...products.filter((p) => p.latest.belowThreshold)];
  const cards = ordered.map((p) => {
    const l = p.latest;
    const numbers = l.belowThreshold
      ? `<p class="muted">Fewer than ${p.k} installations reported in ${esc(l.period)}.</p>`
      : `<div class="stats">${stat(l.installations, 'installations', p.k)}${stat(l.established, 'established', p.k)}</div>`;
    return `<section class="card"><h2 style="margin-top:0"><a href="${productLink(p.product, { kind: l.window, period: l.period })}">${esc(p.title)}</a></h2>` +
      `<p class="muted small">${esc(KIND_NAMES[l.window])} ${esc(l.period)}</p>${numbers}<p class="small">${esc(p.description)}</p></section>`;
  });
  const body = `<h1>Community totals</h1>
<p class="muted">How many self-hosted installations report, which versions they run and roughly how big they are. Every number is a count of installations; no count below the privacy threshold is ever shown.</p>
${products.length ? `<div class="cards">${cards.join('\n')}</div>` : '<p>No products are configured.</p>'}`;
  return page('Beacon: community totals', body);
}

export interface ProductPage {
  manifest: Manifest;
  totals: Totals;
  window: Window;
  /** The latest published period of each window kind (the chooser's shortcuts; nothing later is linked). */
  latest: Record<WindowKind, string>;
  /** Version adoption over the periods up to this one (null if the manifest has no version field). */
  adoption: Series | null;
}

function describeValues(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'range':
      return `a range: ${ladderLabels(ladderOf(spec)).map((l) => `<code>${esc(l)}</code>`).join(' ')}`;
    case 'category':
      return `one of ${spec.values.map((v) => `<code>${esc(v)}</code>`).join(' ')}`;
    case 'version':
      return `a version number cut to ${spec.precision === 'major' ? 'MAJOR' : spec.precision === 'minor' ? 'MAJOR.MINOR' : 'MAJOR.MINOR.PATCH'}`;
    case 'features':
      return `any of ${spec.vocabulary.map((v) => `<code>${esc(v)}</code>`).join(' ')}`;
  }
}

function collected(m: Manifest): string {
  const fields = Object.entries(m.fields).map(([name, spec]) =>
    `<dt><code>${esc(name)}</code>${spec.optional ? ' <span class="muted small">(optional)</span>' : ''}</dt>` +
    `<dd>${esc(spec.description)}<br><span class="small muted">Sent as ${describeValues(spec)}.</span></dd>`);
  const omitted = (m.omitted ?? []).map((o) => `<dt><code>${esc(o.field)}</code></dt><dd>${esc(o.why)}</dd>`);
  return `<h2 id="collected">What is collected</h2>
<p>${esc(m.description)}</p>
<p class="small muted">Manifest version ${esc(m.version)}. An installation sends only these values, signed with its own random key; exact numbers never leave it.</p>
<dl class="fields">${fields.join('')}</dl>
${omitted.length ? `<h3 style="margin-top:1.25rem">Deliberately not collected</h3><dl class="fields">${omitted.join('')}</dl>` : ''}`;
}

function chooser(p: ProductPage): string {
  const product = p.manifest.product;
  const w = p.window;
  const kinds = WINDOW_KINDS.map((kind) =>
    kind === w.kind ? `<strong>${KIND_NAMES[kind]}</strong>` : `<a href="${productLink(product, { kind, period: p.latest[kind] })}">${KIND_NAMES[kind]}</a>`);
  const prev = earlierWindow(w);
  const next = nextWindow(w);
  // Period strings of one kind sort like their dates; no link past the latest published one.
  const nextLink = next.period <= p.latest[w.kind]
    ? `<a href="${productLink(product, next)}" rel="next">${esc(next.period)} →</a>` : '';
  return `<nav class="windows" aria-label="Window">${kinds.join('')}</nav>
<nav class="windows" aria-label="Period">${prev ? `<a href="${productLink(product, prev)}" rel="prev">← ${esc(prev.period)}</a>` : ''}<strong>${esc(w.period)}</strong>${nextLink}</nav>
<form class="pick" method="get" action="/p/${esc(encodeURIComponent(product))}">
<label>Window<select name="window">${WINDOW_KINDS.map((k) => `<option value="${k}"${k === w.kind ? ' selected' : ''}>${KIND_NAMES[k]}</option>`).join('')}</select></label>
<label>Period<input name="period" value="${esc(w.period)}" size="10" maxlength="10" placeholder="2026-W49"></label>
<button type="submit">Show</button>
</form>`;
}

export function renderProduct(p: ProductPage): string {
  const { manifest: m, totals: t } = p;
  const range = t.from === t.to ? t.from : `${t.from} to ${t.to}`;
  const head = `<h1>${esc(m.title)}</h1>
<p class="muted">${esc(KIND_NAMES[t.window])} ${esc(t.period)} (${esc(range)})${!t.complete ? ' · not over yet, numbers can still grow' : !t.final ? ' · late reports can still change these numbers' : ''}</p>
${chooser(p)}`;
  let body: string;
  if (t.belowThreshold) {
    body = `<p class="notice">Fewer than ${esc(t.k)} installations reported in this ${esc(t.window)}, so nothing else is published for it.</p>`;
  } else {
    const n = t.installations!;
    const charts = t.fields.map((f, i) => {
      const spec = m.fields[f.name];
      const optional = spec?.optional === true;
      const unit = f.kind === 'features' ? 'installations with each feature' : optional ? 'installations per value, and those that did not report it' : 'installations per value';
      // Nobody sent it: one line instead of a chart of empty cells (the absent count is published).
      const chart = f.absent?.count === n
        ? `<p class="notice small">No installation reported <code>${esc(f.name)}</code> in this ${esc(t.window)}.</p>`
        : barChart(`f${i}`, `${f.name}: ${unit}`, fieldRows(f, optional), n);
      return `<section class="card"><h3><code>${esc(f.name)}</code></h3><p class="small">${esc(spec?.description ?? '')}</p>${f.absent?.count === n ? '' : `<p class="small muted">${esc(unit)}:</p>`}${chart}</section>`;
    });
    const adoption = p.adoption && p.adoption.points.length > 1 && p.adoption.points.some((x) => !x.belowThreshold) ? (() => {
      const { svg, legend } = adoptionChart('adoption', p.adoption);
      return `<h2>Version adoption</h2><p class="small muted">Share of installations per <code>${esc(p.adoption.field)}</code>, ${esc(p.adoption.from)} to ${esc(p.adoption.to)}. <a href="/api/v1/products/${esc(encodeURIComponent(m.product))}/series?field=${esc(p.adoption.field)}&amp;window=${p.adoption.window}&amp;from=${esc(p.adoption.from)}&amp;to=${esc(p.adoption.to)}&amp;format=csv">CSV</a></p><div class="card">${svg}${legend}</div>`;
    })() : '';
    body = `<div class="stats">${stat(n, 'installations', t.k)}${stat(t.established, 'established', t.k)}</div>
<p class="small muted"><em>Established</em>: first seen at least 7 days before the window ended, so a burst of new keys cannot move it.</p>
<p class="small muted">Cells with fewer than ${esc(t.k)} installations are shown as <em>suppressed</em>, and so is the next smallest cell where a suppressed one could otherwise be worked out by subtraction.${t.noise ? ` Counts carry Laplace noise (ε = ${esc(t.noise.epsilon)}).` : ''}</p>
${adoption}
<h2>By field</h2>
<div class="cards">${charts.join('\n')}</div>`;
  }
  const api = `/api/v1/products/${encodeURIComponent(m.product)}/totals?window=${t.window}&amp;period=${encodeURIComponent(t.period)}`;
  const links = `<p class="small">This page as data: <a href="${api}">JSON</a> · <a href="${api}&amp;format=csv">CSV</a> · <a href="${api}&amp;signed=1">signed</a></p>`;
  return page(`${m.title}: ${t.period} · Beacon`, `${head}${body}${links}${collected(m)}`);
}

export function renderError(status: number, message: string): string {
  return page(`Beacon: ${status}`, `<h1>${status === 404 ? 'Not found' : 'Bad request'}</h1><p>${esc(message)}</p><p><a href="/">All products</a></p>`);
}
