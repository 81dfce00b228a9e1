/**
 * `runDemo`: a whole federation on one machine, on 127.0.0.1 with real sockets, keys,
 * signatures and SQLite files: one aggregator, two relays and N installations, each a
 * koa app embedding `createBeacon` with its own key and state directory. The
 * installations live in a few worker threads (host.ts), the rest in this thread.
 *
 * How reports travel (one path per installation, chosen by the generator):
 *   crawled  the aggregator fetches GET /.well-known/beacon (registered via POST /v1/targets)
 *   relay-a  pushed to relay A, which pushes batches on to the aggregator
 *   relay-b  pushed to relay B, whose pull feed the aggregator crawls
 *   direct   pushed straight to the aggregator
 *
 * Replay: every component, in every thread, reads one shared clock. For each simulated
 * day: at 03:00 UTC the aggregator's retention job runs; at 08:00 every living
 * installation runs once (collect, sign, serve, push); at 09:00 the relays run their
 * publish/push step and the aggregator crawls. Driving `runOnce`/`pushOnce`/`crawlOnce`
 * directly, instead of waiting for cron, makes the replay as fast as the disk allows and
 * its result exact.
 *
 * Live (`startLive`): the clock switches to real time and the components' own schedules
 * take over: each installation reports every two minutes (at its own second), the
 * aggregator crawls every 30 s (each target is due 60 s after its last fetch), and the
 * relays publish and push every 30 s. A report replaces the same day's report, so today's
 * numbers fill in while you watch.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createAggregator, type Aggregator } from '../aggregator/index.js';
import { parseRelayConfig } from '../relay/config.js';
import { createRelay, type Relay } from '../relay/server.js';
import { fromBase64, toBase64 } from '../src/protocol/base64.js';
import { EnvelopeSchema, envelopeJson, type Envelope } from '../src/protocol/envelope.js';
import { BeaconError } from '../src/protocol/errors.js';
import { addDays, dayOf, dayStart, type Clock } from '../src/protocol/time.js';
import type { Logger } from '../src/server/http.js';
import { createFleet, deriveSeed, mulberry32, PATHS, type DemoPath, type Fleet } from './generator.js';
import { sharedClock, type DayResult, type HostedInfo, type HostInit } from './host.js';
import type { HostMessage, HostRequest } from './worker.js';

const HOUR = 3_600_000;
/** Written into the data directory, so a wipe never hits a directory the demo did not make. */
const MARKER = '.beacon-demo';

export interface DemoOptions {
  /** Installations to simulate (default 200). */
  installations?: number;
  /** Weeks of history to replay before going live (default 8). */
  weeks?: number;
  /** The aggregator's port (default 8080; 0 picks a free one). */
  port?: number;
  /** Everything is wiped and recreated here (default ./data/demo). */
  dataDir?: string;
  /** Seed of the generator: the same seed gives the same exact values (default 1). */
  seed?: number;
  /** The publication threshold k (default: the aggregator's). */
  k?: number;
  /** The replay covers the weeks before this UTC day (default: today). */
  today?: string;
  /** Worker threads hosting the installations (default: up to 4, one per 25 installations). */
  threads?: number;
  /** Installations running a report at the same time, per thread (default 4). */
  concurrency?: number;
  /** Send a few bad reports each simulated week (tampered, stale), so rejection shows in the metrics (default true). */
  hostile?: boolean;
  /** Called after each simulated week. */
  onProgress?: (p: DemoProgress) => void;
  /** Components' warnings and errors (default: none). */
  log?: Logger;
  /** Aborting stops the replay after the current day; the demo is returned as far as it got. */
  signal?: AbortSignal;
}

export interface DemoProgress {
  week: number;
  weeks: number;
  /** The last simulated day done. */
  day: string;
  reports: number;
  failedRuns: number;
  elapsedMs: number;
  rssBytes: number;
}

export type DemoInstallation = HostedInfo;

export interface PathSummary {
  installations: number;
  /** With a stored report for the last replayed (or a later) day. */
  reporting: number;
  /** Shut down during the replay (churn). */
  stopped: number;
}

export interface DemoSummary {
  url: string;
  installations: number;
  byPath: Record<DemoPath, PathSummary>;
  reportsStored: number;
  /** The aggregator's retention: stored reports older than this many days are gone. */
  retentionDays: number;
  /** The aggregator's beacon_aggregator_reports_rejected_total, by code. */
  rejected: Record<string, number>;
  replay: { from: string; to: string; days: number; reports: number; failedRuns: number; seconds: number };
  threads: number;
  peakRssBytes: number;
}

