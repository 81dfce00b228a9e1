/**
 * Ingest over HTTP: POST /v1/reports on the real aggregator (verify, validate, group
 * commit with synchronous=FULL, 202 only after the commit) beside a bare koa endpoint
 * that parses the JSON and answers 202; same load, same pool, same run.
 */
import { join } from 'node:path';
import type { BenchContext } from '../context.js';
import { CONNECTIONS, measureIngest, PoolFile, type IngestFigures } from '../lib/ingest-run.js';
import { judge, type Row } from '../lib/results.js';

export interface IngestShared {
  bare?: IngestFigures;
  pool?: PoolFile;
}

export const shared: IngestShared = {};

export function poolFile(ctx: BenchContext): PoolFile {
  shared.pool ??= new PoolFile(join(ctx.tmpDir, 'pool.tmp'), ctx);
  return shared.pool;
}

export async function bareFigures(ctx: BenchContext): Promise<IngestFigures> {
  if (!shared.bare) {
    const pool = poolFile(ctx);
    await pool.ensure(ctx.quick ? 10_000 : 30_000);
    shared.bare = await measureIngest(ctx, pool, { mode: 'bare' });
    ctx.log(`bare koa: ${shared.bare.perSec.toFixed(0)}/s`);
  }
  return shared.bare;
}

export function ingestRows(name: string, beacon: IngestFigures, bare: IngestFigures, withTarget: boolean): Row[] {
  const detail = { beacon, bare, connections: CONNECTIONS };
  return [
    judge({
      section: 'ingest', name, value: beacon.perSec, unit: '/s',
      reference: { name: 'bare koa JSON 202', value: bare.perSec },
      target: withTarget ? { on: 'ratio', op: '>=', limit: 0.6, label: '>= 60% of bare' } : undefined,
      detail,
      note: beacon.stored !== undefined && beacon.stored < beacon.requests - beacon.non2xx ? `only ${beacon.stored} stored` : undefined,
    }),
    judge({ section: 'ingest', name: `${name}: p50 latency`, value: beacon.p50, unit: 'ms', reference: { name: 'bare', value: bare.p50 } }),
    judge({ section: 'ingest', name: `${name}: p99 latency`, value: beacon.p99, unit: 'ms', reference: { name: 'bare', value: bare.p99 } }),
  ];
}

export async function runIngest(ctx: BenchContext): Promise<Row[]> {
  const bare = await bareFigures(ctx);
  const beacon = await measureIngest(ctx, poolFile(ctx), { mode: 'aggregator', dbPath: join(ctx.tmpDir, 'ingest.db') });
  ctx.log(`aggregator: ${beacon.perSec.toFixed(0)}/s, ${beacon.stored} stored`);
  return ingestRows(`POST /v1/reports, ${CONNECTIONS} conns, empty db`, beacon, bare, true);
}
