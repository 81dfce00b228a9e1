/**
 * Server-rendered SVG charts. Sized in a 360-unit-wide viewBox so that at phone width
 * the text is drawn at about its nominal size; suppressed cells are drawn hatched and
 * labelled, never as zero.
 */
import { compareVersionsDesc, OTHER } from '../totals/compute.js';
import type { FieldTotals, Series } from '../totals/schema.js';
import { esc, fmtCount } from './html.js';

const W = 360;
const BAR_COLOR = '#2563eb';
const OTHER_COLOR = '#94a3b8';

/** Newest first by numeric parts; labels that are not numbers fall back to text order, so the order is total. */
export function versionOrder(a: string, b: string): number {
  return compareVersionsDesc(a, b) || a.localeCompare(b);
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Version colours: none grey (that is "other versions"), none pale (next to the hatch). */
const VERSION_COLORS = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#ca8a04', '#0891b2',
  '#db2777', '#65a30d', '#1e3a8a', '#b91c1c', '#0d9488', '#92400e'];

/**
 * A version's preferred colour, from its own numbers: MAJOR.MINOR.PATCH read as one number
 * (major*10000 + minor*100 + patch; fewer parts, fewer places), modulo the palette. Since
 * 100 is 4 modulo 12, successive releases step through the palette: within a major, any
 * run of up to 12 neighbouring releases with at most four patches a minor gets 12
 * different colours (and so do runs of MAJOR.MINOR or MAJOR labels). Labels that are not
 * versions hash to one.
 */
function preferredColor(label: string): number {
  const m = /^\d{1,6}(?:\.\d{1,6}){0,2}$/.test(label) ? label.split('.').map(Number) : null;
  if (!m) return fnv1a(label) % VERSION_COLORS.length;
  return m.reduce((acc, part) => (acc * 100 + part) % VERSION_COLORS.length, 0);
}

/**
 * A colour per version, from the version itself and not from its rank in the chart, so a
 * version keeps its colour in the day, week and month views (which end on different days
 * and hold different sets of versions) and as releases come and go. Only if two versions
 * in one chart want the same colour does the older one move on to the next free one.
 */
export function versionColors(labels: readonly string[]): Map<string, string> {
  const taken = new Set<number>();
  const out = new Map<string, string>();
  for (const label of [...new Set(labels)].sort(versionOrder)) {
    const want = preferredColor(label);
    let i = want;
    for (let step = 1; taken.has(i) && step < VERSION_COLORS.length; step++) i = (want + step) % VERSION_COLORS.length;
    taken.add(i);
    out.set(label, VERSION_COLORS[i]!);
  }
  return out;
}

