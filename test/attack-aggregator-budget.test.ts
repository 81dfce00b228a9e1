/**
 * Attack: many large batch bodies at once. The per-source token bucket allows 120 requests,
 * each up to 8 MiB: without a server-wide cap that is about 1 GB of bodies in memory. Past
 * `bodyLimit.inFlight` bytes held at once the aggregator answers 503 with Retry-After, and
 * the requests already in flight are unaffected.
 */
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Installation, post, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

const tmp = tempDir('attack-agg-budget');
afterAll(() => tmp.remove());

/** Starts a batch upload that sends `first` bytes and then waits; `finish()` sends the rest. */
function slowBatch(url: string, first: Buffer, rest: Buffer) {
  const req = http.request(`${url}/v1/reports/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(first.length + rest.length) },
  });
  const answer = new Promise<{ status: number; json: any }>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', reject);
  });
  req.write(first);
  return { answer, finish: () => req.end(rest) };
}

describe('request bodies held at once', () => {
  it('past bodyLimit.inFlight a new body gets 503 unavailable; bodies already held complete', async () => {
    const { agg, url } = await startAggregator(
      { dbPath: join(tmp.path, 'budget.db'), bodyLimit: { batch: 1024 * 1024, inFlight: 1024 * 1024 } },
      { clock: testClock().clock },
    );
    try {
      const inst = new Installation();
      const body = Buffer.from(`{"reports":[${inst.envelope(1)}],"pad":"${'x'.repeat(700 * 1024)}"}`);
      const split = 400 * 1024;
      // The first upload holds about 400 KiB while it waits for the rest of its body.
      const a = slowBatch(url, body.subarray(0, split), body.subarray(split));
      await new Promise((r) => setTimeout(r, 200));
      // A second one of the same size does not fit beside it (400 KiB + 700 KiB > 1 MiB).
      const b = await post(`${url}/v1/reports/batch`, body.toString());
      expect([b.status, b.json.error.code]).toEqual([503, 'unavailable']);
      expect(b.headers.get('retry-after')).toBe('1');
      a.finish();
      // The held upload completes normally (its extra member makes it a bad batch, not a 503).
      const ra = await a.answer;
      expect([ra.status, ra.json.error.code]).toEqual([400, 'bad_batch']);
      // With the first one answered, its bytes are given back: a normal batch fits again.
      const c = await post(`${url}/v1/reports/batch`, `{"reports":[${inst.envelope(2)}]}`);
      expect([c.status, c.json.accepted]).toEqual([202, 1]);
    } finally {
      await agg.close();
    }
  });
});
