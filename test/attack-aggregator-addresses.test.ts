/**
 * Attack: IPv6 spellings of loopback and internal IPv4 addresses as crawl targets. The
 * IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0:0/96) forms and local-use NAT64
 * (64:ff9b:1::/48) are reserved ranges that can lead back into the host or the LAN.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { post, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

const tmp = tempDir('attack-agg-addresses');
afterAll(() => tmp.remove());

describe('crawl target addresses', () => {
  it('IPv6 forms embedding IPv4 loopback or link-local addresses are refused as private_address', async () => {
    const { agg, url } = await startAggregator(
      { dbPath: join(tmp.path, 'v6.db'), crawl: { connectTimeoutMs: 300, totalTimeoutMs: 500 } }, { clock: testClock().clock },
    );
    try {
      for (const target of ['http://[::127.0.0.1]', 'http://[::ffff:0:127.0.0.1]', 'http://[64:ff9b:1::a9fe:a9fe]', 'http://[::ffff:127.0.0.1]', 'http://2130706433']) {
        const r = await post(`${url}/v1/targets`, JSON.stringify({ url: target }));
        expect([r.status, r.json?.error?.code], target).toEqual([400, 'private_address']);
      }
    } finally {
      await agg.close();
    }
  });
});
