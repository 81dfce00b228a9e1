/**
 * The installation library end to end: a real koa host on 127.0.0.1 embedding the beacon,
 * real HTTP to a verifying receiver, real key files, and a clock the test moves.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createBeacon, type Beacon, type BeaconOptions } from '../src/index.js';
import { fromBase64 } from '../src/protocol/base64.js';
import { eventually, exactValues, filesUnder, operately, SENTINEL, startHost, startReceiver, tempDir, testClock, type Host } from './helpers/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(extra: Partial<BeaconOptions> = {}, start = '2026-12-03T15:30:00Z') {
  const clock = testClock(start);
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const receiver = await startReceiver({ manifests: [operately], now: clock });
  cleanups.push(() => receiver.stop());
  const logs: string[] = [];
  const make = (more: Partial<BeaconOptions> = {}): Beacon => {
    const b = createBeacon({
      product: operately,
      stateDir: join(tmp.dir, 'state'),
      collect: () => exactValues(),
      targets: [receiver.url],
      schedule: '0 16 * * *',
      clock,
      random: () => 0,
      logger: (level, msg, fields) => logs.push(JSON.stringify({ level, msg, ...fields })),
      env: {},
      ...extra,
      ...more,
    });
    cleanups.push(() => b.stop());
    return b;
  };
  const beacon = make();
  const host = await startHost(beacon);
  cleanups.push(() => host.close());
  return { clock, tmp, stateDir: join(tmp.dir, 'state'), receiver, beacon, host, logs, make };
}

const payloadOf = (raw: Buffer) => Buffer.from(fromBase64(JSON.parse(raw.toString('utf8')).payload)!).toString('utf8');
const get = (host: Host, headers: Record<string, string> = {}, method = 'GET') => fetch(`${host.url}/.well-known/beacon`, { method, headers });

describe('schedule', () => {
  it('fires at the cron time of the injected clock, pushes a verified report and serves it', async () => {
    const { clock, receiver, beacon, host } = await setup({ maxSleepMs: 20 });
    beacon.start();
    expect(beacon.status().nextRun).toBe('2026-12-03T16:00:00.000Z');
    expect((await beacon.tick()).ran).toBe(false);
    expect((await get(host)).status).toBe(404);

    clock.set('2026-12-03T16:00:30Z');
    expect(await eventually(() => receiver.received.length === 1)).toBe(true);
    const r = receiver.received[0]!.report;
    expect(r).toMatchObject({ product: 'operately', period: '2026-12-03', issued: '2026-12-03T16:00:00Z', seq: 1 });
    expect(r.values['users']).toBe('5001+');
    expect(r.values['version']).toBe('1.4.2');
    expect(beacon.status()).toMatchObject({ nextRun: '2026-12-04T16:00:00.000Z', lastRun: '2026-12-03T16:00:30.000Z', running: true });

    const res = await get(host);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(receiver.received[0]!.raw)).toBe(true);
  });

  it('chooses a random daily time per installation by default and keeps it', async () => {
    const { make, stateDir } = await setup();
    const a = make({ schedule: undefined, random: () => 0.5 });
    expect(a.status().schedule).toBe('30 12 * * *');
    expect(JSON.parse(readFileSync(join(stateDir, 'schedule.json'), 'utf8')).cron).toBe('30 12 * * *');
    const b = make({ schedule: undefined, random: () => 0.99 });
    expect(b.status().schedule).toBe('30 12 * * *');
  });

  it('runs a missed scheduled time once after a restart', async () => {
    const { clock, make, receiver } = await setup();
    const a = make();
    clock.set('2026-12-03T16:00:00Z');
    expect((await a.tick()).ran).toBe(true);
    await a.stop();
    clock.set('2026-12-05T09:00:00Z'); // down over the 2026-12-04 16:00 run
    const b = make();
    expect(b.status().nextRun).toBe('2026-12-04T16:00:00.000Z');
    const t = await b.tick();
    expect(t.ran).toBe(true);
    expect(b.status().nextRun).toBe('2026-12-05T16:00:00.000Z');
    expect(receiver.received.map((x) => x.report.seq)).toEqual([1, 2]);
  });
});

describe('restart', () => {
  it('keeps the key and the seq, and serves the stored envelope at once', async () => {
    const { make, receiver, stateDir } = await setup();
    const a = make();
    const r1 = await a.runOnce();
    expect(r1.ok).toBe(true);
    const key = a.status().publicKey;
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(join(stateDir, 'key.pem')).mode & 0o777).toBe(0o600);
    await a.stop();

    const b = make();
    expect(b.status().publicKey).toBe(key);
    const host = await startHost(b);
    cleanups.push(() => host.close());
    const served = Buffer.from(await (await get(host)).arrayBuffer());
    expect(served.equals(receiver.received[0]!.raw)).toBe(true);

    const r2 = await b.runOnce();
    expect(r2.ok && r2.report.seq).toBe(2);
    expect(receiver.received.map((x) => [x.report.key, x.report.seq])).toEqual([[key, 1], [key, 2]]);
  });
});

describe('push', () => {
  it('keeps a report in the outbox while the receiver is down, across a restart, and drains it when it is back', async () => {
    const { clock, make, receiver, stateDir } = await setup({ retryBaseMs: 60_000 });
    await receiver.stop();
    const a = make();
    const r = await a.runOnce();
    expect(r.ok && r.deliveries.map((d) => d.outcome)).toEqual(['retrying']);
    expect(a.status().outbox).toBe(1);
    expect(filesUnder(join(stateDir, 'outbox'))).toHaveLength(1);
    await a.stop();

    await receiver.start(); // same port
    const b = make({ maxSleepMs: 20 });
    expect(b.status().outbox).toBe(1);
    // random() = 0: the first retry waits half the base delay, not less.
    clock.advance(29_000);
    expect((await b.tick()).attempts).toBe(0);
    expect(receiver.raw).toHaveLength(0);

    b.start();
    clock.advance(2_000);
    expect(await eventually(() => receiver.received.length === 1)).toBe(true);
    expect(await eventually(() => b.status().outbox === 0)).toBe(true);
    expect(filesUnder(join(stateDir, 'outbox'))).toHaveLength(0);
    expect(b.status().targets[0]!.lastDelivery).toMatchObject({ outcome: 'delivered', status: 202, seq: 1 });
  });

  it('retries a 5xx with growing delays and drops a 4xx without retrying', async () => {
    const { clock, beacon, receiver } = await setup({ retryBaseMs: 1_000, schedule: '0 0 1 1 *' }); // the schedule stays quiet here
    receiver.failWith = 503;
    const r = await beacon.runOnce();
    expect(r.ok && r.deliveries[0]).toMatchObject({ outcome: 'retrying', status: 503 });
    clock.advance(500);
    expect((await beacon.tick()).attempts).toBe(1);
    clock.advance(999); // second attempt waits 2 s * 0.5
    expect((await beacon.tick()).attempts).toBe(0);
    receiver.failWith = 400;
    clock.advance(1);
    expect((await beacon.tick()).attempts).toBe(1);
    expect(beacon.status()).toMatchObject({ outbox: 0, targets: [{ lastDelivery: { outcome: 'dropped', status: 400 } }] });
    clock.advance(86_400_000);
    expect((await beacon.tick()).attempts).toBe(0);
    expect(receiver.raw).toHaveLength(3);
  });

  it('keeps only the newest report per day and a bounded number of days', async () => {
    const { clock, make, receiver, stateDir } = await setup();
    await receiver.stop();
    const b = make({ outboxLimit: 3, schedule: '0 0 1 1 *' });
    for (let day = 0; day < 5; day++) {
      await b.runOnce();
      await b.runOnce(); // a second report of the same day replaces the first
      clock.advance(86_400_000);
    }
    const kept = filesUnder(join(stateDir, 'outbox')).map((f) => JSON.parse(f.bytes.toString('utf8')) as { period: string; seq: number });
    expect(kept.map((e) => [e.period, e.seq]).sort()).toEqual([['2026-12-05', 6], ['2026-12-06', 8], ['2026-12-07', 10]]);
    clock.advance(9 * 86_400_000); // receivers would refuse these as stale
    await b.tick();
    expect(b.status().outbox).toBe(0);
  });
});

describe('privacy', () => {
  it('never puts the exact value on the wire, in the well-known answer, on disk or in logs', async () => {
    const { beacon, receiver, host, stateDir, logs, clock } = await setup();
    await beacon.runOnce();
    receiver.failWith = 503;
    clock.advance(3_600_000);
    await beacon.runOnce();
    const wellKnown = Buffer.from(await (await get(host)).arrayBuffer());

    const texts = [
      ...receiver.raw.map((b) => b.toString('utf8')),
      ...receiver.raw.map(payloadOf),
      wellKnown.toString('utf8'),
      payloadOf(wellKnown),
      ...filesUnder(stateDir).map((f) => f.bytes.toString('utf8')),
      ...logs,
    ];
    expect(receiver.raw).toHaveLength(2);
    expect(filesUnder(stateDir).length).toBeGreaterThanOrEqual(5);
    expect(texts.some((t) => t.includes('"users":"5001+"'))).toBe(true);
    for (const t of texts) expect(t).not.toContain(String(SENTINEL));
  });
});

describe('well-known endpoint', () => {
  it('answers 404 before the first report, then 200 with ETag and max-age, 304 and 405', async () => {
    const { beacon, host } = await setup();
    const none = await get(host);
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('not_found');

    await beacon.runOnce();
    const ok = await get(host);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^application\/json/);
    expect(ok.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const etag = ok.headers.get('etag')!;
    expect(etag).toMatch(/^"[^"]+"$/);
    const body = Buffer.from(await ok.arrayBuffer());
    expect(JSON.parse(body.toString('utf8'))).toEqual(beacon.current());

    expect((await get(host, { 'if-none-match': etag })).status).toBe(304);
    expect((await get(host, { 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
    expect((await get(host, { 'if-none-match': '"other"' })).status).toBe(200);
    const head = await get(host, {}, 'HEAD');
    expect([head.status, head.headers.get('etag')]).toEqual([200, etag]);

    const post = await get(host, { 'content-type': 'application/json' }, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');

    await beacon.runOnce();
    const next = await get(host, { 'if-none-match': etag });
    expect(next.status).toBe(200);
    expect(next.headers.get('etag')).not.toBe(etag);
    expect((await fetch(`${host.url}/`)).status).toBe(200); // the host's own routes still answer
  });

  it('never calls collect() to answer a request', async () => {
    let calls = 0;
    const { host } = await setup({ collect: () => { calls++; return exactValues(); } });
    for (let i = 0; i < 3; i++) expect((await get(host)).status).toBe(404);
    expect(calls).toBe(0);
  });

  it('works as a plain node:http handler', async () => {
    const { beacon } = await setup();
    await beacon.runOnce();
    const { createServer } = await import('node:http');
    const handle = beacon.handler();
    const server = createServer((req, res) => {
      if (!handle(req, res)) res.writeHead(200, { 'content-type': 'text/plain' }).end('host');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const ok = await fetch(`${base}/.well-known/beacon?x=1`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/json');
    expect(await ok.json()).toEqual(beacon.current());
    expect((await fetch(`${base}/.well-known/beacon`, { headers: { 'if-none-match': ok.headers.get('etag')! } })).status).toBe(304);
    expect((await fetch(`${base}/.well-known/beacon`, { method: 'DELETE' })).status).toBe(405);
    expect(await (await fetch(`${base}/other`)).text()).toBe('host');
  });
});

describe('preview and errors', () => {
  it('preview() returns exactly the payload the next run signs, and consumes nothing', async () => {
    const { beacon, receiver, stateDir } = await setup({ appVersion: '2.0.1-beta', collect: () => { const { version: _v, ...rest } = exactValues(); return rest; } });
    await beacon.runOnce();
    const before = filesUnder(stateDir).map((f) => [f.path, f.bytes.toString('base64')]);
    const p1 = await beacon.preview();
    const p2 = await beacon.preview();
    expect(filesUnder(stateDir).map((f) => [f.path, f.bytes.toString('base64')])).toEqual(before);
    expect(p1.ok && p2.ok && Buffer.from(p1.bytes).equals(Buffer.from(p2.bytes))).toBe(true);
    if (!p1.ok) throw new Error(p1.code);
    expect(p1.report.seq).toBe(2);
    expect(p1.report.values['version']).toBe('2.0.1');

    const run = await beacon.runOnce();
    expect(run.ok && Buffer.from(run.payload).equals(Buffer.from(p1.bytes))).toBe(true);
    expect(payloadOf(receiver.received[1]!.raw)).toBe(p1.text);
  });

  it('reports a failing collect() as a result, never a throw, and keeps running', async () => {
    let fail = true;
    const { beacon, clock, receiver } = await setup({ collect: () => { if (fail) throw new Error('db down'); return exactValues(); } });
    const r = await beacon.runOnce();
    expect(r.ok ? 'ok' : r.code).toBe('collect_failed');
    expect(beacon.status().error?.code).toBe('collect_failed');
    clock.set('2026-12-03T16:00:00Z');
    const t = await beacon.tick();
    expect(t.ran && !t.run?.ok).toBe(true);
    fail = false;
    const ok = await beacon.runOnce();
    expect(ok.ok).toBe(true);
    expect(beacon.status().error).toBeNull();
    expect(receiver.received.map((x) => x.report.seq)).toEqual([1]);
  });

  it('rejects an exact value the manifest does not allow, without sending anything', async () => {
    const { beacon, receiver } = await setup({ collect: () => ({ ...exactValues(), hostname: 'acme-prod' }) });
    const r = await beacon.runOnce();
    expect(r.ok ? 'ok' : r.code).toBe('unknown_field');
    expect(receiver.connections).toBe(0);
  });

  it('gives up on a push that does not answer within timeoutMs and retries later', async () => {
    const net = await import('node:net');
    const silent = net.createServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const sockets: import('node:net').Socket[] = [];
    silent.on('connection', (s) => sockets.push(s));
    cleanups.push(() => new Promise<void>((r) => { sockets.forEach((s) => s.destroy()); silent.close(() => r()); }));
    const { make } = await setup();
    const b = make({ targets: [`http://127.0.0.1:${(silent.address() as { port: number }).port}`], timeoutMs: 200 });
    const r = await b.runOnce();
    expect(r.ok && r.deliveries[0]).toMatchObject({ outcome: 'retrying', error: 'timeout' });
    expect(b.status().outbox).toBe(1);
  });
});
