/**
 * Attack: periods at the start of the calendar. Windows before 1970 do not exist, so the
 * dashboard's "previous" link and a series' default 12 periods must stop there, not crash.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

const tmp = tempDir('attack-agg-windows');
afterAll(() => tmp.remove());

describe('windows at the start of the calendar', () => {
  it('a period near 1970 gets a page and a series, not a 500', async () => {
    const errors: unknown[] = [];
    const { agg, url } = await startAggregator({ dbPath: join(tmp.path, 'epoch.db') }, { clock: testClock().clock, log: (...a) => errors.push(a) });
    try {
      for (const p of ['/p/operately?window=day&period=1970-01-01', '/p/operately?window=week&period=1970-W01', '/p/operately?window=month&period=1970-01']) {
        const r = await fetch(url + p);
        expect(r.status, p).toBe(200);
        expect(await r.text()).not.toContain('rel="prev"');
      }
      expect((await fetch(`${url}/p/operately?window=day&period=1970-01-03`)).status).toBe(200);
      const r = await fetch(`${url}/api/v1/products/operately/series?field=version&window=day&to=1970-01-03`);
      expect(r.status).toBe(200);
      const s = (await r.json()) as { points: { period: string }[] };
      expect(s.points.map((p) => p.period)).toEqual(['1970-01-01', '1970-01-02', '1970-01-03']);
      expect(errors).toEqual([]);
    } finally {
      await agg.close();
    }
  });
});
