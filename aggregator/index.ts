/**
 * `createAggregator(config, deps)`: the whole collection side wired together, for
 * the CLI, tests, the demo and the benchmark. Schedules (crawl, retention) start
 * only when asked, so tests drive `crawlOnce()` and `retentionOnce()` themselves.
 */
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import cron, { type ScheduledTask } from 'node-cron';
import { BeaconError } from '../src/protocol/errors.js';
import { ManifestRegistry } from '../src/protocol/registry.js';
import { addDays, dayOf, systemClock, type Clock } from '../src/protocol/time.js';
import { silentLogger, type Logger } from '../src/server/http.js';
import { loadManifestDir } from '../src/manifests.js';
import { createApp } from './app.js';
import { parseConfig, type AggregatorConfig, type AggregatorConfigInput } from './config.js';
import { Crawler, normalizeTargetUrl, type CrawlSummary } from './crawl/crawler.js';
import { httpFetch, type Fetcher } from './crawl/fetch.js';
import { openDb } from './db/index.js';
import { Ingestor } from './ingest.js';
import { aggregatorMetrics } from './metrics.js';
import { RateLimiter } from './ratelimit.js';
import { Store } from './store.js';
import { createTotals } from './totals/index.js';

export interface AggregatorDeps {
  clock?: Clock;
  fetcher?: Fetcher;
  log?: Logger;
  /** Manifests to accept from (before the acceptedProducts filter); default config.manifestsDir. */
  manifests?: ManifestRegistry;
}

/** The manifests this aggregator accepts: the configured products and versions only. */
export function acceptedManifests(config: AggregatorConfig, all: ManifestRegistry): ManifestRegistry {
  const accepted = config.acceptedProducts;
  if (accepted === 'all') return all;
  const out = new ManifestRegistry();
  for (const [product, versions] of Object.entries(accepted)) {
    for (const v of versions) {
      const m = all.get(product, v);
      if (!m) throw new BeaconError('bad_config', `acceptedProducts: no manifest ${product} version ${v}`);
      out.add(m);
    }
  }
  return out;
}

export function createAggregator(input: AggregatorConfig | AggregatorConfigInput, deps: AggregatorDeps = {}) {
  const config = parseConfig(input);
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? silentLogger;
  const manifests = acceptedManifests(config, deps.manifests ?? loadManifestDir(config.manifestsDir ?? undefined));
  const store = new Store(openDb(config.dbPath), config.dbPath);
  const metrics = aggregatorMetrics(store);
  const ingest = new Ingestor({
    store, manifests, clock, periodWindowDays: config.periodWindowDays, skewMs: config.skewMs, onResult: metrics.onResult,
  });
  const crawler = new Crawler({
    store, ingest, clock, log, config: config.crawl, fetcher: deps.fetcher ?? httpFetch, onFetch: metrics.onFetch,
  });
  const limiter = new RateLimiter(config.rateLimit, clock);
  const { app, router } = createApp({ config, store, ingest, crawler, limiter, metrics, log, clock });
  const totals = createTotals({
    config: config.totals, dbPath: config.dbPath, periodWindowDays: config.periodWindowDays, store, manifests, clock, log, router,
  });

  for (const [urls, kind] of [[config.targets, 'wellknown'], [config.relays.map((r) => r.url), 'relay']] as const) {
    for (const raw of urls) {
      const url = normalizeTargetUrl(raw);
      if (!url) throw new BeaconError('bad_config', `not a target URL: ${raw}`);
      store.addTarget(url, kind, 'config', clock(), dayOf(clock()));
    }
  }

  let server: http.Server | null = null;
  const tasks: ScheduledTask[] = [];

  /** Deletes raw envelopes older than retentionDays (decoded values stay for the totals). */
  const retentionOnce = (): number => store.purgeRaw(addDays(dayOf(clock()), -config.retentionDays));

  return {
    config,
    app,
    router,
    store,
    ingest,
    crawler,
    metrics,
    manifests,
    totals,
    crawlOnce: (): Promise<CrawlSummary> => crawler.crawlOnce(),
    retentionOnce,

    async listen(port: number = config.port, host: string = config.host): Promise<{ port: number; url: string }> {
      const s = http.createServer(app.callback());
      s.headersTimeout = 10_000;
      s.requestTimeout = 30_000;
      s.keepAliveTimeout = 5_000;
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => resolve());
      });
      const addr = s.address() as AddressInfo;
      const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
      return { port: addr.port, url };
    },

    /** Starts the crawl and retention schedules (node-cron). */
    startSchedules(): void {
      const run = (what: string, fn: () => unknown) => async () => {
        try {
          await fn();
        } catch (e) {
          log('error', `${what} failed`, { err: String((e as Error)?.message ?? e) });
        }
      };
      tasks.push(cron.schedule(config.crawl.schedule, run('crawl', () => crawler.crawlOnce()), { noOverlap: true, name: 'crawl' }));
      tasks.push(cron.schedule(config.retentionSchedule, run('retention', retentionOnce), { noOverlap: true, name: 'retention' }));
    },

    /** Stops schedules, lets in-flight requests and commits finish, closes the database. */
    async close(): Promise<void> {
      for (const t of tasks.splice(0)) await t.destroy();
      if (server) {
        const s = server;
        server = null;
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeIdleConnections();
        });
      }
      await crawler.idle();
      await ingest.drain();
      store.close();
    },
  };
}

export type Aggregator = ReturnType<typeof createAggregator>;
