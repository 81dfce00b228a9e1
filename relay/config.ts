/**
 * The relay's one typed configuration: defaults here, overridden by a JSON file
 * (config/relay.json unless --config), overridden by command-line flags. Parsed once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import cron from 'node-cron';
import { BeaconError } from '../src/protocol/errors.js';
import { PACKAGE_ROOT } from '../src/manifests.js';

export const DEFAULT_RELAY_CONFIG_FILE = join(PACKAGE_ROOT, 'config', 'relay.json');

const HttpUrl = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && !u.search && !u.hash;
    } catch {
      return false;
    }
  }, 'an http(s) base URL without credentials, query or fragment')
  // One spelling per aggregator, so delivery state is not split by a trailing slash.
  .transform((s) => s.replace(/\/+$/, ''));

const Schedule = z.string().max(100).refine((s) => cron.validate(s), 'a node-cron expression, e.g. "*/5 * * * *"');

export const RelayConfigSchema = z.strictObject({
  port: z.number().int().min(0).max(65_535).default(8788),
  /** Loopback by default: exposing a relay is a deliberate choice. */
  host: z.string().min(1).max(255).default('127.0.0.1'),
  /** Relative paths resolve against the working directory. */
  dbPath: z.string().min(1).max(4096).default('./data/relay.db'),
  /** Product manifests accepted; the shipped ones when absent. */
  manifestsDir: z.string().min(1).max(4096).optional(),
  /** Base URLs of aggregators to push to (each receives POST {url}/v1/reports/batch). */
  aggregators: z.array(HttpUrl).max(32).default([]),
  push: z
    .strictObject({
      schedule: Schedule.default('*/5 * * * *'),
      /** Each push waits a random delay in [0, maxDelayMs] so arrival time says nothing about a sender. */
      maxDelayMs: z.number().int().min(0).max(3_600_000).default(60_000),
      batchSize: z.number().int().min(1).max(1000).default(500),
      /** At most this many batches per aggregator per run, so one run always ends. */
      maxBatchesPerRun: z.number().int().min(1).max(10_000).default(100),
      timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
      backoffBaseMs: z.number().int().min(0).max(86_400_000).default(60_000),
      backoffMaxMs: z.number().int().min(0).max(7 * 86_400_000).default(6 * 3_600_000),
    })
    .prefault({}),
  /** Per-source token bucket, in memory only. */
  rateLimit: z
    .strictObject({
      capacity: z.number().int().min(1).max(1_000_000).default(30),
      refillPerSec: z.number().positive().max(1_000_000).default(0.5),
    })
    .prefault({}),
  /** Distinct report keys one source may send per UTC day (in memory only). */
  newKeysPerSourcePerDay: z.number().int().min(1).max(10_000_000).default(100),
  maxReports: z.number().int().min(1).max(100_000_000).default(200_000),
  maxBytes: z.number().int().min(1024).max(1024 ** 4).default(512 * 1024 * 1024),
  /** A report is deleted once its period is older than this many days, delivered or not. */
  reportTtlDays: z.number().int().min(1).max(60).default(8),
  /** How far a report's `issued` may be ahead of the relay's clock. */
  skewMs: z.number().int().min(0).max(86_400_000).default(10 * 60_000),
  /** Take the source from the last X-Forwarded-For hop (only behind your own reverse proxy). */
  trustProxy: z.boolean().default(false),
  bodyTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
});

export type RelayConfig = z.infer<typeof RelayConfigSchema>;
export type RelayConfigInput = z.input<typeof RelayConfigSchema>;

function formatIssues(where: string, error: z.ZodError): string {
  return `${where}:\n` + error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
}

/** Validates a config object (from a file or a test); throws a BeaconError listing every problem. */
export function parseRelayConfig(input: unknown, where = 'relay config'): RelayConfig {
  const r = RelayConfigSchema.safeParse(input);
  if (!r.success) throw new BeaconError('bad_config', formatIssues(where, r.error));
  return r.data;
}

export const RELAY_USAGE = `usage: beacon relay [--config FILE] [--port N] [--db FILE] [--aggregator URL ...]

  --config FILE      JSON config (default: config/relay.json)
  --port N           listen port (0 picks a free one)
  --db FILE          SQLite file (default: ./data/relay.db)
  --aggregator URL   push to this aggregator; repeatable; replaces the config's list
`;

export interface RelayCliOptions {
  config: RelayConfig;
  configFile: string;
  help: boolean;
}

/** Reads the config file named by --config (or the default) and applies the flags over it. */
export function loadRelayConfig(argv: string[], readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): RelayCliOptions {
  let args;
  try {
    args = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        db: { type: 'string' },
        aggregator: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    throw new BeaconError('bad_arguments', `${(e as Error).message}\n${RELAY_USAGE}`);
  }
  const configFile = args.config ?? DEFAULT_RELAY_CONFIG_FILE;
  if (args.help) return { config: parseRelayConfig({}), configFile, help: true };
  let fromFile: unknown;
  try {
    fromFile = JSON.parse(readFile(configFile));
  } catch (e) {
    throw new BeaconError('bad_config', `${configFile}: ${(e as Error).message}`);
  }
  if (fromFile === null || typeof fromFile !== 'object' || Array.isArray(fromFile))
    throw new BeaconError('bad_config', `${configFile}: expected a JSON object`);
  const merged: Record<string, unknown> = { ...(fromFile as Record<string, unknown>) };
  if (args.port !== undefined) {
    if (!/^\d{1,5}$/.test(args.port)) throw new BeaconError('bad_arguments', `--port: "${args.port}" is not a port number`);
    merged.port = Number(args.port);
  }
  if (args.db !== undefined) merged.dbPath = args.db;
  if (args.aggregator !== undefined) merged.aggregators = args.aggregator;
  return { config: parseRelayConfig(merged, configFile), configFile, help: false };
}
