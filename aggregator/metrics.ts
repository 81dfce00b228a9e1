/** The aggregator's operator metrics (Prometheus text at GET /metrics). */
import { MetricsRegistry } from '../src/server/metrics.js';
import type { ItemResult } from './ingest.js';
import type { Store } from './store.js';

export function aggregatorMetrics(store: Store) {
  const registry = new MetricsRegistry();
  const m = {
    registry,
    accepted: registry.counter('beacon_aggregator_reports_accepted_total', 'Reports accepted and stored'),
    duplicates: registry.counter('beacon_aggregator_reports_duplicate_total', 'Byte-identical resends acknowledged without a write'),
    rejected: registry.counter('beacon_aggregator_reports_rejected_total', 'Reports rejected, by error code'),
    ingestSeconds: registry.histogram('beacon_aggregator_ingest_seconds', 'Push request time from body read to durable commit, by route'),
    fetches: registry.counter('beacon_aggregator_crawl_fetches_total', 'Crawl fetches by target kind and outcome'),
    fetchSeconds: registry.histogram('beacon_aggregator_crawl_fetch_seconds', 'Crawl fetch duration by target kind'),
    targets: registry.gauge('beacon_aggregator_targets', 'Crawl targets by state (up, down, new, expired)', (g) => {
      for (const [state, n] of Object.entries(store.targetStates())) g.set(n, { state });
    }),
    dbBytes: registry.gauge('beacon_aggregator_db_bytes', 'Database file plus WAL size in bytes', (g) => g.set(store.sizeBytes())),
    rateLimited: registry.counter('beacon_aggregator_rate_limited_total', 'Requests refused by the per-source rate limit'),
  };
  return {
    ...m,
    onResult(r: ItemResult): void {
      if (!r.ok) m.rejected.inc({ code: r.code });
      else if (r.outcome === 'accepted') m.accepted.inc();
      else m.duplicates.inc();
    },
    onFetch(kind: string, outcome: string, seconds: number): void {
      m.fetches.inc({ kind, outcome });
      m.fetchSeconds.observe(seconds, { kind });
    },
  };
}

export type AggregatorMetrics = ReturnType<typeof aggregatorMetrics>;
