/**
 * Crawling real HTTP servers on 127.0.0.1: 50 installations' well-known endpoints,
 * hostile targets in the same crawl, a relay feed with a persisted cursor, and
 * POST /v1/targets.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBeacon, type Beacon } from '../src/beacon/index.js';
import { DAY, EXAMPLE, Installation, MANIFEST, T0, post, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const servers: http.Server[] = [];

async function serve(handler: Handler): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const s = http.createServer((req, res) => {
    hits.push(`${req.url} ${req.headers['if-none-match'] ?? ''}`.trim());
    handler(req, res);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, hits };
}

/** An installation's well-known endpoint as the library serves it: envelope, ETag, 304. */
function wellKnown(envelope: string): Handler {
  const etag = `"${createHash('sha256').update(envelope).digest('base64url').slice(0, 22)}"`;
  return (req, res) => {
    if (req.url !== '/.well-known/beacon') return void res.writeHead(404).end();
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
    res.writeHead(200, { 'content-type': 'application/json', etag, 'cache-control': 'public, max-age=3600' }).end(envelope);
  };
}

const tmp = tempDir('agg-crawl');
const time = testClock();
let beacons: Beacon[] = [];
let healthy: { url: string; hits: string[] }[] = [];
const hostile: Record<string, string> = {}; // url -> expected error code
let closedPort = '';

const crawlConfig = (extra: Record<string, unknown> = {}) => ({
  dbPath: join(tmp.path, 'agg.db'),
  crawl: {
    allowPrivate: true, concurrency: 8, connectTimeoutMs: 2000, totalTimeoutMs: 1500, maxBytes: 64 * 1024,
    intervalMs: 3_600_000, backoff: { baseMs: 60_000, maxMs: 86_400_000 }, feedLimit: 10, feedMaxPages: 2, ...extra,
  },
});

