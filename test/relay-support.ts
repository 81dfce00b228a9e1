/** Shared by the relay tests: installations that sign real reports, raw HTTP from a chosen address, a stub aggregator. */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import {
  buildReport, envelopeJson, keyPairFromSeed, signReport, toBase64Url, verifyEnvelopeAsync, type KeyPair,
} from '../src/protocol/index.js';
import { loadManifestDir } from '../src/manifests.js';
import { parseRelayConfig, type RelayConfig, type RelayConfigInput } from '../relay/config.js';

export const manifests = loadManifestDir();
const operately = manifests.latest('operately')!;
export const EXACT = { version: '1.4.2', elixir_version: '1.16.3', otp_version: '26.2.5', os: 'linux', architecture: 'x86_64', deployment_type: 'docker', users: 37 };

const made: string[] = [];

/** A fresh directory under the OS temp dir; a test file that makes any calls removeTempDirs in afterAll. */
export function tempDir(prefix = 'beacon-relay-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every directory tempDir made in this test file (after its relays are closed). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** An installation with a deterministic key; `report(seq, now)` signs a real report. */
export function installation(n: number): { keys: KeyPair; key: string; report(seq: number, now?: number, exact?: Record<string, unknown>): string } {
  const seed = new Uint8Array(32);
  seed[0] = n & 0xff;
  seed[1] = (n >> 8) & 0xff;
  seed[31] = 7;
  const keys = keyPairFromSeed(seed);
  const key = toBase64Url(keys.publicKey);
  return {
    keys,
    key,
    report: (seq, now = Date.now(), exact = EXACT) => envelopeJson(signReport(buildReport(operately, exact, { key, seq, now }), keys)),
  };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

/** A raw HTTP request, optionally from another loopback address, with bounded time. */
export function request(
  url: string,
  opts: { method?: string; body?: string | Buffer; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
        headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
        localAddress: opts.localAddress,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function postReport(base: string, body: string, opts: { localAddress?: string; headers?: Record<string, string> } = {}) {
  return request(`${base}/v1/reports`, { body, ...opts });
}

/** A relay config for tests: temp db, no push delay, no backoff. */
export function relayConfig(dir: string, over: RelayConfigInput = {}): RelayConfig {
  return parseRelayConfig({
    port: 0,
    dbPath: join(dir, 'relay.db'),
    ...over,
    push: { maxDelayMs: 0, backoffBaseMs: 0, ...over.push },
  });
}

/**
 * A small stand-in for the aggregator's batch endpoint: verifies every item with the
 * real verifier, refuses replays per key, and records what it accepted.
 */
export class StubAggregator {
  down = false;
  /** Per-item code to answer for every item (e.g. 'rate_limited'), instead of judging. */
  forceCode: string | undefined;
  readonly accepted: string[] = [];
  readonly rejected: string[] = [];
  batches = 0;
  private readonly lastSeq = new Map<string, number>();
  private readonly seen = new Set<string>();
  private server: http.Server | undefined;
  url = '';

  async start(): Promise<string> {
    const app = new Koa();
    app.use(async (ctx) => {
      if (ctx.method !== 'POST' || ctx.path !== '/v1/reports/batch') { ctx.status = 404; return; }
      const chunks: Buffer[] = [];
      for await (const c of ctx.req) chunks.push(c as Buffer);
      if (this.down) { ctx.status = 503; ctx.body = { error: { code: 'unavailable', message: 'down' } }; return; }
      this.batches++;
      const { reports } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { reports: unknown[] };
      let accepted = 0;
      let duplicates = 0;
      const rejected: { index: number; code: string; message: string }[] = [];
      for (const [index, item] of reports.entries()) {
        const text = JSON.stringify(item);
        if (this.forceCode) { rejected.push({ index, code: this.forceCode, message: 'forced' }); continue; }
        const v = await verifyEnvelopeAsync(text, { manifests });
        if (!v.ok) { this.rejected.push(v.error.code); rejected.push({ index, code: v.error.code, message: v.error.message }); continue; }
        const id = v.envelope.payload + v.envelope.signatures[0]!.sig;
        if (this.seen.has(id)) { duplicates++; continue; }
        if ((this.lastSeq.get(v.report.key) ?? 0) >= v.report.seq) { this.rejected.push('replayed'); rejected.push({ index, code: 'replayed', message: 'replayed' }); continue; }
        this.seen.add(id);
        this.lastSeq.set(v.report.key, v.report.seq);
        this.accepted.push(text);
        accepted++;
      }
      ctx.status = 202;
      ctx.body = { accepted, duplicates, rejected };
    });
    const srv = app.listen(0, '127.0.0.1');
    this.server = srv;
    await new Promise<void>((r) => srv.once('listening', () => r()));
    this.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    const srv = this.server;
    if (!srv) return;
    await new Promise<void>((r) => { srv.close(() => r()); srv.closeAllConnections(); });
  }
}

/** Collects log lines as the console logger would print them. */
export function captureLog(): { lines: string[]; log: (level: string, msg: string, fields?: Record<string, unknown>) => void } {
  const lines: string[] = [];
  return { lines, log: (level, msg, fields) => lines.push(JSON.stringify({ level, msg, ...fields })) };
}

/** Polls `check` every 50 ms, at most `tries` times. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}
