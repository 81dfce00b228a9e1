/**
 * Materialized totals (tables of migration 002). `drain` folds queued reports into
 * per-window exact counts incrementally: an installation's newer report in a window
 * replaces its older one (-1 on the old labels, +1 on the new), so a totals request
 * reads only the counts of one window, never the reports.
 */
import type { Db } from '../db/index.js';
import { emptyCounts, isEstablished, type RawCounts } from './compute.js';
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
  values_id: number;
}

type Values = Record<string, string | string[]>;

/** A report's counted cells: [field, label] pairs ('' field for the installation itself). */
function cellsOf(values: Values): [string, string][] {
  const out: [string, string][] = [[HEAD, 'installations']];
  for (const [field, v] of Object.entries(values)) for (const label of typeof v === 'string' ? [v] : v) out.push([field, label]);
  return out;
}

export class TotalsStore {
  private readonly s;
  /** Windows by kind and day: computing one is string and date work, and days repeat. */
  private readonly windows = new Map<string, Window>();

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
        'SELECT day, seq, established, values_id FROM totals_latest WHERE product = ? AND kind = ? AND period = ? AND key = ?'),
      putLatest: db.prepare(
        `INSERT INTO totals_latest (product, kind, period, key, day, seq, established, values_id)
         VALUES (@product, @kind, @period, @key, @day, @seq, @established, @valuesId)
         ON CONFLICT (product, kind, period, key) DO UPDATE SET day = excluded.day, seq = excluded.seq,
           established = excluded.established, values_id = excluded.values_id`),
      valuesId: db.prepare<[string], { id: number }>('SELECT id FROM totals_values WHERE values_json = ?'),
      putValues: db.prepare<[string]>('INSERT INTO totals_values (values_json) VALUES (?)'),
      valuesById: db.prepare<[number], { values_json: string }>('SELECT values_json FROM totals_values WHERE id = ?'),
      add: db.prepare(
        `INSERT INTO totals_counts (product, kind, period, field, label, n) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (product, kind, period, field, label) DO UPDATE SET n = n + excluded.n`),
      counts: db.prepare<[string, string, string], { field: string; label: string; n: number }>(
        'SELECT field, label, n FROM totals_counts WHERE product = ? AND kind = ? AND period = ?'),
      prune: db.prepare<[string, string]>('DELETE FROM totals_latest WHERE kind = ? AND period < ?'),
      pruneValues: db.prepare('DELETE FROM totals_values WHERE id NOT IN (SELECT values_id FROM totals_latest)'),
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
      const apply = (product: string, w: Window, cells: [string, string][], established: boolean, sign: 1 | -1) => {
        if (established) cells = [...cells, [HEAD, 'established']];
        for (const [field, label] of cells) {
          const id = `${product}\0${w.kind}\0${w.period}\0${field}\0${label}`;
          const d = delta.get(id);
          if (d) d.n += sign;
          else delta.set(id, { cell: [product, w.kind, w.period, field, label], n: sign });
        }
      };
      const oldCells = new Map<number, [string, string][]>();
      const cellsById = (id: number) => {
        let c = oldCells.get(id);
        if (!c) oldCells.set(id, (c = cellsOf(JSON.parse(this.s.valuesById.get(id)?.values_json ?? '{}') as Values)));
        return c;
      };
      for (const r of rows) {
        if (r.seq === null || r.values_json === null) continue; // deleted since it was queued
        let cells: [string, string][];
        try {
          cells = cellsOf(JSON.parse(r.values_json) as Values);
        } catch {
          continue; // written by the verifier as canonical JSON; unreachable, but never fatal
        }
        let valuesId: number | undefined;
        for (const kind of WINDOW_KINDS) {
          const w = this.windowOf(kind, r.day);
          const old = this.s.latest.get(r.product, kind, w.period, r.key);
          // Each installation counts once per window, with its latest report there.
          if (old && (old.day > r.day || (old.day === r.day && old.seq >= r.seq))) continue;
          const established = isEstablished(r.first_seen_day ?? r.day, w);
          if (old) apply(r.product, w, cellsById(old.values_id), old.established === 1, -1);
          apply(r.product, w, cells, established, 1);
          valuesId ??= this.s.valuesId.get(r.values_json)?.id ?? Number(this.s.putValues.run(r.values_json).lastInsertRowid);
          this.s.putLatest.run({
            product: r.product, kind, period: w.period, key: r.key, day: r.day, seq: r.seq, established: established ? 1 : 0, valuesId,
          });
        }
      }
      for (const { cell, n } of delta.values()) if (n !== 0) this.s.add.run(...cell, n);
      this.s.dequeue.run(rows[rows.length - 1]!.id);
      return rows.length;
    })();
  }

  private windowOf(kind: WindowKind, day: string): Window {
    const id = `${kind}${day}`;
    let w = this.windows.get(id);
    if (!w) {
      if (this.windows.size > 10_000) this.windows.clear();
      this.windows.set(id, (w = windowOf(kind, day)));
    }
    return w;
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
    return this.db.transaction(() => {
      let n = 0;
      // Periods of one kind sort like dates; the window containing `day` and later ones stay.
      for (const kind of WINDOW_KINDS) n += this.s.prune.run(kind, this.windowOf(kind, day).period).changes;
      this.s.pruneValues.run();
      return n;
    })();
  }
}