const endless = (res: http.ServerResponse) => {
  const chunk = Buffer.alloc(16 * 1024, 0x20);
  // bounded: stops once the client hangs up or after 100 MB
  let sent = 0;
  const pump = () => {
    while (!res.destroyed && sent < 100 * 1024 * 1024) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
};

/** A real installation: a koa app embedding the library, its report built once at T0. */
async function installationApp(i: number): Promise<{ beacon: Beacon; server: { url: string; hits: string[] } }> {
  const beacon = createBeacon({
    product: MANIFEST, stateDir: join(tmp.path, `inst-${i}`), collect: () => ({ ...EXAMPLE, users: i * 7 }),
    clock: () => T0, targets: [], env: {}, logger: () => {},
  });
  const run = await beacon.runOnce();
  if (!run.ok) throw new Error(`installation ${i}: ${JSON.stringify(run)}`);
  const app = new Koa();
  app.use(beacon.middleware());
  const handle = app.callback();
  return { beacon, server: await serve((req, res) => void handle(req, res)) };
}

beforeAll(async () => {
  const apps = await Promise.all(Array.from({ length: 50 }, (_, i) => installationApp(i)));
  beacons = apps.map((a) => a.beacon);
  healthy = apps.map((a) => a.server);
  const other = await serve(wellKnown(new Installation().envelope(1)));
  const slowTimers: NodeJS.Timeout[] = [];
  const add = async (code: string, h: Handler) => { hostile[(await serve(h)).url] = code; };
  await add('timeout', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    let n = 0;
    const t = setInterval(() => { if (res.destroyed || ++n > 50) { clearInterval(t); res.end(); } else res.write(' '); }, 100);
    slowTimers.push(t);
  });
  await add('too_large', (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); endless(res); });
  await add('too_many_redirects', (_req, res) => res.writeHead(302, { location: '/.well-known/beacon' }).end());
  await add('cross_origin_redirect', (_req, res) => res.writeHead(301, { location: `${other.url}/.well-known/beacon` }).end());
  const tenMb = Buffer.alloc(10 * 1024 * 1024, 0x20);
  await add('too_large', (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': tenMb.length }).end(tenMb));
  await add('bad_json', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"payloadType": "appl'));
  await add('bad_content_type', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(new Installation().envelope(1)));
  await add('bad_status', (_req, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{}'));
  await add('bad_signature', (_req, res) => {
    const env = JSON.parse(new Installation().envelope(1));
    env.signatures[0].sig = Buffer.alloc(64, 7).toString('base64');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(env));
  });
  // a port nobody listens on
  const gone = http.createServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  closedPort = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
  await new Promise((r) => gone.close(r));
  hostile[closedPort] = 'unreachable';
});

afterAll(async () => {
  await Promise.all(beacons.map((b) => b.stop()));
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  tmp.remove();
});

describe('crawl', () => {
  it('collects 50 installations while every hostile target fails cleanly and is recorded; then 304s, backoff, expiry', async () => {
    let { agg } = await startAggregator(crawlConfig(), { clock: time.clock });
    const targets = [...healthy.map((h) => h.url), ...Object.keys(hostile)];
    await agg.close();
    ({ agg } = await startAggregator({ ...crawlConfig(), targets }, { clock: time.clock }));
    try {
      const first = await agg.crawlOnce();
      expect(first).toMatchObject({ targets: targets.length, ok: 50, failed: Object.keys(hostile).length });
      const keys = agg.store.db.prepare('SELECT key FROM reports').all().map((r: any) => r.key).sort();
      expect(keys).toEqual(beacons.map((b) => b.status().publicKey).sort());
      for (const [url, code] of Object.entries(hostile)) {
        expect(agg.store.target(url), url).toMatchObject({ state: 'down', failures: 1, last_error_code: code, next_due: T0 + 60_000 });
      }
      for (const h of healthy) expect(agg.store.target(h.url)).toMatchObject({ state: 'up', failures: 0, next_due: T0 + 3_600_000 });

      // Nothing is due a minute later but the failing targets, which back off exponentially.
      time.now = T0 + 60_000;
      expect(await agg.crawlOnce()).toMatchObject({ targets: Object.keys(hostile).length, ok: 0 });
      expect(agg.store.target(closedPort)).toMatchObject({ failures: 2, next_due: T0 + 60_000 + 120_000 });

      // An hour on: the installations answer 304 to the stored ETag.
      time.now = T0 + 3_600_000;
      const again = await agg.crawlOnce();
      expect(again.ok).toBe(50);
      expect(healthy.every((h) => h.hits.length === 2 && /^\/\.well-known\/beacon "/.test(h.hits[1]!))).toBe(true);
      const metrics = await (await fetch(`${(await agg.listen(0)).url}/metrics`)).text();
      expect(metrics).toContain('beacon_aggregator_crawl_fetches_total{kind="wellknown",outcome="not_modified"} 50');
      expect(metrics).toContain('beacon_aggregator_crawl_fetches_total{kind="wellknown",outcome="unreachable"} 3');
      expect(metrics).toMatch(/beacon_aggregator_targets\{state="down"\} 10/);

      // 31 days without success: failing targets expire; healthy ones (304) stay up.
      time.now = T0 + 31 * DAY;
      const late = await agg.crawlOnce();
      expect(late.expired).toBe(Object.keys(hostile).length);
      expect(agg.store.targetStates()).toMatchObject({ up: 50, down: 0, expired: Object.keys(hostile).length });
    } finally {
      time.now = T0;
      await agg.close();
    }
  });

  it('pulls a relay feed page by page with a cursor that survives a restart', async () => {
    const relayInstalls = Array.from({ length: 25 }, () => new Installation());
    const items = relayInstalls.map((i) => JSON.parse(i.envelope(1)));
    const relay = await serve((req, res) => {
      const u = new URL(req.url!, 'http://x');
      const after = Number(u.searchParams.get('after') ?? 0);
      const limit = Number(u.searchParams.get('limit'));
      const page = items.slice(after, after + limit);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: page, next: after + page.length }));
    });
    const cfg = { ...crawlConfig(), dbPath: join(tmp.path, 'relay.db'), relays: [{ url: relay.url }] };
    let { agg } = await startAggregator(cfg, { clock: time.clock });
    try {
      await agg.crawlOnce();
      expect(agg.store.counts().reports).toBe(20); // feedMaxPages 2 x feedLimit 10
      expect(agg.store.target(relay.url)).toMatchObject({ kind: 'relay', state: 'up', cursor: '20' });
      await agg.close();
      ({ agg } = await startAggregator(cfg, { clock: time.clock }));
      time.now = T0 + 3_600_000;
      await agg.crawlOnce();
      expect(agg.store.counts().reports).toBe(25);
      expect(relay.hits).toEqual(['/v1/feed?limit=10', '/v1/feed?limit=10&after=10', '/v1/feed?limit=10&after=20']);
      expect(agg.store.target(relay.url)!.cursor).toBe('25');
    } finally {
      time.now = T0;
      await agg.close();
    }
  });

  it('POST /v1/targets adds a target only after fetching and verifying its well-known endpoint', async () => {
    const inst = new Installation();
    const good = await serve(wellKnown(inst.envelope(1)));
    const { agg, url } = await startAggregator({ ...crawlConfig(), dbPath: join(tmp.path, 'targets.db') }, { clock: time.clock });
    try {
      const added = await post(`${url}/v1/targets`, JSON.stringify({ url: good.url + '/' }));
      expect([added.status, added.json.url]).toEqual([201, good.url]);
      expect(agg.store.counts().reports).toBe(1);
      expect((await post(`${url}/v1/targets`, JSON.stringify({ url: good.url }))).status).toBe(200);
      const badSig = Object.entries(hostile).find(([, c]) => c === 'bad_signature')![0];
      expect((await post(`${url}/v1/targets`, JSON.stringify({ url: badSig }))).json.error.code).toBe('bad_signature');
      expect((await post(`${url}/v1/targets`, JSON.stringify({ url: closedPort }))).json.error.code).toBe('target_unreachable');
      expect((await post(`${url}/v1/targets`, JSON.stringify({ url: 'ftp://example.org' }))).json.error.code).toBe('bad_url');
      expect((await post(`${url}/v1/targets`, '{"href": 1}')).json.error.code).toBe('bad_request');
      expect(agg.store.target(badSig)).toBeUndefined();
      expect(agg.store.target(closedPort)).toBeUndefined();
    } finally {
      await agg.close();
    }
  });

  it('startSchedules crawls due targets on the node-cron schedule', async () => {
    const target = healthy[0]!.url;
    const { agg } = await startAggregator(
      { ...crawlConfig({ schedule: '* * * * * *' }), dbPath: join(tmp.path, 'cron.db'), targets: [target] }, { clock: time.clock });
    try {
      expect(agg.store.target(target)!.state).toBe('new');
      agg.startSchedules();
      for (let i = 0; i < 60 && agg.store.target(target)!.state === 'new'; i++) await new Promise((r) => setTimeout(r, 100));
      expect(agg.store.target(target)!.state).toBe('up');
      expect(agg.store.counts().reports).toBe(1);
    } finally {
      await agg.close();
    }
  });

  it('refuses loopback, private and link-local targets unless allowed, resolving names too', async () => {
    const inst = new Installation();
    const good = await serve(wellKnown(inst.envelope(1)));
    const { agg, url } = await startAggregator({ dbPath: join(tmp.path, 'public.db') }, { clock: time.clock });
    try {
      const port = new URL(good.url).port;
      for (const target of [good.url, `http://localhost:${port}`, 'http://10.1.2.3', 'http://169.254.169.254', 'http://[::1]:1', 'http://[fe80::1]']) {
        const r = await post(`${url}/v1/targets`, JSON.stringify({ url: target }));
        expect([r.status, r.json.error.code], target).toEqual([400, 'private_address']);
      }
      expect(good.hits).toEqual([]);
    } finally {
      await agg.close();
    }
  });
});
