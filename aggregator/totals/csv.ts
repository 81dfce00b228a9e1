/**
 * CSV forms of the totals and series documents (RFC 4180, CRLF line ends). One row per
 * published number; a suppressed cell has an empty count and suppressed=true, so a
 * spreadsheet cannot mistake it for zero.
 */
import type { Series, Totals } from './schema.js';

function field(v: string | number | boolean | null): string {
  const s = v === null ? '' : String(v);
  // Quote anything a spreadsheet could misread; a leading = + - @ is neutralized (CSV injection).
  const safe = /^[=+\-@]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
  return /[",\r\n']/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function rows(header: string[], data: (string | number | boolean | null)[][]): string {
  return [header, ...data].map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}

export const TOTALS_CSV_HEADER = ['product', 'window', 'period', 'section', 'field', 'label', 'count', 'suppressed'];

export function totalsCsv(t: Totals): string {
  const base = [t.product, t.window, t.period];
  const data: (string | number | boolean | null)[][] = [
    [...base, 'installations', '', '', t.installations, t.belowThreshold],
  ];
  if (!t.belowThreshold) {
    data.push([...base, 'established', '', '', t.established, t.established === null]);
    for (const f of t.fields) {
      const section = f.kind === 'features' ? 'feature' : 'field';
      for (const c of f.cells) data.push([...base, section, f.name, c.label, c.count, c.suppressed]);
      if (f.absent) data.push([...base, 'absent', f.name, '', f.absent.count, f.absent.suppressed]);
    }
  }
  return rows(TOTALS_CSV_HEADER, data);
}

export const SERIES_CSV_HEADER = ['product', 'window', 'period', 'field', 'label', 'count', 'suppressed'];

export function seriesCsv(s: Series): string {
  const data: (string | number | boolean | null)[][] = [];
  for (const p of s.points) {
    const base = [s.product, s.window, p.period, s.field];
    data.push([s.product, s.window, p.period, '', '(installations)', p.installations, p.belowThreshold]);
    for (const c of p.cells) data.push([...base, c.label, c.count, c.suppressed]);
    if (p.absent) data.push([...base, '(absent)', p.absent.count, p.absent.suppressed]);
  }
  return rows(SERIES_CSV_HEADER, data);
}
