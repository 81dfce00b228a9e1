/**
 * End to end on 127.0.0.1: installations -> a real relay -> a real aggregator, by push
 * and by pull, with real SQLite files, real sockets and real signatures.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createServer as createNetServer } from 'node:net';
import { createAggregator, type Aggregator } from '../aggregator/index.js';
import type { AggregatorConfigInput } from '../aggregator/config.js';
import { createRelay, type Relay } from '../relay/server.js';
import type { RelayConfigInput } from '../relay/config.js';
import { installation, manifests, postReport, relayConfig, removeTempDirs, tempDir } from './relay-support.js';

const open: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const o of open.reverse()) await o.close();
  removeTempDirs();
});

async function startAggregator(dir: string, over: AggregatorConfigInput = {}, port = 0, clock?: () => number) {
  const agg = createAggregator(
    { port, dbPath: join(dir, 'aggregator.db'), ...over, crawl: { allowPrivate: true, ...over.crawl } },
    { manifests, ...(clock ? { clock } : {}) },
  );
  open.push(agg);
  const { url, port: bound } = await agg.listen();
  return { agg, url, port: bound };
}

async function startRelay(dir: string, over: RelayConfigInput = {}) {
  const relay = createRelay(relayConfig(dir, over), { manifests, schedule: false });
  open.push(relay);
  return { relay, url: await relay.listen() };
}

/** What the aggregator holds: one row per (key, product, period). */
const held = (agg: Aggregator) =>
  agg.store.db.prepare('SELECT key, period, seq FROM reports ORDER BY key, period').all() as { key: string; period: string; seq: number }[];

const relayHeld = (relay: Relay) => relay.store.stats().reports;

/** n installations, each with its report (seq 1) as sent to the relay. */
function fleet(from: number, n: number, now = Date.now()) {
  return Array.from({ length: n }, (_, i) => {
    const inst = installation(from + i);
    return { ...inst, env: inst.report(1, now) };
  });
}

async function sendAll(relayUrl: string, envs: string[]) {
  for (const env of envs) expect((await postReport(relayUrl, env)).status).toBe(202);
}

describe('installation -> relay -> aggregator', () => {
  it('by push: every report arrives exactly once per (key, period), and the relay forgets it', async () => {
    const dir = tempDir();
    const { agg, url: aggUrl } = await startAggregator(dir);
    const { relay, url } = await startRelay(dir, { aggregators: [aggUrl], push: { batchSize: 7 } });
    const f = fleet(1000, 20);
    await sendAll(url, f.map((i) => i.env));
    await sendAll(url, f.slice(0, 5).map((i) => i.env)); // resends are idempotent
    await relay.pushOnce();
    expect(held(agg).map((r) => r.key).sort()).toEqual(f.map((i) => i.key).sort());
    expect(held(agg).every((r) => r.seq === 1)).toBe(true);
    expect(agg.metrics.accepted.get()).toBe(20);
    expect(relayHeld(relay)).toBe(0);
  });

  it('by pull: the aggregator crawls the feed with a cursor and stores each report once', async () => {
    const dir = tempDir();
    let now = Date.now();
    const { relay, url: relayUrl } = await startRelay(dir); // feed-only relay
    const { agg } = await startAggregator(dir, { relays: [{ url: relayUrl }], crawl: { feedLimit: 4 } }, 0, () => now);
    const f = fleet(2000, 10);
    await sendAll(relayUrl, f.map((i) => i.env));
    await relay.pushOnce(); // publish
    await agg.crawlOnce();
    expect(held(agg).map((r) => r.key).sort()).toEqual(f.map((i) => i.key).sort());

    // Later reports: only they are fetched (the cursor moved); nothing is stored twice.
    const g = fleet(2100, 3);
    await sendAll(relayUrl, g.map((i) => i.env));
    await relay.pushOnce();
    now += 2 * 3_600_000; // the relay target is due again
    await agg.crawlOnce();
    expect(held(agg)).toHaveLength(13);
    expect(agg.metrics.accepted.get()).toBe(13);
    expect(agg.metrics.duplicates.get()).toBe(0);
    expect(agg.store.target(relayUrl)?.cursor).toMatch(/^\d+$/);
    expect(relayHeld(relay)).toBe(13); // a feed-only relay keeps reports until they expire
  });

  it('by push and pull together: still exactly once per (key, period)', async () => {
    const dir = tempDir();
    const { relay, url: relayUrl } = await startRelay(dir);
    const { agg, url: aggUrl } = await startAggregator(dir, { relays: [{ url: relayUrl }] });
    // A second relay pushes to the same aggregator while the first is pulled; the installations use both.
    const { relay: pusher, url: pusherUrl } = await startRelay(tempDir(), { aggregators: [aggUrl] });
    const f = fleet(3000, 8);
    await sendAll(relayUrl, f.map((i) => i.env));
    await sendAll(pusherUrl, f.map((i) => i.env));
    await relay.pushOnce();
    await agg.crawlOnce();
    await pusher.pushOnce();
    expect(held(agg)).toHaveLength(8);
    expect(agg.metrics.accepted.get()).toBe(8);
    expect(agg.metrics.duplicates.get()).toBe(8);
    expect(relayHeld(pusher)).toBe(0);
  });
});

