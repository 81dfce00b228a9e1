/**
 * The public totals API over real HTTP: a real aggregator on 127.0.0.1 with a real SQLite
 * file, reports pushed as signed envelopes, an injected clock. Responses are checked
 * against the ground truth of the exact values and validated against /api/v1/openapi.json.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, fromBase64Url } from '../src/protocol/base64.js';
import { canonicalize } from '../src/protocol/canonical.js';
import { pae } from '../src/protocol/envelope.js';
import { addDays, dayOf, dayStart } from '../src/protocol/time.js';
import { ed25519Verify } from '../src/protocol/verify.js';
import type { Series, Totals } from '../aggregator/totals/schema.js';
import { Installation, post, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';
import { checkAgainstTruth, installationArb, parseCsv, type Inst } from './totals-truth.js';

const K = 5;

async function get(base: string, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, { headers });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, text, json, headers: res.headers };
}

/** Validates response bodies against the schemas the served OpenAPI document declares. */
function openApiValidator(doc: any) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ $id: 'https://beacon.test/openapi', components: doc.components });
  return (path: string, status: number, body: unknown) => {
    const schema = doc.paths[path].get.responses[status].content['application/json'].schema;
    const validate = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"https://beacon.test/openapi#/components/')));
    const ok = validate(body);
    expect(ok, `${path} ${status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
  };
}


const daysBetween = (a: string, b: string) => Math.round((dayStart(b) - dayStart(a)) / 86_400_000);

describe('public totals API', () => {
  const tmp = tempDir('api-totals');
  const clock = testClock(Date.parse('2026-11-20T09:00:00Z'));
  let base = '';
  let close: () => Promise<void> = async () => {};
  let validate: ReturnType<typeof openApiValidator>;
  /** Per installation: its latest exact values in W49 and its first-seen day. */
  const latest = new Map<Installation, { exact: Record<string, unknown>; firstSeen: string }>();

  beforeAll(async () => {
    // "live": this suite checks the numbers of the current week as they come in.
    const { agg, url } = await startAggregator({ dbPath: `${tmp.path}/agg.db`, totals: { k: K, publish: 'live' } }, { clock: clock.clock });
    base = url;
    close = () => agg.close();
    const samples = fc.sample(installationArb, { numRuns: 70, seed: 49 });
    const insts = samples.map(() => new Installation());
    const seqs = new Map<Installation, number>();
    const push = async (items: { inst: Installation; exact: Record<string, unknown> }[]) => {
      const reports = items.map(({ inst, exact }) => {
        const seq = (seqs.get(inst) ?? 0) + 1;
        seqs.set(inst, seq);
        return JSON.parse(inst.envelope(seq, clock.now, exact));
      });
      const r = await post(`${url}/v1/reports/batch`, JSON.stringify({ reports }));
      expect(r.json).toMatchObject({ accepted: items.length });
    };
    // A third are first seen on 2026-11-20 (established by W49); all report in W49, some twice.
    await push(insts.slice(0, 23).map((inst, i) => ({ inst, exact: samples[i]!.exact })));
    for (const inst of insts.slice(0, 23)) latest.set(inst, { exact: {}, firstSeen: '2026-11-20' });
    clock.now = Date.parse('2026-12-01T10:00:00Z');
    await push(insts.map((inst, i) => ({ inst, exact: samples[(i + 7) % samples.length]!.exact })));
    clock.now = Date.parse('2026-12-03T16:00:00Z');
    const again = insts.filter((_, i) => i % 3 === 0);
    await push(again.map((inst, i) => ({ inst, exact: samples[(i * 5) % samples.length]!.exact })));
    insts.forEach((inst, i) => latest.set(inst, { exact: samples[(i + 7) % samples.length]!.exact, firstSeen: latest.get(inst)?.firstSeen ?? '2026-12-01' }));
    again.forEach((inst, i) => latest.set(inst, { exact: samples[(i * 5) % samples.length]!.exact, firstSeen: latest.get(inst)!.firstSeen }));
    validate = openApiValidator((await get(url, '/api/v1/openapi.json')).json);
  });

  afterAll(async () => {
    await close();
    tmp.remove();
  });

  const truthFor = (to: string): Inst[] => [...latest.values()].map((v) => ({ exact: v.exact, firstSeenDaysBeforeEnd: daysBetween(v.firstSeen, to) }));

  it('totals equal the ground truth of the exact values, bucketed, with suppression applied', async () => {
    const r = await get(base, '/api/v1/products/operately/totals?window=week&period=2026-W49');
    expect(r.status).toBe(200);
    validate('/api/v1/products/{product}/totals', 200, r.json);
    const t = r.json as Totals;
    // The validator does reject what the document does not allow.
    expect(() => validate('/api/v1/products/{product}/totals', 200, { ...t, installations: -1 })).toThrow();
    expect(() => validate('/api/v1/products/{product}/totals', 200, { ...t, exact: 3 })).toThrow();
    expect(t).toMatchObject({ product: 'operately', window: 'week', period: '2026-W49', from: '2026-11-30', to: '2026-12-06', complete: false, k: K });
    expect(t.installations).toBe(70);
    expect(t.established).toBe(23);
    checkAgainstTruth(t, truthFor('2026-12-06'), K);
    expect(t.fields.some((f) => f.cells.some((c) => c.suppressed))).toBe(true); // the data has small cells
    // December holds the same latest reports (the November ones fall in another month).
    const m = (await get(base, '/api/v1/products/operately/totals?window=month&period=2026-12')).json as Totals;
    checkAgainstTruth(m, truthFor('2026-12-31'), K);
  });

  it('defaults to the latest complete week, and a window below k publishes only that fact', async () => {
    const d = await get(base, '/api/v1/products/operately/totals');
    expect(d.json.period).toBe('2026-W48'); // the clock is in W49
    expect(d.json).toMatchObject({ belowThreshold: true, installations: null, established: null, fields: [] });
    validate('/api/v1/products/{product}/totals', 200, d.json);
    const day = await get(base, '/api/v1/products/operately/totals?window=day&period=2026-11-20');
    expect(day.json).toMatchObject({ belowThreshold: false, installations: 23, complete: true });
  });

  it('CSV holds exactly the numbers of the JSON', async () => {
    for (const q of ['window=week&period=2026-W49', 'window=day&period=2026-12-03', 'window=week&period=2026-W48']) {
      const j = (await get(base, `/api/v1/products/operately/totals?${q}`)).json as Totals;
      const c = await get(base, `/api/v1/products/operately/totals?${q}&format=csv`);
      expect(c.headers.get('content-type')).toMatch(/^text\/csv/);
      const [header, ...rows] = parseCsv(c.text);
      expect(header).toEqual(['product', 'window', 'period', 'section', 'field', 'label', 'count', 'suppressed']);
      const fromCsv = rows.map((r) => [r[3], r[4], r[5], r[6] === '' ? null : Number(r[6]), r[7] === 'true']);
      const fromJson: unknown[] = [['installations', '', '', j.installations, j.belowThreshold]];
      if (!j.belowThreshold) fromJson.push(['established', '', '', j.established, j.established === null]);
      for (const f of j.fields) {
        for (const cell of f.cells) fromJson.push([f.kind === 'features' ? 'feature' : 'field', f.name, cell.label, cell.count, cell.suppressed]);
        if (f.absent) fromJson.push(['absent', f.name, '', f.absent.count, f.absent.suppressed]);
      }
      expect(fromCsv).toEqual(fromJson);
    }
  });

  it('signed totals verify with the published key', async () => {
    const key = await get(base, '/api/v1/key');
    validate('/api/v1/key', 200, key.json);
    const s = await get(base, '/api/v1/products/operately/totals?window=week&period=2026-W49&signed=1');
    validate('/api/v1/products/{product}/totals', 200, s.json);
    expect(s.json.payloadType).toBe('application/vnd.beacon.totals.v1+json');
    expect(s.json.signatures[0].keyid).toBe(key.json.keyid);
    const payload = fromBase64(s.json.payload)!;
    const sig = fromBase64(s.json.signatures[0].sig)!;
    const pub = fromBase64Url(key.json.keyid)!;
    expect(ed25519Verify(pub, pae(s.json.payloadType, payload), sig)).toBe(true);
    const plain = (await get(base, '/api/v1/products/operately/totals?window=week&period=2026-W49')).json;
    expect(new TextDecoder().decode(payload)).toBe(canonicalize(plain));
    const tampered = new TextEncoder().encode(canonicalize({ ...plain, installations: 71 }));
    expect(ed25519Verify(pub, pae(s.json.payloadType, tampered), sig)).toBe(false);
  });

  it('products, manifests and openapi responses match the document; CORS, ETag and 304', async () => {
    const p = await get(base, '/api/v1/products');
    validate('/api/v1/products', 200, p.json);
    const op = p.json.products.find((x: any) => x.product === 'operately');
    expect(op.latest).toMatchObject({ window: 'week', period: '2026-W48', belowThreshold: true });
    const ms = await get(base, '/api/v1/manifests');
    validate('/api/v1/manifests', 200, ms.json);
    expect(ms.json.manifests.map((m: any) => m.product)).toContain('operately');
    const m = await get(base, '/api/v1/manifests/operately');
    validate('/api/v1/manifests/{product}', 200, m.json);
    expect(m.json.fields.users.kind).toBe('range');
    for (const r of [p, ms, m]) expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(p.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const etag = m.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    const again = await get(base, '/api/v1/manifests/operately', { 'if-none-match': etag });
    expect(again.status).toBe(304);
  });

  it('bad parameters get 400 with the error body, unknown products 404', async () => {
    const cases: [string, number, string][] = [
      ['/api/v1/products/nosuch/totals', 404, 'unknown_product'],
      ['/api/v1/manifests/nosuch', 404, 'unknown_product'],
      ['/api/v1/products/nosuch/series?field=version', 404, 'unknown_product'],
      ['/api/v1/products/NOPE!/totals', 400, 'bad_product'],
      ['/api/v1/products/operately/totals?window=year', 400, 'bad_window'],
      ['/api/v1/products/operately/totals?window=week&period=2026-W54', 400, 'bad_period'],
      ['/api/v1/products/operately/totals?window=week&period=2026-12', 400, 'bad_period'],
      ['/api/v1/products/operately/totals?window=month&period=2027-06', 400, 'bad_period'],
      ['/api/v1/products/operately/totals?format=xml', 400, 'bad_format'],
      ['/api/v1/products/operately/totals?signed=yes', 400, 'bad_parameter'],
      ['/api/v1/products/operately/totals?window=day&window=week', 400, 'bad_parameter'],
      ['/api/v1/products/operately/series?field=hostname', 400, 'bad_field'],
      ['/api/v1/products/operately/series', 400, 'bad_field'],
      ['/api/v1/products/operately/series?field=version&window=day&from=2025-01-01&to=2026-12-01', 400, 'bad_period'],
      ['/api/v1/products/operately/series?field=version&from=2026-W49&to=2026-W45', 400, 'bad_period'],
    ];
    for (const [path, status, code] of cases) {
      const r = await get(base, path);
      expect([path, r.status, r.json?.error?.code]).toEqual([path, status, code]);
      expect(r.headers.get('access-control-allow-origin')).toBe('*');
      const route = path.includes('/series') ? '/api/v1/products/{product}/series' : path.includes('/manifests') ? '/api/v1/manifests/{product}' : '/api/v1/products/{product}/totals';
      validate(route, status, r.json);
    }
  });
});

describe('series over several periods', () => {
  const tmp = tempDir('api-series');
  const clock = testClock(Date.parse('2026-11-05T12:00:00Z')); // Thursday of 2026-W45
  let base = '';
  let close: () => Promise<void> = async () => {};
  const weeks = ['2026-W45', '2026-W46', '2026-W47', '2026-W48', '2026-W49'];
  /** week -> the exact values each reporting installation sent that week, and first-seen day. */
  const perWeek = new Map<string, { exact: Record<string, unknown>; firstSeen: string }[]>();

  beforeAll(async () => {
    const { agg, url } = await startAggregator({ dbPath: `${tmp.path}/agg.db` }, { clock: clock.clock });
    base = url;
    close = () => agg.close();
    const insts = Array.from({ length: 30 }, () => new Installation());
    const firstSeen = new Map<Installation, string>();
    for (let w = 0; w < weeks.length; w++) {
      // More installations each week, upgrading from 1.4.2 to 1.5.0 over time.
      const active = insts.slice(0, 10 + 5 * w);
      const sent: { exact: Record<string, unknown>; firstSeen: string }[] = [];
      const reports = active.map((inst, i) => {
        if (!firstSeen.has(inst)) firstSeen.set(inst, dayOf(clock.now));
        const exact = { ...EXACT, version: i < 6 * w ? '1.5.0' : i % 7 === 6 ? '1.3.9' : '1.4.2', users: 5 + 20 * i };
        sent.push({ exact, firstSeen: firstSeen.get(inst)! });
        return JSON.parse(inst.envelope(w + 1, clock.now, exact));
      });
      expect((await post(`${url}/v1/reports/batch`, JSON.stringify({ reports }))).json.accepted).toBe(active.length);
      perWeek.set(weeks[w]!, sent);
      clock.now += 7 * 86_400_000;
    }
    clock.now = Date.parse('2026-12-14T10:00:00Z'); // Monday of W51: W49 is the latest final week
  });

  afterAll(async () => {
    await close();
    tmp.remove();
  });

  it('each point equals that period\'s totals and its ground truth; CSV equals JSON', async () => {
    const r = await get(base, '/api/v1/products/operately/series?field=version&window=week&from=2026-W45&to=2026-W49');
    expect(r.status).toBe(200);
    const validate = openApiValidator((await get(base, '/api/v1/openapi.json')).json);
    validate('/api/v1/products/{product}/series', 200, r.json);
    const s = r.json as Series;
    expect(s.points.map((p) => p.period)).toEqual(weeks);
    expect(s.points.map((p) => p.installations)).toEqual([10, 15, 20, 25, 30]);
    for (const p of s.points) {
      const t = (await get(base, `/api/v1/products/operately/totals?window=week&period=${p.period}`)).json as Totals;
      expect(p.cells).toEqual(t.fields.find((f) => f.name === 'version')!.cells);
      const to = addDays(p.from, 6);
      checkAgainstTruth(t, perWeek.get(p.period)!.map((x) => ({ exact: x.exact, firstSeenDaysBeforeEnd: daysBetween(x.firstSeen, to) })), 5);
    }
    // Adoption moves: 1.5.0 goes from nothing to the majority. In W46 its 6 are hidden by
    // complementary suppression: "other" (two 1.3.9) is below k and must not be recoverable.
    const share = s.points.map((p) => p.cells.find((c) => c.label === '1.5.0')?.count);
    expect(share).toEqual([undefined, null, 12, 18, 24]);
    expect(s.points[1]!.cells.find((c) => c.label === 'other')).toEqual({ label: 'other', count: null, suppressed: true });
    // Defaults: the 12 weeks up to the latest final one.
    const d = (await get(base, '/api/v1/products/operately/series?field=version')).json as Series;
    expect([d.points.length, d.to, d.from]).toEqual([12, '2026-W49', '2026-W38']);
    const csv = parseCsv((await get(base, '/api/v1/products/operately/series?field=version&window=week&from=2026-W45&to=2026-W49&format=csv')).text);
    expect(csv[0]).toEqual(['product', 'window', 'period', 'field', 'label', 'count', 'suppressed']);
    const fromJson = s.points.flatMap((p) => [
      [p.period, '', '(installations)', p.installations, p.belowThreshold],
      ...p.cells.map((c) => [p.period, 'version', c.label, c.count, c.suppressed]),
      ...(p.absent ? [[p.period, 'version', '(absent)', p.absent.count, p.absent.suppressed]] : []),
    ]);
    expect(csv.slice(1).map((r) => [r[2], r[3], r[4], r[5] === '' ? null : Number(r[5]), r[6] === 'true'])).toEqual(fromJson);
  });
});

const EXACT = { version: '1.4.2', elixir_version: '1.16.3', otp_version: '26.2.5', os: 'linux', architecture: 'x86_64', deployment_type: 'docker', users: 37 };
