/**
 * The public, read-only API under /api/v1: open CORS (anyone may chart the numbers),
 * cacheable (Cache-Control + a content ETag, 304 on If-None-Match).
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import { createHash } from 'node:crypto';
import { envelopeJson } from '../../src/protocol/envelope.js';
import { HttpError } from '../../src/server/http.js';
import { seriesCsv, totalsCsv } from './csv.js';
import { openApiDocument } from './openapi.js';
import type { TotalsService } from './service.js';
import type { TotalsSigner } from './sign.js';

export interface ApiOptions {
  service: TotalsService;
  signer: TotalsSigner;
  maxAgeSeconds: number;
}

/** A single query parameter; a repeated one is a bad request, not a silent pick. */
export function queryParam(ctx: Koa.Context, name: string): string | undefined {
  const v = ctx.query[name];
  if (Array.isArray(v)) throw new HttpError('bad_parameter', `${name} given more than once`, 400);
  return v;
}

function format(ctx: Koa.Context): 'json' | 'csv' {
  const f = queryParam(ctx, 'format') ?? 'json';
  if (f !== 'json' && f !== 'csv') throw new HttpError('bad_format', 'format is json or csv', 400);
  return f;
}

/** Sends a body with caching headers; answers 304 when the client already has it. */
export function send(ctx: Koa.Context, body: string, type: string, maxAgeSeconds: number): void {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  ctx.set('Cache-Control', `public, max-age=${maxAgeSeconds}`);
  ctx.set('ETag', etag);
  ctx.set('Vary', 'Accept-Encoding');
  const inm = ctx.get('if-none-match');
  if (inm && inm.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(etag)) {
    ctx.status = 304;
    return;
  }
  ctx.type = type;
  ctx.body = body;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const CSV_TYPE = 'text/csv; charset=utf-8';

export function mountApi(router: Router, o: ApiOptions): void {
  const { service, signer } = o;
  const cors: Koa.Middleware = async (ctx, next) => {
    // Set before the handler runs so error responses carry it too.
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Access-Control-Expose-Headers', 'ETag');
    await next();
  };
  const json = (ctx: Koa.Context, doc: unknown) => send(ctx, JSON.stringify(doc), JSON_TYPE, o.maxAgeSeconds);
  const openapi = JSON.stringify(openApiDocument());

  router.get('/api/v1/products', cors, (ctx) => json(ctx, { products: service.summaries() }));

  router.get('/api/v1/manifests', cors, (ctx) => json(ctx, { manifests: service.allManifests() }));

  router.get('/api/v1/manifests/:product', cors, (ctx) => json(ctx, service.manifest(ctx.params.product)));

  router.get('/api/v1/products/:product/totals', cors, (ctx) => {
    const fmt = format(ctx);
    const signed = queryParam(ctx, 'signed') ?? '0';
    if (signed !== '0' && signed !== '1') throw new HttpError('bad_parameter', 'signed is 0 or 1', 400);
    if (signed === '1' && fmt === 'csv') throw new HttpError('bad_parameter', 'signed totals are JSON only', 400);
    const t = service.totals(ctx.params.product, queryParam(ctx, 'window'), queryParam(ctx, 'period'));
    if (fmt === 'csv') send(ctx, totalsCsv(t), CSV_TYPE, o.maxAgeSeconds);
    else if (signed === '1') send(ctx, envelopeJson(signer.sign(t)), JSON_TYPE, o.maxAgeSeconds);
    else json(ctx, t);
  });

  router.get('/api/v1/products/:product/series', cors, (ctx) => {
    const fmt = format(ctx);
    const s = service.series(ctx.params.product, queryParam(ctx, 'field'), queryParam(ctx, 'window'), queryParam(ctx, 'from'), queryParam(ctx, 'to'));
    if (fmt === 'csv') send(ctx, seriesCsv(s), CSV_TYPE, o.maxAgeSeconds);
    else json(ctx, s);
  });

  router.get('/api/v1/key', cors, (ctx) => json(ctx, signer.keyDoc));

  router.get('/api/v1/openapi.json', cors, (ctx) => send(ctx, openapi, JSON_TYPE, o.maxAgeSeconds));
}
