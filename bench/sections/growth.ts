/**
 * Growth: the same store grown through sizes (10k, 100k, 1M installations in the full
 * run), and at each size, in an aggregator child on that file: totals and series API
 * latency (beside /healthz on the same server), ingest over HTTP (beside the bare koa
 * figure of this run), and the child's peak RSS. The largest size gives the memory row.
 */
import http from 'node:http';
import { join } from 'node:path';
import { addDays, dayOf } from '../../src/protocol/time.js';
import type { BenchContext } from '../context.js';
import { benchAggregatorConfig, measureIngest } from '../lib/ingest-run.js';
import { populate } from '../lib/populate.js';
import { startChild } from '../lib/proc.js';
import { judge, type Row } from '../lib/results.js';
import { fmt, latencySummary } from '../lib/stats.js';
import { bareFigures, ingestRows, poolFile } from './ingest.js';

const PRODUCT = 'operately';

/** The API requests timed at each size: every window kind, defaults and explicit periods, CSV. */
function apiPaths(now: number): { totals: string[]; series: string[] } {
  const today = dayOf(now);
  const base = `/api/v1/products/${PRODUCT}`;
  return {
    totals: [
      `${base}/totals`,
      `${base}/totals?window=day`,
      `${base}/totals?window=month`,
      `${base}/totals?window=day&period=${addDays(today, -3)}`,
      `${base}/totals?window=week&format=csv`,
    ],
    series: [
      `${base}/series?field=version&window=week`,
      `${base}/series?field=users&window=day&from=${addDays(today, -13)}&to=${today}`,
      `${base}/series?field=os&window=month`,
      `${base}/series?field=features&window=day&from=${addDays(today, -13)}&to=${today}&format=csv`,
    ],
  };
}

/** Sequential GETs over one keep-alive connection; per-request latency in ms. */
async function timeGets(port: number, paths: string[], n: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const path = paths[i % paths.length]!;
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
        }).on('error', reject);
      });
      out.push(performance.now() - started);
    }
  } finally {
    agent.destroy();
  }
  return out;
}

export async function runGrowth(ctx: BenchContext): Promise<Row[]> {
  const sizes = ctx.quick ? [10_000, 50_000] : [10_000, 100_000, 1_000_000];
  const requests = ctx.quick ? 150 : 400;
  const dbPath = join(ctx.tmpDir, 'growth.db');
  const bare = await bareFigures(ctx);
  const pool = poolFile(ctx);
  const rows: Row[] = [];
  let offset = 0;
  for (const size of sizes) {
    const p = await populate(dbPath, size, ctx.now);
    ctx.log(`store grown to ${fmt(size)} installations (+${fmt(p.added)} in ${p.seconds.toFixed(1)} s)`);
    const label = `${fmt(size)} installations`;

    const server = await startChild('children/server.js', { mode: 'aggregator', config: benchAggregatorConfig(dbPath) });
    let totals: number[], series: number[], health: number[];
    let peak: number;
    try {
      const paths = apiPaths(ctx.now);
      await timeGets(server.port, [...paths.totals, ...paths.series], 20); // warm-up
      totals = await timeGets(server.port, paths.totals, requests);
      series = await timeGets(server.port, paths.series, requests);
      health = await timeGets(server.port, ['/healthz'], requests);
      peak = server.peakRssMB();
    } finally {
      await server.stop();
    }
    const t = latencySummary(totals);
    const s = latencySummary(series);
    const h = latencySummary(health);
    ctx.log(`${label}: totals p50 ${t.p50} ms p99 ${t.p99} ms; series p50 ${s.p50} ms p99 ${s.p99} ms`);
    const last = size === sizes[sizes.length - 1];
    const latencyTarget = last && size >= 1_000_000 ? { on: 'value' as const, op: '<' as const, limit: 50, label: 'p99 < 50 ms at 1M' } : undefined;
    rows.push(
      judge({ section: 'totals', name: `totals API p99, ${label}`, value: t.p99, unit: 'ms', reference: { name: 'GET /healthz p99', value: h.p99 }, target: latencyTarget, detail: { totals: t, healthz: h, paths: apiPaths(ctx.now).totals } }),
      judge({ section: 'totals', name: `totals API p50, ${label}`, value: t.p50, unit: 'ms', reference: { name: 'GET /healthz p50', value: h.p50 } }),
      judge({ section: 'totals', name: `series API p99, ${label}`, value: s.p99, unit: 'ms', reference: { name: 'GET /healthz p99', value: h.p99 }, target: latencyTarget, detail: { series: s, paths: apiPaths(ctx.now).series } }),
      judge({ section: 'totals', name: `series API p50, ${label}`, value: s.p50, unit: 'ms', reference: { name: 'GET /healthz p50', value: h.p50 } }),
    );

    // Ingest at this size; each size takes a fresh stretch of the pool (all new to this store).
    const beacon = await measureIngest(ctx, pool, { mode: 'aggregator', dbPath }, offset);
    offset += beacon.used;
    ctx.log(`${label}: ingest ${beacon.perSec.toFixed(0)}/s`);
    rows.push(...ingestRows(`POST /v1/reports, ${label}`, beacon, bare, false));

    const rss = Math.max(peak, beacon.peakRssMB);
    rows.push(judge({
      section: 'memory', name: `aggregator peak RSS (VmHWM), ${label}`, value: rss, unit: 'MB',
      reference: { name: 'bare koa under the same load', value: bare.peakRssMB },
      target: last && size >= 1_000_000 ? { on: 'value', op: '<=', limit: 256, label: '<= 256 MB at 1M' } : undefined,
      detail: { afterApiRequests: peak, afterIngest: beacon.peakRssMB },
    }));
  }
  return rows;
}
