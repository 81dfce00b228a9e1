import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/protocol/report.js';
import { addDays } from '../src/protocol/time.js';
import { countReports, publishTotals, type InstallationReport } from '../aggregator/totals/compute.js';
import { hmacNoise } from '../aggregator/totals/noise.js';
import { suppressPartition } from '../aggregator/totals/suppress.js';
import { parsePeriod } from '../aggregator/totals/windows.js';
import { checkAgainstTruth, installationArb, MANIFEST, type Inst } from './totals-truth.js';

const WEEK = parsePeriod('week', '2026-W49')!;
const KEY = 'A'.repeat(43);

function reportsOf(insts: Inst[]): InstallationReport[] {
  return insts.map((i) => ({
    values: buildReport(MANIFEST, i.exact, { key: KEY, seq: 1, now: Date.parse('2026-12-03T12:00:00Z') }).values,
    firstSeen: addDays(WEEK.to, -i.firstSeenDaysBeforeEnd),
  }));
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
