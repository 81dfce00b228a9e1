/**
 * A host app for beacon tests: a real koa app on 127.0.0.1 with the beacon's middleware,
 * a clock the test moves, a temp state directory, and a scan of every byte the beacon wrote.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import type { Beacon } from '../../src/beacon/index.js';
import { loadManifestFile, SHIPPED_MANIFESTS_DIR } from '../../src/manifests.js';
import { errorMiddleware, silentLogger } from '../../src/server/http.js';

export const operately = loadManifestFile(join(SHIPPED_MANIFESTS_DIR, 'operately.json'));

/** The sentinel exact value: it must never leave the process, on the wire or on disk. */
export const SENTINEL = 123457;

export function exactValues(users = SENTINEL): Record<string, unknown> {
  return { version: '1.4.2-ee', elixir_version: '1.16.3', otp_version: '26.2.5', os: 'linux', architecture: 'x86_64', deployment_type: 'docker', users, projects: 12 };
}

export interface TestClock {
  (): number;
  set(iso: string): void;
  advance(ms: number): void;
}

export function testClock(startIso: string): TestClock {
  let now = Date.parse(startIso);
  const c = (() => now) as TestClock;
  c.set = (iso) => { now = Date.parse(iso); };
  c.advance = (ms) => { now += ms; };
  return c;
}

export function tempDir(prefix = 'beacon-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every file below `dir`, recursively, with its bytes. */
export function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [{ path: p, bytes: readFileSync(p) }];
  });
}

export interface Host {
  url: string;
  close(): Promise<void>;
}

/** A koa app that mounts the beacon's well-known middleware in front of its own routes. */
export async function startHost(beacon: Beacon): Promise<Host> {
  const app = new Koa();
  app.use(errorMiddleware(silentLogger));
  app.use(beacon.middleware());
  app.use(async (ctx) => {
    if (ctx.path === '/') ctx.body = { app: 'host' };
  });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Polls `check` every 10 ms, at most `tries` times; for effects of the beacon's own timer. */
export async function eventually(check: () => boolean, tries = 500): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}

/** A fetch that records every call and never opens a socket. */
export function recordingFetch(): { calls: string[]; fetch: (url: string) => Promise<never> } {
  const calls: string[] = [];
  return { calls, fetch: async (url: string) => { calls.push(url); throw new Error('recordingFetch: no network in this test'); } };
}
