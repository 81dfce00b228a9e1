/**
 * Crawl: the aggregator's real crawler (fetch with all its limits, verify, group commit,
 * target bookkeeping) over a loopback fleet in another process, beside a bare GET loop
 * (node:http, same concurrency, one connection per fetch, body read, nothing checked).
 */
import http from 'node:http';
import { join } from 'node:path';
import { createAggregator } from '../../aggregator/index.js';
import { dayOf } from '../../src/protocol/time.js';
import type { BenchContext } from '../context.js';
import { startChild } from '../lib/proc.js';
import { judge, type Row } from '../lib/results.js';

export const CRAWL_CONCURRENCY = 64;

function bareGet(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
}

async function bareCrawl(urls: string[], concurrency: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < urls.length) await bareGet(urls[next++]! + '/.well-known/beacon');
  }));
  return urls.length / ((performance.now() - started) / 1000);
}

export async function runCrawl(ctx: BenchContext): Promise<Row[]> {
  const ports = 1000;
  const perPort = ctx.quick ? 2 : 8;
  const fleet = await startChild('children/fleet.js', { ports, perPort, now: ctx.now });
  try {
    const urls = (fleet.info.ports as number[]).flatMap((port) => Array.from({ length: perPort }, (_, i) => `http://127.0.0.1:${port}/i/${i}`));
    ctx.log(`fleet: ${urls.length} installations on ${ports} ports`);
    const bare = await bareCrawl(urls, CRAWL_CONCURRENCY);
    const agg = createAggregator({
      dbPath: join(ctx.tmpDir, 'crawl.db'),
      crawl: { allowPrivate: true, concurrency: CRAWL_CONCURRENCY },
    }, { clock: () => ctx.now });
    try {
      // One transaction for the setup: each autocommitted insert would pay an fsync (synchronous=FULL).
      agg.store.db.transaction(() => {
        for (const url of urls) agg.store.addTarget(url, 'wellknown', 'config', ctx.now, dayOf(ctx.now));
      })();
      const started = performance.now();
      const summary = await agg.crawlOnce();
      const seconds = (performance.now() - started) / 1000;
      const stored = agg.store.counts().reports;
      ctx.log(`crawl: ${summary.ok}/${summary.targets} ok in ${seconds.toFixed(1)} s, ${stored} reports stored`);
      return [judge({
        section: 'crawl', name: `well-known crawl, ${urls.length} endpoints on ${ports} ports, concurrency ${CRAWL_CONCURRENCY}`,
        value: summary.ok / seconds, unit: '/s',
        reference: { name: 'bare GET loop, same fleet', value: bare },
        target: { on: 'value', op: '>=', limit: 1700, label: '>= 1,700/s' },
        detail: { summary, seconds, stored, fleetPorts: ports, perPort },
        note: summary.failed ? `${summary.failed} failed` : undefined,
      })];
    } finally {
      await agg.close();
    }
  } finally {
    await fleet.stop();
  }
}
