/**
 * Attack: batch and relay-feed items are re-serialized before verification. An item
 * nested too deeply for JSON.stringify (JSON.parse takes it) must be rejected on its own,
 * not fail the request with a 500 or the whole feed page.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Installation, post, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

const tmp = tempDir('attack-agg-nesting');
const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
let relay: http.Server | undefined;

afterAll(async () => {
  relay?.closeAllConnections();
  await new Promise((r) => (relay ? relay.close(r) : r(undefined)));
  tmp.remove();
});

describe('items too deeply nested to re-serialize', () => {
  it('a batch item is rejected on its own (bad_envelope); the rest of the batch is stored', async () => {
    const errors: unknown[] = [];
    const { agg, url } = await startAggregator({ dbPath: join(tmp.path, 'batch.db') }, { clock: testClock().clock, log: (...a) => errors.push(a) });
    try {
      const r = await post(`${url}/v1/reports/batch`, `{"reports":[${deep(200_000)},${new Installation().envelope(1)}]}`);
      expect(r.status).toBe(202);
      expect(r.json).toMatchObject({ accepted: 1, duplicates: 0, rejected: [{ index: 0, code: 'bad_envelope' }] });
      expect(errors).toEqual([]);
    } finally {
      await agg.close();
    }
  });

  it('a relay feed item does not fail the whole page', async () => {
    const page = `{"items":[${deep(200_000)},${new Installation().envelope(1)}],"next":"1"}`;
    relay = http.createServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(page));
    await new Promise<void>((r) => relay!.listen(0, '127.0.0.1', r));
    const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
    const { agg } = await startAggregator(
      { dbPath: join(tmp.path, 'feed.db'), relays: [{ url: relayUrl }], crawl: { allowPrivate: true, feedLimit: 10, feedMaxBytes: 1024 * 1024 } },
      { clock: testClock().clock },
    );
    try {
      expect(await agg.crawlOnce()).toMatchObject({ ok: 1, failed: 0 });
      expect(agg.store.target(relayUrl)).toMatchObject({ state: 'up', cursor: '1', last_error_code: null });
      expect(agg.store.counts().reports).toBe(1);
    } finally {
      await agg.close();
    }
  });
});
