/**
 * createBeacon's options: cron expressions as node-cron reads them (in UTC, from the injected
 * clock), option mistakes thrown at once with a code, a slow collect() cut off, and queued
 * reports for a removed target not sent.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BeaconError, createBeacon, type BeaconOptions } from '../src/index.js';
import { exactValues, operately, recordingFetch, startReceiver, tempDir, testClock } from './helpers/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function options(extra: Partial<BeaconOptions> = {}): BeaconOptions {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  return { product: operately, stateDir: join(tmp.dir, 'state'), collect: () => exactValues(), mode: 'local', env: {}, logger: () => {}, ...extra };
}

describe('schedule expressions', () => {
  const at = '2026-12-03T15:30:20.500Z'; // a Thursday
  const cases: [string, string][] = [
    ['0 16 * * *', '2026-12-03T16:00:00.000Z'],
    ['0 15 * * *', '2026-12-04T15:00:00.000Z'],
    ['*/15 * * * * *', '2026-12-03T15:30:30.000Z'],
    ['0 4 * * MON', '2026-12-07T04:00:00.000Z'],
    ['0 0 L * *', '2026-12-31T00:00:00.000Z'],
    ['30 2 1 jan *', '2027-01-01T02:30:00.000Z'],
  ];
  for (const [expr, next] of cases) {
    it(`"${expr}" next runs at ${next}`, () => {
      const b = createBeacon(options({ schedule: expr, clock: testClock(at) }));
      cleanups.push(() => b.stop());
      expect(b.status().nextRun).toBe(next);
    });
  }
});

describe('option mistakes are thrown at once, with a code', () => {
  const cases: [string, Partial<BeaconOptions>, string][] = [
    ['a bad cron expression', { schedule: '61 * * * *' }, 'bad_schedule'],
    ['a target that is not http(s)', { targets: ['ftp://example.org'] }, 'bad_option'],
    ['an unknown product id', { product: { id: 'nope' } }, 'unknown_product'],
    ['an invalid manifest', { product: { ...operately, fields: {} } }, 'bad_manifest'],
    ['an unknown mode', { mode: 'loud' as 'local' }, 'bad_option'],
  ];
  for (const [what, extra, code] of cases) {
    it(what, () => {
      let err: unknown;
      try {
        createBeacon(options(extra));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BeaconError);
      expect((err as BeaconError).code).toBe(code);
    });
  }

  it('a product id resolves to the shipped manifest', () => {
    const b = createBeacon(options({ product: { id: 'operately' } }));
    expect(b.status()).toMatchObject({ product: 'operately', manifest: operately.version });
  });
});

describe('never stuck, never sent where not asked', () => {
  it('abandons a collect() that does not finish', async () => {
    const b = createBeacon(options({ collect: () => new Promise(() => {}), collectTimeoutMs: 50 }));
    const r = await b.runOnce();
    expect(r.ok ? 'ok' : r.code).toBe('collect_timeout');
    expect((await b.runOnce()).ok).toBe(false); // the queue is not blocked behind it
  });

  it('does not send queued reports to a target that was removed', async () => {
    const clock = testClock('2026-12-03T15:30:00Z');
    const receiver = await startReceiver({ manifests: [operately], now: clock });
    cleanups.push(() => receiver.stop());
    const rec = recordingFetch();
    const base = options({ mode: 'publish', clock, fetch: rec.fetch, targets: [receiver.url, 'http://127.0.0.1:9/'] });
    const a = createBeacon(base);
    await a.runOnce();
    expect(a.status().outbox).toBe(2);
    await a.stop();
    const b = createBeacon({ ...base, targets: ['http://127.0.0.1:9'], fetch: undefined });
    expect(b.status().outbox).toBe(1);
    clock.advance(86_400_000);
    await b.tick();
    expect(receiver.connections).toBe(0);
    await b.stop();
  });
});
