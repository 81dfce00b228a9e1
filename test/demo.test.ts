/**
 * The demo end to end: a small federation (30 installations, 2 weeks, fixed seed) runs
 * for real (threads, sockets, keys, SQLite), and the totals the aggregator publishes
 * over its public API must equal the ground truth recomputed here from the generator's
 * exact values: latest report per installation and window, bucketed with the manifests,
 * with the same suppression (the totals' pure suppressPartition) and threshold k.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareVersionsDesc, OTHER } from '../aggregator/totals/compute.js';
import type { Totals } from '../aggregator/totals/schema.js';
import { suppressPartition } from '../aggregator/totals/suppress.js';
import { parsePeriod, type WindowKind } from '../aggregator/totals/windows.js';
import { run } from '../demo/cli.js';
import { runDemo, type Demo } from '../demo/federation.js';
import { createFleet } from '../demo/generator.js';
import { loadManifestDir } from '../src/manifests.js';
import { bucketLabel, ladderLabels, ladderOf, truncateVersion, type Manifest } from '../src/protocol/manifest.js';
import { BeaconError } from '../src/protocol/errors.js';
import { addDays } from '../src/protocol/time.js';

const K = 3;
const TODAY = '2026-12-03'; // replay: 2026-11-19 .. 2026-12-02
const manifests = loadManifestDir();

let dir: string;
let demo: Demo;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'beacon-demo-'));
  demo = await runDemo({ installations: 30, weeks: 2, seed: 7, port: 0, k: K, today: TODAY, dataDir: join(dir, 'demo'), threads: 2 });
}, 90_000);

afterAll(async () => {
  await demo?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Truth {
  n: number;
  established: number;
  /** field -> label -> installations (features: token -> installations that have it). */
  cells: Record<string, Record<string, number>>;
}

/** Exact value -> wire label(s), straight from the manifest's own definitions. */
function labelsOf(spec: Manifest['fields'][string], exact: unknown): string[] {
  switch (spec.kind) {
    case 'range': return [bucketLabel(ladderOf(spec), exact as number)];
    case 'version': return [truncateVersion(exact as string, spec.precision)!];
    case 'features': return (exact as string[]).filter((f) => spec.vocabulary.includes(f));
    case 'category': {
      const v = String(exact).toLowerCase();
      return [spec.values.includes(v) ? v : OTHER];
    }
  }
}

/** Every installation's exact values per replayed day, from a fresh generator with the demo's options. */
function exactByDay(): Map<number, Record<string, unknown>>[] {
  const fleet = createFleet(demo.fleet.options);
  const out = fleet.installations.map(() => new Map<number, Record<string, unknown>>());
  for (let d = 0; d < fleet.options.days; d++) {
    fleet.installations.forEach((s, i) => {
      const v = s.valuesOn(d);
      if (v) out[i]!.set(d, v);
    });
  }
  return out;
}

function truthFor(product: string, kind: WindowKind, period: string, exact: Map<number, Record<string, unknown>>[]): Truth {
  const fleet = demo.fleet;
  const w = parsePeriod(kind, period)!;
  const manifest = manifests.latest(product)!;
  const t: Truth = { n: 0, established: 0, cells: {} };
  fleet.installations.forEach((s, i) => {
    if (s.model.product !== product) return;
    // The installation's latest report in the window: its last day alive in it.
    const days = [...exact[i]!.keys()].filter((d) => fleet.dayOfIndex(d) >= w.from && fleet.dayOfIndex(d) <= w.to);
    if (!days.length) return;
    const values = exact[i]!.get(Math.max(...days))!;
    t.n++;
    // First seen by the aggregator on its first day: every path delivers on the day of the report.
    if (fleet.dayOfIndex(s.bornDay) <= addDays(w.to, -7)) t.established++;
    for (const [name, spec] of Object.entries(manifest.fields)) {
      if (values[name] === undefined) continue;
      for (const label of labelsOf(spec, values[name])) {
        const cells = (t.cells[name] ??= {});
        cells[label] = (cells[label] ?? 0) + 1;
      }
    }
  });
  return t;
}

