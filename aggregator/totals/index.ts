/**
 * The public totals, wired into an aggregator: materialized counts kept current on
 * every ingest commit, the /api/v1 routes, the dashboard, the signing key, pruning.
 */
import type Router from '@koa/router';
import { dirname, join } from 'node:path';
import { generateKeyPair } from '../../src/protocol/envelope.js';
import type { ManifestRegistry } from '../../src/protocol/registry.js';
import { addDays, dayOf, type Clock } from '../../src/protocol/time.js';
import type { Logger } from '../../src/server/http.js';
import type { Store } from '../store.js';
import { mountDashboard } from '../web/routes.js';
import type { TotalsConfig } from './config.js';
import { hmacNoise } from './noise.js';
import { mountApi } from './routes.js';
import { TotalsService } from './service.js';
import { loadTotalsSigner, totalsSigner } from './sign.js';
import { TotalsStore } from './store.js';

export interface TotalsDeps {
  config: TotalsConfig;
  dbPath: string;
  /** Reports are accepted for today and this many days back; older windows are final. */
  periodWindowDays: number;
  store: Store;
  manifests: ManifestRegistry;
  clock: Clock;
  log: Logger;
  router: Router;
}

export function keyPathFor(config: TotalsConfig, dbPath: string): string | null {
  if (config.keyPath) return config.keyPath;
  return dbPath === ':memory:' ? null : join(dirname(dbPath), 'aggregator-key.pem');
}

export function createTotals(d: TotalsDeps) {
  const keyPath = keyPathFor(d.config, d.dbPath);
  const signer = keyPath ? loadTotalsSigner(keyPath) : totalsSigner(generateKeyPair());
  const store = new TotalsStore(d.store.db);
  const noise = d.config.epsilon ? hmacNoise(signer.noiseSecret(), d.config.epsilon) : undefined;
  const service = new TotalsService({ manifests: d.manifests, store, clock: d.clock, k: d.config.k, noise,
    publish: d.config.publish, periodWindowDays: d.periodWindowDays,
  });

  // Inside the ingest's commit transaction: the reports just written are counted in the
  // same commit. A failure here rolls back only the totals' savepoint (the queue keeps
  // the reports for the next drain); it never costs an acknowledged report.
  d.store.commitHooks.push(() => {
    try {
      store.drain();
    } catch (e) {
      d.log('error', 'totals drain failed', { err: String((e as Error)?.message ?? e) });
    }
  });
  d.store.retentionHooks.push(() => {
    store.pruneFinal(addDays(dayOf(d.clock()), -(d.periodWindowDays + 1)));
  });

  mountApi(d.router, { service, signer, maxAgeSeconds: d.config.maxAgeSeconds });
  mountDashboard(d.router, service, Math.min(60, d.config.maxAgeSeconds));
  return { service, store, signer };
}

export type Totals = ReturnType<typeof createTotals>;
