/**
 * `GET /.well-known/beacon`: the installation's current signed envelope, as stored bytes.
 * Answering only reads memory; nothing here collects or signs, so a crawler cannot make the
 * host do work. One answer function, two adapters (koa and plain node:http).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';
import { errorBody } from '../server/http.js';

export const WELL_KNOWN_PATH = '/.well-known/beacon';
export const WELL_KNOWN_MAX_AGE_S = 3600;

export interface Served {
  bytes: Buffer;
  etag: string;
}

export interface WellKnownAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | null;
}

/** A strong ETag: a hash of exactly the bytes served. */
export function etagOf(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 32)}"`;
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  // If-None-Match uses weak comparison (RFC 9110 §13.1.2): W/ prefixes do not matter.
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

function error(status: number, code: string, message: string, headers: Record<string, string> = {}): WellKnownAnswer {
  return {
    status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
    body: Buffer.from(JSON.stringify(errorBody(code, message))),
  };
}

/** The answer for a request to the well-known path; `served` is null when there is nothing to serve. */
export function answerWellKnown(method: string, ifNoneMatch: string | undefined, served: Served | null): WellKnownAnswer {
  if (method !== 'GET' && method !== 'HEAD') return error(405, 'method_not_allowed', 'use GET', { Allow: 'GET, HEAD' });
  if (!served) return error(404, 'not_found', 'no beacon report is published here');
  const headers = { ETag: served.etag, 'Cache-Control': `public, max-age=${WELL_KNOWN_MAX_AGE_S}` };
  if (matches(ifNoneMatch, served.etag)) return { status: 304, headers, body: null };
  return { status: 200, headers: { ...headers, 'Content-Type': 'application/json' }, body: served.bytes };
}

type Answerer = (method: string, ifNoneMatch: string | undefined) => WellKnownAnswer;

export function wellKnownMiddleware(answer: Answerer): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.path !== WELL_KNOWN_PATH) return next();
    const a = answer(ctx.method, ctx.get('if-none-match') || undefined);
    ctx.status = a.status;
    if (a.body) ctx.body = a.body;
    ctx.set(a.headers); // after the body, which would otherwise set its own Content-Type
  };
}

/** A node:http handler: answers the well-known path and returns true, or returns false untouched. */
export function wellKnownHandler(answer: Answerer): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== WELL_KNOWN_PATH) return false;
    const inm = req.headers['if-none-match'];
    const a = answer(req.method ?? 'GET', Array.isArray(inm) ? inm.join(',') : inm);
    const headers: Record<string, string | number> = { ...a.headers };
    if (a.body) headers['Content-Length'] = a.body.length;
    res.writeHead(a.status, headers);
    res.end(a.body && req.method !== 'HEAD' ? a.body : undefined);
    return true;
  };
}
