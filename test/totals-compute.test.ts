import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadManifestFile } from '../src/manifests.js';
import { bucketLabel, ladderOf, truncateVersion } from '../src/protocol/manifest.js';
import { buildReport } from '../src/protocol/report.js';
import { addDays } from '../src/protocol/time.js';
import { countReports, publishTotals, type InstallationReport } from '../aggregator/totals/compute.js';
import { hmacNoise } from '../aggregator/totals/noise.js';
import type { Totals } from '../aggregator/totals/schema.js';
import { suppressPartition } from '../aggregator/totals/suppress.js';
import { parsePeriod } from '../aggregator/totals/windows.js';

const MANIFEST = loadManifestFile('config/products/operately.json');
const WEEK = parsePeriod('week', '2026-W49')!;
const KEY = 'A'.repeat(43);

const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
/** Exact values as an app would pass them, skewed so that small cells are common. */
const installationArb = fc.record({
  exact: fc.record({
    version: fc.constantFrom('1.4.2', '1.4.2', '1.4.2', '1.4.3', '1.5.0-rc1', '2.0.1'),
    elixir_version: fc.constantFrom('1.16.3', '1.16.0', '1.17.2'),
    otp_version: fc.constantFrom('26.2.5', '27.0.1'),
    os: fc.constantFrom('linux', 'linux', 'linux', 'linux', 'darwin', 'windows', 'freebsd'),
    architecture: fc.constantFrom('x86_64', 'x86_64', 'arm64'),
    deployment_type: fc.constantFrom('docker', 'docker', 'source', 'binary'),
    users: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 9000 })),
    projects: opt(fc.integer({ min: 0, max: 300 })),
    goals: opt(fc.integer({ min: 0, max: 300 })),
    db_size_mb: opt(fc.integer({ min: 0, max: 200_000 })),
    features: opt(fc.subarray(['ai_features', 'notifications', 'sso'])),
  }),
  firstSeenDaysBeforeEnd: fc.integer({ min: 0, max: 20 }),
});

type Inst = { exact: Record<string, unknown>; firstSeenDaysBeforeEnd: number };

function reportsOf(insts: Inst[]): InstallationReport[] {
  return insts.map((i) => ({
    values: buildReport(MANIFEST, i.exact, { key: KEY, seq: 1, now: Date.parse('2026-12-03T12:00:00Z') }).values,
    firstSeen: addDays(WEEK.to, -i.firstSeenDaysBeforeEnd),
  }));
}

/** Ground truth from the exact values, computed here independently of compute.ts. */
function truth(insts: Inst[]) {
  const fields: Record<string, Record<string, number>> = {};
  const absent: Record<string, number> = {};
  for (const i of insts) {
    for (const [name, spec] of Object.entries(MANIFEST.fields)) {
      const x = i.exact[name];
      if (x === undefined) { absent[name] = (absent[name] ?? 0) + 1; continue; }
      const labels = spec.kind === 'range' ? [bucketLabel(ladderOf(spec), x as number)]
        : spec.kind === 'version' ? [truncateVersion(x as string, spec.precision)!]
        : spec.kind === 'features' ? [...new Set(x as string[])] : [x as string];
      for (const l of labels) (fields[name] ??= {})[l] = ((fields[name] ??= {})[l] ?? 0) + 1;
    }
  }
  return { n: insts.length, established: insts.filter((i) => i.firstSeenDaysBeforeEnd >= 7).length, fields, absent };
}

