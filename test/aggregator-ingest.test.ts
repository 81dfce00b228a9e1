/** Push ingest against a real server and a real SQLite file: every acceptance rule and error code. */
import Database from 'better-sqlite3';
import { readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifestFile } from '../src/manifests.js';
import { buildReport } from '../src/protocol/report.js';
import { envelopeJson, signReport } from '../src/protocol/envelope.js';
import { DAY, EXAMPLE, Installation, T0, post, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

const tmp = tempDir('agg-ingest');
const time = testClock();
const dbPath = join(tmp.path, 'agg.db');
const manifestsDir = join(tmp.path, 'products');
let ctx: Awaited<ReturnType<typeof startAggregator>>;
let url: string;

const config = () => ({
  dbPath, manifestsDir, acceptedProducts: { operately: [1] }, batchMax: 5,
  bodyLimit: { report: 16384, batch: 64 * 1024, timeoutMs: 5000 },
});

beforeAll(async () => {
  // Operately v1 (accepted), v2 (known, not accepted), mastodon (known, not accepted).
  mkdirSync(manifestsDir);
  copyFileSync('config/products/operately.json', join(manifestsDir, 'operately.json'));
  copyFileSync('config/products/mastodon.json', join(manifestsDir, 'mastodon.json'));
  const v2 = JSON.parse(readFileSync('config/products/operately.json', 'utf8'));
  writeFileSync(join(manifestsDir, 'operately-2.json'), JSON.stringify({ ...v2, version: 2 }));
  ctx = await startAggregator(config(), { clock: time.clock });
  url = ctx.url;
});
afterAll(async () => {
  await ctx.agg.close();
  tmp.remove();
});

const push = (body: string, headers?: Record<string, string>) => post(`${url}/v1/reports`, body, headers);
const batch = (reports: unknown[]) => post(`${url}/v1/reports/batch`, JSON.stringify({ reports }));
const rows = (key: string) => ctx.agg.store.db.prepare('SELECT period, seq, values_json FROM reports WHERE key = ? ORDER BY period').all(key) as { period: string; seq: number; values_json: string }[];

describe('POST /v1/reports', () => {
  it('test installations sign exactly as the library does', () => {
    const inst = new Installation();
    expect(inst.envelope(3)).toBe(envelopeJson(signReport(inst.report(3), inst.keys)));
  });

  it('accepts a signed report (202) and acknowledges a byte-identical resend as a duplicate', async () => {
    const inst = new Installation();
    const env = inst.envelope(1);
    expect(await push(env)).toMatchObject({ status: 202, json: { accepted: 1, duplicates: 0 } });
    expect(await push(env)).toMatchObject({ status: 202, json: { accepted: 0, duplicates: 1 } });
    expect(rows(inst.key)).toHaveLength(1);
  });

  it('rejects a lower or equal seq as replayed (409), and a newer seq for the same period replaces the old one', async () => {
    const inst = new Installation();
    expect((await push(inst.envelope(5, T0 - DAY))).status).toBe(202);
    // same seq, other content: not a byte-identical resend
    const r = await push(inst.envelope(5, T0));
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe('replayed');
    expect((await push(inst.envelope(4, T0))).json.error.code).toBe('replayed');
    expect((await push(inst.envelope(6, T0, { ...EXAMPLE, users: 3 }))).status).toBe(202);
    expect((await push(inst.envelope(7, T0, { ...EXAMPLE, users: 400 }))).status).toBe(202);
    const stored = rows(inst.key);
    expect(stored.map((s) => [s.period, s.seq])).toEqual([['2026-12-02', 5], ['2026-12-03', 7]]);
    expect(JSON.parse(stored[1]!.values_json).users).toBe(inst.report(7, T0, { ...EXAMPLE, users: 400 }).values.users);
    expect(JSON.parse(stored[1]!.values_json).users).not.toBe(inst.report(6, T0, { ...EXAMPLE, users: 3 }).values.users);
    // the replaced report's resend is now a replay, not a duplicate
    expect((await push(inst.envelope(6, T0, { ...EXAMPLE, users: 3 }))).json.error.code).toBe('replayed');
  });

  it('accepts periods from today back periodWindowDays; older is stale, later is from_future', async () => {
    const inst = new Installation();
    expect((await push(inst.envelope(1, T0 - 7 * DAY))).status).toBe(202);
    const stale = await push(inst.envelope(2, T0 - 8 * DAY));
    expect([stale.status, stale.json.error.code]).toEqual([400, 'stale']);
    const future = await push(inst.envelope(3, T0 + DAY));
    expect([future.status, future.json.error.code]).toEqual([400, 'from_future']);
  });

  it('accepts only configured products and manifest versions', async () => {
    const inst = new Installation();
    const v2 = loadManifestFile(join(manifestsDir, 'operately-2.json'));
    const env2 = envelopeJson(signReport(buildReport(v2, EXAMPLE, { key: inst.key, seq: 1, now: T0 }), inst.keys));
    expect((await push(env2)).json.error.code).toBe('unknown_manifest_version');
    const masto = loadManifestFile(join(manifestsDir, 'mastodon.json'));
    const mexample = JSON.parse(readFileSync('config/examples/mastodon.json', 'utf8'));
    const envM = envelopeJson(signReport(buildReport(masto, mexample, { key: inst.key, seq: 2, now: T0 }), inst.keys));
    const r = await push(envM);
    expect([r.status, r.json.error.code]).toEqual([400, 'unknown_product']);
  });

  it('maps bad input to the protocol codes', async () => {
    const inst = new Installation();
    const good = JSON.parse(inst.envelope(1));
    const flipped = { ...good, signatures: [{ ...good.signatures[0], sig: Buffer.from(Buffer.from(good.signatures[0].sig, 'base64').map((b: number, i: number) => (i === 0 ? b ^ 1 : b))).toString('base64') }] };
    const cases: [string, string][] = [
      [JSON.stringify(flipped), 'bad_signature'],
      ['{"payloadType":', 'bad_json'],
      ['{"hello":1}', 'bad_envelope'],
      [inst.signRaw(inst.report(2) as unknown as Record<string, unknown>, 'text/plain'), 'bad_payload_type'],
      [inst.signRaw({ ...inst.report(3), values: { ...inst.report(3).values, users: '12345' } }), 'schema_violation'],
      [inst.signRaw({ ...inst.report(4), values: { ...inst.report(4).values, hostname: 'acme' } }), 'schema_violation'],
    ];
    for (const [body, code] of cases) {
      const r = await push(body);
      expect([r.status, r.json.error.code], code).toEqual([400, code]);
    }
    expect(rows(inst.key)).toHaveLength(0);
  });

  it('answers 413 over the size limit and 415 for a wrong content type', async () => {
    const big = await push(JSON.stringify({ payload: 'x'.repeat(20_000) }));
    expect([big.status, big.json.error.code]).toEqual([413, 'too_large']);
    const inst = new Installation();
    const r = await push(inst.envelope(1), { 'content-type': 'text/plain' });
    expect([r.status, r.json.error.code]).toEqual([415, 'unsupported_media_type']);
    expect(rows(inst.key)).toHaveLength(0);
  });
});

describe('POST /v1/reports/batch', () => {
  it('gives per-item results and stores the good items', async () => {
    const a = new Installation();
    const b = new Installation();
    const envA = JSON.parse(a.envelope(1));
    const r = await batch([envA, JSON.parse(b.envelope(2)), { nope: true }, envA]);
    expect(r.status).toBe(202);
    // envA twice in one batch: the second is a duplicate
    expect(r.json).toMatchObject({ accepted: 2, duplicates: 1 });
    expect(r.json.rejected.map((x: { index: number; code: string }) => [x.index, x.code])).toEqual([[2, 'bad_envelope']]);
    const replay = await batch([JSON.parse(a.envelope(2)), JSON.parse(b.envelope(1))]);
    expect(replay.json).toMatchObject({ accepted: 1, duplicates: 0, rejected: [{ index: 1, code: 'replayed' }] });
    expect(rows(a.key).map((x) => x.seq)).toEqual([2]);
    expect(rows(b.key).map((x) => x.seq)).toEqual([2]);
  });

  it('orders a shuffled batch by seq per key, so older periods are not lost as replays', async () => {
    const a = new Installation();
    const r = await batch([JSON.parse(a.envelope(3, T0)), JSON.parse(a.envelope(2, T0 - DAY)), JSON.parse(a.envelope(1, T0 - 2 * DAY))]);
    expect(r.json).toMatchObject({ accepted: 3, duplicates: 0, rejected: [] });
  });

  it('refuses malformed batches, too many items (413) and too many bytes (413)', async () => {
    expect((await batch(undefined as unknown as unknown[])).json.error.code).toBe('bad_batch');
    expect((await post(`${url}/v1/reports/batch`, '[1,2]')).json.error.code).toBe('bad_batch');
    expect((await post(`${url}/v1/reports/batch`, '{"reports":')).json.error.code).toBe('bad_json');
    const inst = new Installation();
    const six = Array.from({ length: 6 }, (_, i) => JSON.parse(inst.envelope(i + 1, T0 - i * DAY)));
    const many = await batch(six);
    expect([many.status, many.json.error.code]).toEqual([413, 'too_large']);
    const huge = await batch([{ payload: 'x'.repeat(70_000) }]);
    expect([huge.status, huge.json.error.code]).toEqual([413, 'too_large']);
    expect(rows(inst.key)).toHaveLength(0);
  });
});

describe('operators and lifecycle', () => {
  it('serves /healthz, /metrics with counts by code, and JSON 404/405', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const m = await (await fetch(`${url}/metrics`)).text();
    expect(m).toMatch(/beacon_aggregator_reports_rejected_total\{code="replayed"\} [1-9]/);
    expect(m).toMatch(/beacon_aggregator_reports_accepted_total [1-9]/);
    expect(m).toMatch(/beacon_aggregator_db_bytes [1-9]/);
    expect(m).toMatch(/beacon_aggregator_ingest_seconds_count\{route="batch"\} [1-9]/);
    const nf = await fetch(`${url}/nope`);
    expect([nf.status, ((await nf.json()) as any).error.code]).toEqual([404, 'not_found']);
    const na = await fetch(`${url}/v1/reports`);
    expect([na.status, ((await na.json()) as any).error.code]).toEqual([405, 'method_not_allowed']);
  });

  it('rate-limits per source with 429 and Retry-After', async () => {
    const small = await startAggregator({ ...config(), dbPath: join(tmp.path, 'rl.db'), rateLimit: { capacity: 3, refillPerSec: 0.01 } }, { clock: time.clock });
    try {
      const inst = new Installation();
      const statuses: number[] = [];
      let last;
      for (let i = 1; i <= 5; i++) {
        last = await post(`${small.url}/v1/reports`, inst.envelope(i, T0 - (i - 1) * DAY));
        statuses.push(last.status);
      }
      expect(statuses).toEqual([202, 202, 202, 429, 429]);
      expect(last!.json.error.code).toBe('rate_limited');
      expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await small.agg.close();
    }
  });

  it('keeps everything across a restart, and retention deletes old reports and silent keys but keeps the totals', async () => {
    const inst = new Installation();
    const env = inst.envelope(10, T0 - DAY);
    expect((await push(env)).status).toBe(202);
    const before = ctx.agg.store.counts();
    await ctx.agg.close();
    ctx = await startAggregator(config(), { clock: time.clock });
    url = ctx.url;
    expect(ctx.agg.store.counts()).toEqual(before);
    expect((await push(env)).json).toEqual({ accepted: 0, duplicates: 1 });
    expect((await push(inst.envelope(9))).json.error.code).toBe('replayed');

    const countRows = (sql: string) => {
      const db = new Database(dbPath, { readonly: true });
      try {
        return (db.prepare(sql).get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const totalsBefore = countRows('SELECT COALESCE(SUM(n), 0) AS n FROM totals_counts');
    expect(totalsBefore).toBeGreaterThan(0);
    time.now = T0 + 31 * DAY;
    expect(ctx.agg.retentionOnce()).toBeGreaterThan(0);
    time.now = T0;
    expect(countRows('SELECT COUNT(*) AS n FROM reports')).toBe(0);
    expect(countRows('SELECT COUNT(*) AS n FROM installations')).toBe(0);
    expect(countRows('SELECT COALESCE(SUM(n), 0) AS n FROM totals_counts')).toBe(totalsBefore);
  });
});
