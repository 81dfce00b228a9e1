/**
 * From reports to the public totals document. Pure.
 *
 * Two steps, so that the store can materialize the first one:
 *   countReports:  the latest report of each installation in a window -> RawCounts
 *                  (exact counts; never published as such);
 *   publishTotals: RawCounts + manifest -> the Totals document, with noise (optional)
 *                  and suppression (suppress.ts) applied.
 */
import type { Manifest, FieldSpec } from '../../src/protocol/manifest.js';
import { ladderLabels, ladderOf } from '../../src/protocol/manifest.js';
import type { ReportValues } from '../../src/protocol/report.js';
import { addDays } from '../../src/protocol/time.js';
import type { Cell, FieldTotals, Totals } from './schema.js';
import { noisy, suppressPartition, type NoiseOptions } from './suppress.js';
import type { Window } from './windows.js';

/** Exact counts for one product and window. */
export interface RawCounts {
  installations: number;
  established: number;
  /** field -> label -> installations (for a feature set: token -> installations that have it). */
  fields: Record<string, Record<string, number>>;
}

/** One installation's latest report in the window, and the day its key was first seen. */
export interface InstallationReport {
  values: ReportValues;
  firstSeen: string;
}

/** An installation is established in a window if its first day ended at least 7 days before the window does. */
export function isEstablished(firstSeen: string, w: Window): boolean {
  return firstSeen <= addDays(w.to, -7);
}

export function emptyCounts(): RawCounts {
  return { installations: 0, established: 0, fields: {} };
}

/** Adds (sign 1) or removes (sign -1) one installation's report to exact counts. */
export function applyReport(raw: RawCounts, values: ReportValues, established: boolean, sign: 1 | -1 = 1): void {
  raw.installations += sign;
  if (established) raw.established += sign;
  for (const [field, v] of Object.entries(values)) {
    const cells = (raw.fields[field] ??= {});
    for (const label of typeof v === 'string' ? [v] : v) cells[label] = (cells[label] ?? 0) + sign;
  }
}

export function countReports(reports: Iterable<InstallationReport>, w: Window): RawCounts {
  const raw = emptyCounts();
  for (const r of reports) applyReport(raw, r.values, isEstablished(r.firstSeen, w));
  return raw;
}

export interface PublishOptions {
  k: number;
  noise?: NoiseOptions | undefined;
  /** Whether the window has ended (see windows.isComplete). */
  complete: boolean;
  /** Whether no report for the window can be accepted any more (see windows.isFinal); default false. */
  final?: boolean | undefined;
}

/** Newest version first: 10.2 before 9.12 before 9.2. */
export function compareVersionsDesc(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pb[i] ?? 0) - (pa[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export const OTHER = 'other';

function publishField(
  name: string, spec: FieldSpec, counts: Record<string, number>, n: number, opts: PublishOptions, cellId: (label: string) => string,
): FieldTotals {
  const k = opts.k;
  if (spec.kind === 'features') {
    // Each feature is its own partition [have it, do not]: both sides must be 0 or >= k.
    const cells: Cell[] = spec.vocabulary.map((token) => {
      const c = noisy(counts[token] ?? 0, cellId(token), opts.noise);
      const hidden = suppressPartition([c, Math.max(0, n - c)], k)[0]!;
      return { label: token, count: hidden ? null : c, suppressed: hidden };
    });
    return { name, kind: spec.kind, cells, absent: null };
  }

  let labels: string[];
  const byLabel = new Map<string, number>();
  let unlisted = 0;
  if (spec.kind === 'version') {
    // An open list: only versions with at least k installations get their own cell, the
    // rest fold into `other`, so not even the existence of a rare version is published.
    const big: string[] = [];
    let other = 0;
    for (const [label, exact] of Object.entries(counts)) {
      if (exact <= 0) continue;
      const c = noisy(exact, cellId(label), opts.noise);
      if (c >= k) {
        big.push(label);
        byLabel.set(label, c);
      } else other += c;
    }
    labels = [...big.sort(compareVersionsDesc), OTHER];
    byLabel.set(OTHER, other);
  } else {
    labels = spec.kind === 'range' ? ladderLabels(ladderOf(spec)) : spec.values;
    const listed = new Set(labels);
    for (const [label, exact] of Object.entries(counts)) {
      if (listed.has(label)) byLabel.set(label, exact);
      // Labels of an older manifest version: `other` where the list has one, else not comparable (absent).
      else if (listed.has(OTHER)) byLabel.set(OTHER, (byLabel.get(OTHER) ?? 0) + exact);
      else unlisted += exact;
    }
    for (const label of labels) byLabel.set(label, noisy(byLabel.get(label) ?? 0, cellId(label), opts.noise));
  }
  const values = labels.map((l) => byLabel.get(l) ?? 0);
  const exactReported = Object.values(counts).reduce((s, c) => s + Math.max(0, c), 0);
  const absentCount = opts.noise
    ? noisy(Math.max(0, n - exactReported) + unlisted, cellId('(absent)'), opts.noise)
    : Math.max(0, n - values.reduce((s, c) => s + c, 0));
  const hidden = suppressPartition([...values, absentCount], k);
  return {
    name,
    kind: spec.kind,
    cells: labels.map((label, i) => ({ label, count: hidden[i] ? null : values[i]!, suppressed: hidden[i]! })),
    absent: { count: hidden[labels.length] ? null : absentCount, suppressed: hidden[labels.length]! },
  };
}

/** The published totals document for one product and window. */
export function publishTotals(raw: RawCounts, manifest: Manifest, w: Window, opts: PublishOptions): Totals {
  const id = (cell: string) => `${manifest.product}|${w.kind}|${w.period}|${cell}`;
  const n = noisy(raw.installations, id('installations'), opts.noise);
  const head = {
    product: manifest.product,
    manifest: manifest.version,
    window: w.kind,
    period: w.period,
    from: w.from,
    to: w.to,
    complete: opts.complete,
    final: opts.final ?? false,
    k: opts.k,
    noise: opts.noise ? { mechanism: 'laplace' as const, epsilon: opts.noise.epsilon } : null,
  };
  if (n < opts.k) return { ...head, belowThreshold: true, installations: null, established: null, fields: [] };

  const e = Math.min(n, noisy(raw.established, id('established'), opts.noise));
  const eHidden = suppressPartition([e, n - e], opts.k)[0]!;
  const fields = Object.entries(manifest.fields).map(([name, spec]) =>
    publishField(name, spec, raw.fields[name] ?? {}, n, opts, (label) => id(`${name}|${label}`)));
  return { ...head, belowThreshold: false, installations: n, established: eHidden ? null : e, fields };
}