describe('failures lose nothing', () => {
  it('the aggregator down for a while, then up: everything arrives', async () => {
    const dir = tempDir();
    const first = await startAggregator(dir);
    await first.agg.close();
    // The aggregator is down: its port now resets every connection. Holding the port (rather
    // than leaving it closed) keeps other processes on this shared machine from taking it.
    const down = createNetServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => down.listen(first.port, '127.0.0.1', resolve));
    const { relay, url } = await startRelay(dir, { aggregators: [first.url] });
    const f = fleet(4000, 6);
    await sendAll(url, f.map((i) => i.env));
    for (let i = 0; i < 2; i++) {
      const run = await relay.pushOnce();
      expect(run.aggregators[0]!.error).toBeDefined();
      expect(relayHeld(relay)).toBe(6);
    }
    await new Promise((resolve) => down.close(resolve));
    const again = await startAggregator(dir, {}, first.port);
    await relay.pushOnce();
    expect(held(again.agg).map((r) => r.key).sort()).toEqual(f.map((i) => i.key).sort());
    expect(relayHeld(relay)).toBe(0);
  });

  it('a relay restart: what it acknowledged is still delivered', async () => {
    const dir = tempDir();
    const { agg, url: aggUrl } = await startAggregator(dir);
    const before = await startRelay(dir, { aggregators: [aggUrl] });
    const f = fleet(5000, 6);
    await sendAll(before.url, f.map((i) => i.env));
    await before.relay.close();
    const after = await startRelay(dir, { aggregators: [aggUrl] });
    expect(relayHeld(after.relay)).toBe(6);
    await after.relay.pushOnce();
    expect(held(agg)).toHaveLength(6);
    expect(relayHeld(after.relay)).toBe(0);
  });
});

describe('an untrusted relay cannot forge or replay', () => {
  it('a relay that flips one byte gets the report rejected by the aggregator', async () => {
    const dir = tempDir();
    const { agg, url: aggUrl } = await startAggregator(dir);
    const { relay, url } = await startRelay(dir, { aggregators: [aggUrl] });
    const f = fleet(6000, 4);
    await sendAll(url, f.map((i) => i.env));
    // The relay's operator edits stored reports: one byte of a signature, one byte of a payload.
    const rows = relay.store.db.prepare('SELECT id, envelope FROM reports ORDER BY id').all() as { id: number; envelope: Buffer }[];
    const flip = (buf: Buffer, at: number) => {
      const b = Buffer.from(buf);
      b[at] = b[at] === 0x41 ? 0x42 : 0x41; // 'A' <-> 'B': still valid base64, different bytes
      return b;
    };
    const sigAt = (b: Buffer) => b.indexOf('"sig":"') + 10;
    const payloadAt = (b: Buffer) => b.indexOf('"payload":"') + 40;
    relay.store.db.prepare('UPDATE reports SET envelope = ? WHERE id = ?').run(flip(rows[0]!.envelope, sigAt(rows[0]!.envelope)), rows[0]!.id);
    relay.store.db.prepare('UPDATE reports SET envelope = ? WHERE id = ?').run(flip(rows[1]!.envelope, payloadAt(rows[1]!.envelope)), rows[1]!.id);
    await relay.pushOnce();
    const keys = held(agg).map((r) => r.key);
    expect(keys.sort()).toEqual(f.slice(2).map((i) => i.key).sort());
    expect(agg.metrics.rejected.get({ code: 'bad_signature' })).toBeGreaterThanOrEqual(1);
    expect(agg.metrics.accepted.get()).toBe(2);
    // A permanent rejection is final for the relay: it does not retry the forgery.
    expect(relayHeld(relay)).toBe(0);
  });

  it('a replay through a relay is rejected', async () => {
    const dir = tempDir();
    const { agg, url: aggUrl } = await startAggregator(dir);
    const { relay, url } = await startRelay(dir, { aggregators: [aggUrl] });
    const a = installation(7000);
    const t = Date.now();
    const old = a.report(1, t - 3_600_000 * 30);
    const current = a.report(2, t);
    await sendAll(url, [current]);
    // While the relay holds seq 2, it refuses seq 1 itself.
    expect((await postReport(url, old)).json.error.code).toBe('replayed');
    await relay.pushOnce();
    expect(held(agg)).toEqual([{ key: a.key, period: JSON.parse(Buffer.from(JSON.parse(current).payload, 'base64').toString()).period, seq: 2 }]);

    // Once delivered, the relay forgot it; a captured older report now passes the relay,
    // and the aggregator, which is the real judge, refuses it.
    expect((await postReport(url, old)).status).toBe(202);
    await relay.pushOnce();
    expect(agg.metrics.rejected.get({ code: 'replayed' })).toBe(1);
    expect(held(agg).map((r) => r.seq)).toEqual([2]);
    expect(relayHeld(relay)).toBe(0);
    expect((await relay.metrics.render())).toMatch(/relay_push_items_total\{outcome="rejected",code="replayed"\} 1/);
  });
});