/** The document the rules say must be published for this ground truth (noise is off). */
function expectedFields(manifest: Manifest, t: Truth) {
  return Object.entries(manifest.fields).map(([name, spec]) => {
    const counts = t.cells[name] ?? {};
    if (spec.kind === 'features') {
      return {
        name, kind: spec.kind, absent: null,
        cells: spec.vocabulary.map((label) => {
          const c = counts[label] ?? 0;
          const hidden = suppressPartition([c, t.n - c], K)[0]!;
          return { label, count: hidden ? null : c, suppressed: hidden };
        }),
      };
    }
    let labels: string[];
    let values: number[];
    if (spec.kind === 'version') {
      // Versions below k fold into `other`: not even a rare version's existence is published.
      const big = Object.keys(counts).filter((l) => counts[l]! >= K).sort(compareVersionsDesc);
      labels = [...big, OTHER];
      values = [...big.map((l) => counts[l]!), Object.values(counts).filter((c) => c < K).reduce((a, b) => a + b, 0)];
    } else {
      labels = spec.kind === 'range' ? ladderLabels(ladderOf(spec)) : spec.values;
      values = labels.map((l) => counts[l] ?? 0);
    }
    const absent = t.n - values.reduce((a, b) => a + b, 0);
    const hidden = suppressPartition([...values, absent], K);
    return {
      name, kind: spec.kind,
      cells: labels.map((label, i) => ({ label, count: hidden[i] ? null : values[i]!, suppressed: hidden[i]! })),
      absent: { count: hidden[labels.length] ? null : absent, suppressed: hidden[labels.length]! },
    };
  });
}

