/**
 * Attack: read the database files after retention. Deleted rows stay in SQLite's free
 * space and in stale WAL frames unless overwritten, so "raw reports expire" must hold for
 * the bytes on disk, not just for queries.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DAY, Installation, post, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

const tmp = tempDir('attack-agg-retention');
afterAll(() => tmp.remove());

describe('retention on disk', () => {
  it('leaves no key of a purged installation in the database file or its WAL', async () => {
    const time = testClock();
    const dbPath = join(tmp.path, 'purge.db');
    const old = Array.from({ length: 20 }, () => new Installation());
    const keysOnDisk = () => {
      let found = 0;
      for (const f of [dbPath, `${dbPath}-wal`]) {
        if (!existsSync(f)) continue;
        const bytes = readFileSync(f);
        found += old.filter((i) => bytes.includes(i.key)).length;
      }
      return found;
    };
    const { agg, url } = await startAggregator({ dbPath }, { clock: time.clock });
    try {
      for (const i of old) expect((await post(`${url}/v1/reports`, i.envelope(1))).status).toBe(202);
      expect(keysOnDisk()).toBe(old.length);
      time.now += 40 * DAY;
      for (let n = 0; n < 20; n++) expect((await post(`${url}/v1/reports`, new Installation().envelope(1, time.now))).status).toBe(202);
      expect(agg.retentionOnce()).toBe(old.length);
      expect(keysOnDisk()).toBe(0);
    } finally {
      await agg.close();
    }
    expect(keysOnDisk()).toBe(0);
  });
});
