/**
 * A small report receiver for tests of the installation library: POST /v1/reports verifies the
 * envelope (node:crypto, as servers do), keeps the raw bytes and the report, and answers 202.
 * It can be told to answer an error, and be stopped and started again on the same port.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import Koa from 'koa';
import { ManifestRegistry } from '../../src/protocol/registry.js';
import type { Manifest } from '../../src/protocol/manifest.js';
import type { Report } from '../../src/protocol/report.js';
import { verifyEnvelopeAsync } from '../../src/protocol/verify.js';
import { MAX_ENVELOPE_BYTES } from '../../src/protocol/envelope.js';
import { errorBody, errorMiddleware, readBody, requireJson, silentLogger } from '../../src/server/http.js';

export interface Received {
  raw: Buffer;
  report: Report;
}

export interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  /** Every body POSTed, verified or not. */
  readonly raw: Buffer[];
  /** TCP connections accepted since start (or since `resetCounts`). */
  connections: number;
  /** null: verify and accept; a number: answer every report with that status. */
  failWith: number | null;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startReceiver(opts: { manifests: Manifest[]; now: () => number; port?: number }): Promise<Receiver> {
  const registry = new ManifestRegistry(opts.manifests);
  const app = new Koa();
  let server: Server | null = null;
  // While stopped, the port is held by a server that resets every connection (the receiver is
  // "down"), so no other process on a shared machine can take it before start() again.
  let holder: NetServer | null = null;
  const sockets = new Set<Socket>();
  const r: Receiver = {
    url: '',
    port: opts.port ?? 0,
    received: [],
    raw: [],
    connections: 0,
    failWith: null,
    async start() {
      if (server) return;
      if (holder) {
        const h = holder;
        holder = null;
        await new Promise<void>((resolve) => h.close(() => resolve()));
      }
      const s = createServer(app.callback());
      s.on('connection', (sock) => {
        r.connections++;
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(r.port, '127.0.0.1', () => resolve());
      });
      server = s;
      const port = (s.address() as AddressInfo).port;
      Object.assign(r, { port, url: `http://127.0.0.1:${port}` });
    },
    async stop() {
      const s = server;
      server = null;
      if (!s) return;
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((resolve) => s.close(() => resolve()));
      const h = createNetServer((sock) => sock.destroy());
      await new Promise<void>((resolve) => h.listen(r.port, '127.0.0.1', () => resolve()));
      h.unref();
      holder = h;
    },
  };
  app.use(errorMiddleware(silentLogger));
  app.use(async (ctx) => {
    if (ctx.path !== '/v1/reports' || ctx.method !== 'POST') return;
    requireJson(ctx);
    const body = await readBody(ctx, MAX_ENVELOPE_BYTES);
    r.raw.push(body);
    if (r.failWith !== null) {
      ctx.status = r.failWith;
      ctx.body = errorBody(r.failWith >= 500 ? 'unavailable' : 'schema_violation', 'told to fail');
      return;
    }
    const v = await verifyEnvelopeAsync(body, { manifests: registry, now: opts.now });
    if (!v.ok) {
      ctx.status = 400;
      ctx.body = errorBody(v.error.code, v.error.message);
      return;
    }
    r.received.push({ raw: body, report: v.report });
    ctx.status = 202;
    ctx.body = { accepted: true };
  });
  await r.start();
  return r;
}
