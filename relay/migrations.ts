/**
 * The relay's schema, as numbered migrations applied in order (PRAGMA user_version).
 * What the relay may keep is deliberately narrow: the signed envelope and facts read
 * from it (key, product, period, seq), a digest for idempotence, and delivery state.
 * No address, no User-Agent, no receive time at all.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'reports and per-aggregator deliveries',
    sql: `
      CREATE TABLE reports (
        -- AUTOINCREMENT: ids are never reused after deletes.
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        -- sha256(payload || signature): the report's identity, for idempotent resends.
        digest BLOB NOT NULL UNIQUE,
        -- The envelope as compact JSON; handed on unchanged.
        envelope BLOB NOT NULL,
        key TEXT NOT NULL,
        product TEXT NOT NULL,
        period TEXT NOT NULL,
        seq INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX reports_key_seq ON reports(key, seq);
      CREATE INDEX reports_period ON reports(period);
      CREATE TABLE deliveries (
        report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        -- A hash of the aggregator's URL (see aggregatorId), not the URL.
        aggregator TEXT NOT NULL,
        -- acknowledged | rejected:<code>
        outcome TEXT NOT NULL,
        PRIMARY KEY (report_id, aggregator)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'feed publication in shuffled batches',
    sql: `
      -- Set when a scheduled run publishes the report to the pull feed; the feed cursor.
      ALTER TABLE reports ADD COLUMN feed_id INTEGER;
      CREATE UNIQUE INDEX reports_feed ON reports(feed_id) WHERE feed_id IS NOT NULL;
      CREATE INDEX reports_unpublished ON reports(id) WHERE feed_id IS NULL;
      CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
      -- Never reused, so a consumer's cursor stays valid after deletes.
      INSERT INTO meta (name, value) VALUES ('next_feed_id', 1);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Applies every migration newer than the file's user_version, each in its own transaction. */
export function migrate(db: Database.Database, upTo: number = SCHEMA_VERSION): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) throw new Error(`relay database schema ${current} is newer than this relay (${SCHEMA_VERSION})`);
  for (const m of MIGRATIONS) {
    if (m.version <= current || m.version > upTo) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return db.pragma('user_version', { simple: true }) as number;
}