export interface Demo {
  url: string;
  dataDir: string;
  aggregator: Aggregator;
  relays: { a: Relay; b: Relay; aUrl: string; bUrl: string };
  /** The generator, as configured for this run (a fresh `createFleet(fleet.options)` replays the same values). */
  fleet: Fleet;
  installations: DemoInstallation[];
  /** The shared clock every component reads. */
  clock: Clock;
  summary(): DemoSummary;
  /** Switches to real time and starts every component's own schedule. */
  startLive(): Promise<void>;
  /** Stops schedules, closes every server, thread and database. Idempotent. */
  close(): Promise<void>;
}

/** Removes and recreates the demo's data directory, refusing one the demo did not create. */
export function resetDataDir(dir: string): void {
  const abs = resolve(dir);
  if (existsSync(abs) && readdirSync(abs).length > 0 && !existsSync(join(abs, MARKER)))
    throw new BeaconError('bad_option', `${abs} exists and was not made by the demo; refusing to wipe it`);
  rmSync(abs, { recursive: true, force: true });
  mkdirSync(abs, { recursive: true });
  writeFileSync(join(abs, MARKER), 'Created by `beacon demo`; wiped at every start.\n');
}

function portInUse(port: number, host: string): BeaconError {
  return new BeaconError('port_in_use', `port ${port} on ${host} is in use; pick another with --port`);
}

/**
 * Binds the aggregator's port before anything is wiped, and holds it until the aggregator
 * takes it over (the returned release, idempotent), so a clash is found while ./data/demo
 * is still intact and nothing else can take the port in between. Port 0 needs no hold.
 */
export async function reservePort(port: number, host: string): Promise<() => Promise<void>> {
  if (port === 0) return async () => {};
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? portInUse(port, host) : e));
    server.listen(port, host, () => resolve());
  });
  let released: Promise<void> | null = null;
  return () => (released ??= new Promise<void>((r) => server.close(() => r())));
}

/** The aggregator's rejection counter, by code (parsed from its Prometheus text). */
export function rejectedByCode(aggregator: Aggregator): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of aggregator.metrics.rejected.render().matchAll(/\{code="([^"]+)"\} (\d+)/g)) out[m[1]!] = Number(m[2]);
  return out;
}

/** A copy of an envelope whose report claims a later seq, with the signature kept: it must fail to verify. */
function tamper(e: Envelope): string {
  const report = JSON.parse(Buffer.from(fromBase64(e.payload)!).toString('utf8')) as { seq: number };
  report.seq += 1000;
  return envelopeJson({ ...e, payload: toBase64(Buffer.from(JSON.stringify(report))) });
}

// A small young generation: the threads allocate little that lives, and each semi-space otherwise costs tens of MB.
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 };

/** The worker script: compiled JS next to this file, or (tests, tsx) the TS source through tsx's loader. */
function spawnWorker(workerData: unknown): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./worker.js', here), { workerData, resourceLimits: WORKER_LIMITS });
  const require = createRequire(here);
  const tsxDir = dirname(require.resolve('tsx/package.json'));
  const exports = (JSON.parse(readFileSync(join(tsxDir, 'package.json'), 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
  const api = pathToFileURL(join(tsxDir, exports['./esm/api']!.import.default)).href;
  const entry = new URL('./worker.ts', here).href;
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { eval: true, workerData, resourceLimits: WORKER_LIMITS });
}

/** The main thread's handle on one worker: request/reply by id, logs forwarded. */
class HostClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;

  constructor(readonly worker: Worker, log: Logger) {
    worker.on('message', (m: HostMessage) => {
      if (m.type === 'log') return log(m.level, m.msg, m.fields);
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.ok) p?.resolve(m.result);
      else p?.reject(new Error(`installation thread: ${m.error}`));
    });
    const fail = (e: Error) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => {
      log('error', 'installation thread failed', { err: String(e?.stack ?? e) });
      fail(e);
    });
    this.exited = new Promise((r) => worker.once('exit', () => {
      fail(new Error('installation thread exited'));
      r();
    }));
  }

  call<T>(op: 'start' | 'live' | 'close'): Promise<T>;
  call<T>(op: 'day', d: number): Promise<T>;
  call<T>(op: HostRequest['op'], d?: number): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage(op === 'day' ? { id, op, d } : { id, op });
    });
  }

  /** Closes the installations, then waits for the thread to end (terminating it if it hangs). */
  async close(): Promise<void> {
    const hung = setTimeout(() => void this.worker.terminate(), 15_000);
    await this.call('close').catch(() => undefined);
    await this.exited;
    clearTimeout(hung);
  }
}

