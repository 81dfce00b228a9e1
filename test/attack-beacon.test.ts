/**
 * Hostile and careless conditions for the installation library, through its exported API
 * with real sockets on 127.0.0.1: receivers that misbehave, a clock that jumps, a state
 * directory shared by two beacons, option values that break timers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBeacon, type Beacon, type BeaconOptions } from '../src/index.js';
import { exactValues, operately, tempDir, testClock } from './helpers/index.js';
import { flood, type Flood } from './helpers/flood.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function beacon(opts: Partial<BeaconOptions> & { stateDir?: string } = {}): Beacon {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const b = createBeacon({
    product: operately,
    stateDir: tmp.dir,
    collect: () => exactValues(),
    clock: testClock('2026-12-03T15:30:00Z'),
    random: () => 0,
    logger: () => {},
    env: {},
    ...opts,
  });
  cleanups.push(() => b.stop());
  return b;
}

describe('a receiver that answers with an endless body', () => {
  it('is not read into the host\'s memory: the push ends without consuming it', async () => {
    const MB = 1 << 20;
    const LIMIT = 96 * MB; // bounded loop; the client must stop long before this
    const state: Flood = { written: 0, finished: false };
    const { url } = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(202, { 'content-type': 'application/octet-stream' });
        flood(res, LIMIT, state);
      });
    });
    const b = beacon({ targets: [url], timeoutMs: 60_000 });
    const r = await b.runOnce();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.deliveries.map((d) => d.outcome)).toEqual(['delivered']);
    expect(state.finished).toBe(false);
    expect(state.written).toBeLessThan(LIMIT);
  });
});

describe('a receiver that redirects', () => {
  it('does not make the beacon POST its report to a host the admin never configured', async () => {
    const elsewhere: string[] = [];
    const other = await serve((req, res) => {
      elsewhere.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(202).end();
    });
    const { url } = await serve((req, res) => {
      req.resume();
      res.writeHead(307, { location: `${other.url}/collect` }).end();
    });
    const b = beacon({ targets: [url] });
    const r = await b.runOnce();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.deliveries).toHaveLength(1);
    expect(r.deliveries[0]!.outcome).not.toBe('delivered');
    expect(elsewhere).toEqual([]);
  });
});

describe('two beacons on one state directory (a restart that overlaps the old instance)', () => {
  it('never signs two reports with the same seq', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const clock = testClock('2026-12-03T15:30:00Z');
    const make = () => beacon({ stateDir: tmp.dir, clock, mode: 'local' });
    const a = make();
    const b = make();
    const seqs: number[] = [];
    for (const x of [a, b, a, b]) {
      const r = await x.runOnce();
      expect(r.ok).toBe(true);
      if (r.ok) seqs.push(r.report.seq);
    }
    // Strictly increasing across both instances, and the preview agrees with what is signed next.
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    const p = await a.preview();
    const r = await b.runOnce();
    expect(p.ok && r.ok).toBe(true);
    if (p.ok && r.ok) expect(p.report.seq).toBe(r.report.seq);
  });
});

describe('a clock that jumps forward and comes back', () => {
  it('keeps reporting on schedule once the clock is right again', async () => {
    const clock = testClock('2026-12-03T15:30:00Z');
    const b = beacon({ clock, mode: 'local', schedule: '0 16 * * *' });
    clock.set('2036-12-03T16:00:30Z'); // a bad NTP answer, or a dead RTC battery, for one run
    expect((await b.tick()).ran).toBe(true);
    clock.set('2026-12-04T15:00:00Z'); // corrected
    expect((await b.tick()).ran).toBe(false);
    expect(b.status().nextRun).toBe('2026-12-04T16:00:00.000Z');
    clock.set('2026-12-04T16:00:30Z');
    const t = await b.tick();
    expect(t.ran).toBe(true);
    expect(t.run?.ok && t.run.report.period).toBe('2026-12-04');
    expect(b.status().nextRun).toBe('2026-12-05T16:00:00.000Z');
  });

  it('also after a restart that reads the future lastRun from disk', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const clock = testClock('2026-12-03T15:30:00Z');
    const first = beacon({ stateDir: tmp.dir, clock, mode: 'local', schedule: '0 16 * * *' });
    clock.set('2036-12-03T16:00:30Z');
    expect((await first.tick()).ran).toBe(true);
    await first.stop();
    clock.set('2026-12-04T15:00:00Z');
    const second = beacon({ stateDir: tmp.dir, clock, mode: 'local', schedule: '0 16 * * *' });
    expect(second.status().nextRun).toBe('2026-12-04T16:00:00.000Z');
  });
});

describe('timer options beyond what setTimeout can hold', () => {
  // Node turns a delay over 2^31-1 ms into 1 ms: a huge maxSleepMs made the timer spin.
  it.each(['maxSleepMs', 'timeoutMs', 'collectTimeoutMs', 'retryBaseMs', 'retryMaxMs'] as const)('refuses %s over 2^31-1 ms', (name) => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    let err: unknown;
    try {
      createBeacon({ product: operately, stateDir: tmp.dir, collect: () => exactValues(), env: {}, logger: () => {}, [name]: 1e12 });
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string } | undefined)?.code).toBe('bad_option');
  });
});
