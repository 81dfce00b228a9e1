/** Each numbered relay migration, applied to a real SQLite file. */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, SCHEMA_VERSION, migrate } from '../relay/migrations.js';
import { RelayStore } from '../relay/store.js';
import { removeTempDirs, tempDir } from './relay-support.js';

afterAll(removeTempDirs);

const strictTables = (db: Database.Database) =>
  (db.prepare("SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%'").all() as { name: string; strict: number }[])
    .reduce<Record<string, number>>((o, t) => ({ ...o, [t.name]: t.strict }), {});

const columns = (db: Database.Database, table: string) =>
  (db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as { name: string }[]).map((c) => c.name);

describe('relay migrations', () => {
  it('are numbered 1..n without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('1 creates STRICT reports and deliveries tables with no column for an address or a time', () => {
    const db = new Database(join(tempDir(), 'm1.db'));
    expect(migrate(db, 1)).toBe(1);
    expect(strictTables(db)).toEqual({ reports: 1, deliveries: 1 });
    expect(columns(db, 'reports')).toEqual(['id', 'digest', 'envelope', 'key', 'product', 'period', 'seq']);
    expect(columns(db, 'deliveries')).toEqual(['report_id', 'aggregator', 'outcome']);
    // STRICT: a wrong type is an error, not a silent conversion.
    expect(() => db.prepare("INSERT INTO reports (digest, envelope, key, product, period, seq) VALUES (x'00', x'00', 'k', 'p', '2026-01-01', 'one')").run()).toThrow();
    db.close();
  });

  it('2 adds feed publication and keeps existing reports, unpublished', () => {
    const db = new Database(join(tempDir(), 'm2.db'));
    migrate(db, 1);
    db.prepare("INSERT INTO reports (digest, envelope, key, product, period, seq) VALUES (x'01', CAST('{}' AS BLOB), 'k', 'operately', '2026-01-01', 3)").run();
    expect(migrate(db)).toBe(2);
    expect(columns(db, 'reports')).toContain('feed_id');
    expect(strictTables(db)).toEqual({ reports: 1, deliveries: 1, meta: 1 });
    expect(db.prepare('SELECT seq, feed_id FROM reports').get()).toEqual({ seq: 3, feed_id: null });
    expect(db.prepare("SELECT value FROM meta WHERE name = 'next_feed_id'").pluck().get()).toBe(1);
    expect(migrate(db)).toBe(2); // idempotent
    db.close();
  });

  it('the store opens in WAL mode with synchronous=FULL and refuses a newer schema', () => {
    const path = join(tempDir(), 'store.db');
    const store = new RelayStore(path);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
    store.db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    store.close();
    expect(() => new RelayStore(path)).toThrow(/newer/);
  });
});
