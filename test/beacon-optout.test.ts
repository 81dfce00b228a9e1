/**
 * Opt-out really means nothing happens (no file, no timer, no socket), and local-only mode
 * builds and signs for the admin but never pushes or serves.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createBeacon, type BeaconOptions } from '../src/index.js';
import { exactValues, filesUnder, operately, recordingFetch, startHost, startReceiver, tempDir, testClock } from './helpers/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const clock = testClock('2026-12-03T15:59:59Z');
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const receiver = await startReceiver({ manifests: [operately], now: clock });
  cleanups.push(() => receiver.stop());
  const stateDir = join(tmp.dir, 'state');
  const base: BeaconOptions = {
    product: operately, stateDir, collect: () => exactValues(), targets: [receiver.url],
    schedule: '* * * * * *', clock, maxSleepMs: 10, logger: () => {},
  };
  return { clock, receiver, stateDir, base };
}

/** Drives every entry point of a beacon and the host's well-known route. */
async function exercise(b: ReturnType<typeof createBeacon>, clock: ReturnType<typeof testClock>) {
  const host = await startHost(b);
  cleanups.push(() => host.close());
  b.start();
  const run = await b.runOnce();
  const preview = await b.preview();
  clock.advance(5_000);
  const tick = await b.tick();
  await new Promise((r) => setTimeout(r, 50)); // a live timer (maxSleepMs 10) would have fired by now
  const wellKnown = await fetch(`${host.url}/.well-known/beacon`);
  await b.stop();
  return { run, preview, tick, wellKnown };
}

describe('opt-out', () => {
  for (const value of ['0', 'false', 'OFF', 'No']) {
    it(`BEACON_ENABLED=${value} writes nothing and connects nowhere`, async () => {
      const { clock, receiver, stateDir, base } = await setup();
      const b = createBeacon({ ...base, env: { BEACON_ENABLED: value } });
      const { run, preview, tick, wellKnown } = await exercise(b, clock);
      expect(run.ok ? 'ok' : run.code).toBe('disabled');
      expect(preview.ok ? 'ok' : preview.code).toBe('disabled');
      expect(tick).toEqual({ ran: false, attempts: 0 });
      expect(wellKnown.status).toBe(404);
      expect(existsSync(stateDir)).toBe(false);
      expect(receiver.connections).toBe(0);
      expect(b.status()).toMatchObject({ enabled: false, disabledBy: 'env', publicKey: null, nextRun: null, running: false });
    });
  }

  it('enabled: false wins over the environment, and no fetch is even attempted', async () => {
    const { clock, stateDir, base } = await setup();
    const rec = recordingFetch();
    const b = createBeacon({ ...base, enabled: false, env: { BEACON_ENABLED: 'true' }, fetch: rec.fetch });
    const { run, wellKnown } = await exercise(b, clock);
    expect(run.ok ? 'ok' : run.code).toBe('disabled');
    expect(wellKnown.status).toBe(404);
    expect(rec.calls).toEqual([]);
    expect(existsSync(stateDir)).toBe(false);
    expect(b.status().disabledBy).toBe('option');
  });

  it('BEACON_ENABLED=1 leaves an enabled beacon on (the control for the tests above)', async () => {
    const { clock, receiver, stateDir, base } = await setup();
    const b = createBeacon({ ...base, env: { BEACON_ENABLED: '1' } });
    const { run, wellKnown } = await exercise(b, clock);
    expect(run.ok).toBe(true);
    expect(wellKnown.status).toBe(200);
    expect(existsSync(join(stateDir, 'key.pem'))).toBe(true);
    expect(receiver.connections).toBeGreaterThan(0);
  });
});

describe('local-only mode', () => {
  it('builds, signs and keeps reports for the admin, never pushes or serves', async () => {
    const { clock, receiver, stateDir, base } = await setup();
    const rec = recordingFetch();
    const b = createBeacon({ ...base, mode: 'local', env: {} });
    const r = createBeacon({ ...base, stateDir: join(stateDir, '..', 'state2'), mode: 'local', env: {}, fetch: rec.fetch });
    const { run, preview, tick, wellKnown } = await exercise(b, clock);
    expect(run.ok && run.report.values['users']).toBe('5001+');
    expect(preview.ok).toBe(true);
    expect(tick.ran && tick.attempts === 0).toBe(true);
    expect(wellKnown.status).toBe(404);
    expect(receiver.connections).toBe(0);
    expect(b.current()).not.toBeNull();
    expect(JSON.parse(readFileSync(join(stateDir, 'current.json'), 'utf8'))).toEqual(b.current());
    expect(b.status()).toMatchObject({ mode: 'local', enabled: true, outbox: 0, targets: [], lastReport: { seq: 2 } });
    expect(filesUnder(join(stateDir, 'outbox'))).toEqual([]);

    await r.runOnce();
    expect(rec.calls).toEqual([]);
    await r.stop();
  });
});