async function published(product: string, kind: WindowKind, period: string): Promise<Totals> {
  const res = await fetch(`${demo.url}/api/v1/products/${product}/totals?window=${kind}&period=${period}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Totals;
}

describe('beacon demo', () => {
  it('runs every installation with its own key and state directory, over every path', () => {
    expect(demo.installations).toHaveLength(30);
    const keys = new Set(demo.installations.map((x) => x.publicKey));
    expect(keys.size).toBe(30);
    expect(keys.has(null)).toBe(false);
    for (const x of demo.installations.slice(0, 5)) expect(statSync(join(x.stateDir, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(new Set(demo.installations.map((x) => x.product))).toEqual(new Set(['operately', 'nextcloud', 'gitlab', 'discourse']));

    const s = demo.summary();
    expect(s.replay).toMatchObject({ from: '2026-11-19', to: '2026-12-02', days: 14, failedRuns: 0 });
    for (const path of ['crawled', 'relay-a', 'relay-b', 'direct'] as const) {
      const p = s.byPath[path];
      expect(p.installations, path).toBeGreaterThan(0);
      // Everyone still running on the last day has that day's report stored.
      expect(p.reporting, path).toBe(p.installations - p.stopped);
    }
    // The hostile sender's tampered and stale reports were refused, and nothing else was.
    expect(Object.keys(s.rejected).sort()).toEqual(['bad_signature', 'stale']);
  });

  it('publishes totals equal to the ground truth from the generator, bucketed and suppressed with k', async () => {
    const exact = exactByDay();
    let compared = 0;
    let unsuppressed = 0;
    const windows: [WindowKind, string][] = [
      ['day', '2026-11-19'], ['day', '2026-11-26'], ['day', '2026-12-02'],
      ['week', '2026-W47'], ['week', '2026-W48'], ['week', '2026-W49'], ['month', '2026-11'],
    ];
    for (const product of ['operately', 'nextcloud', 'gitlab', 'discourse']) {
      const manifest = manifests.latest(product)!;
      for (const [kind, period] of windows) {
        const t = truthFor(product, kind, period, exact);
        const doc = await published(product, kind, period);
        expect(doc, `${product} ${period}`).toMatchObject({ product, window: kind, period, k: K, noise: null });
        if (t.n < K) {
          expect(doc).toMatchObject({ belowThreshold: true, installations: null, established: null, fields: [] });
          continue;
        }
        expect(doc.belowThreshold).toBe(false);
        expect(doc.installations, `${product} ${period} installations`).toBe(t.n);
        const e = suppressPartition([t.established, t.n - t.established], K)[0] ? null : t.established;
        expect(doc.established, `${product} ${period} established`).toBe(e);
        expect(doc.fields, `${product} ${period}`).toEqual(expectedFields(manifest, t));
        compared++;
        unsuppressed += doc.fields.flatMap((f) => f.cells).filter((c) => !c.suppressed).length;
      }
    }
    // The comparison is not vacuous: most windows are above k and many cells are published.
    expect(compared).toBeGreaterThanOrEqual(20);
    expect(unsuppressed).toBeGreaterThanOrEqual(100);
  });

  it('shows version adoption moving to newer releases over the replay', () => {
    // The generator's shape, checked on its own values: the newest release's share grows.
    const exact = exactByDay();
    const share = (d: number) => {
      let newest = 0;
      let n = 0;
      demo.fleet.installations.forEach((s, i) => {
        const v = exact[i]!.get(d);
        if (!v) return;
        n++;
        if (v['version'] === s.model.releases[s.model.releases.length - 1]!.version) newest++;
      });
      return newest / n;
    };
    expect(share(13)).toBeGreaterThan(share(0));
  });

  it('the CLI answers --help and refuses bad flags with exit code 2', async () => {
    const out: string[] = [];
    expect(await run(['--help'], { out: (t) => out.push(t), err: (t) => out.push(t) })).toBe(0);
    expect(out.join('')).toContain('--installations N');
    for (const bad of [['--installations', '0'], ['--weeks', 'x'], ['--port', '70000'], ['--nope']])
      expect(await run(bad, { out: () => {}, err: () => {} }), bad.join(' ')).toBe(2);
  });

  it('with the port in use, refuses with port_in_use before it wipes the data directory', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as net.AddressInfo).port;
    const data = mkdtempSync(join(tmpdir(), 'beacon-demo-port-'));
    try {
      // A directory an earlier demo made (its marker), holding something the wipe would delete.
      writeFileSync(join(data, '.beacon-demo'), 'Created by `beacon demo`; wiped at every start.\n');
      writeFileSync(join(data, 'sentinel'), 'still here\n');
      const err = await runDemo({ installations: 1, weeks: 1, seed: 7, port, today: TODAY, dataDir: data, threads: 1 }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(BeaconError);
      expect((err as BeaconError).code).toBe('port_in_use');
      expect(readFileSync(join(data, 'sentinel'), 'utf8')).toBe('still here\n');
    } finally {
      await new Promise((r) => busy.close(r));
      rmSync(data, { recursive: true, force: true });
    }
  });

  it('closes every server and database', async () => {
    const url = demo.url;
    const someInstallation = demo.installations[0]!.url;
    const probes = [`${url}/healthz`, `${someInstallation}/.well-known/beacon`, `${demo.relays.aUrl}/healthz`, `${demo.relays.bUrl}/healthz`];
    for (const probe of probes) expect((await fetch(probe)).status, probe).toBe(200);
    await demo.close();
    expect(demo.aggregator.store.db.open).toBe(false);
    // Each of these answers 200 while its server is up. After close the port is refused; on a
    // shared machine another process may already have taken the freed port, so an answer
    // from someone else (not a 200 on this path) is accepted too.
    for (const probe of probes) {
      const status = await fetch(probe).then((r) => r.status, () => 'refused');
      expect(status, probe).not.toBe(200);
    }
  });
});
