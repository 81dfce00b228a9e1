/**
 * Attack: a crawl target redirects (same origin) to a URL with credentials in it. The
 * crawler must refuse it, as it refuses credentials in target URLs, and never send them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Installation, post, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

const tmp = tempDir('attack-agg-redirect');
const inst = new Installation();
const auth: string[] = [];
const target = http.createServer((req, res) => {
  if (req.headers.authorization) auth.push(req.headers.authorization);
  if (req.url === '/.well-known/beacon') {
    const port = (req.socket.address() as AddressInfo).port;
    return void res.writeHead(302, { location: `http://user:secret@127.0.0.1:${port}/real/.well-known/beacon` }).end();
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(inst.envelope(1));
});

afterAll(async () => {
  target.closeAllConnections();
  await new Promise((r) => target.close(r));
  tmp.remove();
});

describe('crawl redirects', () => {
  it('a redirect whose Location carries credentials is refused (bad_url), and they are never sent', async () => {
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
    const { agg, url } = await startAggregator({ dbPath: join(tmp.path, 'creds.db'), crawl: { allowPrivate: true } }, { clock: testClock().clock });
    try {
      const r = await post(`${url}/v1/targets`, JSON.stringify({ url: targetUrl }));
      expect([r.status, r.json?.error?.code]).toEqual([400, 'bad_url']);
      expect(auth).toEqual([]);
    } finally {
      await agg.close();
    }
  });
});
