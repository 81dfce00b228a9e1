/**
 * The relay against a stub aggregator, over real sockets with a real SQLite file:
 * verification and error codes, durability, rate limits, bounded storage, the feed,
 * push delivery, and that no sender address reaches the disk or the logs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRelay, type Relay, type RelayDeps } from '../relay/server.js';
import type { RelayConfigInput } from '../relay/config.js';
import { run } from '../relay/cli.js';
import { aggregatorId } from '../relay/store.js';
import {
  EXACT, StubAggregator, captureLog, eventually, installation, manifests, postReport, relayConfig, removeTempDirs, request, tempDir,
} from './relay-support.js';
import { buildReport, envelopeJson, signReport } from '../src/protocol/index.js';

const open: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const o of open.reverse()) await o.close();
  removeTempDirs();
});

async function startRelay(over: RelayConfigInput = {}, deps: RelayDeps = {}, dir = tempDir()) {
  const relay = createRelay(relayConfig(dir, over), { manifests, schedule: false, ...deps });
  open.push(relay);
  const url = await relay.listen();
  return { relay, url, dir };
}

async function startStub() {
  const stub = new StubAggregator();
  open.push(stub);
  await stub.start();
  return stub;
}

const heldCount = (relay: Relay) => relay.store.stats().reports;

describe('POST /v1/reports', () => {
  it('accepts a verified report durably, and keeps it across a restart', async () => {
    const dir = tempDir();
    const { relay, url } = await startRelay({}, {}, dir);
    const a = installation(1);
    const env = a.report(1);
    const r = await postReport(url, env);
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ accepted: 1, duplicates: 0 });
    await relay.close();

    const again = await startRelay({}, {}, dir);
    expect(heldCount(again.relay)).toBe(1);
    await again.relay.pushOnce(); // publish to the feed
    const feed = await request(`${again.url}/v1/feed`);
    expect(feed.json.items.map((i: unknown) => JSON.stringify(i))).toEqual([env]);
  });

  it('answers the protocol error codes, and stores nothing for them', async () => {
    const { relay, url } = await startRelay();
    const a = installation(2);
    const good = a.report(1);
    const env = JSON.parse(good);
    const sig: string = env.signatures[0].sig;
    env.signatures[0].sig = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
    expect((await postReport(url, JSON.stringify(env))).json.error.code).toBe('bad_signature');
    expect((await postReport(url, '{"payloadType":')).json.error.code).toBe('bad_json');
    expect((await postReport(url, '{"x":1}')).json.error.code).toBe('bad_envelope');
    const wrongType = await request(`${url}/v1/reports`, { body: good, headers: { 'content-type': 'text/plain' } });
    expect([wrongType.status, wrongType.json.error.code]).toEqual([415, 'unsupported_media_type']);
    const latin1 = await request(`${url}/v1/reports`, { body: good, headers: { 'content-type': 'application/json; charset=latin1' } });
    expect([latin1.status, latin1.json.error.code]).toEqual([415, 'unsupported_media_type']);
    const big = await postReport(url, JSON.stringify({ pad: 'x'.repeat(20_000) }));
    expect([big.status, big.json.error.code]).toEqual([413, 'too_large']);
    const stale = await postReport(url, a.report(1, Date.now() - 9 * 86_400_000));
    expect([stale.status, stale.json.error.code]).toEqual([400, 'stale']);
    const future = await postReport(url, a.report(1, Date.now() + 2 * 3_600_000));
    expect(future.json.error.code).toBe('from_future');
    // Signed correctly, but a value the manifest does not allow (an exact count).
    const raw = buildReport(manifests.latest('operately')!, EXACT, { key: a.key, seq: 1, now: Date.now() });
    const exact = envelopeJson(signReport({ ...raw, values: { ...raw.values, users: '37' } }, a.keys));
    const sv = await postReport(url, exact);
    expect([sv.status, sv.json.error.code]).toEqual([400, 'schema_violation']);
    expect(heldCount(relay)).toBe(0);
    expect((await postReport(url, good)).status).toBe(202); // the same installation, honest, passes
    expect(heldCount(relay)).toBe(1);
    // The same report again, declared UTF-8 explicitly: accepted (as a duplicate).
    const utf8 = await request(`${url}/v1/reports`, { body: good, headers: { 'content-type': 'application/json; charset=UTF-8' } });
    expect(utf8.status).toBe(202);
  });

  it('treats a byte-identical resend as a duplicate and an older-or-equal seq as replayed', async () => {
    const { relay, url } = await startRelay();
    const a = installation(3);
    const t = Date.now();
    const seq2 = a.report(2, t);
    expect((await postReport(url, seq2)).status).toBe(202);
    const dup = await postReport(url, seq2);
    expect([dup.status, dup.json]).toEqual([202, { accepted: 0, duplicates: 1 }]);
    const older = await postReport(url, a.report(1, t));
    expect([older.status, older.json.error.code]).toEqual([409, 'replayed']);
    const sameSeqOtherValues = await postReport(url, a.report(2, t, { ...EXACT, users: 500 }));
    expect(sameSeqOtherValues.json.error.code).toBe('replayed');
    // A newer seq for the same (key, period) replaces the older one, as at the aggregator.
    expect((await postReport(url, a.report(3, t))).status).toBe(202);
    expect(heldCount(relay)).toBe(1);
  });
});

describe('forgets the sender, yet limits it', () => {
  it('rate-limits per source with 429 and Retry-After; another source is unaffected', async () => {
    const { url } = await startRelay({ rateLimit: { capacity: 3, refillPerSec: 0.01 } });
    const a = installation(10);
    const t = Date.now();
    const codes: number[] = [];
    for (let seq = 1; seq <= 4; seq++) codes.push((await postReport(url, a.report(seq, t), { localAddress: '127.0.0.2' })).status);
    expect(codes).toEqual([202, 202, 202, 429]);
    const limited = await postReport(url, a.report(5, t), { localAddress: '127.0.0.2' });
    expect(limited.json.error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await postReport(url, a.report(6, t), { localAddress: '127.0.0.3' })).status).toBe(202);
  });

  it('caps new keys per source per day, and forgets the count the next day', async () => {
    let now = Date.now();
    const { url } = await startRelay({ newKeysPerSourcePerDay: 2 }, { now: () => now });
    const [a, b, c] = [installation(20), installation(21), installation(22)];
    expect((await postReport(url, a.report(1, now))).status).toBe(202);
    expect((await postReport(url, b.report(1, now))).status).toBe(202);
    const third = await postReport(url, c.report(1, now));
    expect([third.status, third.json.error.code]).toEqual([429, 'rate_limited']);
    expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await postReport(url, a.report(2, now))).status).toBe(202); // a known key still passes
    now += 86_400_000;
    expect((await postReport(url, c.report(1, now))).status).toBe(202);
  });

  it('writes no address (peer or X-Forwarded-For) to the database, its WAL, or the logs', async () => {
    const fake = '203.0.113.77';
    const cap = captureLog();
    const stub = await startStub();
    const dir = tempDir();
    const { relay, url } = await startRelay({ trustProxy: true, aggregators: [stub.url] }, { log: cap.log }, dir);
    const keys: string[] = [];
    for (let i = 0; i < 5; i++) {
      const inst = installation(30 + i);
      keys.push(inst.key);
      const r = await postReport(url, inst.report(1), { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': `${fake}, 127.0.0.2`, 'user-agent': 'UA-Marker/9' } });
      expect(r.status).toBe(202);
    }
    await postReport(url, '{bad', { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': fake } });
    const direct = installation(40);
    keys.push(direct.key);
    expect((await postReport(url, direct.report(1), { headers: { 'x-forwarded-for': fake } })).status).toBe(202);
    await relay.pushOnce();
    expect(stub.accepted).toHaveLength(6);
    await relay.close();
    const files = ['relay.db', 'relay.db-wal', 'relay.db-shm'].map((f) => join(dir, f)).filter(existsSync);
    const disk = files.map((f) => readFileSync(f).toString('latin1')).join('\n');
    // The scan sees real content (the reports' keys were stored), so an address would be seen too.
    expect(keys.some((k) => disk.includes(k))).toBe(true);
    for (const needle of [fake, '127.0.0.2', '127.0.0.1', 'UA-Marker']) expect(disk.includes(needle), needle).toBe(false);
    const logs = cap.lines.join('\n');
    expect(logs).toContain('relay listening');
    for (const needle of [fake, '127.0.0.2', 'UA-Marker']) expect(logs.includes(needle), needle).toBe(false);
    // Time in the database is a day at most: no hour, minute or second stamps.
    expect(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(disk.replace(/"issued":"[^"]*"/g, ''))).toBe(false);
  });
});

describe('bounded storage', () => {
  it('answers 503 full when the count is reached, and keeps what it accepted', async () => {
    const { relay, url } = await startRelay({ maxReports: 3 });
    const t = Date.now();
    const sent = [41, 42, 43].map((n) => installation(n).report(1, t));
    for (const env of sent) expect((await postReport(url, env)).status).toBe(202);
    const over = await postReport(url, installation(44).report(1, t));
    expect([over.status, over.json.error.code]).toEqual([503, 'full']);
    await relay.pushOnce();
    const feed = await request(`${url}/v1/feed?limit=10`);
    expect(feed.json.items.map((i: unknown) => JSON.stringify(i)).sort()).toEqual([...sent].sort());
  });

  it('answers 503 full when the byte budget is reached', async () => {
    const { relay, url } = await startRelay({ maxBytes: 1024 });
    const t = Date.now();
    const first = installation(45).report(1, t);
    expect(first.length).toBeGreaterThan(512); // so two do not fit in 1 KiB
    expect((await postReport(url, first)).status).toBe(202);
    expect((await postReport(url, installation(46).report(1, t))).json.error.code).toBe('full');
    expect(heldCount(relay)).toBe(1);
  });
});

describe('GET /v1/feed', () => {
  it('publishes in shuffled batches and pages with an opaque cursor', async () => {
    const { relay, url } = await startRelay();
    const t = Date.now();
    const sent = Array.from({ length: 7 }, (_, i) => installation(50 + i).report(1, t));
    for (const env of sent) expect((await postReport(url, env)).status).toBe(202);
    // Nothing is visible before a scheduled run publishes it: arrival order is not exposed.
    expect((await request(`${url}/v1/feed`)).json).toEqual({ items: [], next: '0' });
    expect((await relay.pushOnce()).published).toBe(7);
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const r = await request(`${url}/v1/feed?after=${cursor}&limit=3`);
      expect(r.status).toBe(200);
      expect(r.json.items.length).toBeLessThanOrEqual(3);
      seen.push(...r.json.items.map((i: unknown) => JSON.stringify(i)));
      if (!r.json.items.length) {
        expect(r.json.next).toBe(cursor); // an empty page keeps the cursor
        break;
      }
      cursor = r.json.next;
    }
    expect(seen.sort()).toEqual([...sent].sort());
    // New reports appear after the old cursor, once published; a feed-only relay keeps the old ones.
    const late = installation(60).report(1, t);
    await postReport(url, late);
    await relay.pushOnce();
    const more = await request(`${url}/v1/feed?after=${cursor}`);
    expect(more.json.items.map((i: unknown) => JSON.stringify(i))).toEqual([late]);
    expect(heldCount(relay)).toBe(8);
    expect((await request(`${url}/v1/feed?after=abc`)).json.error.code).toBe('bad_cursor');
    expect((await request(`${url}/v1/feed?limit=1001`)).status).toBe(400);
  });

  it('expires reports past the TTL, delivered or not', async () => {
    let now = Date.now();
    const { relay, url } = await startRelay({ reportTtlDays: 2 }, { now: () => now });
    await postReport(url, installation(61).report(1, now));
    await relay.pushOnce();
    expect(heldCount(relay)).toBe(1);
    now += 3 * 86_400_000;
    expect((await relay.pushOnce()).deleted.expired).toBe(1);
    expect(heldCount(relay)).toBe(0);
  });
});

describe('push to aggregators', () => {
  it('deletes a report only after every aggregator acknowledged it; an aggregator down loses nothing', async () => {
    const [up, flaky] = [await startStub(), await startStub()];
    flaky.down = true;
    const { relay, url } = await startRelay({ aggregators: [up.url, flaky.url], push: { batchSize: 4 } });
    const t = Date.now();
    const sent = Array.from({ length: 10 }, (_, i) => installation(70 + i).report(1, t));
    for (const env of sent) expect((await postReport(url, env)).status).toBe(202);

    const first = await relay.pushOnce();
    expect(first.aggregators.find((a) => a.url === flaky.url)!.error).toMatch(/503/);
    expect(up.accepted.sort()).toEqual([...sent].sort());
    expect(up.batches).toBe(3); // batches of at most 4
    expect(heldCount(relay)).toBe(10); // the down aggregator has not acknowledged

    await relay.pushOnce(); // still down: nothing resent to the healthy one, nothing deleted
    expect(up.accepted).toHaveLength(10);
    expect(up.batches).toBe(3);
    expect(heldCount(relay)).toBe(10);

    flaky.down = false;
    const third = await relay.pushOnce();
    expect(flaky.accepted.sort()).toEqual([...sent].sort());
    expect(third.deleted.delivered).toBe(10);
    expect(heldCount(relay)).toBe(0);
    expect(up.accepted).toHaveLength(10);
    const metrics = (await request(`${url}/metrics`)).text;
    expect(metrics).toMatch(/relay_reports_deleted_total\{reason="delivered"\} 10/);
    expect(metrics).toMatch(/relay_push_batches_total\{outcome="failed"\} 2/);
  });

  it('counts a permanent per-item rejection as done and retries a transient one', async () => {
    const stub = await startStub();
    const { relay, url } = await startRelay({ aggregators: [stub.url] });
    await postReport(url, installation(80).report(1));
    stub.forceCode = 'rate_limited';
    await relay.pushOnce();
    expect(heldCount(relay)).toBe(1);
    stub.forceCode = 'unknown_product';
    expect((await relay.pushOnce()).deleted.delivered).toBe(1);
    expect(relay.store.db.prepare('SELECT count(*) FROM deliveries').pluck().get()).toBe(0);
  });

  it('hands on, on its cron schedule, after listen()', async () => {
    const stub = await startStub();
    const { url } = await startRelay({ aggregators: [stub.url], push: { schedule: '* * * * * *' } }, { schedule: true });
    const env = installation(81).report(1);
    await postReport(url, env);
    await eventually(() => stub.accepted.length === 1);
    expect(stub.accepted).toEqual([env]);
  });

  it('keys delivery state by a hash of the URL, so the database names no aggregator', () => {
    expect(aggregatorId('http://127.0.0.1:1')).not.toContain('127');
    expect(aggregatorId('http://127.0.0.1:1')).not.toBe(aggregatorId('http://127.0.0.1:2'));
  });
});

describe('operators', () => {
  it('serves /healthz and Prometheus /metrics', async () => {
    const { url } = await startRelay();
    await postReport(url, installation(90).report(1));
    await postReport(url, '{}');
    const h = await request(`${url}/healthz`);
    expect([h.status, h.json.ok, h.json.reports]).toEqual([200, true, 1]);
    const m = await request(`${url}/metrics`);
    expect(m.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(m.text).toMatch(/relay_reports_received_total\{outcome="accepted"\} 1/);
    expect(m.text).toMatch(/relay_reports_received_total\{outcome="bad_envelope"\} 1/);
    expect(m.text).toMatch(/relay_reports_held 1/);
    expect((await request(`${url}/nope`)).json.error.code).toBe('not_found');
  });
});

describe('beacon relay (CLI)', () => {
  it('reads config and flags, logs where it listens, serves, and shuts down cleanly', async () => {
    const dir = tempDir();
    const stub = await startStub();
    const configFile = join(dir, 'relay.json');
    writeFileSync(configFile, JSON.stringify({ port: 1, dbPath: join(dir, 'ignored.db'), push: { maxDelayMs: 0 } }));
    const cap = captureLog();
    let stop!: () => void;
    const until = new Promise<void>((r) => { stop = r; });
    let base = '';
    const db = join(dir, 'cli.db');
    const code = run(['--config', configFile, '--port', '0', '--db', db, '--aggregator', stub.url, '--aggregator', `${stub.url}/`], {
      log: cap.log, manifests, until, schedule: false, onListening: (u) => { base = u; },
    });
    await eventually(() => base);
    expect((await postReport(base, installation(95).report(1))).status).toBe(202);
    stop();
    expect(await code).toBe(0);
    const listening = cap.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'relay listening');
    expect(listening.url).toBe(base);
    expect(listening.aggregators).toBe(1); // the same URL twice is one aggregator
    const reopened = createRelay(relayConfig(dir, { dbPath: db }), { manifests, schedule: false });
    expect(heldCount(reopened)).toBe(1);
    await reopened.close();
  });

  it('refuses bad flags and bad config with exit code 2', async () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ port: 'eighty', aggregators: ['ftp://x'] }));
    const quiet = { log: captureLog().log };
    expect(await run(['--nope'], quiet)).toBe(2);
    expect(await run(['--config', bad], quiet)).toBe(2);
    expect(await run(['--config', join(dir, 'missing.json')], quiet)).toBe(2);
  });
});
