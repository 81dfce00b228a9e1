/**
 * What a host passes to `createBeacon`, checked once. Mistakes in the options are the
 * host developer's and are thrown at once; everything that happens later is caught.
 */
import { loadManifestDir, SHIPPED_MANIFESTS_DIR } from '../manifests.js';
import { BeaconError } from '../protocol/errors.js';
import { validateManifest, type Manifest } from '../protocol/manifest.js';
import { systemClock, type Clock } from '../protocol/time.js';
import type { Logger } from '../server/http.js';
import { consoleLogger } from '../server/http.js';
import { normalizeTarget, type FetchLike } from './push.js';
import { assertCron } from './schedule.js';

export type BeaconMode = 'publish' | 'local';

/** Exact values for the manifest's fields: counts, category values, version strings, feature lists. */
export type ExactValues = Record<string, unknown>;

export interface BeaconOptions {
  /** The product's manifest, or its id (newest version) in a manifests directory (default: the shipped ones). */
  product: Manifest | { id: string; manifestsDir?: string };
  /** The app's version, used for the manifest's `version` field when `collect()` does not give it. */
  appVersion?: string;
  /** Where the key, sequence counter, schedule, current report and outbox live. */
  stateDir: string;
  /** Returns exact values; they are turned into ranges and labels here and never leave the process. */
  collect: () => ExactValues | Promise<ExactValues>;
  /** Aggregator and/or relay base URLs; each report is POSTed to `<target>/v1/reports`. */
  targets?: readonly string[];
  /** A node-cron expression, evaluated in UTC. Default: daily at a random hour and minute, kept per installation. */
  schedule?: string;
  clock?: Clock;
  logger?: Logger;
  /** `false` turns everything off, as does BEACON_ENABLED=0/false/off/no in the environment. */
  enabled?: boolean;
  /** 'publish' (default): served and pushed. 'local': built, signed and kept for the admin only. */
  mode?: BeaconMode;
  /** Per-push timeout. Default 10 s. */
  timeoutMs?: number;
  fetch?: FetchLike;
  /** Randomness for the default schedule and retry jitter, in [0, 1). */
  random?: () => number;
  /** The environment to read BEACON_ENABLED from (default process.env), read once. */
  env?: Readonly<Record<string, string | undefined>>;
  /** First retry delay; doubles per attempt. Default 1 minute. */
  retryBaseMs?: number;
  /** Longest retry delay. Default 6 hours. */
  retryMaxMs?: number;
  /** Most undelivered reports kept. Default 64. */
  outboxLimit?: number;
  /** Longest the timer sleeps before looking at the clock again. Default 1 minute. */
  maxSleepMs?: number;
  /** How long `collect()` may take before the run is abandoned. Default 60 s. */
  collectTimeoutMs?: number;
}

export interface BeaconConfig {
  enabled: boolean;
  disabledBy: 'option' | 'env' | null;
  mode: BeaconMode;
  manifest: Manifest;
  appVersion: string | undefined;
  stateDir: string;
  collect: () => ExactValues | Promise<ExactValues>;
  targets: string[];
  schedule: string | undefined;
  clock: Clock;
  log: Logger;
  timeoutMs: number;
  fetch: FetchLike;
  random: () => number;
  retryBaseMs: number;
  retryMaxMs: number;
  outboxLimit: number;
  maxSleepMs: number;
  collectTimeoutMs: number;
}

const OFF = new Set(['0', 'false', 'off', 'no']);

/** True when BEACON_ENABLED says no (0, false, off, no; any case). */
export function envOptsOut(env: Readonly<Record<string, string | undefined>>): boolean {
  const v = env['BEACON_ENABLED'];
  return v !== undefined && OFF.has(v.trim().toLowerCase());
}

const defaultLogger: Logger = (() => {
  const log = consoleLogger('beacon');
  return (level, msg, fields) => {
    if (level !== 'info') log(level, msg, fields);
  };
})();

// Node runs a timer longer than this after 1 ms (TimeoutOverflowWarning): a spinning timer.
const MAX_TIMER_MS = 2 ** 31 - 1;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) throw new BeaconError('bad_option', `${name} must be a positive number up to ${MAX_TIMER_MS}`);
  return value;
}

function resolveManifest(product: BeaconOptions['product']): Manifest {
  if (product && typeof product === 'object' && 'fields' in product) {
    const r = validateManifest(product);
    if (!r.ok) throw new BeaconError('bad_manifest', 'product manifest is not valid:\n' + r.problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'));
    return r.manifest;
  }
  const id = (product as { id?: unknown } | undefined)?.id;
  if (typeof id !== 'string') throw new BeaconError('bad_option', 'product is a manifest or { id, manifestsDir? }');
  const dir = (product as { manifestsDir?: string }).manifestsDir ?? SHIPPED_MANIFESTS_DIR;
  const manifest = loadManifestDir(dir).latest(id);
  if (!manifest) throw new BeaconError('unknown_product', `no manifest for product "${id}" in ${dir}`);
  return manifest;
}

export function resolveOptions(o: BeaconOptions): BeaconConfig {
  if (!o || typeof o !== 'object') throw new BeaconError('bad_option', 'createBeacon needs an options object');
  const env = o.env ?? process.env;
  const disabledBy = o.enabled === false ? 'option' : envOptsOut(env) ? 'env' : null;
  if (typeof o.stateDir !== 'string' || o.stateDir === '') throw new BeaconError('bad_option', 'stateDir is required');
  if (typeof o.collect !== 'function') throw new BeaconError('bad_option', 'collect must be a function');
  const mode = o.mode ?? 'publish';
  if (mode !== 'publish' && mode !== 'local') throw new BeaconError('bad_option', 'mode is "publish" or "local"');
  if (o.schedule !== undefined) assertCron(o.schedule);
  const targets = (o.targets ?? []).map((t) => {
    const n = normalizeTarget(t);
    if (!n) throw new BeaconError('bad_option', `target "${String(t).slice(0, 200)}" is not an http(s) base URL`);
    return n;
  });
  const fetchFn = o.fetch ?? (globalThis.fetch as unknown as FetchLike | undefined);
  if (typeof fetchFn !== 'function') throw new BeaconError('bad_option', 'no fetch available: pass options.fetch');
  return {
    enabled: disabledBy === null,
    disabledBy,
    mode,
    manifest: resolveManifest(o.product),
    appVersion: o.appVersion,
    stateDir: o.stateDir,
    collect: o.collect,
    targets: [...new Set(targets)],
    schedule: o.schedule,
    clock: o.clock ?? systemClock,
    log: o.logger ?? defaultLogger,
    timeoutMs: positive('timeoutMs', o.timeoutMs, 10_000),
    fetch: fetchFn,
    random: o.random ?? Math.random,
    retryBaseMs: positive('retryBaseMs', o.retryBaseMs, 60_000),
    retryMaxMs: positive('retryMaxMs', o.retryMaxMs, 6 * 3_600_000),
    outboxLimit: Math.floor(positive('outboxLimit', o.outboxLimit, 64)),
    maxSleepMs: positive('maxSleepMs', o.maxSleepMs, 60_000),
    collectTimeoutMs: positive('collectTimeoutMs', o.collectTimeoutMs, 60_000),
  };
}
