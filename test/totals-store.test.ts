import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openDb, schemaVersion } from '../aggregator/db/index.js';
import { Store, type Candidate } from '../aggregator/store.js';
import { countReports, type InstallationReport } from '../aggregator/totals/compute.js';
import { TotalsStore } from '../aggregator/totals/store.js';
import { WINDOW_KINDS, windowOf } from '../aggregator/totals/windows.js';
import { canonicalize } from '../src/protocol/canonical.js';
import { addDays } from '../src/protocol/time.js';

const dir = mkdtempSync(join(tmpdir(), 'beacon-totals-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DAY0 = '2026-11-26';
const KEYS = Array.from({ length: 12 }, (_, i) => String.fromCharCode(65 + i).repeat(43));

function candidate(key: string, day: string, seq: number, values: Record<string, string | string[]>): Candidate {
  const valuesJson = canonicalize(values);
  return {
    key, product: 'operately', period: day, seq, manifest: 1, valuesJson,
    digest: createHash('sha256').update(`${key}${day}${seq}${valuesJson}`).digest(), envelope: '{}',
  };
}

const tables = (db: ReturnType<typeof openDb>) =>
  db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'totals_%' ORDER BY name").all() as { name: string; sql: string }[];

describe('migration 002_totals', () => {
  it('adds STRICT totals tables and queues the reports already stored, which the first drain counts', () => {
    const path = join(dir, '002.db');
    const db = openDb(path, { migrateTo: 1 });
    const store = new Store(db, path);
    store.commit([candidate(KEYS[0]!, DAY0, 1, { os: 'linux' }), candidate(KEYS[1]!, DAY0, 1, { os: 'darwin' })], DAY0);
    expect(migrate(db, 2)).toBe(2);
    expect(tables(db).map((t) => t.name)).toEqual(['totals_counts', 'totals_latest', 'totals_queue', 'totals_values']);
    for (const t of tables(db)) expect(t.sql).toMatch(/\)\s*STRICT(, WITHOUT ROWID)?$/);
    expect(() => db.prepare("INSERT INTO totals_counts VALUES ('operately', 'year', '2026', '', 'installations', 1)").run()).toThrow(/CHECK/);
    const totals = new TotalsStore(db);
    expect(totals.queued()).toBe(2);
    expect(totals.drainAll()).toBe(2);
    const w = windowOf('week', DAY0);
    expect(totals.counts('operately', w)).toEqual({ installations: 2, established: 0, fields: { os: { linux: 1, darwin: 1 } } });
    // The triggers queue later writes too.
    store.commit([candidate(KEYS[0]!, DAY0, 2, { os: 'windows' })], DAY0);
    expect(totals.queued()).toBe(1);
    totals.drainAll();
    expect(totals.counts('operately', w).fields.os).toEqual({ linux: 0, darwin: 1, windows: 1 });
    db.close();
    const again = openDb(path);
    expect(schemaVersion(again)).toBe(2);
    again.close();
  });
});

describe('materialized totals', () => {
  const opArb = fc.record({
    key: fc.integer({ min: 0, max: KEYS.length - 1 }),
    dayOffset: fc.integer({ min: 0, max: 20 }),
    os: fc.constantFrom('linux', 'darwin', 'windows'),
    users: fc.constantFrom('1-10', '11-50'),
    features: fc.subarray(['sso', 'notifications']),
    firstSeenOffset: fc.integer({ min: 0, max: 20 }),
  });

  it('equal a recomputation from each installation\'s latest report per window, whatever the arrival order', () => {
    fc.assert(fc.property(fc.array(fc.array(opArb, { maxLength: 8 }), { maxLength: 10 }), (batches) => {
      const db = openDb(':memory:');
      const store = new Store(db, ':memory:');
      const totals = new TotalsStore(db);
      store.commitHooks.push(() => totals.drain());
      // The history as the store keeps it: one report per (key, day), a newer seq replacing an older.
      const seqs = new Map<string, number>();
      const kept = new Map<string, { key: string; day: string; seq: number; values: Record<string, string | string[]> }>();
      const firstSeen = new Map<string, string>();
      for (const batch of batches) {
        const cands: Candidate[] = [];
        for (const op of batch) {
          const key = KEYS[op.key]!;
          const day = addDays(DAY0, op.dayOffset);
          const seq = (seqs.get(key) ?? 0) + 1;
          seqs.set(key, seq);
          const values = { os: op.os, users: op.users, features: [...op.features].sort() };
          cands.push(candidate(key, day, seq, values));
          kept.set(`${key}|${day}`, { key, day, seq, values });
        }
        // Acceptance day (first seen) is the store's "today" for the batch.
        const today = addDays(DAY0, batch[0]?.firstSeenOffset ?? 0);
        for (const c of cands) if (!firstSeen.has(c.key)) firstSeen.set(c.key, today);
        store.commit(cands, today);
      }
      expect(totals.queued()).toBe(0);
      for (const kind of WINDOW_KINDS) {
        const windows = new Map([...kept.values()].map((r) => { const w = windowOf(kind, r.day); return [w.period, w]; }));
        for (const w of windows.values()) {
          const latest = new Map<string, { day: string; seq: number; values: Record<string, string | string[]> }>();
          for (const r of kept.values()) {
            if (r.day < w.from || r.day > w.to) continue;
            const cur = latest.get(r.key);
            if (!cur || r.day > cur.day || (r.day === cur.day && r.seq > cur.seq)) latest.set(r.key, r);
          }
          const expected = countReports([...latest.entries()].map(([key, r]): InstallationReport => ({ values: r.values, firstSeen: firstSeen.get(key)! })), w);
          const got = totals.counts('operately', w);
          const nonZero = (raw: typeof got) => ({
            ...raw,
            fields: Object.fromEntries(Object.entries(raw.fields)
              .map(([f, cells]) => [f, Object.fromEntries(Object.entries(cells).filter(([, n]) => n !== 0))] as const)
              .filter(([, cells]) => Object.keys(cells).length > 0)),
          });
          expect(nonZero(got), `${w.kind} ${w.period}`).toEqual(nonZero(expected));
        }
      }
      db.close();
    }), { numRuns: 60 });
  });

  it('prunes per-installation rows of final windows and keeps their counts', () => {
    const db = openDb(':memory:');
    const store = new Store(db, ':memory:');
    const totals = new TotalsStore(db);
    store.commitHooks.push(() => totals.drain());
    store.commit(KEYS.map((k) => candidate(k, DAY0, 1, { os: 'linux' })), DAY0);
    const w = windowOf('day', DAY0);
    const before = totals.counts('operately', w);
    expect(totals.pruneFinal(addDays(DAY0, 1))).toBe(KEYS.length); // only the day window has ended
    expect(totals.counts('operately', w)).toEqual(before);
    expect((db.prepare("SELECT COUNT(*) AS n FROM totals_latest WHERE kind = 'day'").get() as { n: number }).n).toBe(0);
    // The shared value set is still used by the week and month rows; once they go, it goes too.
    expect((db.prepare('SELECT COUNT(*) AS n FROM totals_values').get() as { n: number }).n).toBe(1);
    totals.pruneFinal('2027-02-01');
    expect((db.prepare('SELECT COUNT(*) AS n FROM totals_values').get() as { n: number }).n).toBe(0);
    expect(totals.counts('operately', windowOf('month', DAY0)).installations).toBe(KEYS.length);
    db.close();
  });
});