function hatch(id: string): string {
  return `<defs><pattern id="${id}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
    `<rect width="6" height="6" fill="#eef1f5"/><line x1="0" y1="0" x2="0" y2="6" stroke="#9aa3ad" stroke-width="2"/></pattern></defs>`;
}

function pct(n: number, total: number): string {
  if (total <= 0) return '';
  const p = (100 * n) / total;
  return p >= 10 || p === 0 ? `${Math.round(p)}%` : `${p.toFixed(1)}%`;
}

export interface BarRow {
  label: string;
  count: number | null;
}

/** Horizontal bars, one row per cell: label and value on a line, the bar under it, scaled to the installation count. */
export function barChart(id: string, title: string, rows: BarRow[], installations: number): string {
  const rowH = 36;
  const h = rows.length * rowH + 4;
  const scale = installations > 0 ? installations : Math.max(1, ...rows.map((r) => r.count ?? 0));
  const pid = `h-${id}`;
  const body = rows.map((r, i) => {
    const y = i * rowH;
    const label = `<text x="0" y="${y + 14}" font-size="13" fill="#1b1f24">${esc(r.label)}</text>`;
    const track = `<rect x="0" y="${y + 19}" width="${W}" height="11" rx="2" fill="#eef1f5"/>`;
    if (r.count === null) {
      return label + `<text x="${W}" y="${y + 14}" font-size="12" text-anchor="end" fill="#5b6470" font-style="italic">suppressed</text>` +
        track + `<rect x="0" y="${y + 19}" width="${W}" height="11" rx="2" fill="url(#${pid})"><title>${esc(r.label)}: suppressed</title></rect>`;
    }
    const bw = Math.max(r.count > 0 ? 2 : 0, (W * r.count) / scale);
    return label + `<text x="${W}" y="${y + 14}" font-size="13" text-anchor="end" fill="#1b1f24">${esc(fmtCount(r.count))} <tspan fill="#5b6470">${pct(r.count, installations)}</tspan></text>` +
      track + `<rect x="0" y="${y + 19}" width="${bw.toFixed(1)}" height="11" rx="2" fill="${BAR_COLOR}"><title>${esc(r.label)}: ${r.count}</title></rect>`;
  });
  return `<svg viewBox="0 0 ${W} ${h}" role="img" aria-label="${esc(title)}" xmlns="http://www.w3.org/2000/svg">${hatch(pid)}<title>${esc(title)}</title>${body.join('')}</svg>`;
}

/** The rows of a field's chart: its cells, then "not reported" for optional fields. */
export function fieldRows(f: FieldTotals, optional: boolean): BarRow[] {
  const rows: BarRow[] = f.cells.map((c) => ({ label: c.label, count: c.count }));
  if (f.absent && optional) rows.push({ label: 'not reported', count: f.absent.count });
  return rows;
}

function shortPeriod(window: Series['window'], period: string): string {
  if (window === 'week') return period.slice(5);
  if (window === 'day') return period.slice(5);
  return new Date(`${period}-01T00:00:00Z`).toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
}

/**
 * Version adoption over time: one 100% stacked column per period. Every version with a
 * published count gets its own segment in each period where it is published (no top-N
 * cut: that folded a new release, small over the whole range, into "other" even where it
 * was published); the `other` cell (versions below k) is "other versions"; what is
 * suppressed or not reported is hatched, as the share nobody may see.
 */
export function adoptionChart(id: string, s: Series): { svg: string; legend: string } {
  const shown = new Set<string>();
  for (const p of s.points) for (const c of p.cells) if (c.count !== null && c.label !== OTHER) shown.add(c.label);
  const color = versionColors([...shown]);
  // Legend order, and each column's order from the top: newest version first.
  const versions = [...color.keys()];
  const left = 34;
  const plotH = 160;
  const top0 = 8;
  const n = Math.max(1, s.points.length);
  const colW = (W - left) / n;
  const barW = Math.max(4, colW * 0.72);
  const pid = `h-${id}`;
  const parts: string[] = [];
  for (const f of [0, 0.5, 1]) {
    const y = top0 + plotH * (1 - f);
    parts.push(`<line x1="${left}" x2="${W}" y1="${y}" y2="${y}" stroke="#d9dee4"/><text x="${left - 4}" y="${y + 4}" font-size="11" text-anchor="end" fill="#5b6470">${f * 100}%</text>`);
  }
  // Axis labels: as many as fit side by side (about 6.6 units a character at 11 px, plus a
  // gap), counted back from the newest period so the latest always has one and its neighbour never crowds it.
  const labelChars = Math.max(0, ...s.points.map((p) => shortPeriod(s.window, p.period).length));
  const labelHalf = (labelChars * 6.6) / 2;
  // The newest label is moved left by up to this much to stay inside the viewBox (below).
  const lastShift = Math.max(0, labelHalf - colW / 2);
  const labelEvery = Math.max(1, Math.ceil((2 * labelHalf + 8 + lastShift) / colW));
  s.points.forEach((p, i) => {
    const x = left + i * colW + (colW - barW) / 2;
    // Kept inside the viewBox: the newest label would otherwise be cut off at the right edge.
    const lx = Math.min(x + barW / 2, W - labelHalf);
    if ((n - 1 - i) % labelEvery === 0)
      parts.push(`<text class="x" x="${lx.toFixed(1)}" y="${top0 + plotH + 15}" font-size="11" text-anchor="middle" fill="#5b6470">${esc(shortPeriod(s.window, p.period))}</text>`);
    const total = p.installations ?? 0;
    if (p.belowThreshold || total <= 0) {
      parts.push(`<rect x="${x.toFixed(1)}" y="${top0}" width="${barW.toFixed(1)}" height="${plotH}" fill="url(#${pid})" opacity="0.5"><title>${esc(p.period)}: fewer installations than the threshold</title></rect>`);
      return;
    }
    const segs: { label: string; n: number; fill: string }[] = [];
    let other = 0;
    for (const c of p.cells) {
      if (c.count === null) continue;
      if (color.has(c.label)) segs.push({ label: c.label, n: c.count, fill: color.get(c.label)! });
      else other += c.count;
    }
    segs.sort((a, b) => versionOrder(a.label, b.label));
    if (other > 0) segs.push({ label: 'other versions', n: other, fill: OTHER_COLOR });
    const published = segs.reduce((acc, sg) => acc + sg.n, 0);
    if (total - published > 0) segs.push({ label: 'suppressed or not reported', n: total - published, fill: `url(#${pid})` });
    let y = top0;
    for (const sg of segs) {
      const hgt = (plotH * sg.n) / total;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${hgt.toFixed(1)}" fill="${sg.fill}"><title>${esc(p.period)} ${esc(sg.label)}: ${sg.n} (${pct(sg.n, total)})</title></rect>`);
      y += hgt;
    }
  });
  const h = top0 + plotH + 22;
  const title = `${s.field} adoption by ${s.window}, ${s.from} to ${s.to}`;
  const svg = `<svg viewBox="0 0 ${W} ${h}" role="img" aria-label="${esc(title)}" xmlns="http://www.w3.org/2000/svg">${hatch(pid)}<title>${esc(title)}</title>${parts.join('')}</svg>`;
  const items = [
    ...versions.map((l) => `<li><i style="background:${color.get(l)}"></i>${esc(l)}</li>`),
    `<li><i style="background:${OTHER_COLOR}"></i>other versions</li>`,
    `<li><i style="background:repeating-linear-gradient(45deg,#9aa3ad 0 2px,#eef1f5 2px 5px)"></i>suppressed or not reported</li>`,
  ];
  return { svg, legend: `<ul class="legend">${items.join('')}</ul>` };
}
