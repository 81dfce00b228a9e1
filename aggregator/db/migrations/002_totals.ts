/**
 * 002: materialized public totals, so that a totals request reads a few dozen rows
 * whatever the number of installations, instead of scanning reports.
 *
 *   totals_queue   reports to fold in; filled by triggers on `reports`, so every write path
 *                  (push, batch, crawl, relay feed) is covered without the ingest knowing.
 *   totals_latest  each installation's latest report per (product, window kind, period):
 *                  what it currently counts as, so a newer report can replace it exactly.
 *                  Rows go once their window is final (no report can arrive for it any more).
 *   totals_values  the distinct value sets totals_latest points to.
 *   totals_counts  exact counts per (product, window kind, period, field, label); the
 *                  headline counts use field '' and labels 'installations', 'established'.
 *                  These are never published as such: suppression is applied when read.
 */
import type { Migration } from './types.js';

export const migration002: Migration = {
  version: 2,
  name: 'totals',
  up: `
    CREATE TABLE totals_queue (
      id      INTEGER PRIMARY KEY,
      key     TEXT NOT NULL,
      product TEXT NOT NULL,
      period  TEXT NOT NULL                    -- the report's UTC day
    ) STRICT;

    CREATE TRIGGER totals_enqueue_insert AFTER INSERT ON reports BEGIN
      INSERT INTO totals_queue (key, product, period) VALUES (NEW.key, NEW.product, NEW.period);
    END;
    CREATE TRIGGER totals_enqueue_update AFTER UPDATE OF seq, values_json ON reports BEGIN
      INSERT INTO totals_queue (key, product, period) VALUES (NEW.key, NEW.product, NEW.period);
    END;

    CREATE TABLE totals_latest (
      product     TEXT    NOT NULL,
      kind        TEXT    NOT NULL CHECK (kind IN ('day', 'week', 'month')),
      period      TEXT    NOT NULL,            -- 2026-12-03, 2026-W49, 2026-12
      key         TEXT    NOT NULL,
      day         TEXT    NOT NULL,            -- the counted report's UTC day
      seq         INTEGER NOT NULL,
      established INTEGER NOT NULL CHECK (established IN (0, 1)),
      values_id   INTEGER NOT NULL,            -- totals_values.id
      PRIMARY KEY (product, kind, period, key)
    ) STRICT, WITHOUT ROWID;

    -- Distinct value sets, shared by the installations that report the same labels:
    -- keeps totals_latest rows small (a million installations have far fewer combinations).
    CREATE TABLE totals_values (
      id          INTEGER PRIMARY KEY,
      values_json TEXT    NOT NULL UNIQUE
    ) STRICT;

    CREATE TABLE totals_counts (
      product TEXT    NOT NULL,
      kind    TEXT    NOT NULL CHECK (kind IN ('day', 'week', 'month')),
      period  TEXT    NOT NULL,
      field   TEXT    NOT NULL,
      label   TEXT    NOT NULL,
      n       INTEGER NOT NULL,
      PRIMARY KEY (product, kind, period, field, label)
    ) STRICT, WITHOUT ROWID;

    -- Reports stored before this migration are folded in by the first drain.
    INSERT INTO totals_queue (key, product, period) SELECT key, product, period FROM reports ORDER BY period, key;
  `,
};