export async function runDemo(options: DemoOptions = {}): Promise<Demo> {
  const n = options.installations ?? 200;
  const weeks = options.weeks ?? 8;
  const host = '127.0.0.1';
  const dataDir = resolve(options.dataDir ?? './data/demo');
  const seed = options.seed ?? 1;
  const log = options.log ?? (() => {});
  if (!Number.isInteger(n) || n < 1 || n > 5000) throw new BeaconError('bad_option', 'installations is 1..5000');
  if (!Number.isInteger(weeks) || weeks < 1 || weeks > 52) throw new BeaconError('bad_option', 'weeks is 1..52');
  const threads = options.threads ?? Math.max(1, Math.min(4, Math.ceil(n / 25), availableParallelism() * 2));

  const days = weeks * 7;
  const startDay = addDays(options.today ?? dayOf(Date.now()), -days);
  const clockBuffer = new SharedArrayBuffer(8);
  const clock = sharedClock(clockBuffer);
  clock.set(dayStart(startDay) + 8 * HOUR);

  const port = options.port ?? 8080;
  const releasePort = await reservePort(port, host);
  try {
    resetDataDir(dataDir);
  } catch (e) {
    await releasePort();
    throw e;
  }
  const fleet = createFleet({ seed, installations: n, startDay, days });
  const rng = mulberry32(deriveSeed(seed, 0xdeadbeef));

  // Started in dependency order; whatever started is closed again (in reverse) if a later step fails.
  const closers: (() => Promise<void>)[] = [releasePort];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch((e) => log('error', 'demo shutdown step failed', { err: String(e) }));
  };
  try {
    const relayConfig = (name: string, aggregators: string[]) => parseRelayConfig({
      port: 0, host, dbPath: join(dataDir, `${name}.db`), aggregators,
      // One process holds every sender, so per-source limits are lifted; no push delay, so the replay is quick.
      rateLimit: { capacity: 1_000_000, refillPerSec: 1_000_000 },
      newKeysPerSourcePerDay: 10_000_000,
      push: { maxDelayMs: 0 },
    }, name);
    // Relay B is pulled (the aggregator crawls its feed), so it exists before the aggregator.
    const relayB = createRelay(relayConfig('relay-b', []), { now: clock.now, random: rng, schedule: false, log });
    closers.push(() => relayB.close());
    const bUrl = await relayB.listen();

    const aggregator = createAggregator({
      port, host,
      dbPath: join(dataDir, 'aggregator.db'),
      rateLimit: { capacity: 1_000_000, refillPerSec: 1_000_000 },
      crawl: { allowPrivate: true, schedule: '*/30 * * * * *', intervalMs: 60_000, backoff: { baseMs: 60_000, maxMs: 3_600_000 } },
      relays: [{ url: bUrl }],
      // "live": the demo shows totals moving as reports arrive, so it serves the current,
      // unfinished window too (a real aggregator publishes only final windows; docs/TOTALS.md).
      totals: { ...(options.k !== undefined ? { k: options.k } : {}), maxAgeSeconds: 10, publish: 'live' },
    }, { clock: clock.now, log });
    closers.push(() => aggregator.close());
    let url: string;
    await releasePort();
    try {
      url = (await aggregator.listen()).url;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw portInUse(port, host);
      throw e;
    }

    const relayA = createRelay(relayConfig('relay-a', [url]), { now: clock.now, random: rng, schedule: false, log });
    closers.push(() => relayA.close());
    const aUrl = await relayA.listen();

    const hosts: HostClient[] = [];
    closers.push(async () => { await Promise.all(hosts.map((h) => h.close())); });
    const targets: Record<DemoPath, string[]> = { crawled: [], 'relay-a': [aUrl], 'relay-b': [bUrl], direct: [url] };
    for (let t = 0; t < threads; t++) {
      const init: HostInit = {
        fleet: fleet.options, dataDir, host, targets, aggregatorUrl: url, concurrency: options.concurrency ?? 4,
        indexes: fleet.installations.map((s) => s.index).filter((i) => i % threads === t),
      };
      hosts.push(new HostClient(spawnWorker({ init, clockBuffer }), log));
    }
    const installations = (await Promise.all(hosts.map((h) => h.call<HostedInfo[]>('start')))).flat().sort((a, b) => a.index - b.index);

    // ---- replay ----
    const t0 = performance.now();
    let reports = 0;
    let failedRuns = 0;
    const kept: Envelope[] = []; // one installation's envelopes, day by day, for the hostile sender
    const post = (path: string, body: string) =>
      fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.arrayBuffer());
    let done = 0;
    for (let d = 0; d < days && !options.signal?.aborted; d++) {
      const day = fleet.dayOfIndex(d);
      clock.set(dayStart(day) + 3 * HOUR);
      aggregator.retentionOnce();
      clock.set(dayStart(day) + 8 * HOUR);
      for (const r of await Promise.all(hosts.map((h) => h.call<DayResult>('day', d)))) {
        reports += r.reports;
        failedRuns += r.failed;
      }
      if (options.hostile !== false) {
        // Someone replays and tampers with what an installation publishes: the aggregator must refuse it.
        const sample = installations.find((x) => x.path === 'crawled' && fleet.installations[x.index]!.alive(d));
        if (sample) {
          const res = await fetch(`${sample.url}/.well-known/beacon`);
          const env = EnvelopeSchema.safeParse(await res.json().catch(() => null));
          if (env.success) kept.push(env.data);
        }
        if (d % 7 === 6 && kept.length) {
          await post('/v1/reports', tamper(kept[kept.length - 1]!));
          if (kept.length > 9) await post('/v1/reports', envelopeJson(kept[kept.length - 10]!));
        }
      }
      clock.set(dayStart(day) + 9 * HOUR);
      await relayA.pushOnce();
      await relayB.pushOnce();
      await aggregator.crawlOnce();
      done = d + 1;
      if (d % 7 === 6 || d === days - 1) {
        options.onProgress?.({
          week: Math.ceil(done / 7), weeks, day, reports, failedRuns,
          elapsedMs: performance.now() - t0, rssBytes: process.memoryUsage.rss(),
        });
      }
    }
    const replaySeconds = (performance.now() - t0) / 1000;
    const lastDay = fleet.dayOfIndex(Math.max(0, done - 1));

    let liveTimer: NodeJS.Timeout | null = null;
    let closed: Promise<void> | null = null;
    return {
      url, dataDir, aggregator, relays: { a: relayA, b: relayB, aUrl, bUrl }, fleet, installations, clock: clock.now,
      summary() {
        const current = new Set(aggregator.store.db
          .prepare<[string], { key: string }>('SELECT DISTINCT key FROM reports WHERE period >= ?').all(lastDay).map((r) => r.key));
        const byPath = Object.fromEntries(PATHS.map((p) => [p, { installations: 0, reporting: 0, stopped: 0 }])) as Record<DemoPath, PathSummary>;
        for (const x of installations) {
          const s = byPath[x.path];
          s.installations++;
          if (x.publicKey && current.has(x.publicKey)) s.reporting++;
          const gone = fleet.installations[x.index]!.goneDay;
          if (gone !== null && gone < done) s.stopped++;
        }
        return {
          url, installations: n, byPath,
          reportsStored: aggregator.store.counts().reports,
          retentionDays: aggregator.config.retentionDays,
          rejected: rejectedByCode(aggregator),
          replay: { from: startDay, to: lastDay, days: done, reports, failedRuns, seconds: replaySeconds },
          threads,
          // maxRSS is the whole process, worker threads included (kilobytes on Linux).
          peakRssBytes: process.resourceUsage().maxRSS * 1024,
        };
      },
      async startLive() {
        if (liveTimer || closed) return;
        clock.set(null);
        await Promise.all(hosts.map((h) => h.call('live')));
        aggregator.startSchedules();
        liveTimer = setInterval(() => {
          for (const r of [relayA, relayB]) r.pushOnce().catch((e) => log('error', 'relay push failed', { err: String(e) }));
        }, 30_000);
      },
      close() {
        closed ??= (async () => {
          if (liveTimer) clearInterval(liveTimer);
          liveTimer = null;
          await closeAll();
        })();
        return closed;
      },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
