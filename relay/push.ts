/**
 * Handing reports on: batches to every configured aggregator, shuffled and after a
 * random delay, with per-aggregator backoff. A report is marked done for an aggregator
 * when it was accepted, was a duplicate, or was rejected for good (a 4xx item code).
 */
import { z } from 'zod';
import { ERROR_CODES } from '../src/protocol/errors.js';
import type { Clock } from '../src/protocol/time.js';
import type { Logger } from '../src/server/http.js';
import type { Counter } from '../src/server/metrics.js';
import { aggregatorId, type DeliveryOutcome, type RelayStore } from './store.js';
import type { RelayConfig } from './config.js';

/** Fisher-Yates with an injected source of randomness in [0, 1). */
export function shuffle<T>(items: T[], random: () => number): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Resolves after `ms`, or at once when `signal` aborts (then the caller checks it). */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const done = () => { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

// The aggregator's batch answer; extra fields are tolerated, sizes bounded.
const BatchAnswer = z.object({
  accepted: z.number().int().min(0),
  duplicates: z.number().int().min(0),
  rejected: z
    .array(z.object({ index: z.number().int().min(0), code: z.string().max(64), message: z.string().max(2000).optional() }))
    .max(1000)
    .default([]),
});

/** Per-item codes worth retrying: the aggregator's state or clock, not the report, was the problem. */
const TRANSIENT_ITEM_CODES = new Set(['rate_limited', 'unavailable', 'full', 'internal', 'timeout', 'from_future']);
// Metric labels only from a known set: an aggregator's answer must not grow our series without bound.
const KNOWN_CODES = new Set<string>([...ERROR_CODES, ...TRANSIENT_ITEM_CODES, 'replayed', 'duplicate']);

export interface AggregatorState {
  url: string;
  id: string;
  failures: number;
  notBefore: number;
  batchSize: number;
}

export interface AggregatorRun {
  url: string;
  skipped?: 'backoff';
  batches: number;
  sent: number;
  done: number;
  retry: number;
  error?: string;
}

export interface PushDeps {
  store: RelayStore;
  fetch: typeof fetch;
  now: Clock;
  random: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  log: Logger;
  signal: AbortSignal;
  batches: Counter;
  items: Counter;
}

export function aggregatorStates(cfg: RelayConfig): AggregatorState[] {
  return [...new Set(cfg.aggregators)].map((url) => ({ url, id: aggregatorId(url), failures: 0, notBefore: 0, batchSize: cfg.push.batchSize }));
}

// A full answer is at most 1000 rejections of ~2 KB; anything longer is not an answer.
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** The body as text, or null (and the rest left unread) once it passes `limit` bytes. */
async function readCapped(res: Response, limit: number): Promise<string | null> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) return null; // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

type Post = { ok: true; answer: z.infer<typeof BatchAnswer> } | { ok: false; status: number; error: string };

async function postBatch(url: string, body: string, cfg: RelayConfig['push'], deps: PushDeps): Promise<Post> {
  try {
    const res = await deps.fetch(`${url}/v1/reports/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
      redirect: 'error',
      signal: AbortSignal.any([deps.signal, AbortSignal.timeout(cfg.timeoutMs)]),
    });
    const text = await readCapped(res, MAX_ANSWER_BYTES);
    if (text === null) return { ok: false, status: res.status, error: `answer over ${MAX_ANSWER_BYTES} bytes` };
    if (res.status !== 200 && res.status !== 202) return { ok: false, status: res.status, error: `HTTP ${res.status}: ${text.slice(0, 200)}` };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { ok: false, status: res.status, error: 'answer is not JSON' };
    }
    const a = BatchAnswer.safeParse(json);
    return a.success ? { ok: true, answer: a.data } : { ok: false, status: res.status, error: `unexpected answer: ${a.error.issues[0]!.message}` };
  } catch (e) {
    return { ok: false, status: 0, error: String((e as Error)?.message ?? e) };
  }
}

/** One run for one aggregator: as many batches as are waiting, bounded by maxBatchesPerRun. */
export async function pushToAggregator(agg: AggregatorState, cfg: RelayConfig['push'], deps: PushDeps): Promise<AggregatorRun> {
  const run: AggregatorRun = { url: agg.url, batches: 0, sent: 0, done: 0, retry: 0 };
  if (deps.now() < agg.notBefore) return { ...run, skipped: 'backoff' };
  await deps.sleep(Math.floor(deps.random() * (cfg.maxDelayMs + 1)), deps.signal);
  let after = 0;
  for (let attempt = 0; attempt < cfg.maxBatchesPerRun && !deps.signal.aborted; attempt++) {
    const rows = deps.store.undelivered(agg.id, after, agg.batchSize);
    if (!rows.length) break;
    const batch = shuffle(rows, deps.random);
    const body = `{"reports":[${batch.map((r) => r.envelope.toString('utf8')).join(',')}]}`;
    const res = await postBatch(agg.url, body, cfg, deps);
    if (!res.ok) {
      deps.batches.inc({ outcome: res.status === 413 ? 'too_large' : 'failed' });
      if (res.status === 413 && agg.batchSize > 1) {
        agg.batchSize = Math.max(1, Math.floor(agg.batchSize / 2)); // the aggregator's limit is lower than ours
        continue;
      }
      agg.failures++;
      const backoff = Math.min(cfg.backoffMaxMs, cfg.backoffBaseMs * 2 ** Math.min(30, agg.failures - 1));
      agg.notBefore = deps.now() + Math.floor(backoff * (0.5 + deps.random() / 2));
      deps.log('warn', 'push failed; will retry', { aggregator: agg.url, failures: agg.failures, error: res.error });
      return { ...run, error: res.error };
    }
    agg.failures = 0;
    after = rows[rows.length - 1]!.id;
    const rejected = new Map<number, string>();
    for (const r of res.answer.rejected) if (r.index < batch.length) rejected.set(r.index, r.code);
    const done: { id: number; outcome: DeliveryOutcome }[] = [];
    batch.forEach((row, i) => {
      const code = rejected.get(i);
      if (code === undefined) done.push({ id: row.id, outcome: 'acknowledged' });
      else if (!TRANSIENT_ITEM_CODES.has(code)) done.push({ id: row.id, outcome: `rejected:${code}` });
      if (code === undefined) deps.items.inc({ outcome: 'acknowledged' });
      else deps.items.inc({ outcome: TRANSIENT_ITEM_CODES.has(code) ? 'retry' : 'rejected', code: KNOWN_CODES.has(code) ? code : 'other' });
    });
    deps.store.markDelivered(agg.id, done);
    deps.batches.inc({ outcome: 'ok' });
    run.batches++;
    run.sent += batch.length;
    run.done += done.length;
    run.retry += batch.length - done.length;
  }
  return run;
}
