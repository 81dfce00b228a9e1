/**
 * The aggregator's HTTP surface (collection side). The peer address is touched in
 * exactly one place, the rate limiter, which keeps only a daily-keyed hash in memory.
 */
import Router from '@koa/router';
import Koa from 'koa';
import { z } from 'zod';
import { ByteBudget, HttpError, errorMiddleware, parseJsonBody, readBody, requireJson, type Logger } from '../src/server/http.js';
import { PROMETHEUS_CONTENT_TYPE } from '../src/server/metrics.js';
import { dayOf, type Clock } from '../src/protocol/time.js';
import type { AggregatorConfig } from './config.js';
import type { Crawler } from './crawl/crawler.js';
import { itemJson, tally, type Ingestor, type ItemResult } from './ingest.js';
import type { AggregatorMetrics } from './metrics.js';
import type { RateLimiter } from './ratelimit.js';
import type { Store } from './store.js';

export interface AppParts {
  config: AggregatorConfig;
  store: Store;
  ingest: Ingestor;
  crawler: Crawler;
  limiter: RateLimiter;
  metrics: AggregatorMetrics;
  log: Logger;
  clock: Clock;
}

const BatchSchema = z.strictObject({ reports: z.array(z.unknown()) });
const TargetSchema = z.strictObject({ url: z.string().max(2048) });

export function createApp(p: AppParts): { app: Koa; router: Router } {
  const app = new Koa();
  app.silent = true; // errors are logged by errorMiddleware, without request details
  const router = new Router();
  const inFlight = new ByteBudget(p.config.bodyLimit.inFlight);

  const limit: Koa.Middleware = async (ctx, next) => {
    const wait = p.limiter.take(ctx.req.socket.remoteAddress);
    if (wait > 0) {
      p.metrics.rateLimited.inc();
      throw new HttpError('rate_limited', 'too many requests from this source', 429, { 'Retry-After': String(wait) });
    }
    await next();
  };

  const ingest = async (items: readonly (Uint8Array | string)[]): Promise<ItemResult[]> => {
    try {
      return await p.ingest.submit(items);
    } catch (e) {
      p.log('error', 'commit failed', { err: String((e as Error)?.message ?? e) });
      throw new HttpError('unavailable', 'reports could not be stored; retry later', 503);
    }
  };

  router.post('/v1/reports', limit, async (ctx) => {
    requireJson(ctx);
    const body = await readBody(ctx, p.config.bodyLimit.report, p.config.bodyLimit.timeoutMs, inFlight);
    const started = performance.now();
    const [r] = await ingest([body]);
    p.metrics.ingestSeconds.observe((performance.now() - started) / 1000, { route: 'report' });
    if (!r!.ok) throw new HttpError(r!.code, r!.message);
    ctx.status = 202;
    ctx.body = tally([r!]);
  });

  router.post('/v1/reports/batch', limit, async (ctx) => {
    requireJson(ctx);
    const body = await readBody(ctx, p.config.bodyLimit.batch, p.config.bodyLimit.timeoutMs, inFlight);
    const parsed = BatchSchema.safeParse(parseJsonBody(body));
    if (!parsed.success) throw new HttpError('bad_batch', 'body must be {"reports": [envelope, ...]}', 400);
    const items = parsed.data.reports;
    if (items.length > p.config.batchMax) throw new HttpError('too_large', `at most ${p.config.batchMax} reports per batch`, 413);
    const started = performance.now();
    const results = await ingest(items.map(itemJson));
    p.metrics.ingestSeconds.observe((performance.now() - started) / 1000, { route: 'batch' });
    const rejected: { index: number; code: string; message: string }[] = [];
    results.forEach((r, index) => { if (!r.ok) rejected.push({ index, code: r.code, message: r.message }); });
    ctx.status = 202;
    ctx.body = { ...tally(results), rejected };
  });

  router.post('/v1/targets', limit, async (ctx) => {
    requireJson(ctx);
    const parsed = TargetSchema.safeParse(parseJsonBody(await readBody(ctx, 4096, p.config.bodyLimit.timeoutMs)));
    if (!parsed.success) throw new HttpError('bad_request', 'body must be {"url": "https://..."}', 400);
    const check = await p.crawler.checkTarget(parsed.data.url);
    if (!check.ok) throw new HttpError(check.code, check.message, check.code === 'too_large' ? 400 : undefined);
    const added = p.store.addTarget(check.url, 'wellknown', 'api', p.clock(), dayOf(p.clock()));
    ctx.status = added ? 201 : 200;
    ctx.body = { url: check.url, state: p.store.target(check.url)?.state ?? 'new' };
  });

  router.get('/healthz', (ctx) => {
    p.store.db.prepare('SELECT 1').get();
    ctx.body = { ok: true };
  });

  router.get('/metrics', (ctx) => {
    ctx.type = PROMETHEUS_CONTENT_TYPE;
    ctx.body = p.metrics.registry.render();
  });

  app.use(errorMiddleware(p.log));
  app.use(router.routes());
  app.use(router.allowedMethods({
    throw: true,
    methodNotAllowed: () => new HttpError('method_not_allowed', 'method not allowed', 405),
  }));
  return { app, router };
}
