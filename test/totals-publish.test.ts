/**
 * When a window is published (config totals.publish; docs/TOTALS.md "When a window is
 * published, and why"). A window that can still take reports could be polled around one
 * installation's delivery, so by default only final windows are served: those whose last day
 * is before today - periodWindowDays (7), after which no report for them is accepted.
 * Real aggregator, real SQLite file, signed reports, an injected clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Series, Totals } from '../aggregator/totals/schema.js';
import { EXAMPLE, Installation, post, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

async function get(base: string, path: string) {
  const res = await fetch(base + path);
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, text, json };
}

const totalsPath = (q: string) => `/api/v1/products/operately/totals?${q}`;
const THURSDAY_W49 = Date.parse('2026-12-03T16:00:00Z');

describe('totals.publish "final" (the default)', () => {
  const tmp = tempDir('totals-publish');
  const clock = testClock(Date.parse('2026-11-18T12:00:00Z')); // W47
  let base = '';
  let close: () => Promise<void> = async () => {};
  const insts = Array.from({ length: 12 }, () => new Installation());
  const x = new Installation(); // the installation whose late delivery someone watches
  const push = async (reports: string[]) => {
    const r = await post(`${base}/v1/reports/batch`, JSON.stringify({ reports: reports.map((e) => JSON.parse(e)) }));
    expect(r.json).toMatchObject({ accepted: reports.length });
  };

  beforeAll(async () => {
    const { agg, url } = await startAggregator({ dbPath: `${tmp.path}/agg.db` }, { clock: clock.clock });
    base = url;
    close = () => agg.close();
    // The same 12 installations report in W47 (11-18), W48 (11-25) and W49 (12-01).
    for (const [seq, day] of [[1, '2026-11-18T12:00:00Z'], [2, '2026-11-25T12:00:00Z'], [3, '2026-12-01T12:00:00Z']] as const) {
      clock.now = Date.parse(day);
      await push(insts.map((inst) => inst.envelope(seq, clock.now, EXAMPLE)));
    }
    clock.now = THURSDAY_W49;
  });

  afterAll(async () => {
    await close();
    tmp.remove();
  });

  it('serves the latest final week by default; the current week and a complete-but-not-final week answer not_final', async () => {
    const d = await get(base, totalsPath(''));
    expect(d.status).toBe(200);
    // 2026-12-03: reports are accepted back to 11-26, so W48 (11-23..11-29) can still change; W47 cannot.
    expect(d.json as Totals).toMatchObject({ window: 'week', period: '2026-W47', complete: true, final: true, installations: 12 });
    for (const q of ['window=week&period=2026-W49', 'window=week&period=2026-W48', 'window=day&period=2026-12-03',
      'window=day&period=2026-11-26', 'window=month&period=2026-11']) {
      const r = await get(base, totalsPath(q));
      expect([q, r.status, r.json?.error?.code]).toEqual([q, 400, 'not_final']);
    }
    // The message says from when: W48 ends 11-29 and takes reports until 12-06.
    expect((await get(base, totalsPath('window=week&period=2026-W48'))).json.error.message).toContain('2026-12-07');
    // The day before the boundary is final; a period that has not started stays bad_period.
    expect((await get(base, totalsPath('window=day&period=2026-11-25'))).json).toMatchObject({ final: true, installations: 12 });
    expect((await get(base, totalsPath('window=week&period=2026-W50'))).json?.error?.code).toBe('bad_period');
    const products = (await get(base, '/api/v1/products')).json;
    expect(products.products.find((p: any) => p.product === 'operately').latest).toMatchObject({ window: 'week', period: '2026-W47', installations: 12 });
  });

  it('series stop at the latest final window; a later `to` is not_final', async () => {
    const s = (await get(base, '/api/v1/products/operately/series?field=os')).json as Series;
    expect([s.to, s.points.length, s.points.every((p) => p.final)]).toEqual(['2026-W47', 12, true]);
    for (const q of ['to=2026-W48', 'from=2026-W40&to=2026-W49', 'window=day&to=2026-12-01']) {
      const r = await get(base, `/api/v1/products/operately/series?field=os&${q}`);
      expect([q, r.status, r.json?.error?.code]).toEqual([q, 400, 'not_final']);
    }
    // from after to is still the range error, not a finality one.
    expect((await get(base, '/api/v1/products/operately/series?field=os&from=2026-W49&to=2026-W45')).json.error.code).toBe('bad_period');
  });

  it('the dashboard shows the latest final window by default and links only to published ones', async () => {
    const home = await get(base, '/');
    expect(home.text).toContain('2026-W47');
    const page = await get(base, '/p/operately');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Week 2026-W47');
    expect(page.text).toMatch(/<b>12<\/b><span>installations/);
    expect((await get(base, '/p/operately?window=week&period=2026-W48')).status).toBe(400);
    // Every period either page links to is served.
    const links = [...home.text.matchAll(/href="([^"]+)"/g), ...page.text.matchAll(/href="([^"]+)"/g)]
      .map((m) => m[1]!.replaceAll('&amp;', '&')).filter((h) => h.startsWith('/p/') || h.startsWith('/api/'));
    expect(links.some((h) => h.includes('period=2026-W46'))).toBe(true); // the "previous" link
    for (const href of new Set(links)) expect([href, (await get(base, href)).status]).toEqual([href, 200]);
  });

  it('a late report for a non-final window changes nothing anyone can fetch until the window is final', async () => {
    const watched = [
      '/api/v1/products', totalsPath(''), totalsPath('window=day'), totalsPath('window=month'), totalsPath('format=csv'), totalsPath('signed=1'),
      ...['W45', 'W46', 'W47', 'W48', 'W49'].map((w) => totalsPath(`window=week&period=2026-${w}`)),
      ...['24', '25', '26', '27', '28'].map((d) => totalsPath(`window=day&period=2026-11-${d}`)),
      totalsPath('window=month&period=2026-10'), totalsPath('window=month&period=2026-11'),
      '/api/v1/products/operately/series?field=os', '/api/v1/products/operately/series?field=os&window=day',
      '/api/v1/products/operately/series?field=os&to=2026-W48',
      '/', '/p/operately', '/p/operately?window=day', '/p/operately?window=month', '/p/operately?window=week&period=2026-W48',
    ];
    const snapshot = async () => Promise.all(watched.map(async (p) => { const r = await get(base, p); return [p, r.status, r.text]; }));
    const before = await snapshot();
    // X delivers late (an outbox retry, a relay): a report of 11-27, in W48, accepted on 12-03.
    await push([x.envelope(1, Date.parse('2026-11-27T20:00:00Z'), { ...EXAMPLE, os: 'freebsd' })]);
    expect(await snapshot()).toEqual(before);
    // Still nothing on the last day W48 takes reports; from 12-07 W48 is final and counts X.
    clock.now = Date.parse('2026-12-06T23:59:59Z');
    expect((await get(base, totalsPath('window=week&period=2026-W48'))).json.error.code).toBe('not_final');
    clock.now = Date.parse('2026-12-07T00:00:00Z');
    const w48 = await get(base, totalsPath('window=week&period=2026-W48'));
    expect(w48.status).toBe(200);
    expect(w48.json as Totals).toMatchObject({ period: '2026-W48', final: true, installations: 13 });
    expect((await get(base, totalsPath(''))).json.period).toBe('2026-W48');
    // And a report for W48 is no longer accepted.
    const late = await post(`${base}/v1/reports`, new Installation().envelope(1, Date.parse('2026-11-29T20:00:00Z'), EXAMPLE));
    expect(late.json?.error?.code).toBe('stale');
    clock.now = THURSDAY_W49;
  });
});

describe('totals.publish "complete"', () => {
  const tmp = tempDir('totals-complete');
  const clock = testClock(THURSDAY_W49);
  let base = '';
  let close: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const { agg, url } = await startAggregator({ dbPath: `${tmp.path}/agg.db`, totals: { publish: 'complete' } }, { clock: clock.clock });
    base = url;
    close = () => agg.close();
  });

  afterAll(async () => {
    await close();
    tmp.remove();
  });

  it('serves ended windows (saying they are not final) and refuses open ones with not_final', async () => {
    expect((await get(base, totalsPath(''))).json).toMatchObject({ period: '2026-W48', complete: true, final: false });
    expect((await get(base, totalsPath('window=week&period=2026-W47'))).json).toMatchObject({ complete: true, final: true });
    expect((await get(base, totalsPath('window=day&period=2026-12-02'))).status).toBe(200);
    for (const q of ['window=week&period=2026-W49', 'window=day&period=2026-12-03', 'window=month&period=2026-12']) {
      const r = await get(base, totalsPath(q));
      expect([q, r.status, r.json?.error?.code]).toEqual([q, 400, 'not_final']);
    }
    expect((await get(base, '/api/v1/products/operately/series?field=os&to=2026-W49')).json.error.code).toBe('not_final');
    expect((await get(base, '/api/v1/products/operately/series?field=os')).json.to).toBe('2026-W48');
  });
});