/** Checks a published document against the ground truth and the disclosure rules. */
function checkAgainstTruth(t: Totals, insts: Inst[], k: number) {
  const g = truth(insts);
  const published: number[] = [];
  if (g.n < k) {
    expect(t.belowThreshold).toBe(true);
    expect([t.installations, t.established, t.fields.length]).toEqual([null, null, 0]);
    return;
  }
  expect(t.installations).toBe(g.n);
  published.push(t.installations!);
  // Two-cell partitions: [established, new], [has feature, does not].
  const pair = (pub: number | null, exact: number) => {
    if (pub !== null) {
      expect(pub).toBe(exact);
      published.push(pub);
      expect(g.n - pub === 0 || g.n - pub >= k, 'the other side of a pair is not a small group').toBe(true);
    } else expect(exact < k || (g.n - exact > 0 && g.n - exact < k), 'only suppressed for a reason').toBe(true);
  };
  pair(t.established, g.established);
  for (const f of t.fields) {
    const spec = MANIFEST.fields[f.name]!;
    const exact = g.fields[f.name] ?? {};
    if (spec.kind === 'features') {
      expect(f.cells.map((c) => c.label)).toEqual(spec.vocabulary);
      for (const c of f.cells) pair(c.count, exact[c.label] ?? 0);
      continue;
    }
    let hiddenMass = g.n;
    let hidden = 0;
    let hiddenNonZero = 0;
    const shown = new Set<string>();
    for (const c of f.cells) {
      if (c.label === 'other' && spec.kind === 'version') {
        const rest = Object.entries(exact).filter(([l]) => !f.cells.some((x) => x.label === l)).reduce((s, [, v]) => s + v, 0);
        if (c.count !== null) expect(c.count).toBe(rest);
        if (c.count === null) { hidden++; if (rest > 0) hiddenNonZero++; } else { hiddenMass -= c.count; published.push(c.count); }
        continue;
      }
      shown.add(c.label);
      if (c.count !== null) {
        expect(c.count, `${f.name}=${c.label}`).toBe(exact[c.label] ?? 0);
        hiddenMass -= c.count;
        published.push(c.count);
      } else {
        hidden++;
        if ((exact[c.label] ?? 0) > 0) hiddenNonZero++;
      }
    }
    if (spec.kind === 'version') for (const l of Object.keys(exact)) if (!shown.has(l)) expect(exact[l]! >= k && false, `${l} folded although big`).toBe(false);
    if (f.absent!.count !== null) {
      expect(f.absent!.count).toBe(g.absent[f.name] ?? 0);
      hiddenMass -= f.absent!.count;
      published.push(f.absent!.count);
    } else {
      hidden++;
      if ((g.absent[f.name] ?? 0) > 0) hiddenNonZero++;
    }
    // What subtraction yields about the hidden cells: their sum. It is 0 (nothing to protect) or >= k,
    // and a non-zero hidden cell never stands alone, so no single cell can be worked out.
    expect(hiddenMass === 0 || hiddenMass >= k, `${f.name}: hidden mass ${hiddenMass}`).toBe(true);
    if (hiddenNonZero > 0) expect(hidden).toBeGreaterThanOrEqual(2);
  }
  for (const v of published) expect(v).toBeGreaterThanOrEqual(k);
}

