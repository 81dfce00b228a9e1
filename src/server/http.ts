/**
 * HTTP edge shared by the relay and the aggregator: one error shape
 * `{"error": {"code", "message"}}`, statuses mapped from codes in one place,
 * body limits and content-type checks, and logging that never sees an address.
 */
import type Koa from 'koa';
import { httpStatusFor } from '../protocol/errors.js';

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(code: string, message: string, status = httpStatusFor(code), headers: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.headers = headers;
  }
}

export function errorBody(code: string, message: string, extra: Record<string, unknown> = {}) {
  return { error: { code, message, ...extra } };
}

/** A log sink. Callers pass structured fields; nothing here ever records a peer address. */
export type Logger = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export const silentLogger: Logger = () => {};

export function consoleLogger(name: string): Logger {
  return (level, msg, fields) => {
    const line = JSON.stringify({ t: new Date().toISOString().slice(0, 13) + ':00Z', level, svc: name, msg, ...fields });
    (level === 'info' ? process.stdout : process.stderr).write(line + '\n');
  };
}

/** First in every chain: maps thrown errors to the JSON error body; a bug becomes a 500, not a crash. */
export function errorMiddleware(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = errorBody('not_found', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const e = err as Partial<HttpError> & { expose?: boolean; statusCode?: number; type?: string };
      if (err instanceof HttpError) {
        ctx.status = err.status;
        for (const [k, v] of Object.entries(err.headers)) ctx.set(k, v);
        ctx.body = errorBody(err.code, err.message);
        return;
      }
      const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
      if (status >= 500) log('error', 'request failed', { path: ctx.path, err: String((err as Error)?.stack ?? err) });
      ctx.status = status;
      ctx.body = errorBody(status === 413 ? 'too_large' : status >= 500 ? 'internal' : 'bad_request', status >= 500 ? 'internal error' : String(e.message ?? 'bad request'));
    }
  };
}

/** Requires `Content-Type: application/json` (charset utf-8 allowed). */
export function requireJson(ctx: Koa.Context): void {
  const [type, ...params] = (ctx.get('content-type') || '').toLowerCase().split(';').map((p) => p.trim());
  if (type !== 'application/json') throw new HttpError('unsupported_media_type', 'send Content-Type: application/json', 415);
  // JSON is UTF-8 (RFC 8259 §8.1); a body declared in another charset is refused rather than misread.
  const charset = params.find((p) => p.startsWith('charset='))?.slice(8).replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
    throw new HttpError('unsupported_media_type', `charset ${charset} is not accepted; JSON is UTF-8`, 415);
}

/**
 * A server-wide cap on request bytes held in memory at once. Per-source rate limits do not
 * bound this: one source's burst of large batch bodies could otherwise hold gigabytes.
 */
export class ByteBudget {
  private used = 0;
  constructor(readonly max: number) {}
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
  get inUse(): number {
    return this.used;
  }
}

const busy = () => new HttpError('unavailable', 'the server is holding as many request bodies as it may; retry shortly', 503, { 'Retry-After': '1' });

/**
 * Reads the request body as bytes, failing with 413 as soon as it passes `limit`
 * (a Content-Length over the limit is refused before reading), and with 408 if it
 * does not arrive within `timeoutMs`.
 */
export async function readBody(ctx: Koa.Context, limit: number, timeoutMs = 10_000, budget?: ByteBudget): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError('too_large', `body over ${limit} bytes`, 413);
  const req = ctx.req;
  // Bytes taken from the budget are given back when the response is done with, not when the
  // body is read: the handler keeps the body (and what it parses from it) until then.
  let held = 0;
  if (budget) ctx.res.once('close', () => budget.give(held));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: Error | null, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
      if (err) {
        req.resume(); // drain what is left so the socket can answer
        reject(err);
      } else resolve(body!);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) finish(new HttpError('too_large', `body over ${limit} bytes`, 413));
      else if (budget && !budget.take(c.length)) finish(busy());
      else {
        held += budget ? c.length : 0;
        chunks.push(c);
      }
    };
    const onEnd = () => finish(null, Buffer.concat(chunks, size));
    const onError = (e: Error) => finish(new HttpError('bad_request', `body: ${e.message}`, 400));
    const timer = setTimeout(() => finish(new HttpError('timeout', 'body not received in time', 408)), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Parses a JSON body that is not a signed envelope (those go to the verifier as bytes). */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (e) {
    throw new HttpError('bad_json', `body is not valid JSON: ${(e as Error).message.slice(0, 120)}`, 400);
  }
}
