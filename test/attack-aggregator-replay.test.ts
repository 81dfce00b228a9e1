/**
 * Attack: replay after retention. Retention forgets a key (and its last seq) once none of
 * its reports is left; if that happens while its envelopes are still inside the accepted
 * period window, a captured envelope is accepted again as new.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DAY, Installation, T0, post, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

const tmp = tempDir('attack-agg-replay');
afterAll(() => tmp.remove());

describe('retention and replay', () => {
  it('a retention shorter than the period window is refused (bad_config)', async () => {
    await expect(startAggregator({ dbPath: join(tmp.path, 'short.db'), retentionDays: 2, periodWindowDays: 7 }, { clock: testClock().clock }))
      .rejects.toMatchObject({ code: 'bad_config' });
  });

  it('at the shortest allowed retention, a purged window cannot be replayed into', async () => {
    const time = testClock();
    const { agg, url } = await startAggregator({ dbPath: join(tmp.path, 'edge.db'), retentionDays: 3, periodWindowDays: 3 }, { clock: time.clock });
    try {
      const inst = new Installation();
      const env = inst.envelope(1, T0 - 3 * DAY);
      expect((await post(`${url}/v1/reports`, env)).json).toEqual({ accepted: 1, duplicates: 0 });
      agg.retentionOnce();
      expect((await post(`${url}/v1/reports`, env)).json).toEqual({ accepted: 0, duplicates: 1 });
      time.now += DAY; // now outside both: purged, and refused as stale rather than accepted anew
      expect(agg.retentionOnce()).toBe(1);
      expect((await post(`${url}/v1/reports`, env)).json.error.code).toBe('stale');
    } finally {
      await agg.close();
    }
  });
});