describe('suppressPartition', () => {
  it('hides small cells and then the next smallest, until the hidden mass is 0 or at least k', () => {
    // linux 30, darwin 6, windows 2, freebsd 0, other 0: the hidden mass 2 would reveal
    // "two installations run windows, freebsd or other", so darwin goes too.
    expect(suppressPartition([30, 6, 2, 0, 0], 5)).toEqual([false, true, true, true, true]);
    expect(suppressPartition([30, 6, 0, 0, 0], 5)).toEqual([false, false, true, true, true]);
    expect(suppressPartition([30, 6, 7], 5)).toEqual([false, false, false]);
    expect(suppressPartition([3, 2, 40], 5)).toEqual([true, true, false]);
    expect(suppressPartition([4, 40], 5)).toEqual([true, true]);
  });

  it('for any partition: nothing published below k, hidden mass 0 or >= k, no lone non-zero hidden cell', () => {
    fc.assert(fc.property(fc.array(fc.nat({ max: 30 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 12 }), (counts, k) => {
      const hidden = suppressPartition(counts, k);
      const total = counts.reduce((s, c) => s + c, 0);
      const mass = counts.reduce((s, c, i) => s + (hidden[i] ? c : 0), 0);
      counts.forEach((c, i) => { if (!hidden[i]) expect(c).toBeGreaterThanOrEqual(k); });
      if (total >= k) expect(mass === 0 || mass >= k).toBe(true);
      const nonZeroHidden = counts.filter((c, i) => hidden[i] && c > 0).length;
      if (nonZeroHidden > 0 && total >= k) expect(hidden.filter(Boolean).length).toBeGreaterThanOrEqual(2);
      // Nothing is hidden when nothing needs to be.
      if (counts.every((c) => c >= k)) expect(hidden.some(Boolean)).toBe(false);
    }), { numRuns: 500 });
  });
});

describe('publishTotals', () => {
  it('publishes the ground truth of random installations, bucketed, with suppression applied', () => {
    fc.assert(fc.property(fc.array(installationArb, { maxLength: 70 }), fc.integer({ min: 2, max: 10 }), (insts, k) => {
      const t = publishTotals(countReports(reportsOf(insts), WEEK), MANIFEST, WEEK, { k, complete: true });
      checkAgainstTruth(t, insts, k);
    }), { numRuns: 300 });
  });

  it('a window with fewer than k installations publishes only that fact', () => {
    const insts = fc.sample(installationArb, 4);
    const t = publishTotals(countReports(reportsOf(insts), WEEK), MANIFEST, WEEK, { k: 5, complete: true });
    expect(t).toMatchObject({ belowThreshold: true, installations: null, established: null, fields: [] });
    const t5 = publishTotals(countReports(reportsOf(fc.sample(installationArb, 5)), WEEK), MANIFEST, WEEK, { k: 5, complete: true });
    expect(t5.installations).toBe(5);
  });

  it('lists every label of closed lists and ladders, and folds rare versions into other', () => {
    const insts: Inst[] = [];
    for (let i = 0; i < 12; i++) insts.push({ exact: { version: i < 9 ? '1.4.2' : '0.9.1', elixir_version: '1.16', otp_version: '26', os: 'linux', architecture: 'x86_64', deployment_type: 'docker', users: 20 }, firstSeenDaysBeforeEnd: 10 });
    const t = publishTotals(countReports(reportsOf(insts), WEEK), MANIFEST, WEEK, { k: 5, complete: true });
    const f = (name: string) => t.fields.find((x) => x.name === name)!;
    expect(f('users').cells.map((c) => c.label)).toEqual(['0', '1-10', '11-50', '51-200', '201-1000', '1001-5000', '5001+']);
    expect(f('os').cells.map((c) => c.label)).toEqual(MANIFEST.fields.os!.kind === 'category' ? MANIFEST.fields.os!.values : []);
    // 0.9.1 (3 installations) must not even be named; it is inside "other" (suppressed: 3 < 5).
    expect(f('version').cells.map((c) => c.label)).toEqual(['1.4.2', 'other']);
    expect(JSON.stringify(t)).not.toContain('0.9.1');
    expect(t.established).toBe(12);
  });

  it('noise: counts change, deterministic per cell, and still nothing below k is published', () => {
    const insts = fc.sample(installationArb, 60);
    const raw = countReports(reportsOf(insts), WEEK);
    const noise = hmacNoise(new Uint8Array(32).fill(7), 0.5);
    const a = publishTotals(raw, MANIFEST, WEEK, { k: 5, complete: true, noise });
    const b = publishTotals(raw, MANIFEST, WEEK, { k: 5, complete: true, noise });
    expect(a).toEqual(b);
    expect(a.noise).toEqual({ mechanism: 'laplace', epsilon: 0.5 });
    const exact = publishTotals(raw, MANIFEST, WEEK, { k: 5, complete: true });
    expect(JSON.stringify(a.fields)).not.toEqual(JSON.stringify(exact.fields));
    const nums = a.fields.flatMap((f) => [...f.cells.map((c) => c.count), f.absent?.count ?? null]).filter((x): x is number => x !== null);
    for (const v of nums) expect(v).toBeGreaterThanOrEqual(5);
    // Laplace(1/epsilon): mean absolute deviation 1/epsilon = 2, over many cells.
    const samples = Array.from({ length: 4000 }, (_, i) => noise.sample(`cell${i}`, 10));
    const mad = samples.reduce((s, x) => s + Math.abs(x), 0) / samples.length;
    expect(mad).toBeGreaterThan(1.7);
    expect(mad).toBeLessThan(2.3);
  });
});
