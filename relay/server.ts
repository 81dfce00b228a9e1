/**
 * The relay: accepts signed reports, verifies them, forgets who sent them, buffers them
 * in SQLite and hands them on (push batches and a pull feed).
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import Koa from 'koa';
import Router from '@koa/router';
import cron, { type ScheduledTask } from 'node-cron';
import { envelopeJson, MAX_ENVELOPE_BYTES } from '../src/protocol/envelope.js';
import type { ManifestRegistry } from '../src/protocol/registry.js';
import { addDays, dayOf, systemClock, type Clock } from '../src/protocol/time.js';
import { verifyEnvelopeAsync } from '../src/protocol/verify.js';
import { loadManifestDir } from '../src/manifests.js';
import { errorMiddleware, HttpError, readBody, requireJson, silentLogger, type Logger } from '../src/server/http.js';
import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from '../src/server/metrics.js';
import type { RelayConfig } from './config.js';
import { GroupCommit } from '../src/server/group-commit.js';
import { abortableSleep, aggregatorStates, pushToAggregator, shuffle, type AggregatorRun } from './push.js';
import { SenderLimiter, type Admission } from './senders.js';
import { RelayStore, reportDigest, type IncomingReport, type IngestOutcome } from './store.js';

export interface RelayDeps {
  now?: Clock;
  /** Uniform in [0, 1): shuffles, push delays, backoff jitter. */
  random?: () => number;
  /** For the daily source secret. */
  randomBytes?: (n: number) => Buffer;
  fetch?: typeof fetch;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  log?: Logger;
  /** Defaults to the config's manifestsDir, else the shipped manifests. */
  manifests?: ManifestRegistry;
  /** Run pushOnce on the config's cron schedule after listen(). Default true. */
  schedule?: boolean;
}

export interface PushSummary {
  published: number;
  aggregators: AggregatorRun[];
  deleted: { delivered: number; expired: number };
}

export interface Relay {
  readonly config: RelayConfig;
  readonly store: RelayStore;
  readonly metrics: MetricsRegistry;
  readonly app: Koa;
  /** Starts listening; resolves to the base URL, e.g. http://127.0.0.1:8788. */
  listen(): Promise<string>;
  /** Publishes waiting reports to the feed, pushes to every aggregator, deletes what is done or expired. */
  pushOnce(): Promise<PushSummary>;
  close(): Promise<void>;
}

const FEED_MAX = 1000;
const FEED_DEFAULT = 100;
const CURSOR_RE = /^\d{1,15}$/;

