import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openDb, schemaVersion } from '../aggregator/db/index.js';
import { MIGRATIONS } from '../aggregator/db/migrations/index.js';

const dir = mkdtempSync(join(tmpdir(), 'beacon-migrations-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tables = (db: Database.Database) =>
  (db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string; sql: string }[]);

describe('aggregator migrations', () => {
  it('are numbered 1..N in order', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it('001_initial: from an empty database to installations, reports, targets (STRICT, WAL)', () => {
    const path = join(dir, '001.db');
    const db = openDb(path, { migrateTo: 0 });
    expect(schemaVersion(db)).toBe(0);
    expect(tables(db)).toEqual([]);
    expect(migrate(db, 1)).toBe(1);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    const t = tables(db);
    expect(t.map((x) => x.name)).toEqual(['installations', 'reports', 'targets']);
    for (const x of t) expect(x.sql).toMatch(/\)\s*STRICT$/);
    // STRICT: a wrong type is an error, not silently stored.
    expect(() => db.prepare("INSERT INTO installations VALUES ('k', '2026-12-03', 'many')").run()).toThrow(/cannot store TEXT/);
    db.prepare(
      "INSERT INTO reports (key, product, period, seq, manifest, received_day, values_json) VALUES ('k','operately','2026-12-03',1,1,'2026-12-03','{}')",
    ).run();
    expect(() => db.prepare(
      "INSERT INTO targets (url, kind, origin, state, added_day, next_due) VALUES ('http://x', 'ftp', 'api', 'new', '2026-12-03', 0)",
    ).run()).toThrow(/CHECK/);
    db.close();
    // Reopening runs no migration twice.
    const again = openDb(path);
    expect(schemaVersion(again)).toBe(MIGRATIONS.length);
    expect((again.prepare('SELECT COUNT(*) AS n FROM reports').get() as { n: number }).n).toBe(1);
    again.close();
  });

  it('refuses a database newer than the code', () => {
    const path = join(dir, 'future.db');
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openDb(path)).toThrow(/newer/);
  });
});
