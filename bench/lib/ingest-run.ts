/**
 * One ingest measurement: a server child (bare koa or the aggregator on a given SQLite
 * file) under 50 connections from an autocannon child, a short warm-up first, every
 * request a distinct pre-signed envelope.
 */
import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { AggregatorConfigInput } from '../../aggregator/config.js';
import type { CannonResult } from '../children/cannon.js';
import type { BenchContext } from '../context.js';
import { runCannon, startChild } from './proc.js';

export const CONNECTIONS = 50;

export interface IngestFigures {
  perSec: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** Reports the database gained during the measured run (aggregator only). */
  stored?: number;
  wrapped: boolean;
  peakRssMB: number;
  /** Pool envelopes consumed (warm-up included). */
  used: number;
}

/** The aggregator as the bench runs it; rate limiting is per source address and all load here comes from 127.0.0.1. */
export function benchAggregatorConfig(dbPath: string): AggregatorConfigInput {
  // All load comes from 127.0.0.1, so the per-source limit is lifted. The store is grown with
  // reports of the last 14 days; publish 'live' lets the totals bench query those recent
  // windows (the default publishes a window only once it is final, 8 days after it ends).
  return { dbPath, rateLimit: { capacity: 1_000_000, refillPerSec: 1_000_000 }, totals: { publish: 'live' } };
}

function countReports(dbPath: string): number {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM reports').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

export class PoolFile {
  private size = 0;
  constructor(readonly path: string, private readonly ctx: BenchContext) {}
  /** Makes sure the file holds at least `n` envelopes. */
  async ensure(n: number): Promise<void> {
    if (this.size >= n) return;
    const pool = await this.ctx.pool(n);
    writeFileSync(this.path, pool.join('\n') + '\n');
    this.size = pool.length;
  }
  get length(): number {
    return this.size;
  }
}

export async function measureIngest(
  ctx: BenchContext, pool: PoolFile, target: { mode: 'bare' } | { mode: 'aggregator'; dbPath: string }, offset = 0,
): Promise<IngestFigures> {
  const warmSec = ctx.quick ? 1 : 2;
  const durationSec = ctx.quick ? 3 : 8;
  const server = await startChild('children/server.js', target.mode === 'bare' ? { mode: 'bare' } : { mode: 'aggregator', config: benchAggregatorConfig(target.dbPath) });
  try {
    const url = `http://127.0.0.1:${server.port}`;
    const base = { url, path: '/v1/reports', poolFile: pool.path, connections: CONNECTIONS };
    ctx.log(`${target.mode}: warm-up ${warmSec} s`);
    await pool.ensure(offset + 20_000);
    const warm = await runCannon({ ...base, offset, durationSec: warmSec });
    // Enough distinct envelopes for the measured run at up to 3x the warm-up's pace. The bare
    // endpoint stores nothing, so it may cycle through the pool (its bodies are the same bytes).
    if (target.mode === 'aggregator') await pool.ensure(offset + warm.used + Math.ceil(warm.perSec * durationSec * 3) + 2000);
    const before = target.mode === 'aggregator' ? countReports(target.dbPath) : 0;
    ctx.log(`${target.mode}: measuring ${durationSec} s (warm-up ran at ${warm.perSec.toFixed(0)}/s)`);
    const r: CannonResult = await runCannon({ ...base, offset: offset + warm.used, durationSec });
    const peak = server.peakRssMB();
    await server.stop();
    const stored = target.mode === 'aggregator' ? countReports(target.dbPath) - before : undefined;
    if (r.wrapped && target.mode === 'aggregator') ctx.log(`warning: the pool (${pool.length}) ran out; later requests repeated envelopes`);
    if (r.non2xx || r.errors) ctx.log(`warning: ${r.non2xx} non-2xx answers and ${r.errors} errors in the ${target.mode} run`);
    return {
      perSec: r.perSec, p50: r.p50, p99: r.p99, requests: r.requests, non2xx: r.non2xx, errors: r.errors,
      ...(stored === undefined ? {} : { stored }), wrapped: r.wrapped, peakRssMB: peak, used: warm.used + r.used,
    };
  } finally {
    await server.stop();
  }
}
