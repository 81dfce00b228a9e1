/**
 * The aggregator's one typed config. Parsed once (file + CLI flags) by `loadConfig`;
 * nothing else in the aggregator reads files or the environment for settings.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ProductId } from '../src/protocol/manifest.js';
import { MAX_ENVELOPE_BYTES } from '../src/protocol/envelope.js';
import { BeaconError } from '../src/protocol/errors.js';
import { DEFAULT_TOTALS_CONFIG, TotalsConfigSchema } from './totals/config.js';

const Url = z.string().max(2048).url();
const Ms = (max: number) => z.number().int().min(1).max(max);

export const CrawlConfigSchema = z.strictObject({
  /** node-cron expression: when due targets are looked at. */
  schedule: z.string().max(100).default('*/5 * * * *'),
  /** How long after a successful fetch a target is due again. */
  intervalMs: Ms(7 * 86_400_000).default(3_600_000),
  concurrency: z.number().int().min(1).max(256).default(16),
  connectTimeoutMs: Ms(120_000).default(5_000),
  totalTimeoutMs: Ms(300_000).default(15_000),
  /** Byte cap on a well-known response, enforced while reading, on every redirect hop. */
  maxBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
  maxRedirects: z.number().int().min(0).max(10).default(3),
  backoff: z.strictObject({
    baseMs: Ms(86_400_000).default(60_000),
    maxMs: Ms(30 * 86_400_000).default(86_400_000),
  }).default({ baseMs: 60_000, maxMs: 86_400_000 }),
  /** A target with no successful fetch for this many days is expired (no longer crawled). */
  deadAfterDays: z.number().int().min(1).max(3650).default(30),
  /** Allow loopback, private and link-local targets (tests, the demo, a LAN). */
  allowPrivate: z.boolean().default(false),
  /** Relay feeds: items per page, byte cap per page, pages per target per crawl. */
  feedLimit: z.number().int().min(1).max(1000).default(200),
  feedMaxBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
  feedMaxPages: z.number().int().min(1).max(1000).default(10),
  userAgent: z.string().max(200).default('beacon-aggregator/0.1'),
});

export const AggregatorConfigSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(8470),
  host: z.string().max(255).default('127.0.0.1'),
  dbPath: z.string().min(1).max(4096).default('./data/aggregator.db'),
  /** null: the manifests shipped with Beacon (config/products). */
  manifestsDir: z.string().max(4096).nullable().default(null),
  /** "all": every manifest in manifestsDir; else product -> accepted manifest versions. */
  acceptedProducts: z.union([
    z.literal('all'),
    z.record(ProductId, z.array(z.number().int().min(1).max(1_000_000)).min(1).max(1000)),
  ]).default('all'),
  /** Accepted periods: today and this many previous UTC days. */
  periodWindowDays: z.number().int().min(0).max(60).default(7),
  /** How far a report's `issued` may be ahead of our clock. */
  skewMs: z.number().int().min(0).max(86_400_000).default(10 * 60_000),
  /** Raw envelopes are deleted this many days after their period. */
  retentionDays: z.number().int().min(1).max(3650).default(30),
  /** node-cron expression for the retention job. */
  retentionSchedule: z.string().max(100).default('17 3 * * *'),
  bodyLimit: z.strictObject({
    report: z.number().int().min(256).max(MAX_ENVELOPE_BYTES).default(MAX_ENVELOPE_BYTES),
    batch: z.number().int().min(1024).max(64 * 1024 * 1024).default(8 * 1024 * 1024),
    timeoutMs: Ms(300_000).default(10_000),
    /** Request body bytes held at once across all requests; past it, 503 with Retry-After. */
    inFlight: z.number().int().min(1024).max(4 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  }).default({ report: MAX_ENVELOPE_BYTES, batch: 8 * 1024 * 1024, timeoutMs: 10_000, inFlight: 64 * 1024 * 1024 }),
  batchMax: z.number().int().min(1).max(10_000).default(1000),
  /** Token bucket per source (a keyed hash of the peer address, in memory only). */
  rateLimit: z.strictObject({
    capacity: z.number().int().min(1).max(1_000_000).default(120),
    refillPerSec: z.number().min(0.001).max(1_000_000).default(2),
  }).default({ capacity: 120, refillPerSec: 2 }),
  crawl: CrawlConfigSchema.default(CrawlConfigSchema.parse({})),
  relays: z.array(z.strictObject({ url: Url })).max(1000).default([]),
  targets: z.array(Url).max(100_000).default([]),
  /** Public totals: threshold k, optional Laplace noise (epsilon), signing key path. */
  totals: TotalsConfigSchema.default(DEFAULT_TOTALS_CONFIG),
}).refine((c) => c.retentionDays >= c.periodWindowDays, {
  // Retention forgets a key with its last seq once no report of it is left; inside the
  // period window that would let an old envelope of the key be accepted again (a replay).
  path: ['retentionDays'],
  message: 'retentionDays must be at least periodWindowDays, or envelopes still in the window could be replayed',
});

export type AggregatorConfig = z.infer<typeof AggregatorConfigSchema>;
export type CrawlConfig = z.infer<typeof CrawlConfigSchema>;
export type AggregatorConfigInput = z.input<typeof AggregatorConfigSchema>;

export function parseConfig(input: unknown, where = 'config'): AggregatorConfig {
  const r = AggregatorConfigSchema.safeParse(input ?? {});
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new BeaconError('bad_config', `${where} is not a valid aggregator config:\n${lines.join('\n')}`);
  }
  return r.data;
}

export const DEFAULT_CONFIG_FILE = 'config/aggregator.json';

export interface ConfigOverrides {
  port?: number;
  dbPath?: string;
}

/** Reads the JSON config file and applies CLI overrides; a missing default file means all defaults. */
export function loadConfig(file: string | undefined, overrides: ConfigOverrides = {}): AggregatorConfig {
  let raw: Record<string, unknown> = {};
  const path = file ?? DEFAULT_CONFIG_FILE;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    if (!(missing && file === undefined)) throw new BeaconError('bad_config', `${path}: ${(e as Error).message}`);
  }
  if (overrides.port !== undefined) raw = { ...raw, port: overrides.port };
  if (overrides.dbPath !== undefined) raw = { ...raw, dbPath: overrides.dbPath };
  return parseConfig(raw, path);
}
