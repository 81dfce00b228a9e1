/**
 * Materialized totals (tables of migration 002). `drain` folds queued reports into
 * per-window exact counts incrementally: an installation's newer report in a window
 * replaces its older one (-1 on the old labels, +1 on the new), so a totals request
 * reads only the counts of one window, never the reports.
 */
import type { Db } from '../db/index.js';
import { applyReport, emptyCounts, isEstablished, type RawCounts } from './compute.js';
import { WINDOW_KINDS, windowOf, type Window, type WindowKind } from './windows.js';

const HEAD = '';

interface QueueRow {
  id: number;
  key: string;
  product: string;
  day: string;
  seq: number | null;
  values_json: string | null;
  first_seen_day: string | null;
}

interface LatestRow {
  day: string;
  seq: number;
  established: number;
  values_json: string;
}

export class TotalsStore {
  private readonly s;

  constructor(readonly db: Db) {
    this.s = {
      queue: db.prepare<[number], QueueRow>(
        `SELECT q.id, q.key, q.product, q.period AS day, r.seq, r.values_json, i.first_seen_day
           FROM totals_queue q
           LEFT JOIN reports r ON r.key = q.key AND r.product = q.product AND r.period = q.period
           LEFT JOIN installations i ON i.key = q.key
          ORDER BY q.id LIMIT ?`),
      dequeue: db.prepare<[number]>('DELETE FROM totals_queue WHERE id <= ?'),
      queued: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM totals_queue'),
      latest: db.prepare<[string, string, string, string], LatestRow>(
        'SELECT day, seq, established, values_json FROM totals_latest WHERE product = ? AND kind = ? AND period = ? AND key = ?'),
      putLatest: db.prepare(
        `INSERT INTO totals_latest (product, kind, period, key, day, seq, established, values_json, window_to)
         VALUES (@product, @kind, @period, @key, @day, @seq, @established, @values, @to)
         ON CONFLICT (product, kind, period, key) DO UPDATE SET day = excluded.day, seq = excluded.seq,
           established = excluded.established, values_json = excluded.values_json`),
      add: db.prepare(
        `INSERT INTO totals_counts (product, kind, period, field, label, n) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (product, kind, period, field, label) DO UPDATE SET n = n + excluded.n`),
      counts: db.prepare<[string, string, string], { field: string; label: string; n: number }>(
        'SELECT field, label, n FROM totals_counts WHERE product = ? AND kind = ? AND period = ?'),
      prune: db.prepare<[string]>('DELETE FROM totals_latest WHERE window_to < ?'),
    };
  }

  /**
   * Folds up to `max` queued reports into the counts, in one transaction (a savepoint
   * when called inside the ingest's commit). Returns how many queue entries were consumed.
   */
  drain(max = 50_000): number {
    return this.db.transaction(() => {
      const rows = this.s.queue.all(max);
      if (!rows.length) return 0;
      // Deltas are summed in memory first: a batch of 1,000 reports touches a few hundred cells.
      const delta = new Map<string, { cell: [string, WindowKind, string, string, string]; n: number }>();
      const bump = (product: string, w: Window, field: string, label: string, n: number) => {
        const id = `${product}\0${w.kind}\0${w.period}\0${field}\0${label}`;
        const d = delta.get(id);
        if (d) d.n += n;
        else delta.set(id, { cell: [product, w.kind, w.period, field, label], n });
      };
      const apply = (product: string, w: Window, values: Record<string, string | string[]>, established: boolean, sign: 1 | -1) => {
        const raw = emptyCounts();
        applyReport(raw, values, established, sign);
        bump(product, w, HEAD, 'installations', raw.installations);
        if (raw.established) bump(product, w, HEAD, 'established', raw.established);
        for (const [field, cells] of Object.entries(raw.fields)) for (const [label, n] of Object.entries(cells)) bump(product, w, field, label, n);
      };
      for (const r of rows) {
        if (r.seq === null || r.values_json === null) continue; // deleted since it was queued
        let values: Record<string, string | string[]>;
        try {
          values = JSON.parse(r.values_json) as Record<string, string | string[]>;
        } catch {
          continue; // written by the verifier as canonical JSON; unreachable, but never fatal
        }
        for (const kind of WINDOW_KINDS) {
          const w = windowOf(kind, r.day);
          const old = this.s.latest.get(r.product, kind, w.period, r.key);
          // Each installation counts once per window, with its latest report there.
          if (old && (old.day > r.day || (old.day === r.day && old.seq >= r.seq))) continue;
          const established = isEstablished(r.first_seen_day ?? r.day, w);
          if (old) apply(r.product, w, JSON.parse(old.values_json) as Record<string, string | string[]>, old.established === 1, -1);
          apply(r.product, w, values, established, 1);
          this.s.putLatest.run({
            product: r.product, kind, period: w.period, key: r.key, day: r.day, seq: r.seq,
            established: established ? 1 : 0, values: r.values_json, to: w.to,
          });
        }
      }
      for (const { cell, n } of delta.values()) if (n !== 0) this.s.add.run(...cell, n);
      this.s.dequeue.run(rows[rows.length - 1]!.id);
      return rows.length;
    })();
  }

  /** Drains until the queue is empty (bounded by `maxRounds` batches). */
  drainAll(maxRounds = 1000): number {
    let total = 0;
    for (let i = 0; i < maxRounds; i++) {
      const n = this.drain();
      total += n;
      if (n === 0) break;
    }
    return total;
  }

  queued(): number {
    return this.s.queued.get()!.n;
  }

  /** Exact counts of one product and window, from the materialized rows. */
  counts(product: string, w: Window): RawCounts {
    const raw = emptyCounts();
    for (const r of this.s.counts.all(product, w.kind, w.period)) {
      if (r.field === HEAD) {
        if (r.label === 'installations') raw.installations = r.n;
        else if (r.label === 'established') raw.established = r.n;
      } else (raw.fields[r.field] ??= {})[r.label] = r.n;
    }
    return raw;
  }

  /**
   * Forgets which installation counted as what in windows that ended before `day`: no
   * report can arrive for them any more, their counts are final, and per-installation
   * rows should not outlive their use.
   */
  pruneFinal(day: string): number {
    return this.s.prune.run(day).changes;
  }
}
