/**
 * 001: installations, stored reports, crawl targets.
 * Reports keep their decoded `values` JSON beside the raw envelope, so that the
 * retention job can drop the envelope and the totals can still be computed.
 */
import type { Migration } from './types.js';

export const migration001: Migration = {
  version: 1,
  name: 'initial',
  up: `
    CREATE TABLE installations (
      key            TEXT    PRIMARY KEY,      -- base64url Ed25519 public key
      first_seen_day TEXT    NOT NULL,         -- UTC day we first accepted a report from it
      last_seq       INTEGER NOT NULL          -- highest accepted seq (replay protection)
    ) STRICT;

    CREATE TABLE reports (
      key          TEXT    NOT NULL,
      product      TEXT    NOT NULL,
      period       TEXT    NOT NULL,           -- UTC day the report is about
      seq          INTEGER NOT NULL,
      manifest     INTEGER NOT NULL,
      received_day TEXT    NOT NULL,           -- UTC day of (last) acceptance, never finer
      values_json  TEXT    NOT NULL,           -- canonical JSON of report.values
      digest       BLOB,                       -- sha256 of the signed payload; NULL after retention
      envelope     TEXT,                       -- the DSSE envelope as JSON; NULL after retention
      PRIMARY KEY (key, product, period)
    ) STRICT;
    CREATE INDEX reports_by_product_period ON reports (product, period);
    CREATE INDEX reports_raw_by_period ON reports (period) WHERE envelope IS NOT NULL;

    CREATE TABLE targets (
      url             TEXT    PRIMARY KEY,
      kind            TEXT    NOT NULL CHECK (kind IN ('wellknown', 'relay')),
      origin          TEXT    NOT NULL CHECK (origin IN ('config', 'api')),
      state           TEXT    NOT NULL CHECK (state IN ('new', 'up', 'down', 'expired')),
      added_day       TEXT    NOT NULL,
      etag            TEXT,
      cursor          TEXT,                    -- relay feed position, advanced only after commit
      next_due        INTEGER NOT NULL,        -- ms since epoch
      failures        INTEGER NOT NULL DEFAULT 0,
      last_ok_day     TEXT,
      last_error_code TEXT
    ) STRICT;
    CREATE INDEX targets_due ON targets (next_due) WHERE state <> 'expired';
  `,
};
