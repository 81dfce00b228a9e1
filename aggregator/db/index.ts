/**
 * Opening the aggregator's SQLite database: WAL, durable commits, migrations.
 *
 * synchronous=FULL: a report is acknowledged (202) only after its commit, and the
 * acknowledgement must survive a power cut, not just a process crash. In WAL mode
 * NORMAL may lose the last commits on power loss; FULL fsyncs the WAL on every commit.
 * Group commit makes that one fsync per batch of concurrent reports, so it stays cheap.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BeaconError } from '../../src/protocol/errors.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

export type Db = Database.Database;

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies migrations up to `target` (default: all), each in its own transaction. */
export function migrate(db: Db, target: number = MIGRATIONS.length, migrations: readonly Migration[] = MIGRATIONS): number {
  const current = schemaVersion(db);
  if (current > migrations.length) {
    throw new BeaconError('db_too_new', `database schema ${current} is newer than this aggregator (${migrations.length})`);
  }
  for (const m of migrations) {
    if (m.version <= current || m.version > target) continue;
    db.transaction(() => {
      if (typeof m.up === 'string') db.exec(m.up);
      else m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return schemaVersion(db);
}

export interface OpenOptions {
  /** Migrate up to this version (tests of migrations); default all. */
  migrateTo?: number;
}

export function openDb(path: string, opts: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // Deleted rows are overwritten with zeros, not left in free space: retention must remove
  // an installation's key and values from the file, not only from query results.
  db.pragma('secure_delete = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  try {
    migrate(db, opts.migrateTo);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}
