/**
 * The crawler's one HTTP client, on node:http/https directly so that every limit is
 * ours: connect and total timeouts, a byte cap while reading (and on every redirect
 * hop), at most N redirects and never to another origin, JSON only, conditional GET.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { AddressError, checkedLookup, isPrivateAddress } from './address.js';

export interface FetchOptions {
  connectTimeoutMs: number;
  totalTimeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  allowPrivate: boolean;
  userAgent: string;
  etag?: string | null;
}

export type FetchResult =
  | { status: 200; body: Buffer; etag: string | null }
  | { status: 304 };

/** Stable crawl failure codes; recorded on the target and counted in metrics. */
export type FetchErrorCode =
  | 'bad_url' | 'private_address' | 'dns_failed' | 'unreachable' | 'connect_timeout' | 'timeout'
  | 'too_large' | 'too_many_redirects' | 'cross_origin_redirect' | 'bad_status' | 'bad_content_type' | 'network';

export class FetchError extends Error {
  constructor(readonly code: FetchErrorCode, message: string) {
    super(message);
  }
}

/** Anything with this shape can stand in for the network (tests, the demo). */
export type Fetcher = (url: string, opts: FetchOptions) => Promise<FetchResult>;

export const httpFetch: Fetcher = async (url, opts) => {
  const deadline = Date.now() + opts.totalTimeoutMs;
  let current = parseUrl(url);
  for (let hop = 0; ; hop++) {
    const r = await oneHop(current, opts, deadline);
    if (!('location' in r)) return r;
    if (hop >= opts.maxRedirects) throw new FetchError('too_many_redirects', `more than ${opts.maxRedirects} redirects`);
    let next: URL;
    try {
      next = new URL(r.location, current);
    } catch {
      throw new FetchError('bad_url', 'redirect to an invalid URL');
    }
    if (next.origin !== current.origin) throw new FetchError('cross_origin_redirect', `redirect to another origin (${next.origin})`);
    // Same origin, but node:http would send these as an Authorization header.
    if (next.username || next.password) throw new FetchError('bad_url', 'redirect to a URL with credentials');
    current = next;
  }
};

function parseUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FetchError('bad_url', 'not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new FetchError('bad_url', 'only http and https');
  if (u.username || u.password) throw new FetchError('bad_url', 'no credentials in URLs');
  return u;
}

const NETWORK_CODES: Record<string, FetchErrorCode> = {
  ECONNREFUSED: 'unreachable', EHOSTUNREACH: 'unreachable', ENETUNREACH: 'unreachable', ECONNRESET: 'network',
  ENOTFOUND: 'dns_failed', EAI_AGAIN: 'dns_failed',
};

function oneHop(u: URL, opts: FetchOptions, deadline: number): Promise<FetchResult | { location: string }> {
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !opts.allowPrivate && isPrivateAddress(host))
    return Promise.reject(new FetchError('private_address', 'target address is loopback, private or link-local'));
  const remaining = deadline - Date.now();
  if (remaining <= 0) return Promise.reject(new FetchError('timeout', 'total timeout'));

  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: FetchError | null, value?: FetchResult | { location: string }) => {
      if (done) return;
      done = true;
      clearTimeout(total);
      if (connectTimer) clearTimeout(connectTimer);
      // Settle first, then hang up: the hang-up's own error events must not win.
      if (err) reject(err);
      else resolve(value!);
      req.destroy();
    };
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': opts.userAgent };
    if (opts.etag) headers['if-none-match'] = opts.etag;
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, {
      method: 'GET',
      headers,
      agent: false,
      lookup: checkedLookup(opts.allowPrivate) as unknown as http.RequestOptions['lookup'],
    });
    const total = setTimeout(() => finish(new FetchError('timeout', `no complete answer within ${opts.totalTimeoutMs} ms`)), remaining);
    let connectTimer: NodeJS.Timeout | undefined;
    req.on('socket', (socket) => {
      connectTimer = setTimeout(() => finish(new FetchError('connect_timeout', `no connection within ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
      socket.once(u.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof AddressError) return finish(new FetchError('private_address', e.message));
      finish(new FetchError(NETWORK_CODES[e.code ?? ''] ?? 'network', `${e.code ?? 'error'}: ${e.message.slice(0, 120)}`));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && status !== 304) {
        const location = res.headers.location;
        // a redirect's body is never read (finish hangs up)
        if (!location) return finish(new FetchError('bad_status', `${status} without Location`));
        return finish(null, { location });
      }
      if (status === 304) return finish(null, { status: 304 });
      if (status !== 200) {
        return finish(new FetchError('bad_status', `HTTP ${status}`));
      }
      const type = (res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') {
        return finish(new FetchError('bad_content_type', `content type "${type.slice(0, 60)}" is not application/json`));
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > opts.maxBytes) {
        return finish(new FetchError('too_large', `declared ${declared} bytes; the cap is ${opts.maxBytes}`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > opts.maxBytes) finish(new FetchError('too_large', `body over ${opts.maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        const etag = res.headers.etag;
        finish(null, { status: 200, body: Buffer.concat(chunks, size), etag: typeof etag === 'string' && etag.length <= 256 ? etag : null });
      });
      res.on('error', (e) => finish(new FetchError('network', e.message.slice(0, 120))));
      res.on('aborted', () => finish(new FetchError('network', 'response aborted')));
    });
    req.end();
  });
}