export function createRelay(config: RelayConfig, deps: RelayDeps = {}): Relay {
  const now = deps.now ?? systemClock;
  const random = deps.random ?? Math.random;
  const log = deps.log ?? silentLogger;
  const manifests = deps.manifests ?? loadManifestDir(config.manifestsDir);
  const store = new RelayStore(config.dbPath);
  const limits = { maxReports: config.maxReports, maxBytes: config.maxBytes };
  const limiter = new SenderLimiter(
    { capacity: config.rateLimit.capacity, refillPerSec: config.rateLimit.refillPerSec, newKeysPerDay: config.newKeysPerSourcePerDay },
    now,
    deps.randomBytes ?? cryptoRandomBytes,
  );
  const aggregators = aggregatorStates(config);
  const abort = new AbortController();

  const metrics = new MetricsRegistry();
  const received = metrics.counter('relay_reports_received_total', 'Reports received, by outcome (accepted, duplicate, or the error code).');
  const limited = metrics.counter('relay_rate_limited_total', 'Requests refused with 429, by reason (rate, new_keys).');
  const ingestSeconds = metrics.histogram('relay_ingest_seconds', 'Time from request to durable answer for POST /v1/reports.');
  const batches = metrics.counter('relay_push_batches_total', 'Push batches, by outcome (ok, failed, too_large).');
  const items = metrics.counter('relay_push_items_total', 'Pushed reports, by outcome (acknowledged, rejected, retry) and the aggregator\'s code.');
  const feedServed = metrics.counter('relay_feed_items_served_total', 'Reports served on the pull feed.');
  const deleted = metrics.counter('relay_reports_deleted_total', 'Reports deleted, by reason (delivered, expired).');
  metrics.gauge('relay_reports_held', 'Reports held now.', (g) => g.set(store.stats().reports));
  metrics.gauge('relay_bytes_held', 'Envelope bytes held now.', (g) => g.set(store.stats().bytes));
  metrics.gauge('relay_capacity_reports', 'Configured maximum number of reports.', (g) => g.set(config.maxReports));
  metrics.gauge('relay_capacity_bytes', 'Configured maximum envelope bytes.', (g) => g.set(config.maxBytes));
  metrics.gauge('relay_sources_tracked', 'Sources with a token bucket in memory today.', (g) => g.set(limiter.size()));
  metrics.gauge('relay_aggregator_failures', 'Consecutive failed pushes, by aggregator.', (g) => {
    for (const a of aggregators) g.set(a.failures, { aggregator: a.url });
  });

  const commit = new GroupCommit<IncomingReport, IngestOutcome>((group) => store.ingest(group, limits));

  const refuse = (a: Exclude<Admission, { ok: true }>): never => {
    limited.inc({ reason: a.reason });
    received.inc({ outcome: 'rate_limited' });
    const msg = a.reason === 'rate' ? 'too many requests from this source' : 'too many new keys from this source today';
    throw new HttpError('rate_limited', msg, 429, { 'Retry-After': String(a.retryAfterSec) });
  };
  const full = (): never => {
    received.inc({ outcome: 'full' });
    throw new HttpError('full', 'this relay is full; try another relay or later', 503, { 'Retry-After': '600' });
  };

  // The address is used here, hashed, and dropped: never stored, never logged.
  const addressOf = (ctx: Koa.Context): string => {
    if (config.trustProxy) {
      const hops = (ctx.get('x-forwarded-for') || '').split(',').map((s) => s.trim()).filter(Boolean);
      if (hops.length) return hops[hops.length - 1]!;
    }
    return ctx.req.socket.remoteAddress ?? '';
  };

  const router = new Router();
  router.post('/v1/reports', async (ctx) => {
    const t0 = performance.now();
    const source = limiter.source(addressOf(ctx));
    const taken = limiter.take(source);
    if (!taken.ok) refuse(taken);
    requireJson(ctx);
    const body = await readBody(ctx, MAX_ENVELOPE_BYTES, config.bodyTimeoutMs);
    const v = await verifyEnvelopeAsync(body, { manifests, now, skewMs: config.skewMs });
    if (!v.ok) {
      received.inc({ outcome: v.error.code });
      throw new HttpError(v.error.code, v.error.message);
    }
    const admitted = limiter.admitKey(source, v.report.key);
    if (!admitted.ok) refuse(admitted);
    const r = v.report;
    const outcome = await commit.submit({
      digest: reportDigest(v.payload, v.signature),
      envelope: Buffer.from(envelopeJson(v.envelope), 'utf8'),
      key: r.key,
      product: r.product,
      period: r.period,
      seq: r.seq,
    });
    received.inc({ outcome });
    if (outcome === 'full') full();
    if (outcome === 'replayed') throw new HttpError('replayed', `this relay holds a report with seq >= ${r.seq} for this key`);
    ingestSeconds.observe((performance.now() - t0) / 1000);
    ctx.status = 202;
    ctx.body = { accepted: outcome === 'accepted' ? 1 : 0, duplicates: outcome === 'duplicate' ? 1 : 0 };
  });

  router.get('/v1/feed', (ctx) => {
    const after = typeof ctx.query.after === 'string' && ctx.query.after !== '' ? ctx.query.after : '0';
    if (!CURSOR_RE.test(after)) throw new HttpError('bad_cursor', 'after must be a cursor this feed returned as "next"', 400);
    const limitText = typeof ctx.query.limit === 'string' ? ctx.query.limit : String(FEED_DEFAULT);
    const limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= FEED_MAX)) throw new HttpError('bad_request', `limit is 1..${FEED_MAX}`, 400);
    const rows = store.feed(Number(after), limit);
    feedServed.inc({}, rows.length);
    const next = rows.length ? String(rows[rows.length - 1]!.id) : after;
    ctx.type = 'application/json';
    ctx.set('Cache-Control', 'no-store');
    // Stored envelopes are compact JSON already; splice them in unchanged.
    ctx.body = `{"items":[${rows.map((r) => r.envelope.toString('utf8')).join(',')}],"next":${JSON.stringify(next)}}`;
  });

  router.get('/healthz', (ctx) => {
    const s = store.stats();
    ctx.body = { ok: true, reports: s.reports, bytes: s.bytes };
  });

  router.get('/metrics', (ctx) => {
    ctx.type = PROMETHEUS_CONTENT_TYPE;
    ctx.body = metrics.render();
  });

  const app = new Koa();
  app.silent = true; // errorMiddleware logs what matters, without request details
  app.use(errorMiddleware(log));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));

  let server: Server | undefined;
  let task: ScheduledTask | undefined;
  let running: Promise<PushSummary> | undefined;

  const pushDeps = {
    store, fetch: deps.fetch ?? fetch, now, random, log, signal: abort.signal, batches, items,
    sleep: deps.sleep ?? abortableSleep,
  };

  async function runPush(): Promise<PushSummary> {
    const published = store.publish((ids) => shuffle(ids, random));
    const runs = await Promise.all(aggregators.map((a) => pushToAggregator(a, config.push, pushDeps)));
    const swept = store.sweep(aggregators.map((a) => a.id), addDays(dayOf(now()), -config.reportTtlDays));
    deleted.inc({ reason: 'delivered' }, swept.delivered);
    deleted.inc({ reason: 'expired' }, swept.expired);
    if (published || swept.delivered || swept.expired || runs.some((r) => r.sent))
      log('info', 'push run', { published, deleted: swept, aggregators: runs.map(({ url, sent, done, retry, error }) => ({ url, sent, done, retry, error })) });
    return { published, aggregators: runs, deleted: swept };
  }

  function pushOnce(): Promise<PushSummary> {
    if (abort.signal.aborted) return Promise.reject(new Error('relay is closed'));
    // One run at a time: a scheduled run and a manual one share the same promise.
    running ??= runPush().finally(() => { running = undefined; });
    return running;
  }

  return {
    config, store, metrics, app, pushOnce,
    async listen() {
      const srv = app.listen(config.port, config.host);
      server = srv;
      srv.headersTimeout = 20_000;
      srv.requestTimeout = config.bodyTimeoutMs + 10_000;
      await new Promise<void>((resolve, reject) => {
        srv.once('listening', resolve);
        srv.once('error', reject);
      });
      const { port } = srv.address() as AddressInfo;
      const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
      if (deps.schedule !== false) {
        task = cron.schedule(config.push.schedule, () => pushOnce().catch((e) => log('error', 'push run failed', { err: String(e) })), {
          name: 'relay-push',
          noOverlap: true,
        });
      }
      log('info', 'relay listening', { url, aggregators: aggregators.length, schedule: deps.schedule !== false ? config.push.schedule : 'off' });
      return url;
    },
    async close() {
      if (abort.signal.aborted) return;
      abort.abort();
      await task?.destroy();
      await running?.catch(() => undefined);
      if (server) {
        const srv = server;
        await new Promise<void>((resolve) => {
          srv.close(() => resolve());
          srv.closeIdleConnections();
        });
      }
      store.close();
    },
  };
}
