/**
 * Hostile conditions for the relay: senders from very many addresses, and an aggregator that
 * answers a push with an endless body. Real relay, real SQLite, real sockets on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SenderLimiter } from '../relay/senders.js';
import { createRelay } from '../relay/server.js';
import { installation, postReport, relayConfig, removeTempDirs, tempDir } from './relay-support.js';
import { flood, type Flood } from './helpers/flood.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  removeTempDirs();
});

describe('senders from very many addresses (an IPv6 block, say)', () => {
  it('do not grow the in-memory key sets without bound', () => {
    const now = () => Date.parse('2026-12-03T12:00:00Z');
    const limiter = new SenderLimiter({ capacity: 30, refillPerSec: 0.5, newKeysPerDay: 100 }, now);
    // One valid report resent from ever new addresses: each passes verification and is counted.
    const SOURCES = 150_000; // bounded loop, past the limiter's 100k-source cap
    let admitted = 0;
    for (let i = 0; i < SOURCES; i++) {
      const source = limiter.source(`2001:db8::${i.toString(16)}`);
      if (limiter.take(source).ok && limiter.admitKey(source, 'the-same-key').ok) admitted++;
    }
    expect(admitted).toBe(SOURCES);
    const t = limiter.tracked();
    expect(t.buckets).toBeLessThanOrEqual(100_000);
    expect(t.keySets).toBeLessThanOrEqual(100_000);
  });

  it('still enforce the new-key cap for a source that keeps sending', () => {
    const now = () => Date.parse('2026-12-03T12:00:00Z');
    const limiter = new SenderLimiter({ capacity: 1_000_000, refillPerSec: 1, newKeysPerDay: 3 }, now);
    const source = limiter.source('192.0.2.1');
    const codes = ['k1', 'k2', 'k3', 'k4'].map((k) => limiter.admitKey(source, k));
    expect(codes.map((c) => c.ok)).toEqual([true, true, true, false]);
  });
});

describe('an aggregator that answers a push with an endless body', () => {
  it('is not read into the relay\'s memory, and nothing is acknowledged', async () => {
    const MB = 1 << 20;
    const LIMIT = 96 * MB; // bounded loop; the relay must stop reading long before this
    const state: Flood = { written: 0, finished: false };
    const agg: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.write('{"accepted":1,"duplicates":0,"rejected":[],"pad":"');
        flood(res, LIMIT, state, '"}');
      });
    });
    await new Promise<void>((resolve) => agg.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => { agg.closeAllConnections(); agg.close(() => resolve()); }));
    const aggUrl = `http://127.0.0.1:${(agg.address() as AddressInfo).port}`;

    const relay = createRelay(relayConfig(tempDir(), { aggregators: [aggUrl], push: { timeoutMs: 60_000 } }), { schedule: false });
    cleanups.push(() => relay.close());
    const base = await relay.listen();
    expect((await postReport(base, installation(1).report(1))).status).toBe(202);

    const run = await relay.pushOnce();
    expect(run.aggregators[0]!.error).toBeDefined();
    expect(run.aggregators[0]!.done).toBe(0);
    expect(relay.store.stats().reports).toBe(1);
    expect(state.finished).toBe(false);
    expect(state.written).toBeLessThan(LIMIT);
  });
});
