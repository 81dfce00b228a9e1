/**
 * A share of the demo's installations, hosted in one thread: each one a koa app on its own
 * port embedding `createBeacon`, with its own key and state directory. The library writes
 * its state durably (fsync) and synchronously, so the demo spreads installations over a
 * few worker threads: their disk waits overlap instead of queueing on one thread.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Koa from 'koa';
import { createBeacon, type Beacon } from '../src/beacon/index.js';
import { dayOf, type Clock } from '../src/protocol/time.js';
import type { Logger } from '../src/server/http.js';
import { createFleet, deriveSeed, mulberry32, type DemoPath, type FleetOptions, type SimInstallation } from './generator.js';

export interface HostInit {
  fleet: FleetOptions;
  /** Indexes of the fleet's installations this host runs. */
  indexes: number[];
  dataDir: string;
  host: string;
  /** Push targets per path. */
  targets: Record<DemoPath, string[]>;
  /** Where a crawled installation's admin registers it (POST /v1/targets). */
  aggregatorUrl: string;
  /** Installations running a report at the same time. */
  concurrency: number;
}

export interface HostedInfo {
  index: number;
  product: string;
  path: DemoPath;
  url: string;
  stateDir: string;
  publicKey: string | null;
}

export interface DayResult {
  reports: number;
  failed: number;
}

interface Hosted {
  info: HostedInfo;
  sim: SimInstallation;
  beacon: Beacon;
  server: http.Server | null;
}

/**
 * The shared clock: an Int64 in shared memory holding the simulated time (ms), or 0 for
 * real time. Every thread reads the same cell, so every component agrees on "now".
 */
export function sharedClock(buffer: SharedArrayBuffer): { now: Clock; set(ms: number | null): void } {
  const cell = new BigInt64Array(buffer);
  return {
    now: () => {
      const v = Atomics.load(cell, 0);
      return v === 0n ? Date.now() : Number(v);
    },
    set: (ms) => void Atomics.store(cell, 0, ms === null ? 0n : BigInt(Math.round(ms))),
  };
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
}

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

export class InstallationHost {
  private readonly hosted: Hosted[] = [];

  constructor(private readonly init: HostInit, private readonly clock: Clock, private readonly log: Logger) {}

  async start(): Promise<HostedInfo[]> {
    const { fleet: fo, dataDir, host, targets } = this.init;
    const fleet = createFleet(fo);
    for (const i of this.init.indexes) {
      const sim = fleet.installations[i]!;
      const stateDir = join(dataDir, 'installations', String(i));
      const rng = mulberry32(deriveSeed(fo.seed, i, 3));
      const beacon = createBeacon({
        product: { id: sim.model.product },
        stateDir,
        collect: () => {
          const v = sim.valuesOn(fleet.dayIndex(dayOf(this.clock())));
          if (!v) throw new Error('installation is not running today');
          return v;
        },
        targets: targets[sim.path],
        // Live: every two minutes at this installation's own second; the replay calls runOnce itself.
        schedule: `${Math.floor(rng() * 60)} */2 * * * *`,
        clock: this.clock,
        random: rng,
        logger: this.log,
        env: {}, // these installations are simulated; the operator's BEACON_ENABLED is for real ones
        retryBaseMs: 10_000,
        retryMaxMs: 10 * 60_000,
      });
      const app = new Koa();
      app.use(beacon.middleware());
      app.use((ctx) => {
        ctx.body = `Demo ${sim.model.product} installation #${i}. Its beacon report: ${ctx.origin}/.well-known/beacon\n`;
      });
      const server = http.createServer(app.callback());
      server.keepAliveTimeout = 5_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
      const url = `http://${host}:${(server.address() as AddressInfo).port}`;
      const info: HostedInfo = { index: i, product: sim.model.product, path: sim.path, url, stateDir, publicKey: beacon.status().publicKey };
      this.hosted.push({ info, sim, beacon, server });
    }
    return this.hosted.map((h) => h.info);
  }

  /** One simulated day (the clock is already set): shut down the churned, run everyone alive once. */
  async runDay(d: number): Promise<DayResult> {
    for (const h of this.hosted) {
      if (h.sim.goneDay === d && h.server) {
        // Shut down for good: no more reports, and a crawler finds nobody home.
        await h.beacon.stop();
        await closeServer(h.server);
        h.server = null;
      }
    }
    const result: DayResult = { reports: 0, failed: 0 };
    await pool(this.hosted.filter((h) => h.sim.alive(d)), this.init.concurrency, async (h) => {
      const r = await h.beacon.runOnce();
      if (!r.ok) {
        result.failed++;
        this.log('warn', 'demo installation run failed', { installation: h.info.index, code: r.code });
        return;
      }
      result.reports++;
      if (r.deliveries.some((x) => x.outcome !== 'delivered'))
        this.log('warn', 'demo installation push not delivered', { installation: h.info.index, deliveries: r.deliveries });
      // The admin registers a new installation with the aggregator once it has a report to show.
      if (h.info.path === 'crawled' && d === h.sim.bornDay) {
        const res = await fetch(`${this.init.aggregatorUrl}/v1/targets`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: h.info.url }),
        });
        const body = await res.text();
        if (res.status !== 201 && res.status !== 200) this.log('error', 'demo target registration refused', { installation: h.info.index, status: res.status, body: body.slice(0, 200) });
      }
    });
    return result;
  }

  /** Live: every running installation follows its own schedule. */
  startLive(): void {
    for (const h of this.hosted) if (h.server) h.beacon.start();
  }

  async close(): Promise<void> {
    await Promise.all(this.hosted.map(async (h) => {
      await h.beacon.stop();
      if (h.server) await closeServer(h.server);
      h.server = null;
    }));
  }
}
